"""Time until the window shows its table of 50,000 cached users, beside a bare PySide6 window.

Each case runs in a fresh Python process and is timed from the process's first line (before
PySide6 is imported) to the first paint of the table's viewport after the window is shown:
- baseline: a QMainWindow holding an empty QTableView;
- LeafDesk: the main window over a cache of 50,000 users, its first screen of rows painted.
  The window starts as LeafDeskApp starts a saved account: it reads the first screen of users
  from the cache. Right after the first paint it reads the other users and opens its session,
  which imports the client (httpx, truststore) and keyring and signs in. Nothing
  listens at the session's loopback address, so it opens offline. As in `leafdesk`, the event
  loop (asyncio and qasync) is created right after the first paint. The times until all 50,000
  users are in the table and until the session is open are reported too.
The cases alternate, 5 runs each, after one untimed run of each; the medians and their ratio
are printed. Target: at most 2.
The children load Python's bytecode from a cache in a temporary folder (PYTHONPYCACHEPREFIX),
filled by the untimed runs, as an installed LeafDesk loads the bytecode pip compiled at install.
Without it, a checkout whose environment sets PYTHONDONTWRITEBYTECODE compiles every LeafDesk
module in every run; `--compile-each-run` measures that way.
Run with `python bench/ui_startup.py [--users N] [--runs N] [--compile-each-run]`.
"""

from __future__ import annotations

import time

STARTED = time.perf_counter()

import argparse  # noqa: E402 - timing starts before every import
import os  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
from pathlib import Path  # noqa: E402

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


def _paint_watcher(viewport, needs_rows, *, quit_application=True):
    """Time the viewport's first paint once `needs_rows()` holds, and quit the application then.

    With `quit_application` false, the application goes on running.
    """
    from PySide6.QtCore import QEvent, QObject
    from PySide6.QtWidgets import QApplication

    class Watcher(QObject):
        elapsed: float | None = None

        def eventFilter(self, watched, event):  # noqa: N802 - Qt's name
            if event.type() == QEvent.Type.Paint and self.elapsed is None and needs_rows():
                self.elapsed = time.perf_counter() - STARTED
                if quit_application:
                    QApplication.instance().quit()
            return False

    watcher = Watcher()
    viewport.installEventFilter(watcher)
    return watcher


def child_bare() -> float:
    from PySide6.QtWidgets import QApplication, QMainWindow, QTableView

    app = QApplication(sys.argv[:1])
    window = QMainWindow()
    table = QTableView(window)
    window.setCentralWidget(table)
    window.resize(1280, 800)
    watcher = _paint_watcher(table.viewport(), lambda: True)
    window.show()
    app.exec()
    return watcher.elapsed


def child_leafdesk(cache_file: Path) -> tuple[float, float, float]:
    sys.path.insert(0, str(Path(__file__).parent))
    from ui_support import cache_first_window, isolate_folders

    isolate_folders()
    from leafdesk.ui import aio
    from leafdesk.ui.main_window import FIRST_SCREEN_ROWS

    # As `leafdesk.main.run_window` starts a saved account: the event loop (asyncio and qasync)
    # is created by `aio.run_forever()` when the window requests it after its first paint.
    app = aio.application(sys.argv[:1])
    window = cache_first_window(cache_file)
    session: list[float] = []
    all_rows: list[float] = []

    def quit_when_done() -> None:
        if window.rows_complete and not all_rows:  # a cache of at most one screen of users
            all_rows.append(time.perf_counter() - STARTED)
        if all_rows and session:
            app.quit()

    def on_session(_context) -> None:
        session.append(time.perf_counter() - STARTED)
        quit_when_done()

    def on_rows() -> None:
        # The model is reset with every cached user once the first screen has been painted.
        if window.model.rowCount() > FIRST_SCREEN_ROWS and not all_rows:
            all_rows.append(time.perf_counter() - STARTED)
        quit_when_done()

    window.session_opened.connect(on_session)
    window.model.modelReset.connect(on_rows)
    window.session_failed.connect(lambda error: sys.exit(f"the session failed: {error}"))
    watcher = _paint_watcher(window.table.viewport(), lambda: window.model.rowCount() > 0,
                             quit_application=False)
    window.show()
    # The rest of the rows and the session (offline: nothing listens at its base URL) follow
    # the first paint; the event loop runs them.
    aio.run_forever()
    if watcher.elapsed is None or window.model.rowCount() == 0:
        raise SystemExit("the window showed no rows")
    return watcher.elapsed, all_rows[0], session[0]


def run_case(case: str, cache_file: Path, environment: dict[str, str]) -> list[float]:
    output = subprocess.run(
        [sys.executable, __file__, "--child", case, "--cache", str(cache_file)],
        check=True, capture_output=True, text=True, env=environment,
    ).stdout
    return [float(value) for value in output.strip().splitlines()[-1].split()]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=50_000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--child", choices=("bare", "leafdesk"))
    parser.add_argument("--cache", type=Path)
    parser.add_argument("--compile-each-run", action="store_true",
                        help="keep the environment's bytecode setting and skip the untimed runs")
    options = parser.parse_args()

    if options.child == "bare":
        print(f"{child_bare():.4f}")
        return
    if options.child == "leafdesk":
        first_screen, all_rows, session = child_leafdesk(options.cache)
        print(f"{first_screen:.4f} {all_rows:.4f} {session:.4f}")
        return

    sys.path.insert(0, str(Path(__file__).parent))
    from ui_support import isolate_folders, write_cache

    isolate_folders()
    folder = Path(tempfile.mkdtemp(prefix="leafdesk-bench-cache-"))
    cache_file = write_cache(folder / "cache.sqlite3", options.users)

    environment = dict(os.environ)
    if not options.compile_each_run:
        environment.pop("PYTHONDONTWRITEBYTECODE", None)
        environment["PYTHONPYCACHEPREFIX"] = tempfile.mkdtemp(prefix="leafdesk-bench-pyc-")
        run_case("bare", cache_file, environment)
        run_case("leafdesk", cache_file, environment)

    bare: list[float] = []
    first_screen: list[float] = []
    all_rows: list[float] = []
    session: list[float] = []
    for _ in range(options.runs):
        bare.append(run_case("bare", cache_file, environment)[0])
        first, complete, opened = run_case("leafdesk", cache_file, environment)
        first_screen.append(first)
        all_rows.append(complete)
        session.append(opened)

    def line(times: list[float]) -> str:
        return (f"median {statistics.median(times):.3f} s "
                f"({', '.join(f'{t:.3f}' for t in times)})")

    bare_median = statistics.median(bare)
    print(f"bare PySide6 window, empty table painted: {line(bare)}")
    print(f"LeafDesk window, first screen of {options.users:,} users painted: {line(first_screen)}")
    print(f"LeafDesk window, all {options.users:,} users in the table: {line(all_rows)}")
    print(f"LeafDesk window, session open (offline, nothing listens): {line(session)}")
    print(f"ratio, first screen: {statistics.median(first_screen) / bare_median:.2f}; "
          f"all users: {statistics.median(all_rows) / bare_median:.2f} (target: at most 2)")


if __name__ == "__main__":
    main()
