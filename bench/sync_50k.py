"""Time one full refresh of 50,000 users into a fresh cache, and reading them back.

The baseline beside it is the user listing alone (the same pages from the same sandbox, with
no rows built and nothing written), so the difference is what the sync and the cache add. The
sandbox embeds credential statuses in user records and adds no latency; the time it takes to
generate its 50,000 demo users is reported separately.

    python bench/sync_50k.py [--users 50000]
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from sync_support import new_client, sandbox_process

from leafdesk.core.cache import Cache
from leafdesk.core.sync import SyncService


async def list_only(base_url: str) -> tuple[float, int]:
    client = new_client(base_url, max_connections=4)
    await client.sign_in()
    started = time.perf_counter()
    count = 0
    async for page in client.iter_user_pages():
        count += len(page)
    elapsed = time.perf_counter() - started
    await client.aclose()
    return elapsed, count


async def sync_and_read(base_url: str, path: Path) -> tuple[float, float, int, int]:
    client = new_client(base_url, max_connections=10)
    await client.sign_in()
    cache = Cache(path)
    started = time.perf_counter()
    result = await SyncService(client, cache).refresh_all()
    synced = time.perf_counter() - started
    await client.aclose()
    cache.close()

    started = time.perf_counter()
    reopened = Cache(path)
    rows = reopened.load_rows()
    read = time.perf_counter() - started
    reopened.close()
    if not result.complete:
        raise RuntimeError(f"the refresh did not finish: {result.error}")
    return synced, read, len(rows), result.requests


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=50_000)
    args = parser.parse_args()

    with sandbox_process(users=args.users, seed=1, health=False) as sandbox, \
            tempfile.TemporaryDirectory() as folder:
        listed_seconds, listed = asyncio.run(list_only(sandbox.base_url))
        synced, read, rows, requests = asyncio.run(
            sync_and_read(sandbox.base_url, Path(folder) / "bench.sqlite3"))

    print(f"{args.users} users; the sandbox generated them in {sandbox.generate_seconds:.1f} s")
    print(f"baseline, listing only: {listed_seconds:.2f} s for {listed} users")
    print(f"full refresh into a fresh cache: {synced:.2f} s, {requests} requests "
          f"-> {synced / listed_seconds:.2f}x the listing")
    print(f"read back {rows} rows (open + load_rows): {read:.2f} s")
    print(f"refresh + read back: {synced + read:.2f} s")


if __name__ == "__main__":
    main()
