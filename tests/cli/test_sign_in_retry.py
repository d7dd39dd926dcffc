"""Tests of signing in when Leaf's response to the sign-in arrives damaged.

The sandbox's `malformed` fault returns 200 with a truncated JSON body. Signing in changes
nothing at Leaf, so the client sends it again within its retry policy instead of giving up on the
first damaged response.
"""

from __future__ import annotations

import httpx
import pytest

from leafdesk.cli import run
from leafdesk.core.client import LeafClient
from leafdesk.core.errors import MalformedResponseError
from leafdesk.core.http import RetryPolicy
from leafdesk.sandbox import DEMO, SandboxConfig, start_background_server

FAST_RETRY = RetryPolicy(max_attempts=3, base_delay=0.01, max_delay=0.05, max_total=10.0)
TRUNCATED = b'{"id_token": "eyJh'


def _sign_in_server(bodies: list[bytes]) -> tuple[httpx.MockTransport, list[int]]:
    """Return a transport returning each sign-in with the next body, and the list of calls."""
    calls: list[int] = []

    def answer(request: httpx.Request) -> httpx.Response:
        calls.append(1)
        body = bodies[min(len(calls), len(bodies)) - 1]
        return httpx.Response(200, content=body, headers={"Content-Type": "application/json"})

    return httpx.MockTransport(answer), calls


@pytest.mark.asyncio
async def test_damaged_sign_in_is_retried():
    transport, calls = _sign_in_server([TRUNCATED, b'{"id_token": "token-value"}'])
    async with LeafClient("http://127.0.0.1:9", "owner", "secret", transport=transport,
                          retry=FAST_RETRY) as client:
        await client.sign_in()
        assert client.signed_in
    assert len(calls) == 2


@pytest.mark.asyncio
async def test_damaged_sign_in_gives_up_after_budget():
    transport, calls = _sign_in_server([TRUNCATED])
    async with LeafClient("http://127.0.0.1:9", "owner", "secret", transport=transport,
                          retry=FAST_RETRY) as client:
        with pytest.raises(MalformedResponseError) as raised:
            await client.sign_in()
    assert len(calls) == FAST_RETRY.max_attempts
    assert "damaged" in raised.value.sentence()
    assert "try again" in raised.value.sentence()


@pytest.mark.loopback
def test_status_reports_damaged_sign_in(monkeypatch, capsys):
    monkeypatch.setenv("LEAFDESK_PASSWORD", DEMO.owner_password)
    server = start_background_server(SandboxConfig(users=5, seed=2, controls=True, health=False))
    try:
        with httpx.Client(base_url=server.base_url) as http:
            http.post("/_sandbox/faults", json={"fault_rate": 1.0, "faults": ["malformed"]})
        code = run(["status", "--base-url", server.base_url, "--username", DEMO.owner_username])
    finally:
        server.stop()
    err = capsys.readouterr().err
    assert code == 2
    assert "response to the sign-in was damaged" in err
    assert "try again" in err
