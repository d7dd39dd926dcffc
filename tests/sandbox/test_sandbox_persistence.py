"""The --state file: data survives a restart, writes are atomic, and no secret is stored."""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncIterator

import httpx
import pytest
from sandbox_helpers import API, all_users, manual_body, sign_in, unconnected_user

from leafdesk.sandbox import DEMO, SandboxConfig, create_app, start_background_server
from leafdesk.sandbox.persistence import StateFileError

NEW_USER = {"name": "Kept Knoll Farms", "email": "ops@kept-knoll.example.net",
            "phone": "+1-402-555-0142", "address": "9 Gravel Road 4, Fairview, KS 60000"}


@contextlib.asynccontextmanager
async def signed_in(app) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                 base_url="http://sandbox.test") as http:
        http.headers["Authorization"] = f"Bearer {await sign_in(http)}"
        yield http


@pytest.mark.asyncio
async def test_state_survives_restart_in_process(tmp_path):
    path = tmp_path / "sandbox.json"
    config = SandboxConfig(users=20, seed=4, controls=True, health=False, state_file=path)
    app = create_app(config)
    assert path.exists()
    async with signed_in(app) as http:
        created = (await http.post(f"{API}/users", json=NEW_USER)).json()
        target = await unconnected_user(http)
        credential = (await http.post(f"{API}/users/{target['id']}/panorama-credentials",
                                      json=manual_body())).json()
        first_users = await all_users(http)
        await http.post("/_sandbox/clock/advance", json={"seconds": 600})
    app.state.sandbox.save()

    # Another seed and size: the state file wins over both.
    restarted = create_app(SandboxConfig(users=5, seed=99, controls=True, state_file=path))
    async with signed_in(restarted) as http:
        again = await all_users(http)
        assert again == first_users
        assert (await http.get(f"{API}/users/{created['id']}")).json() == created
        reloaded = (await http.get(f"{API}/users/{target['id']}/panorama-credentials")).json()
        assert reloaded["id"] == credential["id"]
        assert reloaded["status"] == "OK"
        events = await http.get(f"{API}/users/{target['id']}/panorama-credentials/events")
        assert len(events.json()) == 1
        clock = (await http.get("/_sandbox/state")).json()["clock"]
        assert clock["advancedSeconds"] == 600


@pytest.mark.asyncio
async def test_state_file_holds_no_secrets(tmp_path):
    path = tmp_path / "sandbox.json"
    app = create_app(SandboxConfig(users=10, controls=True, state_file=path))
    async with signed_in(app) as http:
        target = await unconnected_user(http)
        credential = (await http.post(f"{API}/users/{target['id']}/panorama-credentials",
                                      json=manual_body())).json()
        await http.post(f"{API}/app-keys/Panorama/secret-app/STAGE", json={
            "clientId": "c-1", "username": "u@partner.example", "password": "app-key-pw-77",
            "sharingUrlId": "5b0d7c1e-3f4a-4e8b-9c2d-6a1f0e9b8c70"})
    app.state.sandbox.save()
    text = path.read_text()
    for secret in ("manual-secret-pw", "manual-refresh-token-value", "app-key-pw-77",
                   credential["accessToken"], "stage-partner-demo", "production-partner-demo"):
        assert secret not in text


@pytest.mark.asyncio
async def test_restarted_credential_gets_new_tokens(tmp_path):
    path = tmp_path / "sandbox.json"
    app = create_app(SandboxConfig(users=10, state_file=path))
    async with signed_in(app) as http:
        user = next(u for u in await all_users(http) if "panoramaCredentials" in u)
        before = (await http.get(f"{API}/users/{user['id']}/panorama-credentials")).json()
    app.state.sandbox.save()
    async with signed_in(create_app(SandboxConfig(state_file=path))) as http:
        after = (await http.get(f"{API}/users/{user['id']}/panorama-credentials")).json()
    assert after["id"] == before["id"]
    assert after["accessToken"] != before["accessToken"]
    assert after["refreshToken"]


def test_save_is_atomic(tmp_path):
    path = tmp_path / "state" / "sandbox.json"
    app = create_app(SandboxConfig(users=15, state_file=path))
    app.state.sandbox.save()
    assert json.loads(path.read_text())["format"] == "leafdesk-sandbox-state"
    assert [p.name for p in path.parent.iterdir()] == ["sandbox.json"]


@pytest.mark.parametrize("content, words", [
    ("{not json", "cannot read"),
    ('{"format": "something-else"}', "not a LeafDesk sandbox state file"),
    ('{"format": "leafdesk-sandbox-state", "version": 99}', "version 99"),
    ('{"format": "leafdesk-sandbox-state", "version": 1, "users": []}', "damaged"),
    # A field of the wrong JSON type: recoveries is an object in a valid file.
    ('{"format": "leafdesk-sandbox-state", "version": 1, "seed": 1, "texts": [], "users": [],'
     ' "appKeys": [], "partnerAccounts": [], "shares": [], "clockAdvanced": 0,'
     ' "healthLastStep": 0, "recoveries": []}', "damaged"),
])
def test_bad_state_file_is_reported(tmp_path, content, words):
    path = tmp_path / "sandbox.json"
    path.write_text(content)
    with pytest.raises(StateFileError, match=words):
        create_app(SandboxConfig(users=5, state_file=path))


def _owner_headers(http: httpx.Client) -> dict[str, str]:
    token = http.post("/api/authenticate", json={
        "username": DEMO.owner_username, "password": DEMO.owner_password}).json()["id_token"]
    return {"Authorization": f"Bearer {token}"}


@pytest.mark.loopback
def test_state_survives_server_restart(tmp_path):
    path = tmp_path / "sandbox.json"
    config = SandboxConfig(users=12, controls=True, state_file=path)
    server = start_background_server(config)
    try:
        with httpx.Client(base_url=server.base_url) as http:
            created = http.post(f"{API}/users", json=NEW_USER,
                                headers=_owner_headers(http)).json()
    finally:
        server.stop()

    # stop() runs the server's shutdown, which writes the state file.
    server = start_background_server(config)
    try:
        with httpx.Client(base_url=server.base_url) as http:
            fetched = http.get(f"{API}/users/{created['id']}", headers=_owner_headers(http))
    finally:
        server.stop()
    assert fetched.status_code == 200
    assert fetched.json() == created


@pytest.mark.asyncio
async def test_reset_rewrites_state_file(tmp_path):
    path = tmp_path / "sandbox.json"
    app = create_app(SandboxConfig(users=8, controls=True, state_file=path))
    async with signed_in(app) as http:
        created = (await http.post(f"{API}/users", json=NEW_USER)).json()
        app.state.sandbox.save()
        assert created["id"] in path.read_text()
        await http.post("/_sandbox/reset")
    assert created["id"] not in path.read_text()


def test_restart_catches_up_health_steps(tmp_path):
    path = tmp_path / "sandbox.json"
    app = create_app(SandboxConfig(users=60, seed=6, health=True, state_file=path))
    events_before = sum(len(app.state.sandbox.store.users[i].credential.events)
                        for i in app.state.sandbox.store.connected)

    # Pretend the sandbox was stopped three days ago.
    document = json.loads(path.read_text())
    document["healthLastStep"] -= 3 * 24 * 3600
    path.write_text(json.dumps(document))

    restarted = create_app(SandboxConfig(health=True, state_file=path)).state.sandbox
    assert restarted.health_last_step >= restarted.clock.now() - 3600
    events_after = sum(len(restarted.store.users[i].credential.events)
                       for i in restarted.store.connected)
    assert events_after > events_before
