"""Resident memory of the window with 50,000 users, beside a bare PySide6 window.

Each case runs in a fresh Python process and reports its resident set size (VmRSS from
/proc/self/status, Linux only) once the window is shown and painted:
- baseline: a QMainWindow holding an empty QTableView;
- LeafDesk: the main window over a cache of 50,000 users, with every row's search text built
  (as after the first search) and the table sorted by name.
Target: LeafDesk under 300 MB. Run with `python bench/ui_memory.py [--users N]`.
"""

from __future__ import annotations

import argparse
import gc
import os
import subprocess
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
sys.path.insert(0, str(Path(__file__).parent))


def resident_megabytes() -> float:
    """Return this process's resident set size in MB (10^6 bytes)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024 / 1e6
    raise SystemExit("VmRSS not found: this benchmark reads /proc and runs on Linux only")


def child_bare() -> float:
    from PySide6.QtWidgets import QApplication, QMainWindow, QTableView

    app = QApplication(sys.argv[:1])
    window = QMainWindow()
    table = QTableView(window)
    window.setCentralWidget(table)
    window.resize(1280, 800)
    window.show()
    app.processEvents()
    table.viewport().repaint()
    gc.collect()
    return resident_megabytes()


def child_leafdesk(cache_file: Path) -> float:
    from ui_support import isolate_folders, show_full_window

    isolate_folders()
    from leafdesk.ui import aio

    app = aio.application(sys.argv[:1])
    aio.event_loop(app)
    window = show_full_window(app, cache_file)
    while not window.model.prepare_search(5000):
        pass
    window.search_edit.setText("ranch")
    window.table.viewport().repaint()
    window.search_edit.clear()
    gc.collect()
    if window.model.rowCount() == 0:
        raise SystemExit("the window showed no rows")
    return resident_megabytes()


def run_case(case: str, cache_file: Path) -> float:
    output = subprocess.run([sys.executable, __file__, "--child", case, "--cache", str(cache_file)],
                            check=True, capture_output=True, text=True).stdout
    return float(output.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=50_000)
    parser.add_argument("--child", choices=("bare", "leafdesk"))
    parser.add_argument("--cache", type=Path)
    options = parser.parse_args()

    if options.child == "bare":
        print(f"{child_bare():.1f}")
        return
    if options.child == "leafdesk":
        print(f"{child_leafdesk(options.cache):.1f}")
        return

    from ui_support import isolate_folders, write_cache

    isolate_folders()
    folder = Path(tempfile.mkdtemp(prefix="leafdesk-bench-cache-"))
    cache_file = write_cache(folder / "cache.sqlite3", options.users)
    bare = run_case("bare", cache_file)
    leafdesk = run_case("leafdesk", cache_file)
    print(f"bare PySide6 window, empty table: {bare:.0f} MB resident")
    print(f"LeafDesk window, {options.users:,} users: {leafdesk:.0f} MB resident "
          f"({leafdesk - bare:.0f} MB above the bare window; target: under 300 MB)")
    print(f"ratio {leafdesk / bare:.2f}")


if __name__ == "__main__":
    main()
