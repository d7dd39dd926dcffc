"""Tests of Leaf date parsing: the three forms Leaf mixes, zoneless as UTC, and bad values."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from leafdesk.core.dates import (
    DateParseError,
    format_leaf_datetime,
    parse_leaf_datetime,
    parse_optional_datetime,
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2024-05-01T10:20:30.123Z", datetime(2024, 5, 1, 10, 20, 30, 123000, tzinfo=UTC)),
        ("2024-05-01T10:20:30.123456Z", datetime(2024, 5, 1, 10, 20, 30, 123456, tzinfo=UTC)),
        ("2024-05-01T10:20:30.123456", datetime(2024, 5, 1, 10, 20, 30, 123456, tzinfo=UTC)),
        ("2024-05-01T10:20:30", datetime(2024, 5, 1, 10, 20, 30, tzinfo=UTC)),
        ("2024-05-01T10:20:30.123", datetime(2024, 5, 1, 10, 20, 30, 123000, tzinfo=UTC)),
        ("2024-05-01T10:20:30z", datetime(2024, 5, 1, 10, 20, 30, tzinfo=UTC)),
        ("2024-05-01 10:20:30.5", datetime(2024, 5, 1, 10, 20, 30, 500000, tzinfo=UTC)),
        ("2024-05-01T10:20:30.123456789Z", datetime(2024, 5, 1, 10, 20, 30, 123456, tzinfo=UTC)),
        ("2024-05-01T10:20:30,25Z", datetime(2024, 5, 1, 10, 20, 30, 250000, tzinfo=UTC)),
        ("2024-05-01T12:20:30.1+02:00", datetime(2024, 5, 1, 10, 20, 30, 100000, tzinfo=UTC)),
        ("  2024-05-01T10:20:30Z  ", datetime(2024, 5, 1, 10, 20, 30, tzinfo=UTC)),
    ],
)
def test_parse_leaf_forms(text, expected):
    parsed = parse_leaf_datetime(text)
    assert parsed == expected
    assert parsed.tzinfo is not None
    assert parsed.utcoffset() == timedelta(0)


def test_zoneless_is_utc_not_local():
    parsed = parse_leaf_datetime("2024-01-15T08:00:00.000")
    assert parsed.tzinfo == UTC
    assert parsed.hour == 8


def test_epoch_seconds_and_milliseconds():
    expected = datetime(2024, 5, 1, 10, 20, 30, tzinfo=UTC)
    seconds = expected.timestamp()
    assert parse_leaf_datetime(int(seconds)) == expected
    assert parse_leaf_datetime(int(seconds * 1000)) == expected


@pytest.mark.parametrize("value", ["", "   ", "yesterday", "2024-13-01T00:00:00Z", None, True,
                                   {"date": "2024-05-01"}, "2024-05-01T10:20:30.123ZZ"])
def test_parse_rejects_non_dates(value):
    with pytest.raises(DateParseError):
        parse_leaf_datetime(value)


@pytest.mark.parametrize("value", [None, "", "not a date", [], 10**30])
def test_optional_gives_none(value):
    assert parse_optional_datetime(value) is None


def test_optional_parses_valid():
    assert parse_optional_datetime("2024-05-01T10:20:30Z") == datetime(
        2024, 5, 1, 10, 20, 30, tzinfo=UTC
    )


def test_format_round_trips_milliseconds():
    moment = datetime(2024, 5, 1, 10, 20, 30, 123456, tzinfo=UTC)
    text = format_leaf_datetime(moment)
    assert text == "2024-05-01T10:20:30.123Z"
    assert parse_leaf_datetime(text) == moment.replace(microsecond=123000)


def test_format_converts_offsets_to_utc():
    moment = datetime(2024, 5, 1, 12, 0, tzinfo=timezone(timedelta(hours=2)))
    assert format_leaf_datetime(moment) == "2024-05-01T10:00:00.000Z"
