"""One-click integration, the share approval page, and Panorama app keys."""

from __future__ import annotations

import re
import uuid

import pytest
from sandbox_helpers import (
    API,
    assert_problem,
    connected_user,
    manual_body,
    one_click_body,
    unconnected_user,
)

from leafdesk.sandbox import DEMO

pytestmark = pytest.mark.asyncio


async def start(client, user_id: str, **changes):
    return await client.post(f"{API}/users/{user_id}/one-click-integration/Panorama",
                             json=one_click_body(**changes))


async def share_path(client, user_id: str, environment: str = "STAGE") -> str:
    response = await start(client, user_id, environment=environment)
    assert response.status_code == 200, response.text
    url = response.json()["signInUrl"]
    assert url.startswith("http://sandbox.test/panorama-share/")
    return url.removeprefix("http://sandbox.test")


async def test_one_click_returns_sign_in_url(client):
    user = await unconnected_user(client)
    response = await start(client, user["id"])
    assert response.status_code == 200
    assert set(response.json()) == {"signInUrl"}
    pending = (await client.get("/_sandbox/one-clicks")).json()
    assert [item["leafUserId"] for item in pending] == [user["id"]]
    assert set(pending[0]) >= {"shareId", "leafUserId", "expiresAt"}


async def test_share_page_shows_approve_and_decline(client):
    user = await unconnected_user(client)
    path = await share_path(client, user["id"])
    page = await client.get(path)
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert re.search(r"<form method='post' action='[^']+/approve'>", page.text)
    assert re.search(r"<form method='post' action='[^']+/decline'>", page.text)
    assert ">Approve<" in page.text
    assert ">Decline<" in page.text
    assert user["name"].replace("&", "&amp;") in page.text


async def test_share_page_approve_attaches_ok_credential(client):
    user = await unconnected_user(client)
    path = await share_path(client, user["id"], environment="PRODUCTION")
    assert_problem(await client.get(f"{API}/users/{user['id']}/panorama-credentials"), 404)

    answer = await client.post(f"{path}/approve")
    assert answer.status_code == 200
    assert "approved" in answer.text

    credential = await client.get(f"{API}/users/{user['id']}/panorama-credentials")
    assert credential.status_code == 200
    body = credential.json()
    assert body["status"] == "OK"
    assert body["clientEnvironment"] == "PRODUCTION"
    assert body["clientId"] == DEMO.partners["PRODUCTION"].client_id
    events = (await client.get(f"{API}/users/{user['id']}/panorama-credentials/events")).json()
    assert [event["statusCode"] for event in events] == [200]
    assert (await client.get("/_sandbox/one-clicks")).json() == []

    again = await client.get(path)
    assert "approved" in again.text


async def test_share_page_decline_attaches_nothing(client):
    user = await unconnected_user(client)
    path = await share_path(client, user["id"])
    answer = await client.post(f"{path}/decline")
    assert answer.status_code == 200
    assert "declined" in answer.text
    assert "nothing was connected" in answer.text
    assert_problem(await client.get(f"{API}/users/{user['id']}/panorama-credentials"), 404)
    late_approval = await client.post(f"{path}/approve")
    assert "declined" in late_approval.text
    assert_problem(await client.get(f"{API}/users/{user['id']}/panorama-credentials"), 404)


async def test_share_expires_after_15_minutes(client):
    user = await unconnected_user(client)
    path = await share_path(client, user["id"])
    await client.post("/_sandbox/clock/advance", json={"seconds": 14 * 60})
    assert (await client.get(path)).status_code == 200
    await client.post("/_sandbox/clock/advance", json={"seconds": 61})

    page = await client.get(path)
    assert page.status_code == 410
    assert "expired" in page.text
    approval = await client.post(f"{path}/approve")
    assert approval.status_code == 410
    assert_problem(await client.get(f"{API}/users/{user['id']}/panorama-credentials"), 404)
    assert (await client.get("/_sandbox/one-clicks")).json() == []
    assert_problem(await client.post(f"/_sandbox/one-clicks/{user['id']}/approve"), 404)


async def test_unknown_share_page_is_404(client):
    page = await client.get(f"/panorama-share/{uuid.uuid4()}")
    assert page.status_code == 404
    assert "not found" in page.text


async def test_control_approves_newest_share(client):
    user = await unconnected_user(client)
    await start(client, user["id"])
    await start(client, user["id"], environment="PRODUCTION")
    answer = await client.post(f"/_sandbox/one-clicks/{user['id']}/approve")
    assert answer.status_code == 200
    assert answer.json()["outcome"] == "approved"
    assert answer.json()["credential"]["clientEnvironment"] == "PRODUCTION"
    credential = await client.get(f"{API}/users/{user['id']}/panorama-credentials")
    assert credential.json()["status"] == "OK"


async def test_control_declines(client):
    user = await unconnected_user(client)
    await start(client, user["id"])
    answer = await client.post(f"/_sandbox/one-clicks/{user['id']}/decline")
    assert answer.json()["outcome"] == "declined"
    assert_problem(await client.get(f"{API}/users/{user['id']}/panorama-credentials"), 404)
    assert_problem(await client.post(f"/_sandbox/one-clicks/{user['id']}/decline"), 404,
                   "shareNotFound")


async def test_approval_after_manual_connect(client):
    user = await unconnected_user(client)
    path = await share_path(client, user["id"])
    await client.post(f"{API}/users/{user['id']}/panorama-credentials", json=manual_body())
    page = await client.post(f"{path}/approve")
    assert page.status_code == 409
    assert "already connected" in page.text


async def test_approval_after_user_deleted(client):
    user = await unconnected_user(client)
    path = await share_path(client, user["id"])
    await client.delete(f"{API}/users/{user['id']}")
    page = await client.post(f"{path}/approve")
    assert page.status_code == 410


async def test_one_click_on_connected_user_is_409(client):
    user = await connected_user(client)
    assert_problem(await start(client, user["id"]), 409, "credentialExists")


@pytest.mark.parametrize("changes, field", [
    ({"clientId": None}, "clientId"),
    ({"username": ""}, "username"),
    ({"password": 42}, "password"),
    ({"clientEnvironment": "TEST"}, "clientEnvironment"),
    ({"sharingUrlId": "not-a-uuid"}, "sharingUrlId"),
    ({"sharingUrlId": None}, "sharingUrlId"),
])
async def test_one_click_field_errors(client, changes, field):
    user = await unconnected_user(client)
    body = {key: value for key, value in one_click_body(**changes).items() if value is not None}
    response = await client.post(f"{API}/users/{user['id']}/one-click-integration/Panorama",
                                 json=body)
    problem = assert_problem(response, 400)
    assert [error["field"] for error in problem["fieldErrors"]] == [field]


async def test_one_click_wrong_partner_password(client):
    user = await unconnected_user(client)
    assert_problem(await start(client, user["id"], password="wrong"), 400,
                   "invalidPartnerCredentials")


async def test_one_click_partner_of_other_environment(client):
    user = await unconnected_user(client)
    body = one_click_body("STAGE", clientEnvironment="PRODUCTION")
    response = await client.post(f"{API}/users/{user['id']}/one-click-integration/Panorama",
                                 json=body)
    assert_problem(response, 400, "invalidPartnerCredentials")


async def test_one_click_sharing_url_mismatch(client):
    user = await unconnected_user(client)
    assert_problem(await start(client, user["id"], sharingUrlId=str(uuid.uuid4())), 400,
                   "sharingUrlMismatch")


async def test_one_click_without_app_key(client):
    user = await unconnected_user(client)
    partner = DEMO.partners["STAGE"]
    deleted = await client.delete(f"{API}/app-keys/Panorama/{partner.app_name}/STAGE")
    assert deleted.status_code == 204
    assert_problem(await start(client, user["id"]), 400, "appKeyNotFound")


async def test_one_click_unknown_user_and_provider(client):
    assert_problem(await start(client, str(uuid.uuid4())), 404, "userNotFound")
    user = await unconnected_user(client)
    response = await client.post(f"{API}/users/{user['id']}/one-click-integration/JohnDeere",
                                 json=one_click_body())
    assert_problem(response, 404, "providerNotFound")


async def test_app_keys_list_one_per_environment(client):
    response = await client.get(f"{API}/app-keys/Panorama")
    assert response.status_code == 200
    keys = response.json()
    assert sorted(key["clientEnvironment"] for key in keys) == ["PRODUCTION", "STAGE"]
    for key in keys:
        assert set(key) == {"appName", "clientEnvironment", "clientId", "username",
                            "sharingUrlId", "createdTime"}
        partner = DEMO.partners[key["clientEnvironment"]]
        assert key["sharingUrlId"] == partner.sharing_url_id
        assert partner.password not in response.text


async def test_app_key_get_create_delete(client):
    path = f"{API}/app-keys/Panorama/orchard-app/STAGE"
    assert_problem(await client.get(path), 404, "appKeyNotFound")
    body = {"clientId": "orchard-client", "username": "orchard@partner.example",
            "password": "orchard-pw", "sharingUrlId": str(uuid.uuid4())}
    created = await client.post(path, json=body)
    assert created.status_code == 201
    assert created.json()["clientId"] == "orchard-client"
    assert "orchard-pw" not in created.text
    assert (await client.get(path)).json() == created.json()
    assert_problem(await client.post(path, json=body), 409, "appKeyExists")

    # The new app key's login now works for one-click.
    user = await unconnected_user(client)
    started = await client.post(
        f"{API}/users/{user['id']}/one-click-integration/Panorama",
        json={"clientId": "orchard-client", "username": "orchard@partner.example",
              "password": "orchard-pw", "clientEnvironment": "STAGE",
              "sharingUrlId": body["sharingUrlId"]})
    assert started.status_code == 200

    assert (await client.delete(path)).status_code == 204
    assert_problem(await client.get(path), 404)
    assert_problem(await client.delete(path), 404)


async def test_app_key_errors(client):
    assert_problem(await client.get(f"{API}/app-keys/Panorama/x/QA"), 400, "environmentInvalid")
    response = await client.post(f"{API}/app-keys/Panorama/x/STAGE",
                                 json={"clientId": "c", "username": "u", "password": "p",
                                       "sharingUrlId": "nope"})
    problem = assert_problem(response, 400)
    assert [error["field"] for error in problem["fieldErrors"]] == ["sharingUrlId"]
