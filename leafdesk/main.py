"""The `leafdesk` command: the window, `--demo`, `--self-test`, or the terminal views.

`leafdesk status ...` and `leafdesk events ...` go to `leafdesk.cli.run` without loading Qt;
everything else starts the window.
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
from collections.abc import Sequence

from leafdesk import __version__

log = logging.getLogger(__name__)

TERMINAL_COMMANDS = ("status", "events")


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


def run_window(*, demo: bool = False) -> int:
    """Open the sign-in dialog (or the demo) and run the window until it closes."""
    from leafdesk.core.logsetup import configure_logging
    from leafdesk.core.secrets import SecretStore
    from leafdesk.core.settings import SettingsStore
    from leafdesk.demo import start_demo_in_background
    from leafdesk.ui import aio
    from leafdesk.ui.app import LeafDeskApp, route_qt_messages_to_logging
    from leafdesk.ui.window_state import WindowStateStore

    log_file = configure_logging()
    route_qt_messages_to_logging()
    app = aio.application(sys.argv[:1])
    app.setApplicationName("LeafDesk")
    app.setApplicationDisplayName("LeafDesk")
    app.setApplicationVersion(__version__)
    aio.event_loop(app)
    _quit_on_interrupt(app)

    controller = LeafDeskApp(
        settings_store=SettingsStore(),
        secrets=SecretStore(),
        start_demo=start_demo_in_background,
        log_folder=log_file.parent,
        window_state=WindowStateStore(),
    )
    controller.start(demo=demo)
    status = aio.run_forever()
    aio.run_until_complete(controller.shutdown())
    aio.close()
    return status


def _quit_on_interrupt(app) -> None:
    # Qt's loop does not return to Python on its own, so Ctrl+C in the terminal would wait for
    # the next event; a short timer gives Python's signal handler a chance to run.
    from PySide6.QtCore import QTimer

    signal.signal(signal.SIGINT, lambda *_: app.quit())
    timer = QTimer(app)
    timer.timeout.connect(lambda: None)
    timer.start(250)


if __name__ == "__main__":
    sys.exit(main())
