"""Sign-in and bearer tokens on the sandbox clock."""

from __future__ import annotations

import base64
import json

import httpx
import pytest
from sandbox_helpers import API, assert_problem, sign_in

from leafdesk.sandbox import DEMO, DemoLogins, PartnerLogin, SandboxConfig, create_app

pytestmark = pytest.mark.asyncio


def claims_of(token: str) -> dict:
    payload = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


@pytest.fixture
def anonymous(sandbox_app):
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=sandbox_app),
                             base_url="http://sandbox.test")


async def test_token_lasts_24_hours(anonymous):
    async with anonymous:
        token = await sign_in(anonymous)
    claims = claims_of(token)
    assert claims["sub"] == DEMO.owner_username
    assert claims["exp"] - claims["iat"] == 24 * 3600


@pytest.mark.parametrize("remember_me", [True, "true", "TRUE"])
async def test_remember_me_lasts_30_days(anonymous, remember_me):
    async with anonymous:
        token = await sign_in(anonymous, remember_me)
    claims = claims_of(token)
    assert claims["exp"] - claims["iat"] == 30 * 24 * 3600


@pytest.mark.parametrize("remember_me", [False, "false", None])
async def test_remember_me_false_forms(anonymous, remember_me):
    async with anonymous:
        token = await sign_in(anonymous, remember_me)
    claims = claims_of(token)
    assert claims["exp"] - claims["iat"] == 24 * 3600


async def test_remember_me_missing_means_false(anonymous):
    async with anonymous:
        response = await anonymous.post("/api/authenticate", json={
            "username": DEMO.owner_username, "password": DEMO.owner_password})
    assert response.status_code == 200
    claims = claims_of(response.json()["id_token"])
    assert claims["exp"] - claims["iat"] == 24 * 3600


async def test_wrong_password_is_401(anonymous):
    async with anonymous:
        response = await anonymous.post("/api/authenticate", json={
            "username": DEMO.owner_username, "password": "wrong", "rememberMe": False})
    assert_problem(response, 401)
    assert "id_token" not in response.text


async def test_non_ascii_password_is_401(anonymous):
    async with anonymous:
        response = await anonymous.post("/api/authenticate", json={
            "username": DEMO.owner_username, "password": "pässwörd-ñ"})
    assert_problem(response, 401)


async def test_unknown_username_is_401(anonymous):
    async with anonymous:
        response = await anonymous.post("/api/authenticate", json={
            "username": "someone@example.com", "password": DEMO.owner_password})
    assert_problem(response, 401)


@pytest.mark.parametrize("body, field", [
    ({"password": "x"}, "username"),
    ({"username": "  ", "password": "x"}, "username"),
    ({"username": DEMO.owner_username}, "password"),
    ({"username": 5, "password": "x"}, "username"),
    ({"username": DEMO.owner_username, "password": "x", "rememberMe": "maybe"}, "rememberMe"),
    ({"username": DEMO.owner_username, "password": "x", "rememberMe": 1}, "rememberMe"),
])
async def test_sign_in_field_errors(anonymous, body, field):
    async with anonymous:
        response = await anonymous.post("/api/authenticate", json=body)
    problem = assert_problem(response, 400)
    assert field in [error["field"] for error in problem["fieldErrors"]]


async def test_missing_token_is_401(anonymous):
    async with anonymous:
        response = await anonymous.get(f"{API}/users")
    assert_problem(response, 401)
    assert response.headers["www-authenticate"] == "Bearer"


@pytest.mark.parametrize("header", [
    "Bearer not-a-jwt", "Bearer a.b.c", "Basic ZGVtbzpkZW1v", "Bearer ",
    "Bearer a.b.\u00e9", "Bearer \u00e9.\u00e9.\u00e9",
])
async def test_malformed_token_is_401(anonymous, header):
    async with anonymous:
        response = await anonymous.get(f"{API}/users", headers={"Authorization": header.encode("latin-1")})
    assert_problem(response, 401)


async def test_forged_token_is_401(anonymous):
    async with anonymous:
        token = await sign_in(anonymous)
        header, _, signature = token.split(".")
        claims = claims_of(token)
        claims["exp"] += 10**6
        forged_payload = base64.urlsafe_b64encode(
            json.dumps(claims).encode()).rstrip(b"=").decode()
        response = await anonymous.get(
            f"{API}/users", headers={"Authorization": f"Bearer {header}.{forged_payload}."
                                                      f"{signature}"})
    assert_problem(response, 401)


async def test_token_expires_on_sandbox_clock(anonymous):
    async with anonymous:
        token = await sign_in(anonymous)
        headers = {"Authorization": f"Bearer {token}"}
        assert (await anonymous.get(f"{API}/users", headers=headers)).status_code == 200

        advanced = await anonymous.post("/_sandbox/clock/advance", json={"seconds": 23 * 3600})
        assert advanced.status_code == 200
        assert (await anonymous.get(f"{API}/users", headers=headers)).status_code == 200

        await anonymous.post("/_sandbox/clock/advance", json={"seconds": 3601})
        response = await anonymous.get(f"{API}/users", headers=headers)
    assert_problem(response, 401)


async def test_remember_me_outlives_a_day(anonymous):
    async with anonymous:
        token = await sign_in(anonymous, True)
        await anonymous.post("/_sandbox/clock/advance", json={"seconds": 29 * 24 * 3600})
        response = await anonymous.get(f"{API}/users",
                                       headers={"Authorization": f"Bearer {token}"})
        assert response.status_code == 200
        await anonymous.post("/_sandbox/clock/advance", json={"seconds": 24 * 3600})
        expired = await anonymous.get(f"{API}/users",
                                      headers={"Authorization": f"Bearer {token}"})
    assert_problem(expired, 401)


async def test_token_iat_follows_advanced_clock(anonymous):
    async with anonymous:
        before = claims_of(await sign_in(anonymous))["iat"]
        await anonymous.post("/_sandbox/clock/advance", json={"seconds": 7 * 24 * 3600})
        after = claims_of(await sign_in(anonymous))["iat"]
    assert after - before >= 7 * 24 * 3600


async def test_custom_logins_replace_demo():
    partner = PartnerLogin("own-client", "own@partner.example", "own-partner-pw",
                           "0f7c1e5b-3a4f-4e8b-9c2d-6a1f0e9b8c7d", "own-app")
    logins = DemoLogins("owner@farm.example", "own-owner-pw",
                        {**DEMO.partners, "STAGE": partner})
    app = create_app(SandboxConfig(users=10, health=False, logins=logins))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                 base_url="http://sandbox.test") as http:
        demo_login = await http.post("/api/authenticate", json={
            "username": DEMO.owner_username, "password": DEMO.owner_password})
        assert_problem(demo_login, 401)
        own = await http.post("/api/authenticate", json={
            "username": "owner@farm.example", "password": "own-owner-pw"})
        assert own.status_code == 200
        token = own.json()["id_token"]
        assert claims_of(token)["sub"] == "owner@farm.example"
        http.headers["Authorization"] = f"Bearer {token}"

        users = (await http.get(f"{API}/users")).json()
        assert {user["apiOwnerUsername"] for user in users} == {"owner@farm.example"}
        target = next(user for user in users if "panoramaCredentials" not in user)
        started = await http.post(
            f"{API}/users/{target['id']}/one-click-integration/Panorama",
            json={"clientId": "own-client", "username": "own@partner.example",
                  "password": "own-partner-pw", "clientEnvironment": "STAGE",
                  "sharingUrlId": partner.sharing_url_id})
        assert started.status_code == 200
