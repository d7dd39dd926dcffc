"""The `leafdesk` command: the window, `--demo`, `--self-test`, or the terminal views.

`leafdesk status ...` and `leafdesk events ...` go to `leafdesk.cli.run` without loading Qt;
everything else starts the window.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
from collections.abc import Sequence
from pathlib import Path

from leafdesk import __version__

log = logging.getLogger(__name__)

TERMINAL_COMMANDS = ("status", "events")

# Libraries that Qt 6's xcb platform plugin loads, with the Debian and Ubuntu package of each.
# Sources: "Qt for X11 Requirements" (doc.qt.io/qt-6/linux-requirements.html) and, for
# libxcb-cursor0, Qt's own warning "From 6.5.0, xcb-cursor0 or libxcb-cursor0 is needed". The
# README's Linux requirements list the same packages.
XCB_LIBRARIES = {
    "xcb-cursor": "libxcb-cursor0",
    "xcb-icccm": "libxcb-icccm4",
    "xcb-keysyms": "libxcb-keysyms1",
    "xcb-image": "libxcb-image0",
    "xcb-render-util": "libxcb-render-util0",
    "xcb-shape": "libxcb-shape0",
    "xcb-randr": "libxcb-randr0",
    "xcb-xfixes": "libxcb-xfixes0",
    "xcb-xkb": "libxcb-xkb1",
    "xcb-sync": "libxcb-sync1",
    "xcb-shm": "libxcb-shm0",
    "X11-xcb": "libx11-xcb1",
    "xkbcommon": "libxkbcommon0",
    "xkbcommon-x11": "libxkbcommon-x11-0",
    "EGL": "libegl1",
    "GL": "libgl1",
    "fontconfig": "libfontconfig1",
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="leafdesk",
        description="Connect growers' Precision Planting Panorama accounts to Leaf users, and "
                    "keep watch over those connections.",
        epilog="Terminal views: `leafdesk status --help` and `leafdesk events --help`.",
    )
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--demo", action="store_true",
                      help="start the Leaf sandbox on 127.0.0.1 with demo data, sign in to it "
                           "and open the window")
    mode.add_argument("--self-test", action="store_true",
                      help="open every screen offscreen against the demo sandbox, refresh and "
                           "connect one user; exit 0, or print what failed and exit 1")
    parser.add_argument("--version", action="version", version=f"LeafDesk {__version__}")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run `leafdesk` with `argv` (default: the process arguments); return the exit status."""
    arguments = list(sys.argv[1:] if argv is None else argv)
    if arguments and arguments[0] in TERMINAL_COMMANDS:
        from leafdesk.cli import run

        return run(arguments)

    options = build_parser().parse_args(arguments)
    if options.self_test:
        from leafdesk.ui.selftest import run_self_test

        return run_self_test(_start_demo)
    return run_window(demo=options.demo)


def _start_demo(**options):
    # Imported late: only the demo and the self-test start a sandbox.
    from leafdesk.demo import start_demo

    return start_demo(**options)


async def _start_demo_in_background(**options):
    # Imported late: the sandbox and its web stack cost an estimated 0.1 s to import, which the
    # window's first paint should not wait for when no demo is requested.
    from leafdesk.demo import start_demo_in_background

    return await start_demo_in_background(**options)


def run_window(*, demo: bool = False) -> int:
    """Open the sign-in dialog (or the demo) and run the window until it closes."""
    from leafdesk.core.logsetup import configure_logging
    from leafdesk.core.secrets import SecretStore
    from leafdesk.core.settings import SettingsStore
    from leafdesk.ui import aio
    from leafdesk.ui.app import LeafDeskApp, route_qt_messages_to_logging
    from leafdesk.ui.window_state import WindowStateStore

    log_file = configure_logging()
    route_qt_messages_to_logging()
    logging_handler = _report_platform_failure(log_file)
    app = aio.application(sys.argv[:1])
    _stop_reporting_platform_failure(logging_handler)
    app.setApplicationName("LeafDesk")
    app.setApplicationDisplayName("LeafDesk")
    app.setApplicationVersion(__version__)
    _quit_on_interrupt(app)

    controller = LeafDeskApp(
        settings_store=SettingsStore(),
        secrets=SecretStore(),
        start_demo=_start_demo_in_background,
        log_folder=log_file.parent,
        window_state=WindowStateStore(),
    )
    # A window started from the cache paints before the event loop (asyncio and qasync) exists.
    # run_forever() creates the loop when the window requests it after that paint.
    controller.start(demo=demo)
    status = aio.run_forever()
    aio.run_until_complete(controller.shutdown())
    aio.close()
    return status


def missing_xcb_packages(find_library=None) -> list[str]:
    """Return the Debian packages of the xcb plugin's libraries that the linker cannot find."""
    if find_library is None:
        # Imported here: it is needed only after Qt failed, and the terminal views start faster.
        from ctypes.util import find_library
    return [package for library, package in XCB_LIBRARIES.items()
            if find_library(library) is None]


def platform_failure_message(qt_message: str, log_file: Path | None, *,
                             platform: str = sys.platform,
                             missing: list[str] | None = None) -> str:
    """Return the lines printed when Qt cannot start its platform plugin."""
    reason = qt_message.strip().splitlines()[0] if qt_message.strip() else "no reason given"
    lines = [f"LeafDesk could not open its window because Qt could not start its platform "
             f"plugin: {reason.rstrip('.')}."]
    if platform.startswith("linux"):
        missing = missing_xcb_packages() if missing is None else missing
        if missing:
            lines.append("Install the missing libraries, then start LeafDesk again: "
                         f"sudo apt install {' '.join(missing)}")
        else:
            lines.append("Check that DISPLAY (or WAYLAND_DISPLAY) names a running display. "
                         "Without a display, only `QT_QPA_PLATFORM=offscreen leafdesk "
                         "--self-test` can run.")
    if log_file is not None:
        lines.append(f"Details are in {log_file}.")
    return "\n".join(lines)


def _report_platform_failure(log_file: Path | None):
    """Print why the window cannot start if Qt fails fatally while creating the application.

    Qt aborts the process right after a fatal message, and the logging handler writes that
    message only to the log file, so the terminal would show only "Aborted".
    """
    from PySide6.QtCore import QtMsgType, qInstallMessageHandler

    previous = None
    # Qt names the actual cause (no display, a missing library) in warnings of the "qt.qpa"
    # categories before its generic fatal message.
    platform_warnings: list[str] = []

    def handler(kind, context, message: str) -> None:
        if previous is not None:
            previous(kind, context, message)
        category = getattr(context, "category", "") or ""
        if kind != QtMsgType.QtFatalMsg and str(category).startswith("qt.qpa"):
            platform_warnings.append(message)
        if kind == QtMsgType.QtFatalMsg:
            reason = platform_warnings[-1] if platform_warnings else message
            print(platform_failure_message(reason, log_file), file=sys.stderr, flush=True)
            logging.shutdown()
            os._exit(1)  # Qt would abort next; exit with a status scripts can read

    previous = qInstallMessageHandler(handler)
    return previous


def _stop_reporting_platform_failure(previous) -> None:
    from PySide6.QtCore import qInstallMessageHandler

    qInstallMessageHandler(previous)


def _quit_on_interrupt(app) -> None:
    # Qt's loop does not return to Python on its own, so Ctrl+C in the terminal would wait for
    # the next event. A 250 ms timer gives Python's signal handler a chance to run.
    from PySide6.QtCore import QTimer

    signal.signal(signal.SIGINT, lambda *_: app.quit())
    timer = QTimer(app)
    timer.timeout.connect(lambda: None)
    timer.start(250)


if __name__ == "__main__":
    sys.exit(main())
