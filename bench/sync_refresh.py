"""Time a full refresh of 2,000 users at concurrency 16 against its two baselines.

The sandbox adds 50 ms to every request and embeds only the credential id in user records, so
each connected user costs one more GET. Beside the refresh run (1) the latency-bound ideal,
2,000 x 50 ms / 16, and (2) a plain sequential loop over the same requests with the same client.

    python bench/sync_refresh.py [--users 2000] [--concurrency 16] [--latency-ms 50]
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


async def refresh(base_url: str, users: int, concurrency: int) -> tuple[float, int, int]:
    client = new_client(base_url, max_connections=concurrency + 2)
    await client.sign_in()
    with tempfile.TemporaryDirectory() as folder:
        cache = Cache(Path(folder) / "bench.sqlite3")
        started = time.perf_counter()
        cpu_started = time.process_time()
        result = await SyncService(client, cache, concurrency=concurrency).refresh_all()
        elapsed = time.perf_counter() - started
        print(f"  refresh run: {elapsed:.2f} s, client process CPU "
              f"{time.process_time() - cpu_started:.2f} s")
        cache.close()
    await client.aclose()
    if not result.complete or result.failed or result.total != users:
        raise RuntimeError(f"the refresh did not finish cleanly: {result}")
    return elapsed, result.requests, result.lowest_concurrency


async def sequential(base_url: str) -> tuple[float, int]:
    client = new_client(base_url, max_connections=2)
    await client.sign_in()
    before = client.requests_sent
    started = time.perf_counter()
    async for page in client.iter_user_pages():
        for user in page:
            if user.panorama is not None and user.panorama.status is None:
                await client.get_panorama_credential(user.id)
    elapsed = time.perf_counter() - started
    requests = client.requests_sent - before
    await client.aclose()
    return elapsed, requests


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--latency-ms", type=float, default=50)
    parser.add_argument("--runs", type=int, default=3, help="refresh runs; the median is shown")
    parser.add_argument("--skip-sequential", action="store_true",
                        help="leave out the sequential loop (it takes about a minute)")
    args = parser.parse_args()
    latency = args.latency_ms / 1000

    with sandbox_process(users=args.users, seed=1, latency_ms=args.latency_ms,
                         embed_credentials="id", health=False, controls=True) as sandbox:
        timings = []
        for _ in range(args.runs):
            elapsed, requests, lowest = asyncio.run(
                refresh(sandbox.base_url, args.users, args.concurrency))
            timings.append(elapsed)
        refresh_time = sorted(timings)[len(timings) // 2]
        sequential_time = sequential_requests = None
        if not args.skip_sequential:
            sequential_time, sequential_requests = asyncio.run(sequential(sandbox.base_url))

    ideal = args.users * latency / args.concurrency
    ideal_sent = requests * latency / args.concurrency
    print(f"{args.users} users, {args.latency_ms:g} ms a request, concurrency {args.concurrency}, "
          f"credential ids only in user records")
    print(f"refresh: {refresh_time:.2f} s median of {args.runs} "
          f"({', '.join(f'{t:.2f}' for t in timings)}), {requests} requests, "
          f"lowest concurrency {lowest}")
    print(f"ideal {args.users} x {args.latency_ms:g} ms / {args.concurrency}: {ideal:.2f} s "
          f"-> refresh / ideal = {refresh_time / ideal:.2f}")
    print(f"ideal for the {requests} requests sent: {ideal_sent:.2f} s "
          f"-> refresh / ideal = {refresh_time / ideal_sent:.2f}")
    if sequential_time is not None:
        print(f"sequential loop: {sequential_time:.2f} s, {sequential_requests} requests "
              f"-> sequential / refresh = {sequential_time / refresh_time:.1f}x")


if __name__ == "__main__":
    main()
