"""Shared parts of the window benchmarks: made-up users, a filled cache, and a session over it.

The users are built in memory with the real `derive_state`, in the proportions of the sandbox's
demo (about 60% connected), so the table shows every state.
"""

from __future__ import annotations

import os
import tempfile
from datetime import datetime, timedelta, timezone
from pathlib import Path

from leafdesk.core.model import CredentialSummary, LeafUser, UserRow
from leafdesk.core.states import derive_state

_STATUSES = ("OK", "OK", "UNAUTHENTICATED", None, "OK", "MISSING_PERMISSION", "OK",
             "TEMPORARILY_UNAVAILABLE", None, "OK")
_NAMES = ("Aspen", "Big", "Birch", "Bison", "Cedar", "Elm", "Fox", "Maple", "Prairie", "Willow")
_KINDS = ("Farms", "Ranch", "Ag", "Grain Co.", "Orchards", "Land & Cattle")


def make_rows(count: int) -> list[UserRow]:
    """Return `count` users with their derived states, ids and names unique."""
    now = datetime.now(timezone.utc)
    rows = []
    for number in range(count):
        status = _STATUSES[number % len(_STATUSES)]
        name = f"{_NAMES[number % 10]} {_KINDS[number % 6]} {number}"
        user = LeafUser(
            id=f"00000000-0000-4000-8000-{number:012d}",
            name=name,
            email=f"office{number}@farm{number % 977}.example.org",
            external_id=f"CRM-{100000 + number}",
            panorama=CredentialSummary(id=f"cred-{number}", status=status) if status else None,
        )
        state = derive_state(status, has_credential=status is not None,
                             checked_at=now - timedelta(minutes=number % 90), now=now)
        environment = "PRODUCTION" if number % 3 else "STAGE"
        rows.append(UserRow(
            user=user,
            state=state,
            organization_code=f"PP-{number:06d}" if status else None,
            client_environment=environment if status else None,
            connected_since=now - timedelta(days=number % 400) if status else None,
        ))
    return rows


def write_cache(path: Path, count: int) -> Path:
    """Write `count` made-up users into a cache file at `path` with one full sync."""
    from leafdesk.core.cache import Cache

    cache = Cache(path)
    try:
        cache.replace_users(make_rows(count), datetime.now(timezone.utc))
    finally:
        cache.close()
    return path


def isolate_folders() -> Path:
    """Point the platform folders at a temporary tree, so a run touches no real settings."""
    root = Path(tempfile.mkdtemp(prefix="leafdesk-bench-"))
    for variable in ("XDG_DATA_HOME", "XDG_CONFIG_HOME", "XDG_CACHE_HOME", "XDG_STATE_HOME"):
        folder = root / variable.lower()
        folder.mkdir()
        os.environ[variable] = str(folder)
    os.environ.setdefault("PYTHON_KEYRING_BACKEND", "keyring.backends.null.Keyring")
    return root


def cache_first_window(cache_file: Path, base_url: str = "http://127.0.0.1:9"):
    """Return the main window over an existing cache the way LeafDeskApp starts a saved account.

    The window gets a context with only the cache open and opens its session (importing the
    client, httpx, truststore and keyring, then signing in) right after its first paint. The
    default base URL is a loopback port nothing listens on, so the session opens offline.
    """
    from leafdesk.core.settings import LeafAccount, Settings, SettingsStore
    from leafdesk.ui.main_window import MainWindow
    from leafdesk.ui.session import cached_context, session_opener

    # Not the sandbox's demo login: importing leafdesk.sandbox alone takes about 0.09 s.
    account = LeafAccount("Bench", base_url=base_url, username="bench@leafdesk.example")
    context = cached_context(account, settings_store=SettingsStore(),
                             settings=Settings(accounts=[account]), cache_file=cache_file)
    return MainWindow(context, open_session=session_opener(context, "unused"))


def show_full_window(app, cache_file: Path):
    """Show the main window over `cache_file` and process events until every user is loaded.

    Raises SystemExit when the table's row count differs from the cache's user count.
    """
    from leafdesk.ui.main_window import MainWindow

    window = MainWindow(context_over_cache(cache_file))
    window.show()
    window.table.viewport().repaint()
    # The window reads all but the first screen of users after its first paint.
    while not window.rows_complete:
        app.processEvents()
    if window.model.rowCount() != window.context.cache.count_users():
        raise SystemExit(f"the table contains {window.model.rowCount()} users, "
                         f"expected {window.context.cache.count_users()}")
    return window


def context_over_cache(cache_file: Path, base_url: str = "http://127.0.0.1:9", *,
                       password: str = "unused", concurrency: int = 8):
    """Return an `AppContext` over an existing cache, its client not signed in yet.

    The default base URL is a loopback port nothing listens on, so a window over this context
    opens from the cache without contacting anything.
    """
    from leafdesk.core.cache import Cache
    from leafdesk.core.client import LeafClient
    from leafdesk.core.connect import ConnectService
    from leafdesk.core.secrets import SecretStore
    from leafdesk.core.settings import LeafAccount, Settings, SettingsStore
    from leafdesk.core.sync import SyncService
    from leafdesk.sandbox import DEMO
    from leafdesk.ui.session import AppContext

    account = LeafAccount("Bench", base_url=base_url, username=DEMO.owner_username)
    client = LeafClient(base_url, DEMO.owner_username, password,
                        max_connections=concurrency + 1)
    cache = Cache(cache_file)
    settings = Settings(accounts=[account], concurrency=concurrency)
    return AppContext(
        account=account,
        client=client,
        cache=cache,
        sync=SyncService(client, cache, concurrency=concurrency),
        connect=ConnectService(client, cache, account.username),
        secrets=SecretStore(),
        settings_store=SettingsStore(),
        settings=settings,
    )
