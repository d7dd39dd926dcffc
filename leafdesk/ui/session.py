"""A signed-in (or offline) Leaf account with the core services the window works through.

`open_session()` signs in to one Leaf account and wires the client, the offline cache and the
sync and connect services to it. When Leaf cannot be reached but the cache contains users, the
session opens offline instead of failing, so the window can show what was last seen.
`cached_context()` opens only the cache, so the window can paint the users it holds before the
network stack (httpx, truststore, keyring) is imported and the session opened.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from leafdesk.core.cache import Cache
from leafdesk.core.errors import SignedOutError
from leafdesk.core.paths import cache_path
from leafdesk.core.settings import LeafAccount, Settings, SettingsStore

if TYPE_CHECKING:
    # Imported in open_session(), because with httpx, truststore and keyring they took about
    # 0.15 s (python -X importtime, 2-core build machine), which a cache-first window spends
    # after its first paint.
    from leafdesk.core.client import LeafClient
    from leafdesk.core.connect import ConnectService
    from leafdesk.core.secrets import SecretStore
    from leafdesk.core.sync import SyncService

log = logging.getLogger(__name__)


@dataclass
class AppContext:
    """Everything the window needs for one Leaf account: services, settings and secrets.

    `client`, `sync` and `connect` are None until the session is open (`session_open`), for a
    context from `cached_context()`. `online` is False before the session is open, and when it
    opened from the cache because Leaf was unreachable. `offline_since` is when Leaf was first
    found unreachable.
    """

    account: LeafAccount
    cache: Cache
    settings_store: SettingsStore
    settings: Settings
    client: LeafClient | None = None
    sync: SyncService | None = None
    connect: ConnectService | None = None
    secrets: SecretStore | None = None
    online: bool = True
    offline_since: datetime | None = None

    @property
    def session_open(self) -> bool:
        """Whether the client and the services exist (signed in, or offline after trying)."""
        return self.client is not None

    async def aclose(self) -> None:
        """Close the client's connections and the cache file."""
        try:
            if self.client is not None:
                await self.client.aclose()
        finally:
            self.cache.close()


def cached_context(
    account: LeafAccount,
    *,
    settings_store: SettingsStore,
    settings: Settings,
    cache_file: Path | None = None,
) -> AppContext:
    """Open `account`'s offline cache only, for a window that opens its session later.

    The cache skips its integrity check at open, and `MainWindow` runs it after its first paint.
    """
    cache = Cache(cache_file or cache_path(account.name, account.base_url),
                  check_integrity=False)
    return AppContext(account=account, cache=cache, settings_store=settings_store,
                      settings=settings, online=False)


class PasswordNotSavedError(SignedOutError):
    """Raised when the account remembers its password but the keychain no longer contains it."""


def session_opener(
    context: AppContext,
    password: str | Callable[[], str | None],
    *,
    secrets: SecretStore | None = None,
    transport: Any = None,
) -> Callable[[], Awaitable[AppContext]]:
    """Return a function that opens the session of `context` (from `cached_context()`).

    The session reuses the context's open cache. `password` may be a function, called only when
    the session opens, so that the keychain is read after the window's first paint. When it
    returns nothing, opening raises `PasswordNotSavedError` (a `SignedOutError`). Without
    `secrets`, a `SecretStore` is made when the session opens, so keyring too is imported only
    then.
    """

    async def open_later() -> AppContext:
        store = secrets
        if store is None:
            from leafdesk.core.secrets import SecretStore

            store = SecretStore()
        secret = password() if callable(password) else password
        if not secret:
            raise PasswordNotSavedError("no password is saved for this account",
                                        action="sign in to Leaf")
        return await open_session(context.account, secret,
                                  settings_store=context.settings_store,
                                  settings=context.settings, secrets=store,
                                  transport=transport, cache=context.cache)

    return open_later


async def open_session(
    account: LeafAccount,
    password: str,
    *,
    settings_store: SettingsStore,
    settings: Settings,
    secrets: SecretStore,
    transport: Any = None,
    cache_file: Path | None = None,
    timeout: float | None = None,
    cache: Cache | None = None,
) -> AppContext:
    """Sign in to `account` and return its session.

    Raises the client's `LeafError` for a wrong password (`SignedOutError`), a TLS problem
    (`TlsError`) or an unreachable host (`OfflineError`), except that an unreachable host with a
    cache containing users opens the session offline. `timeout` (seconds) replaces the client's
    default timeouts for every phase of a request. `cache` is the account's cache opened
    already (by `cached_context()`), and it stays open when signing in fails.
    """
    from leafdesk.core.client import LeafClient
    from leafdesk.core.connect import ConnectService
    from leafdesk.core.errors import OfflineError
    from leafdesk.core.sync import SyncService

    client = LeafClient(
        account.base_url,
        account.username,
        password,
        remember_me=account.remember,
        transport=transport,
        max_connections=max(settings.concurrency, 2),
        timeout=timeout,
    )
    opened_here = cache is None
    if cache is None:
        cache = Cache(cache_file or cache_path(account.name, account.base_url))

    online = True
    offline_since: datetime | None = None
    try:
        await client.sign_in()
    except OfflineError:
        if not cache.count_users():
            await client.aclose()
            if opened_here:
                cache.close()
            raise
        log.warning("Leaf at %s is unreachable; opening account %r from the cache",
                    account.base_url, account.name)
        online = False
        offline_since = datetime.now(timezone.utc)
    except BaseException:
        await client.aclose()
        if opened_here:
            cache.close()
        raise

    operator = account.username
    return AppContext(
        account=account,
        client=client,
        cache=cache,
        sync=SyncService(client, cache, concurrency=settings.concurrency),
        connect=ConnectService(client, cache, operator),
        secrets=secrets,
        settings_store=settings_store,
        settings=settings,
        online=online,
        offline_since=offline_since,
    )
