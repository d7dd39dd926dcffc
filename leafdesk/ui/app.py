"""The window application: sign-in, the main window, account switching and settings.

`LeafDeskApp` owns the one `AppContext` in use and the main window over it. When the last
account's password is saved and its offline cache contains users, the start opens that account's
window from the cache and signs in after the window's first paint. Otherwise it opens the
sign-in dialog, or signs in to the demo sandbox for `--demo`. It replaces the window when the
operator switches accounts, and closes sessions and the demo sandbox on the way out.
"""

from __future__ import annotations

import logging
import sqlite3
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QObject, QtMsgType, Signal, qInstallMessageHandler
from PySide6.QtGui import QGuiApplication, QIcon, QPixmap

from leafdesk.core.cache import CacheError
from leafdesk.core.settings import LeafAccount, Settings, SettingsStore
from leafdesk.resources import app_icon_pngs
from leafdesk.ui import aio
from leafdesk.ui.main_window import MainWindow
from leafdesk.ui.session import AppContext, cached_context, session_opener
from leafdesk.ui.window_state import WindowStateStore

if TYPE_CHECKING:
    # The dialogs and the secret store are imported when first needed, so a window that starts
    # from its cache paints before them.
    from leafdesk.core.secrets import SecretStore
    from leafdesk.ui.settings_dialog import SettingsDialog
    from leafdesk.ui.sign_in import DemoStarter, SignInDialog

log = logging.getLogger(__name__)


def app_icon() -> QIcon:
    """Return LeafDesk's icon in every size the package resources contain."""
    # Read through importlib.resources, which finds the PNGs in a wheel and a PyInstaller bundle.
    icon = QIcon()
    for png in app_icon_pngs().values():
        pixmap = QPixmap()
        pixmap.loadFromData(png, "PNG")
        icon.addPixmap(pixmap)
    return icon


# Platform plugins without a window system (offscreen, used by the self-test and the tests)
# warn about every window feature they lack. Those lines tell the operator nothing.
_QUIET_QT_MESSAGES = ("This plugin does not support",)


def route_qt_messages_to_logging() -> None:
    """Send Qt's own warnings to the log file instead of the terminal."""
    qt_log = logging.getLogger("qt")

    def handler(kind: QtMsgType, _context: object, message: str) -> None:
        if message.startswith(_QUIET_QT_MESSAGES):
            qt_log.debug("%s", message)
        elif kind in (QtMsgType.QtCriticalMsg, QtMsgType.QtFatalMsg):
            qt_log.error("%s", message)
        elif kind == QtMsgType.QtWarningMsg:
            qt_log.warning("%s", message)
        else:
            qt_log.debug("%s", message)

    qInstallMessageHandler(handler)


class LeafDeskApp(QObject):
    """Sign-in, then one main window per signed-in account."""

    window_opened = Signal(object)  # MainWindow

    def __init__(self, *, settings_store: SettingsStore, secrets: SecretStore,
                 start_demo: DemoStarter | None = None, log_folder: Path | None = None,
                 window_state: WindowStateStore | None = None, transport: Any = None) -> None:
        super().__init__()
        self.settings_store = settings_store
        self.settings: Settings = settings_store.load()
        self.secrets = secrets
        self.start_demo = start_demo
        self.log_folder = log_folder
        self.window_state = window_state
        self.transport = transport
        self.window: MainWindow | None = None
        self.context: AppContext | None = None
        self.sign_in: SignInDialog | None = None
        self.demo_handles: list[Any] = []
        QGuiApplication.setWindowIcon(app_icon())

    # --- start ---------------------------------------------------------------------------

    def make_sign_in(self, account_name: str | None = None) -> SignInDialog:
        """Build (without showing) the sign-in dialog, preselecting `account_name`."""
        from leafdesk.ui.sign_in import SignInDialog

        if account_name is not None:
            self.settings.last_account = account_name
        dialog = SignInDialog(self.window, self.settings_store, self.settings, self.secrets,
                              start_demo=self.start_demo, transport=self.transport)
        dialog.signed_in.connect(self._on_signed_in)
        dialog.finished.connect(lambda _result: self._on_sign_in_closed(dialog))
        self.sign_in = dialog
        return dialog

    def show_sign_in(self, account_name: str | None = None) -> SignInDialog:
        dialog = self.make_sign_in(account_name)
        dialog.show()
        dialog.raise_()
        dialog.activateWindow()
        return dialog

    def start(self, *, demo: bool = False) -> None:
        """Open the last account from its cache, else the sign-in dialog (the demo with `demo`)."""
        if not demo and self._start_from_cache():
            return
        # The dialogs start tasks as soon as they open. The window from the cache creates the
        # loop after its first paint instead (`aio.call_when_running`).
        aio.event_loop()
        dialog = self.make_sign_in()
        if demo and self.start_demo is not None:
            dialog.try_demo()
            # Show the dialog only if the demo failed, so the operator sees why.
            self._watch_demo_failure(dialog)
        else:
            dialog.show()

    def _start_from_cache(self) -> bool:
        """Show the last account's cached users now and sign in after the first paint.

        Returns False, having opened nothing, when there is no last account, it is not set to
        remember its password, or its cache contains no users. A remembered password missing
        from the keychain is found only after the paint; the sign-in dialog then opens over the
        window.
        """
        from leafdesk.core.secrets import LEAF_PASSWORD

        account = self._last_account()
        if account is None or not account.remember:
            return False
        try:
            context = cached_context(account, settings_store=self.settings_store,
                                     settings=self.settings)
        except CacheError as error:
            log.warning("Not starting %r from its cache: %s", account.name, error)
            return False
        try:
            has_users = context.cache.count_users() > 0
        except sqlite3.DatabaseError as error:
            # The sign-in opens the cache with its integrity check, which moves a damaged file
            # aside.
            log.warning("Not starting %r from its cache: %s", account.name, error)
            has_users = False
        if not has_users:
            context.cache.close()
            return False

        log.info("Starting account %r from its offline cache; signing in after the first paint",
                 account.name)
        self.context = context

        def saved_password() -> str | None:
            # Read after the first paint, because the keychain lookup costs an estimated 0.1 s.
            return self.secrets.get(LEAF_PASSWORD, account.name)

        window = self._open_window(context, session_opener(
            context, saved_password, secrets=self.secrets, transport=self.transport))
        window.session_opened.connect(self._on_session_opened)
        window.session_failed.connect(lambda error: self._on_session_failed(account, error))
        return True

    def _last_account(self) -> LeafAccount | None:
        name = self.settings.last_account
        if name is None and len(self.settings.accounts) == 1:
            name = self.settings.accounts[0].name
        return self.settings.account(name) if name is not None else None

    def _on_session_opened(self, context: AppContext) -> None:
        self.context = context

    def _on_session_failed(self, account: LeafAccount, error: BaseException) -> None:
        # A wrong saved password or a TLS problem: the window keeps showing the cache, and the
        # sign-in dialog shows the error.
        from leafdesk.ui.session import PasswordNotSavedError
        from leafdesk.ui.sign_in import sign_in_message

        dialog = self.show_sign_in(account.name)
        if isinstance(error, PasswordNotSavedError):
            dialog.show_message(self.tr(
                "The password of {account} is not in the keychain any more. Enter it to sign "
                "in. Until then the window shows the offline cache.").format(account=account.name))
            return
        dialog.show_message(sign_in_message(error, account))

    def _watch_demo_failure(self, dialog: SignInDialog) -> None:
        task = dialog.task

        def check(_task: Any) -> None:
            if self.context is None and dialog.isHidden():
                dialog.show()

        if task is not None:
            task.add_done_callback(check)

    # --- signing in and switching --------------------------------------------------------

    def _on_signed_in(self, context: AppContext) -> None:
        dialog = self.sign_in
        if dialog is not None and dialog.demo_handle is not None:
            self.demo_handles.append(dialog.demo_handle)
        old_window, old_context = self.window, self.context
        self.context = context
        self._open_window(context)

        if old_window is not None:
            # TODO: the old window's Python objects form reference cycles, so a full garbage
            # collection frees them, and it may run during the new window's first refresh. In
            # bench/ui_refresh_stall.py such collections stalled the event loop for 45 to 80 ms.
            old_window.close()
            old_window.deleteLater()
        if old_context is not None:
            aio.spawn(old_context.aclose(), name="close previous session")

    def _open_window(self, context: AppContext, open_session: Any = None) -> MainWindow:
        window = MainWindow(context, window_state=self.window_state, open_session=open_session)
        window.account_switch_requested.connect(self.switch_account)
        window.settings_requested.connect(self.open_settings)
        self.window = window
        window.show()
        if context.online:
            window.refresh()
        self.window_opened.emit(window)
        return window

    def _on_sign_in_closed(self, dialog: SignInDialog) -> None:
        if self.sign_in is dialog:
            self.sign_in = None
        dialog.deleteLater()
        accepted = dialog.result() == dialog.DialogCode.Accepted
        if self.window is None and self.context is None and not accepted:
            # Closing the sign-in before any window opened ends the application.
            app = QGuiApplication.instance()
            if app is not None and app.quitOnLastWindowClosed():
                app.quit()
        elif self.window is not None:
            # A switch was cancelled: show the account still in use.
            self.window.apply_settings()

    def switch_account(self, name: str) -> None:
        """Sign in to another saved account. The current window stays until that succeeds."""
        from leafdesk.core.secrets import LEAF_PASSWORD

        dialog = self.show_sign_in(name)
        account = self.settings.account(name)
        if account is not None and self.secrets.get(LEAF_PASSWORD, name):
            dialog.submit()

    def open_settings(self) -> SettingsDialog:
        """Open the settings dialog over the window (non-modal)."""
        from leafdesk.core.paths import log_dir
        from leafdesk.ui.settings_dialog import SettingsDialog

        dialog = SettingsDialog(self.window, self.settings_store, self.settings, self.secrets,
                                log_folder=self.log_folder or log_dir())
        dialog.saved.connect(self._on_settings_saved)
        if self.window is not None:
            dialog.finished.connect(self.window.return_focus_to_table)
        dialog.open()
        return dialog

    def _on_settings_saved(self, _settings: Settings) -> None:
        if self.window is not None:
            self.window.apply_settings()

    # --- shutdown ------------------------------------------------------------------------

    async def shutdown(self) -> None:
        """Close the session and stop any demo sandbox this run started."""
        await aio.cancel_all()
        if self.context is not None:
            try:
                await self.context.aclose()
            except Exception:  # noqa: BLE001 - shutting down; log and go on
                log.warning("Closing the session failed", exc_info=True)
            self.context = None
        for handle in self.demo_handles:
            try:
                handle.stop()
            except Exception:  # noqa: BLE001
                log.warning("Stopping the demo sandbox failed", exc_info=True)
        self.demo_handles.clear()
