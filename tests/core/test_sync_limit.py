"""Tests of AdaptiveLimit: the bound on requests in flight that halves on 429 and grows back."""

from __future__ import annotations

import asyncio

import pytest

from leafdesk.core.sync import AdaptiveLimit


async def _busy(limit: AdaptiveLimit, peak: list[int], active: list[int], pause: float) -> None:
    async with limit:
        active[0] += 1
        peak[0] = max(peak[0], active[0])
        await asyncio.sleep(pause)
        active[0] -= 1


@pytest.mark.asyncio
async def test_limit_bounds_requests_in_flight():
    limit = AdaptiveLimit(3)
    peak, active = [0], [0]
    await asyncio.gather(*(_busy(limit, peak, active, 0.01) for _ in range(20)))
    assert peak[0] == 3


@pytest.mark.asyncio
async def test_rate_limit_halves_then_grows_back():
    limit = AdaptiveLimit(8)
    limit.rate_limited()
    assert limit.size == 4
    limit.rate_limited()
    limit.rate_limited()
    limit.rate_limited()
    assert limit.size == 1
    assert limit.lowest == 1

    for _ in range(4):
        limit.succeeded()
    assert limit.size == 2
    for _ in range(200):
        limit.succeeded()
    assert limit.size == 8
    assert limit.lowest == 1


@pytest.mark.asyncio
async def test_lowered_limit_applies_to_waiting_requests():
    limit = AdaptiveLimit(4)
    peak, active = [0], [0]
    limit.rate_limited()
    limit.rate_limited()
    await asyncio.gather(*(_busy(limit, peak, active, 0.005) for _ in range(10)))
    assert peak[0] == 1


@pytest.mark.asyncio
async def test_cancelled_waiter_passes_its_slot_on():
    limit = AdaptiveLimit(1)
    await limit.acquire()
    first = asyncio.create_task(limit.acquire())
    second = asyncio.create_task(limit.acquire())
    await asyncio.sleep(0)

    limit.release()  # hands the slot to `first` ...
    first.cancel()  # ... which is cancelled before it runs
    await asyncio.wait_for(second, timeout=1)
    assert first.cancelled()
    limit.release()
    await asyncio.wait_for(limit.acquire(), timeout=1)


def test_limit_rejects_zero():
    with pytest.raises(ValueError):
        AdaptiveLimit(0)
