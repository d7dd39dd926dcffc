"""Checks that the packaging files agree with each other and with the package version.

None of these run PyInstaller, Inno Setup or Apple's tools: they read the spec, icons, plists,
installer script and workflow, and run the spec against recording stand-ins for PyInstaller's
build classes, so they take well under a second. Pillow and PyYAML (both in the `test` extra)
add a second reading of the icons and the workflow; without them those two tests are skipped.
"""

from __future__ import annotations

import importlib.util
import os
import plistlib
import re
import struct
import subprocess
import sys
import types
from pathlib import Path

import pytest

from leafdesk import resources as package_resources

REPO_ROOT = Path(__file__).resolve().parents[2]
PACKAGING = REPO_ROOT / "packaging"
SPEC = PACKAGING / "leafdesk.spec"
ISS = PACKAGING / "windows" / "leafdesk.iss"
WORKFLOW = REPO_ROOT / ".github" / "workflows" / "build-installers.yml"
ENTITLEMENTS = PACKAGING / "macos" / "entitlements.plist"
SIGN_SCRIPT = PACKAGING / "macos" / "sign_and_notarize.sh"
ICO = REPO_ROOT / "resources" / "leafdesk.ico"
ICNS = REPO_ROOT / "resources" / "leafdesk.icns"
SOURCE_ICON = REPO_ROOT / "resources" / "leafdesk-icon.png"

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _load_module(name: str, path: Path) -> types.ModuleType:
    # The packaging folder is not a package (its name would shadow the PyPI `packaging` library),
    # so its modules are loaded from their files.
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


buildinfo = _load_module("buildinfo", PACKAGING / "buildinfo.py")
make_icons = _load_module("make_icons", PACKAGING / "make_icons.py")


@pytest.fixture
def version() -> str:
    import tomllib

    with (REPO_ROOT / "pyproject.toml").open("rb") as stream:
        return tomllib.load(stream)["project"]["version"]


def _png_size(data: bytes) -> tuple[int, int]:
    """Return (width, height) from a PNG's IHDR chunk."""
    assert data[:8] == PNG_SIGNATURE
    width, height = struct.unpack(">II", data[16:24])
    return width, height


# --- version --------------------------------------------------------------------------------


def test_buildinfo_version_matches_pyproject(version):
    assert buildinfo.package_version() == version


@pytest.mark.parametrize(
    ("package_version", "expected"),
    [
        ("0.1.0", (0, 1, 0, 0)),
        ("1.2", (1, 2, 0, 0)),
        ("1.2.3rc1", (1, 2, 3, 0)),
        ("2024.10.5.7", (2024, 10, 5, 7)),
    ],
)
def test_windows_version_tuple(package_version, expected):
    assert buildinfo.windows_version_tuple(package_version) == expected


@pytest.mark.parametrize("bad_version", ["", "v1.0", "1.70000.0"])
def test_windows_version_tuple_rejects_invalid(bad_version):
    with pytest.raises(ValueError, match="invalid package version"):
        buildinfo.windows_version_tuple(bad_version)


def test_windows_version_strings_carry_version(version):
    strings = buildinfo.windows_version_strings(version)
    assert strings["ProductVersion"] == version
    assert strings["FileVersion"] == ".".join(map(str, buildinfo.windows_version_tuple(version)))
    assert strings["OriginalFilename"] == "LeafDesk.exe"
    assert strings["ProductName"] == "LeafDesk"


# --- the PyInstaller spec, run against recording stand-ins -----------------------------------


class _Recorder:
    """Stand-in for one PyInstaller build class: keeps its arguments for the assertions."""

    instances: list[_Recorder]

    def __init__(self, *args, **kwargs):
        self.args = args
        self.kwargs = kwargs
        type(self).instances.append(self)


# Where the stand-in build finds its files; no file is read from there.
FAKE_ROOT = "/nonexistent-build-root/"
SAMPLE_BINARY_NAMES = [
    "PySide6/Qt/lib/libQt6Core.so.6",
    "PySide6/Qt/plugins/platforms/libqxcb.so",
    "PySide6/Qt/plugins/platforms/libqoffscreen.so",
    "PySide6/Qt/plugins/platforms/libqeglfs.so",
    "PySide6/Qt/plugins/platforms/libqvnc.so",
    "PySide6/plugins/platforms/qwindows.dll",
    "PySide6/plugins/platforms/qoffscreen.dll",
    "PySide6/Qt/plugins/platforms/libqcocoa.dylib",
    "PySide6/Qt/plugins/styles/libqmodernwindowsstyle.so",
    "PySide6/Qt/plugins/imageformats/libqico.so",
    "PySide6/Qt/plugins/imageformats/libqpdf.so",
    "PySide6/Qt/plugins/tls/libqopensslbackend.so",
    "PySide6/Qt/plugins/platformthemes/libqgtk3.so",
    "PySide6/Qt/plugins/platformthemes/libqxdgdesktopportal.so",
    "PySide6/Qt/plugins/egldeviceintegrations/libqeglfs-kms-integration.so",
    "libgtk-3.so.0",
    "libcairo.so.2",
    "libX11.so.6",
]
SAMPLE_BINARIES = [(name, FAKE_ROOT + name, "BINARY") for name in SAMPLE_BINARY_NAMES]
# Link-time dependencies: GTK comes only through the GTK theme plugin, X11 also through xcb.
SAMPLE_IMPORTS = {
    "PySide6/Qt/plugins/platformthemes/libqgtk3.so": ["libgtk-3.so.0", "libcairo.so.2"],
    "libgtk-3.so.0": ["libcairo.so.2", "libX11.so.6"],
    "PySide6/Qt/plugins/platforms/libqxcb.so": ["libX11.so.6"],
}
SAMPLE_DATAS = [
    ("leafdesk/resources/icons/leafdesk-16.png", "src", "DATA"),
    ("PySide6/Qt/translations/qt_de.qm", "src", "DATA"),
    ("PySide6/translations/qtbase_fr.qm", "src", "DATA"),
]
KEPT_PLUGINS = {
    "PySide6/Qt/lib/libQt6Core.so.6",
    "PySide6/Qt/plugins/platforms/libqxcb.so",
    "PySide6/Qt/plugins/platforms/libqoffscreen.so",
    "PySide6/plugins/platforms/qwindows.dll",
    "PySide6/plugins/platforms/qoffscreen.dll",
    "PySide6/Qt/plugins/platforms/libqcocoa.dylib",
    "PySide6/Qt/plugins/styles/libqmodernwindowsstyle.so",
    "PySide6/Qt/plugins/imageformats/libqico.so",
    "PySide6/Qt/plugins/platformthemes/libqxdgdesktopportal.so",
    "libX11.so.6",
}


def _run_spec(monkeypatch, platform: str) -> dict[str, list[_Recorder]]:
    """Execute the spec as PyInstaller would on `platform`, with build classes that record."""
    recorded: dict[str, list[_Recorder]] = {}

    def recorder(name: str) -> type[_Recorder]:
        cls = type(name, (_Recorder,), {"instances": []})
        recorded[name] = cls.instances
        return cls

    analysis_class = recorder("Analysis")
    original_init = analysis_class.__init__

    def analysis_init(self, *args, **kwargs):
        original_init(self, *args, **kwargs)
        self.binaries = list(SAMPLE_BINARIES)
        self.datas = list(SAMPLE_DATAS)
        self.scripts = []
        self.pure = []

    analysis_class.__init__ = analysis_init

    hooks = types.ModuleType("PyInstaller.utils.hooks")
    hooks.collect_submodules = lambda package: [package]
    hooks.collect_data_files = lambda package: [(f"{package}-data", package)]
    hooks.copy_metadata = lambda package: [(f"{package}-metadata", package)]
    bindepend = types.ModuleType("PyInstaller.depend.bindepend")
    bindepend.get_imports = lambda path: {
        (name, FAKE_ROOT + name) for name in SAMPLE_IMPORTS.get(path.removeprefix(FAKE_ROOT), [])
    }
    versioninfo = types.ModuleType("PyInstaller.utils.win32.versioninfo")
    for name in ("FixedFileInfo", "StringFileInfo", "StringStruct", "StringTable", "VarFileInfo",
                 "VarStruct", "VSVersionInfo"):
        setattr(versioninfo, name, recorder(name))
    for name, module in {
        "PyInstaller": types.ModuleType("PyInstaller"),
        "PyInstaller.utils": types.ModuleType("PyInstaller.utils"),
        "PyInstaller.utils.hooks": hooks,
        "PyInstaller.depend": types.ModuleType("PyInstaller.depend"),
        "PyInstaller.depend.bindepend": bindepend,
        "PyInstaller.utils.win32": types.ModuleType("PyInstaller.utils.win32"),
        "PyInstaller.utils.win32.versioninfo": versioninfo,
    }.items():
        monkeypatch.setitem(sys.modules, name, module)
    monkeypatch.setitem(sys.modules, "buildinfo", buildinfo)
    monkeypatch.setattr(sys, "platform", platform)
    monkeypatch.setattr(sys, "path", list(sys.path))

    namespace = {
        "__name__": "__main__",
        "__file__": str(SPEC),
        "SPECPATH": str(PACKAGING),
        "Analysis": analysis_class,
        "PYZ": recorder("PYZ"),
        "EXE": recorder("EXE"),
        "COLLECT": recorder("COLLECT"),
        "BUNDLE": recorder("BUNDLE"),
    }
    exec(compile(SPEC.read_text(encoding="utf-8"), str(SPEC), "exec"), namespace)
    return recorded


def test_spec_builds_windowed_onedir(monkeypatch):
    recorded = _run_spec(monkeypatch, "linux")
    (exe,) = recorded["EXE"]
    (collect,) = recorded["COLLECT"]
    assert exe.kwargs["console"] is False
    assert exe.kwargs["exclude_binaries"] is True
    assert exe.kwargs["name"] == "LeafDesk"
    assert collect.kwargs["name"] == "LeafDesk"
    assert recorded["BUNDLE"] == []


def test_spec_entry_script_runs_main(monkeypatch):
    recorded = _run_spec(monkeypatch, "linux")
    (analysis,) = recorded["Analysis"]
    (script,) = analysis.args[0]
    text = Path(script).read_text(encoding="utf-8")
    assert "from leafdesk.main import main" in text
    assert "sys.exit(main())" in text


def test_spec_bundles_sandbox_keyring_truststore(monkeypatch):
    recorded = _run_spec(monkeypatch, "linux")
    (analysis,) = recorded["Analysis"]
    hidden = set(analysis.kwargs["hiddenimports"])
    assert "leafdesk" in hidden  # collect_submodules("leafdesk") brings the sandbox
    assert "truststore" in hidden
    for backend in ("Windows", "macOS", "SecretService"):
        assert f"keyring.backends.{backend}" in hidden
    assert "uvicorn.protocols.http.h11_impl" in hidden
    datas = dict(analysis.kwargs["datas"])
    assert "leafdesk-data" in datas
    assert "leafdesk-metadata" in datas


def test_spec_excludes_unused_qt_and_extras(monkeypatch):
    recorded = _run_spec(monkeypatch, "linux")
    (analysis,) = recorded["Analysis"]
    excludes = set(analysis.kwargs["excludes"])
    for module in ("PySide6.QtWebEngineCore", "PySide6.Qt3DCore", "PySide6.QtMultimedia",
                   "PySide6.QtQml", "PySide6.QtQuick", "uvloop", "httptools", "watchfiles"):
        assert module in excludes
    for module in ("PySide6.QtCore", "PySide6.QtGui", "PySide6.QtWidgets"):
        assert module not in excludes


def test_spec_drops_unused_qt_plugins(monkeypatch):
    # libgtk-3 and libcairo are linked only by the dropped GTK theme plugin, libX11 also by xcb.
    recorded = _run_spec(monkeypatch, "linux")
    (analysis,) = recorded["Analysis"]
    kept = {entry[0] for entry in analysis.binaries}
    assert kept == KEPT_PLUGINS


def test_spec_drops_qt_translations(monkeypatch):
    recorded = _run_spec(monkeypatch, "linux")
    (analysis,) = recorded["Analysis"]
    kept = {entry[0] for entry in analysis.datas}
    assert kept == {"leafdesk/resources/icons/leafdesk-16.png"}


def test_spec_windows_version_resource(monkeypatch, version):
    recorded = _run_spec(monkeypatch, "win32")
    (exe,) = recorded["EXE"]
    assert exe.kwargs["icon"].endswith("leafdesk.ico")
    (fixed,) = recorded["FixedFileInfo"]
    assert fixed.kwargs["filevers"] == buildinfo.windows_version_tuple(version)
    assert fixed.kwargs["prodvers"] == buildinfo.windows_version_tuple(version)
    strings = {entry.args[0]: entry.args[1] for entry in recorded["StringStruct"]}
    assert strings["ProductVersion"] == version
    (version_info,) = recorded["VSVersionInfo"]
    assert exe.kwargs["version"] is version_info


def test_spec_macos_bundle(monkeypatch, version):
    monkeypatch.delenv("LEAFDESK_BUNDLE_ID", raising=False)
    recorded = _run_spec(monkeypatch, "darwin")
    (bundle,) = recorded["BUNDLE"]
    assert bundle.kwargs["name"] == "LeafDesk.app"
    assert bundle.kwargs["version"] == version
    assert bundle.kwargs["bundle_identifier"] == "com.example.leafdesk"
    assert bundle.kwargs["icon"].endswith("leafdesk.icns")
    assert bundle.kwargs["info_plist"] == buildinfo.info_plist(version)


# --- macOS metadata -------------------------------------------------------------------------


def test_info_plist_keys(monkeypatch, version):
    monkeypatch.delenv("LEAFDESK_BUNDLE_ID", raising=False)
    keys = buildinfo.info_plist(version)
    assert keys["CFBundleShortVersionString"] == version
    assert keys["CFBundleVersion"] == version
    assert keys["CFBundleIdentifier"] == "com.example.leafdesk"
    assert keys["NSHighResolutionCapable"] is True
    assert re.fullmatch(r"\d+\.\d+", keys["LSMinimumSystemVersion"])
    assert keys["LSApplicationCategoryType"].startswith("public.app-category.")
    # Every value must survive the XML plist format PyInstaller writes.
    assert plistlib.loads(plistlib.dumps(keys)) == keys


def test_bundle_identifier_override(monkeypatch, version):
    monkeypatch.setenv("LEAFDESK_BUNDLE_ID", "org.example.agronomy.leafdesk")
    assert buildinfo.info_plist(version)["CFBundleIdentifier"] == "org.example.agronomy.leafdesk"


def test_entitlements_ask_network_client_only():
    with ENTITLEMENTS.open("rb") as stream:
        entitlements = plistlib.load(stream)
    assert entitlements == {"com.apple.security.network.client": True}
    assert buildinfo.ENTITLEMENTS == ENTITLEMENTS


def test_sign_script_signs_for_notarization():
    text = SIGN_SCRIPT.read_text(encoding="utf-8")
    assert os.access(SIGN_SCRIPT, os.X_OK)
    assert "--options runtime" in text
    assert "--timestamp" in text
    assert '--entitlements "$entitlements"' in text
    assert "notarytool submit" in text
    assert "stapler staple" in text
    assert "--deep --sign" not in text  # Apple advises against signing with --deep
    syntax = subprocess.run(["bash", "-n", str(SIGN_SCRIPT)], capture_output=True, text=True)
    assert syntax.returncode == 0, syntax.stderr


# --- icons ----------------------------------------------------------------------------------


def _ico_sizes(path: Path) -> list[int]:
    """Read the sizes from an ICO directory; a stored 0 means 256 px."""
    data = path.read_bytes()
    reserved, kind, count = struct.unpack("<HHH", data[:6])
    assert (reserved, kind) == (0, 1)
    sizes = []
    for index in range(count):
        width, height = data[6 + 16 * index], data[7 + 16 * index]
        assert width == height
        sizes.append(width or 256)
    return sizes


def _icns_entries(path: Path) -> dict[bytes, bytes]:
    data = path.read_bytes()
    assert data[:4] == b"icns"
    assert struct.unpack(">I", data[4:8])[0] == len(data)
    entries = {}
    offset = 8
    while offset < len(data):
        kind = data[offset:offset + 4]
        length = struct.unpack(">I", data[offset + 4:offset + 8])[0]
        entries[kind] = data[offset + 8:offset + length]
        offset += length
    assert offset == len(data)
    return entries


def test_source_icon_is_1024_png():
    assert _png_size(SOURCE_ICON.read_bytes()) == (1024, 1024)


def test_ico_holds_16_to_256():
    sizes = _ico_sizes(ICO)
    assert sorted(sizes) == sorted(make_icons.ICO_SIZES)
    assert min(sizes) == 16
    assert max(sizes) == 256


def test_icns_holds_16_to_1024():
    entries = _icns_entries(ICNS)
    for kind, size in make_icons.ICNS_TYPES:
        assert kind in entries, kind
        assert _png_size(entries[kind]) == (size, size), kind
    pixel_sizes = {size for _, size in make_icons.ICNS_TYPES}
    assert min(pixel_sizes) == 16
    assert max(pixel_sizes) == 1024


def test_icons_read_back_with_pillow():
    image_module = pytest.importorskip("PIL.Image")

    with image_module.open(ICO) as ico:
        assert ico.info["sizes"] == {(size, size) for size in make_icons.ICO_SIZES}

    with image_module.open(ICNS) as icns:
        sizes = set(icns.info["sizes"])
        assert {(16, 16, 1), (32, 32, 1), (64, 64, 1), (128, 128, 1), (256, 256, 1),
                (512, 512, 1), (512, 512, 2)} <= sizes
        icns.size = (512, 512)
        icns.load(scale=2)
        assert icns.size == (1024, 1024)


def test_window_icons_load_from_package():
    for size in package_resources.APP_ICON_SIZES:
        assert _png_size(package_resources.app_icon_png(size)) == (size, size)
    assert set(package_resources.app_icon_pngs()) == set(make_icons.PNG_SIZES)


def test_window_icon_unknown_size_rejected():
    with pytest.raises(ValueError, match="no app icon of 20 px"):
        package_resources.app_icon_png(20)


# --- Windows installer ----------------------------------------------------------------------


def _iss_setup(text: str) -> dict[str, str]:
    """Return the directives of the [Setup] section, in the form `Name=value`."""
    section = re.search(r"^\[Setup\]$(.*?)^\[", text, re.MULTILINE | re.DOTALL).group(1)
    directives = {}
    for line in section.splitlines():
        line = line.strip()
        if line and not line.startswith((";", "#")) and "=" in line:
            name, value = line.split("=", 1)
            directives[name.strip()] = value.strip()
    return directives


def test_inno_script_installs_per_user():
    setup = _iss_setup(ISS.read_text(encoding="utf-8"))
    assert setup["PrivilegesRequired"] == "lowest"
    assert setup["DefaultDirName"].startswith("{userpf}")
    assert "PrivilegesRequiredOverridesAllowed" not in setup
    assert re.fullmatch(r"\{\{[0-9A-F]{8}(-[0-9A-F]{4}){3}-[0-9A-F]{12}\}", setup["AppId"])


def test_inno_version_comes_from_exe():
    text = ISS.read_text(encoding="utf-8")
    # The spec writes the package version into the exe's ProductVersion string.
    assert re.search(r'#define AppVersion GetStringFileInfo\(AppExe, "ProductVersion"\)', text)
    assert '#define AppExeName "LeafDesk.exe"' in text
    setup = _iss_setup(text)
    assert setup["AppVersion"] == "{#AppVersion}"
    assert setup["OutputBaseFilename"] == "{#AppName}-{#AppVersion}-setup"
    assert setup["SetupIconFile"].replace("\\", "/").endswith("resources/leafdesk.ico")


def test_inno_script_documents_silent_switch():
    text = ISS.read_text(encoding="utf-8")
    assert "/VERYSILENT /SUPPRESSMSGBOXES" in text


# --- GitHub workflow ------------------------------------------------------------------------


def test_workflow_builds_tests_and_uploads():
    text = WORKFLOW.read_text(encoding="utf-8")
    assert re.search(r"os: \[windows-latest, macos-latest\]", text)
    assert "python packaging/build --current-env" in text
    assert "python packaging/buildinfo.py --version" in text
    assert "--self-test" in text
    assert text.count("actions/upload-artifact@") == 2
    # The installer name the workflow uploads is the one the Inno script writes.
    assert "dist/LeafDesk-${{ steps.version.outputs.version }}-setup.exe" in text
    assert "packaging\\windows\\leafdesk.iss" in text


def test_workflow_parses_as_yaml():
    yaml = pytest.importorskip("yaml")
    workflow = yaml.safe_load(WORKFLOW.read_text(encoding="utf-8"))
    job = workflow["jobs"]["build"]
    assert job["strategy"]["matrix"]["os"] == ["windows-latest", "macos-latest"]
    assert job["runs-on"] == "${{ matrix.os }}"
    conditions = {step.get("if") for step in job["steps"]}
    assert conditions <= {None, "runner.os == 'Windows'", "runner.os == 'macOS'"}
    uploads = [step for step in job["steps"] if "upload-artifact" in step.get("uses", "")]
    assert len(uploads) == 2
    assert all(step["with"]["if-no-files-found"] == "error" for step in uploads)


def test_build_script_help_runs():
    build = PACKAGING / "build"
    assert os.access(build, os.X_OK)
    completed = subprocess.run([sys.executable, str(build), "--help"], capture_output=True,
                               text=True, timeout=30)
    assert completed.returncode == 0, completed.stderr
    assert "--current-env" in completed.stdout
