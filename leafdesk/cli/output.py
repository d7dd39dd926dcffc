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
from leafdesk.core.model import Actor, CredentialEvent, UserRow
from leafdesk.core.states import ACTOR_LABELS, STATE_LABELS, state_label

FORMATS = ("table", "csv", "json")

_USER_FIELDS = (
    "id", "name", "email", "external_id", "state", "state_label", "raw_status", "actor",
    "summary", "next_step", "checked_at", "organization_code", "client_environment",
    "connected_since", "from_cache",
)
_EVENT_FIELDS = (
    "id", "created_date", "status_code", "succeeded", "title", "detail", "error_type", "actor",
)


def format_users(rows: Sequence[UserRow], output_format: str) -> str:
    """Render users and their Panorama state; rows are sorted by name."""
    ordered = sorted(rows, key=lambda row: (row.user.name.casefold(), row.user.id))
    if output_format == "json":
        return json.dumps([_user_record(row) for row in ordered], indent=2, ensure_ascii=False)
    if output_format == "csv":
        return _csv(_USER_FIELDS, [_user_record(row) for row in ordered])

    if not ordered:
        return "No Leaf users."
    table = _table(
        ("NAME", "E-MAIL", "STATE", "WHO ACTS", "LAST CHECKED"),
        [
            (
                row.user.name or row.user.id,
                row.user.email or "",
                state_label(row.state),
                ACTOR_LABELS[row.state.actor] if row.state.actor is not Actor.NOBODY else "",
                _local_time(row.state.checked_at),
            )
            for row in ordered
        ],
    )
    return f"{table}\n\n{_state_counts(ordered)}"


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
                record["title"],
                record["detail"],
            )
            for event, record in zip(ordered, records, strict=True)
        ],
    )


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
    writer.writerows(records)
    return buffer.getvalue().rstrip("\n")


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
