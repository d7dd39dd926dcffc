"""The one place a Leaf user's Panorama connection state is derived, with who acts and the next step.

Everything that shows a state (the window, the terminal, the cache when it rebuilds rows) calls
`derive_state`, so a status string means the same thing on every screen.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

from leafdesk.core.events import EventDescription
from leafdesk.core.model import (
    Actor,
    ConnectionState,
    CredentialStatus,
    PendingOneClick,
    StateView,
)

# Short labels for tables, counts and filters, in the order of the summary strip.
STATE_LABELS: dict[ConnectionState, str] = {
    ConnectionState.CONNECTED: "Connected",
    ConnectionState.WAITING_FOR_GROWER: "Waiting for grower",
    ConnectionState.NEEDS_REAUTHORIZATION: "Needs re-authorization",
    ConnectionState.MISSING_PERMISSION: "Missing permission",
    ConnectionState.PROVIDER_UNAVAILABLE: "Provider unavailable",
    ConnectionState.UNKNOWN: "Unknown",
    ConnectionState.NOT_CONNECTED: "Not connected",
}

ACTOR_LABELS: dict[Actor, str] = {
    Actor.NOBODY: "Nobody",
    Actor.GROWER: "Grower",
    Actor.PROVIDER: "Panorama or Leaf",
    Actor.STAFF: "Staff",
}

# The four values an earlier revision of Leaf's docs listed; the current docs show only OK.
_BY_STATUS: dict[str, tuple[ConnectionState, Actor, str, str]] = {
    CredentialStatus.OK: (
        ConnectionState.CONNECTED,
        Actor.NOBODY,
        "Leaf holds a working Panorama credential and gathers the grower's data.",
        "Nothing to do.",
    ),
    CredentialStatus.UNAUTHENTICATED: (
        ConnectionState.NEEDS_REAUTHORIZATION,
        Actor.GROWER,
        (
            "Panorama no longer accepts the credential: the refresh token expired or was "
            "revoked, or the Panorama password changed."
        ),
        "Start a new one-click connection and ask the grower to approve sharing again.",
    ),
    CredentialStatus.MISSING_PERMISSION: (
        ConnectionState.MISSING_PERMISSION,
        Actor.GROWER,
        "Panorama accepts the credential but it lacks access to the grower's data.",
        "Ask the grower to share their operation with the partner application in Panorama.",
    ),
    CredentialStatus.TEMPORARILY_UNAVAILABLE: (
        ConnectionState.PROVIDER_UNAVAILABLE,
        Actor.PROVIDER,
        "Panorama is failing when Leaf calls it; the credential itself may be fine.",
        "Wait: Leaf checks again by itself. Look at the events if it lasts more than a day.",
    ),
}

_ATTENTION_FREE = frozenset({ConnectionState.CONNECTED})

# Failures of the partner's own login or app client, which the grower cannot fix. They are
# matched on `describe_event`'s titles, because Cognito's NotAuthorizedException alone covers
# expired and revoked refresh tokens too.
_PARTNER_LOGIN_TITLES = frozenset({"Partner login rejected", "Panorama user not found"})
_APP_CLIENT_ERRORS = frozenset({"ResourceNotFoundException", "invalid_client",
                                "unauthorized_client"})
# States that a broken partner login or app client may explain. Connected and Not connected
# are left alone: the first contradicts a failing sign-in and the second has no credential.
_REFINABLE = frozenset({ConnectionState.NEEDS_REAUTHORIZATION, ConnectionState.UNKNOWN,
                        ConnectionState.PROVIDER_UNAVAILABLE,
                        ConnectionState.MISSING_PERMISSION})


def derive_state(
    status: str | None,
    *,
    has_credential: bool,
    pending: PendingOneClick | None = None,
    checked_at: datetime | None = None,
    now: datetime | None = None,
) -> StateView:
    """Derive the connection state from a credential status and LeafDesk's pending one-click.

    `status` is the credential's `status` as Leaf sent it (embedded in the user record or read
    from the credential itself), or None when there is no credential or its status was not read.
    A credential always wins over a pending one-click: once it is attached the wait is over.
    A status LeafDesk does not know becomes `UNKNOWN` and keeps the raw string.
    """
    now = now or datetime.now(UTC)

    if has_credential or status is not None:
        return _from_status(status, checked_at)

    if pending is not None and _aware(pending.expires_at) > _aware(now):
        return StateView(
            state=ConnectionState.WAITING_FOR_GROWER,
            raw_status=None,
            actor=Actor.GROWER,
            summary=(
                f"{pending.started_by or 'Staff'} started a one-click connection on "
                f"{_format_time(pending.started_at)}; the grower has not approved sharing yet."
            ),
            next_step=(
                "Send the grower the sign-in link and ask them to approve sharing before "
                f"{_format_time(pending.expires_at)}."
            ),
            checked_at=checked_at,
        )

    summary = "Leaf holds no Panorama credential for this user."
    if pending is not None:
        # Leaf does not report a declined share, so an expired record is all LeafDesk can see.
        summary = (
            f"The one-click connection started on {_format_time(pending.started_at)} expired "
            "without a credential: the grower declined it or did not respond in time."
        )
    return StateView(
        state=ConnectionState.NOT_CONNECTED,
        raw_status=None,
        actor=Actor.STAFF,
        summary=summary,
        next_step="Connect with one-click, or enter the Panorama credential by hand.",
        checked_at=checked_at,
    )


def refine_state(view: StateView, latest_event: EventDescription | None) -> StateView:
    """Return `view` with the actor and next step corrected by the credential's newest event.

    Leaf's status tells only that Panorama rejects the credential. When the newest event (as
    `describe_event` returns it) shows Panorama rejecting the partner login or not knowing the
    partner app client, the fix is the staff's, in the manual form or the partner preset, and
    asking the grower to approve sharing again would not help. Otherwise `view` is returned as
    it is.
    """
    if latest_event is None or latest_event.succeeded or view.state not in _REFINABLE:
        return view

    if latest_event.title in _PARTNER_LOGIN_TITLES:
        return replace(
            view,
            actor=Actor.STAFF,
            summary=(
                "Panorama rejected the partner username or password that this credential was "
                "created with, so Leaf cannot sign in with it."
            ),
            next_step=(
                "Correct the partner username and password in the partner preset (Settings) "
                "or in the manual form, then enter the credential again. The grower need not "
                "do anything."
            ),
        )
    if latest_event.error_type in _APP_CLIENT_ERRORS:
        return replace(
            view,
            actor=Actor.STAFF,
            summary=(
                "Panorama does not know the partner app client this credential was created "
                "with: the client id is wrong or belongs to the other environment."
            ),
            next_step=(
                "Correct the client id or the environment in the partner preset (Settings) or "
                "in the manual form, then enter the credential again. The grower need not do "
                "anything."
            ),
        )
    return view


def needs_attention(view: StateView) -> bool:
    """Return True for every state other than Connected; the terminal's exit status uses it."""
    return view.state not in _ATTENTION_FREE


def state_label(view_or_state: StateView | ConnectionState) -> str:
    """Return the short label of a state, with the raw status for Unknown ("Unknown: PAUSED")."""
    if isinstance(view_or_state, StateView):
        label = STATE_LABELS[view_or_state.state]
        if view_or_state.state is ConnectionState.UNKNOWN and view_or_state.raw_status:
            label = f"{label}: {view_or_state.raw_status}"
        return label
    return STATE_LABELS[view_or_state]


def _from_status(status: str | None, checked_at: datetime | None) -> StateView:
    # Leaf documents upper-case values. Other spellings of a known value are read as that value,
    # while `raw_status` keeps the string as Leaf sent it.
    key = (status or "").strip().upper()
    known = _BY_STATUS.get(key)
    if known is not None:
        state, actor, summary, next_step = known
        return StateView(state, status, actor, summary, next_step, checked_at)

    if not key:
        summary = "Leaf holds a Panorama credential but sent no status for it."
    else:
        summary = f"Leaf reports the status {status!r}, which LeafDesk does not know."
    return StateView(
        state=ConnectionState.UNKNOWN,
        raw_status=status,
        actor=Actor.STAFF,
        summary=summary,
        next_step="Open the credential's events to see what Panorama returned, then re-check.",
        checked_at=checked_at,
    )


def _aware(moment: datetime) -> datetime:
    # Dates without a zone are UTC throughout LeafDesk, as Leaf sends them.
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _format_time(moment: datetime) -> str:
    return _aware(moment).astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")
