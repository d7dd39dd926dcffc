"""Panorama credential routes and the event log."""

from __future__ import annotations

import json
import re
import uuid

import pytest
from sandbox_helpers import (
    API,
    advance_clock,
    all_users,
    assert_problem,
    connected_user,
    manual_body,
    unconnected_user,
)

from leafdesk.sandbox import DEMO

pytestmark = pytest.mark.asyncio

CREDENTIAL_FIELDS = {"id", "status", "createdTime", "clientId", "username", "organizationCode",
                     "clientEnvironment", "accessToken", "refreshToken"}
MILLIS_Z = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
MICROS_Z = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$")
ZONELESS = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}$")


def date_form(text: str) -> str:
    for name, pattern in (("millis", MILLIS_Z), ("micros", MICROS_Z), ("zoneless", ZONELESS)):
        if pattern.match(text):
            return name
    raise AssertionError(f"{text!r} is none of Leaf's date forms")


async def test_get_credential(client):
    user = await connected_user(client)
    response = await client.get(f"{API}/users/{user['id']}/panorama-credentials")
    assert response.status_code == 200
    body = response.json()
    assert set(body) == CREDENTIAL_FIELDS
    assert body["id"] == user["panoramaCredentials"]["id"]
    assert body["status"] == "OK"
    assert body["clientEnvironment"] in ("STAGE", "PRODUCTION")
    assert "password" not in body
    date_form(body["createdTime"])


async def test_get_credential_none_is_404(client):
    user = await unconnected_user(client)
    assert_problem(await client.get(f"{API}/users/{user['id']}/panorama-credentials"), 404,
                   "credentialNotFound")


async def test_credential_routes_unknown_user(client):
    missing = uuid.uuid4()
    for method in ("GET", "DELETE"):
        response = await client.request(method, f"{API}/users/{missing}/panorama-credentials")
        assert_problem(response, 404, "userNotFound")
    assert_problem(await client.post(f"{API}/users/{missing}/panorama-credentials",
                                     json=manual_body()), 404, "userNotFound")
    assert_problem(await client.get(f"{API}/users/not-a-uuid/panorama-credentials"), 400)


async def test_create_credential(client):
    user = await unconnected_user(client)
    response = await client.post(f"{API}/users/{user['id']}/panorama-credentials",
                                 json=manual_body())
    assert response.status_code == 201
    body = response.json()
    assert set(body) == CREDENTIAL_FIELDS
    assert body["status"] == "OK"
    assert body["clientId"] == DEMO.partners["PRODUCTION"].client_id
    assert body["organizationCode"] == "PP-ABC123"
    assert body["clientEnvironment"] == "PRODUCTION"
    assert body["refreshToken"] == "manual-refresh-token-value"
    assert DEMO.partners["PRODUCTION"].password not in response.text

    fetched = await client.get(f"{API}/users/{user['id']}/panorama-credentials")
    assert fetched.json() == body
    listed = await client.get(f"{API}/users/{user['id']}")
    assert listed.json()["panoramaCredentials"]["id"] == body["id"]
    # The first event is the background check's token exchange, a few sandbox seconds later.
    await advance_clock(client, 10)
    events = await client.get(f"{API}/users/{user['id']}/panorama-credentials/events")
    assert [event["statusCode"] for event in events.json()] == [200]


async def test_second_credential_is_409(client):
    user = await connected_user(client)
    response = await client.post(f"{API}/users/{user['id']}/panorama-credentials",
                                 json=manual_body())
    assert_problem(response, 409, "credentialExists")


@pytest.mark.parametrize("field", ["clientId", "username", "password", "organizationCode",
                                   "refreshToken", "clientEnvironment"])
async def test_create_credential_missing_field(client, field):
    user = await unconnected_user(client)
    body = manual_body()
    del body[field]
    problem = assert_problem(await client.post(
        f"{API}/users/{user['id']}/panorama-credentials", json=body), 400)
    assert [error["field"] for error in problem["fieldErrors"]] == [field]
    assert problem["fieldErrors"][0]["objectName"] == "panoramaCredentials"


@pytest.mark.parametrize("changes, field", [
    ({"clientEnvironment": "DEV"}, "clientEnvironment"),
    ({"clientEnvironment": "production"}, "clientEnvironment"),
    ({"organizationCode": "  "}, "organizationCode"),
    ({"refreshToken": 1234}, "refreshToken"),
    ({"clientId": {"a": 1}}, "clientId"),
])
async def test_create_credential_bad_field(client, changes, field):
    user = await unconnected_user(client)
    problem = assert_problem(await client.post(
        f"{API}/users/{user['id']}/panorama-credentials", json=manual_body(**changes)), 400)
    assert [error["field"] for error in problem["fieldErrors"]] == [field]


async def test_delete_credential(client):
    user = await connected_user(client)
    path = f"{API}/users/{user['id']}/panorama-credentials"
    response = await client.delete(path)
    assert response.status_code == 204
    assert_problem(await client.get(path), 404)
    assert_problem(await client.get(f"{path}/events"), 404)
    assert "panoramaCredentials" not in (await client.get(f"{API}/users/{user['id']}")).json()
    assert_problem(await client.delete(path), 404, "credentialNotFound")

    recreated = await client.post(path, json=manual_body())
    assert recreated.status_code == 201
    await advance_clock(client, 10)
    events = await client.get(f"{path}/events")
    assert len(events.json()) == 1


async def test_events_shape(client):
    user = await connected_user(client)
    response = await client.get(f"{API}/users/{user['id']}/panorama-credentials/events")
    assert response.status_code == 200
    events = response.json()
    assert events
    for event in events:
        assert set(event) == {"id", "statusCode", "headers", "body", "createdDate"}
        assert isinstance(event["statusCode"], int)
        assert isinstance(event["headers"], str)
        assert isinstance(event["body"], str)
        assert isinstance(json.loads(event["headers"]), dict)
        json.loads(event["body"])
        date_form(event["createdDate"])


async def test_events_newest_first_by_default(client, sandbox_app):
    user = await connected_user(client)
    response = await client.get(f"{API}/users/{user['id']}/panorama-credentials/events",
                                params={"size": 100})
    stored = sandbox_app.state.sandbox.store.users[user["id"]].credential.events
    assert [event["id"] for event in response.json()] == [e.id for e in reversed(stored)]
    assert response.headers["x-total-count"] == str(len(stored))


async def test_events_paging_both_ways(client, sandbox_app):
    user = await connected_user(client)
    path = f"{API}/users/{user['id']}/panorama-credentials/events"
    stored = [e.id for e in sandbox_app.state.sandbox.store.users[user["id"]].credential.events]
    assert len(stored) >= 3
    descending, ascending = [], []
    for page in range(len(stored)):
        descending += [e["id"] for e in (await client.get(path, params={
            "page": page, "size": 2, "sort": "createdDate,desc"})).json()]
        ascending += [e["id"] for e in (await client.get(path, params={
            "page": page, "size": 2, "sort": "createdDate,asc"})).json()]
    assert descending == list(reversed(stored))
    assert ascending == stored
    past_end = await client.get(path, params={"page": 99, "size": 2})
    assert past_end.json() == []
    assert past_end.headers["x-total-count"] == str(len(stored))
    assert_problem(await client.get(path, params={"sort": "statusCode,asc"}), 400)


async def test_demo_events_read_like_cognito(client, sandbox_app):
    bodies = []
    store = sandbox_app.state.sandbox.store
    for user_id in store.connected:
        response = await client.get(f"{API}/users/{user_id}/panorama-credentials/events",
                                    params={"size": 100})
        bodies += [(event["statusCode"], event["body"]) for event in response.json()]
    text = " ".join(body for _, body in bodies)
    assert "AuthenticationResult" in text
    codes = {code for code, _ in bodies}
    assert 200 in codes
    assert codes & {400, 403, 500, 503}


async def test_all_date_forms_appear(client):
    forms = set()
    for user in await all_users(client):
        if "panoramaCredentials" not in user:
            continue
        forms.add(date_form(user["panoramaCredentials"]["createdTime"]))
        response = await client.get(f"{API}/users/{user['id']}/panorama-credentials/events",
                                    params={"size": 100})
        forms.update(date_form(event["createdDate"]) for event in response.json())
    assert forms == {"millis", "micros", "zoneless"}
