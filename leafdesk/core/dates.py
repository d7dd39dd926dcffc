"""Parsing of the dates Leaf sends, which mix three ISO-8601 forms, into aware UTC datetimes.

Leaf writes `2024-05-01T10:20:30.123Z`, `2024-05-01T10:20:30.123456Z` and zoneless
`2024-05-01T10:20:30.123456` side by side. A value with no zone is UTC.
"""

from __future__ import annotations

import logging
import re
from datetime import UTC, datetime

logger = logging.getLogger(__name__)

# The fraction of seconds, with a dot or a comma as decimal sign. It may have more than six
# digits (nanoseconds), which `_normalise_fraction` cuts to the microseconds Python keeps.
_FRACTION = re.compile(r"([.,])(\d+)")

# Epoch numbers above this are milliseconds: 10**11 seconds is the year 5138.
_EPOCH_MILLISECONDS_FROM = 10**11


class DateParseError(ValueError):
    """A value that is not a date in any form Leaf is known to send."""


def parse_leaf_datetime(value: object) -> datetime:
    """Parse one Leaf date into an aware UTC datetime, taking a value without a zone as UTC.

    Accepts the three ISO-8601 forms Leaf sends, any other ISO-8601 offset, a space in place of
    the `T`, and epoch seconds or milliseconds as a number. Raises `DateParseError` otherwise.
    """
    if isinstance(value, bool):
        raise DateParseError(f"not a date: {value!r}")

    if isinstance(value, (int, float)):
        seconds = value / 1000 if abs(value) >= _EPOCH_MILLISECONDS_FROM else value
        try:
            return datetime.fromtimestamp(seconds, tz=UTC)
        except (OverflowError, OSError, ValueError) as error:
            raise DateParseError(f"epoch value out of range: {value!r}") from error

    if not isinstance(value, str) or not value.strip():
        raise DateParseError(f"not a date: {value!r}")

    text = _normalise_fraction(value.strip())
    if text.endswith(("z", "Z")):
        text = text[:-1] + "+00:00"
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError as error:
        raise DateParseError(f"not an ISO-8601 date: {value!r}") from error

    if parsed.tzinfo is None:
        return parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def parse_optional_datetime(value: object) -> datetime | None:
    """Parse a date field that may be missing: None, empty or unreadable values give None.

    An unreadable value is logged at debug level and dropped, because one odd date must not make
    a whole user or event unreadable.
    """
    if value is None or value == "":
        return None
    try:
        return parse_leaf_datetime(value)
    except DateParseError:
        logger.debug("Ignoring a date Leaf sent in an unknown form: %r", value)
        return None


def format_leaf_datetime(moment: datetime) -> str:
    """Format a datetime as Leaf's millisecond UTC form, `2024-05-01T10:20:30.123Z`."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    utc = moment.astimezone(UTC)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}Z"


def _normalise_fraction(text: str) -> str:
    """Cut a fraction of seconds to six digits and use a dot, so `fromisoformat` accepts it."""
    date_part, separator, time_part = text.partition("T")
    if not separator:
        date_part, separator, time_part = text.partition(" ")
    if not separator:
        return text

    def shorten(match: re.Match[str]) -> str:
        return "." + match.group(2)[:6]

    return f"{date_part}T{_FRACTION.sub(shorten, time_part, count=1)}"
