"""The background check of manual credentials.

The create returns status OK. A few sandbox seconds later the status shows what Panorama made of
the partner login and the organization code."""

from __future__ import annotations

import asyncio
import json
import time

import httpx
import pytest
from sandbox_helpers import (
    API,
    advance_clock,
    manual_body,
    sign_in,
    state_of,
    unconnected_user,
)

from leafdesk.sandbox import DEMO, SandboxConfig, create_app, start_background_server

pytestmark = pytest.mark.asyncio

NOT_AUTHORIZED = {"__type": "NotAuthorizedException", "message": "Incorrect username or password."}


async def create_manual(client: httpx.AsyncClient, body: dict) -> tuple[dict, str]:
    """Create a credential for a user without one; return the created credential and its path."""
    user = await unconnected_user(client)
    path = f"{API}/users/{user['id']}/panorama-credentials"
    response = await client.post(path, json=body)
    assert response.status_code == 201, response.text
    created = response.json()
    assert created["status"] == "OK"
    return created, path


async def status_and_events(client: httpx.AsyncClient, path: str) -> tuple[str, list[dict]]:
    status = (await client.get(path)).json()["status"]
    events = (await client.get(f"{path}/events", params={"size": 100})).json()
    return status, events


async def test_valid_credential_stays_ok(client):
    _, path = await create_manual(client, manual_body())
    await advance_clock(client, 10)

    status, events = await status_and_events(client, path)
    assert status == "OK"
    assert [event["statusCode"] for event in events] == [200]
    assert "AuthenticationResult" in json.loads(events[0]["body"])


@pytest.mark.parametrize("environment", ["STAGE", "PRODUCTION"])
async def test_valid_in_each_environment(client, environment):
    _, path = await create_manual(client, manual_body(environment))
    await advance_clock(client, 10)
    status, _ = await status_and_events(client, path)
    assert status == "OK"


async def test_wrong_password_unauthenticated(client):
    _, path = await create_manual(client, manual_body(password="nope"))

    # Still OK before the check is due: it runs 2 to 5 sandbox seconds after the create.
    await advance_clock(client, 1)
    status, events = await status_and_events(client, path)
    assert status == "OK"
    assert events == []

    await advance_clock(client, 9)
    status, events = await status_and_events(client, path)
    assert status == "UNAUTHENTICATED"
    assert len(events) == 1
    assert events[0]["statusCode"] == 400
    assert json.loads(events[0]["body"]) == NOT_AUTHORIZED


async def test_wrong_username_unauthenticated(client):
    _, path = await create_manual(client, manual_body(username="someone@agpartner.example"))
    await advance_clock(client, 10)
    status, events = await status_and_events(client, path)
    assert status == "UNAUTHENTICATED"
    assert json.loads(events[0]["body"]) == NOT_AUTHORIZED


async def test_other_environment_client_unauthenticated(client):
    # A PRODUCTION client id sent as STAGE, with the STAGE partner's own login.
    body = manual_body("STAGE", clientId=DEMO.partners["PRODUCTION"].client_id)
    _, path = await create_manual(client, body)
    await advance_clock(client, 10)

    status, events = await status_and_events(client, path)
    assert status == "UNAUTHENTICATED"
    assert len(events) == 1
    assert events[0]["statusCode"] == 400
    assert json.loads(events[0]["body"])["__type"] == "ResourceNotFoundException"


async def test_unknown_client_unauthenticated(client):
    _, path = await create_manual(client, manual_body(clientId="no-such-client"))
    await advance_clock(client, 10)
    status, events = await status_and_events(client, path)
    assert status == "UNAUTHENTICATED"
    assert json.loads(events[0]["body"])["__type"] == "ResourceNotFoundException"


@pytest.mark.parametrize("code", ["ORG-TEST-1", "PP-ABC12", "PP-ABC1234", "XX-ABC123"])
async def test_odd_organization_missing_permission(client, code):
    _, path = await create_manual(client, manual_body(organizationCode=code))
    await advance_clock(client, 10)

    status, events = await status_and_events(client, path)
    assert status == "MISSING_PERMISSION"
    assert len(events) == 1
    assert events[0]["statusCode"] == 403
    assert json.loads(events[0]["body"])["error"] == "Forbidden"


async def test_organization_case_ignored(client):
    _, path = await create_manual(client, manual_body(organizationCode="pp-abc234"))
    await advance_clock(client, 10)
    status, _ = await status_and_events(client, path)
    assert status == "OK"


async def test_login_checked_before_organization(client):
    _, path = await create_manual(client, manual_body(password="nope", organizationCode="x"))
    await advance_clock(client, 10)
    status, _ = await status_and_events(client, path)
    assert status == "UNAUTHENTICATED"


async def test_status_control_cancels_check(client):
    _, path = await create_manual(client, manual_body(password="nope"))
    user_id = path.split("/")[-2]
    response = await client.post(f"/_sandbox/users/{user_id}/panorama-status",
                                 json={"status": "TEMPORARILY_UNAVAILABLE"})
    assert response.status_code == 200
    await advance_clock(client, 10)
    status, events = await status_and_events(client, path)
    assert status == "TEMPORARILY_UNAVAILABLE"
    assert len(events) == 1


async def test_recreated_credential_not_judged_by_old_check(client):
    _, path = await create_manual(client, manual_body(password="nope"))
    assert (await client.delete(path)).status_code == 204
    response = await client.post(path, json=manual_body())
    assert response.status_code == 201
    await advance_clock(client, 10)
    status, events = await status_and_events(client, path)
    assert status == "OK"
    assert [event["statusCode"] for event in events] == [200]


async def test_check_runs_within_health_steps():
    app = create_app(SandboxConfig(users=30, seed=1, controls=True, health=True))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                 base_url="http://sandbox.test") as http:
        http.headers["Authorization"] = f"Bearer {await sign_in(http)}"
        created, path = await create_manual(http, manual_body(password="nope"))
        await advance_clock(http, 3 * 3600)
        events = (await http.get(f"{path}/events", params={"sort": "createdDate,asc"})).json()

    assert json.loads(events[0]["body"]) == NOT_AUTHORIZED
    credential = state_of(app).store.users[path.split("/")[-2]].credential
    assert credential.id == created["id"]
    # The check's event is dated 2 to 5 s after the create, not at a later health step.
    assert 2 <= credential.events[0].created - credential.created <= 5


async def test_pending_check_survives_restart(tmp_path):
    path_file = tmp_path / "sandbox.json"
    config = SandboxConfig(users=10, seed=2, controls=True, health=False, state_file=path_file)
    app = create_app(config)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                 base_url="http://sandbox.test") as http:
        http.headers["Authorization"] = f"Bearer {await sign_in(http)}"
        _, path = await create_manual(http, manual_body(password="nope"))
    state_of(app).save()
    assert "nope" not in path_file.read_text()

    restarted = create_app(config)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=restarted),
                                 base_url="http://sandbox.test") as http:
        http.headers["Authorization"] = f"Bearer {await sign_in(http)}"
        await advance_clock(http, 10)
        status, _ = await status_and_events(http, path)
    assert status == "UNAUTHENTICATED"


@pytest.mark.loopback
async def test_tick_applies_check_without_requests():
    # At 10x, the check is due 0.2 to 0.5 s after the create; the once-a-second tick applies it.
    server = start_background_server(SandboxConfig(users=10, seed=3, clock_speed=10,
                                                   health=False))
    try:
        async with httpx.AsyncClient(base_url=server.base_url, timeout=10) as http:
            http.headers["Authorization"] = f"Bearer {await sign_in(http)}"
            _, path = await create_manual(http, manual_body(password="nope"))
        user = server.state.store.users[path.split("/")[-2]]
        deadline = time.monotonic() + 5
        while user.credential.status == "OK" and time.monotonic() < deadline:
            await asyncio.sleep(0.1)
        assert user.credential.status == "UNAUTHENTICATED"
    finally:
        server.stop()
