"""The summary strip: one button per connection state with its count; a click filters the table."""

from __future__ import annotations

from collections import Counter

from PySide6.QtCore import QSize, Signal
from PySide6.QtWidgets import QButtonGroup, QHBoxLayout, QToolButton, QWidget, QSizePolicy
from PySide6.QtCore import Qt

from leafdesk.core.model import ConnectionState
from leafdesk.ui.presentation import STATE_ORDER, state_icon, state_label


class SummaryStrip(QWidget):
    """Counts per state as checkable buttons; "All" clears the filter.

    `state_selected` carries the chosen state, or None for All. A state with no users is
    hidden, except the one currently filtered on, so the strip stays short.
    """

    state_selected = Signal(object)  # ConnectionState | None

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._group = QButtonGroup(self)
        self._group.setExclusive(True)
        self._buttons: dict[ConnectionState | None, QToolButton] = {}
        self._counts: Counter[ConnectionState] = Counter()

        layout = QHBoxLayout(self)
        layout.setContentsMargins(6, 2, 6, 2)
        layout.setSpacing(4)
        for state in (None, *STATE_ORDER):
            button = QToolButton(self)
            button.setCheckable(True)
            button.setAutoRaise(True)
            button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
            button.setIconSize(QSize(16, 16))
            button.setSizePolicy(QSizePolicy.Policy.Fixed, QSizePolicy.Policy.Fixed)
            if state is not None:
                button.setIcon(state_icon(state))
            button.clicked.connect(lambda _checked=False, s=state: self._on_clicked(s))
            self._group.addButton(button)
            self._buttons[state] = button
            layout.addWidget(button)
        layout.addStretch(1)
        self._buttons[None].setChecked(True)
        self.set_counts(Counter())

    @property
    def selected_state(self) -> ConnectionState | None:
        for state, button in self._buttons.items():
            if button.isChecked():
                return state
        return None

    def button(self, state: ConnectionState | None) -> QToolButton:
        """Return the button of a state (None for All), for tests and keyboard focus."""
        return self._buttons[state]

    def set_counts(self, counts: Counter[ConnectionState]) -> None:
        """Show new counts; the checked filter stays."""
        self._counts = Counter(counts)
        total = sum(counts.values())
        all_button = self._buttons[None]
        all_button.setText(self.tr("All {count}").format(count=total))
        all_button.setAccessibleName(self.tr("Show all {count} users").format(count=total))
        for state in STATE_ORDER:
            count = counts.get(state, 0)
            button = self._buttons[state]
            label = state_label(state)
            button.setText(f"{label} {count}")
            button.setToolTip(self.tr("Show only users in the state “{state}”").format(state=label))
            button.setAccessibleName(
                self.tr("{state}: {count} users; show only these").format(state=label, count=count))
            button.setVisible(count > 0 or button.isChecked())

    def select(self, state: ConnectionState | None) -> None:
        """Check the button of `state` and announce it, as a click would."""
        self._buttons[state].setVisible(True)
        self._buttons[state].setChecked(True)
        self.state_selected.emit(state)

    def _on_clicked(self, state: ConnectionState | None) -> None:
        self.state_selected.emit(state)
        if state is None:
            self.set_counts(self._counts)  # hide buttons of empty states again
