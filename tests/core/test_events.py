"""Tests of describe_event and redact_secrets over the kinds of events Leaf logs for Panorama."""

from __future__ import annotations

import json

import pytest

from leafdesk.core.events import describe_event, redact_secrets
from leafdesk.core.model import Actor, CredentialEvent

JWT = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJncm93ZXIifQ.c2lnbmF0dXJlLXZhbHVl"


def _event(status, body, headers=None) -> CredentialEvent:
    return CredentialEvent(
        id="e1",
        leaf_user_id="u1",
        status_code=status,
        created_date=None,
        headers=headers,
        body=body,
        raw_body=json.dumps(body) if not isinstance(body, str) else body,
    )


@pytest.mark.parametrize(
    ("message", "title", "actor"),
    [
        ("Refresh Token has expired", "Refresh token expired", Actor.GROWER),
        ("Refresh Token has been revoked", "Refresh token revoked", Actor.GROWER),
        ("Invalid Refresh Token", "Refresh token invalid", Actor.STAFF),
        ("Incorrect username or password.", "Partner login rejected", Actor.STAFF),
        ("User is disabled.", "Panorama account disabled", Actor.STAFF),
    ],
)
def test_cognito_not_authorized_by_message(message, title, actor):
    body = {"__type": "NotAuthorizedException", "message": message}
    description = describe_event(_event(400, body))
    assert not description.succeeded
    assert description.title == title
    assert description.error_type == "NotAuthorizedException"
    assert description.actor is actor


def test_cognito_not_authorized_other_message_kept():
    body = {"__type": "NotAuthorizedException", "message": "Something new"}
    description = describe_event(_event(400, body))
    assert description.title == "Panorama sign-in refused"
    assert "Something new" in description.detail


@pytest.mark.parametrize(
    ("cognito_type", "actor"),
    [
        ("UserNotFoundException", Actor.STAFF),
        ("PasswordResetRequiredException", Actor.STAFF),
        ("TooManyRequestsException", Actor.PROVIDER),
        ("InternalErrorException", Actor.PROVIDER),
    ],
)
def test_cognito_types_named(cognito_type, actor):
    description = describe_event(_event(400, {"__type": cognito_type, "message": "m"}))
    assert not description.succeeded
    assert description.error_type == cognito_type
    assert description.actor is actor
    assert "m" in description.detail


def test_cognito_type_with_namespace():
    body = {"__type": "com.amazonaws.cognito#UserNotFoundException", "message": "User does not exist."}
    description = describe_event(_event(400, body))
    assert description.error_type == "UserNotFoundException"
    assert description.title == "Panorama user not found"


def test_cognito_unknown_type_still_named():
    description = describe_event(_event(400, {"__type": "CodeMismatchException"}))
    assert description.error_type == "CodeMismatchException"
    assert "CodeMismatchException" in description.title


def test_token_refresh_success_shows_no_token():
    body = {"AuthenticationResult": {"AccessToken": JWT, "IdToken": JWT, "ExpiresIn": 3600,
                                     "TokenType": "Bearer"}}
    description = describe_event(_event(200, body))
    assert description.succeeded
    assert description.title == "Access token refreshed"
    assert "1 hour" in description.detail
    assert JWT not in description.detail
    assert description.error_type is None


@pytest.mark.parametrize(
    ("expires_in", "expected"),
    [(1, "1 second."), (45, "45 seconds."), (60, "1 minute."), (7200, "2 hours.")],
)
def test_token_lifetime_wording(expires_in, expected):
    body = {"AuthenticationResult": {"AccessToken": JWT, "ExpiresIn": expires_in}}
    description = describe_event(_event(200, body))
    assert description.detail.endswith(f"valid for {expected}")


def test_plain_success():
    description = describe_event(_event(200, {"message": "Sharing confirmed"}))
    assert description.succeeded
    assert "Sharing confirmed" in description.detail


@pytest.mark.parametrize(
    ("status", "fragment", "actor"),
    [
        (403, "missing permission", Actor.GROWER),
        (503, "unavailable", Actor.PROVIDER),
        (429, "rate-limited", Actor.PROVIDER),
        (401, "access token", Actor.GROWER),
        (500, "server error", Actor.PROVIDER),
        (418, "rejected", Actor.STAFF),
        (599, "failed", Actor.PROVIDER),
    ],
)
def test_http_status_meanings(status, fragment, actor):
    description = describe_event(_event(status, {"message": "from Panorama"}))
    assert not description.succeeded
    assert fragment in description.title
    assert f"HTTP {status}" in description.title
    assert "from Panorama" in description.detail
    assert description.actor is actor


def test_oauth_error_named():
    body = {"error": "invalid_grant", "error_description": "Refresh token is expired"}
    description = describe_event(_event(400, body))
    assert description.error_type == "invalid_grant"
    assert description.title == "Refresh token rejected"
    assert "expired" in description.detail


def test_html_body_not_dumped():
    description = describe_event(_event(502, "<!DOCTYPE html><html><body>Bad gateway</body></html>"))
    assert "HTML error page" in description.detail
    assert "<html" not in description.detail


def test_long_text_body_clipped():
    description = describe_event(_event(500, "x" * 5000))
    assert len(description.detail) < 400


def test_missing_status_and_body():
    description = describe_event(_event(None, None))
    assert not description.succeeded
    assert "without an HTTP status" in description.detail


@pytest.mark.parametrize("body", [[1, 2], 42, {"__type": 7}, {"message": ["a"]}, {"error": {}}])
def test_odd_bodies_never_raise(body):
    description = describe_event(_event(400, body))
    assert not description.succeeded
    assert description.title


def test_broken_event_object_never_raises():
    description = describe_event(object())  # type: ignore[arg-type]
    assert description.title == "Unreadable event"


def test_redact_masks_token_keys_and_strings():
    value = {
        "AuthenticationResult": {"AccessToken": JWT, "RefreshToken": "r-123", "ExpiresIn": 3600},
        "headers": {"Authorization": f"Bearer {JWT}", "Content-Type": "application/json"},
        "note": f"token was {JWT}",
        "list": [{"refresh_token": "abc"}],
        "password": "",
    }
    redacted = redact_secrets(value)
    text = json.dumps(redacted)
    assert JWT not in text
    assert "r-123" not in text
    assert "abc" not in text
    assert redacted["AuthenticationResult"]["ExpiresIn"] == 3600
    assert redacted["headers"]["Content-Type"] == "application/json"
    assert redacted["password"] == ""


def test_redact_masks_bearer_in_raw_text():
    assert "secretvalue123" not in redact_secrets("Authorization: Bearer secretvalue123")


def test_every_sandbox_event_kind_described():
    # The sandbox writes the exchanges Leaf logs; each must read as something specific.
    from leafdesk.core.client import parse_event
    from leafdesk.sandbox.events import EVENT_KINDS

    expected_actor = {
        "OK": None,
        "UNAUTHENTICATED": {Actor.GROWER, Actor.STAFF},
        "MISSING_PERMISSION": {Actor.GROWER},
        "TEMPORARILY_UNAVAILABLE": {Actor.PROVIDER},
    }
    for kind, (status_code, headers, body, status_after) in EVENT_KINDS.items():
        event = parse_event({"id": kind, "statusCode": status_code, "headers": headers,
                             "body": body, "createdDate": "2026-05-01T10:00:00.000Z"}, "u1")
        description = describe_event(event)

        assert description.succeeded is (status_after == "OK"), kind
        assert description.title != "Unreadable event", kind
        assert "<html" not in description.detail, kind
        if expected_actor[status_after] is None:
            assert description.actor is None, kind
        else:
            assert description.actor in expected_actor[status_after], kind
