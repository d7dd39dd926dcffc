"""The details of the selected Leaf user: state in plain words, the Panorama credential, the
state timeline and the actions (connect, enter credentials, re-check, delete).

The panel only displays data and emits requests. Its buttons emit signals and the main window
runs the work. Tokens
are shown masked, and reach the clipboard only through the explicit "Copy" buttons beside them.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtGui import QColor, QGuiApplication, QPalette
from PySide6.QtWidgets import (
    QFormLayout,
    QFrame,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QScrollArea,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)

from leafdesk.core.events import EventDescription
from leafdesk.core.model import ConnectionState, PanoramaCredential, Secret, UserRow
from leafdesk.core.states import refine_state
from leafdesk.ui.presentation import (
    actor_label,
    format_time,
    state_colour,
    state_icon,
    state_label,
    state_text,
)
from leafdesk.ui.users_model import has_credential

log = logging.getLogger(__name__)


def _value_label(parent: QWidget) -> QLabel:
    label = QLabel(parent)
    label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse
                                  | Qt.TextInteractionFlag.TextSelectableByKeyboard)
    label.setWordWrap(True)
    label.setTextFormat(Qt.TextFormat.PlainText)
    return label


class _FieldValue(QLineEdit):
    """A one-line value (an id, a masked token) that never widens the panel.

    A QLabel cannot break an id or a token, so its width would be the panel's minimum and the
    panel would be clipped on the right. This frameless read-only line edit elides a value too
    long for its width in the middle. It shows the whole value while it has the focus, to
    select and copy it, and always as its tooltip.
    """

    def __init__(self, parent: QWidget) -> None:
        super().__init__(parent)
        self._full_text = ""
        self.setReadOnly(True)
        self.setFrame(False)
        # Only the base is transparent, so the value sits on the panel's background and its text
        # keeps following the application palette. A style sheet would fix the colours when the
        # widget is polished, so a later switch to dark would leave dark text on a dark panel.
        palette = self.palette()
        palette.setBrush(QPalette.ColorRole.Base, QColor(Qt.GlobalColor.transparent))
        self.setPalette(palette)
        self.setFocusPolicy(Qt.FocusPolicy.ClickFocus)
        self.setMinimumWidth(60)
        self.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Fixed)

    def text(self) -> str:
        """Return the whole value, not the elided one on screen."""
        return self._full_text

    def setText(self, text: str) -> None:  # noqa: N802 - Qt override
        self._full_text = text
        self.setToolTip(text if text and text != "—" else "")
        self._show()

    def _show(self) -> None:
        shown = self._full_text
        if not self.hasFocus():
            # The text margins and a little slack for the style's own padding.
            room = self.contentsRect().width() - 8
            shown = self.fontMetrics().elidedText(shown, Qt.TextElideMode.ElideMiddle, room)
        super().setText(shown)
        self.setCursorPosition(0)  # show the start of a long value, not its end

    def resizeEvent(self, event) -> None:  # noqa: N802 - Qt override
        super().resizeEvent(event)
        self._show()

    def focusInEvent(self, event) -> None:  # noqa: N802 - Qt override
        super().focusInEvent(event)
        self._show()

    def focusOutEvent(self, event) -> None:  # noqa: N802 - Qt override
        super().focusOutEvent(event)
        self._show()


class DetailsPanel(QWidget):
    """The selected user's state, credential, timeline and action buttons."""

    connect_requested = Signal()
    manual_requested = Signal()
    recheck_requested = Signal()
    delete_requested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.row: UserRow | None = None
        self.credential: PanoramaCredential | None = None
        self._online = True
        self._offline_reason = ""
        self._busy = False
        # The newest credential event and the Leaf user id it belongs to.
        self._latest_event: tuple[str, EventDescription | None] | None = None

        content = QWidget(self)
        self._build(content)

        scroll = QScrollArea(self)
        self.scroll = scroll
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QFrame.Shape.NoFrame)
        # Text wraps to the panel's width; only the height scrolls.
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        scroll.setWidget(content)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(scroll)
        self.setMinimumWidth(340)
        self.show_row(None)

    # --- building ------------------------------------------------------------------------

    def _build(self, content: QWidget) -> None:
        self.title = QLabel(content)
        font = self.title.font()
        font.setPointSizeF(font.pointSizeF() * 1.3)
        font.setBold(True)
        self.title.setFont(font)
        self.title.setWordWrap(True)
        self.subtitle = _value_label(content)

        # The state, who must act and the next step.
        self.state_icon = QLabel(content)
        self.state_icon.setFixedSize(QSize(32, 32))
        self.state_name = QLabel(content)
        state_font = self.state_name.font()
        state_font.setBold(True)
        self.state_name.setFont(state_font)
        self.actor = _value_label(content)
        self.summary = _value_label(content)
        self.next_step = _value_label(content)
        self.checked = _value_label(content)

        state_box = QGroupBox(self.tr("Connection"), content)
        state_grid = QGridLayout(state_box)
        state_grid.addWidget(self.state_icon, 0, 0, 2, 1, Qt.AlignmentFlag.AlignTop)
        state_grid.addWidget(self.state_name, 0, 1)
        state_grid.addWidget(self.actor, 1, 1)
        state_grid.addWidget(self.summary, 2, 0, 1, 2)
        state_grid.addWidget(self.next_step, 3, 0, 1, 2)
        state_grid.addWidget(self.checked, 4, 0, 1, 2)
        state_grid.setColumnStretch(1, 1)

        # The actions. Mnemonics give each a keyboard path; the window adds shortcuts too.
        self.connect_button = QPushButton(self.tr("&Connect…"), content)
        self.connect_button.setAccessibleName(self.tr("Connect with one-click"))
        self.manual_button = QPushButton(self.tr("&Enter credentials…"), content)
        self.recheck_button = QPushButton(self.tr("Re-check &now"), content)
        self.delete_button = QPushButton(self.tr("&Delete…"), content)
        self.delete_button.setAccessibleName(self.tr("Delete the Panorama credential"))
        self.connect_button.clicked.connect(self.connect_requested)
        self.manual_button.clicked.connect(self.manual_requested)
        self.recheck_button.clicked.connect(self.recheck_requested)
        self.delete_button.clicked.connect(self.delete_requested)
        actions = QGridLayout()
        actions.addWidget(self.connect_button, 0, 0)
        actions.addWidget(self.manual_button, 0, 1)
        actions.addWidget(self.recheck_button, 1, 0)
        actions.addWidget(self.delete_button, 1, 1)

        # The credential's fields, tokens masked.
        self.credential_box = QGroupBox(self.tr("Panorama credential"), content)
        form = QFormLayout(self.credential_box)
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        self.credential_note = _value_label(content)
        form.addRow(self.credential_note)
        self.fields: dict[str, QLineEdit] = {}
        for key, title in (
            ("status", self.tr("Status")),
            ("id", self.tr("Credential id")),
            ("created", self.tr("Created")),
            ("client_id", self.tr("Client id")),
            ("username", self.tr("Partner username")),
            ("organization", self.tr("Organization code")),
            ("environment", self.tr("Environment")),
        ):
            value = _FieldValue(content)
            value.setAccessibleName(title)
            self.fields[key] = value
            form.addRow(title + ":", value)

        self.access_token = _FieldValue(content)
        self.access_token.setAccessibleName(self.tr("Access token, masked"))
        self.copy_access = QPushButton(self.tr("Copy"), content)
        self.copy_access.setAccessibleName(self.tr("Copy the access token"))
        self.copy_access.setToolTip(self.tr("Copy the access token to the clipboard"))
        self.copy_access.clicked.connect(lambda: self._copy_token("access"))
        self.refresh_token = _FieldValue(content)
        self.refresh_token.setAccessibleName(self.tr("Refresh token, masked"))
        self.copy_refresh = QPushButton(self.tr("Copy"), content)
        self.copy_refresh.setAccessibleName(self.tr("Copy the refresh token"))
        self.copy_refresh.setToolTip(self.tr("Copy the refresh token to the clipboard"))
        self.copy_refresh.clicked.connect(lambda: self._copy_token("refresh"))
        for title, value, button in ((self.tr("Access token"), self.access_token, self.copy_access),
                                     (self.tr("Refresh token"), self.refresh_token,
                                      self.copy_refresh)):
            # The button keeps its full width; only the masked token gives way.
            button.setSizePolicy(QSizePolicy.Policy.Fixed, QSizePolicy.Policy.Fixed)
            row = QHBoxLayout()
            row.addWidget(value, 1)
            row.addWidget(button)
            form.addRow(title + ":", row)

        # When the state broke and healed, from the cache.
        timeline_box = QGroupBox(self.tr("State timeline"), content)
        self.timeline = QListWidget(timeline_box)
        self.timeline.setAccessibleName(self.tr("State timeline"))
        self.timeline.setMinimumHeight(90)
        # Wrapped rather than cut off with "…" when the panel is narrow.
        self.timeline.setWordWrap(True)
        self.timeline.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Preferred)
        self.timeline_note = _value_label(timeline_box)
        timeline_layout = QVBoxLayout(timeline_box)
        timeline_layout.addWidget(self.timeline_note)
        timeline_layout.addWidget(self.timeline)

        self.placeholder = QLabel(self.tr("Select a user to see their Panorama connection."),
                                  content)
        self.placeholder.setWordWrap(True)
        self.placeholder.setAlignment(Qt.AlignmentFlag.AlignCenter)

        layout = QVBoxLayout(content)
        # Without this the panel could not get narrower than its longest unbroken text (an id)
        # and would be clipped on the right. With it, the text wraps to the width it gets.
        layout.setSizeConstraint(QVBoxLayout.SizeConstraint.SetNoConstraint)
        layout.addWidget(self.placeholder)
        layout.addWidget(self.title)
        layout.addWidget(self.subtitle)
        layout.addWidget(state_box)
        layout.addLayout(actions)
        layout.addWidget(self.credential_box)
        layout.addWidget(timeline_box, 1)
        self._details = [self.title, self.subtitle, state_box, self.credential_box, timeline_box,
                         self.connect_button, self.manual_button, self.recheck_button,
                         self.delete_button]

    # --- showing -------------------------------------------------------------------------

    def show_row(self, row: UserRow | None, credential: PanoramaCredential | None = None,
                 history: Sequence[Any] = ()) -> None:
        """Show one user (None clears the panel); `credential` is Leaf's, when it was read."""
        self.row = row
        self.credential = credential
        self.placeholder.setVisible(row is None)
        for widget in self._details:
            widget.setVisible(row is not None)
        if row is None:
            return

        user = row.user
        self.title.setText(user.name)
        parts = [part for part in (user.email, user.external_id) if part]
        parts.append(self.tr("Leaf user id {id}").format(id=user.id))
        # One part a line: joined on one line, an e-mail and an id would not fit side by side.
        self.subtitle.setText("\n".join(parts))
        self._show_state()
        self._show_credential(row, credential)
        self._show_history(history)
        self._update_actions()

    def set_latest_event(self, user_id: str, latest: EventDescription | None) -> None:
        """Take the newest credential event of `user_id`, which may change who must act."""
        self._latest_event = (user_id, latest)
        if self.row is not None and self.row.user.id == user_id:
            self._show_state()

    def _show_state(self) -> None:
        if self.row is None:
            return
        view = self.row.state
        if self._latest_event is not None and self._latest_event[0] == self.row.user.id:
            view = refine_state(view, self._latest_event[1])

        self.state_icon.setPixmap(state_icon(view.state).pixmap(32, 32))
        self.state_icon.setAccessibleName(state_text(view))
        self.state_name.setText(state_text(view))
        palette = self.state_name.palette()
        palette.setColor(self.state_name.foregroundRole(), state_colour(view.state))
        self.state_name.setPalette(palette)
        self.actor.setText(self.tr("Who must act: {actor}").format(actor=actor_label(view.actor)))
        self.summary.setText(view.summary)
        self.next_step.setText(self.tr("Next step: {step}").format(step=view.next_step))
        if view.checked_at is None:
            checked = self.tr("Not checked yet.")
        elif not self._online:
            checked = self.tr("As of {time} (from the offline cache).").format(
                time=format_time(view.checked_at))
        else:
            checked = self.tr("Last checked {time}.").format(time=format_time(view.checked_at))
        self.checked.setText(checked)

    def set_credential(self, credential: PanoramaCredential | None) -> None:
        """Show the credential read from Leaf for the current user."""
        if self.row is not None:
            self.credential = credential
            self._show_credential(self.row, credential)
            self._update_actions()

    def set_online(self, online: bool, reason: str = "") -> None:
        """Enable the actions that need Leaf, or disable them with `reason` as their tooltip."""
        self._online = online
        self._offline_reason = reason
        self._update_actions()

    def set_busy(self, busy: bool) -> None:
        """Disable the actions while an operation on this user runs."""
        self._busy = busy
        self._update_actions()

    def _show_credential(self, row: UserRow, credential: PanoramaCredential | None) -> None:
        credential_known = has_credential(row) or credential is not None
        summary = row.user.panorama
        if credential is not None:
            status, created, credential_id = (credential.status, credential.created_time,
                                              credential.id)
        elif summary is not None:
            status, created, credential_id = summary.status, summary.created_time, summary.id
        else:
            status, created, credential_id = None, None, ""
        # Fields only Leaf's credential has; the cache keeps the organization and environment.
        values = {
            "status": status or "",
            "id": credential_id,
            "created": format_time(created),
            "client_id": "",
            "username": "",
            "organization": row.organization_code or "",
            "environment": row.client_environment or "",
        }
        if credential is not None:
            values["client_id"] = credential.client_id or ""
            values["username"] = credential.username or ""
            values["organization"] = credential.organization_code or values["organization"]
            values["environment"] = credential.client_environment or values["environment"]
        for key, value in values.items():
            self.fields[key].setText(value or "—")

        if not credential_known:
            self.credential_note.setText(self.tr("Leaf holds no Panorama credential for this user."))
        elif credential is None:
            self.credential_note.setText(self.tr(
                "Only the fields kept in the offline cache are shown, because tokens are never "
                "cached."))
        else:
            self.credential_note.setText("")
        self.credential_note.setVisible(bool(self.credential_note.text()))

        access = credential.access_token if credential else Secret("")
        refresh = credential.refresh_token if credential else Secret("")
        self.access_token.setText(access.masked() if access else "—")
        self.refresh_token.setText(refresh.masked() if refresh else "—")
        self.copy_access.setEnabled(bool(access))
        self.copy_refresh.setEnabled(bool(refresh))

    def _show_history(self, history: Sequence[Any]) -> None:
        self.timeline.clear()
        if not history:
            self.timeline_note.setText(self.tr(
                "LeafDesk records a change each time a refresh reads a new state."))
            item = QListWidgetItem(self.tr("No changes recorded yet."))
            item.setFlags(Qt.ItemFlag.NoItemFlags)
            self.timeline.addItem(item)
            return

        previous: ConnectionState | None = None
        ever_connected = False
        # Oldest first, so "broke" and "healed" read in the order they happened.
        entries = sorted(history, key=_change_time_key)
        # The cache starts recording at LeafDesk's first sync of the user, not at the
        # credential's creation, so the first entry is only the first state LeafDesk saw.
        self.timeline_note.setText(self.tr(
            "Since LeafDesk began watching on {time}.").format(
            time=format_time(_change_time(entries[0]))))
        lines: list[QListWidgetItem] = []
        for change in entries:
            state = _change_state(change)
            moment = _change_time(change)
            if state is None:
                continue
            connected = state is ConnectionState.CONNECTED
            if previous is None:
                verb = (self.tr("First seen connected") if connected
                        else self.tr("First seen: {state}"))
            elif connected and previous is not ConnectionState.CONNECTED:
                # Healing needs an earlier connection to heal from.
                verb = self.tr("Healed: {state}") if ever_connected else self.tr("Connected")
            elif state is ConnectionState.NOT_CONNECTED and previous not in (
                    ConnectionState.NOT_CONNECTED, ConnectionState.WAITING_FOR_GROWER):
                # Not connected after a credential state means the credential is gone, which
                # a delete does; "Broke" would suggest Panorama rejected it.
                verb = self.tr("Disconnected (credential deleted)")
            elif previous is ConnectionState.CONNECTED and not connected:
                verb = self.tr("Broke: {state}")
            else:
                verb = self.tr("{state}")
            ever_connected = ever_connected or connected
            raw = getattr(change, "raw_status", None)
            label = state_label(state) + (f" ({raw})" if state is ConnectionState.UNKNOWN
                                          and raw else "")
            item = QListWidgetItem(state_icon(state),
                                   f"{format_time(moment)}  {verb.format(state=label)}")
            lines.append(item)
            previous = state
        for item in reversed(lines):  # newest on top
            self.timeline.addItem(item)

    def _update_actions(self) -> None:
        row = self.row
        credential_known = row is not None and (has_credential(row)
                                                or self.credential is not None)
        enabled = self._online and not self._busy and row is not None
        for button in (self.connect_button, self.manual_button, self.recheck_button,
                       self.delete_button):
            button.setEnabled(enabled)
            button.setToolTip(self._offline_reason if not self._online else "")
        if not self._online:
            return
        self.connect_button.setToolTip(self.tr(
            "Start Leaf's one-click integration and send the grower a sign-in link"))
        self.manual_button.setToolTip(
            self.tr("Attach a Panorama credential by hand") if not credential_known
            else self.tr("Replace the Panorama credential by hand (deletes Leaf's event log)"))
        self.recheck_button.setToolTip(self.tr("Read this user's state from Leaf again (Ctrl+R)"))
        self.delete_button.setEnabled(enabled and credential_known)
        self.delete_button.setToolTip(
            self.tr("Delete the Panorama credential (Del)") if credential_known
            else self.tr("There is no Panorama credential to delete"))

    def _copy_token(self, which: str) -> None:
        # The explicit action that puts a secret on the clipboard: nothing else does.
        if self.credential is None:
            return
        token = self.credential.access_token if which == "access" else self.credential.refresh_token
        if token:
            QGuiApplication.clipboard().setText(str(token))
            log.info("Operator copied the %s token of Leaf user %s", which,
                     self.credential.leaf_user_id)


def _change_state(change: Any) -> ConnectionState | None:
    state = getattr(change, "state", None)
    if isinstance(state, ConnectionState):
        return state
    try:
        return ConnectionState(state)
    except ValueError:
        return None


def _change_time(change: Any):
    for name in ("changed_at", "at", "time", "checked_at"):
        value = getattr(change, name, None)
        if value is not None:
            return value
    return None


def _change_time_key(change: Any) -> float:
    moment = _change_time(change)
    return moment.timestamp() if moment is not None else 0.0
