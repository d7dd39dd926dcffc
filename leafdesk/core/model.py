"""The domain model: Leaf users, their Panorama credentials, credential events and app keys.

Every type is a frozen dataclass built by the Leaf client from tolerant parsing, so the fields
hold what Leaf sent even where it differs from Leaf's documentation: a `status` string LeafDesk
does not know is kept as it came. Secrets (tokens) live only in memory and never print.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


class Environment(enum.StrEnum):
    """Panorama environment of a partner login. A credential made for one fails in the other."""

    STAGE = "STAGE"
    PRODUCTION = "PRODUCTION"


class CredentialStatus(enum.StrEnum):
    """The four `status` values Leaf has documented for a provider credential.

    Leaf may send any other string; such a value is kept raw on the credential and maps to
    `ConnectionState.UNKNOWN`.
    """

    OK = "OK"
    UNAUTHENTICATED = "UNAUTHENTICATED"
    MISSING_PERMISSION = "MISSING_PERMISSION"
    TEMPORARILY_UNAVAILABLE = "TEMPORARILY_UNAVAILABLE"


class ConnectionState(enum.StrEnum):
    """A Leaf user's Panorama connection as the operator sees it, derived in `core.states`."""

    NOT_CONNECTED = "not_connected"
    WAITING_FOR_GROWER = "waiting_for_grower"
    CONNECTED = "connected"
    NEEDS_REAUTHORIZATION = "needs_reauthorization"
    MISSING_PERMISSION = "missing_permission"
    PROVIDER_UNAVAILABLE = "provider_unavailable"
    UNKNOWN = "unknown"


class Actor(enum.StrEnum):
    """The party that must act to move a connection forward."""

    NOBODY = "nobody"
    GROWER = "grower"
    PROVIDER = "provider"  # Panorama or Leaf
    STAFF = "staff"


class Secret(str):
    """A string that never shows its value in `repr`, f-string debugging or logs of containers."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "Secret('********')" if self else "Secret('')"

    def masked(self) -> str:
        """Return a display form that shows only the last four characters of long values."""
        if len(self) <= 8:
            return "•" * len(self)
        return "•" * 8 + self[-4:]


@dataclass(frozen=True, slots=True)
class CredentialSummary:
    """The Panorama credential as embedded in a Leaf user response, possibly only its id."""

    id: str
    status: str | None = None
    created_time: datetime | None = None


@dataclass(frozen=True, slots=True)
class LeafUser:
    """A Leaf user: the account under which one grower's provider data is gathered."""

    id: str
    name: str
    email: str | None = None
    phone: str | None = None
    address: str | None = None
    external_id: str | None = None
    api_owner_username: str | None = None
    panorama: CredentialSummary | None = None


@dataclass(frozen=True, slots=True)
class PanoramaCredential:
    """A Leaf user's Panorama credential. Tokens are held in memory only, as `Secret`."""

    id: str
    leaf_user_id: str
    status: str
    created_time: datetime | None = None
    client_id: str | None = None
    username: str | None = None
    organization_code: str | None = None
    client_environment: str | None = None
    access_token: Secret = field(default=Secret(""), repr=False)
    refresh_token: Secret = field(default=Secret(""), repr=False)


@dataclass(frozen=True, slots=True)
class CredentialEvent:
    """One exchange between Leaf and Panorama, as logged by Leaf for a credential.

    `headers` and `body` are the decoded JSON when the strings Leaf sent contained JSON, and the
    raw strings otherwise. `raw_headers` and `raw_body` keep the strings as Leaf sent them,
    with secrets masked.
    """

    id: str
    leaf_user_id: str
    status_code: int | None
    created_date: datetime | None
    headers: Any = None
    body: Any = None
    raw_headers: str | None = None
    raw_body: str | None = None


@dataclass(frozen=True, slots=True)
class AppKey:
    """A partner application's Panorama settings, kept by Leaf at the API-owner level."""

    app_name: str
    client_environment: str
    client_id: str
    username: str
    sharing_url_id: str
    created_time: datetime | None = None


@dataclass(frozen=True, slots=True)
class OneClickInput:
    """A checked request to start a one-click integration: the partner's Panorama login.

    Built only by `core.validation`, so every field is trimmed and valid.
    """

    client_id: str
    username: str
    password: Secret = field(repr=False)
    client_environment: Environment
    sharing_url_id: str


@dataclass(frozen=True, slots=True)
class ManualCredentialInput:
    """A checked request to attach a Panorama credential by hand; built by `core.validation`."""

    client_id: str
    username: str
    password: Secret = field(repr=False)
    organization_code: str
    refresh_token: Secret = field(repr=False)
    client_environment: Environment


@dataclass(frozen=True, slots=True)
class OneClickStart:
    """Leaf's response to a one-click start: the page where the grower approves the share."""

    leaf_user_id: str
    sign_in_url: str
    raw: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class PendingOneClick:
    """A one-click integration LeafDesk started and is waiting on.

    Leaf reports nothing about pending one-clicks, so LeafDesk records its own to show
    "waiting for the grower" as a state.
    """

    leaf_user_id: str
    started_at: datetime
    expires_at: datetime
    started_by: str
    client_id: str
    client_environment: str
    sign_in_url: str


@dataclass(frozen=True, slots=True)
class StateView:
    """A Leaf user's connection state with who must act, the next step and when it was checked."""

    state: ConnectionState
    raw_status: str | None
    actor: Actor
    summary: str
    next_step: str
    checked_at: datetime | None


@dataclass(frozen=True, slots=True)
class UserRow:
    """One line of the users table: a Leaf user with their derived Panorama state.

    Built by the sync service from Leaf and by the cache from disk; the window and the terminal
    show nothing else. `state.checked_at` is when this row's state was last read from Leaf.
    """

    user: LeafUser
    state: StateView
    organization_code: str | None = None
    client_environment: str | None = None
    connected_since: datetime | None = None
    from_cache: bool = False
