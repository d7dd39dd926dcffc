"""Builders of users-table rows and credential events for the cache tests; it holds no tests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from leafdesk.core.model import (
    Actor,
    ConnectionState,
    CredentialEvent,
    CredentialSummary,
    LeafUser,
    StateView,
    UserRow,
)

BASE_TIME = datetime(2026, 3, 1, 12, 0, 0, 123456, tzinfo=UTC)

STATUS_STATES = {
    "OK": (ConnectionState.CONNECTED, Actor.NOBODY),
    "UNAUTHENTICATED": (ConnectionState.NEEDS_REAUTHORIZATION, Actor.GROWER),
    "MISSING_PERMISSION": (ConnectionState.MISSING_PERMISSION, Actor.GROWER),
    "TEMPORARILY_UNAVAILABLE": (ConnectionState.PROVIDER_UNAVAILABLE, Actor.PROVIDER),
}


def make_row(
    index: int,
    status: str | None = "OK",
    *,
    checked_at: datetime | None = None,
    name: str | None = None,
) -> UserRow:
    """Return the row of demo user `index` with credential `status` (None for no credential)."""
    checked_at = checked_at or BASE_TIME + timedelta(seconds=index)
    if status is None:
        state, actor, credential = ConnectionState.NOT_CONNECTED, Actor.STAFF, None
    else:
        state, actor = STATUS_STATES.get(status, (ConnectionState.UNKNOWN, Actor.STAFF))
        credential = CredentialSummary(
            id=f"cred-{index:06d}", status=status, created_time=BASE_TIME - timedelta(days=3)
        )
    user = LeafUser(
        id=f"user-{index:06d}",
        name=name or f"Grower {index:06d}",
        email=f"grower{index}@farm.test",
        phone="+1 555 0100",
        address=f"{index} Field Road",
        external_id=f"ext-{index}",
        api_owner_username="owner@leafdesk.test",
        panorama=credential,
    )
    view = StateView(
        state=state,
        raw_status=status,
        actor=actor,
        summary=f"Summary of {state.value}",
        next_step=f"Next step for {state.value}",
        checked_at=checked_at,
    )
    return UserRow(
        user=user,
        state=view,
        organization_code=f"ORG-{index}" if credential else None,
        client_environment="STAGE" if credential else None,
        connected_since=BASE_TIME - timedelta(days=3) if credential else None,
    )


def make_event(
    user_id: str, number: int, *, body: object = None, headers: object = None, raw_body=None
) -> CredentialEvent:
    """Return credential event `number` of a user, created `number` minutes after BASE_TIME."""
    return CredentialEvent(
        id=f"evt-{user_id}-{number}",
        leaf_user_id=user_id,
        status_code=200,
        created_date=BASE_TIME + timedelta(minutes=number),
        headers=headers if headers is not None else {"Content-Type": "application/json"},
        body=body if body is not None else {"number": number},
        raw_headers=None,
        raw_body=raw_body,
    )
