#!/usr/bin/env python3
"""Names, version and platform metadata of LeafDesk's installable builds, from one place.

The PyInstaller spec, the build script, the GitHub workflow and the packaging tests all read the
version from here, and this module reads it from `pyproject.toml`, so a release changes one line.
It imports nothing outside the standard library, so tests and CI can load it without PyInstaller.

Usage: python packaging/buildinfo.py [--version | --windows-version]
"""

from __future__ import annotations

import argparse
import os
import re
import tomllib
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
PYPROJECT = REPO_ROOT / "pyproject.toml"

APP_NAME = "LeafDesk"
# The name of the executable and of the onedir folder PyInstaller writes under dist/.
EXECUTABLE_NAME = "LeafDesk"
PUBLISHER = "LeafDesk contributors"
COPYRIGHT = "Copyright (c) LeafDesk contributors"

# A placeholder identifier. A distributor of LeafDesk sets their own reverse-DNS identifier through
# LEAFDESK_BUNDLE_ID, because macOS ties keychain items and notarization to it.
DEFAULT_BUNDLE_IDENTIFIER = "com.example.leafdesk"

# Qt 6.10 and 6.11 list macOS 13 as the oldest supported target, and PySide6 wheels of those
# versions are built for it.
# NOTE: nothing checks this against the bundled PySide6, so raise it when PySide6 raises its own.
MINIMUM_MACOS = "13.0"

ICON_ICO = REPO_ROOT / "resources" / "leafdesk.ico"
ICON_ICNS = REPO_ROOT / "resources" / "leafdesk.icns"
ENTITLEMENTS = REPO_ROOT / "packaging" / "macos" / "entitlements.plist"


def package_version(pyproject: Path = PYPROJECT) -> str:
    """Return `project.version` from pyproject.toml."""
    with pyproject.open("rb") as stream:
        return tomllib.load(stream)["project"]["version"]


def bundle_identifier() -> str:
    """Return the macOS bundle identifier: LEAFDESK_BUNDLE_ID when set, else the placeholder."""
    return os.environ.get("LEAFDESK_BUNDLE_ID", "").strip() or DEFAULT_BUNDLE_IDENTIFIER


def windows_version_tuple(version: str) -> tuple[int, int, int, int]:
    """Return the four 16-bit numbers of a Windows version resource for a package version.

    The leading dotted numbers are kept and padded with zeros, so "1.2" becomes (1, 2, 0, 0) and a
    pre-release such as "1.2.3rc1" becomes (1, 2, 3, 0). Raises ValueError when the version does
    not start with a number or a part does not fit in 16 bits.
    """
    match = re.match(r"\d+(?:\.\d+){0,3}", version)
    if match is None:
        raise ValueError(f"invalid package version {version!r}: expected it to start with digits")
    parts = [int(part) for part in match.group(0).split(".")]
    if any(part > 0xFFFF for part in parts):
        raise ValueError(f"invalid package version {version!r}: each part must be at most 65535")
    parts += [0] * (4 - len(parts))
    return (parts[0], parts[1], parts[2], parts[3])


def windows_version_strings(version: str) -> dict[str, str]:
    """Return the string table of the Windows version resource (US English, Unicode)."""
    numbers = ".".join(str(part) for part in windows_version_tuple(version))
    return {
        "CompanyName": PUBLISHER,
        "FileDescription": APP_NAME,
        "FileVersion": numbers,
        "InternalName": EXECUTABLE_NAME,
        "LegalCopyright": COPYRIGHT,
        "OriginalFilename": f"{EXECUTABLE_NAME}.exe",
        "ProductName": APP_NAME,
        # The installer script reads its version from this string, so it stays the package
        # version exactly, pre-release tags included.
        "ProductVersion": version,
    }


def info_plist(version: str) -> dict[str, object]:
    """Return the keys LeafDesk sets in its app bundle's Info.plist.

    PyInstaller writes the bundle name, executable, icon file and package type itself; these
    entries are added to or replace its defaults.
    """
    return {
        "CFBundleName": APP_NAME,
        "CFBundleDisplayName": APP_NAME,
        "CFBundleIdentifier": bundle_identifier(),
        "CFBundleShortVersionString": version,
        "CFBundleVersion": version,
        "NSHumanReadableCopyright": COPYRIGHT,
        # Without it macOS draws the window at half resolution and scales it up on Retina screens.
        "NSHighResolutionCapable": True,
        # Light and dark appearance follow the system setting.
        "NSRequiresAquaSystemAppearance": False,
        "LSMinimumSystemVersion": MINIMUM_MACOS,
        "LSApplicationCategoryType": "public.app-category.business",
        "NSPrincipalClass": "NSApplication",
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--version", action="store_true",
                       help="print the package version (the default)")
    group.add_argument("--windows-version", action="store_true",
                       help="print the four-part Windows file version")
    arguments = parser.parse_args()

    version = package_version()
    if arguments.windows_version:
        print(".".join(str(part) for part in windows_version_tuple(version)))
    else:
        print(version)


if __name__ == "__main__":
    main()
