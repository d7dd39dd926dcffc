"""Credential events the sandbox writes: Cognito and Panorama responses as Leaf logs them.

Each kind maps to the `statusCode`, `headers` and `body` of one exchange with the provider, and
to the credential status it leaves behind. Bodies are JSON strings, as Leaf sends them.
"""

from __future__ import annotations

import json
import random
import uuid

from .clock import DATE_MICROS_Z, DATE_MILLIS_Z, DATE_ZONELESS
from .store import Event

_COGNITO_HEADERS = json.dumps({"Content-Type": "application/x-amz-json-1.1",
                               "Connection": "keep-alive"})
_PANORAMA_HEADERS = json.dumps({"Content-Type": "application/json",
                                "Connection": "keep-alive"})
_OUTAGE_HEADERS = json.dumps({"Content-Type": "text/html", "Retry-After": "120"})


def _cognito_error(error_type: str, message: str) -> str:
    return json.dumps({"__type": error_type, "message": message})


# kind -> (statusCode, headers, body, status the credential has afterwards)
EVENT_KINDS: dict[str, tuple[int, str, str, str]] = {
    "token_refreshed": (200, _COGNITO_HEADERS, json.dumps({
        "AuthenticationResult": {"AccessToken": "<redacted>", "ExpiresIn": 3600,
                                 "IdToken": "<redacted>", "TokenType": "Bearer"},
        "ChallengeParameters": {}}), "OK"),
    "refresh_token_expired": (400, _COGNITO_HEADERS, _cognito_error(
        "NotAuthorizedException", "Refresh Token has expired"), "UNAUTHENTICATED"),
    "refresh_token_revoked": (400, _COGNITO_HEADERS, _cognito_error(
        "NotAuthorizedException", "Refresh Token has been revoked"), "UNAUTHENTICATED"),
    "password_reset_required": (400, _COGNITO_HEADERS, _cognito_error(
        "PasswordResetRequiredException", "Password reset required for the user"),
        "UNAUTHENTICATED"),
    "user_not_found": (400, _COGNITO_HEADERS, _cognito_error(
        "UserNotFoundException", "User does not exist."), "UNAUTHENTICATED"),
    # The three failures of the check of a manual credential (see credential_check.py).
    "partner_login_rejected": (400, _COGNITO_HEADERS, _cognito_error(
        "NotAuthorizedException", "Incorrect username or password."), "UNAUTHENTICATED"),
    "app_client_not_found": (400, _COGNITO_HEADERS, _cognito_error(
        "ResourceNotFoundException", "User pool client does not exist."), "UNAUTHENTICATED"),
    "organization_not_shared": (403, _PANORAMA_HEADERS, json.dumps({
        "status": 403, "error": "Forbidden",
        "message": "The organization does not share its data with this application"}),
        "MISSING_PERMISSION"),
    "sharing_revoked": (403, _PANORAMA_HEADERS, json.dumps({
        "status": 403, "error": "Forbidden",
        "message": "The organization no longer shares its data with this application"}),
        "MISSING_PERMISSION"),
    "permission_missing": (403, _PANORAMA_HEADERS, json.dumps({
        "status": 403, "error": "Forbidden",
        "message": "Missing permission: field operations are not shared"}),
        "MISSING_PERMISSION"),
    "provider_unavailable": (503, _OUTAGE_HEADERS, json.dumps(
        "<html><body><h1>503 Service Temporarily Unavailable</h1></body></html>"),
        "TEMPORARILY_UNAVAILABLE"),
    "cognito_internal_error": (500, _COGNITO_HEADERS, _cognito_error(
        "InternalErrorException", "An internal error occurred"), "TEMPORARILY_UNAVAILABLE"),
    "cognito_throttled": (400, _COGNITO_HEADERS, _cognito_error(
        "TooManyRequestsException", "Rate exceeded"), "TEMPORARILY_UNAVAILABLE"),
}

# The kinds that explain each documented status, for the health process and the controls.
KINDS_FOR_STATUS: dict[str, tuple[str, ...]] = {
    "OK": ("token_refreshed",),
    "UNAUTHENTICATED": ("refresh_token_expired", "refresh_token_revoked",
                        "password_reset_required", "user_not_found"),
    "MISSING_PERMISSION": ("sharing_revoked", "permission_missing"),
    "TEMPORARILY_UNAVAILABLE": ("provider_unavailable", "cognito_internal_error",
                                "cognito_throttled"),
}


def new_id(rng: random.Random | None = None) -> str:
    """Return a random UUID string, seeded when `rng` is given so demo data repeats."""
    if rng is None:
        return str(uuid.uuid4())
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def event_date_form(rng: random.Random) -> int:
    """Pick a date form for an event's createdDate: mostly milliseconds, some zoneless."""
    roll = rng.random()
    if roll < 0.7:
        return DATE_MILLIS_Z
    if roll < 0.85:
        return DATE_MICROS_Z
    return DATE_ZONELESS


def credential_date_form(rng: random.Random) -> int:
    """Pick a date form for a credential's createdTime: mostly microseconds, some zoneless."""
    return DATE_ZONELESS if rng.random() < 0.2 else DATE_MICROS_Z


def make_event(kind: str, created: float, rng: random.Random, *, seeded: bool = True) -> Event:
    status_code, headers, body, _ = EVENT_KINDS[kind]
    event_id = new_id(rng if seeded else None)
    return Event(event_id, created, event_date_form(rng), status_code, headers, body)


def status_change_event(status: str, created: float, rng: random.Random) -> Event:
    """Build the event that explains a move to `status`; any string is accepted.

    A status Leaf has not documented gets a plain 500 naming the status, since no real
    provider response exists for it.
    """
    kinds = KINDS_FOR_STATUS.get(status)
    if kinds:
        return make_event(rng.choice(kinds), created, rng, seeded=False)
    body = json.dumps({"status": 500, "error": "Unknown",
                       "message": f"Credential status set to {status}"})
    return Event(new_id(), created, event_date_form(rng), 500, _PANORAMA_HEADERS, body)


def status_after(kind: str) -> str:
    return EVENT_KINDS[kind][3]
