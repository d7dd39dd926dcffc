"""`refine_state`: the newest credential event corrects who must act on a rejected credential."""

from __future__ import annotations

import pytest

from leafdesk.core.events import describe_event
from leafdesk.core.model import Actor, ConnectionState, CredentialEvent
from leafdesk.core.states import derive_state, refine_state


def _cognito_event(error_type: str, message: str) -> CredentialEvent:
    return CredentialEvent(id="event-1", leaf_user_id="user-1", status_code=400,
                           created_date=None, headers=None,
                           body={"__type": error_type, "message": message})


def test_rejected_partner_login_is_staffs():
    view = derive_state("UNAUTHENTICATED", has_credential=True)
    latest = describe_event(_cognito_event("NotAuthorizedException",
                                           "Incorrect username or password."))

    refined = refine_state(view, latest)

    assert refined.state is ConnectionState.NEEDS_REAUTHORIZATION
    assert refined.actor is Actor.STAFF
    assert "partner username or password" in refined.summary
    assert "partner username and password" in refined.next_step
    assert "grower need not" in refined.next_step
    assert "approve sharing" not in refined.next_step


@pytest.mark.parametrize("body", [
    {"__type": "ResourceNotFoundException", "message": "User pool client does not exist."},
    {"error": "invalid_client"},
])
def test_unknown_app_client_is_staffs(body):
    view = derive_state("UNAUTHENTICATED", has_credential=True)
    event = CredentialEvent(id="event-1", leaf_user_id="user-1", status_code=400,
                            created_date=None, headers=None, body=body)

    refined = refine_state(view, describe_event(event))

    assert refined.actor is Actor.STAFF
    assert "client id or the environment" in refined.next_step


def test_expired_refresh_token_stays_growers():
    view = derive_state("UNAUTHENTICATED", has_credential=True)
    latest = describe_event(_cognito_event("NotAuthorizedException",
                                           "Refresh Token has expired"))

    assert refine_state(view, latest) == view


def test_connected_and_missing_event_unchanged():
    rejected = describe_event(_cognito_event("NotAuthorizedException",
                                             "Incorrect username or password."))
    connected = derive_state("OK", has_credential=True)
    broken = derive_state("UNAUTHENTICATED", has_credential=True)

    assert refine_state(connected, rejected) == connected
    assert refine_state(broken, None) == broken
