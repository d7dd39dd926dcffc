"""The sandbox clock and Leaf's date formats.

Every time the sandbox hands out or checks comes from one `SandboxClock`: token `iat`/`exp`,
created dates, share expiry, the health process and the 30-day event purge. The clock runs at
real time times a speed factor and can be moved forward by hand.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime

# Leaf mixes three date forms; the sandbox sends all three so that clients meet each of them.
DATE_MILLIS_Z = 0  # 2024-05-01T12:00:00.123Z
DATE_MICROS_Z = 1  # 2024-05-01T12:00:00.123456Z
DATE_ZONELESS = 2  # 2024-05-01T12:00:00.123456 (UTC without saying so)


class SandboxClock:
    """Seconds since the epoch on the sandbox's own time line.

    Sandbox time = start wall time + (elapsed real time x speed) + seconds advanced by hand.
    It never goes backwards.
    """

    def __init__(self, speed: float = 1.0, *, advanced: float = 0.0) -> None:
        self.speed = speed
        self._start_wall = time.time()
        self._start_monotonic = time.monotonic()
        self.advanced = advanced

    def now(self) -> float:
        elapsed = time.monotonic() - self._start_monotonic
        return self._start_wall + elapsed * self.speed + self.advanced

    def advance(self, seconds: float) -> float:
        """Move the clock forward by `seconds` and return the new time."""
        if seconds < 0:
            raise ValueError("the sandbox clock only moves forward")
        self.advanced += seconds
        return self.now()

    def restart(self) -> None:
        """Put the clock back on real time, forgetting manual advances."""
        self._start_wall = time.time()
        self._start_monotonic = time.monotonic()
        self.advanced = 0.0


def format_date(timestamp: float, form: int = DATE_MICROS_Z) -> str:
    """Format a timestamp in one of Leaf's three date forms."""
    moment = datetime.fromtimestamp(timestamp, tz=UTC)
    text = moment.strftime("%Y-%m-%dT%H:%M:%S.%f")
    if form == DATE_MILLIS_Z:
        return text[:-3] + "Z"
    if form == DATE_ZONELESS:
        return text
    return text + "Z"


def iso_utc(timestamp: float) -> str:
    """Format a timestamp for the test controls: one fixed form with a zone."""
    return format_date(timestamp, DATE_MILLIS_Z)
