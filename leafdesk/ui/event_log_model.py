"""The event log's table model and filter proxy, and event bodies pretty-printed, secrets masked.

`EventLogModel` contains one Leaf user's credential events, each decoded once by
`core.events.describe_event`. `EventFilterProxy` filters them by outcome, free text and a date
range. Rows from the local archive (older than Leaf keeps, or no longer at Leaf) are marked.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from typing import Any

from PySide6.QtCore import (
    QAbstractTableModel,
    QCoreApplication,
    QModelIndex,
    QPersistentModelIndex,
    QSortFilterProxyModel,
    Qt,
)
from PySide6.QtGui import QColor, QFont, QGuiApplication

from leafdesk.core.events import describe_event, redact_secrets
from leafdesk.core.model import CredentialEvent
from leafdesk.ui.forms_fields import error_colour, success_colour

# Leaf keeps a credential's events for 30 days and deletes older ones.
LEAF_RETENTION = timedelta(days=30)

ROW_ROLE = Qt.ItemDataRole.UserRole + 1
SORT_ROLE = Qt.ItemDataRole.UserRole + 2


def _tr(text: str) -> str:
    return QCoreApplication.translate("EventLogModel", text)


def pretty(value: Any, raw: str | None) -> str:
    """Return decoded JSON indented, or the raw text, with secrets masked ('' for neither).

    Panorama's token responses carry live tokens, so everything passes `redact_secrets` first.
    """
    if value is None and not raw:
        return ""
    if isinstance(value, (dict, list)):
        return json.dumps(redact_secrets(value), indent=2, ensure_ascii=False, sort_keys=False)
    text = value if isinstance(value, str) else (raw or str(value))
    # A string that still parses as JSON is shown decoded too (Leaf nests JSON in strings).
    try:
        decoded = json.loads(text)
    except (TypeError, ValueError):
        return redact_secrets(text)
    if isinstance(decoded, (dict, list)):
        return json.dumps(redact_secrets(decoded), indent=2, ensure_ascii=False)
    return redact_secrets(text)


def as_utc(moment: datetime | None) -> datetime | None:
    if moment is None:
        return None
    return moment.replace(tzinfo=timezone.utc) if moment.tzinfo is None else moment


def local_text(moment: datetime | None) -> str:
    """Return a time as local `YYYY-MM-DD HH:MM:SS`, the form the table shows and sorts by."""
    moment = as_utc(moment)
    return moment.astimezone().strftime("%Y-%m-%d %H:%M:%S") if moment else _tr("unknown time")


@dataclass(frozen=True, slots=True)
class EventRow:
    """One event with its plain-words description and whether only the local archive has it."""

    event: CredentialEvent
    succeeded: bool
    title: str
    detail: str
    error_type: str | None
    archived: bool

    @property
    def when(self) -> datetime | None:
        return as_utc(self.event.created_date)

    def search_text(self) -> str:
        parts = [self.title, self.detail, self.error_type or "",
                 str(self.event.status_code or ""), self.event.raw_body or "",
                 local_text(self.event.created_date)]
        return "\n".join(parts).casefold()


def build_rows(
    events: list[CredentialEvent],
    *,
    at_leaf: set[str] | None,
    now: datetime | None = None,
) -> list[EventRow]:
    """Decode events into rows, newest first, marking those only the local archive still has.

    `at_leaf` contains the ids in Leaf's latest response, or is None when LeafDesk could not
    fetch them. Then only an event older than Leaf's 30 days counts as archived.
    """
    now = now or datetime.now(timezone.utc)
    cutoff = now - LEAF_RETENTION
    rows = []
    for event in events:
        description = describe_event(event)
        created = as_utc(event.created_date)
        too_old = created is not None and created < cutoff
        gone = at_leaf is not None and event.id not in at_leaf
        rows.append(EventRow(
            event=event,
            succeeded=bool(description.succeeded),
            title=description.title,
            detail=description.detail,
            error_type=description.error_type,
            archived=too_old or gone,
        ))
    oldest = datetime.min.replace(tzinfo=timezone.utc)
    rows.sort(key=lambda row: row.when or oldest, reverse=True)
    return rows


class EventLogModel(QAbstractTableModel):
    """A table of one Leaf user's credential events: time, HTTP status, result, what happened,
    and whether Leaf still keeps the event or only LeafDesk's local archive does."""

    TIME, STATUS, RESULT, WHAT, SOURCE = range(5)

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self._rows: list[EventRow] = []
        self._headers = [
            self.tr("Time"), self.tr("HTTP status"), self.tr("Result"), self.tr("What happened"),
            self.tr("Kept by"),
        ]

    def set_rows(self, rows: list[EventRow]) -> None:
        self.beginResetModel()
        self._rows = list(rows)
        self.endResetModel()

    def rows(self) -> list[EventRow]:
        return list(self._rows)

    def row_at(self, row: int) -> EventRow:
        return self._rows[row]

    def rowCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:  # noqa: N802, B008
        return 0 if parent.isValid() else len(self._rows)

    def columnCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:  # noqa: N802, B008
        return 0 if parent.isValid() else len(self._headers)

    def headerData(self, section: int, orientation: Qt.Orientation,  # noqa: N802
                   role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return self._headers[section]
        return None

    def data(self, index: QModelIndex | QPersistentModelIndex,
             role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        row = self._rows[index.row()]
        column = index.column()

        if role == Qt.ItemDataRole.DisplayRole:
            return self._display(row, column)
        if role == SORT_ROLE:
            return self._sort_key(row, column)
        if role == ROW_ROLE:
            return row
        if role == Qt.ItemDataRole.ToolTipRole:
            if column == self.SOURCE and row.archived:
                return self.tr("Leaf no longer has this event: it keeps events for 30 days. "
                               "LeafDesk kept it in its local archive.")
            return row.detail or row.title
        if role == Qt.ItemDataRole.ForegroundRole and column in (self.STATUS, self.RESULT):
            palette = QGuiApplication.palette()
            colour = success_colour(palette) if row.succeeded else error_colour(palette)
            return QColor(colour)
        if role == Qt.ItemDataRole.FontRole and row.archived:
            font = QFont()
            font.setItalic(True)
            return font
        if role == Qt.ItemDataRole.TextAlignmentRole and column == self.STATUS:
            return int(Qt.AlignmentFlag.AlignCenter)
        return None

    def _display(self, row: EventRow, column: int) -> str:
        if column == self.TIME:
            return local_text(row.event.created_date)
        if column == self.STATUS:
            code = row.event.status_code
            return str(code) if code is not None else "–"
        if column == self.RESULT:
            return self.tr("Succeeded") if row.succeeded else self.tr("Failed")
        if column == self.WHAT:
            return row.title
        if column == self.SOURCE:
            return self.tr("Local archive only") if row.archived else self.tr("Leaf")
        return ""

    def _sort_key(self, row: EventRow, column: int) -> Any:
        if column == self.TIME:
            return row.when.timestamp() if row.when else float("-inf")
        if column == self.STATUS:
            return row.event.status_code if row.event.status_code is not None else -1
        if column == self.RESULT:
            return int(row.succeeded)
        if column == self.SOURCE:
            return int(row.archived)
        return row.title.casefold()


class EventFilterProxy(QSortFilterProxyModel):
    """Filters event rows by outcome (succeeded or failed), free text and an inclusive date range.

    Dates are the operator's local calendar days, the same days the table shows.
    """

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self._outcome: bool | None = None
        self._text = ""
        self._first_day: date | None = None
        self._last_day: date | None = None
        self.setSortRole(SORT_ROLE)
        self.setDynamicSortFilter(True)

    def _change_filter(self, **values: Any) -> None:
        # Qt 6.10 replaced invalidateRowsFilter() with begin/endFilterChange(); keep both working
        # because the project allows PySide6 from 6.6.
        if hasattr(self, "endFilterChange"):
            self.beginFilterChange()
            for name, value in values.items():
                setattr(self, name, value)
            self.endFilterChange(QSortFilterProxyModel.Direction.Rows)
        else:
            for name, value in values.items():
                setattr(self, name, value)
            self.invalidateRowsFilter()

    def set_outcome(self, succeeded: bool | None) -> None:
        """Show only succeeded (True) or failed (False) events, or all (None)."""
        self._change_filter(_outcome=succeeded)

    def set_text(self, text: str) -> None:
        self._change_filter(_text=text.strip().casefold())

    def set_date_range(self, first_day: date | None, last_day: date | None) -> None:
        """Show only events from `first_day` to `last_day`, both included; None leaves it open."""
        self._change_filter(_first_day=first_day, _last_day=last_day)

    def visible_rows(self) -> list[EventRow]:
        """Return the rows that pass the filters, in the order the table shows them."""
        return [self.index(row, 0).data(ROW_ROLE) for row in range(self.rowCount())]

    def filterAcceptsRow(self, source_row: int,  # noqa: N802
                         source_parent: QModelIndex | QPersistentModelIndex) -> bool:
        model = self.sourceModel()
        if not isinstance(model, EventLogModel):
            return True
        row = model.row_at(source_row)

        if self._outcome is not None and row.succeeded != self._outcome:
            return False

        if self._first_day is not None or self._last_day is not None:
            if row.when is None:
                return False
            day = row.when.astimezone().date()
            if self._first_day is not None and day < self._first_day:
                return False
            if self._last_day is not None and day > self._last_day:
                return False

        return not self._text or self._text in row.search_text()
