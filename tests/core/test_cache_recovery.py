"""The cache under stress: old schemas, damaged files, a process killed mid-sync, 50,000 users."""

from __future__ import annotations

import logging
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from test_cache_support import BASE_TIME, make_row

from leafdesk.core.cache import SCHEMA_VERSION, Cache, CacheError, CacheVersionError
from leafdesk.core.model import ConnectionState

# The first schema, written out by hand as a LeafDesk of schema 1 left it on disk.
SCHEMA_1 = """
CREATE TABLE users (
    id TEXT PRIMARY KEY, name TEXT NOT NULL, email TEXT, phone TEXT, address TEXT,
    external_id TEXT, api_owner_username TEXT, credential_id TEXT, credential_status TEXT,
    credential_created TEXT, state TEXT NOT NULL, raw_status TEXT, actor TEXT NOT NULL,
    summary TEXT NOT NULL, next_step TEXT NOT NULL, checked_at TEXT, organization_code TEXT,
    client_environment TEXT, connected_since TEXT
);
CREATE TABLE state_history (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, user_id TEXT NOT NULL, state TEXT NOT NULL,
    raw_status TEXT, changed_at TEXT NOT NULL
);
CREATE TABLE events (
    user_id TEXT NOT NULL, id TEXT NOT NULL, status_code INTEGER, created_date TEXT,
    headers_json TEXT, body_json TEXT, raw_headers TEXT, raw_body TEXT,
    first_seen_at TEXT NOT NULL, PRIMARY KEY (user_id, id)
);
CREATE TABLE pending_one_clicks (
    user_id TEXT PRIMARY KEY, started_at TEXT NOT NULL, expires_at TEXT NOT NULL,
    started_by TEXT NOT NULL, client_id TEXT NOT NULL, client_environment TEXT NOT NULL,
    sign_in_url TEXT NOT NULL
);
CREATE TABLE sync_runs (
    id INTEGER PRIMARY KEY AUTOINCREMENT, started_at TEXT NOT NULL, finished_at TEXT NOT NULL,
    total INTEGER NOT NULL, failed INTEGER NOT NULL, complete INTEGER NOT NULL
);
INSERT INTO users VALUES ('u1', 'Old Grower', 'old@farm.test', NULL, NULL, NULL, NULL,
    'c1', 'OK', '2025-12-01T10:00:00.000000Z', 'connected', 'OK', 'nobody', 'Connected.',
    'Nothing to do.', '2025-12-20T08:00:00.000000Z', 'ORG-1', 'PRODUCTION', NULL);
INSERT INTO state_history (user_id, state, raw_status, changed_at) VALUES
    ('u1', 'connected', 'OK', '2025-12-01T10:00:00.000000Z'),
    ('u1', 'needs_reauthorization', 'UNAUTHENTICATED', '2025-12-10T10:00:00.000000Z'),
    ('u1', 'connected', 'OK', '2025-12-15T10:00:00.000000Z');
INSERT INTO events VALUES ('u1', 'e1', 400, '2025-12-10T09:59:00.000000Z', '{}',
    '{"__type": "NotAuthorizedException"}', '{}', '{"__type": "NotAuthorizedException"}',
    '2025-12-10T10:00:00.000000Z');
INSERT INTO sync_runs (started_at, finished_at, total, failed, complete) VALUES
    ('2025-12-20T07:59:00.000000Z', '2025-12-20T08:00:00.000000Z', 1, 0, 1);
PRAGMA user_version = 1;
"""


def test_schema_1_file_migrated(tmp_path, caplog):
    path = tmp_path / "old.sqlite3"
    with sqlite3.connect(path) as db:
        db.executescript(SCHEMA_1)

    with caplog.at_level(logging.INFO, logger="leafdesk.core.cache"), Cache(path) as cache:
        rows = cache.load_rows()
        history = cache.state_history("u1")
        events = cache.load_events("u1")
        last = cache.last_sync()
        credential = cache.load_credential("u1")

    assert [row.user.name for row in rows] == ["Old Grower"]
    assert rows[0].state.state is ConnectionState.CONNECTED
    assert rows[0].organization_code == "ORG-1"
    assert [change.previous_state for change in history] == [
        None, ConnectionState.CONNECTED, ConnectionState.NEEDS_REAUTHORIZATION,
    ]
    assert events[0].body == {"__type": "NotAuthorizedException"}
    assert last.total == 1
    assert credential.id == "c1"
    assert credential.status == "OK"
    assert credential.organization_code == "ORG-1"
    assert credential.client_environment == "PRODUCTION"
    assert credential.client_id is None
    assert f"Migrated cache {path} to schema {SCHEMA_VERSION}" in caplog.text
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        listed = db.execute("SELECT name FROM sqlite_master WHERE type = 'index'")
        indexes = {row[0] for row in listed}
    assert {"state_history_by_user", "events_by_user"} <= indexes


def test_migrated_file_keeps_working(tmp_path):
    path = tmp_path / "old.sqlite3"
    with sqlite3.connect(path) as db:
        db.executescript(SCHEMA_1)

    with Cache(path) as cache:
        cache.save_rows([make_row(1, "UNAUTHENTICATED")])
        cache.replace_users([make_row(1, "OK")], BASE_TIME)
        history = cache.state_history("user-000001")
        assert cache.state_history("u1") == []

    assert [change.state for change in history] == [
        ConnectionState.NEEDS_REAUTHORIZATION, ConnectionState.CONNECTED,
    ]


def test_newer_schema_rejected_untouched(tmp_path):
    path = tmp_path / "future.sqlite3"
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE users (id TEXT PRIMARY KEY, something_new TEXT)")
        db.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    before = path.read_bytes()

    with pytest.raises(CacheVersionError, match="newer LeafDesk"):
        Cache(path)

    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir() if "corrupt" in p.name) == []


def test_garbage_file_moved_aside(tmp_path, caplog):
    path = tmp_path / "account.sqlite3"
    garbage = os.urandom(8192)
    path.write_bytes(garbage)

    with caplog.at_level(logging.WARNING, logger="leafdesk.core.cache"), Cache(path) as cache:
        cache.replace_users([make_row(1)], BASE_TIME)
        recovered = cache.recovered_from
        rows = cache.load_rows()

    assert recovered is not None
    assert recovered.name.startswith("account.sqlite3.corrupt-")
    assert recovered.read_bytes() == garbage
    assert [row.user.id for row in rows] == ["user-000001"]
    assert "could not be read" in caplog.text
    assert recovered.name in caplog.text


def test_damaged_pages_moved_aside(tmp_path):
    # A real cache whose table pages were overwritten opens, but its integrity check fails.
    path = tmp_path / "account.sqlite3"
    with Cache(path) as cache:
        cache.replace_users([make_row(index) for index in range(3000)], BASE_TIME)
    size = path.stat().st_size
    with path.open("r+b") as file:
        file.seek(size // 2)
        file.write(b"\xff" * 8192)

    with Cache(path) as cache:
        assert cache.recovered_from is not None
        assert cache.load_rows() == []


def test_second_recovery_same_second(tmp_path):
    path = tmp_path / "account.sqlite3"
    path.write_bytes(b"first garbage" * 100)
    with Cache(path) as first:
        first_aside = first.recovered_from
    path.write_bytes(b"second garbage" * 100)
    with Cache(path) as second:
        second_aside = second.recovered_from

    assert first_aside != second_aside
    assert first_aside.exists()
    assert second_aside.exists()


def test_damaged_file_that_cannot_move(tmp_path, monkeypatch):
    path = tmp_path / "account.sqlite3"
    path.write_bytes(b"garbage" * 1000)

    def blocked_replace(source, target):
        raise PermissionError(32, "The process cannot access the file", str(source))

    monkeypatch.setattr(os, "replace", blocked_replace)
    with pytest.raises(CacheError, match="could not be moved aside") as raised:
        Cache(path)

    assert "close other LeafDesk windows" in str(raised.value)
    assert path.read_bytes() == b"garbage" * 1000


def test_unopenable_path_not_moved(tmp_path):
    folder = tmp_path / "is-a-folder.sqlite3"
    folder.mkdir()

    with pytest.raises(CacheError, match="could not be opened") as raised:
        Cache(folder)

    assert isinstance(raised.value.__cause__, sqlite3.OperationalError)

    assert folder.is_dir()
    assert [p.name for p in tmp_path.iterdir()] == ["is-a-folder.sqlite3"]


# The child writes a first full sync and commits it, then starts a second, bigger one and
# stops inside the transaction so the parent can kill it there.
KILL_CHILD = textwrap.dedent("""
    import sys, time
    sys.path.insert(0, {tests!r})
    from leafdesk.core.cache import Cache
    from test_cache_support import BASE_TIME, make_row

    cache = Cache({path!r})
    cache.replace_users([make_row(i, "OK") for i in range(1000)], BASE_TIME)
    cache.record_sync(BASE_TIME, BASE_TIME, 1000, 0, True)

    def second_sync():
        for i in range(40000):
            yield make_row(i, "UNAUTHENTICATED")
        print("midway", flush=True)
        time.sleep(60)

    cache.replace_users(second_sync(), BASE_TIME)
    print("finished", flush=True)
""")


@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs POSIX SIGKILL")
def test_killed_sync_keeps_last_commit(tmp_path):
    path = tmp_path / "account.sqlite3"
    script = KILL_CHILD.format(tests=str(Path(__file__).parent), path=str(path))
    child = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout.readline().strip() == "midway"
        wal = path.with_name(path.name + "-wal")
        # The uncommitted second sync has spilled pages into the write-ahead log.
        assert wal.stat().st_size > 1_000_000
        os.kill(child.pid, signal.SIGKILL)
        assert child.wait(timeout=10) == -signal.SIGKILL
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()

    with Cache(path) as cache:
        rows = cache.load_rows()
        last = cache.last_sync()
        recovered = cache.recovered_from

    assert recovered is None
    assert len(rows) == 1000
    assert {row.state.raw_status for row in rows} == {"OK"}
    assert last.total == 1000


# The child alternates full syncs where every user is OK and where every user is not.
ALTERNATING_CHILD = textwrap.dedent("""
    import sys
    sys.path.insert(0, {tests!r})
    from leafdesk.core.cache import Cache
    from test_cache_support import BASE_TIME, make_row

    ok = [make_row(i, "OK") for i in range(2000)]
    broken = [make_row(i, "UNAUTHENTICATED") for i in range(2000)]
    cache = Cache({path!r})
    cache.replace_users(ok, BASE_TIME)
    print("ready", flush=True)
    for round in range(40):
        cache.replace_users(broken if round % 2 == 0 else ok, BASE_TIME)
    cache.close()
""")


def test_reader_never_sees_half_a_sync(tmp_path):
    path = tmp_path / "account.sqlite3"
    script = ALTERNATING_CHILD.format(tests=str(Path(__file__).parent), path=str(path))
    child = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    seen: list[tuple[str, ...]] = []
    try:
        assert child.stdout.readline().strip() == "ready"
        with Cache(path) as reader:
            while child.poll() is None:
                rows = reader.load_rows()
                seen.append(tuple(sorted({row.state.raw_status for row in rows})))
                assert len(rows) == 2000
    finally:
        if child.poll() is None:
            child.kill()
        child.wait()

    assert child.returncode == 0
    assert set(seen) <= {("OK",), ("UNAUTHENTICATED",)}
    # Both outcomes were read, so the reader did run while the syncs replaced each other.
    assert set(seen) == {("OK",), ("UNAUTHENTICATED",)}


def test_fifty_thousand_rows(tmp_path):
    rows = [make_row(index, "OK" if index % 7 else "UNAUTHENTICATED") for index in range(50_000)]

    with Cache(tmp_path / "big.sqlite3") as cache:
        started = time.perf_counter()
        cache.replace_users(rows, BASE_TIME)
        written = time.perf_counter()
        loaded = cache.load_rows()
        read = time.perf_counter()

        assert len(loaded) == 50_000
        assert loaded[0] == rows[0].__class__(**{**_fields(rows[0]), "from_cache": True})
        assert sum(1 for row in loaded if row.state.raw_status == "UNAUTHENTICATED") == 7143
        assert len(cache.state_history("user-049999")) == 1

        # A second full sync where a tenth of the users changed state records only those changes.
        changed = [make_row(index, "UNAUTHENTICATED") if index % 10 == 0 else row
                   for index, row in enumerate(rows)]
        cache.replace_users(changed, BASE_TIME)
        assert len(cache.state_history("user-000010")) == 2
        assert len(cache.state_history("user-000011")) == 1

    # Generous bounds: this guards against quadratic slowdowns, not against a slow machine.
    assert written - started < 20
    assert read - written < 20


def _fields(row):
    return {name: getattr(row, name) for name in row.__dataclass_fields__}


def _schema_3_file(path: Path) -> None:
    # Schema 1 moved forward by the shipped migrations 2 and 3, as a LeafDesk of schema 3
    # left it.
    from leafdesk.core.cache import _MIGRATIONS

    with sqlite3.connect(path) as db:
        db.executescript(SCHEMA_1)
        for statement in (*_MIGRATIONS[1], *_MIGRATIONS[2]):
            db.execute(statement)
        db.execute("PRAGMA user_version = 3")


def test_schema_3_gets_name_index(tmp_path):
    path = tmp_path / "schema3.sqlite3"
    _schema_3_file(path)

    with Cache(path) as cache:
        rows = cache.load_rows(limit=200)
        plan = cache._connection().execute(
            "EXPLAIN QUERY PLAN SELECT id FROM users ORDER BY name COLLATE NOCASE, id LIMIT 200"
        ).fetchall()

    assert [row.user.name for row in rows] == ["Old Grower"]
    details = " ".join(str(step[-1]) for step in plan)
    assert "users_by_name" in details
    assert "TEMP B-TREE" not in details
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION


def _damaged_cache(path: Path) -> None:
    with Cache(path) as cache:
        cache.replace_users([make_row(index) for index in range(3000)], BASE_TIME)
    size = path.stat().st_size
    with path.open("r+b") as file:
        file.seek(size // 2)
        file.write(b"\xff" * 8192)


def test_deferred_check_finds_damage(tmp_path, caplog):
    path = tmp_path / "account.sqlite3"
    _damaged_cache(path)

    with Cache(path, check_integrity=False) as cache:
        assert cache.recovered_from is None
        assert not cache.integrity_checked
        problems = cache.check_integrity()
        assert problems
        with caplog.at_level(logging.WARNING, logger="leafdesk.core.cache"):
            aside = cache.recover(f"quick_check reported: {problems[0]}")
        rows = cache.load_rows()
        checked = cache.integrity_checked

    assert aside.name.startswith("account.sqlite3.corrupt-")
    assert aside.exists()
    assert rows == []
    assert checked
    assert "could not be read" in caplog.text


def test_deferred_read_error_is_damage(tmp_path):
    path = tmp_path / "account.sqlite3"
    _damaged_cache(path)

    with Cache(path, check_integrity=False) as cache:
        with pytest.raises(sqlite3.DatabaseError) as raised:
            cache.load_rows()
        assert Cache.is_damage(raised.value)
        aside = cache.recover(str(raised.value))
        cache.replace_users([make_row(1)], BASE_TIME)
        rows = cache.load_rows()

    assert aside.exists()
    assert [row.user.id for row in rows] == ["user-000001"]


def test_deferred_check_passes_sound_file(tmp_path):
    path = tmp_path / "account.sqlite3"
    with Cache(path) as cache:
        cache.replace_users([make_row(index) for index in range(100)], BASE_TIME)

    with Cache(path, check_integrity=False) as cache:
        assert cache.check_integrity() == []
        assert cache.integrity_checked
        assert len(cache.load_rows()) == 100
    assert not [p for p in tmp_path.iterdir() if "corrupt" in p.name]


def test_check_overlapping_recover_ignored(tmp_path, monkeypatch):
    # The check's connection opens the damaged file, then a read's recovery moves it aside
    # before quick_check runs on it.
    import leafdesk.core.cache as cache_module

    path = tmp_path / "account.sqlite3"
    _damaged_cache(path)
    real_connect = sqlite3.connect
    recoveries: list[str] = []

    with Cache(path, check_integrity=False) as cache:
        def connect_then_recover(*args, **kwargs):
            db = real_connect(*args, **kwargs)
            if not recoveries:
                recoveries.append("started")  # recover() connects again
                cache.recover("a read met the damage first")
            return db

        monkeypatch.setattr(cache_module.sqlite3, "connect", connect_then_recover)
        problems = cache.check_integrity()
        aside = cache.recovered_from

    assert problems == []
    assert recoveries == ["started"]
    moved = [p.name for p in tmp_path.iterdir()
             if ".corrupt-" in p.name and not p.name.endswith(("-wal", "-shm"))]
    assert moved == [aside.name]
