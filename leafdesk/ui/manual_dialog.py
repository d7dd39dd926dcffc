"""The manual form: attach a Panorama credential to a Leaf user by typing its six fields.

Input is checked by `core.validation` before anything is sent, each problem shown under its field.
Where the user already has a credential the form offers Replace (delete, then create) behind the
same warning, and on PRODUCTION the same typed-name check, as the delete confirmation.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFrame,
    QLabel,
    QLineEdit,
    QProgressBar,
    QVBoxLayout,
    QWidget,
)

from leafdesk.core.errors import LeafError, ValidationError
from leafdesk.core.events import EventDescription, describe_event
from leafdesk.core.model import ConnectionState, LeafUser, PanoramaCredential
from leafdesk.core.states import derive_state, refine_state, state_label
from leafdesk.core.validation import validate_manual
from leafdesk.ui.forms_confirm import RemovalConfirmation
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


class ManualDialog(QDialog):
    """Form for a manual Panorama credential, emitting `saved(PanoramaCredential)` once saved.

    Leaf accepts a manual credential before it has tried it with Panorama, and changes its status
    in the background when Panorama rejects it. So after a save the form stays open, reads the
    credential again after each of `RECHECK_DELAYS` and emits `checked(PanoramaCredential | None)`
    with what it found, stopping early once the status is not OK.
    """

    saved = Signal(object)
    checked = Signal(object)

    # Seconds to wait before each re-read of a saved credential. NOTE: Leaf does not publish how
    # long its background check takes; the sandbox decides within a few seconds.
    RECHECK_DELAYS: tuple[float, ...] = (3.0, 5.0, 10.0)

    def __init__(
        self,
        parent: QWidget | None,
        connect_service: Any,
        user: LeafUser,
        existing: PanoramaCredential | None,
        *,
        presets: list[Any] | None = None,
        secrets: Any | None = None,
    ) -> None:
        """Build the form for `user`. An `existing` credential turns Create into Replace."""
        super().__init__(parent)
        self.connect_service = connect_service
        self.user = user
        self.existing = existing
        self.secrets = secrets
        self.tasks = FormTasks()
        # The status checks after a save run apart from `tasks`, so Close is never blocked by them.
        self.check_tasks = FormTasks()
        self.saved_credential: PanoramaCredential | None = None
        # True from a save until a re-read returns a status other than OK or the last re-read
        # ends. Until then an OK status only means Leaf has not tried the credential yet.
        self.verdict_pending = False
        # The newest event of the saved credential, read when its status is not OK.
        self.latest_event: EventDescription | None = None
        self.setWindowTitle(self.tr("Enter Panorama credentials for {name}").format(name=user.name))
        self.setMinimumWidth(560)

        self.whose = QLabel(self.tr(
            "Whose login is this? Client id, username and password are your company's Panorama "
            "partner login, the same for every grower, not the grower's own login. The "
            "organization code and the refresh token belong to this grower's operation, which "
            "must already be authorized to share data with your partner application."
        ), self)
        self.whose.setWordWrap(True)
        self.whose.setTextFormat(Qt.TextFormat.PlainText)
        self.whose.setFrameShape(QFrame.Shape.StyledPanel)
        self.whose.setMargin(8)

        self.preset_picker = PresetPicker(presets or [], self)
        self.preset_picker.setAccessibleName(self.tr("Partner app preset"))
        self.preset_picker.currentIndexChanged.connect(self._apply_preset)

        self.form = FieldForm(self)
        self.form.add_field("preset", self.tr("Pre&set:"), self.preset_picker, self.tr(
            "Fills the partner login from a preset saved in Settings."))
        self.client_id = QLineEdit(self)
        self.form.add_field("client_id", self.tr("&Client id:"), self.client_id, self.tr(
            "Your partner application's client id, from the Panorama Partner Portal."))
        self.username = QLineEdit(self)
        self.form.add_field("username", self.tr("Partner &username:"), self.username, self.tr(
            "The username of your company's Panorama partner account."))
        self.password = SecretEdit(self.tr("Partner password"), self)
        self.form.add_field("password", self.tr("Partner &password:"), self.password, self.tr(
            "The password of that partner account. LeafDesk sends it to Leaf and does not keep "
            "it."))
        self.organization_code = QLineEdit(self)
        self.form.add_field(
            "organization_code", self.tr("&Organization code:"), self.organization_code,
            self.tr("The grower's organization code in Panorama."))
        self.refresh_token = SecretEdit(self.tr("Refresh token"), self)
        self.form.add_field("refresh_token", self.tr("Refresh &token:"), self.refresh_token,
                            self.tr("A Cognito refresh token for this grower, from Panorama's "
                                    "AWS Cognito sign-in. Leaf uses it to get access tokens."))
        self.environment = environment_combo(self)
        self.form.add_field("client_environment", self.tr("&Environment:"), self.environment,
                            self.tr("Where the partner login lives. A credential made for STAGE "
                                    "does not work in PRODUCTION, nor the other way round."))

        self.client_id.textChanged.connect(self._check_environment)
        self.environment.currentIndexChanged.connect(self._check_environment)

        self.confirmation: RemovalConfirmation | None = None
        if existing is not None:
            self.confirmation = RemovalConfirmation(user, existing, replacing=True, parent=self)
            if existing.client_environment:
                index = self.environment.findData(existing.client_environment.upper())
                if index >= 0:
                    self.environment.setCurrentIndex(index)
            self.client_id.setText(existing.client_id or "")
            self.username.setText(existing.username or "")
            self.organization_code.setText(existing.organization_code or "")

        self.errors = ErrorPanel(self)
        self.result = ToneLabel(parent=self)
        self.result.setWordWrap(True)
        self.result.setTextFormat(Qt.TextFormat.PlainText)
        self.result.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.result.setVisible(False)
        self.progress = QProgressBar(self)
        self.progress.setRange(0, 0)
        self.progress.setTextVisible(False)
        self.progress.setVisible(False)
        self.progress.setAccessibleName(self.tr("Saving the credential"))

        self.buttons = QDialogButtonBox(self)
        label = self.tr("&Replace credential") if existing else self.tr("Cre&ate credential")
        if existing is not None:
            self.submit_button = self.buttons.addButton(
                label, QDialogButtonBox.ButtonRole.DestructiveRole)
        else:
            self.submit_button = self.buttons.addButton(
                label, QDialogButtonBox.ButtonRole.AcceptRole)
        self.cancel_button = self.buttons.addButton(QDialogButtonBox.StandardButton.Cancel)
        self.submit_button.setAutoDefault(False)
        self.cancel_button.setAutoDefault(False)
        self.submit_button.clicked.connect(self.submit)
        self.cancel_button.clicked.connect(self.reject)
        self._update_submit()
        if self.confirmation is not None:
            self.confirmation.satisfiedChanged.connect(self._update_submit)

        layout = QVBoxLayout(self)
        layout.addWidget(self.whose)
        layout.addWidget(self.form)
        if self.confirmation is not None:
            layout.addWidget(self.confirmation)
        layout.addStretch(1)
        layout.addWidget(self.errors)
        layout.addWidget(self.result)
        layout.addWidget(self.progress)
        layout.addWidget(self.buttons)
        self.resize(640, self.sizeHint().height())
        fit_height(self, 640)

    def _apply_preset(self) -> None:
        preset = self.preset_picker.current_preset()
        if preset is None:
            return
        self.client_id.setText(preset.client_id)
        self.username.setText(preset.partner_username)
        self.password.setText(preset_password(self.secrets, preset))
        index = self.environment.findData(str(preset.client_environment).upper())
        if index >= 0:
            self.environment.setCurrentIndex(index)

    def _check_environment(self) -> None:
        self.form.set_warning("client_environment", environment_warning(
            self.preset_picker.presets, self.client_id.text(), self.environment.currentData()))
        fit_height(self, 640)

    def _update_submit(self) -> None:
        satisfied = self.confirmation is None or self.confirmation.is_satisfied()
        self.submit_button.setEnabled(satisfied and not self.tasks.busy)
        # Until a required name is typed, Enter cancels, as in the delete confirmation. Once it
        # is typed, Enter saves.
        self.submit_button.setDefault(satisfied)
        self.cancel_button.setDefault(not satisfied)

    def checked_input(self):
        """Return the form's `ManualCredentialInput`, or show each problem under its field."""
        self.errors.clear()
        try:
            data = validate_manual(
                client_id=self.client_id.text(),
                username=self.username.text(),
                password=self.password.text(),
                organization_code=self.organization_code.text(),
                refresh_token=self.refresh_token.text(),
                client_environment=self.environment.currentData(),
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
        fit_height(self, 640)

    def submit(self) -> None:
        """Check the fields and, when they pass, create or replace the credential at Leaf."""
        if self.tasks.busy or self.saved_credential is not None:
            return
        if self.confirmation is not None and not self.confirmation.is_satisfied():
            return
        data = self.checked_input()
        if data is None:
            return

        if self.existing is not None:
            log.info("Replacing the Panorama credential of Leaf user %s", self.user.id)
            coro = self.connect_service.replace(self.user, data)
            action = self.tr("replace the Panorama credential")
        else:
            log.info("Creating a Panorama credential for Leaf user %s", self.user.id)
            coro = self.connect_service.create_manual(self.user, data)
            action = self.tr("create the Panorama credential")
        self._set_busy(True)
        self.tasks.start(coro, self._on_saved, self._on_failed, action=action)

    def _set_busy(self, busy: bool) -> None:
        self.progress.setVisible(busy)
        self.form.setEnabled(not busy)
        if self.confirmation is not None:
            self.confirmation.setEnabled(not busy)
        self.submit_button.setEnabled(not busy)
        self.cancel_button.setEnabled(not busy)
        if not busy:
            self._update_submit()

    def _on_saved(self, result: Any) -> None:
        # `replace` returns the new credential inside a ReplaceResult; `create_manual` returns it.
        credential = getattr(result, "credential", result)
        self._set_busy(False)
        self.password.clear()
        self.refresh_token.clear()
        self.saved_credential = credential
        self.verdict_pending = True
        self.saved.emit(credential)
        self._show_accepted()
        self.check_tasks.start(self._watch_status(), self._on_watch_ended, self._on_check_failed,
                               action=self.tr("read the new credential's status"))

    def _show_accepted(self) -> None:
        # The form is done with: what is left is the status, and Close.
        self.form.setEnabled(False)
        if self.confirmation is not None:
            self.confirmation.setVisible(False)
        self.errors.clear()
        self.submit_button.setVisible(False)
        self.cancel_button.setText(self.tr("&Close"))
        self.cancel_button.setDefault(True)
        self.cancel_button.setFocus(Qt.FocusReason.OtherFocusReason)
        self.result.set_tone("")
        self.result.setText(self.tr(
            "Leaf accepted the credential and checks it with Panorama in the background. "
            "LeafDesk reads its status again in a few seconds."))
        self.result.setVisible(True)
        self.progress.setVisible(True)
        fit_height(self, 640)

    async def _watch_status(self) -> PanoramaCredential | None:
        """Read the credential after each delay; stop early once Panorama's verdict is not OK."""
        credential = self.saved_credential
        for number, delay in enumerate(self.RECHECK_DELAYS, start=1):
            await asyncio.sleep(delay)
            credential = await self.connect_service.client.get_panorama_credential(self.user.id)
            connected = derive_state(credential.status if credential else None,
                                     has_credential=credential is not None).state \
                is ConnectionState.CONNECTED
            self.verdict_pending = connected and number < len(self.RECHECK_DELAYS)
            if credential is not None and not connected:
                self.latest_event = await self._read_latest_event()
            self._show_status(credential, final=False)
            self.checked.emit(credential)
            if not connected:
                break
        self.verdict_pending = False
        return credential

    async def _read_latest_event(self) -> EventDescription | None:
        # The events tell a rejected partner login apart from a grower's revoked sharing.
        try:
            events = await self.connect_service.client.list_panorama_events(self.user.id)
        except LeafError as error:
            log.info("Could not read the events of Leaf user %s: %s", self.user.id,
                     error.sentence())
            return None
        dated = [event for event in events if event.created_date is not None]
        if not dated:
            return None
        return describe_event(max(dated, key=lambda event: event.created_date))

    def _show_status(self, credential: PanoramaCredential | None, *, final: bool) -> None:
        time = datetime.now().strftime("%H:%M:%S")
        if credential is None:
            self.result.set_tone("error")
            # rstrip: a name such as "Grain Co." already ends the sentence.
            text = self.tr("Checked at {time}: Leaf no longer has a Panorama credential for "
                           "{name}.").format(time=time, name=self.user.name.rstrip("."))
        elif self.verdict_pending:
            # Leaf returns OK for a create before Panorama has seen the credential, so an OK
            # read this early says nothing yet about the partner login.
            self.result.set_tone("")
            text = self.tr("Checked at {time}: Leaf accepted the credential and is checking it "
                           "with Panorama…").format(time=time)
        else:
            view = refine_state(derive_state(credential.status, has_credential=True),
                                self.latest_event)
            tone = {ConnectionState.CONNECTED: "success",
                    ConnectionState.NEEDS_REAUTHORIZATION: "error",
                    ConnectionState.MISSING_PERMISSION: "error"}.get(view.state, "warning")
            self.result.set_tone(tone)
            text = self.tr("Checked at {time}: {state}. {summary} {next_step}").format(
                time=time, state=state_label(view), summary=view.summary,
                next_step=view.next_step)
        if final:
            text += " " + self.tr("LeafDesk has stopped checking. Re-check in the window reads "
                                  "the status again.")
        else:
            text += " " + self.tr("Checking again shortly…")
        self.result.setText(text)
        fit_height(self, 640)

    def _on_watch_ended(self, credential: PanoramaCredential | None) -> None:
        self.progress.setVisible(False)
        self._show_status(credential, final=True)

    def _on_check_failed(self, error: LeafError) -> None:
        self.verdict_pending = False
        self.progress.setVisible(False)
        self.result.set_tone("warning")
        self.result.setText(self.tr(
            "Leaf accepted the credential, but LeafDesk could not read its status afterwards. "
            "Re-check in the window reads it again."))
        self.errors.show_leaf_error(about_user(error, self.user))
        fit_height(self, 640)

    def _on_failed(self, error: LeafError) -> None:
        self._set_busy(False)
        about_user(error, self.user)
        if isinstance(error, ValidationError) and error.field_errors:
            self._show_validation(error)
            if self.errors.isHidden():
                self.errors.show_leaf_error(error)
            return
        self.errors.show_leaf_error(error)
        fit_height(self, 640)

    def reject(self) -> None:
        # A replace cut short between its delete and its create would leave the grower with no
        # credential at all, so Cancel and Escape do nothing until Leaf has responded.
        if self.tasks.busy:
            return
        super().reject()

    def done(self, result: int) -> None:  # noqa: D102 - closing cancels a save still in flight
        # NOTE: a caller that ends the form with done() during a save cancels it, and a replace
        # cancelled between its delete and its create leaves the user with no credential.
        self.tasks.cancel_all()
        self.check_tasks.cancel_all()
        super().done(result)
