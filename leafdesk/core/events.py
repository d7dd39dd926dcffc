"""Turn a Panorama credential event from Leaf's log into plain words for the operator.

Leaf's events carry no type or message: only an HTTP status code, headers and a body from the
exchange with Panorama (whose sign-in runs on AWS Cognito). `describe_event` reads the meaning out
of those and catches every exception, whatever Leaf logged. `redact_secrets` masks tokens in a
decoded body or headers before they are shown or stored. That Leaf logs Cognito's error bodies
as they came is LeafDesk's reading (the sandbox does so); Leaf does not document it.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from typing import Any

from leafdesk.core.model import Actor, CredentialEvent

logger = logging.getLogger(__name__)

_DETAIL_LIMIT = 300


@dataclass(frozen=True, slots=True)
class EventDescription:
    """A credential event in plain words: whether it succeeded, a short title and one detail line.

    `error_type` is the machine name of the failure where the body had one (a Cognito `__type`
    such as `NotAuthorizedException`, an OAuth `error`, or a problem `errorKey`). `actor` is the
    party that must act on it, or None when no one must.
    """

    succeeded: bool
    title: str
    detail: str
    error_type: str | None = None
    actor: Actor | None = None


# Cognito `__type` values and what they mean for the connection. NotAuthorizedException is split
# further by its message below because it covers expired, revoked and wrong credentials alike.
_COGNITO_TYPES: dict[str, tuple[str, str, Actor]] = {
    "UserNotFoundException": (
        "Panorama user not found",
        "Panorama's sign-in service has no such user; the partner username may be wrong.",
        Actor.STAFF,
    ),
    "PasswordResetRequiredException": (
        "Panorama password reset required",
        "Panorama requires a new password before it signs this login in again.",
        Actor.STAFF,
    ),
    "UserNotConfirmedException": (
        "Panorama account not confirmed",
        "The Panorama account was never confirmed, so it cannot sign in.",
        Actor.STAFF,
    ),
    "TooManyRequestsException": (
        "Panorama sign-in rate-limited",
        "Panorama's sign-in service rate-limited Leaf; Leaf tries again later.",
        Actor.PROVIDER,
    ),
    "LimitExceededException": (
        "Panorama sign-in limit exceeded",
        "Panorama's sign-in service hit a limit; Leaf tries again later.",
        Actor.PROVIDER,
    ),
    "InternalErrorException": (
        "Panorama sign-in service failed",
        "Panorama's sign-in service had an internal error; Leaf tries again later.",
        Actor.PROVIDER,
    ),
    "ResourceNotFoundException": (
        "Panorama app client not found",
        "Panorama's sign-in service does not know the partner client id.",
        Actor.STAFF,
    ),
    "InvalidParameterException": (
        "Panorama sign-in request rejected",
        "Panorama's sign-in service rejected a parameter of the request.",
        Actor.STAFF,
    ),
}

# Messages Cognito sends with NotAuthorizedException, matched case-insensitively by prefix.
_NOT_AUTHORIZED: tuple[tuple[str, str, str, Actor], ...] = (
    (
        "refresh token has expired",
        "Refresh token expired",
        (
            "Panorama no longer accepts the grower's refresh token; the grower must approve "
            "sharing again."
        ),
        Actor.GROWER,
    ),
    (
        "refresh token has been revoked",
        "Refresh token revoked",
        "The grower or Panorama revoked the refresh token; the grower must approve sharing again.",
        Actor.GROWER,
    ),
    (
        "invalid refresh token",
        "Refresh token invalid",
        "Panorama does not recognise the refresh token; enter a new one or reconnect by one-click.",
        Actor.STAFF,
    ),
    (
        "incorrect username or password",
        "Partner login rejected",
        "Panorama rejected the partner username or password.",
        Actor.STAFF,
    ),
    (
        "user is disabled",
        "Panorama account disabled",
        "The Panorama account is disabled and cannot sign in.",
        Actor.STAFF,
    ),
    (
        "access token has expired",
        "Access token expired",
        "The short-lived access token lapsed; Leaf refreshes it with the refresh token.",
        Actor.PROVIDER,
    ),
)

# OAuth 2.0 `error` codes (RFC 6749, section 5.2) as Panorama's token endpoint may send them.
_OAUTH_ERRORS: dict[str, tuple[str, Actor]] = {
    "invalid_grant": ("Refresh token rejected", Actor.GROWER),
    "invalid_client": ("Partner app client rejected", Actor.STAFF),
    "unauthorized_client": ("Partner app not allowed this sign-in", Actor.STAFF),
    "access_denied": ("Access denied by Panorama", Actor.GROWER),
    "invalid_request": ("Token request rejected", Actor.STAFF),
    "invalid_scope": ("Token scope rejected", Actor.STAFF),
}

_HTTP_MEANINGS: dict[int, tuple[str, Actor | None]] = {
    400: ("Panorama rejected the request", Actor.STAFF),
    401: ("Panorama rejected the access token", Actor.GROWER),
    403: ("Panorama denied access: missing permission", Actor.GROWER),
    404: ("Panorama found nothing at that address", Actor.STAFF),
    408: ("Panorama timed out", Actor.PROVIDER),
    409: ("Panorama reported a conflict", Actor.STAFF),
    429: ("Panorama rate-limited Leaf", Actor.PROVIDER),
    500: ("Panorama failed with a server error", Actor.PROVIDER),
    502: ("Panorama's gateway failed", Actor.PROVIDER),
    503: ("Panorama is unavailable", Actor.PROVIDER),
    504: ("Panorama's gateway timed out", Actor.PROVIDER),
}

_DETAIL_FOR_STATUS: dict[int, str] = {
    401: "Panorama did not accept the access token Leaf sent; Leaf refreshes it when it can.",
    403: "The credential signs in but lacks access to the grower's data; the grower must share "
    "their operation with the partner application in Panorama.",
    429: "Panorama rate-limited Leaf; Leaf tries again later.",
    503: "Panorama is down or overloaded; Leaf tries again later.",
}

_SECRET_KEYS = frozenset(
    name.lower()
    for name in (
        "AccessToken", "RefreshToken", "IdToken", "access_token", "refresh_token", "id_token",
        "accessToken", "refreshToken", "idToken", "password", "Authorization", "client_secret",
        "Cookie", "Set-Cookie", "X-Amz-Security-Token",
    )
)
_JWT_LIKE = re.compile(r"eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}")
_BEARER = re.compile(r"(?i)\bbearer\s+[A-Za-z0-9._~+/=-]{8,}")
_MASK = "********"


def describe_event(event: CredentialEvent) -> EventDescription:
    """Describe one credential event in plain words, without raising on malformed content."""
    try:
        return _describe(event.status_code, event.body)
    except Exception:
        # An odd event must not break the event log, so any failure becomes a plain description.
        logger.warning("Could not describe credential event %s", getattr(event, "id", "?"),
                       exc_info=True)
        return EventDescription(
            succeeded=False,
            title="Unreadable event",
            detail="LeafDesk could not read this event; see its headers and body.",
        )


def redact_secrets(value: Any) -> Any:
    """Return a copy of a decoded body or headers with tokens, passwords and cookies masked.

    Keys are matched case-insensitively. Strings anywhere in the value are also scanned for
    JWTs and bearer tokens, because a raw (non-JSON) body can contain one.
    """
    if isinstance(value, dict):
        redacted = {}
        for key, item in value.items():
            secret = str(key).lower() in _SECRET_KEYS and item not in (None, "")
            redacted[key] = _MASK if secret else redact_secrets(item)
        return redacted
    if isinstance(value, list):
        return [redact_secrets(item) for item in value]
    if isinstance(value, str):
        return _BEARER.sub("Bearer " + _MASK, _JWT_LIKE.sub(_MASK, value))
    return value


def _describe(status: int | None, body: Any) -> EventDescription:
    succeeded = status is not None and 200 <= status < 300

    if isinstance(body, dict):
        cognito_type = body.get("__type")
        if isinstance(cognito_type, str) and cognito_type.strip():
            return _describe_cognito(cognito_type, _text_field(body, "message", "Message"))

        if succeeded or (status is None and "AuthenticationResult" in body):
            return _describe_success(status, body)

        oauth_error = body.get("error")
        if isinstance(oauth_error, str) and oauth_error in _OAUTH_ERRORS:
            title, actor = _OAUTH_ERRORS[oauth_error]
            detail = _text_field(body, "error_description") or f"Panorama returned {oauth_error}."
            return EventDescription(False, title, _clip(detail), oauth_error, actor)

    if succeeded:
        return _describe_success(status, body)
    return _describe_failure(status, body)


def _describe_cognito(cognito_type: str, message: str | None) -> EventDescription:
    # Cognito may send the type with a namespace, e.g. "com.amazonaws...#NotAuthorizedException".
    name = re.split(r"[#:]", cognito_type.strip())[-1]

    if name == "NotAuthorizedException":
        lowered = (message or "").strip().lower()
        for prefix, title, detail, actor in _NOT_AUTHORIZED:
            if lowered.startswith(prefix):
                return EventDescription(False, title, detail, name, actor)
        detail = "Panorama's sign-in service rejected the credential"
        detail += f": {_clip(message)}" if message else "."
        return EventDescription(False, "Panorama sign-in refused", detail, name, Actor.STAFF)

    known = _COGNITO_TYPES.get(name)
    if known is not None:
        title, detail, actor = known
        if message:
            detail = f"{detail} Panorama's message: {_clip(message)}"
        return EventDescription(False, title, detail, name, actor)

    detail = f"Panorama's sign-in service returned {name}"
    detail += f": {_clip(message)}" if message else "."
    return EventDescription(False, f"Panorama sign-in failed ({name})", detail, name, Actor.STAFF)


def _describe_success(status: int | None, body: Any) -> EventDescription:
    code = f" (HTTP {status})" if status is not None else ""

    if isinstance(body, dict):
        result = body.get("AuthenticationResult")
        has_token = isinstance(result, dict) or "access_token" in body or "accessToken" in body
        if has_token:
            source = result if isinstance(result, dict) else body
            lifetime = source.get("ExpiresIn", source.get("expires_in", source.get("expiresIn")))
            detail = "Panorama issued a new access token"
            is_number = isinstance(lifetime, (int, float)) and not isinstance(lifetime, bool)
            if is_number and lifetime > 0:
                detail += f" valid for {_duration(lifetime)}"
            return EventDescription(True, "Access token refreshed", detail + ".")

        message = _text_field(body, "message", "status", "detail", "title")
        if message:
            return EventDescription(True, f"Panorama responded{code}", _clip(message))

    return EventDescription(True, f"Exchange with Panorama succeeded{code}", _body_excerpt(body))


def _describe_failure(status: int | None, body: Any) -> EventDescription:
    if status is None:
        title, actor = "Exchange with Panorama of unknown outcome", Actor.STAFF
        detail = "Leaf logged this exchange without an HTTP status."
    else:
        title, actor = _HTTP_MEANINGS.get(status, _by_status_class(status))
        title = f"{title} (HTTP {status})"
        detail = _DETAIL_FOR_STATUS.get(status, "")

    error_type = None
    message = None
    if isinstance(body, dict):
        raw_type = body.get("errorKey") or body.get("error") or body.get("code") or body.get("type")
        error_type = str(raw_type) if isinstance(raw_type, (str, int)) and raw_type != "" else None
        message = _text_field(body, "message", "error_description", "detail", "title", "Message")
    elif isinstance(body, str) and body.strip():
        if _is_html(body):
            detail = f"{detail} Panorama sent an HTML error page.".strip()
            return EventDescription(False, title, detail, error_type, actor)
        message = _body_excerpt(body)

    if message:
        detail = f"{detail} Panorama's message: {_clip(message)}".strip()
    if not detail:
        detail = "Panorama sent no reason for the failure."
    return EventDescription(False, title, detail, error_type, actor)


def _by_status_class(status: int) -> tuple[str, Actor | None]:
    if 500 <= status < 600:
        return "Panorama failed", Actor.PROVIDER
    if 400 <= status < 500:
        return "Panorama rejected the request", Actor.STAFF
    if 300 <= status < 400:
        return "Panorama redirected the request", Actor.STAFF
    return "Panorama responded unexpectedly", Actor.STAFF


def _text_field(body: dict, *names: str) -> str | None:
    for name in names:
        value = body.get(name)
        if isinstance(value, str) and value.strip():
            return value.strip()
    return None


def _body_excerpt(body: Any) -> str:
    if body is None or body == "":
        return "Panorama's response had no body."
    if isinstance(body, str):
        if _is_html(body):
            return "Panorama responded with an HTML page."
        return _clip(" ".join(body.split()))
    return "Panorama's response is in the body below."


def _is_html(text: str) -> bool:
    # A proxy's error page may arrive bare or quoted as a JSON string, so look past the start.
    return re.search(r"<(!doctype|html|body)\b", text[:500], re.IGNORECASE) is not None


def _clip(text: str) -> str:
    text = redact_secrets(" ".join(text.split()))
    if len(text) <= _DETAIL_LIMIT:
        return text
    return text[: _DETAIL_LIMIT - 1].rstrip() + "…"


def _duration(seconds: float) -> str:
    if seconds % 3600 == 0:
        hours = int(seconds // 3600)
        return f"{hours} hour" + ("s" if hours != 1 else "")
    if seconds >= 60:
        minutes = round(seconds / 60)
        return f"{minutes} minute" + ("s" if minutes != 1 else "")
    whole_seconds = int(seconds)
    return f"{whole_seconds} second" + ("s" if whole_seconds != 1 else "")
