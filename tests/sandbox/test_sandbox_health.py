"""The background health process over an advanced clock, and the 30-day event purge."""

from __future__ import annotations

import asyncio
import json

import httpx
import pytest
import pytest_asyncio
from sandbox_helpers import API, connected_user, sign_in

from leafdesk.sandbox import SandboxConfig, create_app

pytestmark = pytest.mark.asyncio

DAY = 24 * 3600


@pytest_asyncio.fixture
async def living():
    """A sandbox with the health process on, over 120 users for enough changes to see."""
    app = create_app(SandboxConfig(users=120, seed=3, controls=True, health=True))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                 base_url="http://sandbox.test") as http:
        http.headers["Authorization"] = f"Bearer {await sign_in(http, True)}"
        yield app, http


def snapshot(app) -> dict[str, tuple[str, int]]:
    store = app.state.sandbox.store
    return {user_id: (store.users[user_id].credential.status,
                      len(store.users[user_id].credential.events))
            for user_id in store.connected}


async def test_statuses_change_with_explaining_events(living):
    app, http = living
    before = snapshot(app)
    await http.post("/_sandbox/clock/advance", json={"seconds": 20 * DAY})
    after = snapshot(app)

    changed = [user_id for user_id in before if before[user_id][0] != after[user_id][0]]
    assert changed, "twenty sandbox days changed no credential status"
    store = app.state.sandbox.store
    for user_id in changed:
        credential = store.users[user_id].credential
        newest = credential.events[-1]
        if credential.status == "OK":
            assert newest.status_code == 200
        elif credential.status == "UNAUTHENTICATED":
            assert json.loads(newest.body)["__type"] in (
                "NotAuthorizedException", "PasswordResetRequiredException",
                "UserNotFoundException")
        elif credential.status == "MISSING_PERMISSION":
            assert newest.status_code == 403
        else:
            assert credential.status == "TEMPORARILY_UNAVAILABLE"
            assert newest.status_code in (400, 500, 503)


async def test_routine_refreshes_are_logged(living):
    app, http = living
    state = app.state.sandbox
    started = state.clock.now()
    await http.post("/_sandbox/clock/advance", json={"seconds": 3 * DAY})
    refreshed = [event for user_id in state.store.connected
                 for event in state.store.users[user_id].credential.events
                 if event.created > started and event.status_code == 200]
    # About one refresh per OK credential every three days: well over ten among 120 users.
    assert len(refreshed) > 10


async def test_outages_heal(living):
    app, http = living
    state = app.state.sandbox
    unavailable = [user_id for user_id in state.store.connected
                   if state.store.users[user_id].credential.status == "TEMPORARILY_UNAVAILABLE"]
    assert unavailable, "the demo data has no outage to heal"
    await http.post("/_sandbox/clock/advance", json={"seconds": 2 * DAY})
    for user_id in unavailable:
        credential = state.store.users[user_id].credential
        assert credential.status != "TEMPORARILY_UNAVAILABLE" or user_id in state.recoveries


async def test_events_older_than_30_days_purged(living):
    app, http = living
    user = await connected_user(http)
    path = f"{API}/users/{user['id']}/panorama-credentials/events"
    first = (await http.get(path, params={"size": 100, "sort": "createdDate,asc"})).json()
    assert first
    await http.post("/_sandbox/clock/advance", json={"seconds": 31 * DAY})
    # The 30-day token lapsed with the advance, so sign in again.
    http.headers["Authorization"] = f"Bearer {await sign_in(http)}"
    later = (await http.get(path, params={"size": 100, "sort": "createdDate,asc"})).json()
    old_ids = {event["id"] for event in first}
    assert not old_ids & {event["id"] for event in later}
    store = app.state.sandbox.store
    oldest = min((e.created for i in store.connected for e in store.users[i].credential.events),
                 default=None)
    if oldest is not None:
        assert oldest >= app.state.sandbox.clock.now() - 30 * DAY - 60


async def test_purge_without_health_process(client, sandbox_app):
    await client.post("/_sandbox/clock/advance", json={"seconds": 31 * DAY})
    counts = (await client.get("/_sandbox/state")).json()
    assert counts["events"] == 0
    statuses_before = counts["credentials"]["byStatus"]
    await client.post("/_sandbox/clock/advance", json={"seconds": 5 * DAY})
    assert (await client.get("/_sandbox/state")).json()["credentials"]["byStatus"] == \
        statuses_before


async def test_health_runs_on_clock_speed():
    app = create_app(SandboxConfig(users=200, seed=5, controls=True, clock_speed=3600 * 24))
    state = app.state.sandbox
    steps_before = state.health_last_step
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                 base_url="http://sandbox.test") as http:
        # A day of sandbox time passes in about one real second at this speed.
        await sign_in(http)
        await asyncio.sleep(0.2)
        await sign_in(http)
    assert state.health_last_step - steps_before >= 3 * 3600
