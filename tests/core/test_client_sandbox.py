"""Tests of every LeafClient call against the Leaf sandbox, in-process and over loopback.

Each test runs twice: through httpx's ASGI transport (no socket) and against a sandbox served
by uvicorn on 127.0.0.1. The sandbox's test controls set up the cases the calls need.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
import pytest_asyncio

from leafdesk.core.client import LeafClient
from leafdesk.core.errors import (
    ConflictError,
    LeafError,
    NotFoundError,
    SignedOutError,
    ValidationError,
)
from leafdesk.core.http import RetryPolicy
from leafdesk.core.model import (
    Environment,
    LeafUser,
    ManualCredentialInput,
    OneClickInput,
    Secret,
)
from leafdesk.sandbox import DEMO, SandboxConfig, create_app, start_background_server

pytestmark = pytest.mark.asyncio

USERS = 250
FAST_RETRY = RetryPolicy(max_attempts=3, base_delay=0.01, max_delay=0.05, max_total=5.0)


def sandbox_config() -> SandboxConfig:
    # The health process is off so statuses change only when a test changes them.
    return SandboxConfig(users=USERS, seed=7, controls=True, health=False)


@dataclass
class Rig:
    """A LeafClient and a plain HTTP client for the test controls of the same sandbox."""

    client: LeafClient
    controls: httpx.AsyncClient
    transport: httpx.ASGITransport | None

    def new_client(self, password: str = DEMO.owner_password, **options: Any) -> LeafClient:
        """Return another client of the same sandbox, by the same route as `client`."""
        return LeafClient(self.client.base_url, DEMO.owner_username, password,
                          transport=self.transport, retry=FAST_RETRY, **options)

    async def control(self, method: str, path: str, body: Any = None) -> Any:
        response = await self.controls.request(method, f"/_sandbox/{path}", json=body)
        assert response.status_code == 200, response.text
        return response.json()

    async def connected_user(self, users: list[LeafUser] | None = None) -> LeafUser:
        users = users or await self.client.list_users()
        return next(user for user in users if user.panorama is not None)

    async def unconnected_user(self, users: list[LeafUser] | None = None) -> LeafUser:
        users = users or await self.client.list_users()
        return next(user for user in users if user.panorama is None)


@pytest.fixture(scope="module")
def loopback_server():
    server = start_background_server(sandbox_config(), host="127.0.0.1", port=0)
    yield server
    server.stop()


@pytest_asyncio.fixture(params=["asgi", "loopback"])
async def rig(request):
    if request.param == "asgi":
        app = create_app(sandbox_config())
        base_url = "http://sandbox.test"
        transport = httpx.ASGITransport(app=app)
        controls = httpx.AsyncClient(base_url=base_url, transport=transport)
    else:
        server = request.getfixturevalue("loopback_server")
        base_url = server.base_url
        transport = None
        controls = httpx.AsyncClient(base_url=base_url)
    client = LeafClient(base_url, DEMO.owner_username, DEMO.owner_password,
                        transport=transport, retry=FAST_RETRY)

    setup = Rig(client=client, controls=controls, transport=transport)
    await setup.control("POST", "reset")
    yield setup
    await client.aclose()
    await controls.aclose()


def manual_input(**changes: Any) -> ManualCredentialInput:
    partner = DEMO.partners["STAGE"]
    values: dict[str, Any] = {
        "client_id": partner.client_id,
        "username": partner.username,
        "password": Secret(partner.password),
        "organization_code": "ORG-TEST-1",
        "refresh_token": Secret("refresh-token-from-test"),
        "client_environment": Environment.STAGE,
    }
    values.update(changes)
    return ManualCredentialInput(**values)


def one_click_input(**changes: Any) -> OneClickInput:
    partner = DEMO.partners["STAGE"]
    values: dict[str, Any] = {
        "client_id": partner.client_id,
        "username": partner.username,
        "password": Secret(partner.password),
        "client_environment": Environment.STAGE,
        "sharing_url_id": partner.sharing_url_id,
    }
    values.update(changes)
    return OneClickInput(**values)


# --- signing in ---------------------------------------------------------------------------------

async def test_sign_in_reads_expiry(rig):
    await rig.client.sign_in()
    assert rig.client.signed_in
    expires = rig.client.token_expires_at
    assert expires is not None
    lifetime = expires - datetime.now(UTC)
    assert timedelta(hours=23) < lifetime <= timedelta(hours=24, minutes=1)


async def test_remember_me_lasts_30_days(rig):
    client = rig.new_client(remember_me=True)
    await client.sign_in()
    lifetime = client.token_expires_at - datetime.now(UTC)
    assert timedelta(days=29) < lifetime <= timedelta(days=30, minutes=1)
    await client.aclose()


async def test_wrong_password_is_signed_out(rig):
    client = rig.new_client(password="not-the-password")
    with pytest.raises(SignedOutError) as caught:
        await client.list_users()
    await client.aclose()
    assert caught.value.message == "the username or password was not accepted"
    assert caught.value.status_code == 401
    assert "not-the-password" not in str(caught.value.details)


async def test_signs_in_on_first_call(rig):
    assert not rig.client.signed_in
    await rig.client.list_app_keys()
    assert rig.client.sign_in_count == 1


async def test_token_expiry_mid_run(rig):
    users = await rig.client.list_users()
    assert rig.client.sign_in_count == 1

    # Past the token's 24 hours on the sandbox clock; the client's own clock has not moved,
    # so only Leaf's 401 can tell it.
    await rig.control("POST", "clock/advance", {"seconds": 25 * 3600})
    fetched = [await rig.client.get_user(user.id) for user in users[:5]]
    assert [user.id for user in fetched] == [user.id for user in users[:5]]
    assert rig.client.sign_in_count == 2


async def test_signs_in_again_before_expiry(rig):
    # With a margin longer than the token's 24 hours, every token is already due for renewal.
    client = rig.new_client(refresh_margin=timedelta(hours=24, minutes=5))
    users = await client.list_users()
    assert client.sign_in_count == 3
    await client.get_user(users[0].id)
    await client.get_user(users[1].id)
    assert client.sign_in_count == 5
    # A sign-in before each of five requests, and no 401 was needed to notice the expiry.
    assert client.requests_sent == 5 + 5
    await client.aclose()


async def test_concurrent_401s_sign_in_once(rig):
    users = await rig.client.list_users()
    await rig.control("POST", "clock/advance", {"seconds": 25 * 3600})
    results = await asyncio.gather(*(rig.client.get_user(user.id) for user in users[:10]))
    assert len(results) == 10
    assert rig.client.sign_in_count == 2


async def test_client_repr_and_logs_hold_no_secret(rig, caplog):
    caplog.set_level(logging.DEBUG)
    users = await rig.client.list_users()
    await rig.client.get_panorama_credential((await rig.connected_user(users)).id)
    token = str(rig.client._token)

    assert DEMO.owner_password not in repr(rig.client)
    assert token not in repr(rig.client)
    assert DEMO.owner_password not in caplog.text
    assert token not in caplog.text
    assert "Authorization" not in caplog.text


# --- users --------------------------------------------------------------------------------------

async def test_list_users_reads_every_page(rig):
    users = await rig.client.list_users()
    assert len(users) == USERS
    assert len({user.id for user in users}) == USERS
    # One sign-in and three pages of at most 100.
    assert rig.client.requests_sent == 1 + 3


async def test_user_pages_carry_total(rig):
    sizes = []
    async for page in rig.client.iter_user_pages():
        sizes.append(len(page))
        assert page.total == USERS
    assert sizes == [100, 100, 50]


async def test_user_fields_parsed(rig):
    users = await rig.client.list_users()
    for user in users:
        assert user.id
        assert user.name
        assert user.email
        assert user.api_owner_username == DEMO.owner_username
    connected = [user for user in users if user.panorama is not None]
    assert 0 < len(connected) < USERS
    for user in connected:
        assert user.panorama.id
        assert user.panorama.status
        assert user.panorama.created_time.tzinfo is not None


async def test_filter_by_email_case_insensitive(rig):
    target = (await rig.client.list_users())[17]
    found = await rig.client.list_users(email=target.email.upper())
    assert [user.id for user in found] == [target.id]


async def test_filter_by_external_id(rig):
    users = await rig.client.list_users()
    target = next(user for user in users if user.external_id)
    found = await rig.client.list_users(external_id=target.external_id)
    assert [user.id for user in found] == [target.id]


async def test_filter_by_name_part(rig):
    target = (await rig.client.list_users())[3]
    part = target.name.split()[0].lower()
    found = await rig.client.list_users(name=part)
    assert target.id in {user.id for user in found}
    assert all(part in user.name.lower() for user in found)


async def test_filter_without_match_is_empty(rig):
    assert await rig.client.list_users(email="nobody@nowhere.example") == []


async def test_get_user_matches_list(rig):
    target = (await rig.client.list_users())[42]
    assert await rig.client.get_user(target.id) == target


async def test_get_malformed_id_is_invalid(rig):
    with pytest.raises(ValidationError) as caught:
        await rig.client.get_user("not-a-uuid")
    assert caught.value.error_key == "idInvalid"
    assert "UUID" in caught.value.message


async def test_get_unknown_user_is_not_found(rig):
    missing = str(uuid.uuid4())
    with pytest.raises(NotFoundError) as caught:
        await rig.client.get_user(missing)
    error = caught.value
    assert error.leaf_user == missing
    assert error.action == "load the Leaf user"
    assert error.sentence() == (
        f"Could not load the Leaf user for {missing}: Leaf has no user with this id."
    )
    # A caller that knows the user's name puts it in place of the id.
    assert error.about(leaf_user="Ridge Farm").sentence() == (
        "Could not load the Leaf user for Ridge Farm: Leaf has no user with this id."
    )


async def test_create_user(rig):
    created = await rig.client.create_user(
        name="Test Ridge Farm", email="ridge@farm.example", phone="+1 555 0100",
        address="1 Test Road", external_id="ext-test-1",
    )
    assert created.name == "Test Ridge Farm"
    assert created.external_id == "ext-test-1"
    assert created.panorama is None
    assert await rig.client.get_user(created.id) == created
    assert len(await rig.client.list_users()) == USERS + 1


async def test_create_user_rejected_fields(rig):
    with pytest.raises(ValidationError) as caught:
        await rig.client.create_user(name="", email="not-an-email")
    error = caught.value
    assert error.status_code == 400
    assert error.field_errors
    assert "{" not in error.message


# --- Panorama credentials -----------------------------------------------------------------------

async def test_get_credential_matches_embedded(rig):
    user = await rig.connected_user()
    credential = await rig.client.get_panorama_credential(user.id)
    assert credential is not None
    assert credential.id == user.panorama.id
    assert credential.status == user.panorama.status
    assert credential.leaf_user_id == user.id
    assert credential.client_environment in ("STAGE", "PRODUCTION")
    assert credential.created_time.tzinfo is not None


async def test_get_missing_credential_is_none(rig):
    user = await rig.unconnected_user()
    assert await rig.client.get_panorama_credential(user.id) is None


async def test_credential_of_unknown_user_not_found(rig):
    with pytest.raises(NotFoundError):
        await rig.client.get_panorama_credential(str(uuid.uuid4()))


async def test_create_then_conflict(rig):
    user = await rig.unconnected_user()
    created = await rig.client.create_panorama_credential(user.id, manual_input())
    assert created.leaf_user_id == user.id
    assert created.organization_code == "ORG-TEST-1"
    assert created.status

    with pytest.raises(ConflictError) as caught:
        await rig.client.create_panorama_credential(user.id, manual_input())
    error = caught.value
    assert error.error_key == "credentialExists"
    assert error.leaf_user == user.id
    assert error.sentence().startswith(f"Could not create the Panorama credential for {user.id}")
    assert "already has a Panorama credential" in error.message


async def test_create_rejected_per_field(rig):
    user = await rig.unconnected_user()
    with pytest.raises(ValidationError) as caught:
        await rig.client.create_panorama_credential(user.id, manual_input(organization_code=""))
    error = caught.value
    assert error.for_field("organizationCode")
    assert error.for_field("clientId") is None
    assert "organizationCode" in error.message
    assert await rig.client.get_panorama_credential(user.id) is None


async def test_delete_credential(rig):
    user = await rig.connected_user()
    await rig.client.delete_panorama_credential(user.id)
    assert await rig.client.get_panorama_credential(user.id) is None
    assert await rig.client.list_panorama_events(user.id) == []

    with pytest.raises(NotFoundError) as caught:
        await rig.client.delete_panorama_credential(user.id)
    assert caught.value.leaf_user == user.id
    assert "no Panorama credential" in caught.value.message


async def test_unknown_status_kept_raw(rig):
    user = await rig.connected_user()
    await rig.control("POST", f"users/{user.id}/panorama-status", {"status": "PAUSED_BY_LEAF"})
    credential = await rig.client.get_panorama_credential(user.id)
    assert credential.status == "PAUSED_BY_LEAF"
    assert (await rig.client.get_user(user.id)).panorama.status == "PAUSED_BY_LEAF"


async def test_embedded_id_only(rig):
    await rig.control("POST", "faults", {"embed_credentials": "id"})
    users = await rig.client.list_users()
    connected = [user for user in users if user.panorama is not None]
    assert connected
    assert all(user.panorama.status is None for user in connected)
    assert all(user.panorama.id for user in connected)


# --- events -------------------------------------------------------------------------------------

async def test_events_newest_first_and_decoded(rig):
    users = await rig.client.list_users()
    user = None
    for candidate in users:
        if candidate.panorama is not None:
            events = await rig.client.list_panorama_events(candidate.id)
            if len(events) >= 2:
                user = candidate
                break
    assert user is not None, "the demo data has no user with two events"

    dates = [event.created_date for event in events]
    assert all(date is not None and date.tzinfo is not None for date in dates)
    assert dates == sorted(dates, reverse=True)
    assert len({event.id for event in events}) == len(events)
    for event in events:
        assert event.leaf_user_id == user.id
        assert isinstance(event.status_code, int)
        assert event.raw_body is None or isinstance(event.raw_body, str)
        if event.raw_body and event.raw_body.lstrip().startswith("{"):
            assert isinstance(event.body, dict)


async def test_events_read_every_page(rig):
    user = await rig.connected_user()
    # Status changes write events, so this user gets more than one page of them.
    before = len(await rig.client.list_panorama_events(user.id))
    statuses = ["UNAUTHENTICATED" if number % 2 else "OK" for number in range(101 - before)]
    await asyncio.gather(*(
        rig.control("POST", f"users/{user.id}/panorama-status", {"status": status})
        for status in statuses
    ))
    events = await rig.client.list_panorama_events(user.id)
    assert len(events) > 100
    assert len({event.id for event in events}) == len(events)
    dates = [event.created_date for event in events]
    assert dates == sorted(dates, reverse=True)


async def test_events_without_credential_empty(rig):
    user = await rig.unconnected_user()
    assert await rig.client.list_panorama_events(user.id) == []


async def test_events_of_unknown_user_not_found(rig):
    with pytest.raises(NotFoundError):
        await rig.client.list_panorama_events(str(uuid.uuid4()))


# --- one-click ----------------------------------------------------------------------------------

async def test_one_click_then_approve(rig):
    user = await rig.unconnected_user()
    start = await rig.client.start_one_click(user.id, one_click_input())
    assert start.leaf_user_id == user.id
    assert "/panorama-share/" in start.sign_in_url
    assert start.sign_in_url.startswith(("http://", "https://"))

    pending = await rig.control("GET", "one-clicks")
    assert user.id in {share["leafUserId"] for share in pending}
    assert await rig.client.get_panorama_credential(user.id) is None

    await rig.control("POST", f"one-clicks/{user.id}/approve")
    credential = await rig.client.get_panorama_credential(user.id)
    assert credential is not None
    assert credential.status == "OK"


async def test_one_click_wrong_partner_password(rig):
    user = await rig.unconnected_user()
    with pytest.raises(ValidationError) as caught:
        await rig.client.start_one_click(user.id, one_click_input(password=Secret("wrong")))
    error = caught.value
    assert error.error_key == "invalidPartnerCredentials"
    assert error.message == "Panorama did not accept the partner's username or password"
    assert error.leaf_user == user.id


async def test_one_click_sharing_url_mismatch(rig):
    user = await rig.unconnected_user()
    with pytest.raises(ValidationError) as caught:
        await rig.client.start_one_click(
            user.id, one_click_input(sharing_url_id=str(uuid.uuid4())))
    assert caught.value.error_key == "sharingUrlMismatch"


async def test_one_click_no_app_key(rig):
    user = await rig.unconnected_user()
    with pytest.raises(ValidationError) as caught:
        await rig.client.start_one_click(user.id, one_click_input(client_id="unknown-client"))
    assert caught.value.error_key in ("invalidPartnerCredentials", "appKeyNotFound")


async def test_one_click_on_connected_user_conflicts(rig):
    user = await rig.connected_user()
    with pytest.raises(ConflictError) as caught:
        await rig.client.start_one_click(user.id, one_click_input())
    assert caught.value.error_key == "credentialExists"


# --- Panorama app keys --------------------------------------------------------------------------

async def test_list_app_keys_has_demo_keys(rig):
    keys = await rig.client.list_app_keys()
    by_environment = {key.client_environment: key for key in keys}
    for environment in ("STAGE", "PRODUCTION"):
        partner = DEMO.partners[environment]
        key = by_environment[environment]
        assert key.app_name == partner.app_name
        assert key.client_id == partner.client_id
        assert key.sharing_url_id == partner.sharing_url_id


async def test_get_app_key(rig):
    partner = DEMO.partners["PRODUCTION"]
    key = await rig.client.get_app_key(partner.app_name, "PRODUCTION")
    assert key is not None
    assert key.username == partner.username
    assert await rig.client.get_app_key("no-such-app", "PRODUCTION") is None


async def test_save_and_delete_app_key(rig):
    sharing = str(uuid.uuid4())
    saved = await rig.client.save_app_key(
        "test-app", "STAGE", client_id="test-client", username="partner@test.example",
        password=Secret("test-partner-password"), sharing_url_id=sharing,
    )
    assert saved.app_name == "test-app"
    assert saved.client_environment == "STAGE"
    assert saved.sharing_url_id == sharing
    assert await rig.client.get_app_key("test-app", "STAGE") == saved

    with pytest.raises(ConflictError):
        await rig.client.save_app_key(
            "test-app", "STAGE", client_id="test-client", username="partner@test.example",
            password="test-partner-password", sharing_url_id=sharing,
        )

    await rig.client.delete_app_key("test-app", "STAGE")
    assert await rig.client.get_app_key("test-app", "STAGE") is None
    with pytest.raises(NotFoundError):
        await rig.client.delete_app_key("test-app", "STAGE")


async def test_every_error_is_leaf_error(rig):
    calls = [
        rig.client.get_user(str(uuid.uuid4())),
        rig.client.delete_panorama_credential(str(uuid.uuid4())),
        rig.client.delete_app_key("nothing", "STAGE"),
    ]
    for call in calls:
        with pytest.raises(LeafError) as caught:
            await call
        assert caught.value.sentence().startswith("Could not ")
