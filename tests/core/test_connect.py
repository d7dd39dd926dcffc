"""Tests of ConnectService against the sandbox in-process: one-click, manual, delete, replace."""

from __future__ import annotations

import asyncio
import dataclasses
from datetime import UTC, datetime, timedelta

import httpx
import pytest
import pytest_asyncio

from leafdesk.core.cache import Cache
from leafdesk.core.client import LeafClient
from leafdesk.core.connect import ConnectService, OutcomeKind
from leafdesk.core.errors import ConflictError, ValidationError
from leafdesk.core.http import RetryPolicy
from leafdesk.core.model import ConnectionState, LeafUser
from leafdesk.core.validation import validate_manual, validate_one_click
from leafdesk.sandbox import DEMO, SandboxConfig, create_app

FAST_RETRY = RetryPolicy(max_attempts=3, base_delay=0.01, max_delay=0.05, max_total=2.0)
PARTNER = DEMO.partners["STAGE"]


class MovableClock:
    """A UTC clock that tests move forward together with the sandbox's clock."""

    def __init__(self) -> None:
        self.now = datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@pytest.fixture
def app():
    return create_app(SandboxConfig(users=20, seed=7, controls=True, health=False))


@pytest_asyncio.fixture
async def client(app):
    leaf = LeafClient("http://sandbox.test", DEMO.owner_username, DEMO.owner_password,
                      transport=httpx.ASGITransport(app=app), retry=FAST_RETRY)
    yield leaf
    await leaf.aclose()


@pytest_asyncio.fixture
async def controls(app):
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                 base_url="http://sandbox.test") as http:
        yield http


@pytest.fixture
def cache(tmp_path):
    opened = Cache(tmp_path / "cache.sqlite3")
    yield opened
    opened.close()


@pytest.fixture
def clock():
    return MovableClock()


@pytest.fixture
def service(client, cache, clock):
    return ConnectService(client, cache, "ana@agronomy.example", clock=clock)


def _one_click_input(**overrides):
    values = dict(client_id=PARTNER.client_id, username=PARTNER.username,
                  password=PARTNER.password, client_environment="STAGE",
                  sharing_url_id=PARTNER.sharing_url_id)
    values.update(overrides)
    return validate_one_click(**values)


def _manual_input(**overrides):
    values = dict(client_id=PARTNER.client_id, username=PARTNER.username,
                  password=PARTNER.password, organization_code="ORG-TEST-1",
                  refresh_token="manual-refresh-token-value", client_environment="STAGE")
    values.update(overrides)
    return validate_manual(**values)


async def _user(client, *, connected: bool) -> LeafUser:
    users = await client.list_users()
    return next(user for user in users if (user.panorama is not None) == connected)


@pytest.mark.asyncio
async def test_one_click_approved(service, client, controls, cache):
    user = await _user(client, connected=False)
    pending = await service.start_one_click(user, _one_click_input())

    assert pending.sign_in_url.startswith("http://sandbox.test/panorama-share/")
    assert pending.started_by == "ana@agronomy.example"
    assert pending.expires_at - pending.started_at == timedelta(minutes=15)
    assert [p.leaf_user_id for p in cache.pending_one_clicks()] == [user.id]
    assert cache.load_row(user.id).state.state is ConnectionState.WAITING_FOR_GROWER

    waiter = asyncio.create_task(service.wait_for_grower(user.id, poll_interval=0.01, user=user))
    await asyncio.sleep(0.05)
    assert not waiter.done()
    answer = await controls.post(f"/_sandbox/one-clicks/{user.id}/approve")
    assert answer.json()["outcome"] == "approved"
    outcome = await asyncio.wait_for(waiter, timeout=10)

    assert outcome.kind is OutcomeKind.ATTACHED
    assert outcome.credential is not None
    assert outcome.credential.status == "OK"
    assert cache.pending_one_clicks() == []
    row = cache.load_row(user.id)
    assert row.state.state is ConnectionState.CONNECTED
    assert row.user.panorama.id == outcome.credential.id


@pytest.mark.asyncio
async def test_one_click_declined_ends_as_expired(service, client, controls, clock, cache):
    user = await _user(client, connected=False)
    await service.start_one_click(user, _one_click_input())
    answer = await controls.post(f"/_sandbox/one-clicks/{user.id}/decline")
    assert answer.json()["outcome"] == "declined"

    waiter = asyncio.create_task(service.wait_for_grower(user.id, poll_interval=0.01))
    await asyncio.sleep(0.05)
    assert not waiter.done()
    clock.advance(15 * 60)
    outcome = await asyncio.wait_for(waiter, timeout=10)

    assert outcome.kind is OutcomeKind.EXPIRED
    assert "declined" in outcome.message
    row = cache.load_row(user.id)
    assert row.state.state is ConnectionState.NOT_CONNECTED
    assert "expired" in row.state.summary


@pytest.mark.asyncio
async def test_one_click_expired_on_both_clocks(service, client, controls, clock):
    user = await _user(client, connected=False)
    await service.start_one_click(user, _one_click_input())
    await controls.post("/_sandbox/clock/advance", json={"seconds": 16 * 60})
    clock.advance(16 * 60)

    late = await controls.post(f"/_sandbox/one-clicks/{user.id}/approve")
    assert late.status_code == 404
    outcome = await service.wait_for_grower(user.id, poll_interval=0.01)
    assert outcome.kind is OutcomeKind.EXPIRED
    assert outcome.credential is None


@pytest.mark.asyncio
async def test_one_click_wait_cancelled(service, client, cache):
    user = await _user(client, connected=False)
    await service.start_one_click(user, _one_click_input())
    cancel = asyncio.Event()

    waiter = asyncio.create_task(service.wait_for_grower(user.id, poll_interval=5, cancel=cancel))
    await asyncio.sleep(0.05)
    cancel.set()
    outcome = await asyncio.wait_for(waiter, timeout=2)

    assert outcome.kind is OutcomeKind.CANCELLED
    # The grower's page still works, so the record stays until it expires.
    assert [p.leaf_user_id for p in cache.pending_one_clicks()] == [user.id]


@pytest.mark.asyncio
async def test_wait_polls_through_server_faults(service, client, controls):
    user = await _user(client, connected=False)
    await service.start_one_click(user, _one_click_input())
    await controls.post("/_sandbox/faults", json={"fault_rate": 0.7, "faults": ["503", "500"]})

    waiter = asyncio.create_task(service.wait_for_grower(user.id, poll_interval=0.01,
                                                         max_interval=0.05))
    await asyncio.sleep(0.2)
    await controls.post(f"/_sandbox/one-clicks/{user.id}/approve")
    outcome = await asyncio.wait_for(waiter, timeout=20)
    assert outcome.kind is OutcomeKind.ATTACHED


@pytest.mark.asyncio
async def test_one_click_wrong_partner_password(service, client, cache):
    user = await _user(client, connected=False)
    with pytest.raises(ValidationError) as raised:
        await service.start_one_click(user, _one_click_input(password="not the password"))

    assert raised.value.error_key == "invalidPartnerCredentials"
    assert raised.value.leaf_user == user.name
    assert user.name in raised.value.sentence()
    assert cache.pending_one_clicks() == []


@pytest.mark.asyncio
async def test_manual_create_then_conflict(service, client, cache):
    user = await _user(client, connected=False)
    credential = await service.create_manual(user, _manual_input())

    assert credential.status == "OK"
    assert credential.organization_code == "ORG-TEST-1"
    row = cache.load_row(user.id)
    assert row.state.state is ConnectionState.CONNECTED
    assert row.organization_code == "ORG-TEST-1"

    with pytest.raises(ConflictError) as raised:
        await service.create_manual(user, _manual_input())
    assert raised.value.error_key == "credentialExists"
    assert user.name in raised.value.sentence()


@pytest.mark.asyncio
async def test_delete_archives_events_first(service, client, cache):
    user = await _user(client, connected=True)
    events_before = await client.list_panorama_events(user.id)
    assert events_before

    result = await service.delete(user)

    assert result.event_log_lost
    assert result.archived_events == len(events_before)
    assert result.deleted_credential_id == user.panorama.id
    assert await client.get_panorama_credential(user.id) is None
    assert {event.id for event in cache.load_events(user.id)} == {
        event.id for event in events_before}
    assert cache.load_row(user.id).state.state is ConnectionState.NOT_CONNECTED


@pytest.mark.asyncio
async def test_replace_deletes_then_creates(service, client, cache):
    user = await _user(client, connected=True)
    old_id = user.panorama.id
    old_events = {event.id for event in await client.list_panorama_events(user.id)}

    result = await service.replace(user, _manual_input(organization_code="ORG-NEW"))

    assert result.credential.id != old_id
    assert result.credential.organization_code == "ORG-NEW"
    assert result.deleted.event_log_lost
    assert result.deleted.deleted_credential_id == old_id
    assert result.deleted.archived_events == len(old_events)
    current = await client.get_panorama_credential(user.id)
    assert current.id == result.credential.id
    # Leaf's log starts afresh with the new credential; the old events live only in the cache.
    new_events = {event.id for event in await client.list_panorama_events(user.id)}
    assert not new_events & old_events
    assert old_events <= {event.id for event in cache.load_events(user.id)}
    assert cache.load_row(user.id).organization_code == "ORG-NEW"


@pytest.mark.asyncio
async def test_replace_create_failure_says_old_was_deleted(service, client, cache):
    user = await _user(client, connected=True)
    # Checked input cannot hold a bad environment; one built by hand lets Leaf reject the create.
    rejected = dataclasses.replace(_manual_input(), client_environment="MARS")

    with pytest.raises(ValidationError) as raised:
        await service.replace(user, rejected)

    assert "already deleted" in raised.value.sentence()
    assert user.name in raised.value.sentence()
    assert await client.get_panorama_credential(user.id) is None
    assert cache.load_row(user.id).state.state is ConnectionState.NOT_CONNECTED
