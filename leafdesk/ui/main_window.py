"""The LeafDesk main window: the users table with its summary strip, search, details and event log.

The window works on one `AppContext` (a signed-in or offline Leaf account). Leaf work runs as
background `Operation`s; the window stays usable during a refresh. When an operation finds Leaf
unreachable, the window goes offline: a banner shows since when, actions that need Leaf are
disabled with a tooltip giving the reason, and a timer checks every `RECONNECT_SECONDS` until
Leaf responds again, then refreshes.
"""

from __future__ import annotations

import logging
import sqlite3
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import (
    QEvent,
    QItemSelection,
    QItemSelectionModel,
    QModelIndex,
    QObject,
    QPoint,
    QSize,
    Qt,
    QTimer,
    Signal,
)
from PySide6.QtGui import QAction, QCloseEvent, QColor, QGuiApplication, QIcon, QKeySequence, QPixmap
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QMainWindow,
    QMenu,
    QSplitter,
    QTableView,
    QToolBar,
    QVBoxLayout,
    QWidget,
)

from leafdesk.core.cache import CacheError
from leafdesk.core.errors import LeafError, OfflineError
from leafdesk.core.events import EventDescription, describe_event
from leafdesk.core.model import ConnectionState, UserRow
from leafdesk.ui import aio
from leafdesk.ui.details_panel import DetailsPanel
from leafdesk.ui.offline_banner import OfflineBanner
from leafdesk.ui.operations import (
    Operation,
    OperationFailure,
    OperationProgress,
    OperationState,
    describe_failure,
    show_failure,
)
from leafdesk.ui.presentation import format_time, state_text
from leafdesk.ui.summary_strip import SummaryStrip
from leafdesk.ui.users_model import (
    ROW_ROLE,
    USER_ID_ROLE,
    Column,
    UsersFilterProxy,
    UsersModel,
    has_credential,
)
from leafdesk.ui.window_state import WindowStateStore

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable
    from pathlib import Path

    # The session module is imported when the session opens, after the first paint.
    from leafdesk.ui.session import AppContext

    SessionOpener = Callable[[], Awaitable[AppContext]]

log = logging.getLogger(__name__)

RECONNECT_SECONDS = 30
RECHECK_KEY = "Ctrl+R"
# Users read first from the cache at start, enough to fill the first screen. The rest follow
# in the next loop iteration, after the window has painted.
# NOTE: with 50,000 cached users the window paints its first screen 1.8 to 1.9 times as late as
# a bare PySide6 window (bench/ui_startup.py, two runs), just under the target of 2. Most of
# what still comes before that paint is the window's modules with the Qt enums they create;
# bench/README.md gives their times. asyncio and qasync are imported after it.
FIRST_SCREEN_ROWS = 200
REST_OF_ROWS_DELAY_MS = 500
# The next step is too wide to show beside the other columns; its tooltip and the details
# panel show it too.
HIDDEN_BY_DEFAULT = (Column.USER_ID, Column.NEXT_STEP)


def colour_swatch(colour: str, size: int = 14) -> QIcon:
    """Return a small square icon filled with `colour` (an account's environment colour)."""
    pixmap = QPixmap(size, size)
    pixmap.fill(QColor(colour))
    return QIcon(pixmap)


class MainWindow(QMainWindow):
    """Users and their Panorama state for one Leaf account.

    `account_switch_requested(name)` requests a sign-in to another saved account, and
    `settings_requested` requests the settings dialog. The application handles both, because
    they replace or change what this window works on.
    """

    account_switch_requested = Signal(str)
    settings_requested = Signal()
    went_offline = Signal()
    came_online = Signal()
    session_opened = Signal(object)  # AppContext
    session_failed = Signal(object)  # LeafError

    def __init__(self, context: AppContext, *, window_state: WindowStateStore | None = None,
                 parent: QWidget | None = None,
                 open_session: SessionOpener | None = None) -> None:
        """Build the window over `context` and show its cached users.

        For a context whose session is not open yet (`cached_context()`), `open_session` opens
        it right after the window's first paint. The window then emits `session_opened` with the
        new context, or `session_failed` with the `LeafError` that stopped it. A cache opened
        without its integrity check is checked in a worker thread after the first paint and
        before the session opens. A damaged file is moved aside and the table emptied.
        """
        super().__init__(parent)
        self.context = context
        self._session_opener = open_session
        self.session_task = None
        self.window_state = window_state
        self.online = context.online
        self.offline_since: datetime | None = context.offline_since
        self.refresh_operation: Operation | None = None
        self.user_operations: dict[str, Operation] = {}
        self._credential_task = None
        self._dialogs: list[QWidget] = []
        self._reconnecting = False
        # The newest error box, kept until the operator closes it (tests read it too).
        self.last_failure_box: QWidget | None = None

        # Qt appends the application display name ("LeafDesk") to the title where the platform
        # shows one, so the title names only the account.
        self.setWindowTitle(context.account.name)
        self.setObjectName("mainWindow")

        self.model = UsersModel(self)
        self.proxy = UsersFilterProxy(self.model, self)

        self._build_actions()
        self._build_toolbar()
        self._build_central()
        self._build_menus()
        self._build_status_bar()

        self.refresh_timer = QTimer(self)
        self.refresh_timer.timeout.connect(self._periodic_refresh)
        self.apply_settings()
        # Builds the search text of every row in small steps while the window is idle.
        self.search_prepare_timer = QTimer(self)
        self.search_prepare_timer.setInterval(0)
        self.search_prepare_timer.timeout.connect(self._prepare_search_step)
        self.reconnect_timer = QTimer(self)
        self.reconnect_timer.setInterval(RECONNECT_SECONDS * 1000)
        self.reconnect_timer.timeout.connect(self.try_reconnect)

        self.resize(1280, 800)
        self._restore_layout()
        self.rows_complete = False
        self._started_after_paint = False
        self._load_first_screen()
        if not self.rows_complete or self._session_opener is not None:
            # After the first paint of the table; a window never shown goes on shortly too.
            self.table.viewport().installEventFilter(self)
            QTimer.singleShot(REST_OF_ROWS_DELAY_MS, self._after_first_paint_when_running)
        else:
            self._after_first_paint()
        if not context.session_open:
            self._update_online_widgets()
        elif not self.online:
            self._enter_offline(self.offline_since)
        else:
            self._update_online_widgets()

    # --- building ------------------------------------------------------------------------

    def _build_actions(self) -> None:
        self.refresh_action = QAction(self.tr("&Refresh"), self)
        # F5 first, then the platform's other Refresh keys. Ctrl+R (the Refresh key on macOS and
        # GNOME) is left out because it re-checks the selected users, and a key bound to two
        # actions triggers neither.
        refresh_keys = [QKeySequence(Qt.Key.Key_F5)]
        for key in QKeySequence.keyBindings(QKeySequence.StandardKey.Refresh):
            if key not in refresh_keys and key != QKeySequence(RECHECK_KEY):
                refresh_keys.append(key)
        self.refresh_action.setShortcuts(refresh_keys)
        self.refresh_action.setToolTip(self.tr("Read every user's state from Leaf (F5)"))
        self.refresh_action.triggered.connect(self.refresh)

        self.cancel_action = QAction(self.tr("&Cancel refresh"), self)
        self.cancel_action.setShortcut(QKeySequence(Qt.Key.Key_Escape))
        self.cancel_action.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
        self.cancel_action.setToolTip(self.tr("Stop the running refresh (Esc)"))
        self.cancel_action.setEnabled(False)
        self.cancel_action.triggered.connect(self.cancel_refresh)

        self.connect_action = QAction(self.tr("C&onnect (one-click)…"), self)
        self.connect_action.setShortcut(QKeySequence("Ctrl+K"))
        self.connect_action.triggered.connect(self.open_one_click)

        self.manual_action = QAction(self.tr("&Enter credentials…"), self)
        self.manual_action.setShortcut(QKeySequence("Ctrl+E"))
        self.manual_action.triggered.connect(self.open_manual)

        self.recheck_action = QAction(self.tr("Re-check &now"), self)
        self.recheck_action.setShortcut(QKeySequence(RECHECK_KEY))
        self.recheck_action.triggered.connect(self.recheck_selected)

        self.delete_action = QAction(self.tr("&Delete credential…"), self)
        self.delete_action.setShortcut(QKeySequence(Qt.Key.Key_Delete))
        self.delete_action.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
        self.delete_action.triggered.connect(self.open_delete)

        self.copy_id_action = QAction(self.tr("Copy Leaf user &id"), self)
        self.copy_id_action.setShortcut(QKeySequence("Ctrl+Shift+C"))
        self.copy_id_action.triggered.connect(self.copy_user_ids)

        self.search_action = QAction(self.tr("&Search"), self)
        self.search_action.setShortcut(QKeySequence.StandardKey.Find)
        self.search_action.triggered.connect(self.focus_search)

        self.settings_action = QAction(self.tr("&Settings…"), self)
        self.settings_action.setShortcut(QKeySequence("Ctrl+,"))
        self.settings_action.triggered.connect(self.settings_requested)

        self.events_action = QAction(self.tr("Show &event log"), self)
        self.events_action.setShortcut(QKeySequence("Ctrl+L"))
        self.events_action.triggered.connect(self.focus_event_log)

        self.quit_action = QAction(self.tr("&Quit"), self)
        self.quit_action.setShortcut(QKeySequence.StandardKey.Quit)
        self.quit_action.triggered.connect(self.close)

        for action in (self.refresh_action, self.cancel_action, self.connect_action,
                       self.manual_action, self.recheck_action, self.copy_id_action,
                       self.search_action, self.settings_action, self.events_action,
                       self.quit_action):
            self.addAction(action)

    def _build_toolbar(self) -> None:
        toolbar = QToolBar(self.tr("Main toolbar"), self)
        toolbar.setObjectName("mainToolbar")
        toolbar.setMovable(False)
        toolbar.setIconSize(QSize(16, 16))
        self.addToolBar(toolbar)

        self.account_label = QLabel(self.tr("&Account:"), self)
        self.account_combo = QComboBox(self)
        self.account_combo.setAccessibleName(self.tr("Leaf account"))
        self.account_combo.setToolTip(self.tr("Switch to another saved Leaf account"))
        self.account_combo.setMinimumContentsLength(16)
        self.account_label.setBuddy(self.account_combo)
        self._fill_accounts()
        self.account_combo.activated.connect(self._on_account_chosen)
        self.account_band = QLabel(self)
        self.account_band.setFixedSize(6, 22)
        self.account_band.setAutoFillBackground(True)
        self._paint_account_band()
        toolbar.addWidget(self.account_band)
        toolbar.addWidget(self.account_label)
        toolbar.addWidget(self.account_combo)
        toolbar.addSeparator()
        toolbar.addAction(self.refresh_action)
        toolbar.addAction(self.cancel_action)
        toolbar.addSeparator()
        toolbar.addAction(self.connect_action)
        toolbar.addSeparator()

        self.search_edit = QLineEdit(self)
        # The full list of searched fields is too long for the box at its minimum width, so it
        # goes to the tooltip and the placeholder stays short enough to read in full.
        self.search_edit.setPlaceholderText(self.tr("Search users (Ctrl+F)"))
        self.search_edit.setToolTip(self.tr(
            "Search every column: name, e-mail, id, state and more (Ctrl+F)"))
        self.search_edit.setClearButtonEnabled(True)
        self.search_edit.setAccessibleName(self.tr("Search users"))
        self.search_edit.setMinimumWidth(220)
        self.search_edit.setMaximumWidth(360)
        self.search_edit.textChanged.connect(self._on_search)
        # The search field sits beside the summary strip rather than in the toolbar: in a narrow
        # window the toolbar moves it into its overflow menu, where Ctrl+F cannot focus it.

    def _build_central(self) -> None:
        self.banner = OfflineBanner(self)
        self.banner.retry_requested.connect(self.try_reconnect)
        self.summary = SummaryStrip(self)
        self.summary.state_selected.connect(self.proxy.set_state_filter)
        self.summary.state_selected.connect(lambda _state: self._update_counts())

        self.table = QTableView(self)
        self.table.setObjectName("usersTable")
        self.table.setAccessibleName(self.tr("Leaf users"))
        self.table.setModel(self.proxy)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.table.setSortingEnabled(True)
        self.table.sortByColumn(Column.NAME, Qt.SortOrder.AscendingOrder)
        self.table.setAlternatingRowColors(True)
        self.table.setWordWrap(False)
        self.table.setTabKeyNavigation(False)
        self.table.verticalHeader().hide()
        self.table.verticalHeader().setDefaultSectionSize(
            self.table.fontMetrics().height() + 8)
        # Uniform rows let Qt skip measuring 50,000 of them.
        self.table.verticalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Fixed)
        header = self.table.horizontalHeader()
        header.setSectionsMovable(True)
        header.setHighlightSections(False)
        header.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        header.customContextMenuRequested.connect(self._header_menu)
        widths = {Column.NAME: 190, Column.EMAIL: 220, Column.EXTERNAL_ID: 110,
                  Column.STATE: 190, Column.ACTOR: 120, Column.ORGANIZATION: 130,
                  Column.ENVIRONMENT: 100, Column.CONNECTED_SINCE: 130, Column.LAST_CHECKED: 130,
                  Column.USER_ID: 280, Column.NEXT_STEP: 360}
        for column, width in widths.items():
            header.resizeSection(column, width)
        for column in HIDDEN_BY_DEFAULT:
            header.hideSection(column)
        # State right after Name, so a narrow window still shows who is in which state.
        header.moveSection(header.visualIndex(Column.STATE), header.visualIndex(Column.NAME) + 1)
        self.table.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.table.customContextMenuRequested.connect(self._table_menu)
        self.table.selectionModel().selectionChanged.connect(self._on_selection_changed)
        self.table.addAction(self.delete_action)

        self.details = DetailsPanel(self)
        self.details.connect_requested.connect(self.open_one_click)
        self.details.manual_requested.connect(self.open_manual)
        self.details.recheck_requested.connect(self.recheck_selected)
        self.details.delete_requested.connect(self.open_delete)

        # The event log view (about 20 ms with its imports) is built right after the first
        # paint. Until then this empty widget keeps its place and size in the splitter.
        self.event_log: QWidget | None = None
        self._event_log_placeholder: QWidget | None = QWidget(self)

        self.top_splitter = QSplitter(Qt.Orientation.Horizontal, self)
        self.top_splitter.setObjectName("topSplitter")
        self.top_splitter.addWidget(self.table)
        self.top_splitter.addWidget(self.details)
        self.top_splitter.setStretchFactor(0, 3)
        self.top_splitter.setStretchFactor(1, 1)
        # Room for the details' form (labels, values and Copy buttons) at 1280 pixels wide;
        # the table scrolls sideways instead.
        self.top_splitter.setSizes([820, 460])
        self.top_splitter.setCollapsible(1, False)

        self.main_splitter = QSplitter(Qt.Orientation.Vertical, self)
        self.main_splitter.setObjectName("mainSplitter")
        self.main_splitter.addWidget(self.top_splitter)
        self.main_splitter.addWidget(self._event_log_placeholder)
        self.main_splitter.setStretchFactor(0, 3)
        self.main_splitter.setStretchFactor(1, 2)
        self.main_splitter.setSizes([520, 260])

        central = QWidget(self)
        layout = QVBoxLayout(central)
        layout.setContentsMargins(4, 4, 4, 0)
        layout.setSpacing(4)
        layout.addWidget(self.banner)
        filters = QHBoxLayout()
        filters.addWidget(self.summary, 1)
        filters.addWidget(self.search_edit, 0, Qt.AlignmentFlag.AlignTop)
        layout.addLayout(filters)
        layout.addWidget(self.main_splitter, 1)
        self.setCentralWidget(central)

    def _make_event_log(self) -> QWidget | None:
        try:
            from leafdesk.ui.event_log import EventLogView
        except ImportError:  # the event log view is built beside this window
            log.warning("The event log view is not available", exc_info=True)
            return None
        view = EventLogView(self, self.context.client, self.context.cache, None)
        view.setObjectName("eventLog")
        return view

    def _build_event_log(self) -> None:
        placeholder, self._event_log_placeholder = self._event_log_placeholder, None
        if placeholder is None:
            return
        view = self._make_event_log()
        if view is None:
            return  # the empty placeholder stays
        self.main_splitter.replaceWidget(self.main_splitter.indexOf(placeholder), view)
        placeholder.deleteLater()
        self.event_log = view
        view.loaded.connect(self._on_events_loaded)
        view.set_online(self.online)
        row = self.current_row()
        if row is not None:
            view.set_user(row.user)
            view.reload()

    def _build_menus(self) -> None:
        menu_bar = self.menuBar()
        file_menu = menu_bar.addMenu(self.tr("&File"))
        file_menu.addAction(self.settings_action)
        file_menu.addSeparator()
        file_menu.addAction(self.quit_action)

        view_menu = menu_bar.addMenu(self.tr("&View"))
        view_menu.addAction(self.refresh_action)
        view_menu.addAction(self.cancel_action)
        view_menu.addAction(self.search_action)
        view_menu.addAction(self.events_action)
        self.columns_menu = view_menu.addMenu(self.tr("&Columns"))
        self.columns_menu.aboutToShow.connect(lambda: self._fill_columns_menu(self.columns_menu))

        user_menu = menu_bar.addMenu(self.tr("&User"))
        for action in (self.connect_action, self.manual_action, self.recheck_action,
                       self.delete_action, self.copy_id_action):
            user_menu.addAction(action)

    def _build_status_bar(self) -> None:
        status = self.statusBar()
        self.connection_label = QLabel(self)
        self.sync_label = QLabel(self)
        self.counts_label = QLabel(self)
        self.progress = OperationProgress(self)
        status.addWidget(self.connection_label)
        status.addWidget(self.sync_label)
        status.addWidget(self.counts_label, 1)
        status.addPermanentWidget(self.progress)

    # --- accounts ------------------------------------------------------------------------

    def _fill_accounts(self) -> None:
        self.account_combo.clear()
        current = self.context.account
        names = [account.name for account in self.context.settings.accounts]
        if current.name not in names:
            self.account_combo.addItem(colour_swatch(current.environment_colour), current.name)
        for account in self.context.settings.accounts:
            self.account_combo.addItem(colour_swatch(account.environment_colour), account.name)
        self.account_combo.setCurrentText(current.name)

    def _paint_account_band(self) -> None:
        palette = self.account_band.palette()
        palette.setColor(self.account_band.backgroundRole(),
                         QColor(self.context.account.environment_colour))
        self.account_band.setPalette(palette)
        self.account_band.setToolTip(self.tr("Colour of the account {name}").format(
            name=self.context.account.name))

    def _on_account_chosen(self, index: int) -> None:
        name = self.account_combo.itemText(index)
        if name and name != self.context.account.name:
            self.account_switch_requested.emit(name)

    def apply_settings(self) -> None:
        """Take up changed settings: accounts list, refresh interval and concurrency."""
        settings = self.context.settings
        if self.context.sync is not None:
            self.context.sync.concurrency = settings.concurrency
        minutes = max(1, int(settings.refresh_interval_minutes))
        self.refresh_timer.start(minutes * 60 * 1000)
        if hasattr(self, "account_combo"):
            self._fill_accounts()

    # --- table ---------------------------------------------------------------------------

    def load_from_cache(self) -> None:
        """Fill the table from the offline cache (what the last refresh saw)."""
        rows = self._read_cached_rows()
        self._set_rows_keeping_view(rows)
        self.rows_complete = True
        self._after_rows_changed()

    def _set_rows_keeping_view(self, rows: list[UserRow]) -> None:
        """Replace every row, then select the same users and scroll back to the same top row.

        A model reset clears the selection without a signal, so without this every refresh
        would drop the selected user and the details would fall back to the placeholder.
        """
        selected_ids = [row.user.id for row in self.selected_rows()]
        current = self.current_row()
        current_id = current.user.id if current is not None else None
        top_index = self.table.indexAt(QPoint(0, 0))
        top_id = top_index.data(USER_ID_ROLE) if top_index.isValid() else None

        self.model.set_rows(rows)

        selection = QItemSelection()
        for user_id in selected_ids:
            index = self._proxy_index_of(user_id)
            if index.isValid():
                selection.select(index, index)
        selection_model = self.table.selectionModel()
        flags = QItemSelectionModel.SelectionFlag.Select | QItemSelectionModel.SelectionFlag.Rows
        if current_id is not None and self._proxy_index_of(current_id).isValid():
            selection_model.setCurrentIndex(self._proxy_index_of(current_id),
                                            QItemSelectionModel.SelectionFlag.NoUpdate)
        if not selection.isEmpty():
            selection_model.select(selection, flags)
        if top_id is not None:
            self._scroll_to_top_user(top_id)
            # The scroll bar's range is updated in the view's delayed layout, after this call.
            QTimer.singleShot(0, lambda: self._scroll_to_top_user(top_id))

    def _proxy_index_of(self, user_id: str) -> QModelIndex:
        source_row = self.model.row_number_of(user_id)
        if source_row is None:
            return QModelIndex()
        return self.proxy.mapFromSource(self.model.index(source_row, 0))

    def _scroll_to_top_user(self, user_id: str) -> None:
        index = self._proxy_index_of(user_id)
        if index.isValid():
            self.table.scrollTo(index, QAbstractItemView.ScrollHint.PositionAtTop)

    def _load_first_screen(self) -> None:
        # The cache returns users by name, so its first users are the table's first rows only
        # while the table is sorted by name, ascending.
        header = self.table.horizontalHeader()
        by_name = (header.sortIndicatorSection() == Column.NAME
                   and header.sortIndicatorOrder() == Qt.SortOrder.AscendingOrder)
        if not by_name:
            self.load_from_cache()
            return
        rows = self._read_cached_rows(limit=FIRST_SCREEN_ROWS)
        self._set_rows_keeping_view(rows)
        if len(rows) < FIRST_SCREEN_ROWS:
            self.rows_complete = True
        self._after_rows_changed()

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 - Qt override
        if event.type() == QEvent.Type.Paint and watched is self.table.viewport():
            watched.removeEventFilter(self)
            self._after_first_paint_when_running()
        return super().eventFilter(watched, event)

    def _read_cached_rows(self, limit: int | None = None) -> list[UserRow]:
        """Return the cached users by name; a damaged cache file is rebuilt empty first."""
        cache = self.context.cache
        try:
            return cache.load_rows(limit=limit)
        except sqlite3.DatabaseError as error:
            if not cache.is_damage(error):
                raise
            self._recover_cache(str(error))
            return cache.load_rows(limit=limit)

    def _recover_cache(self, reason: str) -> None:
        try:
            aside = self.context.cache.recover(reason)
        except CacheError as error:
            log.error("Could not rebuild the damaged offline cache: %s", error)
            self.statusBar().showMessage(str(error))
            return
        # Stays until the next message, because the operator may look away during the start.
        self.statusBar().showMessage(self.tr(
            "The offline cache was damaged and was moved to {name}. LeafDesk started an empty "
            "one, which the next refresh fills.").format(name=aside.name))

    def _after_first_paint_when_running(self) -> None:
        # Before this, nothing in the window needs asyncio, so `aio.run_forever()` creates the
        # event loop (and imports asyncio and qasync) only now, after the first paint.
        aio.call_when_running(self._after_first_paint)

    def _after_first_paint(self) -> None:
        if self._started_after_paint:
            return
        self._started_after_paint = True
        cache = self.context.cache
        recovered_before = cache.recovered_from
        checked = None
        if not cache.integrity_checked:
            # Submitted now, so a worker thread checks the file while this one reads the rest
            # of the users.
            checked = aio.event_loop().run_in_executor(None, cache.check_integrity)
        if not self.rows_complete:
            self.load_from_cache()
        self._build_event_log()
        if checked is None:
            self._start_session()
            return
        aio.spawn(self._finish_cache_check(checked, recovered_before),
                  name="check the offline cache")

    async def _finish_cache_check(self, checked: Awaitable[list[str]],
                                  recovered_before: Path | None) -> None:
        # The session opens only after the check, so a sync never writes into a file that is
        # about to be moved aside.
        try:
            problems = await checked
        except sqlite3.Error as error:
            log.warning("Could not check the offline cache %s: %s", self.context.cache.path,
                        error)
            problems = []
        if self.context.cache.recovered_from is not recovered_before:
            # A read met the damage first and the file checked was moved aside already.
            problems = []
        if problems:
            self._recover_cache(f"quick_check reported: {'; '.join(problems[:5])}")
            self.load_from_cache()
        self._start_session()

    # --- opening the session after the first paint ----------------------------------------

    def _start_session(self) -> None:
        opener, self._session_opener = self._session_opener, None
        if opener is None:
            return

        async def open_session() -> None:
            try:
                context = await opener()
            except LeafError as error:
                log.warning("Signing in to %s failed: %s", self.context.account.base_url,
                            error.sentence())
                self.session_failed.emit(error)
                return
            self.attach_session(context)

        self.session_task = aio.spawn(open_session(), name="open session")

    def attach_session(self, context: AppContext) -> None:
        """Work through `context`, the session opened after the window showed the cache."""
        self.context = context
        if self.event_log is not None:
            self.event_log.client = context.client
        self.apply_settings()
        self.online = context.online
        self.offline_since = context.offline_since
        if self.online:
            self._update_online_widgets()
        else:
            self._enter_offline(self.offline_since)
        self.session_opened.emit(context)
        if self.online:
            self.refresh()

    def _prepare_search_step(self) -> None:
        if self.model.prepare_search(1000):
            self.search_prepare_timer.stop()

    def _after_rows_changed(self) -> None:
        self.search_prepare_timer.start()
        if self.rows_complete:
            self.summary.set_counts(self.model.counts())
        self._update_counts()
        self._update_sync_label()
        self._show_selected()

    def _update_counts(self) -> None:
        if not self.rows_complete:
            self.counts_label.setText(self.tr("Loading users from the offline cache…"))
            return
        total = self.model.rowCount()
        shown = self.proxy.rowCount()
        attention = sum(count for state, count in self.model.counts().items()
                        if state is not ConnectionState.CONNECTED)
        text = self.tr("{total} users, {attention} need attention").format(
            total=total, attention=attention)
        if shown != total:
            text += self.tr(", {shown} shown").format(shown=shown)
        self.counts_label.setText(text)

    def _update_sync_label(self) -> None:
        # The time shown is the last complete sync, because only that one read every user. A
        # later refresh that was cancelled or stopped early is named separately.
        complete = self.context.cache.last_sync(complete_only=True)
        latest = self.context.cache.last_sync()
        if complete is None:
            text = self.tr("No complete sync yet")
        else:
            text = self.tr("Last sync {time}").format(time=format_time(complete.finished_at))
        if latest is not None and not latest.complete and (
                complete is None or latest.finished_at > complete.finished_at):
            if not self.online and self.context.session_open:
                # A refresh that lost Leaf ends incomplete, as a cancelled one does.
                later = self.tr("; a later refresh could not reach Leaf at {time}")
            else:
                later = self.tr("; a later refresh was stopped at {time}")
            text += later.format(time=format_time(latest.finished_at))
        if latest is None:
            text = self.tr("Never synced")
        self.sync_label.setText(text)

    def _on_search(self, text: str) -> None:
        self.proxy.set_search(text)
        self._update_counts()

    def focus_search(self) -> None:
        self.search_edit.setFocus(Qt.FocusReason.ShortcutFocusReason)
        self.search_edit.selectAll()

    def focus_event_log(self) -> None:
        if self.event_log is not None:
            self.event_log.setFocus(Qt.FocusReason.ShortcutFocusReason)
            table = getattr(self.event_log, "table", None)
            if table is not None:
                table.setFocus(Qt.FocusReason.ShortcutFocusReason)

    def selected_rows(self) -> list[UserRow]:
        """Return the selected users, in table order."""
        indexes = self.table.selectionModel().selectedRows()
        indexes.sort(key=lambda index: index.row())
        return [index.data(ROW_ROLE) for index in indexes]

    def current_row(self) -> UserRow | None:
        """Return the user the details panel shows: the current row when it is selected."""
        rows = self.selected_rows()
        if not rows:
            return None
        current = self.table.currentIndex()
        if current.isValid() and self.table.selectionModel().isRowSelected(current.row(),
                                                                           QModelIndex()):
            return current.data(ROW_ROLE)
        return rows[0]

    def select_user(self, user_id: str) -> bool:
        """Select and show one user by Leaf user id; return False when the table lacks them."""
        source_row = self.model.row_number_of(user_id)
        if source_row is None:
            return False
        proxy_index = self.proxy.mapFromSource(self.model.index(source_row, 0))
        if not proxy_index.isValid():
            return False
        self.table.selectionModel().setCurrentIndex(
            proxy_index, QItemSelectionModel.SelectionFlag.ClearAndSelect
            | QItemSelectionModel.SelectionFlag.Rows)
        self.table.scrollTo(proxy_index)
        return True

    def copy_user_ids(self) -> None:
        """Copy the selected users' Leaf user ids, one a line (ids are not secrets)."""
        ids = [row.user.id for row in self.selected_rows()]
        if ids:
            QGuiApplication.clipboard().setText("\n".join(ids))
            self.statusBar().showMessage(
                self.tr("Copied {count} Leaf user id(s)").format(count=len(ids)), 4000)

    def _on_selection_changed(self, *_args: Any) -> None:
        self._show_selected()

    def _show_selected(self) -> None:
        row = self.current_row()
        if row is not None:
            # Take the newest copy from the model, the proxy index may hold an older one.
            row = self.model.row_for(row.user.id) or row
        previous = self.details.row
        same_user = previous is not None and row is not None and previous.user.id == row.user.id
        history = self._history(row) if row is not None else []
        credential = self.details.credential if same_user else None
        if credential is not None and not _same_credential(row, credential):
            credential = None  # deleted or replaced since it was read
        if row is not None and not same_user:
            # Until the event log has loaded, the cached events tell who must act.
            self.details.set_latest_event(row.user.id, self._cached_latest_event(row.user.id))
        self.details.show_row(row, credential, history)
        self._update_user_actions()

        if self.event_log is not None and not same_user:
            self.event_log.set_user(row.user if row else None)
            if row is not None:
                self.event_log.reload()
        if row is not None and not same_user:
            self._load_credential(row)

    def _reload_selected_user(self) -> None:
        """Read the shown user's credential and events again, replacing an older error.

        Selecting the same user again reloads nothing, so without this a credential or event
        load that failed (an HTTP error, an offline spell) stayed on screen after refreshes.
        """
        shown = self.details.row
        if shown is None:
            return
        row = self.model.row_for(shown.user.id) or shown
        self._load_credential(row)
        if self.event_log is not None:
            self.event_log.set_user(row.user)
            self.event_log.reload()

    def _cached_latest_event(self, user_id: str) -> EventDescription | None:
        try:
            events = self.context.cache.load_events(user_id)
        except Exception:  # noqa: BLE001 - the cached event only refines the advice shown
            log.warning("Could not read the cached events of %s", user_id, exc_info=True)
            return None
        return describe_event(events[0]) if events else None

    def _on_events_loaded(self, _count: int) -> None:
        view = self.event_log
        if view is None or view.user is None:
            return
        rows = view.model.rows()  # newest first
        latest = describe_event(rows[0].event) if rows else None
        self.details.set_latest_event(view.user.id, latest)

    def _history(self, row: UserRow) -> list[Any]:
        try:
            return self.context.cache.state_history(row.user.id)
        except Exception:  # noqa: BLE001 - the timeline is a nicety; the panel must still show
            log.warning("Could not read the state history of %s", row.user.id, exc_info=True)
            return []

    def _load_credential(self, row: UserRow) -> None:
        if self._credential_task is not None and not self._credential_task.done():
            self._credential_task.cancel()
        self._credential_task = None
        showing = self.details.row is not None and self.details.row.user.id == row.user.id
        if showing and not has_credential(row):
            # After a delete the old credential must not stay on screen.
            self.details.set_credential(None)
        if not self.online or not has_credential(row):
            return

        async def load() -> None:
            try:
                credential = await self.context.client.get_panorama_credential(row.user.id)
            except OfflineError as error:
                self._enter_offline(datetime.now(timezone.utc), error)
                return
            except LeafError as error:
                log.info("Could not read the credential of %s: %s", row.user.id, error.sentence())
                return
            if self.details.row is not None and self.details.row.user.id == row.user.id:
                self.details.set_credential(credential)

        self._credential_task = aio.spawn(load(), name=f"credential {row.user.id}")

    def _header_menu(self, position) -> None:
        menu = QMenu(self)
        self._fill_columns_menu(menu)
        menu.popup(self.table.horizontalHeader().mapToGlobal(position))

    def _fill_columns_menu(self, menu: QMenu) -> None:
        menu.clear()
        header = self.table.horizontalHeader()
        for column in Column:
            action = menu.addAction(self.model.headerData(column, Qt.Orientation.Horizontal))
            action.setCheckable(True)
            action.setChecked(not header.isSectionHidden(column))
            action.toggled.connect(lambda shown, c=column: header.setSectionHidden(c, not shown))

    def _table_menu(self, position) -> None:
        menu = QMenu(self)
        for action in (self.connect_action, self.manual_action, self.recheck_action,
                       self.delete_action):
            menu.addAction(action)
        menu.addSeparator()
        menu.addAction(self.copy_id_action)
        menu.popup(self.table.viewport().mapToGlobal(position))

    # --- refresh -------------------------------------------------------------------------

    def refresh(self) -> Operation | None:
        """Refresh every user from Leaf in the background; return the operation (None if off)."""
        if self.refresh_operation is not None and self.refresh_operation.running:
            return self.refresh_operation
        if not self.online:
            self.try_reconnect()
            return None

        sync = self.context.sync
        operation = Operation(self, self.tr("Refreshing users"),
                              lambda progress: sync.refresh_all(progress=progress),
                              action=self.tr("refresh the users"))
        operation.succeeded.connect(self._on_refreshed)
        operation.failed.connect(self._on_operation_failed)
        operation.finished.connect(self._on_refresh_finished)
        self.refresh_operation = operation
        self.cancel_action.setEnabled(True)
        self.refresh_action.setEnabled(False)
        operation.start()
        self.progress.track(operation)
        return operation

    def cancel_refresh(self) -> None:
        if self.refresh_operation is not None and self.refresh_operation.running:
            self.refresh_operation.cancel()

    def _on_refreshed(self, result: Any) -> None:
        error = getattr(result, "error", None)
        if isinstance(error, OfflineError):
            self._enter_offline(datetime.now(timezone.utc), error)
        elif isinstance(error, LeafError):
            self.last_failure_box = show_failure(
                self, describe_failure(error, action=self.tr("refresh the users")))
        failed = getattr(result, "failed", 0)
        if failed and error is None:
            # Stays until the next message: the operator may look away during a long refresh.
            self.statusBar().showMessage(
                self.tr("Refresh finished, but {failed} user(s) could not be read and show "
                        "their cached state.").format(failed=failed))

        # The table is filled in the next loop iteration from the rows in hand, because reading
        # them back from the cache would block the loop for longer.
        rows = list(getattr(result, "rows", None) or [])
        if rows and getattr(result, "complete", False):
            QTimer.singleShot(0, lambda: self._show_rows(rows))
        else:
            QTimer.singleShot(0, self.load_from_cache)

    def _show_rows(self, rows: list[UserRow]) -> None:
        self._set_rows_keeping_view(rows)
        self._after_rows_changed()

    def _on_refresh_finished(self) -> None:
        operation = self.refresh_operation
        self.cancel_action.setEnabled(False)
        self._update_online_widgets()
        # Queued after the rows that `_on_refreshed` queued, so it reads the refreshed row.
        QTimer.singleShot(0, self._reload_selected_user)
        if operation is not None and operation.state is OperationState.CANCELLED:
            self.statusBar().showMessage(self.tr("Refresh cancelled. The users read so far "
                                                 "are kept."), 8000)
            self.load_from_cache()

    def _periodic_refresh(self) -> None:
        if self.online:
            self.refresh()

    def _on_operation_failed(self, failure: Any) -> None:
        if isinstance(failure.error, OfflineError):
            self._enter_offline(datetime.now(timezone.utc), failure.error)

    # --- per-user actions ----------------------------------------------------------------

    def recheck_selected(self) -> Operation | None:
        """Read the selected users' state from Leaf again."""
        rows = self.selected_rows()
        if not rows or not self.online:
            return None
        ids = [row.user.id for row in rows]
        name = rows[0].user.name if len(rows) == 1 else None
        sync = self.context.sync
        operation = Operation(
            self,
            self.tr("Re-checking {name}").format(name=name) if name
            else self.tr("Re-checking {count} users").format(count=len(ids)),
            lambda progress: sync.refresh_users(ids, progress=progress),
            action=self.tr("re-check the Panorama connection"),
            leaf_user=name,
        )
        operation.succeeded.connect(self._on_users_rechecked)
        operation.failed.connect(self._on_operation_failed)
        self._track_user_operation(ids, operation)
        return operation

    def _on_users_rechecked(self, result: Any, confirmation: str = "",
                            verdict_pending: bool = False) -> None:
        error = getattr(result, "error", None)
        if isinstance(error, OfflineError):
            self._enter_offline(datetime.now(timezone.utc), error)
            return
        rows = list(getattr(result, "rows", []))
        self.model.update_rows(rows)
        failures = getattr(result, "failures", {}) or {}
        self._report_user_failures(failures, self.tr("re-check the Panorama connection"))
        self._confirm_rechecked(rows, failures, confirmation, verdict_pending)
        shown = self.details.row
        if shown is not None:
            self._load_credential(self.model.row_for(shown.user.id) or shown)
        self._after_rows_changed()
        # The change (delete, create, replace, connect or re-check) also wrote new events.
        rechecked_ids = {row.user.id for row in rows} | set(failures)
        if shown is not None and shown.user.id in rechecked_ids and self.event_log is not None:
            current = self.model.row_for(shown.user.id) or shown
            self.event_log.set_user(current.user)
            # Same credential, new events (Leaf's background check of a manual credential).
            self.event_log.reload()

    def _confirm_rechecked(self, rows: list[UserRow], failures: dict[str, Any],
                           confirmation: str = "", verdict_pending: bool = False) -> None:
        """Show in the status bar what a re-check found, for a user who may no longer be shown."""
        read = [row for row in rows if row.user.id not in failures]
        if len(read) == 1 and verdict_pending \
                and read[0].state.state is ConnectionState.CONNECTED:
            found = self.tr("Leaf accepted the credential of {name} and is checking it with "
                            "Panorama…").format(name=read[0].user.name)
        elif len(read) == 1:
            found = self.tr("{name} is now: {state}.").format(name=read[0].user.name,
                                                             state=state_text(read[0].state))
        elif read:
            found = self.tr("Re-checked {count} users.").format(count=len(read))
        else:
            found = ""
        text = " ".join(part for part in (confirmation, found) if part)
        if text:
            self.statusBar().showMessage(text, 10000)

    def _report_user_failures(self, failures: dict[str, Any], action: str) -> None:
        """Report per-user failures through the standard error box, one box for all of them."""
        if not failures:
            return
        described = []
        for user_id, error in failures.items():
            row = self.model.row_for(user_id)
            described.append(describe_failure(error, action=action,
                                              leaf_user=row.user.name if row else user_id))
        first = described[0]
        sentence = first.sentence
        if len(described) > 1:
            sentence += " " + self.tr("{count} more users failed too; see the details.").format(
                count=len(described) - 1)
        details = "\n\n".join(f"{failure.sentence}\n{failure.details}" for failure in described)
        self.last_failure_box = show_failure(self, OperationFailure(sentence, details,
                                                                    first.error))

    def _track_user_operation(self, ids: list[str], operation: Operation) -> None:
        for user_id in ids:
            self.user_operations[user_id] = operation

        def forget() -> None:
            for user_id in ids:
                if self.user_operations.get(user_id) is operation:
                    del self.user_operations[user_id]
            self._update_user_actions()

        operation.finished.connect(forget)
        operation.start()
        if self.refresh_operation is None or not self.refresh_operation.running:
            self.progress.track(operation)
        self._update_user_actions()

    def _selected_user(self) -> UserRow | None:
        row = self.current_row()
        return self.model.row_for(row.user.id) if row is not None else None

    def open_one_click(self) -> QWidget | None:
        """Open the one-click form for the selected user (non-modal)."""
        row = self._selected_user()
        if row is None or not self.online:
            return None
        from leafdesk.ui.one_click_dialog import OneClickDialog

        dialog = OneClickDialog(self, self.context.connect, row.user,
                                list(self.context.settings.presets), self.context.secrets)
        dialog.started.connect(lambda _pending: self._recheck_ids([row.user.id]))
        dialog.outcome.connect(lambda _outcome: self._recheck_ids([row.user.id]))
        return self._open_dialog(dialog)

    def open_manual(self) -> QWidget | None:
        """Open the manual credential form for the selected user (non-modal)."""
        row = self._selected_user()
        if row is None or not self.online:
            return None
        from leafdesk.ui.manual_dialog import ManualDialog

        existing = self.details.credential if self.details.row and \
            self.details.row.user.id == row.user.id else None
        if existing is None and has_credential(row):
            # NOTE: the credential was not read yet; the form still offers Replace because the
            # row shows one, using the summary Leaf embedded in the user.
            existing = _summary_credential(row)
        dialog = ManualDialog(self, self.context.connect, row.user, existing,
                              presets=list(self.context.settings.presets),
                              secrets=self.context.secrets)
        dialog.saved.connect(lambda _credential: self._recheck_ids(
            [row.user.id], verdict_pending=dialog.verdict_pending))
        dialog.checked.connect(lambda _credential: self._recheck_ids(
            [row.user.id], verdict_pending=dialog.verdict_pending))
        return self._open_dialog(dialog)

    def open_delete(self) -> QWidget | None:
        """Open the delete confirmation for the selected user's credential (non-modal).

        The delete itself runs in the background after the operator confirms.
        """
        row = self._selected_user()
        if row is None or not self.online or not has_credential(row):
            return None
        from leafdesk.ui.delete_dialog import DeleteDialog

        credential = self.details.credential if self.details.row and \
            self.details.row.user.id == row.user.id else None
        dialog = DeleteDialog(self, row.user, credential or _summary_credential(row))
        dialog.confirmed.connect(lambda: self.delete_credential(row))
        return self._open_dialog(dialog)

    def delete_credential(self, row: UserRow) -> Operation:
        """Delete a user's Panorama credential in the background, then re-check them."""
        connect = self.context.connect
        operation = Operation(
            self, self.tr("Deleting the credential of {name}").format(name=row.user.name),
            lambda progress: connect.delete(row.user),
            action=self.tr("delete the Panorama credential"), leaf_user=row.user.name,
            cancellable=False,
        )
        operation.failed.connect(self._on_operation_failed)
        operation.succeeded.connect(lambda _result: self._on_deleted(row))
        self._track_user_operation([row.user.id], operation)
        return operation

    def _on_deleted(self, row: UserRow) -> None:
        self._recheck_ids([row.user.id], confirmation=self.tr(
            "Deleted the Panorama credential of {name}.").format(name=row.user.name))

    def _recheck_ids(self, ids: list[str], confirmation: str = "", *,
                     verdict_pending: bool = False) -> None:
        """Re-check users after a change; `confirmation` opens the status message that follows.

        `verdict_pending` means Leaf has not tried a new manual credential with Panorama yet, so
        an OK status is reported as being checked rather than as Connected.
        """
        if not self.online:
            return
        sync = self.context.sync
        operation = Operation(self, self.tr("Re-checking"),
                              lambda progress: sync.refresh_users(ids, progress=progress),
                              action=self.tr("re-check the Panorama connection"))
        operation.succeeded.connect(
            lambda result: self._on_users_rechecked(result, confirmation, verdict_pending))
        operation.failed.connect(self._on_operation_failed)
        self._track_user_operation(ids, operation)

    def _open_dialog(self, dialog: QWidget) -> QWidget:
        # Non-modal: a refresh keeps running behind it. Keep a reference until it closes.
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        self._dialogs.append(dialog)
        dialog.destroyed.connect(lambda *_: self._dialogs.remove(dialog)
                                 if dialog in self._dialogs else None)
        finished = getattr(dialog, "finished", None)
        (finished or dialog.destroyed).connect(self.return_focus_to_table)
        dialog.show()
        dialog.raise_()
        dialog.activateWindow()
        return dialog

    def return_focus_to_table(self, *_args: Any) -> None:
        """Give the keyboard back to the table once a dialog closes.

        Without a window manager no one activates the window again, so F5 and Delete would do
        nothing until the table was clicked.
        """
        self.activateWindow()
        self.table.setFocus(Qt.FocusReason.OtherFocusReason)

    @property
    def open_dialogs(self) -> list[QWidget]:
        return list(self._dialogs)

    def _update_user_actions(self) -> None:
        row = self._selected_user()
        busy = row is not None and row.user.id in self.user_operations
        self.details.set_busy(busy)
        reason = self._offline_reason()
        has_row = row is not None
        credential_known = has_row and has_credential(row)
        for action, needs_credential in ((self.connect_action, False),
                                         (self.manual_action, False),
                                         (self.recheck_action, False),
                                         (self.delete_action, True)):
            enabled = self.online and has_row and not busy and (credential_known
                                                                or not needs_credential)
            action.setEnabled(enabled)
            action.setToolTip(reason if not self.online else action.text().replace("&", ""))
        self.copy_id_action.setEnabled(bool(self.selected_rows()))

    # --- online and offline --------------------------------------------------------------

    def _offline_reason(self) -> str:
        if not self.context.session_open:
            return self.tr("LeafDesk is signing in to Leaf and shows the offline cache until then.")
        return self.tr("Leaf cannot be reached, so LeafDesk is showing the offline cache.")

    def _enter_offline(self, since: datetime | None, error: LeafError | None = None) -> None:
        if error is not None:
            log.warning("Going offline: %s", error.sentence())
        if self.online or self.offline_since is None:
            self.offline_since = since or datetime.now(timezone.utc)
        was_online = self.online
        self.online = False
        self.context.online = False
        self.context.offline_since = self.offline_since
        if not self.reconnect_timer.isActive():
            self.reconnect_timer.start()
        self._update_online_widgets()
        if was_online:
            self.went_offline.emit()

    def _enter_online(self) -> None:
        log.info("Leaf at %s responds again; back online", self.context.account.base_url)
        self.online = True
        self.offline_since = None
        self.context.online = True
        self.context.offline_since = None
        self.reconnect_timer.stop()
        self.banner.show_check_result("")
        self._update_online_widgets()
        self.came_online.emit()
        self.refresh()

    def try_reconnect(self) -> None:
        """Check whether Leaf can be reached again (sign in); come back online and refresh."""
        if self.online or self._reconnecting or not self.context.session_open:
            return
        self._reconnecting = True
        self.banner.set_checking(True)

        async def check() -> None:
            try:
                await self.context.client.sign_in()
            except LeafError as error:
                log.info("Leaf still cannot be reached: %s", error.sentence())
                reason = getattr(error, "message", "") or error.sentence()
                self.banner.show_check_result(self.tr(
                    "Still offline: {reason}, checked at {time}.").format(
                    reason=reason.rstrip("."),
                    time=datetime.now().astimezone().strftime("%H:%M:%S")))
                return
            finally:
                self._reconnecting = False
                self.banner.set_checking(False)
            self._enter_online()

        aio.spawn(check(), name="reconnect")

    def _update_online_widgets(self) -> None:
        reason = self._offline_reason()
        if self.online:
            self.banner.hide()
            self.connection_label.setText(self.tr("● Online"))
            self.connection_label.setToolTip(self.context.account.base_url)
        elif not self.context.session_open:
            self.banner.hide()
            self.connection_label.setText(self.tr("○ Signing in…"))
            self.connection_label.setToolTip(reason)
        else:
            record = self.context.cache.last_sync()
            self.banner.show_offline(self.offline_since, record.finished_at if record else None,
                                     RECONNECT_SECONDS)
            self.connection_label.setText(self.tr("○ Offline"))
            self.connection_label.setToolTip(reason)

        refreshing = self.refresh_operation is not None and self.refresh_operation.running
        self.refresh_action.setEnabled(self.online and not refreshing)
        self.refresh_action.setToolTip(self.tr("Read every user's state from Leaf (F5)")
                                       if self.online else reason)
        self.details.set_online(self.online, reason)
        if self.event_log is not None:
            self.event_log.set_online(self.online)
        self._update_user_actions()

    # --- layout memory -------------------------------------------------------------------

    def _restore_layout(self) -> None:
        if self.window_state is None:
            return
        geometry = self.window_state.get("main/geometry")
        if geometry is not None:
            self.restoreGeometry(geometry)
        header = self.window_state.get("main/columns")
        if header is not None:
            self.table.horizontalHeader().restoreState(header)
        for key, splitter in (("main/top-splitter", self.top_splitter),
                              ("main/main-splitter", self.main_splitter)):
            value = self.window_state.get(key)
            if value is not None:
                splitter.restoreState(value)

    def save_layout(self) -> None:
        """Remember geometry, splitter sizes and the table's columns (order, width, shown)."""
        if self.window_state is None:
            return
        self.window_state.put("main/geometry", self.saveGeometry())
        self.window_state.put("main/columns", self.table.horizontalHeader().saveState())
        self.window_state.put("main/top-splitter", self.top_splitter.saveState())
        self.window_state.put("main/main-splitter", self.main_splitter.saveState())
        self.window_state.save()

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802 - Qt override
        self.save_layout()
        self.refresh_timer.stop()
        self.reconnect_timer.stop()
        self.search_prepare_timer.stop()
        if self._credential_task is not None and not self._credential_task.done():
            self._credential_task.cancel()
        if self.session_task is not None and not self.session_task.done():
            self.session_task.cancel()
        if self.refresh_operation is not None and self.refresh_operation.running:
            self.refresh_operation.cancel()
        for dialog in list(self._dialogs):
            dialog.close()
        super().closeEvent(event)


def _same_credential(row: UserRow, credential: Any) -> bool:
    """Return False when the row shows no credential or another one than `credential`."""
    if not has_credential(row):
        return False
    summary = row.user.panorama
    if summary is None or not summary.id or not getattr(credential, "id", ""):
        return True
    return summary.id == credential.id


def _summary_credential(row: UserRow):
    """Build a credential from the users table's fields, for forms that need one."""
    from leafdesk.core.model import PanoramaCredential

    summary = row.user.panorama
    if summary is None and not has_credential(row):
        return None
    return PanoramaCredential(
        id=summary.id if summary else "",
        leaf_user_id=row.user.id,
        status=(summary.status if summary else None) or row.state.raw_status or "",
        created_time=summary.created_time if summary else row.connected_since,
        organization_code=row.organization_code,
        client_environment=row.client_environment,
    )
