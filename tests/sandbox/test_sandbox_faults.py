"""Fault knobs: injected errors, latency, the rate limit, and where they never apply."""

from __future__ import annotations

import asyncio
import time

import httpx
import pytest
from sandbox_helpers import API, assert_problem, one_click_body, sign_in, unconnected_user

from leafdesk.sandbox import SandboxConfig, create_app

pytestmark = pytest.mark.asyncio


async def only_fault(client, kind: str, **extra) -> None:
    response = await client.post("/_sandbox/faults",
                                 json={"fault_rate": 1.0, "faults": [kind], **extra})
    assert response.status_code == 200


async def test_fault_500(client):
    await only_fault(client, "500")
    assert_problem(await client.get(f"{API}/users"), 500)


async def test_fault_503_is_html(client):
    await only_fault(client, "503")
    response = await client.get(f"{API}/users")
    assert response.status_code == 503
    assert response.headers["content-type"].startswith("text/html")
    assert response.headers["retry-after"] == "1"


async def test_fault_malformed_json(client):
    await only_fault(client, "malformed")
    response = await client.get(f"{API}/users")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    with pytest.raises(ValueError):
        response.json()


async def test_fault_slow(client):
    await only_fault(client, "slow", slow_seconds=0.3)
    started = time.perf_counter()
    response = await client.get(f"{API}/users")
    assert time.perf_counter() - started >= 0.3
    assert response.status_code == 200


async def test_fault_reset_in_process(client):
    await only_fault(client, "reset")
    with pytest.raises(ConnectionResetError):
        await client.get(f"{API}/users")


async def test_fault_rate_is_a_probability(client):
    await client.post("/_sandbox/faults", json={"fault_rate": 0.5, "faults": ["500"]})
    codes = [(await client.get(f"{API}/users", params={"size": 1})).status_code
             for _ in range(200)]
    failed = codes.count(500)
    assert codes.count(200) + failed == 200
    assert 50 < failed < 150


async def test_faults_hit_sign_in_too(client):
    await only_fault(client, "500")
    response = await client.post("/api/authenticate", json={})
    assert_problem(response, 500)


async def test_faults_spare_controls_and_share_page(client):
    user = await unconnected_user(client)
    started = await client.post(f"{API}/users/{user['id']}/one-click-integration/Panorama",
                                json=one_click_body())
    path = started.json()["signInUrl"].removeprefix("http://sandbox.test")
    await only_fault(client, "500", rate_limit=0.001)
    for _ in range(5):
        assert (await client.get("/_sandbox/state")).status_code == 200
        assert (await client.get(path)).status_code == 200


async def test_latency_is_added(client):
    started = time.perf_counter()
    await client.get(f"{API}/users", params={"size": 1})
    baseline = time.perf_counter() - started
    await client.post("/_sandbox/faults", json={"latency_ms": 300})
    started = time.perf_counter()
    await client.get(f"{API}/users", params={"size": 1})
    assert time.perf_counter() - started >= 0.3
    assert baseline < 0.3


async def test_latency_jitter_stays_in_range(client):
    await client.post("/_sandbox/faults", json={"latency_ms": 60, "latency_jitter_ms": 40})
    for _ in range(5):
        started = time.perf_counter()
        await client.get(f"{API}/users", params={"size": 1})
        assert time.perf_counter() - started >= 0.019


async def test_rate_limit_429_with_retry_after(client):
    await client.post("/_sandbox/faults", json={"rate_limit": 5})
    codes = []
    for _ in range(20):
        response = await client.get(f"{API}/users", params={"size": 1})
        codes.append(response.status_code)
        if response.status_code == 429:
            assert_problem(response, 429, "rateLimited")
            assert int(response.headers["retry-after"]) >= 1
    assert codes[:5] == [200] * 5
    assert codes.count(429) >= 5


async def test_rate_limit_refills(client):
    await client.post("/_sandbox/faults", json={"rate_limit": 20})
    for _ in range(25):
        await client.get(f"{API}/users", params={"size": 1})
    await asyncio.sleep(0.2)
    assert (await client.get(f"{API}/users", params={"size": 1})).status_code == 200


async def test_rate_limit_off_again(client):
    await client.post("/_sandbox/faults", json={"rate_limit": 1})
    await client.get(f"{API}/users")
    assert (await client.get(f"{API}/users")).status_code == 429
    await client.post("/_sandbox/faults", json={"rate_limit": None})
    assert (await client.get(f"{API}/users")).status_code == 200


async def test_config_knobs_apply_from_start():
    app = create_app(SandboxConfig(users=3, fault_rate=1.0, faults=("500",)))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                 base_url="http://sandbox.test") as http:
        assert_problem(await http.post("/api/authenticate", json={}), 500)

    app = create_app(SandboxConfig(users=3, rate_limit=2))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                 base_url="http://sandbox.test") as http:
        await sign_in(http)
        await sign_in(http)
        assert (await http.post("/api/authenticate", json={})).status_code == 429
