"""A signed-in (or offline) Leaf account with the core services the window works through.

`open_session()` signs in to one Leaf account and wires the client, the offline cache and the
sync and connect services to it. When Leaf cannot be reached but the cache holds users, the
session opens offline instead of failing, so the window can show what was last seen.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from leafdesk.core.cache import Cache
from leafdesk.core.client import LeafClient
from leafdesk.core.connect import ConnectService
from leafdesk.core.errors import OfflineError
from leafdesk.core.paths import cache_path
from leafdesk.core.secrets import SecretStore
from leafdesk.core.settings import LeafAccount, Settings, SettingsStore
from leafdesk.core.sync import SyncService

log = logging.getLogger(__name__)


@dataclass
class AppContext:
    """Everything the window needs for one Leaf account: services, settings and secrets.

    `online` is False when the session opened from the cache because Leaf was unreachable;
    `offline_since` is when that was first noticed.
    """

    account: LeafAccount
    client: LeafClient
    cache: Cache
    sync: SyncService
    connect: ConnectService
    secrets: SecretStore
    settings_store: SettingsStore
    settings: Settings
    online: bool = True
    offline_since: datetime | None = None

    async def aclose(self) -> None:
        """Close the client's connections and the cache file."""
        try:
            await self.client.aclose()
        finally:
            self.cache.close()


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
) -> AppContext:
    """Sign in to `account` and return its session.

    Raises the client's `LeafError` for a wrong password (`SignedOutError`), a TLS problem
    (`TlsError`) or an unreachable host (`OfflineError`), except that an unreachable host with a
    cache holding users opens the session offline. `timeout` (seconds) replaces the client's
    default timeouts for every phase of a request.
    """
    client = LeafClient(
        account.base_url,
        account.username,
        password,
        remember_me=account.remember,
        transport=transport,
        max_connections=max(settings.concurrency, 2),
        timeout=timeout,
    )
    cache = Cache(cache_file or cache_path(account.name, account.base_url))

    online = True
    offline_since: datetime | None = None
    try:
        await client.sign_in()
    except OfflineError:
        if not cache.load_rows():
            await client.aclose()
            cache.close()
            raise
        log.warning("Leaf at %s is unreachable; opening account %r from the cache",
                    account.base_url, account.name)
        online = False
        offline_since = datetime.now(timezone.utc)
    except BaseException:
        await client.aclose()
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
