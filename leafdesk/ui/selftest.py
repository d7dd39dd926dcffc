"""`leafdesk --self-test`: every screen, a refresh and a one-click round trip, offscreen.

Installed builds are smoke-tested with it, so it checks what a frozen build can get wrong: Qt
plugins, the keyring backend, the truststore TLS context, and the window's wiring against a
demo sandbox on 127.0.0.1. Settings, window state and the cache go to a temporary folder, and
secrets to a keychain service of their own, so it never touches the operator's own. It prints
one line per step and exits 0, or names the step that failed and exits 1.
"""

from __future__ import annotations

import asyncio
import logging
import os
import sys
import tempfile
import time
import traceback
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TextIO

log = logging.getLogger(__name__)

SELF_TEST_USERS = 40
STEP_TIMEOUT_SECONDS = 30.0


class SelfTestFailure(Exception):
    """Raised when a self-test step finds something wrong. The message names what failed."""


async def wait_for(predicate: Callable[[], Any], what: str,
                   timeout: float = STEP_TIMEOUT_SECONDS) -> None:
    """Wait on the running loop until `predicate()` is true, or raise naming `what`."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise SelfTestFailure(f"timed out after {timeout:.0f} s waiting for {what}")
        await asyncio.sleep(0.05)


def truststore_status() -> str:
    """Return whether the OS certificate store can back a TLS context, in words."""
    try:
        import ssl

        import truststore

        truststore.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    except Exception as error:  # noqa: BLE001 - reported, not raised
        return f"FAILED ({type(error).__name__}: {error})"
    return "loaded"


def run_self_test(start_demo: Callable[..., Any], out: TextIO | None = None) -> int:
    """Run the self-test; `start_demo(users=, controls=, cache_file=)` starts the sandbox."""
    out = out or sys.stdout
    # Offscreen unless a platform was chosen, so it runs on build machines without a display.
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

    from leafdesk.core.logsetup import configure_logging
    from leafdesk.ui import aio
    from leafdesk.ui.app import route_qt_messages_to_logging

    configure_logging()
    route_qt_messages_to_logging()
    app = aio.application(sys.argv[:1])
    app.setApplicationName("LeafDesk")
    app.setQuitOnLastWindowClosed(False)
    aio.event_loop(app)

    with tempfile.TemporaryDirectory(prefix="leafdesk-self-test-") as folder:
        runner = _SelfTest(start_demo, Path(folder), out)
        try:
            passed = aio.run_until_complete(runner.run())
        finally:
            runner.stop_demo()
    aio.close()
    return 0 if passed else 1


class _SelfTest:
    def __init__(self, start_demo: Callable[..., Any], folder: Path, out: TextIO) -> None:
        self.start_demo = start_demo
        self.folder = folder
        self.out = out
        self.demo: Any = None
        self.controller: Any = None

    def say(self, text: str) -> None:
        print(text, file=self.out, flush=True)

    def stop_demo(self) -> None:
        if self.demo is not None:
            self.demo.stop()
            self.demo = None

    async def run(self) -> bool:
        from leafdesk import __version__
        from leafdesk.core.secrets import SERVICE_NAME, SecretStore
        from PySide6 import __version__ as pyside_version

        # A keychain service of its own, so the demo passwords the steps store never replace
        # or delete the operator's entries, while the keyring backend is still exercised.
        secrets = SecretStore(service=f"{SERVICE_NAME} self-test")
        self.say(f"LeafDesk {__version__} self-test (PySide6 {pyside_version}, "
                 f"platform {os.environ.get('QT_QPA_PLATFORM')})")
        self.say(f"keyring backend: {secrets.backend_name}"
                 + ("" if secrets.persistent else " (not usable; secrets kept in memory)"))
        self.say(f"truststore TLS context: {truststore_status()}")

        steps: list[tuple[str, Callable[[], Awaitable[None]]]] = [
            ("start the demo sandbox", self.step_start_demo),
            ("reject a wrong password", lambda: self.step_wrong_password(secrets)),
            ("sign in", self.step_sign_in),
            ("refresh every user", self.step_refresh),
            ("show a user's details and event log", self.step_details),
            ("open the settings", self.step_settings),
            ("connect one user by one-click, approved through the sandbox",
             self.step_one_click),
            ("open the manual credential form", self.step_manual),
            ("open the delete confirmation", self.step_delete),
        ]
        passed = True
        for name, step in steps:
            started = time.monotonic()
            try:
                await step()
            except Exception as error:  # noqa: BLE001 - every failure is reported, then we stop
                self.say(f"FAILED  {name}: {_describe(error)}")
                log.error("Self-test step %r failed", name, exc_info=error)
                passed = False
                break
            self.say(f"ok      {name} ({time.monotonic() - started:.1f} s)")

        await self.close()
        self.say("self-test passed" if passed else "self-test FAILED")
        return passed

    # --- steps ---------------------------------------------------------------------------

    async def step_start_demo(self) -> None:
        loop = asyncio.get_running_loop()
        self.demo = await loop.run_in_executor(None, lambda: self.start_demo(
            users=SELF_TEST_USERS, controls=True, cache_file=self.folder / "cache.sqlite3"))

    async def step_wrong_password(self, secrets: Any) -> None:
        from leafdesk.core.settings import SettingsStore
        from leafdesk.ui.app import LeafDeskApp
        from leafdesk.ui.window_state import WindowStateStore

        demo = self.demo
        self.controller = LeafDeskApp(
            settings_store=SettingsStore(self.folder / "settings.json"),
            secrets=secrets,
            window_state=WindowStateStore(self.folder / "window-state.json"),
            log_folder=self.folder,
        )
        # As `leafdesk --demo` does, so the one-click step fills its form from a preset.
        demo.install_presets(self.controller.settings, secrets)
        dialog = self.controller.make_sign_in()
        dialog.show()
        dialog.name_edit.setText(demo.account.name)
        dialog.url_edit.setText(demo.base_url)
        dialog.username_edit.setText(demo.account.username)
        dialog.remember_check.setChecked(False)

        # A wrong password first: the dialog must show an error and stay open.
        dialog.password_edit.setText(demo.password + "-wrong")
        dialog.submit()
        await wait_for(lambda: dialog.task is not None and dialog.task.done(),
                       "the wrong-password attempt")
        if self.controller.window is not None or "rejected" not in dialog.message.text():
            raise SelfTestFailure(f"a wrong password was not reported: {dialog.message.text()!r}")

    async def step_sign_in(self) -> None:
        dialog = self.controller.sign_in
        if dialog is None:
            raise SelfTestFailure("the sign-in dialog closed after the wrong password")
        dialog.password_edit.setText(self.demo.password)
        dialog.submit()
        await wait_for(lambda: self.controller.window is not None, "the main window")

    async def step_refresh(self) -> None:
        from leafdesk.ui.operations import OperationState

        window = self.controller.window
        await wait_for(lambda: window.refresh_operation is not None
                       and not window.refresh_operation.running, "the first refresh")
        operation = window.refresh_operation
        if operation.state is not OperationState.SUCCEEDED:
            reason = operation.failure.sentence if operation.failure else operation.state.value
            raise SelfTestFailure(f"the refresh ended {reason}")
        if window.model.rowCount() != SELF_TEST_USERS:
            raise SelfTestFailure(f"the table shows {window.model.rowCount()} users, "
                                  f"expected {SELF_TEST_USERS}")

    async def step_details(self) -> None:
        window = self.controller.window
        row = window.model.row_at(0)
        window.select_user(row.user.id)
        await asyncio.sleep(0.1)
        if window.details.row is None or window.details.row.user.id != row.user.id:
            raise SelfTestFailure("selecting a user did not show their details")
        if window.event_log is not None:
            await wait_for(lambda: window.event_log.user is not None
                           and window.event_log.user.id == row.user.id, "the event log")
        window.grab()

    async def step_settings(self) -> None:
        dialog = self.controller.open_settings()
        await asyncio.sleep(0.05)
        dialog.grab()
        dialog.reject()

    async def step_one_click(self) -> None:
        from leafdesk.core.model import ConnectionState

        window = self.controller.window
        target = next((row for row in window.model.rows()
                       if row.state.state is ConnectionState.NOT_CONNECTED), None)
        if target is None:
            raise SelfTestFailure("the demo data has no user without a credential")
        window.select_user(target.user.id)
        dialog = window.open_one_click()
        if dialog is None:
            raise SelfTestFailure("the one-click form did not open")
        outcomes: list[str] = []
        dialog.outcome.connect(outcomes.append)

        picker = dialog.preset_picker
        names = [preset.name for preset in picker.presets]
        stage_preset = self.demo.preset_name("STAGE")
        if stage_preset not in names:
            raise SelfTestFailure(f"the demo's STAGE preset is missing from {names}")
        picker.setCurrentIndex(names.index(stage_preset) + 1)  # after "None"
        partner = self.demo.partner("STAGE")
        if dialog.client_id.text() != partner.client_id or not dialog.password.text():
            raise SelfTestFailure("the STAGE preset did not fill the one-click form")
        dialog.submit()
        await wait_for(lambda: dialog.pending is not None or not dialog.errors.isHidden(),
                       "Leaf to start the one-click integration")
        if dialog.pending is None:
            raise SelfTestFailure(f"starting the one-click failed: {dialog.errors_text()}"
                                  if hasattr(dialog, "errors_text") else "starting it failed")

        loop = asyncio.get_running_loop()
        await loop.run_in_executor(None, self.demo.approve_one_click, target.user.id)
        await wait_for(lambda: bool(outcomes), "the grower's approval to be seen")
        if outcomes[0] != "connected":
            raise SelfTestFailure(f"the one-click ended {outcomes[0]!r}, expected 'connected'")
        await wait_for(lambda: window.model.row_for(target.user.id).state.state
                       is ConnectionState.CONNECTED, "the table to show the user connected")
        dialog.close()

    async def step_manual(self) -> None:
        window = self.controller.window
        dialog = window.open_manual()
        if dialog is None:
            raise SelfTestFailure("the manual credential form did not open")
        await asyncio.sleep(0.05)
        dialog.grab()
        dialog.close()

    async def step_delete(self) -> None:
        window = self.controller.window
        dialog = window.open_delete()
        if dialog is None:
            raise SelfTestFailure("the delete confirmation did not open for a connected user")
        await asyncio.sleep(0.05)
        dialog.grab()
        dialog.close()

    async def close(self) -> None:
        if self.controller is not None:
            if self.controller.window is not None:
                self.controller.window.close()
            await self.controller.shutdown()


def _describe(error: BaseException) -> str:
    sentence = getattr(error, "sentence", None)
    if callable(sentence):
        return sentence()
    if isinstance(error, SelfTestFailure):
        return str(error)
    return "".join(traceback.format_exception_only(error)).strip()
