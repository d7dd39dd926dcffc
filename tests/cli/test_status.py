"""Tests of `leafdesk status` against a loopback sandbox, then with it stopped (the cache)."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys

import httpx
import pytest

from leafdesk.cli import run
from leafdesk.cli.commands import _Progress
from leafdesk.core.secrets import LEAF_PASSWORD, SecretStore
from leafdesk.core.settings import LeafAccount, Settings, SettingsStore
from leafdesk.sandbox import DEMO, SandboxConfig, start_background_server

pytestmark = pytest.mark.loopback

USERS = 12
PARTNER = DEMO.partners["STAGE"]


@pytest.fixture
def sandbox():
    server = start_background_server(
        SandboxConfig(users=USERS, seed=11, controls=True, health=False))
    yield server
    server.stop()


@pytest.fixture
def password(monkeypatch):
    monkeypatch.setenv("LEAFDESK_PASSWORD", DEMO.owner_password)
    return DEMO.owner_password


def _names(base_url: str) -> list[str]:
    with httpx.Client(base_url=base_url) as http:
        token = http.post("/api/authenticate", json={
            "username": DEMO.owner_username, "password": DEMO.owner_password}).json()["id_token"]
        users = http.get("/services/usermanagement/api/users", params={"size": 100},
                         headers={"Authorization": f"Bearer {token}"}).json()
    return [user["name"] for user in users]


def _status(base_url: str, *options: str) -> list[str]:
    return ["status", "--base-url", base_url, "--username", DEMO.owner_username, *options]


def test_status_online_then_from_cache(sandbox, password, capsys):
    names = _names(sandbox.base_url)

    online = run(_status(sandbox.base_url))
    printed = capsys.readouterr()
    assert online == 1  # the demo data has users who are not connected
    for name in names:
        assert name in printed.out
    assert "LAST CHECKED" in printed.out
    assert f"{USERS} users. " in printed.out
    assert "Not connected" in printed.out
    assert "offline cache" not in printed.err

    sandbox.stop()
    offline = run(_status(sandbox.base_url))
    printed = capsys.readouterr()
    assert offline == 1
    for name in names:
        assert name in printed.out
    assert "could not reach" in printed.err.lower() or "offline" in printed.err.lower()
    assert "Showing the offline cache as of the last complete refresh at" in printed.err


def test_status_offline_flag_sends_nothing(sandbox, password, capsys):
    assert run(_status(sandbox.base_url, "--offline")) == 2
    assert "offline cache is empty" in capsys.readouterr().err

    run(_status(sandbox.base_url))
    capsys.readouterr()
    with httpx.Client(base_url=sandbox.base_url) as http:
        http.post("/_sandbox/faults", json={"fault_rate": 1.0, "faults": ["500"]})
    assert run(_status(sandbox.base_url, "--offline", "--format", "json")) == 1
    rows = json.loads(capsys.readouterr().out)
    assert len(rows) == USERS
    assert all(row["from_cache"] for row in rows)


def test_status_csv_and_json(sandbox, password, capsys):
    assert run(_status(sandbox.base_url, "--format", "csv")) == 1
    records = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert len(records) == USERS
    assert {"id", "name", "state", "actor", "next_step", "checked_at"} <= set(records[0])
    assert all(record["checked_at"].endswith("Z") for record in records)
    assert {record["from_cache"] for record in records} == {"false"}
    assert sorted(record["name"] for record in records) == sorted(_names(sandbox.base_url))

    assert run(_status(sandbox.base_url, "--format", "json")) == 1
    rows = json.loads(capsys.readouterr().out)
    assert len(rows) == USERS
    states = {row["state"] for row in rows}
    assert "not_connected" in states
    assert not any(row["from_cache"] for row in rows)


def test_status_all_connected_exits_zero(sandbox, password, capsys):
    with httpx.Client(base_url=sandbox.base_url) as http:
        token = http.post("/api/authenticate", json={
            "username": DEMO.owner_username, "password": DEMO.owner_password}).json()["id_token"]
        auth = {"Authorization": f"Bearer {token}"}
        users = http.get("/services/usermanagement/api/users", headers=auth).json()
        for user in users:
            credential = user.get("panoramaCredentials")
            if credential:
                http.post(f"/_sandbox/users/{user['id']}/panorama-status", json={"status": "OK"})
                continue
            created = http.post(
                f"/services/usermanagement/api/users/{user['id']}/panorama-credentials",
                headers=auth,
                json={"clientId": PARTNER.client_id, "username": PARTNER.username,
                      "password": PARTNER.password, "organizationCode": "PP-000001",
                      "refreshToken": "token", "clientEnvironment": "STAGE"})
            assert created.status_code == 201

    assert run(_status(sandbox.base_url)) == 0
    assert f"{USERS} users. Connected {USERS}." in capsys.readouterr().out


def test_status_nothing_read_exits_two(unused_tcp_port, password, capsys):
    code = run(_status(f"http://127.0.0.1:{unused_tcp_port}"))
    printed = capsys.readouterr()
    assert code == 2
    assert printed.out == ""
    assert "Nothing to show" in printed.err


def test_status_wrong_password_reads_cache(sandbox, password, capsys, monkeypatch):
    run(_status(sandbox.base_url))
    capsys.readouterr()

    monkeypatch.setenv("LEAFDESK_PASSWORD", "not the password")
    code = run(_status(sandbox.base_url))
    printed = capsys.readouterr()
    assert code == 3  # signed out, apart from 1 for users who need attention
    assert "not accepted" in printed.err
    assert "not the password" not in printed.err + printed.out
    assert f"{USERS} users. " in printed.out


def test_saved_account_uses_keychain(sandbox, capsys, monkeypatch):
    monkeypatch.delenv("LEAFDESK_PASSWORD", raising=False)
    SettingsStore().save(Settings(accounts=[
        LeafAccount("Demo farm", base_url=sandbox.base_url, username=DEMO.owner_username)]))
    SecretStore().set(LEAF_PASSWORD, "Demo farm", DEMO.owner_password)

    assert run(["status", "--account", "Demo farm"]) == 1
    printed = capsys.readouterr()
    assert f"{USERS} users. " in printed.out
    assert printed.err == ""

    # With one saved account, no option is needed.
    assert run(["status", "--format", "json"]) == 1
    assert len(json.loads(capsys.readouterr().out)) == USERS


def test_missing_password_reads_cache(sandbox, capsys, monkeypatch):
    monkeypatch.delenv("LEAFDESK_PASSWORD", raising=False)
    assert run(_status(sandbox.base_url)) == 3
    assert "LEAFDESK_PASSWORD" in capsys.readouterr().err


def test_wrong_password_empty_cache_exits_three(sandbox, capsys, monkeypatch):
    monkeypatch.setenv("LEAFDESK_PASSWORD", "not the password")
    code = run(_status(sandbox.base_url))
    printed = capsys.readouterr()
    assert code == 3
    assert printed.out == ""
    assert "not accepted" in printed.err


def test_help_lists_exit_statuses(capsys):
    assert run(["status", "--help"]) == 0
    out = " ".join(capsys.readouterr().out.split())
    assert "0 when every user is connected" in out
    assert "1 when some user needs attention" in out
    assert "2 when nothing could be read" in out
    assert "3 when LeafDesk could not sign in to Leaf" in out


def test_bare_status_reuses_last_account(sandbox, password, capsys, monkeypatch):
    assert run(_status(sandbox.base_url)) == 1
    online = capsys.readouterr().out

    settings_text = SettingsStore().path.read_text(encoding="utf-8")
    assert sandbox.base_url in settings_text
    assert DEMO.owner_password not in settings_text

    # The README's step: stop the sandbox and run `leafdesk status` with no options or password.
    sandbox.stop()
    monkeypatch.delenv("LEAFDESK_PASSWORD")
    code = run(["status"])
    printed = capsys.readouterr()
    assert code == 1
    assert printed.out == online
    assert "refused the connection" in printed.err
    assert "Showing the offline cache as of the last complete refresh" in printed.err

    assert run(["status", "--offline", "--format", "json"]) == 1
    assert len(json.loads(capsys.readouterr().out)) == USERS


def test_last_account_keeps_saved_one(sandbox, capsys, monkeypatch):
    monkeypatch.delenv("LEAFDESK_PASSWORD", raising=False)
    store = SettingsStore()
    store.save(Settings(accounts=[
        LeafAccount("Demo farm", base_url=sandbox.base_url, username=DEMO.owner_username),
        LeafAccount("Other", base_url="http://127.0.0.1:9", username="someone@example.com"),
    ], last_account="Other"))
    SecretStore().set(LEAF_PASSWORD, "Demo farm", DEMO.owner_password)

    assert run(_status(sandbox.base_url)) == 1
    capsys.readouterr()
    settings = store.load()
    assert [account.name for account in settings.accounts] == ["Demo farm", "Other"]
    assert settings.last_account == "Demo farm"


def _cache_files(root) -> list[str]:
    folder = root / "data" / "LeafDesk" / "cache"
    return sorted(path.name for path in folder.iterdir()) if folder.exists() else []


def test_failed_first_sign_in_leaves_no_cache(sandbox, isolated_folders, capsys, monkeypatch,
                                              unused_tcp_port):
    monkeypatch.setenv("LEAFDESK_PASSWORD", DEMO.owner_password)
    assert run(_status(f"http://127.0.0.1:{unused_tcp_port}")) == 2
    assert run(["status", "--base-url", sandbox.base_url, "--username", "nobody@x.example"]) == 3
    assert run(_status(sandbox.base_url, "--offline")) == 2
    capsys.readouterr()
    assert _cache_files(isolated_folders) == []
    assert not SettingsStore().path.exists()

    # A cache that contains users stays, even when the next sign-in fails.
    assert run(_status(sandbox.base_url)) == 1
    kept = _cache_files(isolated_folders)
    assert kept
    monkeypatch.setenv("LEAFDESK_PASSWORD", "not the password")
    assert run(_status(sandbox.base_url)) == 3
    assert _cache_files(isolated_folders) == kept


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["status", "--account", "nobody"], "No saved Leaf account is named 'nobody'"),
        (["status"], "Name a Leaf account"),
        (["status", "--base-url", "http://127.0.0.1:9"], "go together"),
        (["status", "--base-url", "ftp://x", "--username", "u"], "http:// or https://"),
    ],
)
def test_account_errors_exit_two(argv, message, capsys):
    assert run(argv) == 2
    assert message in capsys.readouterr().err


def test_bad_usage_exits_two(capsys):
    assert run(["status", "--format", "xml"]) == 2
    assert "invalid choice" in capsys.readouterr().err


def test_piped_run_prints_no_progress(sandbox):
    environment = {**os.environ, "LEAFDESK_PASSWORD": DEMO.owner_password}
    finished = subprocess.run(
        # The same entry point as the `leafdesk` console script, which hands `status` to the CLI.
        [sys.executable, "-c", "import sys; from leafdesk.main import main; sys.exit(main())",
         *_status(sandbox.base_url, "--format", "csv")],
        capture_output=True, text=True, env=environment, timeout=60, check=False,
    )
    assert finished.returncode == 1
    assert finished.stderr == ""
    assert len(finished.stdout.strip().splitlines()) == USERS + 1


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_drawn_on_terminal_only():
    terminal = _Terminal()
    progress = _Progress(terminal)
    progress(1, 10, 0)
    progress(10, 10, 1)
    progress.clear()
    assert "Refreshing from Leaf: 10/10 users, 1 failed" in terminal.getvalue()
    assert terminal.getvalue().endswith("\r\x1b[K")

    piped = io.StringIO()
    quiet = _Progress(piped)
    quiet(5, 10, 0)
    quiet.clear()
    assert piped.getvalue() == ""


def test_remembered_name_avoids_taken_one(sandbox, password, capsys):
    store = SettingsStore()
    store.save(Settings(accounts=[
        LeafAccount(DEMO.owner_username, base_url="http://127.0.0.1:9", username="other@x.example"),
    ]))

    assert run(_status(sandbox.base_url)) == 1
    capsys.readouterr()
    settings = store.load()
    host = sandbox.base_url.removeprefix("http://")
    assert [account.name for account in settings.accounts] == [
        DEMO.owner_username, f"{DEMO.owner_username} at {host}"]
    assert settings.last_account == f"{DEMO.owner_username} at {host}"
    assert not settings.accounts[1].remember

    # The second run finds the same account, so it reads the same cache.
    assert run(["status", "--offline"]) == 1
    assert "Showing the offline cache as of the last complete refresh" in capsys.readouterr().err
