"""The event log's model and filters over decoded events, without a server."""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta, timezone

import pytest

from leafdesk.core.model import CredentialEvent
from leafdesk.ui.event_log_model import (
    ROW_ROLE,
    EventFilterProxy,
    EventLogModel,
    build_rows,
    pretty,
)

NOW = datetime(2026, 12, 4, 12, 0, tzinfo=timezone.utc)


def _event(event_id: str, status: int, body: dict, *, days_ago: float) -> CredentialEvent:
    raw = json.dumps(body)
    return CredentialEvent(
        id=event_id,
        leaf_user_id="user-1",
        status_code=status,
        created_date=NOW - timedelta(days=days_ago),
        headers={"Content-Type": "application/json"},
        body=body,
        raw_headers='{"Content-Type": "application/json"}',
        raw_body=raw,
    )


@pytest.fixture
def events() -> list[CredentialEvent]:
    return [
        _event("refreshed", 200,
               {"access_token": "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl",
                "expires_in": 3600, "token_type": "Bearer"}, days_ago=1),
        _event("expired", 400, {"__type": "NotAuthorizedException",
                                "message": "Refresh Token has expired"}, days_ago=3),
        _event("outage", 503, {"message": "Service Unavailable"}, days_ago=10),
        _event("ancient", 400, {"__type": "UserNotFoundException",
                                "message": "User does not exist."}, days_ago=45),
    ]


@pytest.fixture
def proxy(qapp, events) -> EventFilterProxy:
    model = EventLogModel()
    model.set_rows(build_rows(events, at_leaf=None, now=NOW))
    proxy = EventFilterProxy()
    proxy.setSourceModel(model)
    proxy.sort(EventLogModel.TIME, proxy.sortOrder().DescendingOrder)
    return proxy


def _ids(proxy: EventFilterProxy) -> list[str]:
    return [row.event.id for row in proxy.visible_rows()]


def test_rows_newest_first(proxy):
    assert _ids(proxy) == ["refreshed", "expired", "outage", "ancient"]


def test_rows_decoded_by_describe_event(proxy):
    rows = {row.event.id: row for row in proxy.visible_rows()}
    assert rows["refreshed"].succeeded
    assert not rows["expired"].succeeded
    assert rows["expired"].error_type == "NotAuthorizedException"
    assert "expired" in (rows["expired"].title + rows["expired"].detail).lower()


def test_filter_by_outcome(proxy):
    proxy.set_outcome(True)
    assert _ids(proxy) == ["refreshed"]
    proxy.set_outcome(False)
    assert _ids(proxy) == ["expired", "outage", "ancient"]
    proxy.set_outcome(None)
    assert len(_ids(proxy)) == 4


def test_filter_by_text_any_case(proxy):
    proxy.set_text("notauthorized")
    assert _ids(proxy) == ["expired"]
    proxy.set_text("503")
    assert _ids(proxy) == ["outage"]
    proxy.set_text("  ")
    assert len(_ids(proxy)) == 4


def test_filter_by_date_range_inclusive(proxy):
    local_day = (NOW - timedelta(days=3)).astimezone().date()
    proxy.set_date_range(local_day, local_day)
    assert _ids(proxy) == ["expired"]
    proxy.set_date_range(None, (NOW - timedelta(days=5)).astimezone().date())
    assert _ids(proxy) == ["outage", "ancient"]
    proxy.set_date_range(date(2000, 1, 1), None)
    assert len(_ids(proxy)) == 4


def test_filters_combine(proxy):
    proxy.set_outcome(False)
    proxy.set_text("exception")
    proxy.set_date_range((NOW - timedelta(days=20)).astimezone().date(), None)
    assert _ids(proxy) == ["expired"]


def test_old_event_marked_archived(events):
    rows = {row.event.id: row for row in build_rows(events, at_leaf=None, now=NOW)}
    assert rows["ancient"].archived
    assert not rows["outage"].archived


def test_event_gone_from_leaf_marked_archived(events):
    rows = build_rows(events, at_leaf={"refreshed", "expired"}, now=NOW)
    archived = {row.event.id for row in rows if row.archived}
    assert archived == {"outage", "ancient"}


def test_archived_source_column(qapp, events):
    model = EventLogModel()
    model.set_rows(build_rows(events, at_leaf=None, now=NOW))
    sources = {
        model.index(row, 0).data(ROW_ROLE).event.id: model.index(row, EventLogModel.SOURCE).data()
        for row in range(model.rowCount())
    }
    assert sources["ancient"] == "Local archive only"
    assert sources["refreshed"] == "Leaf"


def test_sort_by_status(proxy):
    proxy.sort(EventLogModel.STATUS, proxy.sortOrder().AscendingOrder)
    assert [row.event.status_code for row in proxy.visible_rows()] == [200, 400, 400, 503]


def test_pretty_masks_tokens():
    body = {"access_token": "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl",
            "refresh_token": "opaque-refresh-value", "expires_in": 3600}
    text = pretty(body, json.dumps(body))
    assert "opaque-refresh-value" not in text
    assert "eyJhbGciOiJIUzI1NiJ9" not in text
    assert '"expires_in": 3600' in text


def test_pretty_decodes_json_in_a_string():
    text = pretty('{"__type": "NotAuthorizedException"}', None)
    assert text.splitlines()[0] == "{"
    assert '"__type": "NotAuthorizedException"' in text


def test_pretty_keeps_plain_text():
    assert pretty("upstream connect error", "upstream connect error") == "upstream connect error"
    assert pretty(None, None) == ""


def test_csv_neutralises_formulas(tmp_path):
    import csv

    from leafdesk.ui.event_log import write_csv
    from leafdesk.ui.event_log_model import EventRow

    event = _event("formula", 400, {"message": "x"}, days_ago=1)
    row = EventRow(event=event, succeeded=False, title="=1+2", detail="-3 Panorama said",
                   error_type="@Evil", archived=False)
    path = tmp_path / "events.csv"
    assert write_csv(path, [row]) == 1
    with path.open(newline="", encoding="utf-8") as handle:
        record = list(csv.DictReader(handle))[0]
    assert record["what_happened"] == "'=1+2"
    assert record["detail"] == "'-3 Panorama said"
    assert record["error_type"] == "'@Evil"
    assert record["http_status"] == "400"
