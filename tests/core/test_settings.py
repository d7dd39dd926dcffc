"""Settings files: defaults, round trip, atomic writes, and forgiving reads of bad values."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time

import pytest

from leafdesk.core import paths
from leafdesk.core.model import Environment
from leafdesk.core.settings import (
    DEFAULT_BASE_URL,
    LeafAccount,
    PartnerPreset,
    Settings,
    SettingsStore,
)

SHARING_URL_ID = "0f8fad5b-d9cb-469f-a165-70867728950e"


def sample_settings() -> Settings:
    return Settings(
        accounts=[
            LeafAccount("Production", username="ops@example.com"),
            LeafAccount(
                "Demo", base_url="http://127.0.0.1:8123", username="demo@leafdesk.test",
                environment_colour="#b71c1c", remember=False,
            ),
        ],
        presets=[
            PartnerPreset("Acme stage", "client-1", "partner@acme.test", SHARING_URL_ID,
                          Environment.STAGE),
        ],
        refresh_interval_minutes=30,
        concurrency=4,
        last_account="Demo",
    )


def write_document(store: SettingsStore, document: object) -> None:
    store.path.parent.mkdir(parents=True, exist_ok=True)
    store.path.write_text(json.dumps(document), encoding="utf-8")


def test_default_path_in_config_folder(isolated_folders):
    store = SettingsStore()

    assert store.path == paths.config_dir() / "settings.json"
    assert store.path.is_relative_to(isolated_folders)


def test_missing_file_gives_defaults():
    store = SettingsStore()

    settings = store.load()

    assert settings == Settings()
    assert settings.refresh_interval_minutes == 15
    assert settings.concurrency == 8
    assert store.problems == []


def test_account_defaults_to_real_leaf():
    account = LeafAccount("Main", username="me")

    assert account.base_url == DEFAULT_BASE_URL == "https://api.withleaf.io"
    assert account.environment_colour == "#2e7d32"
    assert account.remember is True


def test_account_rejects_positional_swap():
    with pytest.raises(TypeError):
        LeafAccount("Main", "https://api.withleaf.io", "me")


def test_save_then_load_round_trip():
    store = SettingsStore()
    original = sample_settings()

    store.save(original)
    loaded = SettingsStore().load()

    assert loaded == original
    assert loaded.presets[0].client_environment is Environment.STAGE
    assert store.problems == []


def test_saved_file_is_plain_json():
    store = SettingsStore()
    store.save(sample_settings())

    document = json.loads(store.path.read_text(encoding="utf-8"))

    assert document["version"] == 1
    assert document["accounts"][1]["base_url"] == "http://127.0.0.1:8123"
    assert document["presets"][0]["client_environment"] == "STAGE"


def test_save_leaves_no_temporary_files():
    store = SettingsStore()

    store.save(sample_settings())
    store.save(Settings())

    assert sorted(path.name for path in store.path.parent.iterdir()) == ["settings.json"]


def test_failed_save_keeps_old_file(monkeypatch):
    store = SettingsStore()
    store.save(sample_settings())
    before = store.path.read_bytes()

    def broken_replace(source, target):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", broken_replace)
    with pytest.raises(OSError, match="disk full"):
        store.save(Settings())

    assert store.path.read_bytes() == before
    assert sorted(path.name for path in store.path.parent.iterdir()) == ["settings.json"]


def test_unknown_keys_ignored_and_dropped(tmp_path):
    store = SettingsStore(tmp_path / "settings.json")
    document = {
        "version": 7,
        "theme": "dark",
        "accounts": [{"name": "Main", "username": "me", "password": "must-not-stay"}],
    }
    write_document(store, document)

    settings = store.load()
    store.save(settings)

    assert store.problems == []
    assert settings.accounts == [LeafAccount("Main", username="me")]
    assert "must-not-stay" not in store.path.read_text(encoding="utf-8")
    assert "theme" not in store.path.read_text(encoding="utf-8")


@pytest.mark.parametrize(
    ("key", "value", "field", "expected"),
    [
        ("refresh_interval_minutes", 0, "refresh_interval_minutes", 15),
        ("refresh_interval_minutes", "often", "refresh_interval_minutes", 15),
        ("concurrency", 500, "concurrency", 8),
        ("concurrency", True, "concurrency", 8),
        ("concurrency", 2.5, "concurrency", 8),
    ],
)
def test_bad_number_replaced_by_default(tmp_path, key, value, field, expected):
    store = SettingsStore(tmp_path / "settings.json")
    write_document(store, {key: value, "accounts": [{"name": "Main", "username": "me"}]})

    settings = store.load()

    assert getattr(settings, field) == expected
    assert [problem.key for problem in store.problems] == [key]
    assert settings.accounts == [LeafAccount("Main", username="me")]


def test_bad_account_values_keep_the_rest(tmp_path):
    store = SettingsStore(tmp_path / "settings.json")
    write_document(store, {
        "accounts": [
            {"name": "Main", "username": "me", "environment_colour": "green",
             "base_url": "ftp://leaf", "remember": "yes"},
            {"name": "", "username": "nobody"},
            "not an object",
            {"name": "Main", "username": "duplicate"},
            {"name": "Second", "username": "other"},
        ],
        "concurrency": 12,
        "last_account": "Second",
    })

    settings = store.load()

    assert settings.accounts == [
        LeafAccount("Main", username="me"),
        LeafAccount("Second", username="other"),
    ]
    assert settings.concurrency == 12
    assert settings.last_account == "Second"
    assert sorted(problem.key for problem in store.problems) == [
        "accounts[0].base_url",
        "accounts[0].environment_colour",
        "accounts[0].remember",
        "accounts[1].name",
        "accounts[2]",
        "accounts[3].name",
    ]
    colour_problem = next(p for p in store.problems if p.key == "accounts[0].environment_colour")
    assert "'green' is not #rrggbb" in str(colour_problem)


def test_bad_preset_values(tmp_path):
    store = SettingsStore(tmp_path / "settings.json")
    write_document(store, {
        "presets": [
            {"name": "Acme", "client_id": "c", "partner_username": "p",
             "sharing_url_id": SHARING_URL_ID, "client_environment": "TEST"},
            {"name": "Incomplete", "client_id": "c"},
        ],
    })

    settings = store.load()

    assert settings.presets == [
        PartnerPreset("Acme", "c", "p", SHARING_URL_ID, Environment.PRODUCTION)
    ]
    assert [problem.key for problem in store.problems] == [
        "presets[0].client_environment",
        "presets[1].partner_username",
        "presets[1].sharing_url_id",
    ]


def test_last_account_must_exist(tmp_path):
    store = SettingsStore(tmp_path / "settings.json")
    write_document(store, {"accounts": [], "last_account": "Gone"})

    settings = store.load()

    assert settings.last_account is None
    assert [problem.key for problem in store.problems] == ["last_account"]


def test_wrong_list_type_reported(tmp_path):
    store = SettingsStore(tmp_path / "settings.json")
    write_document(store, {"accounts": {"name": "Main"}, "presets": None})

    settings = store.load()

    assert settings.accounts == []
    assert settings.presets == []
    assert [problem.key for problem in store.problems] == ["accounts", "presets"]


@pytest.mark.parametrize("content", [b"{not json", b"[1, 2, 3]", b"", b'{"concurrency": "\xff"}'])
def test_unreadable_file_set_aside(tmp_path, content):
    store = SettingsStore(tmp_path / "settings.json")
    store.path.write_bytes(content)

    settings = store.load()

    assert settings == Settings()
    assert len(store.problems) == 1
    assert store.problems[0].key == "(file)"
    aside = [path for path in tmp_path.iterdir() if path.name.startswith("settings.json.invalid-")]
    assert len(aside) == 1
    assert aside[0].read_bytes() == content
    assert not store.path.exists()


def test_unreadable_files_all_kept(tmp_path):
    store = SettingsStore(tmp_path / "settings.json")
    for content in ("{first", "{second", "{third"):
        store.path.write_text(content, encoding="utf-8")
        store.load()

    kept = sorted(p.read_text(encoding="utf-8") for p in tmp_path.iterdir())
    assert kept == ["{first", "{second", "{third"]


def test_killed_writer_leaves_old_or_new(tmp_path):
    # A child saves settings in a loop and is killed; whatever remains must load cleanly.
    path = tmp_path / "settings.json"
    SettingsStore(path).save(sample_settings())
    script = textwrap.dedent(f"""
        import sys
        from leafdesk.core.settings import LeafAccount, Settings, SettingsStore
        store = SettingsStore({str(path)!r})
        big = Settings(accounts=[LeafAccount(f"Account {{i}}", username="u" * 200)
                                 for i in range(300)])
        print("ready", flush=True)
        while True:
            store.save(big)
    """)
    child = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout.readline().strip() == "ready"
        time.sleep(0.3)
    finally:
        child.kill()
        child.wait()

    store = SettingsStore(path)
    settings = store.load()

    assert store.problems == []
    assert len(settings.accounts) in (2, 300)
