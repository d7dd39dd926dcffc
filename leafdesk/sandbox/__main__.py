"""`python -m leafdesk.sandbox` runs the same command as `leafdesk-sandbox`."""

from __future__ import annotations

import sys

from .cli import main

sys.exit(main())
