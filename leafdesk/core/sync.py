"""The sync service: refresh every Leaf user's Panorama state, or a chosen few, into the cache.

A full refresh lists users page by page and uses the credential status Leaf embeds in each user
record. Only users whose record carries the credential id alone cost one more GET each. A bounded
pool of workers sends those, and the pool shrinks when Leaf responds with 429. Rows reach the
cache in small batches as they are read, so a cancelled or killed sync keeps everything
committed before it stopped.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Self

from leafdesk.core.cache import SyncRecord
from leafdesk.core.errors import (
    LeafError,
    OfflineError,
    SignedOutError,
    TimedOutError,
    TlsError,
)
from leafdesk.core.model import LeafUser, PanoramaCredential, PendingOneClick, UserRow
from leafdesk.core.states import derive_state

if TYPE_CHECKING:
    from leafdesk.core.cache import Cache
    from leafdesk.core.client import LeafClient

logger = logging.getLogger(__name__)

ProgressCallback = Callable[[int, int, int], None]

# Rows are written when this many are waiting, or when the oldest has waited this long, so a
# killed sync loses at most about a second of work. Larger batches cost fewer transactions, and
# each `Cache.save_rows` call also reads every cached user's state once.
BATCH_ROWS = 2000
BATCH_SECONDS = 1.0


@dataclass(slots=True)
class SyncResult:
    """The outcome of one refresh: the rows it produced, the users it covered and what failed.

    `rows` contains one row per user the refresh reached. A user whose credential could not be
    read keeps its cached row (with `from_cache=True`) when the cache had one.
    `error` is the failure that stopped the refresh early (Leaf unreachable, TLS, signed out, or
    the user list failing). Then `complete` is False and `rows` falls back to the cache for
    users not read.
    """

    rows: list[UserRow] = field(default_factory=list)
    total: int = 0
    failed: int = 0
    failures: dict[str, LeafError] = field(default_factory=dict)
    complete: bool = False
    error: LeafError | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None
    requests: int = 0
    lowest_concurrency: int = 0

    @property
    def from_cache(self) -> bool:
        """True when the refresh stopped early and some rows came from the cache."""
        return self.error is not None


class AdaptiveLimit:
    """A semaphore whose size halves when Leaf responds with 429 and grows back one step at a time.

    Growth waits for a run of successes four times as long as the current size, so a limit
    that has just been hit is not tried again at once. `release` is synchronous so that a
    cancelled request always gives its slot back.
    """

    def __init__(self, maximum: int) -> None:
        if maximum < 1:
            raise ValueError(f"concurrency must be at least 1, not {maximum}")
        self.maximum = maximum
        self.size = maximum
        self.lowest = maximum
        self._active = 0
        self._successes = 0
        self._waiters: list[asyncio.Future[None]] = []

    async def acquire(self) -> None:
        while self._active >= self.size:
            waiter = asyncio.get_running_loop().create_future()
            self._waiters.append(waiter)
            try:
                await waiter
            except asyncio.CancelledError:
                # A slot handed to this waiter just before it was cancelled goes to the next one.
                if waiter.done() and not waiter.cancelled():
                    self._wake()
                raise
            finally:
                if waiter in self._waiters:
                    self._waiters.remove(waiter)
        self._active += 1

    def release(self) -> None:
        self._active -= 1
        self._wake()

    def rate_limited(self) -> None:
        """Halve the size after a 429; requests already sent finish as they are."""
        new_size = max(1, self.size // 2)
        if new_size < self.size:
            logger.info("Leaf responded with 429: sending at most %d requests at once", new_size)
        self.size = new_size
        self.lowest = min(self.lowest, new_size)
        self._successes = 0

    def succeeded(self) -> None:
        if self.size >= self.maximum:
            return
        self._successes += 1
        if self._successes >= 4 * self.size:
            self.size += 1
            self._successes = 0
            self._wake()

    def _wake(self) -> None:
        free = self.size - self._active
        for waiter in self._waiters:
            if free <= 0:
                break
            if not waiter.done():
                waiter.set_result(None)
                free -= 1

    async def __aenter__(self) -> Self:
        await self.acquire()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        self.release()


class SyncService:
    """Refresh Leaf users and their Panorama state into the cache.

    `client` is a signed-in `LeafClient` (or one that signs in on first use); `cache` a `Cache`.
    `concurrency` bounds the requests in flight at once; set the client's `max_connections` at
    least one higher, or requests queue for a pooled connection instead.
    """

    def __init__(self, client: LeafClient, cache: Cache, concurrency: int = 8) -> None:
        self.client = client
        self.cache = cache
        self.concurrency = concurrency
        self._running: list[AdaptiveLimit] = []
        self._previous_hook: Any = None

    async def refresh_all(self, progress: ProgressCallback | None = None) -> SyncResult:
        """Refresh every Leaf user; on success the cache contains exactly the users Leaf listed.

        `progress(done, total, failed)` is called as users finish; `total` grows as pages of
        users arrive. Cancelling the task stops the refresh, keeps the rows already written and
        records the run as incomplete.
        """
        run = _Run(self, progress, expected_total=None)
        try:
            await run.load_cache()
            await run.run_all(self.concurrency)
        except BaseException:
            await run.finish(complete=False)
            raise
        return await run.finish(complete=run.error is None)

    async def refresh_users(
        self, ids: Iterable[str], progress: ProgressCallback | None = None
    ) -> SyncResult:
        """Refresh the given Leaf users: each user's record and their credential, read afresh.

        A user that Leaf no longer has is reported in `failures` with a `NotFoundError`.
        """
        wanted = list(dict.fromkeys(ids))
        run = _Run(self, progress, expected_total=len(wanted))
        try:
            await run.load_cache()
            await run.run_users(wanted, self.concurrency)
        except BaseException:
            await run.finish(complete=False, record=False)
            raise
        return await run.finish(complete=run.error is None, record=False)

    def _track(self, limit: AdaptiveLimit) -> None:
        # One hook per service serves every run in progress, so overlapping runs (a full
        # refresh and a re-check of one user) all slow down when Leaf responds with 429.
        if not self._running:
            self._previous_hook = getattr(self.client, "on_rate_limited", None)
            try:
                self.client.on_rate_limited = self._rate_limited
            except AttributeError:
                logger.warning("The Leaf client offers no rate-limit hook; concurrency stays fixed")
        self._running.append(limit)

    def _untrack(self, limit: AdaptiveLimit) -> None:
        if limit in self._running:
            self._running.remove(limit)
        ours = getattr(self.client, "on_rate_limited", None) == self._rate_limited
        if not self._running and ours:
            self.client.on_rate_limited = self._previous_hook

    def _rate_limited(self, retry_after: float | None) -> None:
        for limit in self._running:
            limit.rate_limited()
        if self._previous_hook is not None:
            self._previous_hook(retry_after)


# Failures after which no further request can succeed in this run.
_FATAL = (SignedOutError, TlsError, OfflineError)


def _is_fatal(error: LeafError) -> bool:
    # A timeout concerns one slow request; Leaf was reached, so the other users may still load.
    return isinstance(error, _FATAL) and not isinstance(error, TimedOutError)


class _Run:
    """The state of one refresh: counters, the batch of rows not yet written, and the limit."""

    def __init__(
        self, service: SyncService, progress: ProgressCallback | None, *, expected_total: int | None
    ) -> None:
        self.service = service
        self.client = service.client
        self.cache = service.cache
        self.progress = progress
        self.started_at = datetime.now(UTC)
        self.requests_before = getattr(self.client, "requests_sent", 0)
        self.limit = AdaptiveLimit(service.concurrency)

        self.total = expected_total or 0
        self.done = 0
        self.failures: dict[str, LeafError] = {}
        self.error: LeafError | None = None
        self.rows: dict[str, UserRow] = {}
        self.batch: list[UserRow] = []
        self.batch_started = time.monotonic()
        self.pending: dict[str, PendingOneClick] = {}
        self.cached: dict[str, UserRow] = {}
        self.listing_finished = False
        self.listed = 0
        service._track(self.limit)

    async def load_cache(self) -> None:
        # Reading 50,000 cached rows took about 0.45 s (bench/cache_50k.py), too long to hold
        # the event loop.
        pending, cached = await asyncio.to_thread(
            lambda: (self.cache.pending_one_clicks(), self.cache.load_rows()))
        self.pending = {p.leaf_user_id: p for p in pending}
        self.cached = {row.user.id: row for row in cached}

    async def run_all(self, concurrency: int) -> None:
        queue: asyncio.Queue[LeafUser | None] = asyncio.Queue()
        try:
            async with asyncio.TaskGroup() as group:
                for _ in range(concurrency):
                    group.create_task(self.credential_worker(queue))
                group.create_task(self.list_users(queue, concurrency))
        except* LeafError as failures:
            # Workers let only fatal errors escape; the user listing lets any through, because
            # without the full list the run cannot tell which users are gone.
            self.stop(failures.exceptions)

    async def run_users(self, user_ids: list[str], concurrency: int) -> None:
        queue: asyncio.Queue[str | None] = asyncio.Queue()
        for user_id in user_ids:
            queue.put_nowait(user_id)
        workers = min(concurrency, max(1, len(user_ids)))
        try:
            async with asyncio.TaskGroup() as group:
                for _ in range(workers):
                    queue.put_nowait(None)
                    group.create_task(self.user_worker(queue))
        except* LeafError as failures:
            self.stop(failures.exceptions)

    # -- the full refresh ------------------------------------------------------------------

    async def list_users(self, queue: asyncio.Queue[LeafUser | None], workers: int) -> None:
        try:
            # TODO: pages are read one after another because the client's page iterator is
            # sequential. Once X-Total-Count is known, the rest could be read concurrently, which
            # would save about one round trip per page on large accounts.
            async for page in self.client.iter_user_pages():
                self.listed += len(page)
                # Leaf's X-Total-Count, when sent, gives the full total from the first page on.
                self.total = max(self.listed, getattr(page, "total", None) or 0)
                for user in page:
                    summary = user.panorama
                    if summary is not None and summary.status is None:
                        # The record carries only the credential id: a worker reads the status.
                        queue.put_nowait(user)
                    else:
                        await self.add(self.row_from_summary(user))
                self.report()
            self.listing_finished = True
        finally:
            for _ in range(workers):
                queue.put_nowait(None)

    async def credential_worker(self, queue: asyncio.Queue[LeafUser | None]) -> None:
        while (user := await queue.get()) is not None:
            try:
                credential = await self.read_credential(user.id)
            except LeafError as error:
                self.fail(user, error)
                continue
            await self.add(self.row_from_credential(user, credential))

    # -- refreshing chosen users -----------------------------------------------------------

    async def user_worker(self, queue: asyncio.Queue[str | None]) -> None:
        while (user_id := await queue.get()) is not None:
            try:
                async with self.limit:
                    user = await self.client.get_user(user_id)
                self.limit.succeeded()
                credential = await self.read_credential(user_id)
            except LeafError as error:
                # TODO: a user Leaf no longer has (NotFoundError) stays in the cache until the
                # next full refresh, because the cache has no call to drop one user.
                self.fail(self.cached_user(user_id), error)
                continue
            await self.add(self.row_from_credential(user, credential))

    # -- shared steps ----------------------------------------------------------------------

    async def read_credential(self, user_id: str) -> PanoramaCredential | None:
        async with self.limit:
            credential = await self.client.get_panorama_credential(user_id)
        self.limit.succeeded()
        return credential

    def row_from_summary(self, user: LeafUser) -> UserRow:
        now = datetime.now(UTC)
        summary = user.panorama
        if summary is None:
            state = derive_state(None, has_credential=False, pending=self.pending.get(user.id),
                                 checked_at=now, now=now)
            return UserRow(user=user, state=state)

        state = derive_state(summary.status, has_credential=True, checked_at=now, now=now)
        row = UserRow(user=user, state=state, connected_since=summary.created_time)
        # The embedded summary has no organization code or environment; keep what the cache
        # learned from this same credential earlier.
        previous = self.cached.get(user.id)
        same_credential = (
            previous is not None
            and previous.user.panorama is not None
            and previous.user.panorama.id == summary.id
        )
        if same_credential:
            row = replace(row, organization_code=previous.organization_code,
                          client_environment=previous.client_environment,
                          connected_since=summary.created_time or previous.connected_since)
        return row

    def row_from_credential(self, user: LeafUser, credential: PanoramaCredential | None) -> UserRow:
        now = datetime.now(UTC)
        if credential is None:
            state = derive_state(None, has_credential=False, pending=self.pending.get(user.id),
                                 checked_at=now, now=now)
            return UserRow(user=replace(user, panorama=None), state=state)

        state = derive_state(credential.status, has_credential=True, checked_at=now, now=now)
        return UserRow(
            user=user,
            state=state,
            organization_code=credential.organization_code,
            client_environment=credential.client_environment,
            connected_since=credential.created_time,
        )

    def cached_user(self, user_id: str) -> LeafUser:
        row = self.cached.get(user_id)
        return row.user if row is not None else LeafUser(id=user_id, name=user_id)

    async def add(self, row: UserRow) -> None:
        self.rows[row.user.id] = row
        self.batch.append(row)
        self.done += 1
        if row.user.panorama is not None and row.user.id in self.pending:
            # The credential is attached, so the one-click LeafDesk was waiting on is over. The
            # write goes to a worker thread, like the batches, to keep SQLite off the event loop.
            del self.pending[row.user.id]
            await asyncio.to_thread(self.cache.clear_pending, row.user.id)
        self.report()
        full = len(self.batch) >= BATCH_ROWS
        if full or time.monotonic() - self.batch_started >= BATCH_SECONDS:
            await self.flush()

    def fail(self, user: LeafUser, error: LeafError) -> None:
        # The client names the user by id, but the operator recognizes users by name.
        if user.name and error.leaf_user in (None, user.id):
            error.leaf_user = user.name
        error.about(leaf_user=user.id, action="refresh the Panorama state")
        if _is_fatal(error):
            raise error
        logger.warning("Refresh of Leaf user %s failed: %s", user.id, error.sentence())
        self.failures[user.id] = error
        self.done += 1
        self.report()

    async def flush(self) -> None:
        # Writing a batch of 2,000 rows took about 25 ms on the 2-core build machine, too long
        # to hold the event loop, so a worker thread writes it. Other workers fill the next batch.
        batch, self.batch = self.batch, []
        self.batch_started = time.monotonic()
        if batch:
            await asyncio.to_thread(self.cache.save_rows, batch)

    def report(self) -> None:
        if self.progress is None:
            return
        try:
            self.progress(self.done, max(self.total, self.done), len(self.failures))
        except Exception:
            # A broken progress display must not stop the refresh.
            logger.exception("The sync progress callback failed")

    def stop(self, errors: tuple[BaseException, ...]) -> None:
        fatal = [error for error in errors if isinstance(error, LeafError) and _is_fatal(error)]
        error = (fatal or list(errors))[0]
        logger.warning("Refresh stopped early: %s", error.sentence())
        self.error = error

    async def finish(self, *, complete: bool, record: bool = True) -> SyncResult:
        finished_at = datetime.now(UTC)
        self.service._untrack(self.limit)
        batch, self.batch = self.batch, []

        rows = list(self.rows.values())
        fallbacks = self._cached_fallbacks()
        full_listing = complete and record and self.listing_finished
        sync_record = SyncRecord(self.started_at, finished_at, max(self.total, self.done),
                                 len(self.failures), full_listing)

        def write() -> None:
            if batch:
                self.cache.save_rows(batch)
            if full_listing:
                # Only a full listing shows which users are gone from Leaf. Users whose own
                # request failed are still there, so their cached rows stay. The batches have
                # stored every other row already, so this only drops users and records the run.
                kept = {row.user.id for row in rows}
                kept.update(row.user.id for row in fallbacks)
                self.cache.drop_users_except(kept, sync_record)
            elif record:
                self.cache.record_sync(sync_record.started_at, sync_record.finished_at,
                                       sync_record.total, sync_record.failed, sync_record.complete)

        # On the event loop's thread this last write (a batch of rows, then the drop) stalled
        # the window for 40 to 80 ms at 2,000 users (bench/ui_refresh_stall.py).
        await asyncio.to_thread(write)
        rows.extend(fallbacks)

        result = SyncResult(
            rows=rows,
            total=max(self.total, self.done),
            failed=len(self.failures),
            failures=dict(self.failures),
            complete=complete and (self.listing_finished or not record),
            error=self.error,
            started_at=self.started_at,
            finished_at=finished_at,
            requests=getattr(self.client, "requests_sent", 0) - self.requests_before,
            lowest_concurrency=self.limit.lowest,
        )
        logger.info(
            "Refresh %s: %d users, %d failed, %d requests, at most %d at once (lowest %d)",
            "finished" if result.complete else "stopped early", result.total, result.failed,
            result.requests, self.limit.maximum, self.limit.lowest,
        )
        return result

    def _cached_fallbacks(self) -> list[UserRow]:
        # Users this run did not read keep their cached row when the run stopped early or the
        # user's own request failed, so the caller can still show them.
        fallbacks = []
        for user_id, row in self.cached.items():
            if user_id in self.rows:
                continue
            if user_id in self.failures or self.error is not None:
                fallbacks.append(replace(row, from_cache=True))
        return fallbacks
