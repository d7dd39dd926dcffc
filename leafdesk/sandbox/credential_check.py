"""Leaf's background check of a Panorama credential entered by hand.

Leaf accepts a manual credential as sent (201, status OK) and tries it with Panorama later,
changing `status` when Panorama rejects it. [ours] The sandbox decides the outcome at create
time, because only then does it have the partner password. A credential keeps no password, not
even a hash. The outcome takes effect 2 to 5 sandbox seconds later, applied by whichever comes
first: the once-a-second tick, an API request, a clock advance or a health step. It runs with
or without the health process, because it only reports what is already wrong with the input.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from .events import make_event

if TYPE_CHECKING:
    from .state import SandboxState
    from .store import Credential, Store, User

log = logging.getLogger(__name__)

CHECK_DELAY_SECONDS = (2.0, 5.0)
# [ours] Panorama publishes no format for organization codes. The sandbox accepts codes shaped
# like its demo ones: "PP-" and six letters or digits, in any case. Any other code gets a 403,
# as an organization that shares nothing with the partner would.
ORGANIZATION_CODE = re.compile(r"PP-[A-Z0-9]{6}", re.IGNORECASE)


@dataclass(slots=True)
class PendingCheck:
    """A check waiting on the sandbox clock, with the event kind (`kind`) it writes when due."""

    credential_id: str
    due: float
    kind: str


def judge(store: Store, *, client_id: str, environment: str, username: str, password: str,
          organization_code: str) -> str:
    """Return the event kind of Panorama's response to this credential.

    The order follows the exchange: Cognito first checks the app client, then the partner
    login, and only a signed-in partner reaches Panorama's organization data.
    """
    if (client_id, environment) not in store.partner_accounts:
        return "app_client_not_found"
    if not store.partner_login_valid(client_id, environment, username, password):
        return "partner_login_rejected"
    if not ORGANIZATION_CODE.fullmatch(organization_code.strip()):
        return "organization_not_shared"
    return "token_refreshed"


def schedule(state: SandboxState, user: User, credential: Credential, kind: str) -> None:
    """Queue the check of a newly created credential, due a few sandbox seconds after it."""
    due = credential.created + state.health_rng.uniform(*CHECK_DELAY_SECONDS)
    state.pending_checks[user.id] = PendingCheck(credential.id, due, kind)


def run_due(state: SandboxState, upto: float) -> int:
    """Apply every pending check due by `upto`, oldest first, and return how many ran."""
    due = sorted((check.due, user_id) for user_id, check in state.pending_checks.items()
                 if check.due <= upto)
    for _, user_id in due:
        check = state.pending_checks.pop(user_id)
        user = state.store.users.get(user_id)
        credential = user.credential if user is not None else None
        # Skip the check when its credential was deleted, replaced or moved off OK meanwhile.
        if (user is None or credential is None or credential.id != check.credential_id
                or credential.status != "OK"):
            continue
        if check.kind == "token_refreshed":
            state.record_event(credential,
                               make_event(check.kind, check.due, state.health_rng, seeded=False))
        else:
            state.change_status(user, check.kind, check.due)
        log.info("background check of credential %s of user %s: %s, status %s", credential.id,
                 user_id, check.kind, credential.status)
    return len(due)
