"""Count the requests a full refresh sends per 100 users, with statuses embedded and without.

With the credential status embedded in each user record (Leaf's documented pattern, the
sandbox's default), a refresh needs one sign-in and one page per 100 users. The baseline is the
same refresh when records carry only the credential id, which costs one more GET per connected
user.

    python bench/sync_requests.py [--users 2000]
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from sync_support import new_client, sandbox_process, set_knobs

from leafdesk.core.cache import Cache
from leafdesk.core.sync import SyncService


async def count_requests(base_url: str, users: int, embed: str) -> int:
    await set_knobs(base_url, embed_credentials=embed)
    client = new_client(base_url, max_connections=10)
    with tempfile.TemporaryDirectory() as folder:
        cache = Cache(Path(folder) / "bench.sqlite3")
        result = await SyncService(client, cache, concurrency=8).refresh_all()
        cache.close()
    await client.aclose()
    if not result.complete or result.total != users:
        raise RuntimeError(f"the refresh did not finish cleanly: {result}")
    return result.requests


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=2000)
    args = parser.parse_args()

    with sandbox_process(users=args.users, seed=1, health=False, controls=True) as sandbox:
        embedded = asyncio.run(count_requests(sandbox.base_url, args.users, "full"))
        ids_only = asyncio.run(count_requests(sandbox.base_url, args.users, "id"))

    per_hundred = 100 / args.users
    print(f"{args.users} users, one sign-in included in each count")
    print(f"statuses embedded: {embedded} requests = {embedded * per_hundred:.2f} per 100 users")
    print(f"credential ids only: {ids_only} requests = {ids_only * per_hundred:.2f} per 100 users")
    print(f"ids only / embedded = {ids_only / embedded:.1f}x")


if __name__ == "__main__":
    main()
