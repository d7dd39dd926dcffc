"""The summary strip: one button per connection state with its count; a click filters the table."""

from __future__ import annotations

from collections import Counter

from PySide6.QtCore import QPoint, QRect, QSize, Qt, Signal
from PySide6.QtWidgets import QButtonGroup, QLayout, QLayoutItem, QSizePolicy, QToolButton, QWidget

from leafdesk.core.model import ConnectionState
from leafdesk.ui.presentation import STATE_ORDER, state_icon, state_label


class FlowLayout(QLayout):
    """Lays widgets out left to right and starts a new line where the next one would not fit.

    Each button keeps its whole label: squeezed into one row, Qt would cut labels mid-word.
    Hidden widgets take no room.
    """

    def __init__(self, parent: QWidget | None = None, spacing: int = 4) -> None:
        super().__init__(parent)
        self._items: list[QLayoutItem] = []
        self.setSpacing(spacing)

    def addItem(self, item: QLayoutItem) -> None:  # noqa: N802 - Qt override
        self._items.append(item)

    def count(self) -> int:
        return len(self._items)

    def itemAt(self, index: int) -> QLayoutItem | None:  # noqa: N802 - Qt override
        return self._items[index] if 0 <= index < len(self._items) else None

    def takeAt(self, index: int) -> QLayoutItem | None:  # noqa: N802 - Qt override
        return self._items.pop(index) if 0 <= index < len(self._items) else None

    def expandingDirections(self) -> Qt.Orientation:  # noqa: N802 - Qt override
        return Qt.Orientation(0)

    def hasHeightForWidth(self) -> bool:  # noqa: N802 - Qt override
        return True

    def heightForWidth(self, width: int) -> int:  # noqa: N802 - Qt override
        return self._arrange(QRect(0, 0, width, 0), move=False)

    def setGeometry(self, rect: QRect) -> None:  # noqa: N802 - Qt override
        super().setGeometry(rect)
        self._arrange(rect, move=True)

    def sizeHint(self) -> QSize:  # noqa: N802 - Qt override
        # One row of every shown button.
        visible = [item.sizeHint() for item in self._items if not item.isEmpty()]
        width = sum(size.width() for size in visible) + self.spacing() * max(0, len(visible) - 1)
        height = max((size.height() for size in visible), default=0)
        margins = self.contentsMargins()
        return QSize(width + margins.left() + margins.right(),
                     height + margins.top() + margins.bottom())

    def minimumSize(self) -> QSize:  # noqa: N802 - Qt override
        size = QSize()
        for item in self._items:
            if not item.isEmpty():
                size = size.expandedTo(item.minimumSize())
        margins = self.contentsMargins()
        return size + QSize(margins.left() + margins.right(), margins.top() + margins.bottom())

    def _arrange(self, rect: QRect, *, move: bool) -> int:
        margins = self.contentsMargins()
        area = rect.adjusted(margins.left(), margins.top(), -margins.right(), -margins.bottom())
        x, y, line_height = area.x(), area.y(), 0
        for item in self._items:
            if item.isEmpty():
                continue
            hint = item.sizeHint()
            if x > area.x() and x + hint.width() > area.right() + 1:
                x = area.x()
                y += line_height + self.spacing()
                line_height = 0
            if move:
                item.setGeometry(QRect(QPoint(x, y), hint))
            x += hint.width() + self.spacing()
            line_height = max(line_height, hint.height())
        return y + line_height - rect.y() + margins.bottom()


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

        layout = FlowLayout(self)
        layout.setContentsMargins(6, 2, 6, 2)
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
        policy = QSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Preferred)
        policy.setHeightForWidth(True)
        self.setSizePolicy(policy)
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
            button.setToolTip(
                self.tr("Show only users in the state “{state}”").format(state=label))
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
