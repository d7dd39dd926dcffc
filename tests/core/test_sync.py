"""Tests of SyncService against the sandbox, in-process through httpx's ASGI transport.

Cancellation, the 429 storm and the kill during a sync run over loopback in test_sync_loopback.py.
"""

from __future__ import annotations

import threading
from collections import Counter
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from leafdesk.core.cache import Cache
from leafdesk.core.client import LeafClient
from leafdesk.core.errors import NotFoundError, OfflineError, SignedOutError
from leafdesk.core.http import RetryPolicy
from leafdesk.core.model import ConnectionState, PendingOneClick
from leafdesk.core.sync import SyncService
from leafdesk.sandbox import DEMO, SandboxConfig, create_app

USERS = 60
STATE_BY_STATUS = {
    "OK": ConnectionState.CONNECTED,
    "UNAUTHENTICATED": ConnectionState.NEEDS_REAUTHORIZATION,
    "MISSING_PERMISSION": ConnectionState.MISSING_PERMISSION,
    "TEMPORARILY_UNAVAILABLE": ConnectionState.PROVIDER_UNAVAILABLE,
}
FAST_RETRY = RetryPolicy(max_attempts=3, base_delay=0.01, max_delay=0.05, max_total=2.0)


def _app(embed: str = "full", users: int = USERS):
    # The health process stays off so that states change only when a test changes them.
    return create_app(SandboxConfig(users=users, seed=3, controls=True, embed_credentials=embed,
                                    health=False))


def _client(app, **options) -> LeafClient:
    return LeafClient("http://sandbox.test", DEMO.owner_username, DEMO.owner_password,
                      transport=httpx.ASGITransport(app=app), retry=FAST_RETRY, **options)


def _controls(app) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://sandbox.test")


@pytest.fixture
def cache(tmp_path):
    opened = Cache(tmp_path / "cache.sqlite3")
    yield opened
    opened.close()


async def _sandbox_states(app) -> Counter:
    async with _controls(app) as controls:
        state = (await controls.get("/_sandbox/state")).json()
    counts = Counter()
    for status, count in state["credentials"]["byStatus"].items():
        counts[STATE_BY_STATUS.get(status, ConnectionState.UNKNOWN)] += count
    counts[ConnectionState.NOT_CONNECTED] = state["users"] - state["credentials"]["total"]
    return counts


@pytest.mark.asyncio
async def test_refresh_all_with_embedded_statuses(cache):
    app = _app("full")
    client = _client(app)
    progress: list[tuple[int, int, int]] = []

    result = await SyncService(client, cache, concurrency=4).refresh_all(
        lambda *values: progress.append(values))
    await client.aclose()

    assert result.complete
    assert result.error is None
    assert result.total == USERS
    assert len(result.rows) == USERS
    assert Counter(row.state.state for row in result.rows) == await _sandbox_states(app)
    # One sign-in and one page of up to 100 users: no request per user.
    assert result.requests == 2
    assert progress[-1] == (USERS, USERS, 0)
    assert [done for done, _, _ in progress] == sorted(done for done, _, _ in progress)

    cached = cache.load_rows()
    assert len(cached) == USERS
    assert all(row.from_cache for row in cached)
    last = cache.last_sync()
    assert last.complete
    assert last.total == USERS


@pytest.mark.asyncio
async def test_refresh_all_reads_credentials_when_only_ids_embedded(cache):
    app = _app("id")
    client = _client(app)

    result = await SyncService(client, cache, concurrency=4).refresh_all()
    await client.aclose()

    states = await _sandbox_states(app)
    connected = USERS - states[ConnectionState.NOT_CONNECTED]
    assert result.complete
    assert Counter(row.state.state for row in result.rows) == states
    assert result.requests == 2 + connected
    with_code = [row for row in result.rows if row.user.panorama is not None]
    assert all(row.organization_code for row in with_code)
    assert all(row.client_environment in ("STAGE", "PRODUCTION") for row in with_code)


@pytest.mark.asyncio
async def test_embedded_refresh_keeps_organization_code(cache):
    app = _app("id")
    client = _client(app)
    await SyncService(client, cache).refresh_all()
    async with _controls(app) as controls:
        await controls.post("/_sandbox/faults", json={"embed_credentials": "full"})

    result = await SyncService(client, cache).refresh_all()
    await client.aclose()

    connected = [row for row in result.rows if row.user.panorama is not None]
    assert connected
    assert all(row.organization_code for row in connected)


@pytest.mark.asyncio
async def test_state_change_recorded_in_history(cache):
    app = _app("full")
    client = _client(app)
    service = SyncService(client, cache)
    first = await service.refresh_all()
    target = next(row for row in first.rows if row.state.state is ConnectionState.CONNECTED)

    async with _controls(app) as controls:
        answer = await controls.post(f"/_sandbox/users/{target.user.id}/panorama-status",
                                     json={"status": "UNAUTHENTICATED"})
        assert answer.status_code == 200
    second = await service.refresh_all()
    await client.aclose()

    row = next(row for row in second.rows if row.user.id == target.user.id)
    assert row.state.state is ConnectionState.NEEDS_REAUTHORIZATION
    history = cache.state_history(target.user.id)
    assert [change.state for change in history] == [
        ConnectionState.CONNECTED, ConnectionState.NEEDS_REAUTHORIZATION]


@pytest.mark.asyncio
async def test_unknown_status_kept_raw(cache):
    app = _app("id")
    client = _client(app)
    first = await SyncService(client, cache).refresh_all()
    target = next(row for row in first.rows if row.user.panorama is not None)
    async with _controls(app) as controls:
        await controls.post(f"/_sandbox/users/{target.user.id}/panorama-status",
                            json={"status": "PAUSED_BY_GROWER"})

    result = await SyncService(client, cache).refresh_users([target.user.id])
    await client.aclose()

    assert result.rows[0].state.state is ConnectionState.UNKNOWN
    assert result.rows[0].state.raw_status == "PAUSED_BY_GROWER"
    assert cache.load_row(target.user.id).state.raw_status == "PAUSED_BY_GROWER"


@pytest.mark.asyncio
async def test_users_gone_from_leaf_leave_cache(cache):
    app = _app("full")
    client = _client(app)
    first = await SyncService(client, cache).refresh_all()
    gone = first.rows[0].user.id
    token_reply = await client._call("DELETE", f"/services/usermanagement/api/users/{gone}",
                                     action="delete the Leaf user")
    assert token_reply.status_code == 204

    second = await SyncService(client, cache).refresh_all()
    await client.aclose()

    assert second.total == USERS - 1
    assert cache.load_row(gone) is None
    assert cache.count_users() == USERS - 1


class RecordingCache(Cache):
    """A cache that records which thread ran each write and how many rows it stored."""

    def __init__(self, path) -> None:
        super().__init__(path)
        self.writes: list[tuple[str, int, str]] = []

    def save_rows(self, rows):
        rows = list(rows)
        self.writes.append(("save_rows", len(rows), threading.current_thread().name))
        super().save_rows(rows)

    def replace_users(self, rows, synced_at):
        rows = list(rows)
        self.writes.append(("replace_users", len(rows), threading.current_thread().name))
        super().replace_users(rows, synced_at)

    def drop_users_except(self, user_ids, record):
        self.writes.append(("drop_users_except", 0, threading.current_thread().name))
        return super().drop_users_except(user_ids, record)


@pytest.mark.asyncio
async def test_full_refresh_writes_each_row_once_off_loop(tmp_path):
    cache = RecordingCache(tmp_path / "recording.sqlite3")
    client = _client(_app("id"))
    loop_thread = threading.current_thread().name

    result = await SyncService(client, cache).refresh_all()
    await client.aclose()

    assert result.complete
    assert [name for name, _, _ in cache.writes].count("replace_users") == 0
    assert sum(count for name, count, _ in cache.writes if name == "save_rows") == USERS
    assert cache.writes[-1][0] == "drop_users_except"
    assert all(thread != loop_thread for _, _, thread in cache.writes)
    assert cache.last_sync().complete
    assert cache.count_users() == USERS
    cache.close()


@pytest.mark.asyncio
async def test_refresh_users_subset_and_unknown_id(cache):
    app = _app("full")
    client = _client(app)
    everyone = await client.list_users()
    chosen = [everyone[0].id, everyone[5].id]
    unknown = "00000000-0000-4000-8000-000000000000"
    progress: list[tuple[int, int, int]] = []

    result = await SyncService(client, cache).refresh_users(
        [*chosen, unknown, chosen[0]], lambda *values: progress.append(values))
    await client.aclose()

    assert result.complete
    assert result.total == 3
    assert sorted(row.user.id for row in result.rows) == sorted(chosen)
    assert isinstance(result.failures[unknown], NotFoundError)
    assert result.failed == 1
    assert progress[-1] == (3, 3, 1)
    assert cache.count_users() == 2
    assert cache.last_sync() is None


@pytest.mark.asyncio
async def test_attached_credential_clears_pending_one_click(cache):
    app = _app("full")
    client = _client(app)
    users = await client.list_users()
    connected = next(user for user in users if user.panorama is not None)
    waiting = next(user for user in users if user.panorama is None)
    now = datetime.now(UTC)
    for user in (connected, waiting):
        cache.record_pending(PendingOneClick(
            leaf_user_id=user.id, started_at=now, expires_at=now + timedelta(minutes=15),
            started_by="tester", client_id="c", client_environment="STAGE",
            sign_in_url="http://sandbox.test/panorama-share/x"))

    result = await SyncService(client, cache).refresh_all()
    await client.aclose()

    states = {row.user.id: row.state.state for row in result.rows}
    assert states[waiting.id] is ConnectionState.WAITING_FOR_GROWER
    assert states[connected.id] is not ConnectionState.WAITING_FOR_GROWER
    assert [p.leaf_user_id for p in cache.pending_one_clicks()] == [waiting.id]


@pytest.mark.asyncio
async def test_failed_users_keep_cached_rows(cache):
    app = _app("id")
    client = _client(app)
    first = await SyncService(client, cache).refresh_all()
    async with _controls(app) as controls:
        await controls.post("/_sandbox/faults", json={"fault_rate": 0.5, "faults": ["500"]})

    # Sign-in and the user page may meet faults too; retry until the listing gets through.
    for _ in range(10):
        result = await SyncService(client, cache, concurrency=4).refresh_all()
        if result.error is None and result.failed:
            break
    await client.aclose()

    assert result.complete
    assert result.failed > 0
    assert len(result.rows) == USERS
    for user_id, error in result.failures.items():
        assert error.leaf_user
        assert error.sentence()
        row = next(row for row in result.rows if row.user.id == user_id)
        assert row.from_cache
    assert cache.count_users() == len(first.rows)
    assert cache.last_sync().failed == result.failed


@pytest.mark.asyncio
async def test_offline_falls_back_to_cache(cache, unused_tcp_port):
    app = _app("full")
    client = _client(app)
    await SyncService(client, cache).refresh_all()
    await client.aclose()

    offline = LeafClient(f"http://127.0.0.1:{unused_tcp_port}", DEMO.owner_username,
                         DEMO.owner_password, retry=FAST_RETRY)
    result = await SyncService(offline, cache).refresh_all()
    await offline.aclose()

    assert isinstance(result.error, OfflineError)
    assert not result.complete
    assert result.from_cache
    assert len(result.rows) == USERS
    assert all(row.from_cache for row in result.rows)
    assert not cache.last_sync().complete
    assert cache.last_sync(complete_only=True) is not None


@pytest.mark.asyncio
async def test_wrong_password_stops_refresh(cache):
    app = _app("full")
    client = LeafClient("http://sandbox.test", DEMO.owner_username, "wrong password",
                        transport=httpx.ASGITransport(app=app), retry=FAST_RETRY)
    result = await SyncService(client, cache).refresh_all()
    await client.aclose()

    assert isinstance(result.error, SignedOutError)
    assert result.rows == []
    assert "wrong password" not in result.error.sentence()
