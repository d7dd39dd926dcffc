"""The users table: a Qt model over `UserRow`s and the proxy that searches and filters it.

Built for 50,000 rows. Display strings are made when a row is first shown. The search text of
every row is built once and reused for each keystroke. Sorting happens in Python on the source
model (one key per row) instead of through Qt's per-comparison `lessThan` calls.
"""

from __future__ import annotations

import enum
import logging
from collections import Counter
from collections.abc import Iterable, Sequence
from datetime import datetime, timezone
from typing import Any

from PySide6.QtCore import (
    QAbstractTableModel,
    QCoreApplication,
    QModelIndex,
    QSortFilterProxyModel,
    Qt,
)

from leafdesk.core.model import ConnectionState, UserRow
from leafdesk.ui.presentation import (
    STATE_ORDER,
    actor_label,
    format_time,
    state_colour,
    state_icon,
    state_text,
)

log = logging.getLogger(__name__)

ROW_ROLE = Qt.ItemDataRole.UserRole + 1  # the whole UserRow
USER_ID_ROLE = Qt.ItemDataRole.UserRole + 2  # the Leaf user id

_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


class Column(enum.IntEnum):
    """The users table's columns, in their default order."""

    NAME = 0
    EMAIL = 1
    EXTERNAL_ID = 2
    STATE = 3
    ACTOR = 4
    ORGANIZATION = 5
    ENVIRONMENT = 6
    CONNECTED_SINCE = 7
    LAST_CHECKED = 8
    USER_ID = 9
    NEXT_STEP = 10


def column_title(column: Column) -> str:
    """Return a column's translated header."""
    titles = {
        Column.NAME: QCoreApplication.translate("UsersModel", "Name"),
        Column.EMAIL: QCoreApplication.translate("UsersModel", "E-mail"),
        Column.EXTERNAL_ID: QCoreApplication.translate("UsersModel", "External id"),
        Column.STATE: QCoreApplication.translate("UsersModel", "State"),
        Column.ACTOR: QCoreApplication.translate("UsersModel", "Who must act"),
        Column.ORGANIZATION: QCoreApplication.translate("UsersModel", "Organization code"),
        Column.ENVIRONMENT: QCoreApplication.translate("UsersModel", "Environment"),
        Column.CONNECTED_SINCE: QCoreApplication.translate("UsersModel", "Connected since"),
        Column.LAST_CHECKED: QCoreApplication.translate("UsersModel", "Last checked"),
        Column.USER_ID: QCoreApplication.translate("UsersModel", "Leaf user id"),
        Column.NEXT_STEP: QCoreApplication.translate("UsersModel", "Next step"),
    }
    return titles[column]


def _timestamp(moment: datetime | None) -> float:
    if moment is None:
        return float("-inf")
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return (moment - _EPOCH).total_seconds()


_STATE_RANK = {state: rank for rank, state in enumerate(STATE_ORDER)}


class UsersModel(QAbstractTableModel):
    """Leaf users with their Panorama state, one row per user, in the order last sorted."""

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self._rows: list[UserRow] = []
        self._display: list[tuple[str, ...] | None] = []
        self._haystack: list[str | None] = []
        self._index_by_id: dict[str, int] = {}
        self._sort: tuple[int, Qt.SortOrder] | None = None
        self._prepared_up_to = 0
        self._counts: Counter[ConnectionState] = Counter()
        self._counts_version = -1
        # Bumped on every change of rows, so the proxy can tell that its cached search is stale.
        self.version = 0

    # --- reading -------------------------------------------------------------------------

    def rowCount(self, parent: QModelIndex = QModelIndex()) -> int:  # noqa: N802 - Qt's name
        return 0 if parent.isValid() else len(self._rows)

    def columnCount(self, parent: QModelIndex = QModelIndex()) -> int:  # noqa: N802
        return 0 if parent.isValid() else len(Column)

    def headerData(self, section: int, orientation: Qt.Orientation,  # noqa: N802
                   role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return column_title(Column(section))
        return None

    def data(self, index: QModelIndex, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        row_number, column = index.row(), index.column()

        if role == Qt.ItemDataRole.DisplayRole:
            return self.display_row(row_number)[column]

        row = self._rows[row_number]
        if role == ROW_ROLE:
            return row
        if role == USER_ID_ROLE:
            return row.user.id
        if column == Column.STATE:
            if role == Qt.ItemDataRole.DecorationRole:
                return state_icon(row.state.state)
            if role == Qt.ItemDataRole.ForegroundRole:
                return state_colour(row.state.state)
            if role == Qt.ItemDataRole.ToolTipRole:
                return f"{row.state.summary}\n{row.state.next_step}"
        if column == Column.NEXT_STEP and role == Qt.ItemDataRole.ToolTipRole:
            return row.state.next_step  # the column is narrower than most steps
        if role == Qt.ItemDataRole.ToolTipRole and column == Column.LAST_CHECKED and row.from_cache:
            return self.tr("As of this time, from the offline cache")
        return None

    def display_row(self, row_number: int) -> tuple[str, ...]:
        """Return the display strings of one row, making them on first use."""
        shown = self._display[row_number]
        if shown is None:
            shown = self._make_display(self._rows[row_number])
            self._display[row_number] = shown
        return shown

    @staticmethod
    def _make_display(row: UserRow) -> tuple[str, ...]:
        user, state = row.user, row.state
        return (
            user.name or "",
            user.email or "",
            user.external_id or "",
            state_text(state),
            actor_label(state.actor),
            row.organization_code or "",
            row.client_environment or "",
            format_time(row.connected_since),
            format_time(state.checked_at),
            user.id,
            state.next_step or "",
        )

    def haystack(self, row_number: int) -> str:
        """Return the lower-case text of every column of a row, the thing search matches."""
        text = self._haystack[row_number]
        if text is None:
            text = "\x1f".join(self.display_row(row_number)).casefold()
            self._haystack[row_number] = text
        return text

    def haystacks(self) -> list[str]:
        """Return the search text of every row, building the missing ones."""
        if any(text is None for text in self._haystack):
            for row_number in range(len(self._rows)):
                self.haystack(row_number)
        return self._haystack  # type: ignore[return-value]

    def prepare_search(self, max_rows: int = 2000) -> bool:
        """Build the search text of up to `max_rows` more rows; return True once all are built.

        The window calls this from an idle timer after a load, so the first keystroke of a
        search does not pay for building 50,000 rows at once.
        """
        haystack = self._haystack
        start = self._prepared_up_to
        end = len(haystack)
        built = 0
        position = start
        while position < end and built < max_rows:
            if haystack[position] is None:
                self.haystack(position)
                built += 1
            position += 1
        self._prepared_up_to = position
        return position >= end

    def rows(self) -> list[UserRow]:
        """Return the rows in model order (a copy of the list, the rows themselves are frozen)."""
        return list(self._rows)

    def row_at(self, row_number: int) -> UserRow:
        return self._rows[row_number]

    def row_number_of(self, user_id: str) -> int | None:
        return self._index_by_id.get(user_id)

    def row_for(self, user_id: str) -> UserRow | None:
        row_number = self._index_by_id.get(user_id)
        return None if row_number is None else self._rows[row_number]

    def counts(self) -> Counter[ConnectionState]:
        """Return how many users are in each connection state."""
        if self._counts_version != self.version:
            self._counts = Counter(row.state.state for row in self._rows)
            self._counts_version = self.version
        return Counter(self._counts)

    # --- changing ------------------------------------------------------------------------

    def set_rows(self, rows: Sequence[UserRow]) -> None:
        """Replace every row (a full load or a full refresh)."""
        self.beginResetModel()
        self._rows = list(rows)
        self._clear_derived()
        if self._sort is not None:
            self._sort_rows(*self._sort)
        self._reindex()
        self.version += 1
        self.endResetModel()

    def update_rows(self, rows: Iterable[UserRow]) -> None:
        """Replace the rows of these users in place, and append users not shown yet."""
        new_rows: list[UserRow] = []
        changed: list[int] = []
        for row in rows:
            row_number = self._index_by_id.get(row.user.id)
            if row_number is None:
                new_rows.append(row)
                continue
            self._rows[row_number] = row
            self._display[row_number] = None
            self._haystack[row_number] = None
            self._prepared_up_to = min(self._prepared_up_to, row_number)
            changed.append(row_number)
        self.version += 1

        last_column = len(Column) - 1
        for row_number in changed:
            self.dataChanged.emit(self.index(row_number, 0), self.index(row_number, last_column))

        if new_rows:
            first = len(self._rows)
            self.beginInsertRows(QModelIndex(), first, first + len(new_rows) - 1)
            self._rows.extend(new_rows)
            self._display.extend([None] * len(new_rows))
            self._haystack.extend([None] * len(new_rows))
            self._reindex()
            self.version += 1
            self.endInsertRows()

    def sort(self, column: int, order: Qt.SortOrder = Qt.SortOrder.AscendingOrder) -> None:
        """Sort the rows by one column, keeping selections and the current row."""
        if column < 0 or column >= len(Column):
            return
        self.layoutAboutToBeChanged.emit()
        before = self.persistentIndexList()
        ids = [self._rows[index.row()].user.id for index in before]

        self._sort = (column, order)
        self._sort_rows(column, order)
        self._prepared_up_to = 0
        self._reindex()
        self.version += 1

        after = [self.index(self._index_by_id[user_id], index.column())
                 for user_id, index in zip(ids, before, strict=True)]
        self.changePersistentIndexList(before, after)
        self.layoutChanged.emit()

    def _sort_rows(self, column: int, order: Qt.SortOrder) -> None:
        key = self._sort_key(Column(column))
        keys = [key(row) for row in self._rows]
        positions = sorted(range(len(keys)), key=keys.__getitem__,
                           reverse=order == Qt.SortOrder.DescendingOrder)
        self._rows = [self._rows[position] for position in positions]
        # Right after a load nothing was shown yet, so there is nothing derived to carry along.
        if any(shown is not None for shown in self._display):
            self._display = [self._display[position] for position in positions]
            self._haystack = [self._haystack[position] for position in positions]

    def _sort_key(self, column: Column):
        def text(value: str | None) -> str:
            return (value or "").casefold()

        keys = {
            Column.NAME: lambda row: text(row.user.name),
            Column.EMAIL: lambda row: text(row.user.email),
            Column.EXTERNAL_ID: lambda row: text(row.user.external_id),
            Column.STATE: lambda row: (_STATE_RANK.get(row.state.state, 99),
                                       text(row.state.raw_status)),
            Column.ACTOR: lambda row: text(actor_label(row.state.actor)),
            Column.ORGANIZATION: lambda row: text(row.organization_code),
            Column.ENVIRONMENT: lambda row: text(row.client_environment),
            Column.CONNECTED_SINCE: lambda row: _timestamp(row.connected_since),
            Column.LAST_CHECKED: lambda row: _timestamp(row.state.checked_at),
            Column.USER_ID: lambda row: row.user.id,
            Column.NEXT_STEP: lambda row: text(row.state.next_step),
        }
        return keys[column]

    def _clear_derived(self) -> None:
        self._display = [None] * len(self._rows)
        self._haystack = [None] * len(self._rows)
        self._prepared_up_to = 0

    def _reindex(self) -> None:
        self._index_by_id = {row.user.id: number for number, row in enumerate(self._rows)}


class UsersFilterProxy(QSortFilterProxyModel):
    """Free-text search across every column, and a filter to one connection state.

    Sorting is passed to the source model (see the module docstring), so this proxy only
    filters and keeps the source's order.
    """

    def __init__(self, source: UsersModel, parent=None) -> None:
        super().__init__(parent)
        self._source = source
        self._needle = ""
        self._state: ConnectionState | None = None
        self._accepted: list[bool] | None = None
        self._accepted_version = -1
        self.setSourceModel(source)

    @property
    def search_text(self) -> str:
        return self._needle

    @property
    def state_filter(self) -> ConnectionState | None:
        return self._state

    def set_search(self, text: str) -> None:
        """Show only rows whose columns contain `text` (ignoring case); "" shows all."""
        needle = text.strip().casefold()
        if needle == self._needle:
            return
        self._begin_change()
        self._needle = needle
        self._accepted = None
        self._end_change()

    def set_state_filter(self, state: ConnectionState | None) -> None:
        """Show only rows in `state`; None shows every state."""
        if state == self._state:
            return
        self._begin_change()
        self._state = state
        self._accepted = None
        self._end_change()

    def sort(self, column: int, order: Qt.SortOrder = Qt.SortOrder.AscendingOrder) -> None:
        self._source.sort(column, order)

    def filterAcceptsRow(self, source_row: int, source_parent: QModelIndex) -> bool:  # noqa: N802
        # Called once per row for every keystroke, so it only reads a list built in one pass.
        accepted = self._accepted
        if accepted is None or self._accepted_version != self._source.version:
            accepted = self._rebuild_accepted()
        if source_row < len(accepted):
            return accepted[source_row]
        return self._accepts(source_row)

    def _accepts(self, source_row: int) -> bool:
        if self._state is not None and self._source.row_at(source_row).state.state != self._state:
            return False
        return not self._needle or self._needle in self._source.haystack(source_row)

    def _rebuild_accepted(self) -> list[bool]:
        needle, state = self._needle, self._state
        count = self._source.rowCount()
        if needle:
            accepted = [needle in text for text in self._source.haystacks()]
        else:
            accepted = [True] * count
        if state is not None:
            rows = self._source.rows()
            accepted = [keep and row.state.state == state for keep, row in zip(accepted, rows)]
        self._accepted = accepted
        self._accepted_version = self._source.version
        return accepted

    def _begin_change(self) -> None:
        # Qt 6.9 added begin/endFilterChange and deprecated invalidateFilter.
        begin = getattr(self, "beginFilterChange", None)
        if begin is not None:
            begin()

    def _end_change(self) -> None:
        end = getattr(self, "endFilterChange", None)
        if end is not None:
            end()
        else:
            self.invalidateFilter()


def has_credential(row: UserRow) -> bool:
    """Return True when Leaf has a Panorama credential for the row's user, as far as known.

    The embedded credential summary may be missing (Leaf can return the id only, or not at
    all), so a state read from a credential's status counts too.
    """
    if row.user.panorama is not None or row.state.raw_status is not None:
        return True
    return row.state.state not in (ConnectionState.NOT_CONNECTED,
                                   ConnectionState.WAITING_FOR_GROWER)
