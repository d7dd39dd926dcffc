"""Helpers for the sandbox's own tests: sign-in, finding demo users, request bodies, and the
check of a problem response."""

from __future__ import annotations

import httpx

from leafdesk.sandbox import DEMO

API = "/services/usermanagement/api"


async def sign_in(client: httpx.AsyncClient, remember_me: object = False) -> str:
    response = await client.post("/api/authenticate", json={
        "username": DEMO.owner_username, "password": DEMO.owner_password,
        "rememberMe": remember_me})
    assert response.status_code == 200, response.text
    return response.json()["id_token"]


def state_of(app):
    """Return the live sandbox state behind an app, for checks HTTP cannot make."""
    return app.state.sandbox


async def all_users(client: httpx.AsyncClient) -> list[dict]:
    response = await client.get(f"{API}/users", params={"size": 100})
    assert response.status_code == 200
    return response.json()


async def connected_user(client: httpx.AsyncClient, status: str = "OK") -> dict:
    for user in await all_users(client):
        embedded = user.get("panoramaCredentials")
        if embedded and embedded.get("status") == status:
            return user
    raise AssertionError(f"no demo user has a {status} credential")


async def unconnected_user(client: httpx.AsyncClient) -> dict:
    for user in await all_users(client):
        if "panoramaCredentials" not in user:
            return user
    raise AssertionError("every demo user is connected")


def one_click_body(environment: str = "STAGE", **changes) -> dict:
    partner = DEMO.partners[environment]
    body = {"clientId": partner.client_id, "username": partner.username,
            "password": partner.password, "clientEnvironment": environment,
            "sharingUrlId": partner.sharing_url_id}
    body.update(changes)
    return body


def manual_body(environment: str = "PRODUCTION", **changes) -> dict:
    """A manual-credential body that passes the sandbox's background check unless changed."""
    partner = DEMO.partners[environment]
    body = {"clientId": partner.client_id, "username": partner.username,
            "password": partner.password, "organizationCode": "PP-ABC123",
            "refreshToken": "manual-refresh-token-value", "clientEnvironment": environment}
    body.update(changes)
    return body


async def advance_clock(client: httpx.AsyncClient, seconds: float) -> None:
    response = await client.post("/_sandbox/clock/advance", json={"seconds": seconds})
    assert response.status_code == 200, response.text


def assert_problem(response: httpx.Response, status: int, error_key: str | None = None) -> dict:
    """Check a problem answer's status, media type and fields; return its body."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body = response.json()
    for field in ("type", "title", "status", "detail", "path", "message"):
        assert field in body, f"problem body lacks {field}: {body}"
    assert body["status"] == status
    assert "Traceback" not in response.text
    if error_key is not None:
        assert body.get("errorKey") == error_key, body
    return body
