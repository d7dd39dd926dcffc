"""Time one full sync of 50,000 users written to the offline cache and read back.

Baseline: the same rows, flattened to tuples, written with one plain `executemany` into a bare
table with no primary key or index and read back as raw tuples. The ratio is what the cache's
upsert, state history, WAL and typed rows cost on top of SQLite itself.

Run: python bench/cache_50k.py [--users N] [--repeat R]
"""

from __future__ import annotations

import argparse
import platform
import sqlite3
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from leafdesk.core.cache import Cache
from leafdesk.core.model import (
    Actor,
    ConnectionState,
    CredentialSummary,
    LeafUser,
    StateView,
    UserRow,
)

BASE_TIME = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
STATUSES = [
    ("OK", ConnectionState.CONNECTED, Actor.NOBODY),
    ("UNAUTHENTICATED", ConnectionState.NEEDS_REAUTHORIZATION, Actor.GROWER),
    ("MISSING_PERMISSION", ConnectionState.MISSING_PERMISSION, Actor.GROWER),
    ("TEMPORARILY_UNAVAILABLE", ConnectionState.PROVIDER_UNAVAILABLE, Actor.PROVIDER),
]


def make_rows(count: int) -> list[UserRow]:
    """Return `count` users-table rows shaped like a sandbox sync: most connected, some not."""
    rows = []
    for index in range(count):
        status, state, actor = STATUSES[0] if index % 5 else STATUSES[index % 4]
        checked_at = BASE_TIME + timedelta(milliseconds=index)
        rows.append(UserRow(
            user=LeafUser(
                id=f"00000000-0000-4000-8000-{index:012d}",
                name=f"Grower {index:05d}",
                email=f"grower{index}@farm.test",
                phone="+1 555 0100",
                address=f"{index} Field Road, Springfield",
                external_id=f"ext-{index}",
                api_owner_username="owner@leafdesk.test",
                panorama=CredentialSummary(id=f"cred-{index}", status=status,
                                           created_time=BASE_TIME - timedelta(days=30)),
            ),
            state=StateView(state=state, raw_status=status, actor=actor,
                            summary="A sentence about the state of this connection.",
                            next_step="A sentence saying what to do next.",
                            checked_at=checked_at),
            organization_code=f"ORG-{index}",
            client_environment="PRODUCTION",
            connected_since=BASE_TIME - timedelta(days=30),
        ))
    return rows


def flatten(row: UserRow) -> tuple:
    """Return the row as the plain tuple the baseline stores: the same 19 values, times as text."""
    user, state, credential = row.user, row.state, row.user.panorama
    return (
        user.id, user.name, user.email, user.phone, user.address, user.external_id,
        user.api_owner_username, credential.id, credential.status,
        credential.created_time.isoformat(), state.state.value, state.raw_status,
        state.actor.value, state.summary, state.next_step, state.checked_at.isoformat(),
        row.organization_code, row.client_environment, row.connected_since.isoformat(),
    )


def time_cache(folder: Path, rows: list[UserRow]) -> tuple[float, float]:
    """Return seconds to write the rows with one `replace_users` and to read them back."""
    with Cache(folder / "cache.sqlite3") as cache:
        started = time.perf_counter()
        cache.replace_users(rows, BASE_TIME)
        written = time.perf_counter()
        loaded = cache.load_rows()
        read = time.perf_counter()
    assert len(loaded) == len(rows)
    return written - started, read - written


def time_baseline(folder: Path, rows: list[UserRow]) -> tuple[float, float]:
    """Return seconds to flatten and insert the rows into a bare table and to select them back."""
    db = sqlite3.connect(folder / "bare.sqlite3", isolation_level=None)
    db.execute("CREATE TABLE users (" + ", ".join(f"c{i}" for i in range(19)) + ")")
    started = time.perf_counter()
    db.execute("BEGIN")
    db.executemany(f"INSERT INTO users VALUES ({', '.join('?' * 19)})", [flatten(r) for r in rows])
    db.execute("COMMIT")
    written = time.perf_counter()
    loaded = db.execute("SELECT * FROM users").fetchall()
    read = time.perf_counter()
    db.close()
    assert len(loaded) == len(rows)
    return written - started, read - written


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=50_000, help="rows per sync (default 50000)")
    parser.add_argument("--repeat", type=int, default=3, help="runs to take the median of")
    options = parser.parse_args()

    rows = make_rows(options.users)
    cache_writes, cache_reads, bare_writes, bare_reads = [], [], [], []
    for _ in range(options.repeat):
        with tempfile.TemporaryDirectory() as folder:
            write, read = time_cache(Path(folder), rows)
            cache_writes.append(write)
            cache_reads.append(read)
            write, read = time_baseline(Path(folder), rows)
            bare_writes.append(write)
            bare_reads.append(read)

    cache_write, cache_read = statistics.median(cache_writes), statistics.median(cache_reads)
    bare_write, bare_read = statistics.median(bare_writes), statistics.median(bare_reads)
    print(f"{options.users} users, median of {options.repeat} runs, Python "
          f"{platform.python_version()}, SQLite {sqlite3.sqlite_version}, {platform.machine()}")
    print(f"{'':28}{'cache':>10}{'baseline':>10}{'ratio':>8}")
    print(f"{'write (one full sync)':28}{cache_write:>9.3f}s{bare_write:>9.3f}s"
          f"{cache_write / bare_write:>7.1f}x")
    print(f"{'read back':28}{cache_read:>9.3f}s{bare_read:>9.3f}s{cache_read / bare_read:>7.1f}x")
    total_cache, total_bare = cache_write + cache_read, bare_write + bare_read
    print(f"{'write + read':28}{total_cache:>9.3f}s{total_bare:>9.3f}s"
          f"{total_cache / total_bare:>7.1f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
