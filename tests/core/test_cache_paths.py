"""Platform folders and the name of each account's cache file."""

from __future__ import annotations

import platformdirs
import platformdirs.macos
import platformdirs.windows
import pytest

from leafdesk.core import paths
from leafdesk.core.cache import Cache


def test_folders_under_test_home(isolated_folders):
    for folder in (paths.data_dir(), paths.config_dir(), paths.log_dir()):
        assert folder.is_dir()
        assert folder.is_relative_to(isolated_folders)
        assert "LeafDesk" in folder.parts

    assert paths.data_dir().is_relative_to(isolated_folders / "data")
    assert paths.config_dir().is_relative_to(isolated_folders / "config")


def test_windows_data_folder_is_local(monkeypatch, tmp_path):
    # Windows resolves folders through the shell; a stand-in keeps the test runnable here.
    folders = {
        "CSIDL_APPDATA": str(tmp_path / "Roaming"),
        "CSIDL_LOCAL_APPDATA": str(tmp_path / "Local"),
    }
    monkeypatch.setattr(platformdirs, "PlatformDirs", platformdirs.windows.Windows)
    monkeypatch.setattr(platformdirs.windows, "get_win_folder", folders.__getitem__)

    assert paths.data_dir() == tmp_path / "Local" / "LeafDesk"
    assert paths.config_dir() == tmp_path / "Local" / "LeafDesk"
    assert paths.log_dir() == tmp_path / "Local" / "LeafDesk" / "Logs"
    assert paths.cache_path("Main", "https://api.withleaf.io").is_relative_to(tmp_path / "Local")
    assert not (tmp_path / "Roaming").exists()


def test_macos_folders(monkeypatch, tmp_path):
    monkeypatch.setattr(platformdirs, "PlatformDirs", platformdirs.macos.MacOS)
    monkeypatch.delenv("XDG_DATA_HOME")
    monkeypatch.delenv("XDG_CONFIG_HOME")
    monkeypatch.setenv("HOME", str(tmp_path))

    assert paths.data_dir() == tmp_path / "Library" / "Application Support" / "LeafDesk"
    assert paths.config_dir() == tmp_path / "Library" / "Application Support" / "LeafDesk"
    assert paths.log_dir() == tmp_path / "Library" / "Logs" / "LeafDesk"


def test_cache_path_per_account_and_url():
    main = paths.cache_path("Main", "https://api.withleaf.io")
    demo = paths.cache_path("Main", "http://127.0.0.1:8123")
    other = paths.cache_path("Other", "https://api.withleaf.io")

    assert len({main, demo, other}) == 3
    assert main.parent == paths.data_dir() / "cache"
    assert main.suffix == ".sqlite3"
    assert main.name.startswith("Main-api.withleaf.io-")
    assert demo.name.startswith("Main-127.0.0.1-8123-")


def test_cache_path_ignores_url_spelling():
    assert paths.cache_path("Main", "https://API.withleaf.io/") == paths.cache_path(
        "Main", "https://api.withleaf.io"
    )


@pytest.mark.parametrize(
    "account_name",
    ["../../etc/passwd", "CON", "a/b\\c:d*e?f\"g<h>i|j", "   ", "Ferme Dupré 🌾", "x" * 300],
)
def test_cache_path_safe_names(account_name):
    path = paths.cache_path(account_name, "https://api.withleaf.io")

    assert path.parent == paths.data_dir() / "cache"
    stem = path.name.removesuffix(".sqlite3")
    assert all(ch.isalnum() or ch in "._-" for ch in stem)
    assert len(path.name) <= 80
    assert not path.name.startswith((".", "-"))
    with Cache(path) as cache:
        assert cache.count_users() == 0


def test_similar_names_do_not_collide():
    assert paths.cache_path("a/b", "https://x.test") != paths.cache_path("a-b", "https://x.test")
