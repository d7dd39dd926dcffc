"""The background health process: credentials break and heal as they do in the field.

It runs in steps of one sandbox hour. Each step routinely refreshes some tokens, lets a few
refresh tokens expire or growers revoke sharing, now and then starts a provider outage in one
environment, and heals outages whose time is up. Every change writes the event that explains
it. How much happens per step scales with the number of credentials, but a step makes no pass
over all users, except on the rare step that starts an outage. The event purge after each batch
of steps does visit every connected credential.
"""

from __future__ import annotations

import logging
import math
import random
from typing import TYPE_CHECKING

from . import credential_check
from .events import make_event

if TYPE_CHECKING:
    from .state import SandboxState

log = logging.getLogger(__name__)

STEP_SECONDS = 3600.0
# Rates per credential per day, roughly what a few hundred field connections show. [ours]
REFRESHES_PER_DAY = 1 / 3
BREAKS_PER_DAY = 0.006
RESHARES_PER_DAY = 0.02
OUTAGES_PER_DAY = 0.25  # for the provider as a whole
OUTAGE_SHARE = 0.3  # of the OK credentials in the environment that goes down
# Maximum catch-up after a long stop. Older steps are skipped because their events would be
# purged anyway.
MAX_CATCH_UP_SECONDS = 31 * 24 * 3600

_BREAK_KINDS = ("refresh_token_expired", "refresh_token_expired", "refresh_token_revoked",
                "password_reset_required", "sharing_revoked", "permission_missing")


def poisson(rng: random.Random, mean: float) -> int:
    """Draw a Poisson-distributed count, using a normal approximation above a mean of 30."""
    if mean <= 0:
        return 0
    if mean > 30:
        return max(0, round(rng.gauss(mean, math.sqrt(mean))))
    limit = math.exp(-mean)
    count, product = 0, rng.random()
    while product > limit:
        count += 1
        product *= rng.random()
    return count


def run_steps(state: SandboxState, now: float) -> int:
    """Run every health step due up to `now` and return how many ran."""
    if state.health_last_step > now:
        return 0
    if now - state.health_last_step > MAX_CATCH_UP_SECONDS:
        state.health_last_step = now - MAX_CATCH_UP_SECONDS
    steps = 0
    changes_before = state.status_changes
    while state.health_last_step + STEP_SECONDS <= now:
        state.health_last_step += STEP_SECONDS
        _step(state, state.health_last_step)
        steps += 1
    if steps:
        state.purge(now)
        changes = state.status_changes - changes_before
        log.log(logging.INFO if changes else logging.DEBUG,
                "health process ran %d hourly steps: %d credential status changes", steps, changes)
    return steps


def _step(state: SandboxState, moment: float) -> None:
    # Checks of manual credentials due by this step run first, so the step uses their outcome.
    credential_check.run_due(state, moment)
    store, rng = state.store, state.health_rng
    connected = store.connected
    if not len(connected):
        return
    per_step = STEP_SECONDS / 86400

    for _ in range(poisson(rng, len(connected) * REFRESHES_PER_DAY * per_step)):
        user = store.users[connected.choice(rng)]
        if user.credential is not None and user.credential.status == "OK":
            state.record_event(user.credential, make_event("token_refreshed", moment, rng))

    for _ in range(poisson(rng, len(connected) * BREAKS_PER_DAY * per_step)):
        user = store.users[connected.choice(rng)]
        if user.credential is not None and user.credential.status == "OK":
            state.change_status(user, rng.choice(_BREAK_KINDS), moment)

    for _ in range(poisson(rng, len(connected) * RESHARES_PER_DAY * per_step)):
        user = store.users[connected.choice(rng)]
        if user.credential is not None and user.credential.status == "MISSING_PERMISSION":
            log.debug("grower of user %s shared again", user.id)
            state.change_status(user, "token_refreshed", moment)

    if rng.random() < OUTAGES_PER_DAY * per_step:
        _start_outage(state, moment)

    for user_id, recover_at in list(state.recoveries.items()):
        if recover_at <= moment:
            user = store.users.get(user_id)
            del state.recoveries[user_id]
            if user and user.credential and user.credential.status == "TEMPORARILY_UNAVAILABLE":
                state.change_status(user, "token_refreshed", moment)


def _start_outage(state: SandboxState, moment: float) -> None:
    rng = state.health_rng
    environment = rng.choice(("STAGE", "PRODUCTION"))
    kind = rng.choice(("provider_unavailable", "cognito_internal_error", "cognito_throttled"))
    recover_at = moment + rng.uniform(1, 8) * STEP_SECONDS
    hit = 0
    for user_id in state.store.connected:
        user = state.store.users[user_id]
        credential = user.credential
        if (credential is None or credential.environment != environment
                or credential.status != "OK" or rng.random() >= OUTAGE_SHARE):
            continue
        state.change_status(user, kind, moment)
        state.recoveries[user_id] = recover_at
        hit += 1
    log.info("Panorama %s outage started (%s), %d credentials affected", environment, kind, hit)
