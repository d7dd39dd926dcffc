"""The sign-in window: pick or add a Leaf account, sign in, or try the demo sandbox.

Signing in runs in the background; the dialog reports a wrong password, an unreachable host and
a TLS problem each with its own message. When Leaf cannot be reached but the account's cache
contains users, the session opens offline (see `session.open_session`). The dialog is shown with
`show()`/`open()` and reports through `signed_in(AppContext)`.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QColor, QKeySequence
from PySide6.QtWidgets import (
    QCheckBox,
    QColorDialog,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QFrame,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from leafdesk.core.errors import LeafError, OfflineError, SignedOutError, TlsError
from leafdesk.core.secrets import LEAF_PASSWORD, SecretStore
from leafdesk.core.settings import DEFAULT_BASE_URL, DEFAULT_ENVIRONMENT_COLOUR, LeafAccount, \
    Settings, SettingsStore
from leafdesk.ui import aio
from leafdesk.ui.main_window import colour_swatch
from leafdesk.ui.session import AppContext, open_session

log = logging.getLogger(__name__)

NEW_ACCOUNT = "__new__"

# A demo starter returns the account and password of a running sandbox.
DemoStarter = Callable[[], Awaitable[tuple[LeafAccount, str, Any]]]


def sign_in_message(error: BaseException, account: LeafAccount) -> str:
    """Return the sign-in error for the operator: one kind, one message, with what to do."""
    from PySide6.QtCore import QCoreApplication

    def tr(text: str) -> str:
        return QCoreApplication.translate("SignIn", text)

    if isinstance(error, SignedOutError):
        return tr("Leaf rejected the username or password for {account}. Check both and try "
                  "again.").format(account=account.name)
    if isinstance(error, TlsError):
        return tr("The secure connection to {url} failed: {reason}. Check that the base URL is "
                  "right, or ask your IT team whether something on the network replaces "
                  "certificates.").format(url=account.base_url, reason=error.message.rstrip("."))
    if isinstance(error, OfflineError):
        return tr("Leaf at {url} cannot be reached ({reason}). Check the base URL and the "
                  "network. No offline cache exists for this account yet, so there is nothing to "
                  "show offline.").format(url=account.base_url, reason=error.message.rstrip("."))
    if isinstance(error, LeafError):
        return error.sentence()
    return tr("Signing in failed: {error}").format(error=error)


class SignInDialog(QDialog):
    """Account picker and sign-in form; emits `signed_in(AppContext)` once a session is open."""

    signed_in = Signal(object)

    def __init__(
        self,
        parent: QWidget | None,
        settings_store: SettingsStore,
        settings: Settings,
        secrets: SecretStore,
        *,
        start_demo: DemoStarter | None = None,
        transport: Any = None,
    ) -> None:
        """Build the form over the saved accounts; `start_demo` enables "Try the demo"."""
        super().__init__(parent)
        self.settings_store = settings_store
        self.settings = settings
        self.secrets = secrets
        self.start_demo = start_demo
        self.transport = transport
        self.task: asyncio.Task | None = None
        self.demo_handle: Any = None
        self._colour = DEFAULT_ENVIRONMENT_COLOUR
        # Qt adds the application display name on Windows and Linux, so the title omits it.
        self.setWindowTitle(self.tr("Sign in to Leaf"))
        self.setObjectName("signInDialog")
        self.setMinimumWidth(520)

        intro = QLabel(self.tr(
            "Sign in with your Leaf API owner account. LeafDesk lists your Leaf users and the "
            "state of their Precision Planting Panorama connections."), self)
        intro.setWordWrap(True)

        self.account_combo = QComboBox(self)
        self.account_combo.setAccessibleName(self.tr("Saved Leaf account"))
        self.name_edit = QLineEdit(self)
        self.name_edit.setPlaceholderText(self.tr("A name you choose, e.g. Production"))
        self.url_edit = QLineEdit(self)
        self.url_edit.setPlaceholderText(DEFAULT_BASE_URL)
        self.username_edit = QLineEdit(self)
        self.username_edit.setPlaceholderText(self.tr("The e-mail of your Leaf API owner login"))
        self.password_edit = QLineEdit(self)
        self.password_edit.setEchoMode(QLineEdit.EchoMode.Password)
        self.show_password = QCheckBox(self.tr("Sho&w"), self)
        self.show_password.setToolTip(self.tr("Show the password as you type"))
        self.show_password.toggled.connect(lambda shown: self.password_edit.setEchoMode(
            QLineEdit.EchoMode.Normal if shown else QLineEdit.EchoMode.Password))
        password_row = QHBoxLayout()
        password_row.addWidget(self.password_edit, 1)
        password_row.addWidget(self.show_password)
        self.colour_button = QPushButton(self.tr("C&hoose…"), self)
        self.colour_button.setAccessibleName(self.tr("Choose the account's colour"))
        self.colour_button.setToolTip(self.tr(
            "The colour beside the account in the toolbar, so you can tell production from test"))
        self.colour_button.clicked.connect(self._choose_colour)
        self.remember_check = QCheckBox(self.tr("&Remember the password in the system keychain"),
                                        self)
        self.remember_check.setChecked(True)
        self._follow_keychain()

        form = QFormLayout()
        form.addRow(self.tr("&Account:"), self.account_combo)
        form.addRow(self.tr("&Name:"), self.name_edit)
        form.addRow(self.tr("&Base URL:"), self.url_edit)
        form.addRow(self.tr("&Username:"), self.username_edit)
        password_label = QLabel(self.tr("&Password:"), self)
        password_label.setBuddy(self.password_edit)
        form.addRow(password_label, password_row)
        colour_row = QHBoxLayout()
        colour_row.addWidget(self.colour_button)
        colour_row.addStretch(1)
        colour_label = QLabel(self.tr("Colour:"), self)
        form.addRow(colour_label, colour_row)
        form.addRow("", self.remember_check)

        self.message = QLabel(self)
        self.message.setObjectName("signInMessage")
        self.message.setWordWrap(True)
        self.message.setTextFormat(Qt.TextFormat.PlainText)
        self.message.setFrameShape(QFrame.Shape.StyledPanel)
        self.message.setMargin(8)
        self.message.hide()
        # Worded here rather than taken from `secrets.warning`, so that every window uses the
        # same translated phrase "kept in memory until LeafDesk closes".
        self.keychain_note = QLabel(self.tr(
            "No system keychain is available, so passwords are kept in memory until LeafDesk "
            "closes and must be entered again next time."), self)
        self.keychain_note.setWordWrap(True)
        self.keychain_note.setVisible(not secrets.persistent)

        self.buttons = QDialogButtonBox(self)
        self.sign_in_button = self.buttons.addButton(self.tr("&Sign in"),
                                                     QDialogButtonBox.ButtonRole.AcceptRole)
        self.sign_in_button.setDefault(True)
        self.demo_button = self.buttons.addButton(self.tr("Try the &demo"),
                                                  QDialogButtonBox.ButtonRole.ActionRole)
        self.demo_button.setToolTip(self.tr(
            "Start LeafDesk's own Leaf sandbox on this computer, with made-up growers"))
        self.demo_button.setVisible(start_demo is not None)
        self.cancel_button = self.buttons.addButton(QDialogButtonBox.StandardButton.Cancel)
        self.sign_in_button.clicked.connect(self.submit)
        self.demo_button.clicked.connect(self.try_demo)
        self.cancel_button.clicked.connect(self._cancel)

        layout = QVBoxLayout(self)
        layout.addWidget(intro)
        layout.addLayout(form)
        layout.addWidget(self.keychain_note)
        layout.addWidget(self.message)
        layout.addStretch(1)
        layout.addWidget(self.buttons)

        self._fill_accounts()
        self.account_combo.currentIndexChanged.connect(self._on_account_changed)
        self._on_account_changed()

    # --- the form ------------------------------------------------------------------------

    def _fill_accounts(self) -> None:
        self.account_combo.clear()
        for account in self.settings.accounts:
            self.account_combo.addItem(colour_swatch(account.environment_colour), account.name,
                                       account.name)
        self.account_combo.addItem(self.tr("New account…"), NEW_ACCOUNT)
        last = self.settings.last_account
        index = self.account_combo.findData(last) if last else -1
        self.account_combo.setCurrentIndex(index if index >= 0 else 0)

    def _on_account_changed(self, *_args: Any) -> None:
        name = self.account_combo.currentData()
        account = self.settings.account(name) if name and name != NEW_ACCOUNT else None
        self.name_edit.setText(account.name if account else "")
        self.url_edit.setText(account.base_url if account else DEFAULT_BASE_URL)
        self.username_edit.setText(account.username if account else "")
        self._set_colour(account.environment_colour if account else DEFAULT_ENVIRONMENT_COLOUR)
        self.remember_check.setChecked(account.remember if account else True)
        self._follow_keychain()
        password = self.secrets.get(LEAF_PASSWORD, account.name) if account else None
        self.password_edit.setText(str(password) if password else "")
        self.message.hide()
        focus = self.password_edit if account else self.name_edit
        focus.setFocus(Qt.FocusReason.OtherFocusReason)

    def _follow_keychain(self) -> None:
        # Without a keychain nothing can be remembered past this run. So the box is unticked and
        # disabled, with the reason as its tooltip, instead of promising what cannot happen.
        if self.secrets.persistent:
            return
        self.remember_check.setChecked(False)
        self.remember_check.setEnabled(False)
        self.remember_check.setToolTip(self.tr(
            "No system keychain is available, so the password is kept in memory until LeafDesk "
            "closes."))

    def _set_colour(self, colour: str) -> None:
        self._colour = colour
        self.colour_button.setIcon(colour_swatch(colour))

    def _choose_colour(self) -> None:
        dialog = QColorDialog(QColor(self._colour), self)
        dialog.colorSelected.connect(lambda colour: self._set_colour(colour.name()))
        dialog.open()

    def account_from_form(self) -> LeafAccount:
        """Return the account the form describes (not saved yet)."""
        name = self.name_edit.text().strip() or self.tr("Leaf")
        remember = self.remember_check.isChecked()
        if not self.secrets.persistent:
            # The disabled box shows no choice of the operator's, so the saved one is kept for a
            # later run that has a keychain. This run keeps the password in memory either way.
            saved = self.settings.account(name)
            remember = saved.remember if saved is not None else True
        return LeafAccount(
            name,
            base_url=self.url_edit.text().strip() or DEFAULT_BASE_URL,
            username=self.username_edit.text().strip(),
            environment_colour=self._colour,
            remember=remember,
        )

    def show_message(self, text: str) -> None:
        self.message.setText(text)
        self.message.show()

    def set_busy(self, busy: bool, text: str = "") -> None:
        for widget in (self.account_combo, self.name_edit, self.url_edit, self.username_edit,
                       self.password_edit, self.sign_in_button, self.demo_button,
                       self.remember_check, self.colour_button):
            widget.setEnabled(not busy)
        self._follow_keychain()
        if busy:
            self.show_message(text)

    # --- signing in ----------------------------------------------------------------------

    def submit(self) -> None:
        """Sign in with the form's account in the background."""
        if self.task is not None and not self.task.done():
            return
        account = self.account_from_form()
        password = self.password_edit.text()
        missing = [label for label, value in ((self.tr("username"), account.username),
                                              (self.tr("password"), password)) if not value]
        if missing:
            self.show_message(self.tr("Enter the {fields} to sign in.").format(
                fields=self.tr(" and ").join(missing)))
            return
        self.set_busy(True, self.tr("Signing in to {url}…").format(url=account.base_url))
        self.task = aio.spawn(self._sign_in(account, password), name="sign in")

    async def _sign_in(self, account: LeafAccount, password: str, *, save: bool = True,
                       cache_file: Any = None) -> AppContext | None:
        try:
            context = await open_session(
                account, password, settings_store=self.settings_store, settings=self.settings,
                secrets=self.secrets, transport=self.transport, cache_file=cache_file)
        except LeafError as error:
            log.info("Sign-in to %s failed: %s", account.base_url, error.sentence())
            self.set_busy(False)
            self.show_message(sign_in_message(error, account))
            return None
        except Exception as error:  # noqa: BLE001 - shown to the operator, logged in full
            log.exception("Sign-in to %s failed", account.base_url)
            self.set_busy(False)
            self.show_message(sign_in_message(error, account))
            return None

        if save:
            self._remember(account, password)
        self.set_busy(False)
        self.message.hide()
        self.signed_in.emit(context)
        self.accept()
        return context

    def _remember(self, account: LeafAccount, password: str) -> None:
        existing = self.settings.account(account.name)
        if existing is not None:
            self.settings.accounts[self.settings.accounts.index(existing)] = account
        else:
            self.settings.accounts.append(account)
        self.settings.last_account = account.name
        try:
            self.settings_store.save(self.settings)
        except OSError as error:
            log.warning("Could not save the settings: %s", error)
        if account.remember:
            self.secrets.set(LEAF_PASSWORD, account.name, password)
        else:
            self.secrets.delete(LEAF_PASSWORD, account.name)

    def try_demo(self) -> None:
        """Start the demo sandbox on this computer and sign in to it (nothing is saved)."""
        if self.start_demo is None or (self.task is not None and not self.task.done()):
            return
        self.set_busy(True, self.tr("Starting the demo sandbox…"))
        self.task = aio.spawn(self._demo(), name="demo sign in")

    async def _demo(self) -> AppContext | None:
        assert self.start_demo is not None
        try:
            account, password, handle = await self.start_demo()
        except Exception as error:  # noqa: BLE001 - shown to the operator, logged in full
            log.exception("Could not start the demo sandbox")
            self.set_busy(False)
            self.show_message(self.tr("Could not start the demo sandbox: {error}").format(
                error=error))
            return None
        self.demo_handle = handle
        # The demo partner logins as presets, so the one-click form can be filled from a list.
        install_presets = getattr(handle, "install_presets", None)
        if install_presets is not None:
            install_presets(self.settings, self.secrets)
        return await self._sign_in(account, password, save=False,
                                   cache_file=getattr(handle, "cache_file", None))

    def _cancel(self) -> None:
        if self.task is not None and not self.task.done():
            self.task.cancel()
            self.set_busy(False)
            self.message.hide()
            return
        self.reject()

    def keyPressEvent(self, event) -> None:  # noqa: N802 - Qt override
        if event.matches(QKeySequence.StandardKey.Cancel):
            self._cancel()
            return
        super().keyPressEvent(event)
