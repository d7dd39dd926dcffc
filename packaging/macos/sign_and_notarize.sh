#!/usr/bin/env bash
# Sign LeafDesk.app inside out with a Developer ID and the hardened runtime, check it with its
# self-test, notarize it with notarytool, staple the ticket, then do the same for a disk image.
#
# Written from Apple's documentation on signing code manually (sign nested code first, never rely
# on `codesign --deep` to sign) and on notarizing from the command line (notarytool, stapler).
# NOTE: it has not been run: it needs a Mac, a Developer ID Application certificate in the
# keychain and notary credentials, and none of these exist where LeafDesk is built and tested.
#
# Usage:
#   packaging/macos/sign_and_notarize.sh --identity "Developer ID Application: NAME (TEAMID)" \
#       (--keychain-profile PROFILE | --api-key KEY.p8 --api-key-id ID --api-issuer UUID) \
#       [--app dist/LeafDesk.app] [--skip-notarize]
#
# PROFILE is made once with `xcrun notarytool store-credentials PROFILE`, which keeps an Apple ID
# app-specific password or an App Store Connect API key in the login keychain. In CI, pass the API
# key file instead. Outputs dist/LeafDesk-<version>.dmg next to the stapled app.
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
entitlements="$here/entitlements.plist"
app="$repo/dist/LeafDesk.app"
identity=""
keychain_profile=""
api_key=""
api_key_id=""
api_issuer=""
notarize=1

usage() {
    sed -n '2,17p' "$0" | sed 's/^# \{0,1\}//'
    exit 2
}

while [[ $# -gt 0 ]]; do
    case "$1" in
        --identity) identity="$2"; shift 2 ;;
        --keychain-profile) keychain_profile="$2"; shift 2 ;;
        --api-key) api_key="$2"; shift 2 ;;
        --api-key-id) api_key_id="$2"; shift 2 ;;
        --api-issuer) api_issuer="$2"; shift 2 ;;
        --app) app="$2"; shift 2 ;;
        --skip-notarize) notarize=0; shift ;;
        -h|--help) usage ;;
        *) echo "unknown option: $1" >&2; usage ;;
    esac
done

if [[ -z "$identity" ]]; then
    echo "missing --identity: give the name of a Developer ID Application certificate" >&2
    exit 2
fi
if [[ ! -d "$app" ]]; then
    echo "app bundle not found: $app (run packaging/build on this Mac first)" >&2
    exit 2
fi
if [[ $notarize -eq 1 && -z "$keychain_profile" && -z "$api_key" ]]; then
    echo "missing notary credentials: give --keychain-profile or --api-key with" \
         "--api-key-id and --api-issuer, or --skip-notarize" >&2
    exit 2
fi

version="$(python3 "$repo/packaging/buildinfo.py" --version)"
main_executable="$app/Contents/MacOS/LeafDesk"

# Every signature gets a secure timestamp, which notarization requires, and the hardened runtime.
sign() {
    codesign --force --timestamp --options runtime --sign "$identity" "$@"
}

is_mach_o() {
    file -b "$1" | grep -q "Mach-O"
}

# Depth of a path in components, so that deeper code is signed before what contains it.
depth() {
    awk -F/ '{ print NF }' <<<"$1"
}

echo "== signing nested code in $app"
# 1. Loose Mach-O files: Python extension modules, dylibs, Qt plugins, and the binaries inside
#    framework bundles. Symbolic links are skipped because their targets are signed once.
nested=()
while IFS= read -r -d '' path; do
    [[ "$path" == "$main_executable" ]] && continue
    if is_mach_o "$path"; then
        nested+=("$(depth "$path")"$'\t'"$path")
    fi
done < <(find "$app/Contents" -type f -print0)
if [[ ${#nested[@]} -gt 0 ]]; then
    while IFS=$'\t' read -r _ path; do
        sign "$path"
    done < <(printf '%s\n' "${nested[@]}" | sort -t$'\t' -k1,1nr)
fi

# 2. Framework bundles (Qt and Python ship as .framework folders), deepest first, so that each
#    bundle's seal covers its already signed contents.
frameworks=()
while IFS= read -r -d '' path; do
    frameworks+=("$(depth "$path")"$'\t'"$path")
done < <(find "$app/Contents" -type d -name "*.framework" -print0)
if [[ ${#frameworks[@]} -gt 0 ]]; then
    while IFS=$'\t' read -r _ path; do
        sign "$path"
    done < <(printf '%s\n' "${frameworks[@]}" | sort -t$'\t' -k1,1nr)
fi

# 3. The app bundle itself, which signs the main executable with the entitlements.
echo "== signing $app"
sign --entitlements "$entitlements" "$app"
codesign --verify --strict --deep --verbose=2 "$app"

# A missing hardened-runtime exception shows up as a crash at start, so run the signed app's
# self-test before spending a notarization round on it.
echo "== self-test of the signed app"
QT_QPA_PLATFORM=offscreen "$main_executable" --self-test

submit_for_notarization() {
    local file="$1"
    local credentials=()
    if [[ -n "$keychain_profile" ]]; then
        credentials=(--keychain-profile "$keychain_profile")
    else
        credentials=(--key "$api_key" --key-id "$api_key_id" --issuer "$api_issuer")
    fi
    echo "== notarizing $file"
    # --wait blocks until the notary service returns a status. The output names the submission
    # id, whose log (`xcrun notarytool log ID ...`) lists every problem when the status is Invalid.
    local output
    output="$(xcrun notarytool submit "$file" "${credentials[@]}" --wait 2>&1)" || true
    echo "$output"
    if ! grep -q "status: Accepted" <<<"$output"; then
        echo "notarization of $file failed; fetch the log with: xcrun notarytool log" \
             "<submission id> ${credentials[*]}" >&2
        exit 1
    fi
}

dmg="$(dirname "$app")/LeafDesk-$version.dmg"

if [[ $notarize -eq 1 ]]; then
    # notarytool takes a zip, disk image or installer package, not a bare folder. ditto keeps the
    # bundle's symbolic links and extended attributes intact.
    zip="$(mktemp -d)/LeafDesk-$version.zip"
    ditto -c -k --keepParent "$app" "$zip"
    submit_for_notarization "$zip"
    xcrun stapler staple "$app"
    xcrun stapler validate "$app"
    spctl --assess --type execute --verbose=2 "$app"
fi

# A disk image with the stapled app and a link to /Applications, so users install by dragging.
echo "== building $dmg"
staging="$(mktemp -d)"
ditto "$app" "$staging/LeafDesk.app"
ln -s /Applications "$staging/Applications"
rm -f "$dmg"
hdiutil create -volname "LeafDesk $version" -srcfolder "$staging" -ov -format UDZO "$dmg"
codesign --force --timestamp --sign "$identity" "$dmg"

if [[ $notarize -eq 1 ]]; then
    submit_for_notarization "$dmg"
    xcrun stapler staple "$dmg"
    xcrun stapler validate "$dmg"
fi
echo "== done: $dmg"
