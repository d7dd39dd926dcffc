"""Tests of SyncService over real sockets on 127.0.0.1: cancelling, 429 storms, a killed sync."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import textwrap
import time

import httpx
import pytest

from leafdesk.core.cache import Cache
from leafdesk.core.client import LeafClient
from leafdesk.core.http import RetryPolicy
from leafdesk.core.sync import SyncService
from leafdesk.sandbox import DEMO, SandboxConfig, start_background_server

pytestmark = pytest.mark.loopback

FAST_RETRY = RetryPolicy(max_attempts=6, base_delay=0.01, max_delay=0.2, max_total=10.0)


@pytest.fixture
def sandbox():
    server = start_background_server(
        SandboxConfig(users=120, seed=5, controls=True, embed_credentials="id", health=False,
                      latency_ms=10),
    )
    yield server
    server.stop()


@pytest.fixture
def cache(tmp_path):
    opened = Cache(tmp_path / "cache.sqlite3")
    yield opened
    opened.close()


def _client(server, **options) -> LeafClient:
    return LeafClient(server.base_url, DEMO.owner_username, DEMO.owner_password,
                      retry=FAST_RETRY, **options)


@pytest.mark.asyncio
async def test_cancel_midway_keeps_rows_and_client(sandbox, cache, monkeypatch):
    # Small batches, so the rows read before the cancel are already committed.
    monkeypatch.setattr("leafdesk.core.sync.BATCH_ROWS", 5)
    client = _client(sandbox, max_connections=4)
    done = asyncio.Event()

    def progress(finished: int, total: int, failed: int) -> None:
        if finished >= 40:
            done.set()

    task = asyncio.create_task(SyncService(client, cache, concurrency=3).refresh_all(progress))
    await asyncio.wait_for(done.wait(), timeout=30)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task

    cached = cache.count_users()
    assert 35 <= cached < 120
    last = cache.last_sync()
    assert last is not None
    assert not last.complete

    # The same client still completes a normal request after the cancel.
    users = await client.list_users()
    assert len(users) == 120
    await client.aclose()


@pytest.mark.asyncio
async def test_twenty_cancelled_refreshes_then_one_succeeds(sandbox, cache):
    client = _client(sandbox, max_connections=2)
    service = SyncService(client, cache, concurrency=2)

    for attempt in range(20):
        task = asyncio.create_task(service.refresh_all())
        # Cancel at varied points: before the first request, mid-page, mid-credential reads.
        await asyncio.sleep(0.005 * (attempt % 7))
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    result = await asyncio.wait_for(service.refresh_all(), timeout=60)
    await client.aclose()

    assert result.complete
    assert result.failed == 0
    assert cache.count_users() == 120


@pytest.mark.asyncio
async def test_rate_limit_lowers_concurrency(sandbox, cache):
    async with httpx.AsyncClient(base_url=sandbox.base_url) as controls:
        answer = await controls.post("/_sandbox/faults",
                                     json={"rate_limit": 40, "latency_ms": 0})
        assert answer.status_code == 200

    client = _client(sandbox, max_connections=10)
    result = await asyncio.wait_for(SyncService(client, cache, concurrency=8).refresh_all(),
                                    timeout=90)
    rate_limited = client.rate_limited_count
    await client.aclose()

    assert rate_limited > 0
    assert result.lowest_concurrency < 8
    assert result.complete
    assert result.failed == 0
    assert cache.count_users() == 120


_KILLED_SYNC = textwrap.dedent("""
    import asyncio, sys
    from leafdesk.core.cache import Cache
    from leafdesk.core.client import LeafClient
    from leafdesk.core.sync import SyncService
    import leafdesk.core.sync as sync

    sync.BATCH_ROWS = 10
    base_url, username, password, path = sys.argv[1:5]

    def progress(done, total, failed):
        print(done, flush=True)

    async def main():
        client = LeafClient(base_url, username, password, max_connections=3)
        await SyncService(client, Cache(path), concurrency=2).refresh_all(progress)

    asyncio.run(main())
""")


def test_killed_sync_leaves_committed_rows(sandbox, tmp_path):
    async def slow_down() -> None:
        async with httpx.AsyncClient(base_url=sandbox.base_url) as controls:
            await controls.post("/_sandbox/faults", json={"latency_ms": 30})

    asyncio.run(slow_down())
    path = tmp_path / "killed.sqlite3"
    process = subprocess.Popen(
        [sys.executable, "-c", _KILLED_SYNC, sandbox.base_url, DEMO.owner_username,
         DEMO.owner_password, str(path)],
        stdout=subprocess.PIPE, text=True, env={**os.environ},
    )
    deadline = time.monotonic() + 60
    try:
        for line in process.stdout:
            if int(line) >= 50 or time.monotonic() > deadline:
                break
        process.send_signal(signal.SIGKILL)
    finally:
        process.wait(timeout=10)
    assert process.returncode == -signal.SIGKILL

    reopened = Cache(path)
    try:
        assert reopened.recovered_from is None
        rows = reopened.load_rows()
        assert 40 <= len(rows) < 120
        assert all(row.state.checked_at is not None for row in rows)
        assert reopened.last_sync() is None
    finally:
        reopened.close()


@pytest.mark.asyncio
async def test_overlapping_runs_share_rate_limit_hook(sandbox, cache):
    async with httpx.AsyncClient(base_url=sandbox.base_url) as controls:
        await controls.post("/_sandbox/faults", json={"rate_limit": 40, "latency_ms": 0})
    heard: list[float | None] = []
    client = _client(sandbox, max_connections=10, on_rate_limited=heard.append)
    service = SyncService(client, cache, concurrency=8)
    users = await client.list_users()

    full, some = await asyncio.wait_for(asyncio.gather(
        service.refresh_all(), service.refresh_users([user.id for user in users[:30]])),
        timeout=90)
    await client.aclose()

    assert full.complete
    assert some.complete
    assert full.lowest_concurrency < 8
    assert some.lowest_concurrency < 8
    # The caller's own hook kept hearing every 429 and is back in place afterwards.
    assert len(heard) == client.rate_limited_count
    assert client.on_rate_limited == heard.append
