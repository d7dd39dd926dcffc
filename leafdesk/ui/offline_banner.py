"""The banner across the top of the window while Leaf cannot be reached."""

from __future__ import annotations

from datetime import datetime

from PySide6.QtCore import Signal
from PySide6.QtGui import QPalette
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

from leafdesk.ui.presentation import format_time


class OfflineBanner(QFrame):
    """Says since when Leaf is unreachable and how old the shown data is; offers "Try again"."""

    retry_requested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("offlineBanner")
        self.setFrameShape(QFrame.Shape.StyledPanel)
        # The palette's tooltip colours are a highlighted pair that both light and dark themes
        # keep readable, unlike a hard-coded yellow. Roles, not colours, so that a switch
        # between light and dark while the window is open is followed too.
        self.setAutoFillBackground(True)
        self.setBackgroundRole(QPalette.ColorRole.ToolTipBase)
        self.setForegroundRole(QPalette.ColorRole.ToolTipText)

        self.message = QLabel(self)
        self.message.setWordWrap(True)
        self.message.setForegroundRole(QPalette.ColorRole.ToolTipText)
        # The outcome of the last failed check, so "Try again" shows a result while Leaf is still
        # unreachable. A check that succeeds hides the whole banner.
        self.check_result = QLabel(self)
        self.check_result.setObjectName("offlineCheckResult")
        self.check_result.setWordWrap(True)
        self.check_result.setForegroundRole(QPalette.ColorRole.ToolTipText)
        self.check_result.hide()
        self.retry_button = QPushButton(self.tr("&Try again"), self)
        self.retry_button.setToolTip(self.tr("Check now whether Leaf can be reached"))
        self.retry_button.clicked.connect(self.retry_requested)

        texts = QVBoxLayout()
        texts.setContentsMargins(0, 0, 0, 0)
        texts.addWidget(self.message)
        texts.addWidget(self.check_result)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(10, 6, 10, 6)
        layout.addLayout(texts, 1)
        layout.addWidget(self.retry_button)
        self.hide()

    def show_offline(self, since: datetime | None, as_of: datetime | None,
                     retry_seconds: int) -> None:
        """Show the banner: offline since `since`, data as of `as_of`, next check in seconds."""
        text = self.tr("Leaf has been unreachable since {since}.").format(
            since=format_time(since) or self.tr("start-up"))
        if as_of is not None:
            text += " " + self.tr("Showing the offline cache as of {time}.").format(
                time=format_time(as_of))
        else:
            text += " " + self.tr("Showing the offline cache.")
        text += " " + self.tr(
            "Actions that need Leaf are disabled, and LeafDesk checks again every {seconds} s."
        ).format(
            seconds=retry_seconds)
        self.message.setText(text)
        self.show()

    def show_check_result(self, text: str) -> None:
        """Show the outcome of the last reachability check under the message."""
        self.check_result.setText(text)
        self.check_result.setVisible(bool(text))

    def set_checking(self, checking: bool) -> None:
        self.retry_button.setEnabled(not checking)
        self.retry_button.setText(self.tr("Checking…") if checking else self.tr("&Try again"))
