"""Request checks every route shares: bodies that are not JSON or too large, and the catch-all
that turns an unexpected error into a 500 problem."""

from __future__ import annotations

import httpx
import pytest
from sandbox_helpers import API, assert_problem, unconnected_user

from leafdesk.sandbox import DEMO, SandboxConfig, create_app

pytestmark = pytest.mark.asyncio


@pytest.mark.parametrize("content, error_key", [
    (b"{not json", "bodyNotJson"),
    (b"[1, 2, 3]", "bodyNotObject"),
    (b'"text"', "bodyNotObject"),
    (b"", "bodyMissing"),
    (b"\xff\xfe\x00", "bodyNotJson"),
])
async def test_bad_bodies_are_400(client, content, error_key):
    for path in (f"{API}/users", "/api/authenticate"):
        response = await client.post(path, content=content,
                                     headers={"Content-Type": "application/json"})
        assert_problem(response, 400, error_key)


async def test_deeply_nested_body_is_400(client):
    response = await client.post(f"{API}/users", content=b"[" * 100_000 + b"]" * 100_000,
                                 headers={"Content-Type": "application/json"})
    assert_problem(response, 400, "bodyNotJson")


async def test_body_over_1_mib_is_413(client):
    user = await unconnected_user(client)
    huge = b'{"name": "' + b"x" * (1024 * 1024) + b'"}'
    response = await client.post(f"{API}/users/{user['id']}/panorama-credentials",
                                 content=huge, headers={"Content-Type": "application/json"})
    assert_problem(response, 413, "bodyTooLarge")


async def test_body_just_under_1_mib_is_read(client):
    padding = 1024 * 1024 - len(b'{"name": ""}') - 1
    body = b'{"name": "' + b"x" * padding + b'"}'
    assert len(body) < 1024 * 1024
    problem = assert_problem(await client.post(f"{API}/users", content=body), 400)
    assert "size must be at most 200" in [error["message"] for error in problem["fieldErrors"]]


async def test_streamed_body_over_1_mib_is_413(client):
    async def chunks():
        for _ in range(20):
            yield b"x" * (64 * 1024)

    response = await client.post(f"{API}/users", content=chunks(),
                                 headers={"Content-Type": "application/json"})
    assert_problem(response, 413, "bodyTooLarge")


async def test_unknown_route_is_404_problem(client):
    body = assert_problem(await client.get(f"{API}/growers"), 404)
    assert body["path"] == f"{API}/growers"


async def test_unexpected_error_is_500_problem(client, sandbox_app, monkeypatch, caplog):
    store = sandbox_app.state.sandbox.store

    def broken(*args, **kwargs):
        raise RuntimeError("index damaged")

    monkeypatch.setattr(store, "page_users", broken)
    response = await client.get(f"{API}/users")
    body = assert_problem(response, 500)
    assert "index damaged" not in response.text
    assert body["path"] == f"{API}/users"
    assert "index damaged" in caplog.text


async def test_controls_off_are_404():
    app = create_app(SandboxConfig(users=3, controls=False))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                 base_url="http://sandbox.test") as http:
        for method, path in (("POST", "/_sandbox/reset"), ("GET", "/_sandbox/state"),
                             ("GET", "/_sandbox/one-clicks"), ("POST", "/_sandbox/faults")):
            response = await http.request(method, path, json={})
            assert_problem(response, 404)


async def test_front_page_names_logins(client):
    await client.post("/_sandbox/faults", json={"fault_rate": 1.0, "faults": ["500"]})
    page = await client.get("/", headers={"Authorization": ""})
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert "http://sandbox.test" in page.text
    assert DEMO.owner_username in page.text
    for partner in DEMO.partners.values():
        assert partner.client_id in page.text
