"""The test controls under /_sandbox/: reset, status, clock, faults knobs, state."""

from __future__ import annotations

import json

import httpx
import pytest
from sandbox_helpers import (
    API,
    all_users,
    assert_problem,
    connected_user,
    one_click_body,
    unconnected_user,
)

from leafdesk.sandbox import SandboxConfig, create_app

pytestmark = pytest.mark.asyncio


async def test_state_counts(client):
    state = (await client.get("/_sandbox/state")).json()
    users = await all_users(client)
    connected = [user for user in users if "panoramaCredentials" in user]
    assert state["users"] == 30
    assert state["credentials"]["total"] == len(connected)
    assert sum(state["credentials"]["byStatus"].values()) == len(connected)
    assert state["events"] > len(connected)
    assert state["pendingOneClicks"] == 0
    assert set(state["clock"]) >= {"now", "speed", "advancedSeconds"}


async def test_reset_restores_seeded_data(client):
    before = await all_users(client)
    await client.delete(f"{API}/users/{before[0]['id']}")
    user = await unconnected_user(client)
    started = await client.post(f"{API}/users/{user['id']}/one-click-integration/Panorama",
                                json=one_click_body())
    assert started.status_code == 200
    await client.post("/_sandbox/clock/advance", json={"seconds": 60})
    await client.post("/_sandbox/faults", json={"fault_rate": 0.5, "faults": ["500"]})
    assert (await client.get("/_sandbox/state")).json()["pendingOneClicks"] == 1

    reset = await client.post("/_sandbox/reset")
    assert reset.status_code == 200
    assert [u["id"] for u in await all_users(client)] == [u["id"] for u in before]
    state = (await client.get("/_sandbox/state")).json()
    assert state["knobs"]["fault_rate"] == 0
    assert state["knobs"]["faults"] == []
    assert state["clock"]["advancedSeconds"] == 0
    assert state["pendingOneClicks"] == 0


async def test_reset_keeps_tokens_valid(client):
    await client.post("/_sandbox/reset")
    assert (await client.get(f"{API}/users")).status_code == 200


@pytest.mark.parametrize("status, code", [
    ("UNAUTHENTICATED", 400), ("MISSING_PERMISSION", 403), ("TEMPORARILY_UNAVAILABLE", None),
    ("OK", 200), ("SOMETHING_NEW", 500),
])
async def test_set_status_writes_event(client, status, code):
    user = await connected_user(client)
    path = f"{API}/users/{user['id']}/panorama-credentials"
    before = (await client.get(f"{path}/events", params={"size": 100})).json()
    response = await client.post(f"/_sandbox/users/{user['id']}/panorama-status",
                                 json={"status": status})
    assert response.status_code == 200
    assert response.json()["status"] == status
    assert (await client.get(path)).json()["status"] == status
    listed = (await client.get(f"{API}/users/{user['id']}")).json()
    assert listed["panoramaCredentials"]["status"] == status

    events = (await client.get(f"{path}/events", params={"size": 100})).json()
    assert len(events) == len(before) + 1
    newest = events[0]
    if code is not None:
        assert newest["statusCode"] == code
    else:
        assert newest["statusCode"] in (400, 500, 503)
    if status == "UNAUTHENTICATED":
        assert "__type" in json.loads(newest["body"])


async def test_set_status_errors(client):
    user = await unconnected_user(client)
    assert_problem(await client.post(f"/_sandbox/users/{user['id']}/panorama-status",
                                     json={"status": "OK"}), 404, "credentialNotFound")
    connected = await connected_user(client)
    for body in ({}, {"status": ""}, {"status": 3}):
        assert_problem(await client.post(f"/_sandbox/users/{connected['id']}/panorama-status",
                                         json=body), 400)


async def test_clock_advance(client):
    before = (await client.get("/_sandbox/state")).json()["clock"]["epochSeconds"]
    response = await client.post("/_sandbox/clock/advance", json={"seconds": 7200})
    assert response.status_code == 200
    assert response.json()["epochSeconds"] - before >= 7200
    assert response.json()["advancedSeconds"] == 7200
    for body in ({}, {"seconds": -1}, {"seconds": "10"}, {"seconds": True},
                 {"seconds": 10**30}):
        assert_problem(await client.post("/_sandbox/clock/advance", json=body), 400)
    for raw in (b'{"seconds": NaN}', b'{"seconds": Infinity}'):
        assert_problem(await client.post("/_sandbox/clock/advance", content=raw), 400)


async def test_faults_partial_update(client):
    first = await client.post("/_sandbox/faults", json={"latency_ms": 0, "rate_limit": 50})
    assert first.json()["rate_limit"] == 50
    second = await client.post("/_sandbox/faults", json={"faults": ["503"]})
    assert second.json()["rate_limit"] == 50
    assert second.json()["faults"] == ["503"]
    cleared = await client.post("/_sandbox/faults", json={"rate_limit": None})
    assert cleared.json()["rate_limit"] is None
    assert (await client.get("/_sandbox/faults")).json() == cleared.json()


@pytest.mark.parametrize("body", [
    {"fault_rate": 2}, {"fault_rate": "0.5"}, {"faults": ["boom"]}, {"faults": "500"},
    {"rate_limit": 0}, {"latency_ms": -3}, {"embed_credentials": "all"}, {"colour": "red"},
])
async def test_faults_rejects_bad_values(client, body):
    assert_problem(await client.post("/_sandbox/faults", json=body), 400, "faultsInvalid")


@pytest.mark.parametrize("raw", [b'{"latency_ms": NaN}', b'{"rate_limit": Infinity}',
                                 b'{"fault_rate": NaN}'])
async def test_faults_rejects_non_finite(client, raw):
    assert_problem(await client.post("/_sandbox/faults", content=raw), 400, "faultsInvalid")


async def test_reset_restores_start_knobs():
    app = create_app(SandboxConfig(users=5, controls=True, latency_ms=5, rate_limit=500,
                                   fault_rate=0.2, faults=("503",), embed_credentials="id"))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                 base_url="http://sandbox.test") as http:
        await http.post("/_sandbox/faults", json={"latency_ms": 0, "rate_limit": None,
                                                  "embed_credentials": "full"})
        knobs = (await http.post("/_sandbox/reset")).json()["knobs"]
    assert knobs["latency_ms"] == 5
    assert knobs["rate_limit"] == 500
    assert knobs["embed_credentials"] == "id"
    assert knobs["fault_rate"] == 0
    assert knobs["faults"] == []
