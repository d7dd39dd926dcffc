"""Time per keystroke of the users table's search over 50,000 rows, beside Qt's stock filter.

LeafDesk: the main window over a cache of 50,000 users. Each keystroke is typed into the search
box with QTest and timed until the table's viewport has repainted (`repaint()` paints at once).
Baseline: the same 50,000 rows of display strings in a plain QAbstractTableModel behind a stock
QSortFilterProxyModel (`setFilterFixedString`, every column, case-insensitive), the same
keystrokes timed the same way. The query is typed letter by letter, then erased letter by
letter. Target: a median under 50 ms a keystroke.
Run with `python bench/ui_search.py [--users N]`.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
sys.path.insert(0, str(Path(__file__).parent))

QUERIES = ("willow ranch 1", "crm-1234", "needs re")


def keystrokes(edit, query: str, after) -> list[float]:
    """Type `query` into `edit` and erase it, one key at a time; return each key's seconds."""
    from PySide6.QtCore import Qt
    from PySide6.QtTest import QTest

    timings = []
    keys = [(character, None) for character in query] + [(None, Qt.Key.Key_Backspace)] * len(query)
    for character, key in keys:
        started = time.perf_counter()
        if key is None:
            QTest.keyClicks(edit, character)
        else:
            QTest.keyClick(edit, key)
        after()
        timings.append(time.perf_counter() - started)
    return timings


def baseline_timings(rows) -> list[float]:
    from PySide6.QtCore import QAbstractTableModel, QModelIndex, QSortFilterProxyModel, Qt
    from PySide6.QtWidgets import QLineEdit, QTableView, QVBoxLayout, QWidget

    from leafdesk.ui.users_model import UsersModel

    display = [UsersModel._make_display(row) for row in rows]

    class PlainModel(QAbstractTableModel):
        def rowCount(self, parent=QModelIndex()):  # noqa: N802
            return 0 if parent.isValid() else len(display)

        def columnCount(self, parent=QModelIndex()):  # noqa: N802
            return 0 if parent.isValid() else len(display[0])

        def data(self, index, role=Qt.ItemDataRole.DisplayRole):
            if role == Qt.ItemDataRole.DisplayRole:
                return display[index.row()][index.column()]
            return None

    window = QWidget()
    edit = QLineEdit(window)
    table = QTableView(window)
    model = PlainModel()
    proxy = QSortFilterProxyModel()
    proxy.setSourceModel(model)
    proxy.setFilterKeyColumn(-1)
    proxy.setFilterCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)
    table.setModel(proxy)
    edit.textChanged.connect(proxy.setFilterFixedString)
    layout = QVBoxLayout(window)
    layout.addWidget(edit)
    layout.addWidget(table)
    window.resize(1280, 800)
    window.show()
    table.viewport().repaint()

    timings = []
    for query in QUERIES:
        timings += keystrokes(edit, query, table.viewport().repaint)
    window.close()
    return timings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=50_000)
    options = parser.parse_args()

    from ui_support import isolate_folders, make_rows, show_full_window, write_cache

    isolate_folders()
    from leafdesk.ui import aio

    app = aio.application(sys.argv[:1])
    aio.event_loop(app)
    folder = Path(tempfile.mkdtemp(prefix="leafdesk-bench-cache-"))
    cache_file = write_cache(folder / "cache.sqlite3", options.users)

    window = show_full_window(app, cache_file)
    window.search_prepare_timer.stop()  # built here in one go, and timed
    started = time.perf_counter()
    while not window.model.prepare_search(5000):
        pass
    prepare_seconds = time.perf_counter() - started

    leafdesk = []
    for query in QUERIES:
        leafdesk += keystrokes(window.search_edit, query, window.table.viewport().repaint)
    window.close()

    baseline = baseline_timings(make_rows(options.users))

    def summary(timings: list[float]) -> str:
        ordered = sorted(timings)
        return (f"median {statistics.median(timings) * 1000:.1f} ms, "
                f"90th percentile {ordered[int(len(ordered) * 0.9)] * 1000:.1f} ms, "
                f"max {max(timings) * 1000:.1f} ms over {len(timings)} keystrokes")

    print(f"{options.users:,} users; queries typed and erased: {', '.join(QUERIES)}")
    print(f"search text built while idle after the load: {prepare_seconds:.2f} s")
    print(f"LeafDesk search:        {summary(leafdesk)}")
    print(f"stock Qt filter proxy:  {summary(baseline)}")
    print(f"ratio of medians {statistics.median(leafdesk) / statistics.median(baseline):.2f}; "
          f"target: LeafDesk median under 50 ms")


if __name__ == "__main__":
    main()
