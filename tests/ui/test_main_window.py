"""The main window against a loopback sandbox: table, summary strip, search, details, actions,
refresh under load, going offline and coming back, and remembered layout."""

from __future__ import annotations

import re
import time

import pytest
from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QGuiApplication, QKeySequence

from leafdesk.core.model import ConnectionState
from leafdesk.core.secrets import SecretStore
from leafdesk.core.settings import Settings, SettingsStore
from leafdesk.sandbox import SandboxConfig, start_background_server
from leafdesk.ui.main_window import MainWindow
from leafdesk.ui.operations import OperationState
from leafdesk.ui.session import open_session
from leafdesk.ui.users_model import Column, has_credential
from leafdesk.ui.window_state import WindowStateStore


@pytest.fixture
def window(qtbot, app_context, run_until, tmp_path):
    """A main window over the test's sandbox session, after its first refresh."""
    window = MainWindow(app_context, window_state=WindowStateStore(tmp_path / "window.json"))
    qtbot.addWidget(window)
    window.show()
    operation = window.refresh()
    run_until(lambda: not operation.running, timeout=30)
    assert operation.state is OperationState.SUCCEEDED
    yield window
    window.close()


def first_row(window, predicate):
    return next(row for row in window.model.rows() if predicate(row))


def test_table_shows_every_user(window, settle, artifact_dir):
    assert window.model.rowCount() == 40
    assert window.proxy.rowCount() == 40
    assert window.connection_label.text() == "● Online"
    assert window.sync_label.text().startswith("Last sync ")
    counts = window.model.counts()
    assert sum(counts.values()) == 40
    attention = 40 - counts[ConnectionState.CONNECTED]
    assert window.counts_label.text() == f"40 users, {attention} need attention"
    assert window.summary.button(None).text() == "All 40"

    window.select_user(first_row(window, lambda r: r.state.state is ConnectionState.CONNECTED)
                       .user.id)
    settle(0.4)
    window.grab().save(str(artifact_dir / "main_window.png"))


def test_summary_count_filters_table(window, settle, artifact_dir):
    counts = window.model.counts()
    button = window.summary.button(ConnectionState.NOT_CONNECTED)
    assert button.text() == f"Not connected {counts[ConnectionState.NOT_CONNECTED]}"

    button.click()
    shown = [window.proxy.index(row, 0).data(Qt.ItemDataRole.UserRole + 1)
             for row in range(window.proxy.rowCount())]
    assert len(shown) == counts[ConnectionState.NOT_CONNECTED]
    assert {row.state.state for row in shown} == {ConnectionState.NOT_CONNECTED}
    assert window.counts_label.text().endswith(f", {len(shown)} shown")
    settle()
    window.summary.grab().save(str(artifact_dir / "summary_strip_filtered.png"))

    window.summary.button(None).click()
    assert window.proxy.rowCount() == 40


def test_search_filters_across_columns(window, qtbot):
    assert window.search_action.shortcut() == QKeySequence(QKeySequence.StandardKey.Find)
    target = window.model.row_at(7)
    qtbot.keyClicks(window.search_edit, target.user.email.upper())
    assert window.proxy.rowCount() == 1
    assert window.proxy.index(0, Column.NAME).data() == target.user.name

    window.search_edit.clear()
    window.search_edit.setText("nobody-matches-this")
    assert window.proxy.rowCount() == 0
    window.search_edit.clear()
    assert window.proxy.rowCount() == 40


def test_sort_every_column_by_header(window):
    header = window.table.horizontalHeader()
    for column in Column:
        window.table.sortByColumn(column, Qt.SortOrder.DescendingOrder)
        assert header.sortIndicatorSection() == column
        assert window.proxy.rowCount() == 40
    window.table.sortByColumn(Column.NAME, Qt.SortOrder.AscendingOrder)
    names = [window.proxy.index(row, Column.NAME).data().casefold() for row in range(40)]
    assert names == sorted(names)


def test_copy_ids_of_selected_users(window):
    window.table.selectRow(0)
    for row in (2, 4):
        index = window.proxy.index(row, 0)
        window.table.selectionModel().select(
            index, window.table.selectionModel().SelectionFlag.Select
            | window.table.selectionModel().SelectionFlag.Rows)
    expected = [window.proxy.index(row, Column.USER_ID).data() for row in (0, 2, 4)]

    window.copy_id_action.trigger()
    assert QGuiApplication.clipboard().text().split("\n") == expected


def test_details_masks_tokens(window, run_until, settle, artifact_dir):
    QGuiApplication.clipboard().setText("before")
    row = first_row(window, lambda r: r.state.state is ConnectionState.CONNECTED)
    window.select_user(row.user.id)
    run_until(lambda: window.details.credential is not None)

    credential = window.details.credential
    token = str(credential.access_token)
    assert token
    shown = window.details.access_token.text()
    assert token not in shown
    assert shown.endswith(token[-4:])
    assert window.details.fields["organization"].text() == credential.organization_code
    # Showing the credential put nothing on the clipboard; only the Copy button does.
    assert QGuiApplication.clipboard().text() == "before"
    window.details.copy_access.click()
    assert QGuiApplication.clipboard().text() == token
    QGuiApplication.clipboard().clear()

    assert window.details.state_name.text() == "Connected"
    assert window.details.actor.text() == "Who must act: Nobody"
    settle(0.3)
    window.details.grab().save(str(artifact_dir / "details_panel.png"))


def test_timeline_shows_break_and_heal(window, sandbox, run_until):
    row = first_row(window, lambda r: r.state.state is ConnectionState.CONNECTED)
    window.select_user(row.user.id)

    for status, expected in (("UNAUTHENTICATED", ConnectionState.NEEDS_REAUTHORIZATION),
                             ("OK", ConnectionState.CONNECTED)):
        sandbox.set_status(row.user.id, status)
        operation = window.recheck_selected()
        run_until(lambda: not operation.running)
        assert window.model.row_for(row.user.id).state.state is expected

    lines = [window.details.timeline.item(i).text()
             for i in range(window.details.timeline.count())]
    assert any("Broke: Needs re-authorization" in line for line in lines)
    assert "Healed: Connected" in lines[0]  # newest first


def test_rate_limit_storm_refresh(window, sandbox, run_until):
    sandbox.faults(rate_limit=10, embed_credentials="id")
    stalls: list[float] = []
    last = [time.monotonic()]

    def tick() -> None:
        now = time.monotonic()
        stalls.append(now - last[0])
        last[0] = now

    timer = QTimer()
    timer.timeout.connect(tick)
    timer.start(10)
    limited_before = window.context.client.rate_limited_count
    operation = window.refresh()
    run_until(lambda: not operation.running, timeout=60)
    timer.stop()

    assert operation.state is OperationState.SUCCEEDED
    result = operation.result
    assert result.error is None
    assert result.failed == 0
    assert window.context.client.rate_limited_count > limited_before
    assert window.model.rowCount() == 40
    # The window kept answering: no gap between timer ticks near a frozen window.
    assert max(stalls) < 0.5


def test_confirmation_open_during_refresh(window, sandbox, run_until, settle, artifact_dir):
    row = first_row(window, lambda r: r.state.state is ConnectionState.CONNECTED)
    window.select_user(row.user.id)
    run_until(lambda: window.details.credential is not None)
    sandbox.faults(latency_ms=120, embed_credentials="id")

    refresh = window.refresh()
    dialog = window.open_delete()
    assert dialog is not None
    assert refresh.running
    assert dialog.isVisible()
    assert not dialog.isModal() or dialog.windowModality() != Qt.WindowModality.ApplicationModal
    settle(0.2)
    window.grab().save(str(artifact_dir / "delete_dialog_during_refresh.png"))

    # The refresh finishes behind the open confirmation.
    run_until(lambda: not refresh.running, timeout=30)
    assert refresh.state is OperationState.SUCCEEDED
    assert dialog.isVisible()

    sandbox.faults(latency_ms=0)
    confirmation = dialog.confirmation
    if confirmation.name_edit is not None:
        confirmation.name_edit.setText(row.user.name)
    dialog.delete_button.click()
    run_until(lambda: window.model.row_for(row.user.id).state.state
              is ConnectionState.NOT_CONNECTED, timeout=20)
    assert not has_credential(window.model.row_for(row.user.id))


def test_actions_follow_selection(window):
    window.table.clearSelection()
    assert not window.connect_action.isEnabled()
    assert not window.delete_action.isEnabled()

    without = first_row(window, lambda r: r.state.state is ConnectionState.NOT_CONNECTED)
    window.select_user(without.user.id)
    assert window.connect_action.isEnabled()
    assert not window.delete_action.isEnabled()
    assert not window.details.delete_button.isEnabled()
    assert window.details.delete_button.toolTip() == "There is no Panorama credential to delete"

    with_credential = first_row(window, lambda r: r.state.state is ConnectionState.CONNECTED)
    window.select_user(with_credential.user.id)
    assert window.delete_action.isEnabled()


def test_keyboard_paths_exist(window):
    shortcuts = {action.text().replace("&", ""): action.shortcut().toString()
                 for action in window.actions()}
    assert shortcuts["Refresh"] in ("F5", "F5, Ctrl+R")
    assert shortcuts["Cancel refresh"] == "Esc"
    assert shortcuts["Copy Leaf user id"] == "Ctrl+Shift+C"
    assert shortcuts["Search"] == "Ctrl+F"
    assert shortcuts["Connect (one-click)…"] == "Ctrl+K"
    assert window.account_combo.accessibleName() == "Leaf account"


def test_recheck_key_not_on_refresh(window):
    # Ctrl+R is the Refresh key on macOS and GNOME, and a key bound to two actions fires neither.
    recheck = window.recheck_action.shortcut()
    assert recheck == QKeySequence("Ctrl+R")
    assert recheck not in window.refresh_action.shortcuts()
    assert window.refresh_action.shortcuts()[0] == QKeySequence("F5")


def test_periodic_refresh_follows_settings(window):
    window.context.settings.refresh_interval_minutes = 2
    window.apply_settings()
    assert window.refresh_timer.isActive()
    assert window.refresh_timer.interval() == 2 * 60 * 1000


def test_layout_remembered(qtbot, app_context, tmp_path):
    store_path = tmp_path / "window.json"
    first = MainWindow(app_context, window_state=WindowStateStore(store_path))
    qtbot.addWidget(first)
    first.show()
    first.resize(720, 560)
    header = first.table.horizontalHeader()
    header.hideSection(Column.EMAIL)
    header.showSection(Column.USER_ID)
    header.resizeSection(Column.NAME, 321)
    first.close()

    second = MainWindow(app_context, window_state=WindowStateStore(store_path))
    qtbot.addWidget(second)
    header = second.table.horizontalHeader()
    assert header.isSectionHidden(Column.EMAIL)
    assert not header.isSectionHidden(Column.USER_ID)
    assert header.sectionSize(Column.NAME) == 321
    assert second.size().width() == 720
    second.close()


def test_offline_mid_refresh_then_back(qtbot, run_async, run_until, settle, tmp_path,
                                       artifact_dir):
    # A sandbox of this test's own, because it is stopped and started again.
    config = SandboxConfig(users=40, seed=1, controls=True, latency_ms=80, embed_credentials="id")
    server = start_background_server(config, host="127.0.0.1", port=0)
    port = int(server.base_url.rsplit(":", 1)[1])
    from leafdesk.core.settings import LeafAccount
    from leafdesk.sandbox import DEMO

    account = LeafAccount("Own", base_url=server.base_url, username=DEMO.owner_username)
    context = run_async(open_session(account, DEMO.owner_password,
                                     settings_store=SettingsStore(tmp_path / "settings.json"),
                                     settings=Settings(concurrency=4), secrets=SecretStore(),
                                     cache_file=tmp_path / "cache.sqlite3",
                                     # A stopped server can leave a request waiting for its
                                     # read timeout; keep that short.
                                     timeout=2.0))
    window = MainWindow(context)
    qtbot.addWidget(window)
    window.show()
    try:
        first = window.refresh()
        run_until(lambda: not first.running, timeout=30)
        assert window.model.rowCount() == 40

        # The second refresh loses Leaf halfway.
        second = window.refresh()
        run_until(lambda: second.done >= 5, timeout=30)
        server.stop()
        run_until(lambda: not second.running, timeout=60)

        assert not window.online
        assert window.banner.isVisible()
        assert window.model.rowCount() == 40  # the cache still shows everyone
        assert window.reconnect_timer.isActive()
        assert not window.refresh_action.isEnabled()
        assert window.refresh_action.toolTip() == window._offline_reason()
        assert "a later refresh could not reach Leaf at" in window.sync_label.text()
        settle(0.2)
        window.grab().save(str(artifact_dir / "main_window_offline_mid_refresh.png"))

        # Try again while Leaf is still down names the check's time to the second.
        window.try_reconnect()
        run_until(lambda: window.banner.check_result.text().startswith("Still offline"),
                  timeout=30)
        assert re.search(r"checked at \d\d:\d\d:\d\d\.$", window.banner.check_result.text())

        # Leaf answers again on the same address: the check brings the window back and it
        # refreshes by itself.
        server = start_background_server(config, host="127.0.0.1", port=port)
        window.try_reconnect()
        run_until(lambda: window.online, timeout=30)
        assert window.banner.isHidden()
        run_until(lambda: window.refresh_operation is not None
                  and window.refresh_operation is not second
                  and not window.refresh_operation.running, timeout=30)
        assert window.refresh_operation.state is OperationState.SUCCEEDED
        assert window.connection_label.text() == "● Online"
    finally:
        window.close()
        run_async(context.aclose())
        server.stop()


def test_dark_palette_readable(window, qapp, settle, artifact_dir):
    from PySide6.QtGui import QColor, QPalette

    from leafdesk.ui.presentation import state_colour

    original = qapp.palette()
    dark = QPalette()
    for role, colour in ((QPalette.ColorRole.Window, "#202124"),
                         (QPalette.ColorRole.WindowText, "#e8eaed"),
                         (QPalette.ColorRole.Base, "#17181a"),
                         (QPalette.ColorRole.AlternateBase, "#25272a"),
                         (QPalette.ColorRole.Text, "#e8eaed"),
                         (QPalette.ColorRole.Button, "#2d2f31"),
                         (QPalette.ColorRole.ButtonText, "#e8eaed"),
                         (QPalette.ColorRole.ToolTipBase, "#3c4043"),
                         (QPalette.ColorRole.ToolTipText, "#e8eaed"),
                         (QPalette.ColorRole.Highlight, "#8ab4f8"),
                         (QPalette.ColorRole.HighlightedText, "#202124")):
        dark.setColor(role, QColor(colour))
    qapp.setPalette(dark)
    try:
        # Each state's text colour is the light shade on a dark window.
        for state in ConnectionState:
            assert state_colour(state).lightness() > 128
        window._enter_offline(None)
        window.select_user(first_row(window, lambda r: r.state.state
                                     is ConnectionState.NEEDS_REAUTHORIZATION).user.id)
        settle(0.3)
        window.grab().save(str(artifact_dir / "main_window_dark_offline.png"))
        banner = window.banner
        assert banner.palette().color(banner.backgroundRole()) == QColor("#3c4043")
        assert banner.message.palette().color(banner.message.foregroundRole()) == QColor("#e8eaed")
    finally:
        qapp.setPalette(original)


def test_refresh_reloads_selected_user(window, sandbox, run_until):
    row = first_row(window, lambda r: r.state.state is ConnectionState.CONNECTED)
    window.select_user(row.user.id)
    run_until(lambda: window.details.credential is not None)
    run_until(lambda: window.event_log is not None and not window.event_log._loading)

    # Leaf fails every call: the event log shows its error and the cached events, and the
    # details drop to the cached fields, as after a failed re-check and an offline spell.
    sandbox.faults(fault_rate=1.0, faults=["500"])
    window.details.set_credential(None)
    operation = window.event_log.reload()
    run_until(lambda: not operation.running)
    assert window.event_log.errors.isVisibleTo(window)
    assert "local cache" in window.event_log.source_label.text()

    sandbox.faults(fault_rate=0.0)
    refresh = window.refresh()
    run_until(lambda: not refresh.running, timeout=30)
    run_until(lambda: window.details.credential is not None)
    run_until(lambda: not window.event_log._loading
              and "From Leaf" in window.event_log.source_label.text())
    assert not window.event_log.errors.isVisibleTo(window)
    assert window.details.credential_note.text() == ""


def test_manual_save_status_not_connected_early(window, sandbox, run_until):
    row = first_row(window, lambda r: r.state.state is ConnectionState.NOT_CONNECTED)
    window.select_user(row.user.id)
    dialog = window.open_manual()
    dialog.RECHECK_DELAYS = (30.0,)
    partner = sandbox.demo.partners["STAGE"]
    dialog.client_id.setText(partner.client_id)
    dialog.username.setText(partner.username)
    dialog.password.setText("not-the-partner-password")
    dialog.organization_code.setText("PP-TEST01")
    dialog.refresh_token.setText("refresh-token-from-cognito")
    dialog.environment.setCurrentIndex(dialog.environment.findData("STAGE"))
    dialog.submit_button.click()

    # Leaf answers the create with OK before it has tried the partner login with Panorama.
    run_until(lambda: "checking it with Panorama" in window.statusBar().currentMessage())
    assert "Connected" not in window.statusBar().currentMessage()
    dialog.close()


def test_small_window_search_state_summary(window, qtbot, settle, artifact_dir):
    window.resize(800, 550)
    settle(0.3)
    window.table.setFocus()
    qtbot.keyClick(window, Qt.Key.Key_F, Qt.KeyboardModifier.ControlModifier)
    settle(0.05)
    assert window.search_edit.isVisible()
    assert window.search_edit.hasFocus()

    # Name and State come first and are in view.
    header = window.table.horizontalHeader()
    viewport_width = window.table.viewport().width()
    for column in (Column.NAME, Column.STATE):
        assert header.sectionViewportPosition(column) + header.sectionSize(column) \
            <= viewport_width, column

    # Each shown summary button has room for its whole label.
    for state in (None, *ConnectionState):
        button = window.summary.button(state)
        if button.isVisible():
            assert button.width() >= button.sizeHint().width(), button.text()
            assert button.geometry().right() <= window.summary.width(), button.text()
    window.grab().save(str(artifact_dir / "main_window_800x550.png"))
