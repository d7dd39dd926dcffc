"""Leaf user routes: list with paging, sorting and filters; get, create, replace, delete."""

from __future__ import annotations

import re
import uuid

import pytest
from sandbox_helpers import API, all_users, assert_problem, connected_user, unconnected_user

from leafdesk.sandbox import DEMO

pytestmark = pytest.mark.asyncio

NEW_USER = {"name": "Test Hollow Farms", "email": "office@test-hollow.example.com",
            "phone": "+1-515-555-0100", "address": "1 County Road 2, Millbrook, IA 50000",
            "externalId": "CRM-TEST-1"}


def links_of(response) -> dict[str, str]:
    return {rel: url for url, rel in re.findall(r'<([^>]+)>; rel="(\w+)"',
                                                 response.headers["link"])}


async def test_list_default_page(client):
    response = await client.get(f"{API}/users")
    assert response.status_code == 200
    body = response.json()
    assert isinstance(body, list)
    assert len(body) == 20
    assert response.headers["x-total-count"] == "30"
    links = links_of(response)
    assert set(links) == {"next", "last", "first"}
    assert "page=1" in links["next"]
    assert "page=1" in links["last"]
    assert "page=0" in links["first"]


async def test_list_user_shape(client):
    user = (await client.get(f"{API}/users")).json()[0]
    for field in ("id", "name", "email", "phone", "address", "externalId", "apiOwnerUsername"):
        assert field in user
    assert uuid.UUID(user["id"])
    assert user["apiOwnerUsername"] == DEMO.owner_username


async def test_list_last_page(client):
    response = await client.get(f"{API}/users", params={"page": 2, "size": 12})
    assert response.status_code == 200
    assert len(response.json()) == 6
    links = links_of(response)
    assert "next" not in links
    assert "page=1" in links["prev"]
    assert "page=2" in links["last"]


async def test_list_page_past_end(client):
    response = await client.get(f"{API}/users", params={"page": 50, "size": 20})
    assert response.status_code == 200
    assert response.json() == []
    assert response.headers["x-total-count"] == "30"


async def test_list_size_over_100_is_cut(client, sandbox_app):
    for number in range(75):
        created = await client.post(f"{API}/users", json={**NEW_USER, "name": f"Farm {number}"})
        assert created.status_code == 201
    response = await client.get(f"{API}/users", params={"size": 500})
    assert response.status_code == 200
    assert len(response.json()) == 100
    assert response.headers["x-total-count"] == "105"
    assert "size=100" in links_of(response)["next"]


@pytest.mark.parametrize("params", [
    {"page": "-1"}, {"page": "one"}, {"size": "0"}, {"size": "-5"}, {"size": "2.5"},
    {"sort": "shoeSize,asc"}, {"sort": "name,sideways"},
])
async def test_list_bad_paging_is_400(client, params):
    assert_problem(await client.get(f"{API}/users", params=params), 400)


@pytest.mark.parametrize("prop, key", [
    ("name", lambda user: user["name"].casefold()),
    ("id", lambda user: user["id"]),
    ("email", lambda user: user["email"].casefold()),
])
async def test_list_sorted_both_ways(client, prop, key):
    ascending = (await client.get(f"{API}/users",
                                  params={"size": 100, "sort": f"{prop},asc"})).json()
    descending = (await client.get(f"{API}/users",
                                   params={"size": 100, "sort": f"{prop},desc"})).json()
    assert [key(user) for user in ascending] == sorted(key(user) for user in ascending)
    assert [user["id"] for user in descending] == [user["id"] for user in reversed(ascending)]


async def test_list_sort_pages_join_up(client):
    seen = []
    for page in range(4):
        response = await client.get(f"{API}/users",
                                    params={"page": page, "size": 8, "sort": "name,desc"})
        seen.extend(user["id"] for user in response.json())
    whole = (await client.get(f"{API}/users", params={"size": 100, "sort": "name,desc"})).json()
    assert seen == [user["id"] for user in whole]


async def test_list_created_date_sort(client):
    first = await client.post(f"{API}/users", json={**NEW_USER, "name": "Newest A"})
    second = await client.post(f"{API}/users", json={**NEW_USER, "name": "Newest B"})
    newest = (await client.get(f"{API}/users",
                               params={"size": 2, "sort": "createdDate,desc"})).json()
    oldest = (await client.get(f"{API}/users",
                               params={"size": 100, "sort": "createdDate,asc"})).json()
    assert [user["id"] for user in newest] == [second.json()["id"], first.json()["id"]]
    assert oldest[-1]["id"] == second.json()["id"]


async def test_list_repeated_sort(client):
    for name in ("Twin Oaks", "Twin Oaks", "Twin Oaks"):
        await client.post(f"{API}/users", json={**NEW_USER, "name": name})
    response = await client.get(f"{API}/users", params=[
        ("name", "Twin Oaks"), ("sort", "name,asc"), ("sort", "id,desc")])
    ids = [user["id"] for user in response.json()]
    assert len(ids) == 3
    assert ids == sorted(ids, reverse=True)


async def test_filter_name_anywhere_any_case(client):
    users = await all_users(client)
    word = users[3]["name"].split()[1]
    response = await client.get(f"{API}/users", params={"name": word.upper(), "size": 100})
    names = [user["name"] for user in response.json()]
    assert names
    assert all(word.casefold() in name.casefold() for name in names)
    expected = sum(word.casefold() in user["name"].casefold() for user in users)
    assert response.headers["x-total-count"] == str(expected)


async def test_filter_email_exact_any_case(client):
    user = (await all_users(client))[5]
    response = await client.get(f"{API}/users", params={"email": user["email"].upper()})
    assert [found["id"] for found in response.json()] == [user["id"]]
    partial = await client.get(f"{API}/users", params={"email": user["email"][:-3]})
    assert partial.json() == []


async def test_filter_external_id_exact(client):
    user = next(u for u in await all_users(client) if u["externalId"])
    response = await client.get(f"{API}/users", params={"externalId": user["externalId"]})
    assert [found["id"] for found in response.json()] == [user["id"]]
    lowered = await client.get(f"{API}/users", params={"externalId": user["externalId"][:-1]})
    assert lowered.json() == []


async def test_filters_page_links_keep_filter(client):
    response = await client.get(f"{API}/users", params={"name": "a", "size": 2})
    assert "name=a" in links_of(response)["last"]


async def test_get_user(client):
    user = (await all_users(client))[0]
    response = await client.get(f"{API}/users/{user['id']}")
    assert response.status_code == 200
    assert response.json() == user


async def test_get_unknown_user_is_404(client):
    assert_problem(await client.get(f"{API}/users/{uuid.uuid4()}"), 404, "userNotFound")


async def test_get_non_uuid_is_400(client):
    assert_problem(await client.get(f"{API}/users/farm-42"), 400, "idInvalid")


async def test_create_user(client):
    response = await client.post(f"{API}/users", json=NEW_USER)
    assert response.status_code == 201
    body = response.json()
    assert response.headers["location"] == f"{API}/users/{body['id']}"
    for field, value in NEW_USER.items():
        assert body[field] == value
    assert "panoramaCredentials" not in body
    fetched = await client.get(response.headers["location"])
    assert fetched.json() == body


async def test_create_user_without_external_id(client):
    body = {key: value for key, value in NEW_USER.items() if key != "externalId"}
    response = await client.post(f"{API}/users", json=body)
    assert response.status_code == 201
    assert response.json()["externalId"] is None


@pytest.mark.parametrize("changes, field", [
    ({"name": None}, "name"), ({"name": ""}, "name"), ({"name": "   "}, "name"),
    ({"name": 12}, "name"), ({"email": "not-an-email"}, "email"), ({"email": None}, "email"),
    ({"phone": None}, "phone"), ({"address": ["a"]}, "address"), ({"externalId": 5}, "externalId"),
    ({"id": str(uuid.uuid4())}, "id"),
])
async def test_create_user_field_errors(client, changes, field):
    body = {**NEW_USER, **changes}
    body = {key: value for key, value in body.items() if value is not None}
    problem = assert_problem(await client.post(f"{API}/users", json=body), 400)
    assert problem["message"] == "error.validation"
    assert [error["field"] for error in problem["fieldErrors"]] == [field]
    assert problem["fieldErrors"][0]["objectName"] == "leafUser"


async def test_create_user_many_errors_at_once(client):
    problem = assert_problem(await client.post(f"{API}/users", json={}), 400)
    fields = {error["field"] for error in problem["fieldErrors"]}
    assert fields == {"name", "email", "phone", "address"}


async def test_replace_user_keeps_credential(client):
    user = await connected_user(client)
    body = {**user, "name": "Renamed Bluff Farms"}
    response = await client.put(f"{API}/users", json=body)
    assert response.status_code == 200
    assert response.json()["name"] == "Renamed Bluff Farms"
    assert response.json()["panoramaCredentials"]["id"] == user["panoramaCredentials"]["id"]
    found = await client.get(f"{API}/users", params={"name": "renamed bluff"})
    assert [u["id"] for u in found.json()] == [user["id"]]
    old_name = await client.get(f"{API}/users", params={"name": user["name"]})
    assert user["id"] not in [u["id"] for u in old_name.json()]


async def test_replace_user_detaches_left_out_credential(client):
    user = await connected_user(client)
    body = {key: value for key, value in user.items() if key != "panoramaCredentials"}
    response = await client.put(f"{API}/users", json=body)
    assert response.status_code == 200
    assert "panoramaCredentials" not in response.json()
    assert_problem(await client.get(f"{API}/users/{user['id']}/panorama-credentials"), 404)
    assert_problem(await client.get(f"{API}/users/{user['id']}/panorama-credentials/events"),
                   404)


async def test_replace_user_wrong_credential_is_400(client):
    user = await connected_user(client)
    body = {**user, "panoramaCredentials": {"id": str(uuid.uuid4())}}
    assert_problem(await client.put(f"{API}/users", json=body), 400, "credentialMismatch")


async def test_replace_user_errors(client):
    user = await unconnected_user(client)
    missing_id = {key: value for key, value in user.items() if key != "id"}
    problem = assert_problem(await client.put(f"{API}/users", json=missing_id), 400)
    assert [error["field"] for error in problem["fieldErrors"]] == ["id"]
    assert_problem(await client.put(f"{API}/users", json={**user, "id": "x"}), 400)
    assert_problem(await client.put(f"{API}/users", json={**user, "id": str(uuid.uuid4())}),
                   404, "userNotFound")
    assert_problem(await client.put(f"{API}/users", json={**user, "email": "nope"}), 400)


async def test_delete_user(client):
    user = await connected_user(client)
    response = await client.delete(f"{API}/users/{user['id']}")
    assert response.status_code == 204
    assert response.content == b""
    assert_problem(await client.get(f"{API}/users/{user['id']}"), 404)
    assert_problem(await client.get(f"{API}/users/{user['id']}/panorama-credentials"), 404)
    listed = await client.get(f"{API}/users", params={"size": 100})
    assert listed.headers["x-total-count"] == "29"
    assert user["id"] not in [u["id"] for u in listed.json()]
    assert_problem(await client.delete(f"{API}/users/{user['id']}"), 404)


async def test_delete_user_drops_its_events(client, sandbox_app):
    user = await connected_user(client)
    state = sandbox_app.state.sandbox
    events_before = sum(len(state.store.users[i].credential.events)
                        for i in state.store.connected)
    own = len(state.store.users[user["id"]].credential.events)
    await client.delete(f"{API}/users/{user['id']}")
    counts = (await client.get("/_sandbox/state")).json()
    assert counts["events"] == events_before - own


async def test_embed_id_only(client):
    changed = await client.post("/_sandbox/faults", json={"embed_credentials": "id"})
    assert changed.status_code == 200
    users = await all_users(client)
    embedded = [user["panoramaCredentials"] for user in users if "panoramaCredentials" in user]
    assert embedded
    assert all(set(item) == {"id"} for item in embedded)
    one = await client.get(f"{API}/users/{users[0]['id']}")
    assert set(one.json().get("panoramaCredentials", {"id": 1})) == {"id"}


async def test_embed_full_has_no_secrets(client):
    users = await all_users(client)
    embedded = [user["panoramaCredentials"] for user in users if "panoramaCredentials" in user]
    assert all(set(item) == {"id", "status", "createdTime"} for item in embedded)


async def test_unknown_method_is_405(client):
    response = await client.delete(f"{API}/users")
    assert_problem(response, 405)
    assert "GET" in response.headers["allow"]
