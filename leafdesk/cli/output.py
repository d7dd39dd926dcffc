"""Formatting of users and events for the terminal: an aligned table, CSV or JSON.

Tables show local times for people; CSV and JSON carry ISO-8601 UTC times and every field, for
scripts.
"""

from __future__ import annotations

import csv
import io
import json
import unicodedata
from collections import Counter
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from leafdesk.core.events import describe_event
from leafdesk.core.model import Actor, ConnectionState, CredentialEvent, LeafUser, UserRow
from leafdesk.core.states import ACTOR_LABELS, STATE_LABELS, state_label

FORMATS = ("table", "csv", "json")

# The next step of each state in a few words, for a table column that fits a terminal. The full
# sentence (`StateView.next_step`) is in the CSV and JSON output and in the `--wide` table.
SHORT_NEXT_STEPS: dict[ConnectionState, str] = {
    ConnectionState.CONNECTED: "",
    ConnectionState.WAITING_FOR_GROWER: "Send the grower the link",
    ConnectionState.NEEDS_REAUTHORIZATION: "New one-click, grower approves",
    ConnectionState.MISSING_PERMISSION: "Grower shares in Panorama",
    ConnectionState.PROVIDER_UNAVAILABLE: "Wait, Leaf re-checks",
    ConnectionState.UNKNOWN: "Read the events, re-check",
    ConnectionState.NOT_CONNECTED: "Connect the user",
}

_USER_FIELDS = (
    "id", "name", "email", "external_id", "state", "state_label", "raw_status", "actor",
    "summary", "next_step", "checked_at", "organization_code", "client_environment",
    "connected_since", "from_cache",
)
_EVENT_FIELDS = (
    "id", "created_date", "status_code", "succeeded", "title", "detail", "error_type", "actor",
)


def format_users(
    rows: Sequence[UserRow], output_format: str, *, next_step: str = "none",
    width: int | None = None,
) -> str:
    """Render users and their Panorama state; rows are sorted by name.

    For the table, `next_step` is "none", "short" (a few words per state), "full" (the whole
    sentence) or "fit": the short column when the table with it is at most `width` columns wide.
    """
    ordered = sorted(rows, key=lambda row: (row.user.name.casefold(), row.user.id))
    if output_format == "json":
        return json.dumps([_user_record(row) for row in ordered], indent=2, ensure_ascii=False)
    if output_format == "csv":
        return _csv(_USER_FIELDS, [_user_record(row) for row in ordered])

    if not ordered:
        return "No Leaf users."
    if next_step == "fit":
        short = _users_table(ordered, "short")
        fits = width is not None and max(_width(line) for line in short.splitlines()) <= width
        table = short if fits else _users_table(ordered, "none")
    else:
        table = _users_table(ordered, next_step)
    return f"{table}\n\n{_state_counts(ordered)}"


def format_user_choices(users: Sequence[LeafUser]) -> str:
    """Render users one per line (name, e-mail, id), indented, for the user to pick one."""
    table = _table(
        ("NAME", "E-MAIL", "ID"),
        [(user.name or user.id, user.email or "", user.id) for user in users],
    )
    return "\n".join(f"  {line}" for line in table.splitlines())


def format_events(events: Sequence[CredentialEvent], output_format: str) -> str:
    """Render one user's events, newest first, each described in plain words."""
    ordered = sorted(events, key=_event_time, reverse=True)
    records = [_event_record(event) for event in ordered]
    if output_format == "json":
        for record, event in zip(records, ordered, strict=True):
            record["headers"] = event.headers
            record["body"] = event.body
        return json.dumps(records, indent=2, ensure_ascii=False, default=str)
    if output_format == "csv":
        return _csv(_EVENT_FIELDS, records)

    if not ordered:
        return "No events."
    return _table(
        ("TIME", "HTTP", "RESULT", "WHAT HAPPENED", "DETAIL"),
        [
            (
                _local_time(event.created_date),
                "" if event.status_code is None else str(event.status_code),
                "ok" if record["succeeded"] else "failed",
                _title_without_status(record["title"], event.status_code),
                record["detail"],
            )
            for event, record in zip(ordered, records, strict=True)
        ],
    )


def _users_table(rows: Sequence[UserRow], next_step: str) -> str:
    headings = ["NAME", "E-MAIL", "STATE", "WHO ACTS", "LAST CHECKED"]
    if next_step != "none":
        headings.append("NEXT STEP")
    cells = []
    for row in rows:
        line = [
            row.user.name or row.user.id,
            row.user.email or "",
            state_label(row.state),
            ACTOR_LABELS[row.state.actor] if row.state.actor is not Actor.NOBODY else "",
            _local_time(row.state.checked_at),
        ]
        if next_step == "short":
            line.append(SHORT_NEXT_STEPS[row.state.state])
        elif next_step == "full":
            line.append(row.state.next_step)
        cells.append(line)
    return _table(headings, cells)


def _title_without_status(title: str, status_code: int | None) -> str:
    # The table has an HTTP column, so the "(HTTP 403)" that ends some titles would repeat it.
    suffix = f" (HTTP {status_code})"
    if status_code is not None and title.endswith(suffix):
        return title.removesuffix(suffix)
    return title


def _user_record(row: UserRow) -> dict[str, Any]:
    return {
        "id": row.user.id,
        "name": row.user.name,
        "email": row.user.email,
        "external_id": row.user.external_id,
        "state": row.state.state.value,
        "state_label": state_label(row.state),
        "raw_status": row.state.raw_status,
        "actor": row.state.actor.value,
        "summary": row.state.summary,
        "next_step": row.state.next_step,
        "checked_at": _iso(row.state.checked_at),
        "organization_code": row.organization_code,
        "client_environment": row.client_environment,
        "connected_since": _iso(row.connected_since),
        "from_cache": row.from_cache,
    }


def _event_record(event: CredentialEvent) -> dict[str, Any]:
    description = describe_event(event)
    return {
        "id": event.id,
        "created_date": _iso(event.created_date),
        "status_code": event.status_code,
        "succeeded": description.succeeded,
        "title": description.title,
        "detail": description.detail,
        "error_type": description.error_type,
        "actor": description.actor.value if description.actor else None,
    }


def _state_counts(rows: Sequence[UserRow]) -> str:
    counts = Counter(row.state.state for row in rows)
    parts = [f"{label} {counts[state]}" for state, label in STATE_LABELS.items() if counts[state]]
    noun = "user" if len(rows) == 1 else "users"
    return f"{len(rows)} {noun}. " + ", ".join(parts) + "."


def _csv(fields: Sequence[str], records: list[dict[str, Any]]) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(fields), extrasaction="ignore",
                            lineterminator="\n")
    writer.writeheader()
    # csv writes Python's True and False; scripts expect the JSON spelling.
    writer.writerows(
        {key: _csv_value(value) for key, value in record.items()} for record in records
    )
    return buffer.getvalue().rstrip("\n")


def _csv_value(value: Any) -> Any:
    if isinstance(value, bool):
        return "true" if value else "false"
    return value


def _table(headings: Sequence[str], rows: list[Sequence[str]]) -> str:
    cells = [list(headings)] + [[_single_line(cell) for cell in row] for row in rows]
    widths = [max(_width(row[column]) for row in cells) for column in range(len(headings))]
    lines = []
    for row in cells:
        padded = [cell + " " * (widths[i] - _width(cell)) for i, cell in enumerate(row)]
        lines.append("  ".join(padded).rstrip())
    return "\n".join(lines)


def _width(text: str) -> int:
    # East Asian wide characters take two columns in a terminal.
    return sum(2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1 for ch in text)


def _single_line(text: str) -> str:
    return " ".join(str(text).split())


def _event_time(event: CredentialEvent) -> datetime:
    return _aware(event.created_date) if event.created_date else datetime.min.replace(tzinfo=UTC)


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _iso(moment: datetime | None) -> str | None:
    if moment is None:
        return None
    return _aware(moment).astimezone(UTC).isoformat().replace("+00:00", "Z")


def _local_time(moment: datetime | None) -> str:
    if moment is None:
        return "never"
    return _aware(moment).astimezone().strftime("%Y-%m-%d %H:%M %Z").strip()
