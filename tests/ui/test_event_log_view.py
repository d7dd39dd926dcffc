"""The event log view against a loopback sandbox: loading, offline, archive, selection, CSV export.

Work that talks to Leaf runs inside `run_async` and is awaited to its end before the test goes
on, because qasync runs pending callbacks whenever Qt processes events, even with the loop
stopped.
"""

from __future__ import annotations

import asyncio
import csv
import dataclasses
from datetime import UTC, datetime, timedelta

import pytest
from PySide6.QtWidgets import QFileDialog, QMessageBox

from leafdesk.core.model import CredentialEvent, CredentialSummary
from leafdesk.ui.event_log import CSV_HEADER, EventLogView, write_csv
from leafdesk.ui.event_log_model import EventLogModel
from leafdesk.ui.operations import OperationState


@pytest.fixture
def connected_user(app_context, run_async):
    """A connected user whose credential has both succeeded and failed events at Leaf."""
    users = run_async(app_context.client.list_users())
    best = None
    for user in users:
        if user.panorama is None:
            continue
        events = run_async(app_context.client.list_panorama_events(user.id))
        codes = {200 <= (event.status_code or 0) < 300 for event in events}
        if codes == {True, False}:
            return user
        best = best or (user if events else None)
    assert best is not None, "the demo data has no user with events"
    return best


@pytest.fixture
def view(qtbot, app_context, connected_user):
    view = EventLogView(None, app_context.client, app_context.cache, connected_user)
    qtbot.addWidget(view)
    view.resize(900, 600)
    view.show()
    return view


def _load(view, run_async) -> None:
    operation = view.reload()
    assert operation is not None
    run_async(operation.wait())
    assert operation.state is OperationState.SUCCEEDED, operation.failure


def _shown_ids(view) -> list[str]:
    return [row.event.id for row in view.proxy.visible_rows()]


def test_loads_from_leaf_and_saves(view, run_async, app_context, connected_user,
                                   artifact_dir):
    _load(view, run_async)
    at_leaf = run_async(app_context.client.list_panorama_events(connected_user.id))

    assert sorted(_shown_ids(view)) == sorted(event.id for event in at_leaf)
    assert {event.id for event in app_context.cache.load_events(connected_user.id)} >= {
        event.id for event in at_leaf}
    assert view.source_label.text().startswith(f"Events of {connected_user.name}. From Leaf, as of")
    assert view.count_label.text() == f"{len(at_leaf)} events"
    # Newest first, and the newest is selected and shown.
    times = [row.when for row in view.proxy.visible_rows()]
    assert times == sorted(times, reverse=True)
    assert view.selected_row().event.id == _shown_ids(view)[0]
    assert view.grab().save(str(artifact_dir / "event_log_online.png"))


def test_selection_shows_headers_and_body(view, run_async):
    _load(view, run_async)
    failed = next(row for row in view.proxy.visible_rows() if not row.succeeded)
    index = _shown_ids(view).index(failed.event.id)
    view.table.selectRow(index)

    text = view.detail.toPlainText()
    assert "Headers" in text
    assert "Body" in text
    assert failed.title in text
    assert f"HTTP {failed.event.status_code}" in text
    # Bodies are pretty-printed JSON: one key per indented line.
    assert '\n  "' in text


def test_detail_masks_tokens(view, run_async, app_context, connected_user):
    token = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJncm93ZXIifQ.c2lnbmF0dXJlLXZhbHVl"
    event = CredentialEvent(
        id="local-token-event", leaf_user_id=connected_user.id, status_code=200,
        created_date=datetime.now(UTC) - timedelta(days=40),
        headers={"Authorization": f"Bearer {token}"},
        body={"access_token": token, "expires_in": 3600},
        raw_headers=None, raw_body=None,
    )
    app_context.cache.save_events(connected_user.id, [event])
    _load(view, run_async)
    view.table.selectRow(_shown_ids(view).index("local-token-event"))
    assert token not in view.detail.toPlainText()
    assert "expires_in" in view.detail.toPlainText()


def test_archived_event_shown_and_marked(view, run_async, app_context, connected_user,
                                         artifact_dir):
    old = CredentialEvent(
        id="archived-45-days", leaf_user_id=connected_user.id, status_code=400,
        created_date=datetime.now(UTC) - timedelta(days=45),
        headers={}, body={"__type": "NotAuthorizedException",
                          "message": "Refresh Token has expired"},
        raw_headers="{}", raw_body=None,
    )
    app_context.cache.save_events(connected_user.id, [old])
    _load(view, run_async)

    rows = {row.event.id: row for row in view.proxy.visible_rows()}
    assert rows["archived-45-days"].archived
    assert not any(row.archived for key, row in rows.items() if key != "archived-45-days")
    position = _shown_ids(view).index("archived-45-days")
    source = view.proxy.index(position, EventLogModel.SOURCE).data()
    assert source == "Local archive only"
    assert "local archive" in view.source_label.text()
    view.table.selectRow(position)
    assert "local archive" in view.detail.toPlainText()
    assert view.grab().save(str(artifact_dir / "event_log_archive.png"))


def test_offline_reads_cache(view, run_async, app_context, connected_user, artifact_dir):
    _load(view, run_async)
    online_ids = sorted(_shown_ids(view))
    sent = app_context.client.requests_sent

    view.set_online(False)
    _load(view, run_async)
    assert app_context.client.requests_sent == sent
    assert sorted(_shown_ids(view)) == online_ids
    assert "Offline: events from the local cache, as of" in view.source_label.text()
    # The time is when this view last fetched the user's events from Leaf.
    assert "unknown" not in view.source_label.text()
    assert "cache" in view.reload_button.toolTip()
    assert view.grab().save(str(artifact_dir / "event_log_offline.png"))


def test_leaf_failure_falls_back_to_cache(view, run_async, sandbox, connected_user):
    _load(view, run_async)
    cached_ids = sorted(_shown_ids(view))

    sandbox.faults(fault_rate=1.0, faults=["500"])
    _load(view, run_async)
    assert sorted(_shown_ids(view)) == cached_ids
    assert not view.errors.isHidden()
    assert connected_user.name in view.errors.sentence.text()
    assert "Could not get the events from Leaf: showing the local cache" in view.source_label.text()
    # Rows marked "Leaf" are explained as a guess by age, not as Leaf's answer.
    kept_by = {view.model.index(row, view.model.SOURCE).data()
               for row in range(view.model.rowCount())}
    assert "Leaf" in kept_by
    assert "“Kept by: Leaf” means Leaf should still keep the event, by its age" \
        in view.source_label.text()


def test_filters_through_widgets(view, run_async, qtbot, artifact_dir):
    _load(view, run_async)
    total = view.model.rowCount()

    view.outcome_combo.setCurrentIndex(view.outcome_combo.findData(False))
    failed = view.proxy.rowCount()
    assert all(not row.succeeded for row in view.proxy.visible_rows())
    assert view.count_label.text() == f"{failed} of {total} events"

    view.outcome_combo.setCurrentIndex(0)
    word = view.proxy.visible_rows()[0].title.split()[0]
    qtbot.keyClicks(view.search_edit, word)
    assert 0 < view.proxy.rowCount() <= total
    assert all(word.casefold() in row.search_text() for row in view.proxy.visible_rows())
    view.search_edit.clear()

    newest = view.proxy.visible_rows()[0].when.astimezone().date()
    view.set_date_range(newest, newest)
    assert all(row.when.astimezone().date() == newest for row in view.proxy.visible_rows())
    assert view.grab().save(str(artifact_dir / "event_log_filtered.png"))
    view.set_date_range(None, None)
    assert view.proxy.rowCount() == total


def test_csv_export_contents(view, run_async, tmp_path, connected_user):
    _load(view, run_async)
    view.outcome_combo.setCurrentIndex(view.outcome_combo.findData(False))
    expected = view.proxy.visible_rows()
    assert expected

    exported = []
    view.exported.connect(exported.append)
    path = tmp_path / "events.csv"
    operation = view.export_csv(path)
    run_async(operation.wait())
    assert operation.state is OperationState.SUCCEEDED
    assert exported == [str(path)]

    with path.open(newline="", encoding="utf-8") as handle:
        records = list(csv.reader(handle))
    assert records[0] == CSV_HEADER
    body = [dict(zip(CSV_HEADER, record, strict=True)) for record in records[1:]]
    assert [record["event_id"] for record in body] == [row.event.id for row in expected]
    assert all(record["result"] == "failed" for record in body)
    for record, row in zip(body, expected, strict=True):
        assert record["http_status"] == str(row.event.status_code)
        assert record["what_happened"] == row.title
        assert datetime.fromisoformat(record["time_utc"]) == row.when.replace(microsecond=0)
    assert not (tmp_path / "events.csv.partial").exists()


def test_csv_export_failure_one_sentence(view, run_async, tmp_path, connected_user, qtbot):
    _load(view, run_async)
    operation = view.export_csv(tmp_path / "missing-folder" / "events.csv")
    run_async(operation.wait())
    assert operation.state is OperationState.FAILED
    assert connected_user.name in operation.failure.sentence
    assert operation.failure.sentence.startswith("Could not export the event log")

    boxes = [box for box in view.findChildren(QMessageBox) if box.isVisible()]
    assert len(boxes) == 1
    boxes[0].close()


def test_switching_user_loads_theirs(view, run_async, app_context, connected_user):
    _load(view, run_async)
    users = run_async(app_context.client.list_users())
    other = next(user for user in users if user.panorama is None)

    view.set_user(other)
    run_async(view.load_operation.wait())
    assert view.user is other
    assert view.model.rowCount() == len(app_context.cache.load_events(other.id))
    assert "No events" in view.source_label.text()


def test_starting_offline_uses_last_sync_time(qtbot, app_context, connected_user, run_async):
    now = datetime.now(UTC)
    app_context.cache.save_events(connected_user.id, [CredentialEvent(
        id="kept-offline", leaf_user_id=connected_user.id, status_code=200,
        created_date=now - timedelta(days=2), headers={}, body={}, raw_headers=None,
        raw_body=None)])
    app_context.cache.record_sync(now - timedelta(minutes=5), now - timedelta(minutes=4),
                                  total=40, failed=0, complete=True)
    sent = app_context.client.requests_sent

    view = EventLogView(None, app_context.client, app_context.cache, connected_user)
    qtbot.addWidget(view)
    view.set_online(False)
    _load(view, run_async)
    assert app_context.client.requests_sent == sent
    assert _shown_ids(view) == ["kept-offline"]
    assert "as of the last sync at" in view.source_label.text()


def test_export_through_file_dialog(view, run_async, tmp_path):
    _load(view, run_async)
    view.choose_export_file()
    dialog = view.findChild(QFileDialog)
    assert dialog is not None
    assert dialog.isVisible()
    assert dialog.acceptMode() == QFileDialog.AcceptMode.AcceptSave

    path = tmp_path / "chosen.csv"
    dialog.selectFile(str(path))
    dialog.accept()
    operation = view.export_operation
    assert operation is not None
    run_async(operation.wait())
    assert operation.state is OperationState.SUCCEEDED
    with path.open(newline="", encoding="utf-8") as handle:
        assert len(list(csv.reader(handle))) == view.proxy.rowCount() + 1


def test_quick_user_switch_loads_last(view, run_async, app_context, connected_user):
    users = run_async(app_context.client.list_users())
    other = next(user for user in users
                 if user.panorama is not None and user.id != connected_user.id)
    expected = run_async(app_context.client.list_panorama_events(other.id))

    # The first user's load is still in flight when the second is chosen.
    first = view.reload()
    view.set_user(other)
    assert view.load_operation is not first
    run_async(view.load_operation.wait())
    run_async(asyncio.wait([first.task]))
    assert first.state is OperationState.CANCELLED

    assert view.user is other
    assert sorted(_shown_ids(view)) == sorted(event.id for event in expected)
    assert view.source_label.text().startswith(f"Events of {other.name}.")


def test_detail_cleared_for_user_without_events(view, run_async, app_context):
    _load(view, run_async)
    assert "Event id:" in view.detail.toPlainText()
    users = run_async(app_context.client.list_users())
    other = next(user for user in users if user.panorama is None)

    view.set_user(other)
    run_async(view.load_operation.wait())
    assert view.model.rowCount() == 0
    assert "Event id:" not in view.detail.toPlainText()
    assert view.detail.toPlainText() == "Select an event to see its headers and body."


def test_no_credential_says_so(view, run_async, app_context):
    users = run_async(app_context.client.list_users())
    other = next(user for user in users if user.panorama is None)
    view.set_user(other)
    run_async(view.load_operation.wait())
    assert "No events: this user has no Panorama credential." in view.source_label.text()


def test_offline_never_fetched_wording(qtbot, app_context, connected_user, run_async,
                                       artifact_dir):
    view = EventLogView(None, app_context.client, app_context.cache, connected_user)
    qtbot.addWidget(view)
    view.resize(900, 400)
    view.show()
    view.set_online(False)
    _load(view, run_async)
    text = view.source_label.text()
    assert ("No events in the offline cache for this user; they are read from Leaf when "
            "LeafDesk is online.") in text
    assert "Leaf has logged nothing" not in text
    assert view.grab().save(str(artifact_dir / "event_log_offline_never_fetched.png"))


def test_reload_disabled_offline(view, run_async):
    _load(view, run_async)
    assert view.reload_button.isEnabled()
    view.set_online(False)
    assert not view.reload_button.isEnabled()
    assert "cannot be reached" in view.reload_button.toolTip()
    _load(view, run_async)
    assert not view.reload_button.isEnabled()
    view.set_online(True)
    assert view.reload_button.isEnabled()


def test_new_credential_id_reloads(view, run_async, app_context):
    from leafdesk.core.model import Environment
    from leafdesk.core.validation import validate_manual

    users = run_async(app_context.client.list_users())
    user = next(user for user in users if user.panorama is None)
    view.set_user(user)
    run_async(view.load_operation.wait())
    assert "no Panorama credential" in view.source_label.text()

    # The same user again, unchanged, sends nothing.
    sent = app_context.client.requests_sent
    view.set_user(dataclasses.replace(user))
    assert app_context.client.requests_sent == sent

    from leafdesk.sandbox import DEMO

    partner = DEMO.partners["STAGE"]
    data = validate_manual(client_id=partner.client_id, username=partner.username,
                           password=partner.password, organization_code="ORG-1",
                           refresh_token="refresh-token", client_environment=Environment.STAGE)
    credential = run_async(app_context.client.create_panorama_credential(user.id, data))
    view.set_user(dataclasses.replace(user, panorama=CredentialSummary(id=credential.id)))
    assert view.load_operation is not None
    run_async(view.load_operation.wait())
    assert app_context.client.requests_sent > sent
    assert "no Panorama credential" not in view.source_label.text()
    assert "From Leaf" in view.source_label.text()


def test_name_ending_in_period(qtbot, app_context, connected_user, run_async):
    user = dataclasses.replace(connected_user, name="Prairie Grain Co.")
    view = EventLogView(None, app_context.client, app_context.cache, user)
    qtbot.addWidget(view)
    _load(view, run_async)
    assert view.source_label.text().startswith("Events of Prairie Grain Co. From Leaf")
    assert ".." not in view.source_label.text()


def test_count_uses_plural(view, run_async):
    _load(view, run_async)
    rows = view.model.rows()
    view.model.set_rows(rows[:1])
    assert view.count_label.text() == "1 event"
    view.model.set_rows(rows[:2])
    assert view.count_label.text() == "2 events"
    view.model.set_rows([])
    assert view.count_label.text() == "0 events"


def test_export_reports_file_and_count(view, run_async, tmp_path, artifact_dir):
    _load(view, run_async)
    assert view.export_label.isHidden()
    path = tmp_path / "events.csv"
    run_async(view.export_csv(path).wait())
    count = view.proxy.rowCount()
    assert not view.export_label.isHidden()
    assert f"Exported {count} events to {path}." in view.export_label.text()
    assert "Open folder" in view.export_label.text()
    assert view.grab().save(str(artifact_dir / "event_log_exported.png"))


def test_reload_keeps_chosen_event(view, run_async):
    _load(view, run_async)
    assert view.proxy.rowCount() >= 2
    view.table.selectRow(1)
    chosen = view.selected_row().event.id

    _load(view, run_async)
    assert view.selected_row().event.id == chosen


def test_csv_failure_removes_partial(tmp_path):
    # The final name is a folder, so the last step (renaming the written file) fails.
    target = tmp_path / "events.csv"
    target.mkdir()
    (target / "keep").write_text("x")
    with pytest.raises(OSError):
        write_csv(target, [])
    assert not (tmp_path / "events.csv.partial").exists()
    assert target.is_dir()
