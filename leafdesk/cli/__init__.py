"""LeafDesk's terminal views, `leafdesk status` and `leafdesk events`, over the window's core.

`run(argv)` takes the arguments after `leafdesk` (so `argv[0]` is the subcommand) and returns the
exit status.
"""

from __future__ import annotations

from leafdesk.cli.commands import run

__all__ = ["run"]
