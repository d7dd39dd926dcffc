"""Every route once more, the same checks over httpx's ASGI transport and over a real socket."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import httpx
import pytest
import pytest_asyncio
from sandbox_helpers import (
    API,
    advance_clock,
    assert_problem,
    manual_body,
    one_click_body,
    sign_in,
)

from leafdesk.sandbox import SandboxConfig, create_app, start_background_server

pytestmark = pytest.mark.asyncio


@pytest_asyncio.fixture(params=["asgi", pytest.param("loopback", marks=pytest.mark.loopback)])
async def http(request) -> AsyncIterator[httpx.AsyncClient]:
    config = SandboxConfig(users=20, seed=9, controls=True, health=False)
    server = None
    if request.param == "asgi":
        client = httpx.AsyncClient(transport=httpx.ASGITransport(app=create_app(config)),
                                   base_url="http://sandbox.test")
    else:
        server = start_background_server(config)
        client = httpx.AsyncClient(base_url=server.base_url, timeout=10)
    try:
        async with client:
            client.headers["Authorization"] = f"Bearer {await sign_in(client)}"
            yield client
    finally:
        if server is not None:
            server.stop()


async def first_user(http: httpx.AsyncClient, connected: bool) -> dict:
    users = (await http.get(f"{API}/users", params={"size": 100})).json()
    return next(u for u in users if ("panoramaCredentials" in u) == connected)


async def test_users_round_trip(http):
    listed = await http.get(f"{API}/users", params={"size": 5, "sort": "name,desc"})
    assert listed.status_code == 200
    assert listed.headers["x-total-count"] == "20"
    assert 'rel="next"' in listed.headers["link"]

    created = await http.post(f"{API}/users", json={
        "name": "Both Ways Farm", "email": "ops@both-ways.example.com",
        "phone": "+1-605-555-0100", "address": "1 Township Road 2, Fairview, KS 60000"})
    assert created.status_code == 201
    user = created.json()
    assert (await http.get(f"{API}/users/{user['id']}")).json() == user

    replaced = await http.put(f"{API}/users", json={**user, "phone": "+1-605-555-0199"})
    assert replaced.json()["phone"] == "+1-605-555-0199"
    assert (await http.delete(f"{API}/users/{user['id']}")).status_code == 204
    assert_problem(await http.get(f"{API}/users/{user['id']}"), 404, "userNotFound")


async def test_credentials_round_trip(http):
    user = await first_user(http, connected=False)
    path = f"{API}/users/{user['id']}/panorama-credentials"
    assert_problem(await http.get(path), 404, "credentialNotFound")
    created = await http.post(path, json=manual_body())
    assert created.status_code == 201
    assert_problem(await http.post(path, json=manual_body()), 409, "credentialExists")
    assert (await http.get(path)).json() == created.json()
    # The first event is the background check's token exchange, a few sandbox seconds later.
    await advance_clock(http, 10)
    events = await http.get(f"{path}/events")
    assert events.headers["x-total-count"] == "1"
    assert (await http.delete(path)).status_code == 204
    assert_problem(await http.get(f"{path}/events"), 404)


async def test_one_click_round_trip(http):
    user = await first_user(http, connected=False)
    started = await http.post(f"{API}/users/{user['id']}/one-click-integration/Panorama",
                              json=one_click_body("PRODUCTION"))
    assert started.status_code == 200
    page = await http.get(started.json()["signInUrl"])
    assert "Approve" in page.text
    decided = await http.post(f"/_sandbox/one-clicks/{user['id']}/approve")
    assert decided.json()["outcome"] == "approved"
    credential = await http.get(f"{API}/users/{user['id']}/panorama-credentials")
    assert credential.json()["status"] == "OK"


async def test_app_keys_and_errors(http):
    keys = await http.get(f"{API}/app-keys/Panorama")
    assert len(keys.json()) == 2
    assert_problem(await http.get(f"{API}/users/{uuid.uuid4()}"), 404)
    assert_problem(await http.post(f"{API}/users", content=b"nope"), 400, "bodyNotJson")
    assert_problem(await http.get(f"{API}/users", headers={"Authorization": "Bearer x"}), 401)
    assert_problem(await http.post("/api/authenticate", json={
        "username": "demo@leafdesk.example", "password": "wrong"}), 401)


async def test_faults_both_ways(http):
    await http.post("/_sandbox/faults", json={"fault_rate": 1.0, "faults": ["503"]})
    assert (await http.get(f"{API}/users")).status_code == 503
    await http.post("/_sandbox/faults", json={"fault_rate": 0.0, "rate_limit": 2})
    codes = [(await http.get(f"{API}/users")).status_code for _ in range(8)]
    assert 429 in codes
