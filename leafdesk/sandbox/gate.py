"""The ASGI middleware in front of every sandbox route.

For the Leaf API routes it applies, in order: the rate limit (429 with Retry-After), added
latency, injected faults, and the bearer-token check. Test controls, the share page and the
front page at `/` pass straight through. Around everything it catches any exception, logs it
and returns a 500 problem, so a client never gets a traceback.
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import time
from collections.abc import Awaitable, Callable
from typing import Any

from .problems import problem_body
from .state import SandboxState

log = logging.getLogger(__name__)

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]

CONTROLS_PREFIX = "/_sandbox"
SHARE_PREFIX = "/panorama-share/"
SIGN_IN_PATH = "/api/authenticate"
_MUTATING = frozenset({"POST", "PUT", "DELETE", "PATCH"})


class InjectedReset(ConnectionResetError):
    """The "reset" fault when there is no socket to drop (httpx's ASGI transport)."""


class RateLimiter:
    """A token bucket over all API requests, refilled at the knob's rate per real second.

    The bucket has room for one second's worth of requests, so a burst above the rate gets
    429 at once. [ours: Leaf publishes no rate limits]
    """

    def __init__(self) -> None:
        self._tokens = 0.0
        self._rate: float | None = None
        self._updated = time.monotonic()

    def reset(self) -> None:
        self._rate = None

    def acquire(self, rate: float | None) -> float:
        """Take one request from the bucket and return 0, or the seconds to wait when empty."""
        if rate is None:
            self._rate = None
            return 0.0
        now = time.monotonic()
        if self._rate != rate:
            self._rate = rate
            self._tokens = max(1.0, rate)
            self._updated = now
        capacity = max(1.0, rate)
        self._tokens = min(capacity, self._tokens + (now - self._updated) * rate)
        self._updated = now
        if self._tokens >= 1.0:
            self._tokens -= 1.0
            return 0.0
        return (1.0 - self._tokens) / rate


class Gate:
    """Pure ASGI middleware that applies the module docstring's checks to each HTTP request."""

    def __init__(self, app: Callable, state: SandboxState, rate_limiter: RateLimiter) -> None:
        self.app = app
        self.state = state
        self.rate_limiter = rate_limiter

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        started = False

        async def tracking_send(message: dict[str, Any]) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        path: str = scope["path"]
        try:
            if path == CONTROLS_PREFIX or path.startswith(CONTROLS_PREFIX + "/"):
                await self._controls(scope, receive, tracking_send)
            elif path.startswith(SHARE_PREFIX) or path == "/":
                await self.app(scope, receive, tracking_send)
            else:
                await self._api(scope, receive, tracking_send)
            if scope["method"] in _MUTATING:
                self.state.save_if_due()
        except InjectedReset:
            raise  # the "reset" fault in-process: the caller is meant to get it
        except Exception:
            log.exception("unhandled error in %s %s", scope.get("method"), path)
            if not started:
                await _send_json(send, 500, problem_body(
                    500, "The sandbox failed on this request. Its log has the details.", path),
                    "application/problem+json")

    async def _controls(self, scope: Scope, receive: Receive, send: Send) -> None:
        if not self.state.config.controls:
            await _send_json(send, 404, problem_body(
                404, "Test controls are off. Start the sandbox with --controls.", scope["path"]),
                "application/problem+json")
            return
        await self.app(scope, receive, send)

    async def _api(self, scope: Scope, receive: Receive, send: Send) -> None:
        state = self.state
        knobs = state.knobs
        path = scope["path"]
        state.catch_up()

        wait = self.rate_limiter.acquire(knobs.rate_limit)
        if wait > 0:
            retry_after = max(1, math.ceil(wait))
            await _send_json(send, 429, problem_body(
                429, f"Too many requests. The sandbox allows {knobs.rate_limit:g} a second. "
                f"Retry after {retry_after} s.", path, error_key="rateLimited"),
                "application/problem+json", {"Retry-After": str(retry_after)})
            return

        if knobs.latency_ms or knobs.latency_jitter_ms:
            jitter = state.fault_rng.uniform(-knobs.latency_jitter_ms, knobs.latency_jitter_ms)
            await asyncio.sleep(max(0.0, knobs.latency_ms + jitter) / 1000)

        if knobs.fault_rate and knobs.faults and state.fault_rng.random() < knobs.fault_rate:
            fault = state.fault_rng.choice(knobs.faults)
            log.debug("injecting fault %s into %s %s", fault, scope["method"], path)
            if fault == "slow":
                await asyncio.sleep(knobs.slow_seconds)
            else:
                await self._inject(fault, scope, send)
                return

        needs_token = path != SIGN_IN_PATH and path.startswith("/services/")
        if needs_token and not self._authorized(scope):
            await _send_json(send, 401, problem_body(
                401, "Full authentication is required: send a valid, unexpired bearer "
                "token from /api/authenticate.", path, title="Unauthorized"),
                "application/problem+json", {"WWW-Authenticate": "Bearer"})
            return
        await self.app(scope, receive, send)

    def _authorized(self, scope: Scope) -> bool:
        for name, value in scope["headers"]:
            if name == b"authorization":
                scheme, _, token = value.decode("latin-1").partition(" ")
                if scheme.lower() != "bearer" or not token.strip():
                    return False
                return self.state.tokens.verify(token.strip(), self.state.clock.now()) is not None
        return False

    async def _inject(self, fault: str, scope: Scope, send: Send) -> None:
        path = scope["path"]
        if fault == "500":
            await _send_json(send, 500, problem_body(
                500, "Injected fault: an internal server error.", path),
                "application/problem+json")
        elif fault == "503":
            # A proxy in front of Leaf reports an outage as an HTML page, not a problem body.
            page = (b"<html><head><title>503 Service Temporarily Unavailable</title></head>"
                    b"<body><center><h1>503 Service Temporarily Unavailable</h1></center>"
                    b"</body></html>")
            await _send_raw(send, 503, page, "text/html", {"Retry-After": "1"})
        elif fault == "malformed":
            await _send_raw(send, 200, b'{"id": "3f1c", "status": "OK", "createdTi',
                            "application/json")
        elif fault == "reset":
            await self._reset_connection(send)

    async def _reset_connection(self, send: Send) -> None:
        """Drop the connection halfway through a response.

        Over a socket the response promises more body than it sends, and the server closes the
        connection when the app returns. The client therefore sees the peer close the connection
        mid-response.
        In-process (httpx's ASGI transport) there is no connection to drop, so this raises
        ConnectionResetError, which that transport passes to the caller.
        """
        if not self.state.served_over_socket:
            raise InjectedReset("injected fault: connection reset by the sandbox")
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-type", b"application/json"),
                                (b"content-length", b"4096")]})
        await send({"type": "http.response.body", "body": b'{"id": "', "more_body": True})


async def _send_raw(send: Send, status: int, body: bytes, content_type: str,
                    headers: dict[str, str] | None = None) -> None:
    raw_headers = [(b"content-type", content_type.encode("latin-1")),
                   (b"content-length", str(len(body)).encode("latin-1"))]
    for name, value in (headers or {}).items():
        raw_headers.append((name.lower().encode("latin-1"), value.encode("latin-1")))
    await send({"type": "http.response.start", "status": status, "headers": raw_headers})
    await send({"type": "http.response.body", "body": body})


async def _send_json(send: Send, status: int, body: Any, content_type: str,
                     headers: dict[str, str] | None = None) -> None:
    await _send_raw(send, status, json.dumps(body).encode("utf-8"), content_type, headers)
