"""The confirmation asked before a Leaf user's Panorama credential is deleted.

The dialog sends no request itself. It emits `confirmed`, and the window runs the delete as a
background operation, so the dialog never waits on Leaf.
"""

from __future__ import annotations

import logging

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QDialog, QDialogButtonBox, QVBoxLayout, QWidget

from leafdesk.core.model import LeafUser, PanoramaCredential
from leafdesk.ui.forms_confirm import RemovalConfirmation

log = logging.getLogger(__name__)


class DeleteDialog(QDialog):
    """Dialog that confirms deleting a Panorama credential and emits `confirmed` on Delete."""

    confirmed = Signal()

    def __init__(
        self,
        parent: QWidget | None,
        user: LeafUser,
        credential: PanoramaCredential | None,
    ) -> None:
        """Build the confirmation for `user`'s credential. Show it with `open()`, not `exec()`."""
        super().__init__(parent)
        self.user = user
        self.credential = credential
        self.setWindowTitle(self.tr("Delete the Panorama credential of {name}").format(
            name=user.name))
        self.setMinimumWidth(460)

        self.confirmation = RemovalConfirmation(user, credential, replacing=False, parent=self)

        self.buttons = QDialogButtonBox(self)
        self.delete_button = self.buttons.addButton(
            self.tr("&Delete credential"), QDialogButtonBox.ButtonRole.DestructiveRole)
        self.cancel_button = self.buttons.addButton(QDialogButtonBox.StandardButton.Cancel)
        # Cancel is the default, so Enter alone never deletes anything, until the operator has
        # typed the user's name: then Enter confirms, as a typed confirmation usually does.
        self.delete_button.setAutoDefault(False)
        self.cancel_button.setAutoDefault(False)
        self._on_satisfied(self.confirmation.is_satisfied())
        self.confirmation.satisfiedChanged.connect(self._on_satisfied)
        self.delete_button.clicked.connect(self._confirm)
        self.cancel_button.clicked.connect(self.reject)

        layout = QVBoxLayout(self)
        layout.addWidget(self.confirmation)
        layout.addStretch(1)
        layout.addWidget(self.buttons)

        if self.confirmation.name_edit is not None:
            self.confirmation.name_edit.setFocus(Qt.FocusReason.OtherFocusReason)

    def _on_satisfied(self, satisfied: bool) -> None:
        self.delete_button.setEnabled(satisfied)
        typed = satisfied and self.confirmation.requires_name
        self.delete_button.setDefault(typed)
        self.cancel_button.setDefault(not typed)

    def _confirm(self) -> None:
        if not self.confirmation.is_satisfied():
            return
        log.info("Operator confirmed deleting the Panorama credential of Leaf user %s",
                 self.user.id)
        self.confirmed.emit()
        self.accept()
