"""The offline cache: one SQLite file per Leaf account and base URL, read when Leaf cannot be.

It stores the users table as last synced, each credential's non-secret fields and every change
of connection state with its time. It also stores every credential event ever fetched (kept past
Leaf's 30 days, deduplicated by id), the one-clicks LeafDesk started, and when each sync ran.
It never stores a password or a token. Users and credentials are stored without them, and event
headers, bodies and sign-in URLs are masked before they are written.

SQLite runs in WAL mode with one writer: every statement goes through one connection guarded by a
lock, and each write is one short transaction, so a process killed mid-sync leaves the last
committed state readable. The schema version is `PRAGMA user_version`, moved forward by the
migrations below; a file that is not a database is moved aside and rebuilt.
"""

from __future__ import annotations

import gc
import json
import logging
import os
import sqlite3
import threading
from collections.abc import Collection, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Self

from leafdesk.core.logsetup import MASK, mask_secrets
from leafdesk.core.model import (
    Actor,
    ConnectionState,
    CredentialEvent,
    CredentialSummary,
    LeafUser,
    PanoramaCredential,
    PendingOneClick,
    StateView,
    UserRow,
)
from leafdesk.core.paths import unused_aside_path

log = logging.getLogger(__name__)

# Rows per executemany call while streaming a large write; keeps memory flat for any size.
_BATCH_SIZE = 5_000

# Each entry moves the schema from version N to N + 1; never edit one that has shipped.
_MIGRATIONS: tuple[tuple[str, ...], ...] = (
    # 1: the first layout.
    (
        """CREATE TABLE users (
            id TEXT PRIMARY KEY,
            name TEXT NOT NULL,
            email TEXT,
            phone TEXT,
            address TEXT,
            external_id TEXT,
            api_owner_username TEXT,
            credential_id TEXT,
            credential_status TEXT,
            credential_created TEXT,
            state TEXT NOT NULL,
            raw_status TEXT,
            actor TEXT NOT NULL,
            summary TEXT NOT NULL,
            next_step TEXT NOT NULL,
            checked_at TEXT,
            organization_code TEXT,
            client_environment TEXT,
            connected_since TEXT
        )""",
        """CREATE TABLE state_history (
            seq INTEGER PRIMARY KEY AUTOINCREMENT,
            user_id TEXT NOT NULL,
            state TEXT NOT NULL,
            raw_status TEXT,
            changed_at TEXT NOT NULL
        )""",
        """CREATE TABLE events (
            user_id TEXT NOT NULL,
            id TEXT NOT NULL,
            status_code INTEGER,
            created_date TEXT,
            headers_json TEXT,
            body_json TEXT,
            raw_headers TEXT,
            raw_body TEXT,
            first_seen_at TEXT NOT NULL,
            PRIMARY KEY (user_id, id)
        )""",
        """CREATE TABLE pending_one_clicks (
            user_id TEXT PRIMARY KEY,
            started_at TEXT NOT NULL,
            expires_at TEXT NOT NULL,
            started_by TEXT NOT NULL,
            client_id TEXT NOT NULL,
            client_environment TEXT NOT NULL,
            sign_in_url TEXT NOT NULL
        )""",
        """CREATE TABLE sync_runs (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            started_at TEXT NOT NULL,
            finished_at TEXT NOT NULL,
            total INTEGER NOT NULL,
            failed INTEGER NOT NULL,
            complete INTEGER NOT NULL
        )""",
    ),
    # 2: each state change names the state it left, and per-user reads get indexes.
    (
        "ALTER TABLE state_history ADD COLUMN previous_state TEXT",
        """UPDATE state_history SET previous_state = (
            SELECT earlier.state FROM state_history AS earlier
            WHERE earlier.user_id = state_history.user_id AND earlier.seq < state_history.seq
            ORDER BY earlier.seq DESC LIMIT 1
        )""",
        "CREATE INDEX state_history_by_user ON state_history (user_id, seq)",
        "CREATE INDEX events_by_user ON events (user_id, created_date)",
    ),
    # 3: each credential's non-secret fields, so the details panel can show them offline. The
    # summary already in the users table seeds it; client id and username come with the next read.
    (
        """CREATE TABLE credentials (
            user_id TEXT PRIMARY KEY,
            id TEXT NOT NULL,
            status TEXT,
            created_time TEXT,
            client_id TEXT,
            username TEXT,
            organization_code TEXT,
            client_environment TEXT,
            read_at TEXT NOT NULL
        )""",
        """INSERT INTO credentials (user_id, id, status, created_time, organization_code,
                client_environment, read_at)
            SELECT id, credential_id, credential_status, credential_created, organization_code,
                client_environment, COALESCE(checked_at, strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
            FROM users WHERE credential_id IS NOT NULL""",
    ),
    # 4: the window's first screen reads the first users by name, which without this index
    # sorted all 50,000 rows of a large cache (9 to 13 ms in bench/ui_startup.py).
    (
        "CREATE INDEX users_by_name ON users (name COLLATE NOCASE, id)",
    ),
)

SCHEMA_VERSION = len(_MIGRATIONS)

_USER_COLUMNS = (
    "id", "name", "email", "phone", "address", "external_id", "api_owner_username",
    "credential_id", "credential_status", "credential_created",
    "state", "raw_status", "actor", "summary", "next_step", "checked_at",
    "organization_code", "client_environment", "connected_since",
)
_INSERT_USER = (
    f"INSERT OR REPLACE INTO users ({', '.join(_USER_COLUMNS)}) "
    f"VALUES ({', '.join('?' for _ in _USER_COLUMNS)})"
)
_SELECT_USERS = f"SELECT {', '.join(_USER_COLUMNS)} FROM users"

# SQLite's primary result codes for a damaged file and for a file that is not a database.
_SQLITE_CORRUPT = 11
_SQLITE_NOTADB = 26


class CacheError(Exception):
    """The cache file cannot be used as it is; the message gives the reason and the fix."""


class CacheVersionError(CacheError):
    """The cache file was written by a newer LeafDesk whose schema this one does not know."""


@dataclass(frozen=True, slots=True)
class StateChange:
    """One change of a Leaf user's connection state, as first seen by a sync.

    `previous_state` is None for the first state recorded. A change into a state that needs
    someone to act is when the connection broke, and a change back to connected is when it healed.
    """

    user_id: str
    state: ConnectionState
    raw_status: str | None
    changed_at: datetime
    previous_state: ConnectionState | None

    @property
    def broke(self) -> bool:
        """Whether a working connection stopped working here; a deliberate removal does not."""
        return (
            self.previous_state is ConnectionState.CONNECTED and self.state in _BROKEN_STATES
        )

    @property
    def healed(self) -> bool:
        """Whether a connection that needed someone to act works again here."""
        return self.state is ConnectionState.CONNECTED and self.previous_state in _BROKEN_STATES


# States of a credential that exists but does not work; "not connected" and "waiting for
# grower" are steps of connecting, not breakage.
_BROKEN_STATES = frozenset({
    ConnectionState.NEEDS_REAUTHORIZATION,
    ConnectionState.MISSING_PERMISSION,
    ConnectionState.PROVIDER_UNAVAILABLE,
    ConnectionState.UNKNOWN,
})


@dataclass(frozen=True, slots=True)
class SyncRecord:
    """One sync run: when it ran, how many users it covered, how many failed, and if it finished."""

    started_at: datetime
    finished_at: datetime
    total: int
    failed: int
    complete: bool


class Cache:
    """The offline cache file of one Leaf account and base URL; see the module text.

    Opening creates or migrates the file. A file that SQLite reports as damaged or not a database
    is renamed to `<name>.corrupt-<timestamp>`, a warning is logged and an empty cache is built.
    `recovered_from` is then the renamed file's path, so the window can tell the operator.
    With `check_integrity=False` the open skips SQLite's `PRAGMA quick_check` (22 to 35 ms on
    a 28 MB file), and the caller runs `check_integrity()` later and `recover()` on damage.
    Any thread may call its methods, because the connection is opened with
    `check_same_thread=False` and every call holds one lock. The sync therefore runs its large
    writes in a worker thread.
    """

    def __init__(self, path: Path | str, *, check_integrity: bool = True) -> None:
        self.path = Path(path)
        self.recovered_from: Path | None = None
        # False until `PRAGMA quick_check` has passed on this file (or the file was rebuilt).
        self.integrity_checked = check_integrity
        # Counts the files moved aside, so a check that overlapped a rebuild can tell.
        self._rebuilds = 0
        self._lock = threading.RLock()
        self._db: sqlite3.Connection | None = None
        self.path.parent.mkdir(parents=True, exist_ok=True)

        try:
            self._db = self._open(check_integrity=check_integrity)
        except sqlite3.DatabaseError as error:
            if not _is_corruption(error):
                raise _open_error(self.path, error) from error
            self.recovered_from = self._move_aside(str(error))
            self.integrity_checked = True
            try:
                self._db = self._open(check_integrity=True)
            except sqlite3.DatabaseError as second_error:
                raise _open_error(self.path, second_error) from second_error

    # -- integrity ---------------------------------------------------------------------------

    def check_integrity(self) -> list[str]:
        """Run `PRAGMA quick_check` on the file and return what it reports, empty when sound.

        It reads through a second connection and takes no lock, so a worker thread can run it
        while other threads read and write the cache (WAL mode lets readers beside a writer).
        A file that is not a database at all is reported as one problem. When `recover()` ran
        while the check did, the file checked is gone and nothing is reported.
        """
        rebuilds = self._rebuilds
        try:
            db = sqlite3.connect(self.path, timeout=10, check_same_thread=False)
            try:
                problems = [row[0] for row in db.execute("PRAGMA quick_check")]
            finally:
                db.close()
        except sqlite3.DatabaseError as error:
            if not _is_corruption(error):
                raise
            problems = [str(error)]
        if self._rebuilds != rebuilds:
            return []
        if problems == ["ok"]:
            self.integrity_checked = True
            return []
        return problems

    def recover(self, reason: str) -> Path:
        """Move the damaged file aside and start an empty cache; return the moved file's path.

        `reason` goes into the logged warning. Callers use it when `check_integrity()` reports
        problems, or when a read raised an error that `is_damage()` accepts.
        """
        with self._lock:
            if self._db is not None:
                # Windows cannot rename a file that a connection still has open.
                self._db.close()
                self._db = None
            try:
                self.recovered_from = self._move_aside(reason)
            except CacheError:
                # The damaged file stays in place, so keep reading what it still returns.
                self._db = self._open(check_integrity=False)
                raise
            self._rebuilds += 1
            self.integrity_checked = True
            try:
                self._db = self._open(check_integrity=True)
            except sqlite3.DatabaseError as error:
                raise _open_error(self.path, error) from error
            return self.recovered_from

    @staticmethod
    def is_damage(error: sqlite3.DatabaseError) -> bool:
        """Return True when `error` means a damaged file, which `recover` moves aside."""
        return _is_corruption(error)

    # -- users and state history -------------------------------------------------------------

    def replace_users(self, rows: Iterable[UserRow], synced_at: datetime) -> None:
        """Store the result of a full sync: upsert every row and drop the users not in it.

        Users that are gone lose their history, events and pending one-click too. The whole write
        is one transaction, so a reader sees the old table or the new one, never a mix. `rows` may
        be any iterable, and it is consumed once.
        """
        with self._write() as db, _collector_paused():
            current = _current_states(db)
            seen: set[str] = set()
            self._upsert_rows(db, rows, current, synced_at, seen)

            gone = current.keys() - seen
            _delete_users(db, gone)
        log.info("Cache %s: stored %d users from a full sync, dropped %d", self.path.name,
                 len(seen), len(gone))

    def drop_users_except(self, user_ids: Collection[str], record: SyncRecord) -> int:
        """Drop every user not in `user_ids` and record the full sync `record`; return the count.

        Unlike `replace_users` this rewrites no row, for a sync that has stored its rows already
        with `save_rows`. Users that are gone lose their history, events and pending one-click
        too. The drop and the record are one transaction.
        """
        keep = user_ids if isinstance(user_ids, (set, frozenset)) else set(user_ids)
        with self._write() as db:
            gone = [user_id for (user_id,) in db.execute("SELECT id FROM users")
                    if user_id not in keep]
            _delete_users(db, gone)
            _insert_sync(db, record)
        log.info("Cache %s: kept %d users after a full sync, dropped %d", self.path.name,
                 len(keep), len(gone))
        return len(gone)

    def save_rows(self, rows: Iterable[UserRow]) -> None:
        """Store some users after a partial refresh (one user or a set); others stay as they are."""
        rows = list(rows)
        with self._write() as db:
            # Only these users' states, so refreshing one user of 50,000 reads one row.
            current = _current_states(db, [row.user.id for row in rows])
            self._upsert_rows(db, rows, current, datetime.now(UTC), set())

    def load_rows(self, *, limit: int | None = None) -> list[UserRow]:
        """Return every cached user by name, marked `from_cache`, with the check time stored.

        `limit` returns only the first users by name (the window shows them while the rest load).
        """
        query = f"{_SELECT_USERS} ORDER BY name COLLATE NOCASE, id"
        parameters: tuple[int, ...] = ()
        if limit is not None:
            query += " LIMIT ?"
            parameters = (limit,)
        with self._lock, _collector_paused():
            cursor = self._connection().execute(query, parameters)
            return [_row_from_record(record) for record in cursor]

    def load_row(self, user_id: str) -> UserRow | None:
        """Return one cached user, or None when the cache has no such user."""
        with self._lock:
            record = self._connection().execute(
                f"{_SELECT_USERS} WHERE id = ?", (user_id,)
            ).fetchone()
        return _row_from_record(record) if record is not None else None

    def count_users(self) -> int:
        """Return how many users the cache holds."""
        with self._lock:
            return self._connection().execute("SELECT count(*) FROM users").fetchone()[0]

    def state_history(self, user_id: str) -> list[StateChange]:
        """Return every recorded change of this user's connection state, oldest first."""
        with self._lock:
            cursor = self._connection().execute(
                "SELECT state, raw_status, changed_at, previous_state FROM state_history "
                "WHERE user_id = ? ORDER BY seq",
                (user_id,),
            )
            return [
                StateChange(
                    user_id=user_id,
                    state=_state_from_text(state),
                    raw_status=raw_status,
                    changed_at=_datetime_from_text(changed_at) or datetime.min.replace(tzinfo=UTC),
                    previous_state=_state_from_text(previous) if previous is not None else None,
                )
                for state, raw_status, changed_at, previous in cursor
            ]

    # -- credentials -------------------------------------------------------------------------

    def save_credential(self, credential: PanoramaCredential) -> None:
        """Store a credential's non-secret fields as read from Leaf; its tokens are never stored."""
        with self._write() as db:
            db.execute(
                "INSERT OR REPLACE INTO credentials (user_id, id, status, created_time, client_id, "
                "username, organization_code, client_environment, read_at) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    credential.leaf_user_id, credential.id, credential.status,
                    _datetime_to_text(credential.created_time), credential.client_id,
                    credential.username, credential.organization_code,
                    credential.client_environment, _datetime_to_text(datetime.now(UTC)),
                ),
            )

    def load_credential(self, user_id: str) -> PanoramaCredential | None:
        """Return the user's credential as last stored, with empty tokens, or None."""
        with self._lock:
            record = self._connection().execute(
                "SELECT id, status, created_time, client_id, username, organization_code, "
                "client_environment FROM credentials WHERE user_id = ?",
                (user_id,),
            ).fetchone()
        if record is None:
            return None
        credential_id, status, created_time, client_id, username, organization, environment = record
        return PanoramaCredential(
            id=credential_id,
            leaf_user_id=user_id,
            status=status or "",
            created_time=_datetime_from_text(created_time),
            client_id=client_id,
            username=username,
            organization_code=organization,
            client_environment=environment,
        )

    def delete_credential(self, user_id: str) -> None:
        """Forget the user's stored credential, as after deleting it in Leaf."""
        with self._write() as db:
            db.execute("DELETE FROM credentials WHERE user_id = ?", (user_id,))

    # -- credential events -------------------------------------------------------------------

    def save_events(self, user_id: str, events: Iterable[CredentialEvent]) -> int:
        """Add events to this user's log, skipping ids already stored; return how many were new.

        Secret-looking values in headers and bodies (tokens, passwords, authorization) are masked
        before they are written.
        """
        now = _datetime_to_text(datetime.now(UTC))
        params = [
            (
                user_id,
                event.id,
                event.status_code,
                _datetime_to_text(event.created_date),
                json.dumps(redact_json(event.headers), default=str),
                json.dumps(redact_json(event.body), default=str),
                _redact_raw(event.raw_headers),
                _redact_raw(event.raw_body),
                now,
            )
            for event in events
        ]
        with self._write() as db:
            before = db.total_changes
            db.executemany(
                "INSERT OR IGNORE INTO events (user_id, id, status_code, created_date, "
                "headers_json, body_json, raw_headers, raw_body, first_seen_at) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                params,
            )
            added = db.total_changes - before
        log.debug("Cache %s: %d new events of %d for user %s", self.path.name, added,
                  len(params), user_id)
        return added

    def load_events(self, user_id: str) -> list[CredentialEvent]:
        """Return every stored event of this user, newest first (events without a date last)."""
        with self._lock:
            cursor = self._connection().execute(
                "SELECT id, status_code, created_date, headers_json, body_json, raw_headers, "
                "raw_body FROM events WHERE user_id = ? "
                "ORDER BY created_date IS NULL, created_date DESC, id DESC",
                (user_id,),
            )
            return [
                CredentialEvent(
                    id=event_id,
                    leaf_user_id=user_id,
                    status_code=status_code,
                    created_date=_datetime_from_text(created_date),
                    headers=json.loads(headers_json) if headers_json is not None else None,
                    body=json.loads(body_json) if body_json is not None else None,
                    raw_headers=raw_headers,
                    raw_body=raw_body,
                )
                for (event_id, status_code, created_date, headers_json, body_json,
                     raw_headers, raw_body) in cursor
            ]

    # -- pending one-clicks ------------------------------------------------------------------

    def record_pending(self, pending: PendingOneClick) -> None:
        """Record a one-click LeafDesk started, replacing an earlier one for the same user."""
        with self._write() as db:
            db.execute(
                "INSERT OR REPLACE INTO pending_one_clicks (user_id, started_at, expires_at, "
                "started_by, client_id, client_environment, sign_in_url) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)",
                (
                    pending.leaf_user_id,
                    _datetime_to_text(pending.started_at),
                    _datetime_to_text(pending.expires_at),
                    pending.started_by,
                    pending.client_id,
                    pending.client_environment,
                    mask_secrets(pending.sign_in_url),
                ),
            )

    def pending_one_clicks(self) -> list[PendingOneClick]:
        """Return every recorded one-click, expired ones included, oldest first."""
        with self._lock:
            cursor = self._connection().execute(
                "SELECT user_id, started_at, expires_at, started_by, client_id, "
                "client_environment, sign_in_url FROM pending_one_clicks ORDER BY started_at"
            )
            return [
                PendingOneClick(
                    leaf_user_id=user_id,
                    started_at=_datetime_from_text(started_at),
                    expires_at=_datetime_from_text(expires_at),
                    started_by=started_by,
                    client_id=client_id,
                    client_environment=client_environment,
                    sign_in_url=sign_in_url,
                )
                for (user_id, started_at, expires_at, started_by, client_id,
                     client_environment, sign_in_url) in cursor
            ]

    def clear_pending(self, user_id: str) -> None:
        """Forget the one-click recorded for this user, if any."""
        with self._write() as db:
            db.execute("DELETE FROM pending_one_clicks WHERE user_id = ?", (user_id,))

    # -- sync runs ---------------------------------------------------------------------------

    def record_sync(
        self, started_at: datetime, finished_at: datetime, total: int, failed: int, complete: bool
    ) -> None:
        """Record one sync run; `complete` is False when it was cancelled or stopped early."""
        with self._write() as db:
            _insert_sync(db, SyncRecord(started_at, finished_at, total, failed, complete))

    def last_sync(self, *, complete_only: bool = False) -> SyncRecord | None:
        """Return the latest sync run (only complete ones with `complete_only`), or None."""
        where = "WHERE complete = 1 " if complete_only else ""
        with self._lock:
            record = self._connection().execute(
                "SELECT started_at, finished_at, total, failed, complete FROM sync_runs "
                f"{where}ORDER BY finished_at DESC, id DESC LIMIT 1"
            ).fetchone()
        if record is None:
            return None
        started_at, finished_at, total, failed, complete = record
        return SyncRecord(
            started_at=_datetime_from_text(started_at),
            finished_at=_datetime_from_text(finished_at),
            total=total,
            failed=failed,
            complete=bool(complete),
        )

    # -- lifetime ----------------------------------------------------------------------------

    def close(self) -> None:
        """Close the file; later calls raise `CacheError`. Closing twice does nothing."""
        with self._lock:
            if self._db is None:
                return
            try:
                self._db.execute("PRAGMA optimize")
            except sqlite3.Error as error:
                log.debug("PRAGMA optimize failed on %s: %s", self.path, error)
            self._db.close()
            self._db = None

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Cache({str(self.path)!r})"

    # -- internals ---------------------------------------------------------------------------

    def _connection(self) -> sqlite3.Connection:
        # TODO: a file damaged while open (a failing disk, another program writing it) raises
        # sqlite3.DatabaseError from the call that meets it, and is moved aside only at the next
        # open or when the caller calls recover(). Recovering here in the middle of a sync would
        # drop rows the caller believes written.
        if self._db is None:
            raise CacheError(f"The cache {self.path} is closed")
        return self._db

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            db = self._connection()
            # IMMEDIATE takes the write lock up front, so another process writing the same file
            # makes this wait (busy timeout) instead of failing halfway through.
            db.execute("BEGIN IMMEDIATE")
            try:
                yield db
                db.execute("COMMIT")
            except BaseException:
                # SQLite may already have rolled back (a full disk does that), and a second
                # ROLLBACK would hide the first error.
                if db.in_transaction:
                    db.execute("ROLLBACK")
                raise

    def _open(self, *, check_integrity: bool) -> sqlite3.Connection:
        is_new = not self.path.exists()
        db = sqlite3.connect(self.path, timeout=10, isolation_level=None, check_same_thread=False)
        if is_new and os.name == "posix":
            # Growers' names and e-mails are for this user only; SQLite gives the -wal and -shm
            # files the same mode as the database file.
            os.chmod(self.path, 0o600)
        try:
            # Checked before anything writes, so a newer LeafDesk's file stays byte for byte.
            self._check_version(db)

            db.execute("PRAGMA journal_mode = WAL")
            # NORMAL in WAL mode loses nothing when the process dies, only on power loss.
            db.execute("PRAGMA synchronous = NORMAL")
            db.execute("PRAGMA foreign_keys = ON")

            if check_integrity:
                problems = [row[0] for row in db.execute("PRAGMA quick_check")]
                if problems != ["ok"]:
                    error = sqlite3.DatabaseError(
                        f"quick_check reported: {'; '.join(problems[:5])}")
                    error.sqlite_errorcode = _SQLITE_CORRUPT
                    raise error

            self._migrate(db)
        except BaseException:
            db.close()
            raise
        return db

    def _check_version(self, db: sqlite3.Connection) -> None:
        version = db.execute("PRAGMA user_version").fetchone()[0]
        if version > SCHEMA_VERSION:
            raise CacheVersionError(
                f"The cache {self.path} was written by a newer LeafDesk (schema {version}, this "
                f"version reads up to {SCHEMA_VERSION}); update LeafDesk or remove the file"
            )

    def _migrate(self, db: sqlite3.Connection) -> None:
        version = db.execute("PRAGMA user_version").fetchone()[0]
        for target in range(version + 1, SCHEMA_VERSION + 1):
            db.execute("BEGIN IMMEDIATE")
            try:
                for statement in _MIGRATIONS[target - 1]:
                    db.execute(statement)
                # user_version is written inside the transaction, so a crash here leaves the
                # file at the previous version with none of this step applied.
                db.execute(f"PRAGMA user_version = {target}")
            except BaseException:
                # As in `_write`: SQLite may have rolled back already, and a second ROLLBACK
                # would replace the first error with "no transaction is active".
                if db.in_transaction:
                    db.execute("ROLLBACK")
                raise
            db.execute("COMMIT")
            if version > 0:
                log.info("Migrated cache %s to schema %d", self.path, target)

    def _move_aside(self, reason: str) -> Path:
        aside = unused_aside_path(self.path, "corrupt")
        try:
            os.replace(self.path, aside)
        except OSError as error:
            # On Windows another process that has the file open blocks the rename.
            raise CacheError(
                f"The cache {self.path} is damaged ({reason}) and could not be moved aside "
                f"({error}); close other LeafDesk windows and commands, then try again"
            ) from error
        # A write-ahead log left beside the new file would be replayed into it, so it must go.
        for suffix in ("-wal", "-shm"):
            companion = self.path.with_name(self.path.name + suffix)
            if not companion.exists():
                continue
            try:
                os.replace(companion, aside.with_name(aside.name + suffix))
            except OSError as error:
                raise CacheError(
                    f"The damaged cache {self.path} was moved aside but its {companion.name} "
                    f"could not be ({error}); close other LeafDesk windows and commands, then "
                    "try again"
                ) from error

        log.warning("The cache %s could not be read (%s); moved it to %s and started an empty "
                    "cache", self.path, reason, aside.name)
        return aside

    def _upsert_rows(
        self,
        db: sqlite3.Connection,
        rows: Iterable[UserRow],
        current: dict[str, tuple[str, str | None]],
        fallback_time: datetime,
        seen: set[str],
    ) -> None:
        batch: list[tuple[Any, ...]] = []
        changes: list[tuple[Any, ...]] = []

        credential_ids: list[tuple[str, str | None]] = []

        for row in rows:
            user_id = row.user.id
            seen.add(user_id)
            batch.append(_row_params(row))
            credential_ids.append((user_id, row.user.panorama.id if row.user.panorama else None))

            new_state = (row.state.state.value, row.state.raw_status)
            old_state = current.get(user_id)
            if old_state != new_state:
                changed_at = row.state.checked_at or fallback_time
                changes.append((
                    user_id, new_state[0], new_state[1], _datetime_to_text(changed_at),
                    old_state[0] if old_state else None,
                ))
                current[user_id] = new_state

            if len(batch) >= _BATCH_SIZE:
                db.executemany(_INSERT_USER, batch)
                batch.clear()

        db.executemany(_INSERT_USER, batch)
        # A stored credential goes once a row shows another one, or none.
        db.executemany(
            "DELETE FROM credentials WHERE user_id = ? AND id IS NOT ?", credential_ids
        )
        db.executemany(
            "INSERT INTO state_history (user_id, state, raw_status, changed_at, previous_state) "
            "VALUES (?, ?, ?, ?, ?)",
            changes,
        )


@contextmanager
def _collector_paused() -> Iterator[None]:
    # Building 50,000 rows sets off the cyclic garbage collector over and over. Pausing it cut
    # the building of those rows from about 0.7 s to 0.25 s (one measurement on the 2-core build
    # machine). The objects made meanwhile form no cycles.
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _open_error(path: Path, error: sqlite3.DatabaseError) -> CacheError:
    return CacheError(
        f"The cache {path} could not be opened ({error}); check that the folder is writable and "
        "that no other program holds the file"
    )


def _is_corruption(error: sqlite3.DatabaseError) -> bool:
    # Only a damaged file is moved aside; a locked or unreadable one is reported as it is.
    code = getattr(error, "sqlite_errorcode", None)
    if code is not None:
        return code & 0xFF in (_SQLITE_CORRUPT, _SQLITE_NOTADB)
    message = str(error).lower()
    return "not a database" in message or "malformed" in message


def _delete_users(db: sqlite3.Connection, user_ids: Iterable[str]) -> None:
    gone = [(user_id,) for user_id in user_ids]
    for table in ("users", "state_history", "events", "pending_one_clicks", "credentials"):
        column = "id" if table == "users" else "user_id"
        db.executemany(f"DELETE FROM {table} WHERE {column} = ?", gone)


def _insert_sync(db: sqlite3.Connection, record: SyncRecord) -> None:
    db.execute(
        "INSERT INTO sync_runs (started_at, finished_at, total, failed, complete) "
        "VALUES (?, ?, ?, ?, ?)",
        (_datetime_to_text(record.started_at), _datetime_to_text(record.finished_at),
         record.total, record.failed, int(record.complete)),
    )


def _current_states(
    db: sqlite3.Connection, user_ids: list[str] | None = None
) -> dict[str, tuple[str, str | None]]:
    # Every user when `user_ids` is None, else only those (in chunks under SQLite's 999-variable
    # limit of older builds).
    if user_ids is None:
        records: Iterable[tuple[str, str, str | None]] = db.execute(
            "SELECT id, state, raw_status FROM users"
        )
    else:
        records = []
        for start in range(0, len(user_ids), 500):
            chunk = user_ids[start:start + 500]
            marks = ", ".join("?" for _ in chunk)
            records.extend(db.execute(
                f"SELECT id, state, raw_status FROM users WHERE id IN ({marks})", chunk
            ))
    return {user_id: (state, raw_status) for user_id, state, raw_status in records}


def _row_params(row: UserRow) -> tuple[Any, ...]:
    user = row.user
    credential = user.panorama
    state = row.state
    return (
        user.id, user.name, user.email, user.phone, user.address, user.external_id,
        user.api_owner_username,
        credential.id if credential else None,
        credential.status if credential else None,
        _datetime_to_text(credential.created_time) if credential else None,
        state.state.value, state.raw_status, state.actor.value, state.summary, state.next_step,
        _datetime_to_text(state.checked_at),
        row.organization_code, row.client_environment, _datetime_to_text(row.connected_since),
    )


def _row_from_record(record: tuple[Any, ...]) -> UserRow:
    (user_id, name, email, phone, address, external_id, api_owner_username,
     credential_id, credential_status, credential_created,
     state, raw_status, actor, summary, next_step, checked_at,
     organization_code, client_environment, connected_since) = record

    credential = None
    if credential_id is not None:
        credential = CredentialSummary(
            id=credential_id,
            status=credential_status,
            created_time=_datetime_from_text(credential_created),
        )
    user = LeafUser(
        id=user_id, name=name, email=email, phone=phone, address=address,
        external_id=external_id, api_owner_username=api_owner_username, panorama=credential,
    )
    view = StateView(
        state=_state_from_text(state),
        raw_status=raw_status,
        actor=_actor_from_text(actor),
        summary=summary,
        next_step=next_step,
        checked_at=_datetime_from_text(checked_at),
    )
    return UserRow(
        user=user,
        state=view,
        organization_code=organization_code,
        client_environment=client_environment,
        connected_since=_datetime_from_text(connected_since),
        from_cache=True,
    )


# Plain dict lookups: calling the enum classes costs more than the rest of a row at 50,000 rows.
_STATES_BY_VALUE = {state.value: state for state in ConnectionState}
_ACTORS_BY_VALUE = {actor.value: actor for actor in Actor}


def _state_from_text(text: str) -> ConnectionState:
    # A value from a newer LeafDesk reads as unknown rather than failing the whole load.
    return _STATES_BY_VALUE.get(text, ConnectionState.UNKNOWN)


def _actor_from_text(text: str) -> Actor:
    return _ACTORS_BY_VALUE.get(text, Actor.STAFF)


def _datetime_to_text(value: datetime | None) -> str | None:
    # One fixed width, always with microseconds and in UTC, so text order is time order.
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    elif value.tzinfo is not UTC:
        value = value.astimezone(UTC)
    # isoformat is faster than strftime; its "+00:00" ending is swapped for "Z".
    return value.isoformat(timespec="microseconds")[:-6] + "Z"


def _datetime_from_text(text: str | None) -> datetime | None:
    if text is None:
        return None
    value = datetime.fromisoformat(text)
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


# Key names whose values are secrets, compared lowercased without "-" and "_".
_SECRET_KEY_PARTS = ("password", "secret", "authorization", "cookie", "token", "apikey")
# Keys that contain "token" but describe one without holding it.
_HARMLESS_TOKEN_KEY_ENDINGS = ("type", "expiresin", "expiry", "expires", "expiresat", "url", "uri")


def _is_secret_key(key: str) -> bool:
    normalized = key.lower().replace("-", "").replace("_", "")
    if not any(part in normalized for part in _SECRET_KEY_PARTS):
        return False
    return not ("token" in normalized and normalized.endswith(_HARMLESS_TOKEN_KEY_ENDINGS))


def redact_json(value: Any) -> Any:
    """Return a copy of a decoded JSON value with secret members masked and strings scrubbed."""
    if isinstance(value, dict):
        return {
            key: MASK if _is_secret_key(str(key)) and item not in (None, "") else redact_json(item)
            for key, item in value.items()
        }
    if isinstance(value, list):
        return [redact_json(item) for item in value]
    if isinstance(value, str):
        return _redact_raw(value)
    return value


def _redact_raw(text: str | None) -> str | None:
    # A raw string that contains JSON is masked member by member, and any other text by pattern.
    if text is None:
        return None
    stripped = text.strip()
    if stripped[:1] in ("{", "["):
        try:
            decoded = json.loads(stripped)
        except ValueError:
            pass
        else:
            return json.dumps(redact_json(decoded))
    return mask_secrets(text)
