"""The HTTP layer under the Leaf client, and the only LeafDesk module that imports httpx.

It owns the connection pool (HTTP/1.1, TLS through the OS certificate store, proxies from the
environment, connect/read/write/pool timeouts), the retry policy, and the translation of
transport failures and HTTP error responses into the `LeafError` family.
"""

from __future__ import annotations

import asyncio
import email.utils
import json
import logging
import math
import random
import re
import socket
import ssl
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx
import truststore

from leafdesk.core.errors import (
    ConflictError,
    FieldError,
    LeafError,
    MalformedResponseError,
    NotFoundError,
    OfflineError,
    OutcomeUnknownError,
    PermissionDeniedError,
    RateLimitedError,
    ServerError,
    SignedOutError,
    TimedOutError,
    TlsError,
    ValidationError,
)

logger = logging.getLogger(__name__)

# httpx logs every request line at INFO and httpcore logs connection details at DEBUG; LeafDesk
# keeps both at WARNING so that no URL, header or token can reach a log through them.
for _name in ("httpx", "httpcore"):
    logging.getLogger(_name).setLevel(logging.WARNING)

# Status codes a repeatable request (a GET, or signing in) is retried on.
RETRYABLE_STATUS = frozenset({429, 502, 503, 504})

# Maximum length of the response-body excerpt kept in `LeafError.details`.
EXCERPT_LENGTH = 200

USER_AGENT = "LeafDesk"


@dataclass(frozen=True, slots=True)
class Timeouts:
    """httpx timeouts in seconds: connecting, reading a response, sending a body, waiting for a
    free pooled connection."""

    connect: float = 10.0
    read: float = 30.0
    write: float = 30.0
    pool: float = 30.0

    @classmethod
    def coerce(cls, value: Timeouts | float | None) -> Timeouts:
        """Return `value` as Timeouts; a single number applies to all four phases."""
        if value is None:
            return cls()
        if isinstance(value, Timeouts):
            return value
        seconds = float(value)
        return cls(connect=seconds, read=seconds, write=seconds, pool=seconds)


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How often and how long a request is retried.

    Delays grow exponentially from `base_delay` up to `max_delay`, with full jitter (a random
    delay between zero and that cap), so that many clients do not retry in step. A 429 waits at
    least its `Retry-After`. Retrying stops after `max_attempts` tries in all or once the next
    try would start more than `max_total` seconds after the first, whichever comes first.
    """

    max_attempts: int = 4
    base_delay: float = 0.5
    max_delay: float = 8.0
    max_total: float = 30.0

    def backoff(self, retry_number: int) -> float:
        """Return a jittered delay before retry number `retry_number` (1 for the first retry)."""
        cap = min(self.max_delay, self.base_delay * (2 ** (retry_number - 1)))
        return random.uniform(0, cap)

    def next_delay(
        self, attempt: int, started: float, *, retry_after: float | None = None
    ) -> float | None:
        """Return the delay before the next try, or None when the budget is spent.

        `attempt` counts the tries made so far and `started` is the `time.monotonic()` value
        of the first one.
        """
        if attempt >= self.max_attempts:
            return None
        delay = self.backoff(attempt)
        if retry_after is not None:
            delay = max(delay, retry_after)
        if time.monotonic() - started + delay > self.max_total:
            return None
        return delay


@dataclass(frozen=True, slots=True)
class Reply:
    """An HTTP response read in full: status, headers (case-insensitive) and body bytes."""

    method: str
    path: str
    status_code: int
    headers: Mapping[str, str]
    content: bytes

    def json(self) -> Any:
        """Decode the body as JSON; raise `json.JSONDecodeError` or `UnicodeDecodeError`."""
        return json.loads(self.content.decode("utf-8"))

    def describe(self) -> str:
        """Return `METHOD /path -> HTTP nnn`, for error details and logs."""
        return f"{self.method} {self.path} -> HTTP {self.status_code}"


RateLimitHook = Callable[[float | None], None]


class HttpSession:
    """An httpx.AsyncClient with LeafDesk's pool settings, retry policy and error mapping.

    `transport` replaces the network (tests pass `httpx.ASGITransport(app=...)`); with it,
    TLS, pool limits and environment proxies do not apply. `on_rate_limited` is called with the
    `Retry-After` seconds (or None) for every 429 Leaf sends, so a caller can send fewer
    requests at once.
    """

    def __init__(
        self,
        base_url: str,
        *,
        transport: Any | None = None,
        max_connections: int = 10,
        timeout: Timeouts | float | None = None,
        retry: RetryPolicy | None = None,
        on_rate_limited: RateLimitHook | None = None,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        self.base_url = normalise_base_url(base_url)
        self.timeouts = Timeouts.coerce(timeout)
        self.retry = retry or RetryPolicy()
        self.on_rate_limited = on_rate_limited
        self.requests_sent = 0
        self.rate_limited_count = 0
        self.retry_count = 0
        # Requests that run on in their own task after their caller was cancelled.
        self._in_flight: set[asyncio.Task[httpx.Response]] = set()

        limits = httpx.Limits(
            max_connections=max_connections,
            max_keepalive_connections=max_connections,
            keepalive_expiry=30.0,
        )
        self._client = httpx.AsyncClient(
            base_url=self.base_url,
            transport=transport,
            http1=True,
            http2=False,
            limits=limits,
            timeout=httpx.Timeout(
                connect=self.timeouts.connect,
                read=self.timeouts.read,
                write=self.timeouts.write,
                pool=self.timeouts.pool,
            ),
            # Proxies come from HTTP(S)_PROXY/NO_PROXY when no transport is passed.
            trust_env=True,
            verify=ssl_context or truststore.SSLContext(ssl.PROTOCOL_TLS_CLIENT),
            follow_redirects=False,
            headers={"User-Agent": USER_AGENT, "Accept": "application/json"},
        )

    async def aclose(self) -> None:
        """Stop requests still running for cancelled callers, then close every connection."""
        pending = list(self._in_flight)
        for task in pending:
            task.cancel()
        if pending:
            await asyncio.gather(*pending, return_exceptions=True)
        await self._client.aclose()

    @property
    def in_flight(self) -> int:
        """Requests still running in their own tasks, including those of cancelled callers."""
        return len(self._in_flight)

    async def _request(self, method: str, path: str, **options: Any) -> httpx.Response:
        """Run one httpx request in a task of its own, which the caller's cancellation cannot
        interrupt.

        httpcore (1.0.9 with anyio 4 on asyncio) releases a pooled connection inside an anyio
        "shielded" block that does not hold off asyncio's own `Task.cancel()`. A cancellation
        landing there leaves the connection marked busy for good, and after as many such
        cancellations as `max_connections` every request ends in a pool timeout. So a cancelled
        caller stops waiting at once while its request runs on, bounded by the timeouts, and
        gives its connection back when it ends.
        """
        task = asyncio.ensure_future(self._client.request(method, path, **options))
        self._in_flight.add(task)
        task.add_done_callback(self._request_done)
        return await asyncio.shield(task)

    def _request_done(self, task: asyncio.Task[httpx.Response]) -> None:
        self._in_flight.discard(task)
        # The caller may have been cancelled, so nobody else collects the outcome; collecting
        # it here keeps asyncio from logging "exception was never retrieved".
        if not task.cancelled():
            task.exception()

    @property
    def closed(self) -> bool:
        """Whether `aclose` has run."""
        return self._client.is_closed

    async def send(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | list[tuple[str, Any]] | None = None,
        json_body: Any = None,
        headers: Mapping[str, str] | None = None,
        repeatable: bool,
    ) -> Reply:
        """Send one request with retries and return the last response, whatever its status.

        A `repeatable` request (a GET, or signing in) is retried on connection failures,
        timeouts, 429, 502, 503 and 504. Any other request changes something at Leaf, so it is
        retried only when it cannot have reached Leaf: the connection was never made, no pooled
        connection came free, or Leaf returned 429. When such a request fails after it may have
        been sent (a read timeout, a reset), `OutcomeUnknownError` is raised so that the caller
        reads the record back instead of repeating the change blindly.

        Raises `OfflineError`, `TimedOutError`, `TlsError` or `OutcomeUnknownError` when no
        response came; HTTP error statuses are returned for the caller to map.
        """
        started = time.monotonic()
        attempt = 0
        while True:
            attempt += 1
            self.requests_sent += 1
            try:
                response = await self._request(
                    method, path, params=params, json=json_body, headers=headers
                )
            except (httpx.TransportError, ConnectionError) as error:
                # An in-process transport (httpx.ASGITransport) passes a server's
                # ConnectionError through unwrapped, where a socket would give httpx's error.
                failure = classify_transport_error(error, method=method, path=path)
                # An untrusted certificate stays untrusted, so TLS failures are not retried.
                retry_allowed = failure.kind is not TlsError and (
                    repeatable or failure.request_not_sent
                )
                delay = self.retry.next_delay(attempt, started, retry_after=None)
                if not retry_allowed or delay is None:
                    raise self._final_transport_error(failure, repeatable) from error
                self._log_retry(method, path, failure.reason, attempt, delay)
                await asyncio.sleep(delay)
                continue

            reply = Reply(
                method=method,
                path=path,
                status_code=response.status_code,
                headers=response.headers,
                content=response.content,
            )
            if reply.status_code == 429:
                self._note_rate_limited(reply)

            if not _status_is_retryable(reply.status_code, repeatable):
                return reply
            retry_after = parse_retry_after(reply.headers.get("Retry-After"))
            delay = self.retry.next_delay(attempt, started, retry_after=retry_after)
            if delay is None:
                return reply
            self._log_retry(method, path, f"HTTP {reply.status_code}", attempt, delay)
            await asyncio.sleep(delay)

    def _note_rate_limited(self, reply: Reply) -> None:
        self.rate_limited_count += 1
        if self.on_rate_limited is None:
            return
        try:
            self.on_rate_limited(parse_retry_after(reply.headers.get("Retry-After")))
        except Exception:
            # A faulty hook must not turn a response into a crash of the request.
            logger.exception("The rate-limit hook failed")

    def _log_retry(self, method: str, path: str, reason: str, attempt: int, delay: float) -> None:
        self.retry_count += 1
        logger.info(
            "Retrying %s %s after %s (try %d of %d) in %.2f s",
            method, path, reason, attempt + 1, self.retry.max_attempts, delay,
        )

    def _final_transport_error(self, failure: TransportFailure, repeatable: bool) -> LeafError:
        if not repeatable and not failure.request_not_sent and failure.kind is not TlsError:
            return OutcomeUnknownError(
                f"Leaf did not respond ({failure.reason}), so it is not known whether the "
                "change was made; refresh to check before trying again",
                details=failure.details,
            )
        return failure.kind(failure.message, details=failure.details)


def _status_is_retryable(status_code: int, repeatable: bool) -> bool:
    if repeatable:
        return status_code in RETRYABLE_STATUS
    # A 429 means Leaf turned the request away before acting on it.
    return status_code == 429


def normalise_base_url(base_url: str) -> str:
    """Return the base URL without a trailing slash.

    Raises `ValidationError` (field `base_url`) unless it is an http or https URL with a host.
    """
    url = base_url.strip().rstrip("/")
    try:
        parsed = httpx.URL(url)
        valid = parsed.scheme in ("http", "https") and bool(parsed.host)
    except httpx.InvalidURL:
        valid = False
    if not valid:
        problem = f"must start with http:// or https:// and name a host, not {base_url!r}"
        raise ValidationError(
            f"the Leaf address {problem}",
            field_errors=[FieldError(field="base_url", message=problem)],
            action="connect to Leaf",
        )
    return url


@dataclass(frozen=True, slots=True)
class TransportFailure:
    """A request that got no HTTP response, sorted by what the operator and the retry logic need."""

    kind: type[LeafError]
    message: str
    reason: str
    details: str
    request_not_sent: bool


def classify_transport_error(
    error: httpx.TransportError | ConnectionError, *, method: str, path: str
) -> TransportFailure:
    """Sort an httpx transport error into offline, TLS or timeout.

    The result also records whether the request can have reached Leaf, which decides whether a
    change may be retried.
    """
    details = f"{method} {path}: {type(error).__name__}: {_first_line(error)}"

    ssl_error = _ssl_error_in_chain(error)
    if ssl_error is not None:
        reason = getattr(ssl_error, "verify_message", None) or getattr(ssl_error, "reason", None)
        return TransportFailure(
            kind=TlsError,
            message="the secure connection to Leaf failed because its certificate is not "
            "trusted by this computer" if isinstance(ssl_error, ssl.SSLCertVerificationError)
            else "the secure connection to Leaf could not be set up",
            reason="a TLS failure",
            details=f"{details} ({reason})" if reason else details,
            request_not_sent=True,
        )

    if isinstance(error, httpx.ConnectTimeout):
        return TransportFailure(OfflineError, "Leaf did not accept a connection in time",
                                "a connect timeout", details, request_not_sent=True)
    if isinstance(error, httpx.PoolTimeout):
        return TransportFailure(TimedOutError, "too many requests were waiting for a connection",
                                "a pool timeout", details, request_not_sent=True)
    if isinstance(error, httpx.ProxyError):
        return TransportFailure(OfflineError, "the proxy did not pass the request to Leaf",
                                "a proxy failure", details, request_not_sent=True)
    if isinstance(error, httpx.ConnectError):
        return TransportFailure(OfflineError, _connect_message(error), "a connection failure",
                                details, request_not_sent=True)
    if isinstance(error, httpx.TimeoutException):
        return TransportFailure(TimedOutError, "Leaf did not respond in time", "a timeout",
                                details, request_not_sent=False)
    if isinstance(error, httpx.UnsupportedProtocol):
        return TransportFailure(OfflineError, "the Leaf address is not an http or https URL",
                                "an unsupported URL", details, request_not_sent=True)
    return TransportFailure(OfflineError, "the connection to Leaf broke before a response came",
                            "a broken connection", details, request_not_sent=False)


def _connect_message(error: httpx.ConnectError) -> str:
    text = str(error).lower()
    if _in_chain(error, socket.gaierror) is not None or "name or service not known" in text or \
            "temporary failure in name resolution" in text or "getaddrinfo failed" in text:
        return "the Leaf server name could not be found (no DNS answer); check the network"
    if _in_chain(error, ConnectionRefusedError) is not None or "refused" in text:
        return "Leaf refused the connection; check the address and the network"
    return "Leaf could not be reached; check the network"


def _ssl_error_in_chain(error: BaseException) -> ssl.SSLError | None:
    return _in_chain(error, ssl.SSLError)


def _in_chain(error: BaseException, kind: type[BaseException]) -> Any:
    """Return the first exception of `kind` among `error` and its causes, or None."""
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, kind):
            return current
        current = current.__cause__ or current.__context__
    return None


def _first_line(error: BaseException) -> str:
    text = str(error).strip()
    return text.splitlines()[0][:EXCERPT_LENGTH] if text else "no message"


def parse_retry_after(value: str | None) -> float | None:
    """Read a `Retry-After` header, in seconds or as an HTTP date; None when absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        pass
    else:
        # float() also reads "inf" and "nan", which no server means as a wait.
        return max(0.0, seconds) if math.isfinite(seconds) else None
    try:
        moment = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return max(0.0, (moment - datetime.now(UTC)).total_seconds())


# --- turning an HTTP error response into a LeafError ---------------------------------------------

# [ours] Sentences for the error keys in Leaf's problem responses. These keys are LeafDesk's
# reading of Leaf's behaviour, as the sandbox implements it. Leaf documents none of them.
ERROR_KEY_SENTENCES = {
    "credentialExists": "this Leaf user already has a Panorama credential; delete it before "
    "creating another",
    "invalidPartnerCredentials": "Panorama did not accept the partner's username or password",
    "appKeyNotFound": "Leaf has no Panorama app key for this client id and environment",
    "sharingUrlMismatch": "the sharingUrlId differs from the one in the Panorama app key",
    "idInvalid": "the Leaf user id is not a valid id (Leaf user ids are UUIDs)",
    "appKeyExists": "a Panorama app key with this name and environment already exists; delete "
    "it before saving another",
}

# Keys whose string values are secrets. `TokenType` ("Bearer") and the like are not.
_SECRET_KEYS = re.compile(
    r"^(?!.*token_?type$).*(token|password|secret|authorization|cookie)", re.IGNORECASE
)
_SECRET_IN_TEXT = re.compile(
    r"""(?ix)
    ("?[\w-]*(?:token|password|secret|authorization)[\w-]*"?\s*[:=]\s*)
    ("[^"]*"|'[^']*'|bearer\s+[^\s,;"]+|[^\s,;"}&]+)
    """
)
_BEARER = re.compile(r"(?i)\bbearer\s+[\w.~+/=-]+")
_TAG = re.compile(r"<[^>]+>")
_TITLE = re.compile(r"<title[^>]*>(.*?)</title>", re.IGNORECASE | re.DOTALL)


def error_for_reply(
    reply: Reply,
    *,
    action: str | None = None,
    leaf_user: str | None = None,
    not_found: str | None = None,
) -> LeafError:
    """Build the LeafError for an HTTP error response, with one plain sentence as its message.

    The body (a problem JSON, plain text, a proxy's HTML page or nothing) only goes into
    `details`, shortened and with anything that looks like a secret masked.
    """
    status = reply.status_code
    problem = problem_of(reply)
    error_key = _text_field(problem, "errorKey")
    details = f"{reply.describe()}: {excerpt(reply)}"
    common: dict[str, Any] = {
        "action": action,
        "leaf_user": leaf_user,
        "status_code": status,
        "details": details,
        "error_key": error_key,
    }

    if status == 400:
        field_errors = field_errors_of(problem)
        return ValidationError(
            _validation_message(error_key, field_errors),
            field_errors=field_errors,
            **common,
        )
    if status == 401:
        return SignedOutError("Leaf no longer accepts LeafDesk's sign-in; sign in again", **common)
    if status == 403:
        return PermissionDeniedError("this Leaf account is not allowed to do that", **common)
    if status == 404:
        return NotFoundError(not_found or "Leaf has no such record", **common)
    if status == 409:
        message = ERROR_KEY_SENTENCES.get(error_key or "", "it conflicts with a record Leaf already has")
        return ConflictError(message, **common)
    if status == 429:
        retry_after = parse_retry_after(reply.headers.get("Retry-After"))
        wait = f"; wait {retry_after:.0f} seconds and try again" if retry_after else \
            "; try again in a minute"
        return RateLimitedError("Leaf is limiting how fast LeafDesk may send requests" + wait,
                                retry_after=retry_after, **common)
    if 500 <= status <= 599:
        where = "a proxy in front of Leaf" if _is_html(reply) else "Leaf"
        return ServerError(f"{where} failed with HTTP {status}; try again later", **common)
    if 400 <= status <= 499:
        return LeafError(f"Leaf rejected the request with HTTP {status}", **common)
    return MalformedResponseError(f"Leaf returned an unexpected HTTP {status}", **common)


def _validation_message(error_key: str | None, field_errors: list[FieldError]) -> str:
    if error_key in ERROR_KEY_SENTENCES:
        return ERROR_KEY_SENTENCES[error_key]
    if field_errors:
        names = ", ".join(dict.fromkeys(error.field for error in field_errors))
        return f"Leaf rejected these fields: {names}"
    return "Leaf rejected the request as invalid"


def problem_of(reply: Reply) -> dict[str, Any] | None:
    """Return the body as a JSON object when it is one (a problem response), else None."""
    try:
        body = reply.json()
    except (ValueError, UnicodeDecodeError):
        return None
    return body if isinstance(body, dict) else None


def field_errors_of(problem: dict[str, Any] | None) -> list[FieldError]:
    """Read Spring-style `fieldErrors` (`[{"objectName", "field", "message"}]`) tolerantly."""
    if not problem:
        return []
    raw = problem.get("fieldErrors")
    if not isinstance(raw, list):
        return []
    errors = []
    for entry in raw:
        if not isinstance(entry, dict):
            continue
        field = _text_field(entry, "field") or "request"
        message = _text_field(entry, "message") or "is invalid"
        errors.append(FieldError(field=field, message=message))
    return errors


def _text_field(mapping: dict[str, Any] | None, key: str) -> str | None:
    if not mapping:
        return None
    value = mapping.get(key)
    return value if isinstance(value, str) and value else None


def _is_html(reply: Reply) -> bool:
    content_type = reply.headers.get("Content-Type", "")
    return "html" in content_type.lower() or reply.content.lstrip()[:15].lower().startswith(
        (b"<!doctype html", b"<html")
    )


def excerpt(reply: Reply) -> str:
    """Return a short, single-line, secret-masked excerpt of a body for error details."""
    if not reply.content:
        return "empty body"
    problem = problem_of(reply)
    if problem is not None:
        text = json.dumps(redact(problem), ensure_ascii=False)
    else:
        text = reply.content.decode("utf-8", errors="replace")
        if _is_html(reply):
            title = _TITLE.search(text)
            text = "HTML page: " + (title.group(1) if title else _TAG.sub(" ", text))
        text = redact_text(text)
    text = " ".join(text.split())
    if len(text) > EXCERPT_LENGTH:
        text = text[: EXCERPT_LENGTH - 1] + "…"
    return text


def redact(value: Any) -> Any:
    """Return a copy of decoded JSON with secrets masked.

    String values of token, password, secret, authorization and cookie keys are masked, and so
    are such values inside free-text strings. NOTE: a secret key with a number or an object as
    its value is not masked.
    """
    if isinstance(value, dict):
        return {
            key: "[masked]" if _SECRET_KEYS.search(str(key)) and isinstance(item, str) and item
            else redact(item)
            for key, item in value.items()
        }
    if isinstance(value, list):
        return [redact(item) for item in value]
    if isinstance(value, str):
        return redact_text(value)
    return value


def redact_text(text: str) -> str:
    """Mask `token=...`, `"password": "..."` and `Bearer ...` values in free text."""
    text = _SECRET_IN_TEXT.sub(lambda match: match.group(1) + "[masked]", text)
    return _BEARER.sub("Bearer [masked]", text)
