"""Tests of derive_state: every connection state, who acts, and the pending one-click window."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from leafdesk.core.model import Actor, ConnectionState, PendingOneClick
from leafdesk.core.states import STATE_LABELS, derive_state, needs_attention, state_label

NOW = datetime(2026, 5, 4, 12, 0, tzinfo=UTC)
CHECKED = NOW - timedelta(minutes=3)


def _pending(expires_in: timedelta) -> PendingOneClick:
    return PendingOneClick(
        leaf_user_id="u1",
        started_at=NOW - timedelta(minutes=5),
        expires_at=NOW + expires_in,
        started_by="ana@example.com",
        client_id="client",
        client_environment="STAGE",
        sign_in_url="http://127.0.0.1/panorama-share/x",
    )


@pytest.mark.parametrize(
    ("status", "state", "actor"),
    [
        ("OK", ConnectionState.CONNECTED, Actor.NOBODY),
        ("UNAUTHENTICATED", ConnectionState.NEEDS_REAUTHORIZATION, Actor.GROWER),
        ("MISSING_PERMISSION", ConnectionState.MISSING_PERMISSION, Actor.GROWER),
        ("TEMPORARILY_UNAVAILABLE", ConnectionState.PROVIDER_UNAVAILABLE, Actor.PROVIDER),
    ],
)
def test_known_status_maps_to_state(status, state, actor):
    view = derive_state(status, has_credential=True, checked_at=CHECKED, now=NOW)
    assert view.state is state
    assert view.actor is actor
    assert view.raw_status == status
    assert view.checked_at == CHECKED
    assert view.summary
    assert view.next_step


def test_unknown_status_kept_raw():
    view = derive_state("PAUSED_BY_PROVIDER", has_credential=True, now=NOW)
    assert view.state is ConnectionState.UNKNOWN
    assert view.raw_status == "PAUSED_BY_PROVIDER"
    assert view.actor is Actor.STAFF
    assert "PAUSED_BY_PROVIDER" in view.summary
    assert state_label(view) == "Unknown: PAUSED_BY_PROVIDER"


def test_status_spelling_tolerated_raw_kept():
    view = derive_state(" ok ", has_credential=True, now=NOW)
    assert view.state is ConnectionState.CONNECTED
    assert view.raw_status == " ok "


def test_credential_without_status_is_unknown():
    view = derive_state(None, has_credential=True, now=NOW)
    assert view.state is ConnectionState.UNKNOWN
    assert view.raw_status is None


def test_no_credential_is_not_connected():
    view = derive_state(None, has_credential=False, checked_at=CHECKED, now=NOW)
    assert view.state is ConnectionState.NOT_CONNECTED
    assert view.actor is Actor.STAFF
    assert view.checked_at == CHECKED


def test_live_pending_is_waiting_for_grower():
    view = derive_state(None, has_credential=False, pending=_pending(timedelta(minutes=10)),
                        now=NOW)
    assert view.state is ConnectionState.WAITING_FOR_GROWER
    assert view.actor is Actor.GROWER
    assert "ana@example.com" in view.summary
    assert "2026-05-04 12:10 UTC" in view.next_step


def test_expired_pending_is_not_connected_and_says_why():
    view = derive_state(None, has_credential=False, pending=_pending(timedelta(seconds=-1)),
                        now=NOW)
    assert view.state is ConnectionState.NOT_CONNECTED
    assert "declined" in view.summary
    assert "expired" in view.summary


def test_pending_expiring_exactly_now_is_over():
    view = derive_state(None, has_credential=False, pending=_pending(timedelta(0)), now=NOW)
    assert view.state is ConnectionState.NOT_CONNECTED


def test_credential_wins_over_pending():
    view = derive_state("OK", has_credential=True, pending=_pending(timedelta(minutes=10)),
                        now=NOW)
    assert view.state is ConnectionState.CONNECTED


def test_zoneless_times_read_as_utc():
    pending = _pending(timedelta(minutes=10))
    zoneless = PendingOneClick(**{**{f: getattr(pending, f) for f in pending.__slots__},
                                  "expires_at": (NOW + timedelta(minutes=1)).replace(tzinfo=None)})
    view = derive_state(None, has_credential=False, pending=zoneless, now=NOW)
    assert view.state is ConnectionState.WAITING_FOR_GROWER


def test_needs_attention_only_when_not_connected_ok():
    assert not needs_attention(derive_state("OK", has_credential=True, now=NOW))
    for status in ("UNAUTHENTICATED", "MISSING_PERMISSION", "TEMPORARILY_UNAVAILABLE", "X"):
        assert needs_attention(derive_state(status, has_credential=True, now=NOW))
    assert needs_attention(derive_state(None, has_credential=False, now=NOW))


def test_every_state_has_a_label():
    assert set(STATE_LABELS) == set(ConnectionState)
