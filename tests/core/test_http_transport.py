"""Tests of the HTTP layer over real loopback sockets: offline versus TLS failures, and TLS that
works once the certificate's authority is trusted.

The TLS server is a few lines of asyncio on 127.0.0.1 with a certificate made by `trustme` in
the test, so no certificate file outlives the test.
"""

from __future__ import annotations

import asyncio
import json
import socket
import ssl

import httpx
import pytest
import pytest_asyncio
import trustme

from leafdesk.core.client import LeafClient
from leafdesk.core.errors import OfflineError, TlsError, ValidationError
from leafdesk.core.http import RetryPolicy, classify_transport_error

FAST_RETRY = RetryPolicy(max_attempts=3, base_delay=0.01, max_delay=0.02, max_total=2.0)


def closed_loopback_port() -> int:
    """Return a port on 127.0.0.1 that nothing listens on (bound, then released)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


async def answer_sign_in(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Answer one HTTP/1.1 request with a sign-in body, enough for `LeafClient.sign_in`."""
    try:
        head = await reader.readuntil(b"\r\n\r\n")
        length = 0
        for line in head.split(b"\r\n"):
            if line.lower().startswith(b"content-length:"):
                length = int(line.split(b":", 1)[1])
        await reader.readexactly(length)
        body = json.dumps({"id_token": "not-a-jwt"}).encode()
        writer.write(
            b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
            + f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode()
            + body
        )
        await writer.drain()
    except (asyncio.IncompleteReadError, ConnectionError, ssl.SSLError):
        pass
    finally:
        writer.close()


@pytest.fixture
def certificate_authority() -> trustme.CA:
    return trustme.CA()


@pytest_asyncio.fixture
async def tls_server(certificate_authority):
    """Serve HTTPS on 127.0.0.1 with a certificate no system store trusts; yield its URL."""
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    certificate_authority.issue_cert("127.0.0.1").configure_cert(server_context)
    server = await asyncio.start_server(answer_sign_in, "127.0.0.1", 0, ssl=server_context)
    port = server.sockets[0].getsockname()[1]
    yield f"https://127.0.0.1:{port}"
    server.close()
    await server.wait_closed()


@pytest.mark.asyncio
async def test_closed_port_is_offline():
    client = LeafClient(f"http://127.0.0.1:{closed_loopback_port()}", "owner", "pw",
                        retry=FAST_RETRY)
    with pytest.raises(OfflineError) as caught:
        await client.sign_in()
    await client.aclose()

    error = caught.value
    assert not isinstance(error, TlsError)
    assert "refused" in error.message
    assert error.sentence().startswith("Could not sign in to Leaf: ")
    assert "pw" not in (error.details or "")
    # Signing in is repeatable, so the refused connection was tried max_attempts times.
    assert client.requests_sent == FAST_RETRY.max_attempts


@pytest.mark.asyncio
async def test_untrusted_certificate_is_tls_error(tls_server):
    client = LeafClient(tls_server, "owner", "pw", retry=FAST_RETRY)
    with pytest.raises(TlsError) as caught:
        await client.sign_in()
    await client.aclose()

    error = caught.value
    assert not isinstance(error, OfflineError)
    assert "certificate" in error.message
    assert error.sentence().endswith(".")
    # A certificate that was not trusted will not be trusted on a retry.
    assert client.requests_sent == 1


@pytest.mark.asyncio
async def test_trusted_authority_connects(tls_server, certificate_authority):
    context = ssl.create_default_context()
    certificate_authority.configure_trust(context)
    client = LeafClient(tls_server, "owner", "pw", ssl_context=context, retry=FAST_RETRY)
    await client.sign_in()
    assert client.signed_in
    # The token is not a JWT, so there is no expiry to read.
    assert client.token_expires_at is None
    await client.aclose()


@pytest.mark.asyncio
async def test_plain_http_to_tls_port_is_not_tls_error(tls_server):
    # Speaking plain HTTP to a TLS port breaks the exchange without any certificate involved.
    client = LeafClient(tls_server.replace("https://", "http://"), "owner", "pw",
                        retry=FAST_RETRY)
    with pytest.raises(OfflineError):
        await client.sign_in()
    await client.aclose()


def test_dns_failure_is_offline_with_dns_sentence():
    # Resolving a real name would reach a DNS server, so the failure httpx raises is built here.
    error = httpx.ConnectError("[Errno -2] Name or service not known")
    error.__cause__ = socket.gaierror(-2, "Name or service not known")
    failure = classify_transport_error(error, method="GET", path="/api")
    assert failure.kind is OfflineError
    assert "DNS" in failure.message
    assert failure.request_not_sent


def test_read_timeout_may_have_been_sent():
    failure = classify_transport_error(httpx.ReadTimeout("timed out"), method="POST", path="/x")
    assert failure.kind.__name__ == "TimedOutError"
    assert not failure.request_not_sent


@pytest.mark.parametrize("base_url", ["ftp://leaf.example", "leaf.example", "https://", ""])
def test_base_url_must_be_http(base_url):
    with pytest.raises(ValidationError) as caught:
        LeafClient(base_url, "owner", "pw")
    error = caught.value
    assert error.for_field("base_url").startswith("must start with http:// or https://")
    assert error.sentence().startswith("Could not connect to Leaf: the Leaf address must start")


@pytest.mark.asyncio
async def test_base_url_trailing_slash_dropped():
    client = LeafClient("  https://api.withleaf.io/  ", "owner", "pw")
    assert client.base_url == "https://api.withleaf.io"
    # Nothing was sent: the client only connects when a call needs it.
    assert client.requests_sent == 0
    await client.aclose()
