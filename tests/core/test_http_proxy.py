"""Tests that the Leaf client takes its HTTP proxy from the environment.

A small forward proxy on 127.0.0.1 relays to a loopback sandbox. The client is given an address
no resolver knows (`leaf.test`), so the request can only arrive through the proxy.
"""

from __future__ import annotations

import asyncio
import socket
from urllib.parse import urlsplit

import pytest
import pytest_asyncio

from leafdesk.core.client import LeafClient
from leafdesk.core.errors import OfflineError
from leafdesk.core.http import RetryPolicy
from leafdesk.sandbox import DEMO, SandboxConfig, start_background_server

pytestmark = pytest.mark.asyncio

FAST_RETRY = RetryPolicy(max_attempts=2, base_delay=0.01, max_delay=0.02, max_total=2.0)


class ForwardProxy:
    """An HTTP/1.1 forward proxy for plain http:// targets, one request per connection.

    Every target host is sent to `upstream` (host, port), which stands in for Leaf.
    """

    def __init__(self, upstream: tuple[str, int]) -> None:
        self.upstream = upstream
        self.targets: list[str] = []
        self.server: asyncio.base_events.Server | None = None

    async def start(self) -> str:
        self.server = await asyncio.start_server(self.relay, "127.0.0.1", 0)
        port = self.server.sockets[0].getsockname()[1]
        return f"http://127.0.0.1:{port}"

    async def stop(self) -> None:
        assert self.server is not None
        self.server.close()
        await self.server.wait_closed()

    async def relay(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
            request_line, _, header_block = head.partition(b"\r\n")
            method, target, version = request_line.decode("latin-1").split(" ")
            self.targets.append(f"{method} {target}")

            # A proxy receives the absolute URL and sends the origin its path only.
            parts = urlsplit(target)
            path = parts.path + (f"?{parts.query}" if parts.query else "")
            headers = [line for line in header_block.split(b"\r\n")
                       if line and not line.lower().startswith((b"connection:", b"proxy-"))]
            length = 0
            for line in headers:
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":", 1)[1])
            body = await reader.readexactly(length) if length else b""

            upstream_reader, upstream_writer = await asyncio.open_connection(*self.upstream)
            upstream_writer.write(
                f"{method} {path} {version}\r\n".encode("latin-1")
                + b"\r\n".join(headers) + b"\r\nConnection: close\r\n\r\n" + body
            )
            await upstream_writer.drain()
            response = await upstream_reader.read()
            upstream_writer.close()

            writer.write(response)
            await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()


@pytest.fixture(scope="module")
def sandbox():
    server = start_background_server(SandboxConfig(users=20, seed=5, health=False),
                                     host="127.0.0.1", port=0)
    yield server
    server.stop()


@pytest_asyncio.fixture
async def proxy(sandbox):
    address = urlsplit(sandbox.base_url)
    forward = ForwardProxy((address.hostname, address.port))
    url = await forward.start()
    yield forward, url
    await forward.stop()


async def test_requests_go_through_env_proxy(proxy, monkeypatch):
    forward, url = proxy
    monkeypatch.setenv("HTTP_PROXY", url)
    monkeypatch.setenv("NO_PROXY", "")

    client = LeafClient("http://leaf.test", DEMO.owner_username, DEMO.owner_password,
                        retry=FAST_RETRY)
    users = await client.list_users()
    await client.aclose()

    assert len(users) == 20
    assert forward.targets[0] == "POST http://leaf.test/api/authenticate"
    assert any(target.startswith("GET http://leaf.test/services/usermanagement/api/users?")
               for target in forward.targets)


async def test_no_proxy_bypasses_proxy(proxy, sandbox, monkeypatch):
    forward, url = proxy
    monkeypatch.setenv("HTTP_PROXY", url)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")

    client = LeafClient(sandbox.base_url, DEMO.owner_username, DEMO.owner_password,
                        retry=FAST_RETRY)
    await client.sign_in()
    await client.aclose()
    assert forward.targets == []


async def test_unreachable_proxy_is_offline(monkeypatch):
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    monkeypatch.setenv("HTTP_PROXY", f"http://127.0.0.1:{closed_port}")
    monkeypatch.setenv("NO_PROXY", "")
    client = LeafClient("http://leaf.test", DEMO.owner_username, DEMO.owner_password,
                        retry=FAST_RETRY)
    with pytest.raises(OfflineError):
        await client.sign_in()
    await client.aclose()
