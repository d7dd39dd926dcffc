"""The settings dialog: Leaf accounts, partner app presets, refresh interval, concurrency, logs.

Passwords never go into the settings file: a preset's partner password goes to the keychain
(`SecretStore`, kind "partner-password"), and removing an account or preset removes its secret.
Lists of accounts and presets are tables over the settings' dataclasses (a model and a view).
The dialog is opened with `open()` and emits `saved(Settings)` after writing the file.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from pathlib import Path
from typing import Any

from PySide6.QtCore import QAbstractTableModel, QModelIndex, Qt, QUrl, Signal
from PySide6.QtGui import QColor, QDesktopServices
from PySide6.QtWidgets import (
    QAbstractItemView,
    QColorDialog,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QTableView,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from leafdesk.core.errors import ValidationError
from leafdesk.core.model import Environment
from leafdesk.core.secrets import LEAF_PASSWORD, LEAF_TOKEN, PARTNER_PASSWORD, SecretStore
from leafdesk.core.settings import (
    CONCURRENCY_RANGE,
    DEFAULT_BASE_URL,
    DEFAULT_ENVIRONMENT_COLOUR,
    REFRESH_INTERVAL_RANGE,
    LeafAccount,
    PartnerPreset,
    Settings,
    SettingsStore,
)
from leafdesk.core.validation import validate_one_click
from leafdesk.ui.main_window import colour_swatch

log = logging.getLogger(__name__)

# Colours handed to new accounts in turn, so the first six accounts never share one by default.
# Each is dark enough to read as a band beside light text and bright enough beside dark text.
ACCOUNT_COLOURS: tuple[str, ...] = (DEFAULT_ENVIRONMENT_COLOUR, "#1565c0", "#c62828", "#ef6c00",
                                    "#6a1b9a", "#00838f")


class _ListModel(QAbstractTableModel):
    """A table over a list of settings dataclasses, one row each; `columns` maps title -> text."""

    def __init__(self, items: list[Any], columns: list[tuple[str, Any]], parent=None) -> None:
        super().__init__(parent)
        self.items = items
        self.columns = columns

    def rowCount(self, parent: QModelIndex = QModelIndex()) -> int:  # noqa: N802 - Qt's name
        return 0 if parent.isValid() else len(self.items)

    def columnCount(self, parent: QModelIndex = QModelIndex()) -> int:  # noqa: N802
        return 0 if parent.isValid() else len(self.columns)

    def headerData(self, section: int, orientation: Qt.Orientation,  # noqa: N802
                   role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return self.columns[section][0]
        return None

    def data(self, index: QModelIndex, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        item = self.items[index.row()]
        if role == Qt.ItemDataRole.DisplayRole:
            return self.columns[index.column()][1](item)
        if role == Qt.ItemDataRole.DecorationRole and index.column() == 0 \
                and hasattr(item, "environment_colour"):
            return colour_swatch(item.environment_colour)
        return None

    def reset(self) -> None:
        self.beginResetModel()
        self.endResetModel()


def _table(model: QAbstractTableModel, name: str, parent: QWidget) -> QTableView:
    view = QTableView(parent)
    view.setModel(model)
    view.setAccessibleName(name)
    view.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
    view.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
    view.verticalHeader().hide()
    view.horizontalHeader().setStretchLastSection(True)
    view.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
    view.setTabKeyNavigation(False)
    return view


class SettingsDialog(QDialog):
    """Edits a copy of the settings; Save writes the file and the keychain, Cancel drops all."""

    saved = Signal(object)

    def __init__(self, parent: QWidget | None, settings_store: SettingsStore, settings: Settings,
                 secrets: SecretStore, *, log_folder: Path | None = None) -> None:
        """Build the dialog over a copy of `settings`; `log_folder` gets an "Open" link."""
        super().__init__(parent)
        self.settings_store = settings_store
        self.original = settings
        self.secrets = secrets
        self.log_folder = log_folder
        self.accounts = [replace(account) for account in settings.accounts]
        self.presets = [replace(preset) for preset in settings.presets]
        # Secrets to write on Save: (kind, key) -> value, or None to delete.
        self.pending_secrets: dict[tuple[str, str], str | None] = {}
        # Whether the keychain contains each account's password, read once per account.
        self._stored_passwords: dict[str, bool] = {}
        # Qt adds the application display name on Windows and Linux, so the title omits it.
        self.setWindowTitle(self.tr("Settings"))
        self.setObjectName("settingsDialog")
        self.setMinimumSize(640, 480)

        self.tabs = QTabWidget(self)
        self.tabs.addTab(self._build_accounts_tab(), self.tr("&Accounts"))
        self.tabs.addTab(self._build_presets_tab(), self.tr("&Partner apps"))
        self.tabs.addTab(self._build_general_tab(), self.tr("&General"))

        self.message = QLabel(self)
        self.message.setWordWrap(True)
        self.message.hide()
        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Save | QDialogButtonBox.StandardButton.Cancel, self)
        self.buttons.accepted.connect(self.save)
        self.buttons.rejected.connect(self.reject)

        layout = QVBoxLayout(self)
        layout.addWidget(self.tabs, 1)
        layout.addWidget(self.message)
        layout.addWidget(self.buttons)

    # --- accounts ------------------------------------------------------------------------

    def _build_accounts_tab(self) -> QWidget:
        page = QWidget(self)
        self.accounts_model = _ListModel(self.accounts, [
            (self.tr("Name"), lambda a: a.name),
            (self.tr("Base URL"), lambda a: a.base_url),
            (self.tr("Username"), lambda a: a.username),
            (self.tr("Password"), self._password_place),
        ], self)
        self.accounts_view = _table(self.accounts_model, self.tr("Leaf accounts"), page)
        self.accounts_view.selectionModel().currentRowChanged.connect(self._show_account)

        self.account_name = QLineEdit(page)
        self.account_url = QLineEdit(page)
        self.account_url.setPlaceholderText(DEFAULT_BASE_URL)
        self.account_username = QLineEdit(page)
        self.account_colour = QPushButton(self.tr("C&olour…"), page)
        self.account_colour.setAccessibleName(self.tr("Choose the account's colour"))
        self.account_colour.clicked.connect(self._choose_account_colour)
        self._account_colour_value = DEFAULT_ENVIRONMENT_COLOUR
        self._colour_chosen = False
        form = QFormLayout()
        form.addRow(self.tr("Name:"), self.account_name)
        form.addRow(self.tr("Base URL:"), self.account_url)
        form.addRow(self.tr("Username:"), self.account_username)
        colour_row = QHBoxLayout()
        colour_row.addWidget(self.account_colour)
        colour_row.addStretch(1)
        form.addRow(QLabel(self.tr("Colour:"), page), colour_row)

        self.add_account_button = add = QPushButton(self.tr("A&dd"), page)
        add.clicked.connect(self._add_account)
        update = QPushButton(self.tr("&Update"), page)
        update.clicked.connect(self._update_account)
        remove = QPushButton(self.tr("&Remove"), page)
        remove.setToolTip(self.tr("Remove the account and its saved password"))
        remove.clicked.connect(self._remove_account)
        buttons = QHBoxLayout()
        for button in (add, update, remove):
            buttons.addWidget(button)
        buttons.addStretch(1)

        if self.secrets.persistent:
            note_text = self.tr("Passwords are asked for at sign-in and kept in the system "
                                "keychain when “Remember” is ticked, never in a file.")
        else:
            note_text = self.tr("No system keychain is available, so passwords are kept in "
                                "memory until LeafDesk closes, never in a file.")
        note = QLabel(note_text, page)
        note.setWordWrap(True)
        layout = QVBoxLayout(page)
        layout.addWidget(self.accounts_view, 1)
        layout.addLayout(form)
        layout.addLayout(buttons)
        layout.addWidget(note)
        return page

    def _password_place(self, account: Any) -> str:
        """Return where the account's password is kept, in words for the accounts table."""
        if not account.remember:
            return self.tr("asked each time")
        if not self._has_password(account.name):
            return self.tr("not saved")
        if self.secrets.persistent:
            return self.tr("in the keychain")
        return self.tr("kept in memory until LeafDesk closes")

    def _has_password(self, name: str) -> bool:
        # A change in this dialog counts before the store, because it is saved only on OK.
        key = (LEAF_PASSWORD, name)
        if key in self.pending_secrets:
            return bool(self.pending_secrets[key])
        # The table requests this on every repaint, and a keychain read can cost a D-Bus call.
        # The store changes only on Save, so one read per account lasts the dialog's lifetime.
        if name not in self._stored_passwords:
            self._stored_passwords[name] = self.secrets.get(LEAF_PASSWORD, name) is not None
        return self._stored_passwords[name]

    def _next_free_colour(self) -> str:
        """Return the first palette colour no account uses, so new accounts look different."""
        used = {account.environment_colour.lower() for account in self.accounts}
        for colour in ACCOUNT_COLOURS:
            if colour.lower() not in used:
                return colour
        return ACCOUNT_COLOURS[len(self.accounts) % len(ACCOUNT_COLOURS)]

    def _show_account(self, current: QModelIndex, _previous: QModelIndex = QModelIndex()) -> None:
        if not current.isValid():
            return
        account = self.accounts[current.row()]
        self.account_name.setText(account.name)
        self.account_url.setText(account.base_url)
        self.account_username.setText(account.username)
        self._set_account_colour(account.environment_colour)

    def _set_account_colour(self, colour: str, *, chosen: bool = False) -> None:
        self._account_colour_value = colour
        # Only a colour the operator picked is kept when another account has it already.
        self._colour_chosen = chosen
        self.account_colour.setIcon(colour_swatch(colour))

    def _choose_account_colour(self) -> None:
        dialog = QColorDialog(QColor(self._account_colour_value), self)
        dialog.colorSelected.connect(
            lambda colour: self._set_account_colour(colour.name(), chosen=True))
        dialog.open()

    def _account_from_form(self) -> LeafAccount | None:
        name = self.account_name.text().strip()
        username = self.account_username.text().strip()
        if not name or not username:
            self._say(self.tr("An account needs a name and a username."))
            return None
        return LeafAccount(name, base_url=self.account_url.text().strip() or DEFAULT_BASE_URL,
                           username=username, environment_colour=self._account_colour_value)

    def _add_account(self) -> None:
        account = self._account_from_form()
        if account is None:
            return
        if any(existing.name == account.name for existing in self.accounts):
            self._say(self.tr("An account named {name} exists already.").format(name=account.name))
            return
        if not self._colour_chosen and any(
                existing.environment_colour.lower() == account.environment_colour.lower()
                for existing in self.accounts):
            account.environment_colour = self._next_free_colour()
        self.accounts.append(account)
        self.accounts_model.reset()
        self._set_account_colour(self._next_free_colour())
        self._say("")

    def _update_account(self) -> None:
        row = self.accounts_view.currentIndex().row()
        account = self._account_from_form()
        if row < 0 or account is None:
            return
        old = self.accounts[row]
        account.remember = old.remember
        if old.name != account.name and any(
                other.name == account.name for number, other in enumerate(self.accounts)
                if number != row):
            self._say(self.tr("An account named {name} exists already.").format(name=account.name))
            return
        if old.name != account.name:
            # The password is keyed by the account's name, so it moves with the rename. A
            # password moved by an earlier rename in this dialog is still pending, not stored.
            key = (LEAF_PASSWORD, old.name)
            if key in self.pending_secrets:
                password = self.pending_secrets[key]
            else:
                password = self.secrets.get(LEAF_PASSWORD, old.name)
            self.pending_secrets[(LEAF_PASSWORD, old.name)] = None
            self.pending_secrets[(LEAF_TOKEN, old.name)] = None
            if password:
                self.pending_secrets[(LEAF_PASSWORD, account.name)] = str(password)
        self.accounts[row] = account
        self.accounts_model.reset()
        self._say("")

    def _remove_account(self) -> None:
        row = self.accounts_view.currentIndex().row()
        if row < 0:
            return
        account = self.accounts.pop(row)
        self.pending_secrets[(LEAF_PASSWORD, account.name)] = None
        self.pending_secrets[(LEAF_TOKEN, account.name)] = None
        self.accounts_model.reset()

    # --- partner app presets -------------------------------------------------------------

    def _build_presets_tab(self) -> QWidget:
        page = QWidget(self)
        self.presets_model = _ListModel(self.presets, [
            (self.tr("Name"), lambda p: p.name),
            (self.tr("Environment"), lambda p: str(p.client_environment)),
            (self.tr("Client id"), lambda p: p.client_id),
            (self.tr("Partner username"), lambda p: p.partner_username),
            (self.tr("sharingUrlId"), lambda p: p.sharing_url_id),
        ], self)
        self.presets_view = _table(self.presets_model, self.tr("Partner app presets"), page)
        self.presets_view.selectionModel().currentRowChanged.connect(self._show_preset)

        self.preset_name = QLineEdit(page)
        self.preset_environment = QComboBox(page)
        for environment in Environment:
            self.preset_environment.addItem(environment.value, environment)
        self.preset_client_id = QLineEdit(page)
        self.preset_username = QLineEdit(page)
        self.preset_password = QLineEdit(page)
        self.preset_password.setEchoMode(QLineEdit.EchoMode.Password)
        self.preset_password.setPlaceholderText(
            self.tr("Kept in the system keychain; leave empty to keep the saved one")
            if self.secrets.persistent else
            self.tr("Kept in memory until LeafDesk closes; leave empty to keep the saved one"))
        self.preset_sharing = QLineEdit(page)
        self.preset_sharing.setPlaceholderText(self.tr(
            "The UUID in the Share Initiation URL (Partner Portal, Account Details)"))
        form = QFormLayout()
        form.addRow(self.tr("Name:"), self.preset_name)
        form.addRow(self.tr("Environment:"), self.preset_environment)
        form.addRow(self.tr("Client id:"), self.preset_client_id)
        form.addRow(self.tr("Partner username:"), self.preset_username)
        form.addRow(self.tr("Partner password:"), self.preset_password)
        form.addRow(self.tr("sharingUrlId:"), self.preset_sharing)

        add = QPushButton(self.tr("Add pre&set"), page)
        add.clicked.connect(self._add_preset)
        update = QPushButton(self.tr("Update pr&eset"), page)
        update.clicked.connect(self._update_preset)
        remove = QPushButton(self.tr("Remove pres&et"), page)
        remove.setToolTip(self.tr("Remove the preset and its saved partner password"))
        remove.clicked.connect(self._remove_preset)
        buttons = QHBoxLayout()
        for button in (add, update, remove):
            buttons.addWidget(button)
        buttons.addStretch(1)

        note = QLabel(self.tr(
            "A preset is your company's Panorama partner login for one-click connections: the "
            "same for every grower. The one-click form fills its fields from a preset."), page)
        note.setWordWrap(True)
        layout = QVBoxLayout(page)
        layout.addWidget(note)
        layout.addWidget(self.presets_view, 1)
        layout.addLayout(form)
        layout.addLayout(buttons)
        return page

    def _show_preset(self, current: QModelIndex, _previous: QModelIndex = QModelIndex()) -> None:
        if not current.isValid():
            return
        preset = self.presets[current.row()]
        self.preset_name.setText(preset.name)
        self.preset_environment.setCurrentIndex(
            self.preset_environment.findData(Environment(preset.client_environment)))
        self.preset_client_id.setText(preset.client_id)
        self.preset_username.setText(preset.partner_username)
        self.preset_sharing.setText(preset.sharing_url_id)
        self.preset_password.clear()

    def _preset_from_form(self, *, password_required: bool) -> tuple[PartnerPreset, str] | None:
        name = self.preset_name.text().strip()
        if not name:
            self._say(self.tr("A preset needs a name."))
            return None
        password = self.preset_password.text()
        try:
            # The same checks as the one-click form, so a saved preset is always usable.
            checked = validate_one_click(
                client_id=self.preset_client_id.text(),
                username=self.preset_username.text(),
                password=password if password or password_required else "placeholder",
                client_environment=self.preset_environment.currentData(),
                sharing_url_id=self.preset_sharing.text(),
            )
        except ValidationError as error:
            problems = "; ".join(f"{field.field}: {field.message}" for field in error.field_errors)
            self._say(self.tr("The preset is not valid: {problems}").format(
                problems=problems or error.message))
            return None
        preset = PartnerPreset(name, checked.client_id, checked.username, checked.sharing_url_id,
                               checked.client_environment)
        return preset, password

    def _add_preset(self) -> None:
        made = self._preset_from_form(password_required=True)
        if made is None:
            return
        preset, password = made
        if any(existing.name == preset.name for existing in self.presets):
            self._say(self.tr("A preset named {name} exists already.").format(name=preset.name))
            return
        self.presets.append(preset)
        self.pending_secrets[(PARTNER_PASSWORD, preset.name)] = password
        self.presets_model.reset()
        self.preset_password.clear()
        self._say("")

    def _update_preset(self) -> None:
        row = self.presets_view.currentIndex().row()
        if row < 0:
            return
        made = self._preset_from_form(password_required=False)
        if made is None:
            return
        preset, password = made
        old = self.presets[row]
        if old.name != preset.name and any(
                other.name == preset.name for number, other in enumerate(self.presets)
                if number != row):
            self._say(self.tr("A preset named {name} exists already.").format(name=preset.name))
            return
        if old.name != preset.name:
            saved = self.pending_secrets.get((PARTNER_PASSWORD, old.name)) or \
                self.secrets.get(PARTNER_PASSWORD, old.name)
            self.pending_secrets[(PARTNER_PASSWORD, old.name)] = None
            if saved and not password:
                password = str(saved)
        if password:
            self.pending_secrets[(PARTNER_PASSWORD, preset.name)] = password
        self.presets[row] = preset
        self.presets_model.reset()
        self.preset_password.clear()
        self._say("")

    def _remove_preset(self) -> None:
        row = self.presets_view.currentIndex().row()
        if row < 0:
            return
        preset = self.presets.pop(row)
        self.pending_secrets[(PARTNER_PASSWORD, preset.name)] = None
        self.presets_model.reset()

    # --- general -------------------------------------------------------------------------

    def _build_general_tab(self) -> QWidget:
        page = QWidget(self)
        self.interval = QSpinBox(page)
        self.interval.setRange(*REFRESH_INTERVAL_RANGE)
        self.interval.setSuffix(self.tr(" min"))
        self.interval.setValue(self.original.refresh_interval_minutes)
        self.interval.setToolTip(self.tr("How often the window refreshes every user from Leaf"))
        self.concurrency = QSpinBox(page)
        self.concurrency.setRange(*CONCURRENCY_RANGE)
        self.concurrency.setValue(self.original.concurrency)
        self.concurrency.setToolTip(self.tr(
            "How many requests a refresh sends to Leaf at once; LeafDesk sends fewer by itself "
            "when Leaf asks it to slow down"))

        sync_box = QGroupBox(self.tr("Refresh"), page)
        sync_form = QFormLayout(sync_box)
        sync_form.addRow(self.tr("Refresh &every:"), self.interval)
        sync_form.addRow(self.tr("Requests at &once:"), self.concurrency)

        logs_box = QGroupBox(self.tr("Logs"), page)
        logs_layout = QHBoxLayout(logs_box)
        folder = str(self.log_folder) if self.log_folder else self.tr("(not set up)")
        self.log_label = QLabel(folder, logs_box)
        self.log_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.log_label.setWordWrap(True)
        self.open_logs = QPushButton(self.tr("Open &log folder"), logs_box)
        self.open_logs.setEnabled(self.log_folder is not None)
        self.open_logs.clicked.connect(self.open_log_folder)
        logs_layout.addWidget(self.log_label, 1)
        logs_layout.addWidget(self.open_logs)

        keychain_text = self.tr("Keychain: {backend}").format(backend=self.secrets.backend_name)
        if not self.secrets.persistent:
            keychain_text += "\n" + self.tr(
                "No system keychain is available, so passwords are kept in memory until "
                "LeafDesk closes and must be entered again next time.")
        keychain = QLabel(keychain_text, page)
        keychain.setWordWrap(True)

        layout = QVBoxLayout(page)
        layout.addWidget(sync_box)
        layout.addWidget(logs_box)
        layout.addWidget(keychain)
        layout.addStretch(1)
        return page

    def open_log_folder(self) -> None:
        if self.log_folder is not None:
            QDesktopServices.openUrl(QUrl.fromLocalFile(str(self.log_folder)))

    # --- saving --------------------------------------------------------------------------

    def _say(self, text: str) -> None:
        self.message.setText(text)
        self.message.setVisible(bool(text))

    def result_settings(self) -> Settings:
        """Return the settings as edited (not saved)."""
        last = self.original.last_account
        if last is not None and not any(account.name == last for account in self.accounts):
            last = None
        return Settings(accounts=list(self.accounts), presets=list(self.presets),
                        refresh_interval_minutes=self.interval.value(),
                        concurrency=self.concurrency.value(), last_account=last)

    def save(self) -> None:
        """Write the settings file and the keychain, then close."""
        settings = self.result_settings()
        try:
            self.settings_store.save(settings)
        except OSError as error:
            log.warning("Could not save the settings: %s", error)
            self._say(self.tr("Could not save the settings to {path}: {error}. Check that the "
                              "folder exists and is writable, then save again.").format(
                path=self.settings_store.path, error=error.strerror or error))
            return
        for (kind, key), value in self.pending_secrets.items():
            if value is None:
                self.secrets.delete(kind, key)
            else:
                self.secrets.set(kind, key, value)
        self.pending_secrets.clear()
        self._stored_passwords.clear()

        # Update the settings object the window uses, so the change applies at once.
        self.original.accounts = settings.accounts
        self.original.presets = settings.presets
        self.original.refresh_interval_minutes = settings.refresh_interval_minutes
        self.original.concurrency = settings.concurrency
        self.original.last_account = settings.last_account
        self.saved.emit(self.original)
        self.accept()
