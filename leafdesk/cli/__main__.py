"""Run the terminal views as `python -m leafdesk.cli status` or `... events USER`."""

from __future__ import annotations

import sys

from leafdesk.cli import run

if __name__ == "__main__":
    raise SystemExit(run(sys.argv[1:]))
