"""The one-click form: start Leaf's one-click Panorama integration for a Leaf user and watch it.

The form takes the partner's Panorama login (typed, or from a preset) and checks it with
`core.validation` before anything is sent. Once Leaf returns the grower's sign-in URL, the dialog
shows it with Copy and Open in browser, then waits for the grower through
`ConnectService.wait_for_grower` until the credential is attached, the share page expires, or the
operator stops waiting.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime, timezone
from typing import Any

from PySide6.QtCore import QSize, Qt, QTimer, QUrl, Signal
from PySide6.QtGui import QDesktopServices, QGuiApplication, QKeySequence, QPalette
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFrame,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QProgressBar,
    QPushButton,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from leafdesk.core.errors import LeafError, ValidationError
from leafdesk.core.model import LeafUser
from leafdesk.core.validation import validate_one_click
from leafdesk.ui.event_log_model import as_utc
from leafdesk.ui.forms_fields import (
    ErrorPanel,
    FieldForm,
    SecretEdit,
    ToneLabel,
    about_user,
    environment_combo,
    fit_height,
)
from leafdesk.ui.forms_presets import PresetPicker, environment_warning, preset_password
from leafdesk.ui.forms_tasks import FormTasks

log = logging.getLogger(__name__)

# Endings of the waiting page, as the `outcome` signal sends them. There is no "declined" because
# Leaf never reports a declined share, which therefore ends as EXPIRED.
CONNECTED = "connected"
EXPIRED = "expired"
CANCELLED = "cancelled"


def _local_time(moment: datetime | None) -> str:
    moment = as_utc(moment)
    return moment.astimezone().strftime("%H:%M") if moment is not None else "?"


def outcome_name(outcome: Any) -> str:
    """Return CONNECTED, EXPIRED or CANCELLED for a `OneClickOutcome` (or a bare kind)."""
    kind = getattr(outcome, "kind", outcome)
    name = str(getattr(kind, "value", kind)).lower()
    return CONNECTED if name == "attached" else name


class _Page(QWidget):
    """Page of the dialog's stacked widget that takes no room while another page is shown.

    QStackedWidget sizes itself by its tallest page, hidden ones included (Qt 6 asks each page
    directly and ignores its size policy), so the short waiting page would keep the form's height
    with a blank band under it.
    """

    def heightForWidth(self, width: int) -> int:  # noqa: N802 - Qt override
        return 0 if self.isHidden() else super().heightForWidth(width)

    def minimumSizeHint(self) -> QSize:  # noqa: N802 - Qt override
        return QSize(0, 0) if self.isHidden() else super().minimumSizeHint()

    def sizeHint(self) -> QSize:  # noqa: N802 - Qt override
        return QSize(0, 0) if self.isHidden() else super().sizeHint()


class OneClickDialog(QDialog):
    """Dialog that starts a one-click integration, waits for the grower and reports by signal.

    It emits `started(PendingOneClick)` once Leaf returned the sign-in URL,
    `connected(PanoramaCredential)` when the grower approved, and `outcome(str)` with the ending
    (CONNECTED, EXPIRED, CANCELLED).
    """

    started = Signal(object)
    connected = Signal(object)
    outcome = Signal(str)

    # The preset and partner fields of the last one-click started in this run of LeafDesk, never
    # the password, so that the next form starts from them. Kept in memory only.
    last_used: dict[str, str] = {}

    def __init__(
        self,
        parent: QWidget | None,
        connect_service: Any,
        user: LeafUser,
        presets: list[Any],
        secrets: Any | None,
    ) -> None:
        """Build the one-click form for `user`. `presets` and `secrets` fill the partner login."""
        super().__init__(parent)
        self.connect_service = connect_service
        self.user = user
        self.secrets = secrets
        self.tasks = FormTasks()
        self.open_pending = self._find_open_pending()
        self.pending: Any | None = None
        self.result_name: str | None = None
        self._wait_task: asyncio.Task | None = None
        self._stop_waiting: asyncio.Event | None = None
        # Seconds between polls of Leaf: the first interval, and the maximum the backoff reaches.
        self.poll_interval = 2.0
        self.max_poll_interval = 10.0
        self.setWindowTitle(self.tr("Connect {name} to Panorama (one-click)").format(
            name=user.name))

        self.pages = QStackedWidget(self)
        self.pages.addWidget(self._build_form_page(presets))
        self.pages.addWidget(self._build_waiting_page())
        self._restore_last_used()

        self.errors = ErrorPanel(self)
        self.buttons = QDialogButtonBox(self)
        self.start_button = self.buttons.addButton(
            self.tr("&Start one-click"), QDialogButtonBox.ButtonRole.AcceptRole)
        self.start_button.setDefault(True)
        self.close_button = self.buttons.addButton(QDialogButtonBox.StandardButton.Cancel)
        self.start_button.clicked.connect(self.submit)
        self.close_button.clicked.connect(self.reject)

        layout = QVBoxLayout(self)
        layout.addWidget(self.pages, 1)
        layout.addWidget(self.errors)
        layout.addWidget(self.buttons)

        self._countdown = QTimer(self)
        self._countdown.setInterval(1000)
        self._countdown.timeout.connect(self._update_countdown)
        self.setMinimumWidth(560)
        self._show_page(0)

    def _show_page(self, index: int) -> None:
        self.pages.setCurrentIndex(index)
        # The layout caches its height for a width, which the new page changes.
        self.pages.updateGeometry()
        self.layout().invalidate()
        self._fit_height()

    def _fit_height(self) -> None:
        fit_height(self, 620)

    # The form

    def _build_form_page(self, presets: list[Any]) -> QWidget:
        page = _Page(self)
        intro = QLabel(self.tr(
            "Leaf creates a share page for {name}. You send its link to the grower, who signs in "
            "to Panorama and approves sharing with your partner application. Leaf then attaches "
            "the credential. The login below is your company's Panorama partner login, not the "
            "grower's."
        # rstrip: a name such as "Grain Co." already ends the sentence.
        ).format(name=self.user.name.rstrip(".")), page)
        intro.setWordWrap(True)
        intro.setTextFormat(Qt.TextFormat.PlainText)

        self.preset_picker = PresetPicker(presets, page)
        self.preset_picker.setAccessibleName(self.tr("Partner app preset"))
        self.preset_picker.currentIndexChanged.connect(self._apply_preset)

        self.form = FieldForm(page)
        self.form.add_field("preset", self.tr("P&reset:"), self.preset_picker, self.tr(
            "Fills every field from a partner app saved in Settings, password included when the "
            "keychain has it."))
        self.client_id = QLineEdit(page)
        self.form.add_field("client_id", self.tr("&Client id:"), self.client_id, self.tr(
            "Your partner application's client id, from the Panorama Partner Portal."))
        self.username = QLineEdit(page)
        self.form.add_field("username", self.tr("Partner &username:"), self.username, self.tr(
            "The username of your company's Panorama partner account (not the grower's)."))
        self.password = SecretEdit(self.tr("Partner password"), page)
        self.form.add_field("password", self.tr("Partner &password:"), self.password, self.tr(
            "The password of that partner account. LeafDesk sends it to Leaf and does not keep "
            "it. Presets keep theirs in the system keychain."))
        self.environment = environment_combo(page)
        self.form.add_field("client_environment", self.tr("&Environment:"), self.environment,
                            self.tr("The Panorama environment of the partner login. A grower "
                                    "connected on STAGE is not connected on PRODUCTION."))
        self.sharing_url_id = QLineEdit(page)
        self.sharing_url_id.setPlaceholderText("xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx")
        self.form.add_field("sharing_url_id", self.tr("S&haring URL id:"), self.sharing_url_id,
                            self.tr("The UUID inside your Share Initiation URL: Panorama Partner "
                                    "Portal > Account Details. It must match the one in your "
                                    "Panorama app key at Leaf."))
        self.client_id.textChanged.connect(self._check_environment)
        self.environment.currentIndexChanged.connect(self._check_environment)

        layout = QVBoxLayout(page)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(intro)
        self.resume_note: QWidget | None = None
        if self.open_pending is not None:
            self.resume_note = self._build_resume_note(self.open_pending, page)
            layout.addWidget(self.resume_note)
        layout.addSpacing(6)
        layout.addWidget(self.form)
        layout.addStretch(1)
        return page

    def _now(self) -> datetime:
        # The connect service's clock decides expiry, so the dialog reads the same clock.
        clock = getattr(self.connect_service, "clock", None)
        return clock() if callable(clock) else datetime.now(timezone.utc)

    def _find_open_pending(self) -> Any | None:
        """Return the one-click LeafDesk recorded for this user whose share page is still open."""
        cache = getattr(self.connect_service, "cache", None)
        if cache is None:
            return None
        now = self._now()
        for pending in cache.pending_one_clicks():
            if pending.leaf_user_id == self.user.id and as_utc(pending.expires_at) > now:
                return pending
        return None

    def _build_resume_note(self, pending: Any, parent: QWidget) -> QWidget:
        note = QFrame(parent)
        note.setFrameShape(QFrame.Shape.StyledPanel)
        text = QLabel(self.tr(
            "A one-click that {who} started at {started} is still open until {expires}. You "
            "can send its link again instead of starting a new one."
        ).format(who=pending.started_by or self.tr("someone"),
                 started=_local_time(pending.started_at),
                 expires=_local_time(pending.expires_at)), note)
        text.setWordWrap(True)
        text.setTextFormat(Qt.TextFormat.PlainText)
        self.resume_button = QPushButton(self.tr("Show its &link and wait"), note)
        self.resume_button.clicked.connect(self.resume)
        layout = QHBoxLayout(note)
        layout.addWidget(text, 1)
        layout.addWidget(self.resume_button, 0, Qt.AlignmentFlag.AlignVCenter)
        return note

    def _restore_last_used(self) -> None:
        memory = OneClickDialog.last_used
        if not memory:
            return
        for index, preset in enumerate(self.preset_picker.presets):
            if preset.name == memory.get("preset"):
                # Selecting the preset also reads its password from the keychain.
                self.preset_picker.setCurrentIndex(index + 1)
                break
        # The operator may have changed a preset's fields before starting, so they win.
        self.client_id.setText(memory.get("client_id", ""))
        self.username.setText(memory.get("username", ""))
        self.sharing_url_id.setText(memory.get("sharing_url_id", ""))
        index = self.environment.findData(memory.get("client_environment"))
        if index >= 0:
            self.environment.setCurrentIndex(index)

    def _remember_last_used(self) -> None:
        preset = self.preset_picker.current_preset()
        OneClickDialog.last_used = {
            "preset": preset.name if preset is not None else "",
            "client_id": self.client_id.text().strip(),
            "username": self.username.text().strip(),
            "sharing_url_id": self.sharing_url_id.text().strip(),
            "client_environment": str(self.environment.currentData()),
        }

    def _check_environment(self) -> None:
        self.form.set_warning("client_environment", environment_warning(
            self.preset_picker.presets, self.client_id.text(), self.environment.currentData()))
        self._fit_height()

    def _apply_preset(self) -> None:
        preset = self.preset_picker.current_preset()
        if preset is None:
            return
        self.client_id.setText(preset.client_id)
        self.username.setText(preset.partner_username)
        self.password.setText(preset_password(self.secrets, preset))
        self.sharing_url_id.setText(preset.sharing_url_id)
        index = self.environment.findData(str(preset.client_environment).upper())
        if index >= 0:
            self.environment.setCurrentIndex(index)
        self.form.clear_errors()

    def checked_input(self):
        """Return the form's `OneClickInput`, or show each problem under its field."""
        self.errors.clear()
        try:
            data = validate_one_click(
                client_id=self.client_id.text(),
                username=self.username.text(),
                password=self.password.text(),
                client_environment=self.environment.currentData(),
                sharing_url_id=self.sharing_url_id.text(),
            )
        except ValidationError as error:
            self._show_validation(error)
            return None
        self.form.clear_errors()
        return data

    def _show_validation(self, error: ValidationError) -> None:
        unplaced = self.form.show_errors(error)
        if unplaced or not error.field_errors:
            self.errors.show_error(" ".join(unplaced) or error.sentence())
        self._fit_height()

    def submit(self) -> None:
        """Check the fields and, when they pass, request that Leaf start the one-click."""
        if self.tasks.busy or self.pages.currentIndex() != 0:
            return
        data = self.checked_input()
        if data is None:
            return
        log.info("Starting a one-click integration for Leaf user %s on %s",
                 self.user.id, data.client_environment)
        self._remember_last_used()
        self.form.setEnabled(False)
        self.start_button.setEnabled(False)
        self.start_button.setText(self.tr("Starting…"))
        self.tasks.start(
            self.connect_service.start_one_click(self.user, data),
            self._on_started,
            self._on_start_failed,
            action=self.tr("start the one-click integration"),
        )

    def _on_start_failed(self, error: LeafError) -> None:
        self.form.setEnabled(True)
        self.start_button.setEnabled(True)
        self.start_button.setText(self.tr("&Start one-click"))
        about_user(error, self.user)
        if isinstance(error, ValidationError) and error.field_errors:
            self._show_validation(error)
            if self.errors.isHidden():
                self.errors.show_leaf_error(error)
            return
        self.errors.show_leaf_error(error)
        self._fit_height()

    # Waiting for the grower

    def _build_waiting_page(self) -> QWidget:
        page = _Page(self)
        heading = QLabel(self.tr("Send this link to the grower"), page)
        font = heading.font()
        font.setPointSizeF(font.pointSizeF() * 1.2)
        font.setBold(True)
        heading.setFont(font)

        explain = QLabel(self.tr(
            "The grower opens it, signs in to Panorama and approves sharing with your partner "
            "application. The link is not a secret of yours, but it lets whoever opens it "
            "connect this Leaf user, so send it only to the grower."
        ), page)
        explain.setWordWrap(True)

        self.url_edit = QLineEdit(page)
        self.url_edit.setReadOnly(True)
        self.url_edit.setAccessibleName(self.tr("Grower's sign-in URL"))
        self.copy_button = QPushButton(self.tr("&Copy link"), page)
        self.copy_button.clicked.connect(self.copy_url)
        self.open_button = QPushButton(self.tr("&Open in browser"), page)
        self.open_button.clicked.connect(self.open_url)
        url_row = QHBoxLayout()
        url_row.addWidget(self.url_edit, 1)
        url_row.addWidget(self.copy_button)
        url_row.addWidget(self.open_button)

        line = QFrame(page)
        line.setFrameShape(QFrame.Shape.HLine)
        line.setFrameShadow(QFrame.Shadow.Sunken)

        self.state_label = ToneLabel(parent=page)
        state_font = self.state_label.font()
        state_font.setPointSizeF(state_font.pointSizeF() * 1.3)
        state_font.setBold(True)
        self.state_label.setFont(state_font)
        self.state_label.setAccessibleName(self.tr("One-click state"))

        self.state_detail = QLabel(page)
        self.state_detail.setWordWrap(True)
        self.state_detail.setTextFormat(Qt.TextFormat.PlainText)

        self.wait_progress = QProgressBar(page)
        self.wait_progress.setTextVisible(False)
        self.wait_progress.setAccessibleName(self.tr("Time left on the share page"))

        self.honesty = QLabel(self.tr(
            "Leaf does not report a declined share: if the grower declines or ignores the page, "
            "LeafDesk can only tell when the page expires."
        ), page)
        self.honesty.setWordWrap(True)
        self.honesty.setForegroundRole(QPalette.ColorRole.PlaceholderText)

        self.stop_button = QPushButton(self.tr("S&top waiting"), page)
        self.stop_button.setToolTip(self.tr(
            "Stop watching for the grower. The share page stays valid until it expires."))
        self.stop_button.clicked.connect(self.stop_waiting)
        self.retry_button = QPushButton(self.tr("Check a&gain"), page)
        self.retry_button.setVisible(False)
        self.retry_button.clicked.connect(self._start_waiting)
        self.again_button = QPushButton(self.tr("Start &again"), page)
        self.again_button.setToolTip(self.tr("Back to the form, to send the grower a new link."))
        self.again_button.setVisible(False)
        self.again_button.clicked.connect(self._back_to_form)
        action_row = QHBoxLayout()
        action_row.addStretch(1)
        action_row.addWidget(self.retry_button)
        action_row.addWidget(self.again_button)
        action_row.addWidget(self.stop_button)

        layout = QVBoxLayout(page)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(heading)
        layout.addWidget(explain)
        layout.addLayout(url_row)
        layout.addSpacing(8)
        layout.addWidget(line)
        layout.addWidget(self.state_label)
        layout.addWidget(self.state_detail)
        layout.addWidget(self.wait_progress)
        layout.addWidget(self.honesty)
        layout.addLayout(action_row)
        layout.addStretch(1)
        return page

    def _on_started(self, pending: Any) -> None:
        self.started.emit(pending)
        self._show_waiting(pending)

    def resume(self) -> None:
        """Show the link of the one-click still open for this user and wait for the grower."""
        if self.open_pending is not None and not self.tasks.busy:
            log.info("Resuming the wait for the grower of Leaf user %s", self.user.id)
            self._show_waiting(self.open_pending)

    def _show_waiting(self, pending: Any) -> None:
        self.pending = pending
        self.password.clear()
        self.url_edit.setText(pending.sign_in_url)
        self.url_edit.setCursorPosition(0)
        total = max(1, int((pending.expires_at - pending.started_at).total_seconds()))
        self.wait_progress.setRange(0, total)
        self.copy_button.setEnabled(True)
        self.open_button.setEnabled(True)
        self._show_page(1)
        self.start_button.setVisible(False)
        self.close_button.setText(self.tr("Close"))
        self.copy_button.setFocus(Qt.FocusReason.OtherFocusReason)
        self._start_waiting()

    def _start_waiting(self) -> None:
        self.errors.clear()
        self.retry_button.setVisible(False)
        self.again_button.setVisible(False)
        self.stop_button.setVisible(True)
        self.stop_button.setEnabled(True)
        self.wait_progress.setVisible(True)
        self._set_state(self.tr("Waiting for the grower…"), "warning")
        self._update_countdown()
        self._countdown.start()
        self._stop_waiting = asyncio.Event()
        self._wait_task = self.tasks.start(
            self.connect_service.wait_for_grower(
                self.user.id,
                poll_interval=self.poll_interval,
                max_interval=self.max_poll_interval,
                cancel=self._stop_waiting,
                user=self.user,
            ),
            self._on_wait_finished,
            self._on_wait_failed,
            action=self.tr("check whether the grower approved"),
        )

    def _update_countdown(self) -> None:
        if self.pending is None:
            return
        now = self._now()
        expires = as_utc(self.pending.expires_at)
        left = max(0, int((expires - now).total_seconds()))
        self.wait_progress.setValue(left)
        self.state_detail.setText(self.tr(
            "Started at {started}. The share page expires at {expires} ({minutes} min {seconds} s "
            "left). LeafDesk checks Leaf for the credential until then."
        ).format(started=_local_time(self.pending.started_at), expires=_local_time(expires),
                 minutes=left // 60, seconds=left % 60))

    def _set_state(self, text: str, tone: str) -> None:
        self.state_label.setText(text)
        self.state_label.set_tone(tone)

    def _on_wait_finished(self, result: Any) -> None:
        self._countdown.stop()
        self._wait_task = None
        name = outcome_name(result)
        self.stop_button.setVisible(False)
        self.wait_progress.setVisible(False)
        expires = _local_time(self.pending.expires_at if self.pending else None)
        if name == CONNECTED:
            self._set_state(self.tr("Connected"), "success")
            self.state_detail.setText(self.tr(
                "{name} approved sharing, and Leaf attached the Panorama credential."
            ).format(name=self.user.name))
            self.honesty.setVisible(False)
            self.copy_button.setEnabled(False)
            self.open_button.setEnabled(False)
            self.close_button.setText(self.tr("Close"))
            self.close_button.setFocus(Qt.FocusReason.OtherFocusReason)
            self.connected.emit(getattr(result, "credential", None))
        elif name == EXPIRED:
            self._set_state(self.tr("Expired"), "error")
            self.state_detail.setText(self.tr(
                "The share page expired at {expires} without a credential at Leaf. The grower "
                "may have declined or not opened it. Start again to send a new link."
            ).format(expires=expires))
            self.honesty.setVisible(False)
            # The share page no longer attaches anything, so its link must not be sent on.
            self.copy_button.setEnabled(False)
            self.open_button.setEnabled(False)
            self.again_button.setVisible(True)
        else:
            self._set_state(self.tr("Stopped waiting"), "warning")
            self.state_detail.setText(self.tr(
                "LeafDesk stopped watching. The share page stays valid until {expires}. If the "
                "grower approves it, the next refresh shows {name} as connected."
            ).format(expires=expires, name=self.user.name))
            self.retry_button.setVisible(True)
        self._fit_height()
        log.info("One-click for Leaf user %s ended: %s", self.user.id, name)
        self.result_name = name
        self.outcome.emit(name)

    def _on_wait_failed(self, error: LeafError) -> None:
        self._countdown.stop()
        self._wait_task = None
        self.stop_button.setVisible(False)
        self.wait_progress.setVisible(False)
        self.retry_button.setVisible(True)
        self._set_state(self.tr("Could not check"), "error")
        # The countdown text promised more checks, which have now stopped.
        self.state_detail.setText(self.tr(
            "LeafDesk stopped checking because of the error below. The share page stays valid "
            "until {expires}. Fix the problem, then choose Check again."
        ).format(expires=_local_time(self.pending.expires_at if self.pending else None)))
        about_user(error, self.user)
        self.errors.show_leaf_error(error)
        self._fit_height()

    def stop_waiting(self) -> None:
        """Stop polling Leaf. The share page itself stays valid until it expires.

        The connect service checks the stop event between polls and then returns a cancelled
        outcome, which `_on_wait_finished` shows.
        """
        if self._wait_task is None or self._wait_task.done() or self._stop_waiting is None:
            return
        log.info("Operator stopped waiting for the grower of Leaf user %s", self.user.id)
        self.stop_button.setEnabled(False)
        self._stop_waiting.set()

    def _back_to_form(self) -> None:
        # The one-click offered for resuming may be the one that just expired.
        self.open_pending = self._find_open_pending()
        if self.resume_note is not None and self.open_pending is None:
            self.resume_note.setVisible(False)
        self.pending = None
        self.result_name = None
        self.errors.clear()
        self.wait_progress.setVisible(True)
        self.honesty.setVisible(True)
        self.form.setEnabled(True)
        self.start_button.setVisible(True)
        self.start_button.setEnabled(True)
        self.start_button.setText(self.tr("&Start one-click"))
        self.close_button.setText(self.tr("Cancel"))
        self._show_page(0)
        self.password.setFocus(Qt.FocusReason.OtherFocusReason)

    # The link

    def copy_url(self) -> None:
        QGuiApplication.clipboard().setText(self.url_edit.text())
        self.copy_button.setText(self.tr("Copied"))
        # The button is the timer's context, so a dialog closed within the delay is left alone.
        QTimer.singleShot(1500, self.copy_button,
                          lambda: self.copy_button.setText(self.tr("&Copy link")))

    def open_url(self) -> None:
        if not QDesktopServices.openUrl(QUrl(self.url_edit.text())):
            self.errors.show_error(self.tr(
                "Could not open a web browser. Copy the link and open it by hand."))

    def keyPressEvent(self, event) -> None:  # noqa: N802 - Qt override
        # On the waiting page Ctrl+C copies the link even while a button has the focus.
        if self.pages.currentIndex() == 1 and event.matches(QKeySequence.StandardKey.Copy):
            self.copy_url()
            return
        super().keyPressEvent(event)

    def done(self, result: int) -> None:  # noqa: D102 - closing stops the polling
        self._countdown.stop()
        if self._wait_task is not None and not self._wait_task.done():
            self._wait_task.cancel()
            self._wait_task = None
            self.result_name = CANCELLED
            self.outcome.emit(CANCELLED)
        self.tasks.cancel_all()
        super().done(result)
