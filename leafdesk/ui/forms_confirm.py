"""The warning and typed-name check shown before a Panorama credential is deleted or replaced.

Deleting a credential at Leaf also deletes its event log. On a PRODUCTION credential, or one whose
environment LeafDesk does not know, the operator must type the Leaf user's name. On STAGE a plain
confirmation is enough. The delete dialog and the manual form's Replace both use this widget.
"""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QLabel, QLineEdit, QVBoxLayout, QWidget

from leafdesk.core.model import Environment, LeafUser, PanoramaCredential
from leafdesk.ui.forms_fields import ToneLabel, literal_mnemonic_text


def needs_typed_name(credential: PanoramaCredential | None) -> bool:
    """Return whether removing this credential needs the user's name typed.

    Only a credential known to be STAGE is spared: an unknown environment is treated like
    PRODUCTION, because guessing wrong there loses a real grower's connection.
    """
    if credential is None or not credential.client_environment:
        return True
    return credential.client_environment.upper() != Environment.STAGE.value


class RemovalConfirmation(QWidget):
    """Warning text plus, where required, a line edit the operator types the user's name into."""

    satisfiedChanged = Signal(bool)

    def __init__(
        self,
        user: LeafUser,
        credential: PanoramaCredential | None,
        *,
        replacing: bool,
        parent: QWidget | None = None,
    ) -> None:
        """Build the warning for deleting (or, with `replacing`, replacing) `user`'s credential."""
        super().__init__(parent)
        self.user = user
        self.credential = credential
        self.requires_name = needs_typed_name(credential)

        environment = (credential.client_environment if credential else None) or self.tr("unknown")
        environment = environment.upper()
        if replacing:
            what = self.tr(
                "Saving replaces the Panorama credential that {name} has now ({environment}). "
                "LeafDesk deletes it at Leaf first, then creates the new one."
            )
        else:
            what = self.tr(
                "This deletes the Panorama credential of {name} ({environment}) at Leaf. "
                "Leaf stops gathering this grower's Panorama data until someone connects again."
            )
        warning = self.tr(
            "Leaf deletes the credential's event log with it. LeafDesk keeps the events it has "
            "already fetched in its local archive."
        )

        self.summary = QLabel(what.format(name=user.name, environment=environment), self)
        self.summary.setWordWrap(True)
        self.summary.setTextFormat(Qt.TextFormat.PlainText)

        self.warning = ToneLabel(warning, self, tone="warning", bold=True)
        self.warning.setWordWrap(True)
        self.warning.setTextFormat(Qt.TextFormat.PlainText)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.summary)
        layout.addWidget(self.warning)

        self.name_edit: QLineEdit | None = None
        if self.requires_name:
            if credential is not None and credential.client_environment:
                reason = self.tr("This is a PRODUCTION credential.")
            else:
                # An unknown environment gets the PRODUCTION check but must not be called one.
                reason = self.tr("LeafDesk does not know this credential's environment, so it "
                                 "asks as for PRODUCTION.")
            prompt = QLabel(
                reason + " " + self.tr("Type the user's name, {name}, to confirm:").format(
                    name=literal_mnemonic_text(user.name)),
                self,
            )
            prompt.setWordWrap(True)
            prompt.setTextFormat(Qt.TextFormat.PlainText)
            self.name_edit = QLineEdit(self)
            self.name_edit.setAccessibleName(self.tr("User's name, to confirm"))
            prompt.setBuddy(self.name_edit)
            self.name_edit.textChanged.connect(self._emit_satisfied)
            layout.addWidget(prompt)
            layout.addWidget(self.name_edit)

    def is_satisfied(self) -> bool:
        """Return whether the operator has typed the name, or no name is required."""
        if self.name_edit is None:
            return True
        # Exact after trimming: a near miss means the operator may be looking at another row.
        return self.name_edit.text().strip() == self.user.name.strip()

    def _emit_satisfied(self) -> None:
        self.satisfiedChanged.emit(self.is_satisfied())
