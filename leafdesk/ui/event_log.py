"""The event log of one Leaf user's Panorama credential: a filterable table and the selected event.

Online, the events come from Leaf and are saved to the offline cache, which keeps them past
Leaf's 30 days. Offline, they come from the cache, labelled with the time they were last fetched.
Export writes the rows the filters let through to a CSV file as a background operation.
"""

from __future__ import annotations

import asyncio
import csv
import html
import logging
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Any

from PySide6.QtCore import QDate, QItemSelection, Qt, QUrl, Signal
from PySide6.QtGui import QDesktopServices, QFontDatabase
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QDateEdit,
    QFileDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QSplitter,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from leafdesk.core.errors import LeafError, NotFoundError
from leafdesk.core.model import LeafUser
from leafdesk.ui.event_log_model import (
    ROW_ROLE,
    EventFilterProxy,
    EventLogModel,
    EventRow,
    build_rows,
    local_text,
    pretty,
)
from leafdesk.ui.forms_fields import ErrorPanel, ToneLabel, about_user
from leafdesk.ui.operations import Operation, OperationProgress

log = logging.getLogger(__name__)

CSV_HEADER = ["time_utc", "http_status", "result", "what_happened", "detail", "error_type",
              "source", "event_id"]


def _cell(text: str) -> str:
    # A spreadsheet runs a cell that starts with =, +, - or @ as a formula, and Leaf's bodies
    # are not ours to trust, so such text is written with a leading apostrophe.
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def write_csv(path: Path, rows: list[EventRow]) -> int:
    """Write event rows to `path` as UTF-8 CSV and return how many were written.

    Only the decoded columns are written, never the raw headers or body, because a token
    refresh response carries live tokens. Text that a spreadsheet would run as a formula is
    prefixed with an apostrophe. The file is written beside its final name first, so
    a failed export never leaves half a file under that name.
    """
    partial = path.with_name(path.name + ".partial")
    try:
        with partial.open("w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle)
            writer.writerow(CSV_HEADER)
            for row in rows:
                when = row.when
                writer.writerow([
                    when.astimezone(timezone.utc).isoformat(timespec="seconds") if when else "",
                    "" if row.event.status_code is None else row.event.status_code,
                    "succeeded" if row.succeeded else "failed",
                    _cell(row.title),
                    _cell(row.detail),
                    _cell(row.error_type or ""),
                    "local archive" if row.archived else "Leaf",
                    row.event.id,
                ])
        partial.replace(path)
    except BaseException:
        # A failed export leaves neither the final file nor a stray ".partial" beside it.
        partial.unlink(missing_ok=True)
        raise
    return len(rows)


class EventLogView(QWidget):
    """One Leaf user's credential events: filters, the table, the selected event and CSV export.

    `loaded(int)` fires after each load with the number of events; `exported(str)` with the
    path of a finished export.
    """

    loaded = Signal(int)
    exported = Signal(str)

    def __init__(self, parent: QWidget | None, client: Any, cache: Any,
                 user: LeafUser | None) -> None:
        """Build the view over `client` and `cache`; `reload()` then fetches `user`'s events."""
        super().__init__(parent)
        self.client = client
        self.cache = cache
        self.user = user
        self.online = True
        self.as_of: datetime | None = None
        self.as_of_is_sync = False
        # When each user's events were last fetched from Leaf in this session: the cache keeps
        # the events but not the time of the last fetch.
        self._fetched_at: dict[str, datetime] = {}
        self.load_operation: Operation | None = None
        self._load_user: LeafUser | None = None
        self._export_folder: Path | None = None
        self.export_operation: Operation | None = None

        self.model = EventLogModel(self)
        self.proxy = EventFilterProxy(self)
        self.proxy.setSourceModel(self.model)

        self._build_filters()
        self._build_table()

        self.source_label = ToneLabel(parent=self)
        self.source_label.setWordWrap(True)
        self.count_label = QLabel(self)
        # Where the last export went, with a link that opens its folder.
        self.export_label = ToneLabel(parent=self, tone="success")
        self.export_label.setWordWrap(True)
        self.export_label.setTextFormat(Qt.TextFormat.RichText)
        self.export_label.linkActivated.connect(self._open_export_folder)
        self.export_label.setVisible(False)
        self.errors = ErrorPanel(self)
        self.progress = OperationProgress(self)

        status_row = QHBoxLayout()
        status_row.addWidget(self.source_label, 1)
        status_row.addWidget(self.count_label)

        self.splitter = QSplitter(Qt.Orientation.Vertical, self)
        self.splitter.addWidget(self.table)
        self.splitter.addWidget(self.detail)
        self.splitter.setStretchFactor(0, 3)
        self.splitter.setStretchFactor(1, 2)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(self.filter_row)
        layout.addLayout(status_row)
        layout.addWidget(self.export_label)
        layout.addWidget(self.errors)
        layout.addWidget(self.splitter, 1)
        layout.addWidget(self.progress)

        self.proxy.rowsInserted.connect(self._update_count)
        self.proxy.rowsRemoved.connect(self._update_count)
        self.proxy.modelReset.connect(self._update_count)
        self.proxy.layoutChanged.connect(self._update_count)
        # A model reset clears the selection without a selectionChanged signal, so the detail
        # pane would keep the previous user's event.
        self.proxy.modelReset.connect(lambda: self._show_event(self.selected_row()))
        self._update_count()
        self._show_event(None)

    # Building

    def _build_filters(self) -> None:
        self.outcome_combo = QComboBox(self)
        self.outcome_combo.addItem(self.tr("All events"), None)
        self.outcome_combo.addItem(self.tr("Succeeded only"), True)
        self.outcome_combo.addItem(self.tr("Failed only"), False)
        self.outcome_combo.setAccessibleName(self.tr("Show events by result"))
        self.outcome_combo.currentIndexChanged.connect(
            lambda: self.proxy.set_outcome(self.outcome_combo.currentData()))

        self.search_edit = QLineEdit(self)
        self.search_edit.setPlaceholderText(self.tr("Filter events by text"))
        self.search_edit.setClearButtonEnabled(True)
        self.search_edit.setAccessibleName(self.tr("Filter events by text"))
        self.search_edit.textChanged.connect(self.proxy.set_text)

        today = QDate.currentDate()
        self.from_check = QCheckBox(self.tr("Fro&m"), self)
        self.from_date = QDateEdit(today.addDays(-30), self)
        self.to_check = QCheckBox(self.tr("T&o"), self)
        self.to_date = QDateEdit(today, self)
        for check, edit, name in ((self.from_check, self.from_date, self.tr("First day shown")),
                                  (self.to_check, self.to_date, self.tr("Last day shown"))):
            edit.setCalendarPopup(True)
            edit.setDisplayFormat("yyyy-MM-dd")
            edit.setEnabled(False)
            edit.setAccessibleName(name)
            check.toggled.connect(edit.setEnabled)
            check.toggled.connect(self._apply_dates)
            edit.dateChanged.connect(self._apply_dates)

        self.reload_button = QPushButton(self.tr("Re&load"), self)
        self.reload_button.setToolTip(self.tr("Fetch this user's events from Leaf again"))
        self.reload_button.clicked.connect(self.reload)
        self._loading = False
        self.export_button = QPushButton(self.tr("E&xport CSV…"), self)
        self.export_button.setToolTip(self.tr("Save the events shown to a CSV file"))
        self.export_button.clicked.connect(self.choose_export_file)

        # Mnemonics avoid the main window's menus (File, View, User) and buttons, because the
        # view is embedded there and a shared Alt key would be ambiguous.
        self.filter_row = QHBoxLayout()
        self.filter_row.addWidget(self.outcome_combo)
        self.filter_row.addWidget(self.search_edit, 1)
        self.filter_row.addWidget(self.from_check)
        self.filter_row.addWidget(self.from_date)
        self.filter_row.addWidget(self.to_check)
        self.filter_row.addWidget(self.to_date)
        self.filter_row.addWidget(self.reload_button)
        self.filter_row.addWidget(self.export_button)

    def _build_table(self) -> None:
        self.table = QTableView(self)
        self.table.setModel(self.proxy)
        self.table.setSortingEnabled(True)
        self.table.sortByColumn(EventLogModel.TIME, Qt.SortOrder.DescendingOrder)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setAlternatingRowColors(True)
        self.table.setWordWrap(False)
        self.table.verticalHeader().setVisible(False)
        self.table.verticalHeader().setDefaultSectionSize(self.fontMetrics().height() + 8)
        self.table.setAccessibleName(self.tr("Credential events"))
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(EventLogModel.TIME, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(EventLogModel.STATUS, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(EventLogModel.RESULT, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(EventLogModel.WHAT, QHeaderView.ResizeMode.Stretch)
        header.setSectionResizeMode(EventLogModel.SOURCE, QHeaderView.ResizeMode.ResizeToContents)
        self.table.selectionModel().selectionChanged.connect(self._on_selection)

        self.detail = QPlainTextEdit(self)
        self.detail.setReadOnly(True)
        self.detail.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
        self.detail.setAccessibleName(self.tr("Selected event's headers and body"))
        self.detail.setLineWrapMode(QPlainTextEdit.LineWrapMode.WidgetWidth)

    # Filters and selection

    def _apply_dates(self) -> None:
        first = self.from_date.date().toPython() if self.from_check.isChecked() else None
        last = self.to_date.date().toPython() if self.to_check.isChecked() else None
        self.proxy.set_date_range(first, last)

    def set_date_range(self, first_day: date | None, last_day: date | None) -> None:
        """Set the date filter (both days included); None switches that side off."""
        if first_day is not None:
            self.from_date.setDate(QDate(first_day.year, first_day.month, first_day.day))
        if last_day is not None:
            self.to_date.setDate(QDate(last_day.year, last_day.month, last_day.day))
        self.from_check.setChecked(first_day is not None)
        self.to_check.setChecked(last_day is not None)
        self._apply_dates()

    def _update_count(self, *_args) -> None:
        shown, total = self.proxy.rowCount(), self.model.rowCount()
        if total == shown:
            self.count_label.setText(english_plural(self.tr("%n event(s)", "", total), total))
        else:
            self.count_label.setText(english_plural(
                self.tr("{shown} of %n event(s)", "", total), total).format(shown=shown))
        self.export_button.setEnabled(shown > 0)
        # The count is longer with a filter on, so lay out now or it is drawn cut off.
        if self.layout() is not None:
            self.layout().activate()

    def _on_selection(self, _selected: QItemSelection, _deselected: QItemSelection) -> None:
        rows = self.table.selectionModel().selectedRows()
        self._show_event(rows[0].data(ROW_ROLE) if rows else None)

    def _show_event(self, row: EventRow | None) -> None:
        if row is None:
            self.detail.setPlainText(self.tr("Select an event to see its headers and body."))
            return
        event = row.event
        status = "–" if event.status_code is None else str(event.status_code)
        lines = [
            f"{local_text(event.created_date)}  ·  HTTP {status}  ·  "
            + (self.tr("succeeded") if row.succeeded else self.tr("failed")),
            row.title,
        ]
        if row.detail:
            lines.append(row.detail)
        if row.error_type:
            lines.append(self.tr("Error type: {kind}").format(kind=row.error_type))
        if row.archived:
            lines.append(self.tr("From LeafDesk's local archive: Leaf keeps events for 30 days "
                                 "and no longer has this one."))
        lines.append(self.tr("Event id: {id}").format(id=event.id))
        lines += ["", self.tr("Headers"), pretty(event.headers, event.raw_headers)
                  or self.tr("(none)")]
        lines += ["", self.tr("Body"), pretty(event.body, event.raw_body) or self.tr("(empty)")]
        self.detail.setPlainText("\n".join(lines))

    def _select_event(self, event_id: str) -> None:
        for proxy_row in range(self.proxy.rowCount()):
            row = self.proxy.index(proxy_row, 0).data(ROW_ROLE)
            if row is not None and row.event.id == event_id:
                self.table.selectRow(proxy_row)
                return

    def selected_row(self) -> EventRow | None:
        rows = self.table.selectionModel().selectedRows()
        return rows[0].data(ROW_ROLE) if rows else None

    # Online state and loading

    def set_online(self, online: bool) -> None:
        """Follow the window's online state.

        Offline, the events come from the cache and Reload's tooltip explains why it is disabled.
        """
        self.online = online
        self._update_reload_button()

    def _update_reload_button(self) -> None:
        self.reload_button.setEnabled(self.online and not self._loading)
        self.reload_button.setToolTip(
            self.tr("Fetch this user's events from Leaf again") if self.online else
            self.tr("Reload needs Leaf, which cannot be reached now. The events shown come from "
                    "the local cache."))

    def set_user(self, user: LeafUser | None) -> None:
        """Show another Leaf user's events (loading them), or nothing for None.

        Given the user shown already, it reloads only when the user's credential id changed (a
        new connection, a replace or a delete), so the window may call it on every row update.
        """
        if user is not None and self.user is not None and user.id == self.user.id:
            changed = _credential_id(user) != _credential_id(self.user)
            self.user = user
            if changed:
                self.reload()
            return
        if self.load_operation is not None and self.load_operation.running:
            # The cancelled operation stays "running" until its task unwinds, so forget it here
            # or `reload()` would hand it back instead of loading the new user.
            self.load_operation.cancel()
            self.load_operation = None
        self.user = user
        self.model.set_rows([])
        self._show_event(None)
        self.errors.clear()
        self.export_label.setVisible(False)
        if user is None:
            self.source_label.clear()
            return
        self.reload()

    def reload(self) -> Operation | None:
        """Load the user's events in the background (from Leaf when online, else the cache).

        The window calls it after a change to the user's credential, such as a one-click
        connection, so the log does not wait for the operator's Reload.
        """
        if self.user is None:
            return None
        if self.load_operation is not None and self.load_operation.running:
            if self._load_user is self.user:
                return self.load_operation
            # The user object changed (a new credential), so the running load may be stale.
            self.load_operation.cancel()
        user = self.user
        self.source_label.setText(self.tr("Loading events…"))
        self._loading = True
        self._update_reload_button()
        operation = Operation(
            self,
            self.tr("Loading the events of {name}").format(name=user.name),
            lambda progress: self.load_events(user),
            action=self.tr("load the event log"),
            leaf_user=user.name,
            report_errors=False,
        )
        operation.failed.connect(self._on_load_failed)
        operation.finished.connect(lambda: self._on_load_finished(operation))
        self._load_user = user
        self.load_operation = operation
        return operation.start()

    def _on_load_finished(self, operation: Operation) -> None:
        if operation is self.load_operation:
            self._loading = False
            self._update_reload_button()

    async def load_events(self, user: LeafUser) -> int:
        """Fetch, save and show `user`'s events, and return the number shown.

        Online, Leaf's response is saved to the cache and merged with the archive there. When
        Leaf cannot be reached the cache alone is shown, marked with the time it is from.
        """
        self.errors.clear()
        fetched = None
        if self.online and self.client is not None:
            try:
                fetched = await self.client.list_panorama_events(user.id)
            except NotFoundError:
                # No credential at Leaf (or it was deleted): Leaf has no events, the archive may.
                fetched = []
            except LeafError as error:
                # Without Leaf's events the archive is still worth showing, under the error that
                # explains why it is all there is.
                log.info("Could not load the events of Leaf user %s from Leaf; using the cache: "
                         "%s", user.id, error)
                error.about(action=self.tr("load the event log"))
                self.errors.show_leaf_error(about_user(error, user))

        if user is not self.user:
            return 0
        self.as_of_is_sync = False
        if fetched is not None:
            self.cache.save_events(user.id, fetched)
            self.as_of = self._fetched_at[user.id] = datetime.now(timezone.utc)
        elif user.id in self._fetched_at:
            self.as_of = self._fetched_at[user.id]
        else:
            # NOTE: the cache records no time per user's event fetch, so after a restart the
            # label can only offer the last sync's time, and a sync does not fetch events.
            self.as_of = self._last_sync_time()
            self.as_of_is_sync = self.as_of is not None

        archived = self.cache.load_events(user.id)
        seen = {event.id for event in fetched or []}
        merged = list(fetched or []) + [event for event in archived if event.id not in seen]
        at_leaf = seen if fetched is not None else None
        rows = build_rows(merged, at_leaf=at_leaf)

        # Every refresh reloads the shown user's events, so keep the event the operator chose.
        chosen = self.selected_row()
        chosen_id = chosen.event.id if chosen is not None else None
        self.model.set_rows(rows)
        self._show_source(fetched is not None, rows, fetched_before=user.id in self._fetched_at)
        if chosen_id is not None:
            self._select_event(chosen_id)
        if rows and not self.table.selectionModel().hasSelection():
            self.table.selectRow(0)
        self.loaded.emit(len(rows))
        log.info("Event log of Leaf user %s: %d events (%s)", user.id, len(rows),
                 "Leaf" if fetched is not None else "cache")
        return len(rows)

    def _last_sync_time(self) -> datetime | None:
        try:
            record = self.cache.last_sync()
        except Exception:  # the as-of time is a label: a cache problem must not hide the events
            log.warning("Could not read the last sync time from the cache", exc_info=True)
            return None
        return getattr(record, "finished_at", None) if record is not None else None

    def _show_source(self, from_leaf: bool, rows: list[EventRow], *,
                     fetched_before: bool = False) -> None:
        archived = sum(1 for row in rows if row.archived)
        if from_leaf:
            text = self.tr("From Leaf, as of {time}.").format(time=local_text(self.as_of))
            self.source_label.set_tone("")
        else:
            if self.as_of is None:
                when = self.tr("an unknown time")
            elif self.as_of_is_sync:
                when = self.tr("the last sync at {time}").format(time=local_text(self.as_of))
            else:
                when = local_text(self.as_of)
            if self.online:
                text = self.tr("Could not get the events from Leaf: showing the local cache, "
                               "as of {time}.").format(time=when)
            else:
                text = self.tr("Offline: events from the local cache, as of {time}.").format(
                    time=when)
            if any(not row.archived for row in rows):
                # Without Leaf's response, "Kept by" can only go by each event's age.
                text += " " + self.tr("“Kept by: Leaf” means Leaf should still keep the "
                                      "event, by its age; LeafDesk could not ask Leaf.")
            self.source_label.set_tone("warning")
        if archived:
            text += " " + self.tr("{count} shown from LeafDesk's local archive only, because Leaf "
                                  "keeps events for 30 days and deletes them with the "
                                  "credential.").format(count=archived)
        if not rows and not (from_leaf or fetched_before or self.online):
            # An empty cache has no "as of" time worth naming.
            text = self._no_events_text(fetched=False)
        elif not rows:
            text += " " + self._no_events_text(from_leaf or fetched_before)
        # Embedded under the users table, the view names the user whose events these are.
        if self.user is not None:
            heading = self.tr("Events of {name}").format(name=self.user.name)
            # A name such as "Grain Co." already ends the sentence.
            if not heading.endswith("."):
                heading += "."
            text = f"{heading} {text}"
        self.source_label.setText(text)

    def _no_events_text(self, fetched: bool) -> str:
        """Return why the log is empty: no credential, never fetched, or nothing logged."""
        if self.user is not None and self.user.panorama is None:
            return self.tr("No events: this user has no Panorama credential.")
        if fetched:
            return self.tr("No events: Leaf has logged nothing for this credential yet.")
        if self.online:
            return self.tr("No events in the offline cache for this user, and Leaf could not "
                           "be read.")
        return self.tr("No events in the offline cache for this user; they are read from Leaf "
                       "when LeafDesk is online.")

    def _on_load_failed(self, failure) -> None:
        self.source_label.setText(self.tr("The events could not be loaded."))
        self.errors.show_error(failure.sentence, failure.details)

    # Export

    def choose_export_file(self) -> None:
        """Ask where to save the CSV (non-modally), then export there."""
        name = (self.user.name if self.user else "events").replace("/", "-")
        dialog = QFileDialog(self, self.tr("Export events to CSV"))
        dialog.setAcceptMode(QFileDialog.AcceptMode.AcceptSave)
        dialog.setNameFilter(self.tr("CSV files (*.csv)"))
        dialog.setDefaultSuffix("csv")
        dialog.selectFile(self.tr("{name} - Panorama events.csv").format(name=name))
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.fileSelected.connect(lambda path: self.export_csv(Path(path)))
        dialog.open()

    def export_csv(self, path: Path) -> Operation:
        """Export the rows the filters show, in the table's order, to `path` in the background."""
        rows = self.proxy.visible_rows()

        async def work(progress) -> int:
            progress(0, len(rows), 0, str(path.name))
            count = await asyncio.to_thread(write_csv, path, rows)
            progress(count, len(rows), 0, str(path.name))
            return count

        operation = Operation(
            self,
            self.tr("Exporting events to {file}").format(file=path.name),
            work,
            action=self.tr("export the event log to {file}").format(file=path),
            leaf_user=self.user.name if self.user else None,
        )
        operation.succeeded.connect(lambda count: self._on_exported(path, count))
        self.export_operation = operation
        operation.start()
        self.progress.track(operation)
        return operation

    def _on_exported(self, path: Path, count: int) -> None:
        log.info("Exported %d events to %s", count, path)
        self._export_folder = path.parent
        saved = english_plural(self.tr("Exported %n event(s) to {file}.", "", count),
                               count).format(file=html.escape(str(path)))
        link = '<a href="open-folder">{}</a>'.format(html.escape(self.tr("Open folder")))
        self.export_label.setText(f"{saved} {link}")
        self.export_label.setVisible(True)
        self.exported.emit(str(path))

    def _open_export_folder(self, _link: str) -> None:
        QDesktopServices.openUrl(QUrl.fromLocalFile(str(self._export_folder)))


def english_plural(text: str, count: int) -> str:
    """Pick the English form of a "%n thing(s)" text that no installed translation replaced.

    Without a translation for the numerus form, Qt returns the source text with only %n filled.
    """
    return text.replace("(s)", "" if count == 1 else "s")


def _credential_id(user: LeafUser) -> str | None:
    return user.panorama.id if user.panorama is not None else None
