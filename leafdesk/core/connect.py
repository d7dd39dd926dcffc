"""The connect service: attach, remove and replace a Leaf user's Panorama credential.

One-click connections are recorded in the cache as pending, with their expiry, because Leaf
reports nothing about a one-click until a credential appears. `wait_for_grower` then polls the
credential with backoff. Every change also updates the user's cached row, so the window and the
terminal show the new state without a full refresh.
"""

from __future__ import annotations

import asyncio
import enum
import logging
import random
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from leafdesk.core.errors import (
    LeafError,
    OfflineError,
    RateLimitedError,
    ServerError,
    TimedOutError,
)
from leafdesk.core.model import (
    CredentialSummary,
    LeafUser,
    ManualCredentialInput,
    OneClickInput,
    PanoramaCredential,
    PendingOneClick,
    UserRow,
)
from leafdesk.core.states import derive_state

if TYPE_CHECKING:
    from leafdesk.core.cache import Cache
    from leafdesk.core.client import LeafClient

logger = logging.getLogger(__name__)

# How long a grower's share page accepts an approval. Leaf does not document it; 15 minutes is
# the sandbox's default and LeafDesk's estimate.
DEFAULT_SHARE_EXPIRY = timedelta(minutes=15)

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    """Return the current time in UTC."""
    return datetime.now(UTC)


class OutcomeKind(enum.StrEnum):
    """The way a wait for a grower ended.

    Leaf never reports a declined share: a declined one-click and one the grower ignored both
    end as EXPIRED, because the credential simply never appears.
    """

    ATTACHED = "attached"
    EXPIRED = "expired"
    CANCELLED = "cancelled"


@dataclass(frozen=True, slots=True)
class OneClickOutcome:
    """The end of a wait for a grower: the credential when it was attached, and a plain message."""

    kind: OutcomeKind
    leaf_user_id: str
    message: str
    credential: PanoramaCredential | None = None
    pending: PendingOneClick | None = None


@dataclass(frozen=True, slots=True)
class DeleteResult:
    """The outcome of deleting a credential, whose event log Leaf deletes with it.

    `archived_events` is how many of those events LeafDesk saved in its own cache first (their
    only copy from then on); None when reading them failed and none were saved.
    """

    leaf_user_id: str
    deleted_credential_id: str | None
    archived_events: int | None
    event_log_lost: bool = True


@dataclass(frozen=True, slots=True)
class ReplaceResult:
    """A replaced credential: the new one, and what deleting the old one cost.

    Leaf deletes a credential's event log with it, so after a replace Leaf's log starts empty.
    Only the events archived in LeafDesk's cache remain of the old credential's history.
    """

    credential: PanoramaCredential
    deleted: DeleteResult


class ConnectService:
    """Connect a Leaf user to Panorama, by one-click or by hand, and remove or replace that link.

    `operator` names who started a one-click (shown in "waiting for grower"). `clock` returns
    the current UTC time; tests pass one they can move forward with the sandbox's clock.
    """

    def __init__(
        self,
        client: LeafClient,
        cache: Cache,
        operator: str,
        *,
        share_expiry: timedelta = DEFAULT_SHARE_EXPIRY,
        clock: Clock = utc_now,
    ) -> None:
        self.client = client
        self.cache = cache
        self.operator = operator
        self.share_expiry = share_expiry
        self.clock = clock

    # -- one-click ---------------------------------------------------------------------------

    async def start_one_click(self, user: LeafUser, data: OneClickInput) -> PendingOneClick:
        """Start a one-click connection and record it as pending until it expires.

        Returns the pending record, whose `sign_in_url` is the page the grower must open.
        """
        try:
            start = await self.client.start_one_click(user.id, data)
        except LeafError as error:
            raise _about(error, user, "start the one-click connection")

        started_at = self.clock()
        # LeafDesk's own record: Leaf keeps no list of pending one-clicks that it could read.
        pending = PendingOneClick(
            leaf_user_id=user.id,
            started_at=started_at,
            expires_at=started_at + self.share_expiry,
            started_by=self.operator,
            client_id=data.client_id,
            client_environment=str(data.client_environment),
            sign_in_url=start.sign_in_url,
        )
        self.cache.record_pending(pending)
        self._save_row(user, None, pending=pending)
        logger.info("One-click started for Leaf user %s by %s; expires at %s", user.id,
                    self.operator, pending.expires_at.isoformat())
        return pending

    async def wait_for_grower(
        self,
        user_id: str,
        *,
        poll_interval: float = 2.0,
        max_interval: float = 30.0,
        cancel: asyncio.Event | None = None,
        user: LeafUser | None = None,
    ) -> OneClickOutcome:
        """Poll the user's Panorama credential until it is attached, the share expires, or
        `cancel` is set.

        The wait between polls starts at `poll_interval` seconds and grows by half each time up
        to `max_interval`, with jitter. Transient failures (offline, timeouts, 429, 5xx) are
        logged and polled through; any other `LeafError` is raised. Cancelling keeps the pending
        record, because the grower's page still works until it expires. Leaf never reports a
        declined share, so a decline shows up as EXPIRED.
        """
        pending = self._pending_for(user_id)
        interval = poll_interval
        # Without a record (started elsewhere, or the cache was rebuilt) the wait still ends.
        deadline = _aware(pending.expires_at) if pending else self.clock() + self.share_expiry

        while True:
            if cancel is not None and cancel.is_set():
                return self._cancelled(user_id, pending)

            try:
                credential = await self.client.get_panorama_credential(user_id)
            except (OfflineError, RateLimitedError, ServerError, TimedOutError) as error:
                logger.warning("Polling the credential of Leaf user %s failed; trying again: %s",
                               user_id, error.sentence())
                credential = None
            except LeafError as error:
                if user is not None:
                    raise _about(error, user, "check whether the grower approved")
                raise error.about(leaf_user=user_id, action="check whether the grower approved")

            if credential is not None:
                return self._attached(user_id, credential, pending, user)
            if self.clock() >= deadline:
                return self._expired(user_id, pending, user)

            delay = min(interval, max_interval) * random.uniform(0.8, 1.2)
            if cancel is None:
                await asyncio.sleep(delay)
            else:
                try:
                    await asyncio.wait_for(cancel.wait(), timeout=delay)
                except TimeoutError:
                    pass
            interval = min(interval * 1.5, max_interval)

    # -- manual credentials, delete, replace --------------------------------------------------

    async def create_manual(
        self, user: LeafUser, data: ManualCredentialInput
    ) -> PanoramaCredential:
        """Attach a Panorama credential entered by hand; raises `ConflictError` if one exists."""
        try:
            credential = await self.client.create_panorama_credential(user.id, data)
        except LeafError as error:
            raise _about(error, user, "attach the Panorama credential")

        self.cache.clear_pending(user.id)
        self._save_row(user, credential)
        logger.info("Panorama credential %s attached to Leaf user %s by hand", credential.id,
                    user.id)
        return credential

    async def delete(self, user: LeafUser) -> DeleteResult:
        """Delete the user's Panorama credential. Leaf deletes its event log with it.

        The events are read and archived in the cache first, so LeafDesk keeps the only copy.
        When reading them fails, the delete still goes ahead and `archived_events` is None.
        """
        archived = await self._archive_events(user)
        credential_id = user.panorama.id if user.panorama is not None else None
        try:
            await self.client.delete_panorama_credential(user.id)
        except LeafError as error:
            raise _about(error, user, "delete the Panorama credential")

        self._save_row(user, None)
        logger.info("Panorama credential of Leaf user %s deleted (%s events archived)", user.id,
                    archived)
        return DeleteResult(user.id, credential_id, archived)

    async def replace(self, user: LeafUser, data: ManualCredentialInput) -> ReplaceResult:
        """Replace the user's credential: delete it, then create the new one.

        Leaf has no replace, and deleting a credential deletes its event log, so Leaf's log of
        the old credential is lost (`ReplaceResult.deleted.event_log_lost`); LeafDesk archives
        the events first. If the create fails after the delete, the user is left without a
        credential and the error states it.
        """
        deleted = await self.delete(user)
        try:
            credential = await self.client.create_panorama_credential(user.id, data)
        except LeafError as error:
            # The client's own action would hide that the user is now left without a credential.
            error.action = "attach the new Panorama credential (the old one was already deleted)"
            raise _about(error, user, error.action)

        self._save_row(user, credential)
        logger.info("Panorama credential of Leaf user %s replaced by %s", user.id, credential.id)
        return ReplaceResult(credential=credential, deleted=deleted)

    # -- helpers -----------------------------------------------------------------------------

    async def _archive_events(self, user: LeafUser) -> int | None:
        try:
            events = await self.client.list_panorama_events(user.id)
        except LeafError as error:
            logger.warning("Could not archive the events of Leaf user %s before deleting: %s",
                           user.id, error.sentence())
            return None
        self.cache.save_events(user.id, events)
        return len(events)

    def _pending_for(self, user_id: str) -> PendingOneClick | None:
        for pending in self.cache.pending_one_clicks():
            if pending.leaf_user_id == user_id:
                return pending
        return None

    def _attached(
        self,
        user_id: str,
        credential: PanoramaCredential,
        pending: PendingOneClick | None,
        user: LeafUser | None,
    ) -> OneClickOutcome:
        self.cache.clear_pending(user_id)
        self._save_row(user or self._cached_user(user_id), credential)
        logger.info("The grower approved: credential %s attached to Leaf user %s", credential.id,
                    user_id)
        return OneClickOutcome(
            OutcomeKind.ATTACHED, user_id,
            f"The grower approved sharing; the credential is attached with status "
            f"{credential.status or 'unknown'}.",
            credential=credential, pending=pending,
        )

    def _expired(
        self, user_id: str, pending: PendingOneClick | None, user: LeafUser | None
    ) -> OneClickOutcome:
        # The record stays, so the state shows that the one-click expired rather than "never tried".
        self._save_row(user or self._cached_user(user_id), None, pending=pending)
        logger.info("One-click for Leaf user %s expired without a credential", user_id)
        return OneClickOutcome(
            OutcomeKind.EXPIRED, user_id,
            "The grower's share page expired without a credential: the grower declined or did "
            "not answer in time. Leaf does not say which.",
            pending=pending,
        )

    def _cancelled(self, user_id: str, pending: PendingOneClick | None) -> OneClickOutcome:
        logger.info("Stopped waiting for the grower of Leaf user %s", user_id)
        return OneClickOutcome(
            OutcomeKind.CANCELLED, user_id,
            "Stopped waiting. The grower can still approve until the share page expires; a "
            "refresh will show it.",
            pending=pending,
        )

    def _cached_user(self, user_id: str) -> LeafUser:
        row = self.cache.load_row(user_id)
        return row.user if row is not None else LeafUser(id=user_id, name="")

    def _save_row(
        self,
        user: LeafUser,
        credential: PanoramaCredential | None,
        *,
        pending: PendingOneClick | None = None,
    ) -> None:
        now = self.clock()
        if credential is None:
            state = derive_state(None, has_credential=False, pending=pending, checked_at=now,
                                 now=now)
            row = UserRow(user=_with_summary(user, None), state=state)
        else:
            state = derive_state(credential.status, has_credential=True, checked_at=now, now=now)
            row = UserRow(
                user=_with_summary(user, credential),
                state=state,
                organization_code=credential.organization_code,
                client_environment=credential.client_environment,
                connected_since=credential.created_time,
            )
        self.cache.save_rows([row])


def _with_summary(user: LeafUser, credential: PanoramaCredential | None) -> LeafUser:
    if credential is None:
        return replace(user, panorama=None)
    summary = CredentialSummary(credential.id, credential.status, credential.created_time)
    return replace(user, panorama=summary)


def _name(user: LeafUser) -> str:
    return user.name or user.id


def _about(error: LeafError, user: LeafUser, action: str) -> LeafError:
    # The client has only the user's id, but the operator recognizes users by name. Unlike
    # LeafError.about, this also replaces an id that is not a UUID.
    if error.leaf_user in (None, user.id):
        error.leaf_user = _name(user)
    return error.about(action=action)


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
