"""The offline cache on real SQLite files: rows, state history, events, one-clicks and sync runs."""

from __future__ import annotations

import asyncio
import os
import sqlite3
import stat
import threading
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from test_cache_support import BASE_TIME, make_event, make_row

from leafdesk.core.cache import SCHEMA_VERSION, Cache, CacheError, StateChange, SyncRecord
from leafdesk.core.model import (
    ConnectionState,
    CredentialSummary,
    PanoramaCredential,
    PendingOneClick,
    Secret,
)


@pytest.fixture
def cache(tmp_path):
    opened = Cache(tmp_path / "account.sqlite3")
    yield opened
    opened.close()


def test_new_file_uses_wal_and_current_schema(tmp_path):
    path = tmp_path / "new.sqlite3"

    Cache(path).close()

    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION


@pytest.mark.skipif(os.name != "posix", reason="file modes are POSIX")
def test_new_file_private_to_user(tmp_path):
    path = tmp_path / "private.sqlite3"

    with Cache(path) as cache:
        cache.save_rows([make_row(1)])
        modes = {p.name: stat.S_IMODE(p.stat().st_mode) for p in tmp_path.iterdir()}

    assert modes == {
        "private.sqlite3": 0o600, "private.sqlite3-wal": 0o600, "private.sqlite3-shm": 0o600,
    }


def test_rows_round_trip(cache):
    rows = [make_row(1), make_row(2, "UNAUTHENTICATED"), make_row(3, None), make_row(4, "ODD")]

    cache.replace_users(rows, BASE_TIME)
    loaded = cache.load_rows()

    assert [row.user.id for row in loaded] == [row.user.id for row in rows]
    for original, stored in zip(rows, loaded, strict=True):
        assert stored.from_cache is True
        assert replace(stored, from_cache=False) == original
    assert loaded[3].state.state is ConnectionState.UNKNOWN
    assert loaded[3].state.raw_status == "ODD"
    assert loaded[2].user.panorama is None


def test_rows_sorted_by_name(cache):
    cache.replace_users(
        [make_row(1, name="carol"), make_row(2, name="Alice"), make_row(3, name="bob")], BASE_TIME
    )

    assert [row.user.name for row in cache.load_rows()] == ["Alice", "bob", "carol"]


def test_checked_at_kept_as_stored(cache):
    checked = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    cache.replace_users([make_row(1, checked_at=checked)], BASE_TIME + timedelta(days=9))

    row = cache.load_rows()[0]

    assert row.state.checked_at == checked
    assert row.state.checked_at.tzinfo is not None


def test_naive_times_read_as_utc(cache):
    naive = datetime(2026, 1, 2, 3, 4, 5)
    cache.replace_users([make_row(1, checked_at=naive)], BASE_TIME)

    assert cache.load_rows()[0].state.checked_at == naive.replace(tzinfo=UTC)


def test_full_sync_drops_users_gone(cache):
    cache.replace_users([make_row(1), make_row(2), make_row(3)], BASE_TIME)
    cache.save_events("user-000002", [make_event("user-000002", 1)])
    cache.record_pending(pending_for("user-000002"))

    cache.replace_users([make_row(1), make_row(3, "MISSING_PERMISSION")], BASE_TIME)

    assert [row.user.id for row in cache.load_rows()] == ["user-000001", "user-000003"]
    assert cache.load_rows()[1].state.state is ConnectionState.MISSING_PERMISSION
    assert cache.state_history("user-000002") == []
    assert cache.load_events("user-000002") == []
    assert cache.pending_one_clicks() == []
    assert cache.count_users() == 2


def test_drop_users_except_keeps_rows_untouched(cache):
    cache.replace_users([make_row(1), make_row(2), make_row(3)], BASE_TIME)
    cache.save_events("user-000002", [make_event("user-000002", 1)])
    cache.record_pending(pending_for("user-000002"))
    kept_before = cache.load_row("user-000003")
    record = SyncRecord(BASE_TIME, BASE_TIME + timedelta(seconds=4), 2, 0, True)

    dropped = cache.drop_users_except({"user-000001", "user-000003"}, record)

    assert dropped == 1
    assert [row.user.id for row in cache.load_rows()] == ["user-000001", "user-000003"]
    assert cache.load_row("user-000003") == kept_before
    assert cache.state_history("user-000002") == []
    assert cache.load_events("user-000002") == []
    assert cache.pending_one_clicks() == []
    assert cache.last_sync() == record


def test_drop_users_except_writes_no_user_row(cache):
    cache.replace_users([make_row(index) for index in range(50)], BASE_TIME)
    connection = cache._connection()
    before = connection.total_changes

    cache.drop_users_except([f"user-{index:06d}" for index in range(1, 50)],
                            SyncRecord(BASE_TIME, BASE_TIME, 49, 0, True))

    # The dropped user's row and its one state change go and one sync run is added; none of
    # the 49 rows kept is written.
    assert connection.total_changes - before == 3
    assert cache.count_users() == 49


def test_drop_users_except_from_worker_thread(cache):
    cache.replace_users([make_row(1), make_row(2)], BASE_TIME)
    record = SyncRecord(BASE_TIME, BASE_TIME, 1, 0, True)

    dropped = asyncio.run(asyncio.to_thread(cache.drop_users_except, ["user-000001"], record))

    assert dropped == 1
    assert [row.user.id for row in cache.load_rows()] == ["user-000001"]


def test_partial_refresh_keeps_others(cache):
    cache.replace_users([make_row(1), make_row(2), make_row(3)], BASE_TIME)

    cache.save_rows([make_row(2, "UNAUTHENTICATED"), make_row(4)])

    states = {row.user.id: row.state.state for row in cache.load_rows()}
    assert states == {
        "user-000001": ConnectionState.CONNECTED,
        "user-000002": ConnectionState.NEEDS_REAUTHORIZATION,
        "user-000003": ConnectionState.CONNECTED,
        "user-000004": ConnectionState.CONNECTED,
    }
    assert cache.load_row("user-000002").state.raw_status == "UNAUTHENTICATED"
    assert cache.load_row("nobody") is None


def test_partial_refresh_of_many_users(cache):
    cache.replace_users([make_row(index) for index in range(1500)], BASE_TIME)

    changed = [make_row(index, "UNAUTHENTICATED") for index in range(0, 1500, 2)]
    cache.save_rows(changed + [make_row(1501)])

    states = [row.state.raw_status for row in cache.load_rows()]
    assert states.count("UNAUTHENTICATED") == 750
    assert cache.count_users() == 1501
    assert len(cache.state_history("user-000000")) == 2
    assert len(cache.state_history("user-000001")) == 1
    assert len(cache.state_history("user-001501")) == 1


def test_state_history_broke_and_healed(cache):
    first = BASE_TIME
    broke = BASE_TIME + timedelta(hours=5)
    healed = BASE_TIME + timedelta(days=2)

    cache.replace_users([make_row(1, "OK", checked_at=first)], first)
    cache.replace_users([make_row(1, "OK", checked_at=first + timedelta(hours=1))], first)
    cache.save_rows([make_row(1, "UNAUTHENTICATED", checked_at=broke)])
    cache.save_rows([make_row(1, "UNAUTHENTICATED", checked_at=broke + timedelta(hours=1))])
    cache.replace_users([make_row(1, "OK", checked_at=healed)], healed)

    history = cache.state_history("user-000001")

    assert history == [
        StateChange("user-000001", ConnectionState.CONNECTED, "OK", first, None),
        StateChange("user-000001", ConnectionState.NEEDS_REAUTHORIZATION, "UNAUTHENTICATED",
                    broke, ConnectionState.CONNECTED),
        StateChange("user-000001", ConnectionState.CONNECTED, "OK", healed,
                    ConnectionState.NEEDS_REAUTHORIZATION),
    ]


def test_history_marks_breaks_and_heals(cache):
    statuses = ["OK", "UNAUTHENTICATED", "TEMPORARILY_UNAVAILABLE", "OK", None, "OK", "ODD"]
    for hour, status in enumerate(statuses):
        cache.save_rows([make_row(1, status, checked_at=BASE_TIME + timedelta(hours=hour))])

    history = cache.state_history("user-000001")

    assert [change.broke for change in history] == [False, True, False, False, False, False, True]
    assert [change.healed for change in history] == [False, False, False, True, False, False, False]


def test_raw_status_change_is_a_change(cache):
    cache.save_rows([make_row(1, "WEIRD_ONE")])
    cache.save_rows([make_row(1, "WEIRD_TWO")])

    history = cache.state_history("user-000001")

    assert [change.raw_status for change in history] == ["WEIRD_ONE", "WEIRD_TWO"]
    assert all(change.state is ConnectionState.UNKNOWN for change in history)


def test_history_time_falls_back_to_sync(cache):
    row = make_row(1)
    unchecked = replace(row, state=replace(row.state, checked_at=None))
    synced = BASE_TIME + timedelta(days=1)

    cache.replace_users([unchecked], synced)

    assert cache.state_history("user-000001")[0].changed_at == synced


def make_credential(user_id: str, credential_id: str = "cred-x") -> PanoramaCredential:
    return PanoramaCredential(
        id=credential_id,
        leaf_user_id=user_id,
        status="OK",
        created_time=BASE_TIME,
        client_id="client-1",
        username="partner@agpartner.test",
        organization_code="ORG-9",
        client_environment="STAGE",
        access_token=Secret("access-token-never-stored-1"),
        refresh_token=Secret("refresh-token-never-stored-2"),
    )


def test_credential_fields_without_tokens(cache, tmp_path):
    stored = make_credential("user-000001")

    cache.save_credential(stored)
    loaded = cache.load_credential("user-000001")

    assert loaded == replace(stored, access_token=Secret(""), refresh_token=Secret(""))
    assert cache.load_credential("user-000002") is None
    cache.close()
    written = b"".join(path.read_bytes() for path in tmp_path.iterdir() if path.is_file())
    assert b"access-token-never-stored-1" not in written
    assert b"refresh-token-never-stored-2" not in written


def test_credential_dropped_when_rows_change(cache):
    cache.replace_users([make_row(1), make_row(2), make_row(3), make_row(4)], BASE_TIME)
    for index in (1, 2, 3, 4):
        cache.save_credential(make_credential(f"user-{index:06d}", f"cred-{index:06d}"))

    replaced = replace(make_row(2), user=replace(
        make_row(2).user, panorama=CredentialSummary(id="cred-new", status="OK")))
    cache.save_rows([make_row(1), replaced, make_row(3, None)])
    cache.replace_users([make_row(1), replaced, make_row(3, None)], BASE_TIME)

    assert cache.load_credential("user-000001").id == "cred-000001"
    assert cache.load_credential("user-000002") is None
    assert cache.load_credential("user-000003") is None
    assert cache.load_credential("user-000004") is None


def test_credential_deleted(cache):
    cache.save_credential(make_credential("user-000001"))

    cache.delete_credential("user-000001")
    cache.delete_credential("user-000001")

    assert cache.load_credential("user-000001") is None


def test_events_deduplicated_newest_first(cache):
    user = "user-000001"
    first_batch = [make_event(user, number) for number in (1, 2, 3)]
    second_batch = [make_event(user, number) for number in (3, 4, 5)]

    assert cache.save_events(user, first_batch) == 3
    assert cache.save_events(user, second_batch) == 2
    events = cache.load_events(user)

    assert [event.id for event in events] == [f"evt-{user}-{n}" for n in (5, 4, 3, 2, 1)]
    assert events[0].body == {"number": 5}
    assert events[0].headers == {"Content-Type": "application/json"}
    assert events[0].created_date == BASE_TIME + timedelta(minutes=5)
    assert events[0].leaf_user_id == user


def test_events_kept_past_leaf_window(cache):
    # Leaf drops events after 30 days; the cache keeps what it fetched earlier.
    user = "user-000001"
    cache.save_events(user, [make_event(user, 1)])

    cache.save_events(user, [make_event(user, 60 * 24 * 40)])

    assert len(cache.load_events(user)) == 2


def test_events_without_date_sort_last(cache):
    user = "user-000001"
    undated = replace(make_event(user, 9), id="undated", created_date=None)

    cache.save_events(user, [undated, make_event(user, 1)])

    assert [event.id for event in cache.load_events(user)] == [f"evt-{user}-1", "undated"]


def test_event_raw_text_kept(cache):
    user = "user-000001"
    event = replace(make_event(user, 1), body="not json <html>", raw_body="not json <html>",
                    raw_headers="X-Thing: 1")

    cache.save_events(user, [event])
    stored = cache.load_events(user)[0]

    assert stored.body == "not json <html>"
    assert stored.raw_body == "not json <html>"
    assert stored.raw_headers == "X-Thing: 1"


def test_event_secrets_masked(cache, tmp_path):
    user = "user-000001"
    body = {
        "AuthenticationResult": {
            "AccessToken": "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhIn0.c2lnbmF0dXJl",
            "RefreshToken": "refresh-secret-123",
            "TokenType": "Bearer",
            "ExpiresIn": 3600,
        },
        "password": "partner-secret-456",
    }
    headers = {"Authorization": "Bearer bearer-secret-789", "Content-Type": "application/json"}
    raw_body = '{"refreshToken": "raw-refresh-secret", "message": "ok"}'
    event = make_event(user, 1, body=body, headers=headers, raw_body=raw_body)
    event = replace(event, raw_headers="Authorization: Bearer raw-header-secret-000")

    cache.save_events(user, [event])
    stored = cache.load_events(user)[0]

    assert stored.body["AuthenticationResult"]["TokenType"] == "Bearer"
    assert stored.body["AuthenticationResult"]["ExpiresIn"] == 3600
    assert stored.body["AuthenticationResult"]["RefreshToken"] == "********"
    assert stored.headers["Content-Type"] == "application/json"
    assert '"message": "ok"' in stored.raw_body
    cache.close()
    stored_bytes = b"".join(path.read_bytes() for path in tmp_path.iterdir() if path.is_file())
    for secret in (b"eyJhbGciOiJIUzI1NiJ9", b"refresh-secret-123", b"partner-secret-456",
                   b"bearer-secret-789", b"raw-refresh-secret", b"raw-header-secret-000"):
        assert secret not in stored_bytes


def pending_for(user_id: str, started: datetime = BASE_TIME) -> PendingOneClick:
    return PendingOneClick(
        leaf_user_id=user_id,
        started_at=started,
        expires_at=started + timedelta(minutes=15),
        started_by="staff@leafdesk.test",
        client_id="client-1",
        client_environment="STAGE",
        sign_in_url=f"http://127.0.0.1:9/share/{user_id}",
    )


def test_pending_one_clicks(cache):
    first = pending_for("user-000001")
    second = pending_for("user-000002", BASE_TIME + timedelta(minutes=1))
    restarted = pending_for("user-000001", BASE_TIME + timedelta(minutes=5))

    cache.record_pending(first)
    cache.record_pending(second)
    assert cache.pending_one_clicks() == [first, second]

    cache.record_pending(restarted)
    assert cache.pending_one_clicks() == [second, restarted]

    cache.clear_pending("user-000002")
    cache.clear_pending("never-started")
    assert cache.pending_one_clicks() == [restarted]


def test_pending_sign_in_url_masks_tokens(cache):
    pending = replace(pending_for("user-000001"),
                      sign_in_url="http://127.0.0.1:9/share?token=abcdef123456&x=1")

    cache.record_pending(pending)

    stored = cache.pending_one_clicks()[0].sign_in_url
    assert stored == "http://127.0.0.1:9/share?token=********&x=1"


def test_sync_runs(cache):
    assert cache.last_sync() is None

    cache.record_sync(BASE_TIME, BASE_TIME + timedelta(seconds=30), 120, 0, True)
    cache.record_sync(BASE_TIME + timedelta(hours=1), BASE_TIME + timedelta(hours=1, seconds=5),
                      120, 7, False)

    assert cache.last_sync() == SyncRecord(
        BASE_TIME + timedelta(hours=1), BASE_TIME + timedelta(hours=1, seconds=5), 120, 7, False
    )
    assert cache.last_sync(complete_only=True) == SyncRecord(
        BASE_TIME, BASE_TIME + timedelta(seconds=30), 120, 0, True
    )


def test_data_survives_reopen(tmp_path):
    path = tmp_path / "account.sqlite3"
    with Cache(path) as first:
        first.replace_users([make_row(1), make_row(2, "UNAUTHENTICATED")], BASE_TIME)
        first.record_sync(BASE_TIME, BASE_TIME, 2, 0, True)

    with Cache(path) as second:
        assert [row.user.id for row in second.load_rows()] == ["user-000001", "user-000002"]
        assert second.last_sync().complete is True
        assert second.recovered_from is None


def test_closed_cache_raises(tmp_path):
    cache = Cache(tmp_path / "account.sqlite3")
    cache.close()
    cache.close()

    with pytest.raises(CacheError, match="closed"):
        cache.load_rows()


def test_second_connection_sees_commits(tmp_path):
    path = tmp_path / "account.sqlite3"
    with Cache(path) as writer, Cache(path) as reader:
        writer.replace_users([make_row(1)], BASE_TIME)
        assert [row.user.id for row in reader.load_rows()] == ["user-000001"]


def test_failed_write_rolls_back(cache):
    cache.replace_users([make_row(1), make_row(2)], BASE_TIME)

    def rows_then_failure():
        yield make_row(3)
        raise RuntimeError("sync stopped")

    with pytest.raises(RuntimeError, match="sync stopped"):
        cache.replace_users(rows_then_failure(), BASE_TIME)

    assert [row.user.id for row in cache.load_rows()] == ["user-000001", "user-000002"]
    cache.save_rows([make_row(4)])
    assert cache.count_users() == 3


def test_locked_write_leaves_cache_usable(tmp_path):
    path = tmp_path / "account.sqlite3"
    with Cache(path) as cache, Cache(path) as other:
        cache.replace_users([make_row(1)], BASE_TIME)
        # Another connection holding the write lock makes the write wait out the busy timeout,
        # cut here so the test stays fast.
        other._db.execute("BEGIN IMMEDIATE")
        cache._db.execute("PRAGMA busy_timeout = 50")
        with pytest.raises(sqlite3.OperationalError, match="locked"):
            cache.save_rows([make_row(2)])
        other._db.execute("ROLLBACK")

        cache.save_rows([make_row(3)])
        assert [row.user.id for row in cache.load_rows()] == ["user-000001", "user-000003"]


def test_threads_share_one_cache(cache):
    errors: list[BaseException] = []

    def writer(offset: int) -> None:
        try:
            for index in range(offset, offset + 50):
                cache.save_rows([make_row(index)])
                cache.load_rows()
        except BaseException as error:  # noqa: BLE001 - collected for the assert below
            errors.append(error)

    threads = [threading.Thread(target=writer, args=(offset,)) for offset in (0, 100, 200, 300)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    assert cache.count_users() == 200


@pytest.mark.asyncio
async def test_calls_from_asyncio_tasks(cache):
    async def refresh(index: int) -> None:
        await asyncio.sleep(0)
        await asyncio.to_thread(cache.save_rows, [make_row(index)])
        cache.save_events(f"user-{index:06d}", [make_event(f"user-{index:06d}", 1)])

    await asyncio.gather(*(refresh(index) for index in range(40)))

    assert cache.count_users() == 40
    assert len(cache.load_events("user-000039")) == 1
