"""Entry script of the frozen LeafDesk app: the same `main()` that the `leafdesk` command runs.

PyInstaller needs a script file rather than a console-script entry point, and this file keeps the
frozen app and `leafdesk` on one code path.
"""

from __future__ import annotations

import sys

from leafdesk.main import main

if __name__ == "__main__":
    sys.exit(main())
