"""One sandbox's live state: settings that tests may change, the clock, the data, and the
operations that several routes share (status changes, share decisions, purging, saving).

Everything runs on the server's event loop thread, so no locking is needed.
"""

from __future__ import annotations

import logging
import random
import time
from dataclasses import dataclass
from pathlib import Path

from . import credential_check, demo_data, health, persistence
from .clock import SandboxClock
from .config import SandboxConfig
from .events import credential_date_form, make_event, new_id, status_after, status_change_event
from .store import Credential, Event, Share, Store, User
from .tokens import TokenIssuer

log = logging.getLogger(__name__)


@dataclass(slots=True)
class Knobs:
    """The fault and shape settings that `/_sandbox/faults` may change while serving."""

    fault_rate: float = 0.0
    faults: tuple[str, ...] = ()
    rate_limit: float | None = None
    latency_ms: float = 0.0
    latency_jitter_ms: float = 0.0
    embed_credentials: str = "full"
    slow_seconds: float = 5.0

    @classmethod
    def from_config(cls, config: SandboxConfig) -> Knobs:
        return cls(fault_rate=config.fault_rate, faults=tuple(config.faults),
                   rate_limit=config.rate_limit, latency_ms=config.latency_ms,
                   latency_jitter_ms=config.latency_jitter_ms,
                   embed_credentials=config.embed_credentials, slow_seconds=config.slow_seconds)

    def as_json(self) -> dict:
        return {"fault_rate": self.fault_rate, "faults": list(self.faults),
                "rate_limit": self.rate_limit, "latency_ms": self.latency_ms,
                "latency_jitter_ms": self.latency_jitter_ms,
                "embed_credentials": self.embed_credentials, "slow_seconds": self.slow_seconds}


@dataclass(slots=True)
class ShareOutcome:
    """The result of deciding a share: `outcome` is approved, declined, expired or a reason."""

    share: Share
    outcome: str
    credential: Credential | None = None


class SandboxState:
    """The data, clock, knobs and token issuer behind one sandbox app."""

    def __init__(self, config: SandboxConfig) -> None:
        self.config = config
        self.knobs = Knobs.from_config(config)
        self.clock = SandboxClock(config.clock_speed)
        self.tokens = TokenIssuer()
        self.fault_rng = random.Random()
        self.served_over_socket = False  # set by the server; decides how a "reset" fault acts
        self.state_file = Path(config.state_file) if config.state_file else None
        self.dirty = False
        self.status_changes = 0  # made by the health process, for its summary log line
        self._last_save = 0.0
        self._save_interval = 1.0
        self._load_or_generate()

    # Building and resetting.

    def _load_or_generate(self) -> None:
        if self.state_file is not None and self.state_file.exists():
            persistence.load(self, self.state_file)
            log.info("loaded sandbox state from %s: %d users", self.state_file,
                     len(self.store.users))
            self.catch_up()
            return
        self._generate()
        if self.state_file is not None:
            self.save()

    def _generate(self) -> None:
        now = self.clock.now()
        started = time.perf_counter()
        self.store = Store()
        demo_data.generate(self.store, self.config.users, self.config.seed, now,
                           self.config.logins)
        self.health_rng = random.Random(self.config.seed * 7919 + 1)
        self.health_last_step = now
        self.recoveries: dict[str, float] = {}
        self.pending_checks: dict[str, credential_check.PendingCheck] = {}
        # Outages in the demo data recover within a day, like outages the health process starts.
        for user_id in self.store.connected:
            credential = self.store.users[user_id].credential
            if credential is not None and credential.status == "TEMPORARILY_UNAVAILABLE":
                self.recoveries[user_id] = now + self.health_rng.uniform(2, 24) * 3600
        log.info("generated %d demo users (seed %d) in %.2f s", len(self.store.users),
                 self.config.seed, time.perf_counter() - started)

    def reset(self) -> None:
        """Regenerate the demo data from the seed and put the clock on real time.

        Every knob goes back to its start value from the config, except that injected faults
        are switched off.
        """
        self.clock.restart()
        self.knobs = Knobs.from_config(self.config)
        self.knobs.fault_rate = 0.0
        self.knobs.faults = ()
        self._generate()
        self.dirty = True
        self.save_if_due(force=True)

    # The clock's consequences.

    def catch_up(self) -> None:
        """Bring the data up to the clock: health steps, purges and checks of manual
        credentials. Cheap when nothing is due."""
        now = self.clock.now()
        if self.config.health:
            if health.run_steps(self, now):
                self.dirty = True
        elif now - self.health_last_step >= health.STEP_SECONDS:
            self.health_last_step = now
            self.purge(now)
        if self.pending_checks and credential_check.run_due(self, now):
            self.dirty = True

    def purge(self, now: float) -> None:
        """Drop events past the 30-day retention, and shares decided or expired over a day ago."""
        removed = 0
        for user_id in self.store.connected:
            credential = self.store.users[user_id].credential
            if credential is not None and credential.events:
                removed += credential.purge_events(now)
        self.store.forget_old_shares(now)
        if removed:
            self.dirty = True
            log.debug("purged %d events older than 30 days", removed)

    # Credentials.

    def record_event(self, credential: Credential, event: Event) -> None:
        credential.add_event(event)
        self.dirty = True

    def change_status(self, user: User, kind: str, moment: float) -> None:
        """Move a user's credential to the status an event kind leaves, writing that event."""
        credential = user.credential
        if credential is None:
            return
        credential.status = status_after(kind)
        self.record_event(credential, make_event(kind, moment, self.health_rng, seeded=False))
        self.status_changes += 1
        log.debug("credential of user %s is now %s (%s)", user.id, credential.status, kind)

    def set_status(self, user: User, status: str) -> Credential:
        """Set a credential's status by hand, with the event that would explain it."""
        credential = user.credential
        assert credential is not None
        now = self.clock.now()
        credential.status = status
        self.recoveries.pop(user.id, None)
        self.pending_checks.pop(user.id, None)
        self.record_event(credential, status_change_event(status, now, self.health_rng))
        log.info("credential of user %s set to %s by a test control", user.id, status)
        return credential

    def new_credential(self, user: User, *, client_id: str, username: str,
                       organization_code: str, environment: str,
                       refresh_token: str = "", tried: bool = True) -> Credential:
        """Attach a fresh OK credential.

        A `tried` credential gets its first event, a successful token exchange. An untried one
        (entered by hand) has no events until its background check.
        """
        now = self.clock.now()
        credential = Credential(
            id=new_id(), status="OK", created=now,
            date_form=credential_date_form(self.health_rng), client_id=client_id,
            username=username, organization_code=organization_code, environment=environment,
            refresh_token=refresh_token,
        )
        if tried:
            credential.add_event(make_event("token_refreshed", now, self.health_rng,
                                            seeded=False))
        self.store.attach(user, credential)
        self.dirty = True
        return credential

    def delete_credential(self, user: User) -> None:
        self.store.detach(user)
        self.recoveries.pop(user.id, None)
        self.pending_checks.pop(user.id, None)
        self.dirty = True

    # One-click shares.

    def open_share(self, user: User, client_id: str, username: str, environment: str) -> Share:
        now = self.clock.now()
        share = Share(id=new_id(), user_id=user.id, client_id=client_id, username=username,
                      environment=environment, created=now,
                      expires=now + self.config.share_expiry_seconds)
        self.store.shares[share.id] = share
        log.info("one-click share %s opened for user %s", share.id, user.id)
        return share

    def answer_share(self, share: Share, approve: bool) -> ShareOutcome:
        """Approve or decline a share, unless it expired or was decided before."""
        now = self.clock.now()
        if share.outcome is not None:
            return ShareOutcome(share, share.outcome)
        if share.expires <= now:
            return ShareOutcome(share, "expired")

        user = self.store.users.get(share.user_id)
        share.answered = now
        if not approve:
            share.outcome = "declined"
            log.info("one-click share %s declined", share.id)
            return ShareOutcome(share, "declined")
        if user is None:
            share.outcome = "user deleted"
            return ShareOutcome(share, share.outcome)
        if user.credential is not None:
            share.outcome = "already connected"
            return ShareOutcome(share, share.outcome, user.credential)

        credential = self.new_credential(
            user, client_id=share.client_id, username=share.username,
            organization_code=user.organization_code, environment=share.environment)
        share.outcome = "approved"
        log.info("one-click share %s approved; credential %s attached to user %s",
                 share.id, credential.id, user.id)
        return ShareOutcome(share, "approved", credential)

    # Persistence.

    def save(self) -> None:
        """Write the state file now (atomically), if there is one."""
        if self.state_file is None:
            return
        started = time.perf_counter()
        persistence.save(self, self.state_file)
        took = time.perf_counter() - started
        self.dirty = False
        self._last_save = time.monotonic()
        # A big state takes a while to write; save it less often rather than stall requests.
        self._save_interval = max(1.0, 10 * took)

    def save_if_due(self, force: bool = False) -> None:
        """Save when something changed and the last save is old enough, or when forced.

        NOTE: a crash loses the changes since the last save, about a second's worth at the demo
        size. A 50,000-user state took about 2 s to write in a measurement on the build machine.
        Each save blocks requests that long, so such a state is saved only about every 20 s.
        """
        if self.state_file is None or not self.dirty:
            return
        if force or time.monotonic() - self._last_save >= self._save_interval:
            self.save()
