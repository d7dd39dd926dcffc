"""Fixtures for the window's tests: one qasync loop for the whole run, a loopback sandbox behind
each screen, a signed-in session on it, and the folder where screens are saved as PNGs.

Coroutines only make progress while the loop runs, and the loop runs only inside `run_async`
(or `run_until`). So a test drives the window from plain code, then lets background work happen
with `run_until(lambda: ...)`, or writes the whole scenario as a coroutine for `run_async`.
Never call `qtbot.wait*` inside a coroutine: it would start a nested Qt loop inside a task.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Coroutine, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
SANDBOX_USERS = 40


@pytest.fixture(scope="session")
def aio_loop(qapp) -> Iterator[asyncio.AbstractEventLoop]:
    """The qasync event loop over pytest-qt's QApplication, shared by every test of the run."""
    from leafdesk.ui import aio

    # Closing the last window must not end `app.exec()` under a running test.
    qapp.setQuitOnLastWindowClosed(False)
    loop = aio.event_loop(qapp)
    yield loop

    # Let cancelled tasks unwind, then close the loop and join its executor threads.
    aio.run_until_complete(aio.cancel_all())
    aio.close()


@pytest.fixture(scope="session", autouse=True)
def tasks_survive_pytest_qt_events(aio_loop) -> Iterator[None]:
    """Let pytest-qt's own event processing (after each test phase) step tasks safely.

    pytest-qt calls `processEvents()` between phases, outside `run_async`. A task woken there
    would find no running asyncio loop and fail, so those calls run with the shared loop
    marked as running.
    """
    import pytestqt.plugin

    original = pytestqt.plugin._process_events

    def process_events_with_running_loop() -> None:
        if asyncio.events._get_running_loop() is not None:
            original()
            return
        asyncio.events._set_running_loop(aio_loop)
        try:
            original()
        finally:
            asyncio.events._set_running_loop(None)

    pytestqt.plugin._process_events = process_events_with_running_loop
    yield
    pytestqt.plugin._process_events = original


@pytest.fixture
def run_async(aio_loop) -> Callable[..., Any]:
    """Return a function that runs a coroutine to completion on the shared loop.

    Qt processes events while it runs. `timeout` (seconds) bounds it; a timeout fails the test.
    """
    from leafdesk.ui import aio

    def run(coro: Coroutine[Any, Any, Any], timeout: float = 20.0) -> Any:
        asyncio.set_event_loop(aio_loop)  # pytest-asyncio tests may have replaced it
        return aio.run_until_complete(asyncio.wait_for(coro, timeout))

    return run


async def wait_until(predicate: Callable[[], Any], timeout: float = 10.0,
                     interval: float = 0.02) -> None:
    """Wait, on the running loop, until `predicate()` is true; raise TimeoutError after `timeout`."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError(f"condition not met within {timeout} s: {predicate}")
        await asyncio.sleep(interval)


@pytest.fixture
def run_until(run_async) -> Callable[..., None]:
    """Return a function that runs the loop until a condition holds (fails after `timeout` s)."""

    def run(predicate: Callable[[], Any], timeout: float = 10.0) -> None:
        run_async(wait_until(predicate, timeout), timeout=timeout + 5)

    return run


@pytest.fixture
def settle(run_async) -> Callable[..., None]:
    """Return a function that lets Qt lay out and paint (and tasks run) for a moment.

    Use it instead of `qtbot.wait()`: Qt must only process events while the loop runs.
    """

    def run(seconds: float = 0.05) -> None:
        run_async(asyncio.sleep(seconds))

    return run


@pytest.fixture(scope="session")
def sandbox_server():
    """One loopback sandbox with test controls for the whole run; `sandbox` resets it per test."""
    from leafdesk.sandbox import SandboxConfig, start_background_server

    server = start_background_server(
        SandboxConfig(users=SANDBOX_USERS, seed=1, controls=True), host="127.0.0.1", port=0
    )
    yield server
    server.stop()


class SandboxHandle:
    """The test's view of the sandbox: its address, its demo logins and its test controls."""

    def __init__(self, server) -> None:
        from leafdesk.sandbox import DEMO

        self.server = server
        self.base_url: str = server.base_url
        self.demo = DEMO
        self.http = httpx.Client(base_url=self.base_url, timeout=10.0, trust_env=False)

    def control(self, method: str, path: str, json: Any = None) -> Any:
        """Call a test control under /_sandbox/ and return its JSON answer (None when empty)."""
        response = self.http.request(method, f"/_sandbox/{path.lstrip('/')}", json=json)
        response.raise_for_status()
        return response.json() if response.content else None

    def reset(self) -> None:
        self.control("POST", "reset")

    def faults(self, **settings: Any) -> None:
        self.control("POST", "faults", json=settings)

    def set_status(self, user_id: str, status: str) -> None:
        self.control("POST", f"users/{user_id}/panorama-status", json={"status": status})

    def one_clicks(self) -> list[dict[str, Any]]:
        return self.control("GET", "one-clicks")

    def approve(self, user_id: str) -> None:
        self.control("POST", f"one-clicks/{user_id}/approve")

    def decline(self, user_id: str) -> None:
        self.control("POST", f"one-clicks/{user_id}/decline")

    def advance_clock(self, seconds: float) -> None:
        self.control("POST", "clock/advance", json={"seconds": seconds})

    def state(self) -> dict[str, Any]:
        return self.control("GET", "state")

    def close(self) -> None:
        self.http.close()


@pytest.fixture
def sandbox(sandbox_server) -> Iterator[SandboxHandle]:
    """The session's sandbox, reset to its demo data (40 users, no faults) for this test."""
    handle = SandboxHandle(sandbox_server)
    handle.reset()
    yield handle
    handle.reset()
    handle.close()


@pytest.fixture
def sandbox_account(sandbox):
    """A saved Leaf account pointing at the test's sandbox."""
    from leafdesk.core.settings import LeafAccount

    return LeafAccount(name="Sandbox", base_url=sandbox.base_url,
                       username=sandbox.demo.owner_username)


@pytest.fixture
def app_context(run_async, sandbox, sandbox_account, tmp_path):
    """A session signed in to the test's sandbox: client, cache, sync and connect services.

    The cache is a fresh SQLite file under the test's temporary folder; settings and secrets
    live in the temporary folders that the root conftest points platformdirs at.
    """
    from leafdesk.core.secrets import SecretStore
    from leafdesk.core.settings import Settings, SettingsStore
    from leafdesk.ui.session import open_session

    settings_store = SettingsStore()
    settings = Settings(accounts=[sandbox_account], presets=[], last_account=sandbox_account.name)
    settings_store.save(settings)
    context = run_async(open_session(
        sandbox_account,
        sandbox.demo.owner_password,
        settings_store=settings_store,
        settings=settings,
        secrets=SecretStore(),
        cache_file=tmp_path / "cache.sqlite3",
    ))
    yield context
    run_async(context.aclose())


@pytest.fixture(scope="session")
def artifact_dir() -> Path:
    """`test-artifacts/ui/` under the repository root, where tests save screens as PNGs."""
    path = REPO_ROOT / "test-artifacts" / "ui"
    path.mkdir(parents=True, exist_ok=True)
    return path
