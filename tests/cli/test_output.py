"""Tests of the table, CSV and JSON rendering of users, without a sandbox."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime

from leafdesk.cli.output import SHORT_NEXT_STEPS, format_users
from leafdesk.core.model import ConnectionState, CredentialSummary, LeafUser, UserRow
from leafdesk.core.states import derive_state

NOW = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)


def _rows() -> list[UserRow]:
    connected = LeafUser(id="u-1", name="Ash Farm", email="ash@farm.example",
                         panorama=CredentialSummary(id="c-1", status="OK", created_time=NOW))
    broken = LeafUser(id="u-2", name="Birch Farm", email="birch@farm.example",
                      panorama=CredentialSummary(id="c-2", status="UNAUTHENTICATED",
                                                 created_time=NOW))
    lone = LeafUser(id="u-3", name="Cedar Farm", email="cedar@farm.example")
    return [
        UserRow(user=connected, state=derive_state("OK", has_credential=True, checked_at=NOW)),
        UserRow(user=broken, state=derive_state("UNAUTHENTICATED", has_credential=True,
                                                checked_at=NOW)),
        UserRow(user=lone, state=derive_state(None, has_credential=False, checked_at=NOW)),
    ]


def test_short_next_step_for_every_state():
    assert set(SHORT_NEXT_STEPS) == set(ConnectionState)


def test_next_step_column_fits_width():
    rows = _rows()
    narrow = format_users(rows, "table", next_step="fit", width=60)
    assert "NEXT STEP" not in narrow

    wide = format_users(rows, "table", next_step="fit", width=400)
    assert "NEXT STEP" in wide
    assert SHORT_NEXT_STEPS[ConnectionState.NOT_CONNECTED] in wide
    table_lines = wide.split("\n\n")[0].splitlines()
    assert max(len(line) for line in table_lines) <= 400


def test_wide_table_has_full_next_step():
    table = format_users(_rows(), "table", next_step="full")
    assert "NEXT STEP" in table
    assert "Start a new one-click connection and ask the grower to approve sharing again." in table


def test_plain_table_has_no_next_step():
    assert "NEXT STEP" not in format_users(_rows(), "table")


def test_csv_booleans_lowercase():
    records = list(csv.DictReader(io.StringIO(format_users(_rows(), "csv"))))
    assert [record["from_cache"] for record in records] == ["false", "false", "false"]
