"""Checks of one-click and manual-credential input before anything is sent to Leaf.

Each check trims the values, collects every problem as a `FieldError` named after the keyword
argument it concerns, and raises one `ValidationError` listing them all, so a form can show each
message beside its field. On success it returns the checked input type from `core.model`.
"""

from __future__ import annotations

import re
import unicodedata

from leafdesk.core.errors import FieldError, ValidationError
from leafdesk.core.model import Environment, ManualCredentialInput, OneClickInput, Secret

# Maximum lengths in characters. Cognito documents 128 for a user name and 256 for a password.
# The others are generous bounds that catch a wrong paste without rejecting real values.
# NOTE: Leaf publishes no limits of its own, so these are LeafDesk's estimates, not Leaf's rules.
MAX_LENGTHS: dict[str, int] = {
    "client_id": 128,
    "username": 128,
    "password": 256,
    "organization_code": 128,
    "refresh_token": 8192,
    "sharing_url_id": 36,
}

# Leaf's JSON names of the same fields, so Leaf's own `fieldErrors` can be shown on our forms.
LEAF_FIELD_NAMES: dict[str, str] = {
    "clientId": "client_id",
    "username": "username",
    "password": "password",
    "organizationCode": "organization_code",
    "refreshToken": "refresh_token",
    "clientEnvironment": "client_environment",
    "sharingUrlId": "sharing_url_id",
}

_UUID = re.compile(
    r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
)

_LABELS = {
    "client_id": "Client id",
    "username": "Partner username",
    "password": "Partner password",
    "organization_code": "Organization code",
    "refresh_token": "Refresh token",
    "client_environment": "Environment",
    "sharing_url_id": "Sharing URL id",
}


def validate_one_click(
    *,
    client_id: str | None,
    username: str | None,
    password: str | None,
    client_environment: str | Environment | None,
    sharing_url_id: str | None,
) -> OneClickInput:
    """Check the partner's Panorama login and sharing URL id for a one-click connection.

    Raises `ValidationError` with one `FieldError` per rejected field.
    """
    errors: list[FieldError] = []
    checked_client_id = _text("client_id", client_id, errors)
    checked_username = _text("username", username, errors)
    checked_password = _secret("password", password, errors)
    environment = _environment(client_environment, errors)
    checked_sharing_url_id = _sharing_url_id(sharing_url_id, errors)

    _raise_if_any(errors, "check the one-click connection details")
    return OneClickInput(
        client_id=checked_client_id,
        username=checked_username,
        password=checked_password,
        client_environment=environment,
        sharing_url_id=checked_sharing_url_id,
    )


def validate_manual(
    *,
    client_id: str | None,
    username: str | None,
    password: str | None,
    organization_code: str | None,
    refresh_token: str | None,
    client_environment: str | Environment | None,
) -> ManualCredentialInput:
    """Check a Panorama credential entered by hand: the partner's login, the grower's
    organization code and a Cognito refresh token.

    Raises `ValidationError` with one `FieldError` per rejected field.
    """
    errors: list[FieldError] = []
    checked_client_id = _text("client_id", client_id, errors)
    checked_username = _text("username", username, errors)
    checked_password = _secret("password", password, errors)
    checked_organization_code = _text("organization_code", organization_code, errors)
    checked_refresh_token = _secret("refresh_token", refresh_token, errors, trim=True)
    environment = _environment(client_environment, errors)

    _raise_if_any(errors, "check the Panorama credential")
    return ManualCredentialInput(
        client_id=checked_client_id,
        username=checked_username,
        password=checked_password,
        organization_code=checked_organization_code,
        refresh_token=checked_refresh_token,
        client_environment=environment,
    )


def form_field(leaf_field: str) -> str:
    """Map a field name from Leaf's `fieldErrors` to the name the checks above use."""
    return LEAF_FIELD_NAMES.get(leaf_field, leaf_field)


def _raise_if_any(errors: list[FieldError], action: str) -> None:
    if not errors:
        return
    if len(errors) == 1:
        message = errors[0].message
    else:
        names = ", ".join(_LABELS.get(error.field, error.field).lower() for error in errors)
        message = f"{len(errors)} fields need correcting: {names}"
    raise ValidationError(message, field_errors=errors, action=action)


def _text(name: str, value: str | None, errors: list[FieldError]) -> str:
    cleaned = (value or "").strip()
    problem = _common_problem(name, cleaned)
    if problem:
        errors.append(FieldError(name, problem))
    return cleaned


def _secret(
    name: str, value: str | None, errors: list[FieldError], *, trim: bool = False
) -> Secret:
    # A password may really begin or end with a space, so only a pasted line break is dropped.
    # A token contains no spaces, so it is trimmed like any other field.
    raw = value or ""
    cleaned = raw.strip() if trim else raw.strip("\r\n")
    if not cleaned.strip():
        cleaned = ""
    problem = _common_problem(name, cleaned)
    if problem:
        errors.append(FieldError(name, problem))
    return Secret(cleaned)


def _common_problem(name: str, cleaned: str) -> str | None:
    label = _LABELS[name]
    if not cleaned:
        return f"{label} is required."

    limit = MAX_LENGTHS[name]
    if len(cleaned) > limit:
        return f"{label} is too long: {len(cleaned)} characters, at most {limit}."

    bad = _first_invisible(cleaned)
    if bad is not None:
        return f"{label} contains an invisible control character ({bad}); retype or re-paste it."
    return None


def _first_invisible(value: str) -> str | None:
    # Cc covers control characters such as tabs and line breaks. Cf covers invisible formatting
    # characters (zero-width spaces, direction marks) that a copy from a web page can contain.
    for character in value:
        if unicodedata.category(character) in ("Cc", "Cf"):
            return f"U+{ord(character):04X}"
    return None


def _environment(value: str | Environment | None, errors: list[FieldError]) -> Environment:
    cleaned = str(value or "").strip().upper()
    try:
        return Environment(cleaned)
    except ValueError:
        if not cleaned:
            message = "Environment is required: STAGE or PRODUCTION."
        else:
            message = f"Environment must be STAGE or PRODUCTION, not {str(value).strip()!r}."
        errors.append(FieldError("client_environment", message))
        return Environment.STAGE


def _sharing_url_id(value: str | None, errors: list[FieldError]) -> str:
    cleaned = (value or "").strip()
    cleaned = _uuid_from_pasted_url(cleaned) or cleaned

    # A value longer than a UUID gets the UUID message because it explains more than "too long".
    problem = None
    if len(cleaned) <= MAX_LENGTHS["sharing_url_id"]:
        problem = _common_problem("sharing_url_id", cleaned)
    if problem is None and not _UUID.fullmatch(cleaned):
        problem = (
            "Sharing URL id must be a UUID such as 3f2a9c1e-5b7d-4e8f-9a0b-1c2d3e4f5a6b: "
            "the id inside the Share Initiation URL (Panorama Partner Portal, Account Details)."
        )
    if problem:
        errors.append(FieldError("sharing_url_id", problem))
    return cleaned


def _uuid_from_pasted_url(value: str) -> str | None:
    # Operators often paste the whole Share Initiation URL, whose only UUID is the expected id.
    if not value.lower().startswith(("http://", "https://")):
        return None
    found = _UUID.findall(value)
    return found[0] if len(found) == 1 else None
