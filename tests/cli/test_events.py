"""Tests of `leafdesk events USER` against a loopback sandbox, then from the cache."""

from __future__ import annotations

import csv
import io
import json

import httpx
import pytest

from leafdesk.cli import run
from leafdesk.sandbox import DEMO, SandboxConfig, start_background_server

pytestmark = pytest.mark.loopback


@pytest.fixture
def sandbox():
    server = start_background_server(
        SandboxConfig(users=12, seed=11, controls=True, health=False))
    yield server
    server.stop()


@pytest.fixture(autouse=True)
def password(monkeypatch):
    monkeypatch.setenv("LEAFDESK_PASSWORD", DEMO.owner_password)


def _connected_user(base_url: str) -> dict:
    with httpx.Client(base_url=base_url) as http:
        token = http.post("/api/authenticate", json={
            "username": DEMO.owner_username, "password": DEMO.owner_password}).json()["id_token"]
        users = http.get("/services/usermanagement/api/users",
                         headers={"Authorization": f"Bearer {token}"}).json()
    return next(user for user in users if user.get("panoramaCredentials"))


def _events(base_url: str, user: str, *options: str) -> list[str]:
    return ["events", user, "--base-url", base_url, "--username", DEMO.owner_username, *options]


@pytest.mark.parametrize("key", ["id", "name", "email"])
def test_events_found_by_id_name_or_email(sandbox, capsys, key):
    user = _connected_user(sandbox.base_url)

    assert run(_events(sandbox.base_url, user[key])) == 0
    out = capsys.readouterr().out
    assert f"Panorama credential events of {user['name']}" in out
    assert "WHAT HAPPENED" in out
    assert "HTTP" in out


def test_events_name_is_case_insensitive(sandbox, capsys):
    user = _connected_user(sandbox.base_url)
    assert run(_events(sandbox.base_url, user["name"].upper())) == 0
    assert user["name"] in capsys.readouterr().out


def test_events_json_and_csv(sandbox, capsys):
    user = _connected_user(sandbox.base_url)

    assert run(_events(sandbox.base_url, user["id"], "--format", "json")) == 0
    events = json.loads(capsys.readouterr().out)
    assert events
    assert {"id", "created_date", "status_code", "succeeded", "title", "detail", "body"} <= set(
        events[0])
    dates = [event["created_date"] for event in events]
    assert dates == sorted(dates, reverse=True)

    assert run(_events(sandbox.base_url, user["id"], "--format", "csv")) == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert len(rows) == len(events)


def test_events_after_status_change_explained(sandbox, capsys):
    user = _connected_user(sandbox.base_url)
    with httpx.Client(base_url=sandbox.base_url) as http:
        http.post(f"/_sandbox/users/{user['id']}/panorama-status",
                  json={"status": "MISSING_PERMISSION"})

    assert run(_events(sandbox.base_url, user["id"], "--format", "json")) == 0
    newest = json.loads(capsys.readouterr().out)[0]
    assert newest["status_code"] == 403
    assert not newest["succeeded"]
    assert "missing permission" in newest["title"]


def test_events_from_cache_when_stopped(sandbox, capsys):
    user = _connected_user(sandbox.base_url)
    assert run(_events(sandbox.base_url, user["id"], "--format", "json")) == 0
    online = json.loads(capsys.readouterr().out)

    sandbox.stop()
    assert run(_events(sandbox.base_url, user["name"], "--format", "json")) == 0
    printed = capsys.readouterr()
    assert [event["id"] for event in json.loads(printed.out)] == [event["id"] for event in online]
    assert "offline cache" in printed.err


def test_events_unknown_user_exits_two(sandbox, capsys):
    assert run(_events(sandbox.base_url, "Nobody Of That Name")) == 2
    assert "No Leaf user has the id, name or e-mail" in capsys.readouterr().err


@pytest.mark.parametrize("query", ["", "   "])
def test_events_empty_query_exits_two(sandbox, capsys, query):
    assert run(_events(sandbox.base_url, query)) == 2
    printed = capsys.readouterr()
    assert printed.out == ""
    assert printed.err == (
        "leafdesk events: The USER argument is empty. Give a user's id, name or e-mail.\n"
    )


def test_events_unknown_name_suggests_close_one(sandbox, capsys):
    user = _connected_user(sandbox.base_url)
    misspelt = user["name"][:-1] + "x"

    # With the cache still empty, the close names come from Leaf's user list.
    assert run(_events(sandbox.base_url, misspelt)) == 2
    assert f"Did you mean {user['name']}" in capsys.readouterr().err

    run(["status", "--base-url", sandbox.base_url, "--username", DEMO.owner_username])
    sandbox.stop()
    assert run(_events(sandbox.base_url, misspelt)) == 2
    assert f"Did you mean {user['name']}" in capsys.readouterr().err


def test_events_without_credential_explained(sandbox, capsys):
    with httpx.Client(base_url=sandbox.base_url) as http:
        token = http.post("/api/authenticate", json={
            "username": DEMO.owner_username, "password": DEMO.owner_password}).json()["id_token"]
        users = http.get("/services/usermanagement/api/users",
                         headers={"Authorization": f"Bearer {token}"}).json()
    user = next(user for user in users if not user.get("panoramaCredentials"))

    assert run(_events(sandbox.base_url, user["id"])) == 0
    out = capsys.readouterr().out
    assert "Leaf holds no Panorama credential for this user, so there are no events." in out
    assert "No events." not in out


def test_events_table_shows_status_once(sandbox, capsys):
    user = _connected_user(sandbox.base_url)
    with httpx.Client(base_url=sandbox.base_url) as http:
        http.post(f"/_sandbox/users/{user['id']}/panorama-status",
                  json={"status": "MISSING_PERMISSION"})

    assert run(_events(sandbox.base_url, user["id"])) == 0
    table = capsys.readouterr().out
    assert "403" in table
    assert "(HTTP 403)" not in table

    assert run(_events(sandbox.base_url, user["id"], "--format", "json")) == 0
    newest = json.loads(capsys.readouterr().out)[0]
    assert newest["title"].endswith("(HTTP 403)")


def test_events_csv_writes_json_booleans(sandbox, capsys):
    user = _connected_user(sandbox.base_url)
    assert run(_events(sandbox.base_url, user["id"], "--format", "csv")) == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert rows
    assert {row["succeeded"] for row in rows} <= {"true", "false"}


def test_events_ambiguous_name_lists_matches(sandbox, capsys):
    with httpx.Client(base_url=sandbox.base_url) as http:
        token = http.post("/api/authenticate", json={
            "username": DEMO.owner_username, "password": DEMO.owner_password}).json()["id_token"]
        for suffix in ("North", "South"):
            created = http.post(
                "/services/usermanagement/api/users",
                headers={"Authorization": f"Bearer {token}"},
                json={"name": f"Twin Creek {suffix}", "email": f"{suffix}@twin.example",
                      "phone": "+1 555 0100", "address": "1 Creek Road"})
            assert created.status_code == 201

    assert run(_events(sandbox.base_url, "twin creek")) == 2
    lines = capsys.readouterr().err.splitlines()
    assert lines[0] == ("leafdesk events: 2 Leaf users match 'twin creek'. Give the id or the "
                        "e-mail of one of them:")
    assert lines[1].split() == ["NAME", "E-MAIL", "ID"]
    assert lines[2].split()[:4] == ["Twin", "Creek", "North", "North@twin.example"]
    assert lines[3].split()[:4] == ["Twin", "Creek", "South", "South@twin.example"]
    assert len(lines) == 4


def test_events_offline_with_empty_cache(sandbox, capsys):
    assert run(_events(sandbox.base_url, "anyone", "--offline")) == 2
    assert "No Leaf user" in capsys.readouterr().err


def test_events_wrong_password_exits_three(sandbox, capsys, monkeypatch):
    user = _connected_user(sandbox.base_url)
    assert run(_events(sandbox.base_url, user["id"], "--format", "json")) == 0
    online = json.loads(capsys.readouterr().out)

    monkeypatch.setenv("LEAFDESK_PASSWORD", "not the password")
    assert run(_events(sandbox.base_url, user["id"], "--format", "json")) == 3
    printed = capsys.readouterr()
    assert [event["id"] for event in json.loads(printed.out)] == [event["id"] for event in online]
    assert "not accepted" in printed.err
