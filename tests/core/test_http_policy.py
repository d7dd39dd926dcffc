"""Tests of the HTTP layer's pure parts: backoff bounds and jitter, Retry-After, timeouts,
secret masking in error excerpts, and the quiet httpx loggers."""

from __future__ import annotations

import email.utils
import logging
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from leafdesk.core.http import (
    Reply,
    RetryPolicy,
    Timeouts,
    error_for_reply,
    excerpt,
    parse_retry_after,
    redact,
    redact_text,
)


def reply(status: int, body: bytes, content_type: str = "application/json") -> Reply:
    return Reply(method="GET", path="/x", status_code=status,
                 headers=httpx.Headers({"Content-Type": content_type}), content=body)


def test_backoff_grows_within_cap():
    policy = RetryPolicy(base_delay=0.5, max_delay=4.0)
    for retry_number, cap in ((1, 0.5), (2, 1.0), (3, 2.0), (4, 4.0), (5, 4.0), (9, 4.0)):
        delays = [policy.backoff(retry_number) for _ in range(200)]
        assert all(0 <= delay <= cap for delay in delays)
        # Full jitter spreads the delays over the whole range.
        assert max(delays) > cap * 0.7
        assert min(delays) < cap * 0.3


def test_retry_after_seconds():
    assert parse_retry_after("5") == 5.0
    assert parse_retry_after(" 0 ") == 0.0
    assert parse_retry_after("1.5") == 1.5
    assert parse_retry_after("-3") == 0.0


@pytest.mark.parametrize("value", ["inf", "-inf", "nan", "Infinity"])
def test_retry_after_not_finite(value):
    assert parse_retry_after(value) is None


def test_retry_after_http_date():
    later = datetime.now(UTC) + timedelta(seconds=30)
    value = parse_retry_after(email.utils.format_datetime(later, usegmt=True))
    assert value is not None
    assert 25 <= value <= 31

    earlier = datetime.now(UTC) - timedelta(minutes=5)
    assert parse_retry_after(email.utils.format_datetime(earlier, usegmt=True)) == 0.0


@pytest.mark.parametrize("value", [None, "", "soon", "Someday, 99 Foo 20xx"])
def test_retry_after_unreadable(value):
    assert parse_retry_after(value) is None


def test_timeouts_from_number():
    assert Timeouts.coerce(7) == Timeouts(connect=7, read=7, write=7, pool=7)
    assert Timeouts.coerce(None) == Timeouts()
    custom = Timeouts(connect=1, read=2, write=3, pool=4)
    assert Timeouts.coerce(custom) is custom


def test_httpx_loggers_quiet():
    assert logging.getLogger("httpx").level == logging.WARNING
    assert logging.getLogger("httpcore").level == logging.WARNING


def test_redact_masks_secret_keys():
    masked = redact({
        "AuthenticationResult": {"AccessToken": "a1", "IdToken": "i1", "RefreshToken": "r1",
                                 "TokenType": "Bearer", "ExpiresIn": 3600},
        "password": "p1",
        "clientSecret": "s1",
        "headers": [{"Authorization": "Bearer b1"}],
        "username": "partner@example.com",
    })
    result = masked["AuthenticationResult"]
    assert result["AccessToken"] == "[masked]"
    assert result["IdToken"] == "[masked]"
    assert result["RefreshToken"] == "[masked]"
    assert result["TokenType"] == "Bearer"
    assert result["ExpiresIn"] == 3600
    assert masked["password"] == "[masked]"
    assert masked["clientSecret"] == "[masked]"
    assert masked["headers"] == [{"Authorization": "[masked]"}]
    assert masked["username"] == "partner@example.com"


def test_redact_text_masks_values():
    text = redact_text('refresh_token=abc&x=1 "password": "hunter2" Authorization: Bearer eyJ.x.y')
    for secret in ("abc", "hunter2", "eyJ.x.y"):
        assert secret not in text
    assert "x=1" in text


def test_excerpt_empty_and_html():
    assert excerpt(reply(502, b"")) == "empty body"
    page = b"<html><head><title>Gateway Timeout</title></head><body>x</body></html>"
    assert excerpt(reply(504, page, "text/html")) == "HTML page: Gateway Timeout"


def test_excerpt_single_line_and_short():
    text = excerpt(reply(400, b"line one\nline two\r\n" + b"y" * 1000, "text/plain"))
    assert "\n" not in text
    assert len(text) <= 200
    assert text.startswith("line one line two")


def test_error_sentence_never_holds_body():
    body = b'{"title": "Bad", "detail": "<script>alert(1)</script>", "errorKey": "odd"}'
    error = error_for_reply(reply(400, body, "application/problem+json"),
                            action="load the Leaf user", leaf_user="Ridge Farm")
    assert error.sentence() == (
        "Could not load the Leaf user for Ridge Farm: Leaf rejected the request as invalid."
    )
    assert error.error_key == "odd"
    assert "<script>" in error.details
