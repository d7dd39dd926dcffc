"""The main window keeps the operator oriented: the selection survives refreshes, failures stay
on screen with their details, the status bar names the last complete sync, and the keyboard
returns to the table after a dialog."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication, QDialog, QMenu, QMessageBox

from leafdesk.ui.main_window import MainWindow
from leafdesk.ui.operations import OperationState
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
    for box in window.findChildren(QMessageBox):
        box.close()
    window.close()


def refresh_and_wait(window, run_until, settle):
    operation = window.refresh()
    run_until(lambda: not operation.running, timeout=30)
    settle(0.1)  # the rows are shown in the loop iteration after the refresh
    return operation


def test_refresh_keeps_selection_and_scroll(window, run_until, settle):
    window.resize(1280, 500)
    rows = window.model.rows()
    target = window.model.row_at(30)
    window.select_user(target.user.id)
    settle(0.1)
    scroll_before = window.table.verticalScrollBar().value()
    assert scroll_before > 0
    assert window.details.row.user.id == target.user.id

    refresh_and_wait(window, run_until, settle)

    assert [row.user.id for row in window.selected_rows()] == [target.user.id]
    assert window.details.row is not None
    assert window.details.row.user.id == target.user.id
    assert window.table.verticalScrollBar().value() == scroll_before
    assert len(rows) == window.model.rowCount()


def test_reload_from_cache_keeps_selection(window, settle):
    target = window.model.row_at(5)
    window.select_user(target.user.id)
    window.load_from_cache()  # what a cancelled refresh or going offline does
    settle(0.05)
    assert window.current_row().user.id == target.user.id
    assert window.details.row.user.id == target.user.id


def test_recheck_failure_shows_error_box(window, sandbox, run_until, settle, artifact_dir):
    row = window.model.row_at(0)
    window.select_user(row.user.id)
    sandbox.faults(fault_rate=1.0, faults=["500"])
    operation = window.recheck_selected()
    run_until(lambda: not operation.running, timeout=30)
    sandbox.faults(fault_rate=0.0)

    box = window.last_failure_box
    assert isinstance(box, QMessageBox)
    assert box.isVisible()
    assert row.user.name in box.text()
    assert "HTTP 500" in box.text()
    assert box.detailedText()  # the technical part, behind "Show Details…"
    settle(0.3)
    assert box.isVisible()  # stays until the operator closes it
    box.grab().save(str(artifact_dir / "recheck_failure_box.png"))
    box.close()


def test_sync_label_after_cancel(window, sandbox, run_until, settle):
    complete = window.context.cache.last_sync(complete_only=True)
    # Per-user credential reads, each slowed down, so the refresh can be caught halfway.
    sandbox.faults(latency_ms=200, embed_credentials="id")
    operation = window.refresh()
    run_until(lambda: operation.done >= 1, timeout=30)
    window.cancel_refresh()
    run_until(lambda: not operation.running, timeout=30)
    sandbox.faults(latency_ms=0, embed_credentials="full")
    settle(0.1)

    assert operation.state is OperationState.CANCELLED
    text = window.sync_label.text()
    from leafdesk.ui.presentation import format_time

    assert text.startswith(f"Last sync {format_time(complete.finished_at)}")
    assert "incomplete" not in text
    if not window.context.cache.last_sync().complete:
        assert "; a later refresh was stopped at " in text


def test_try_again_offline_says_so(window, run_until, settle):
    # Pointing the client at a closed loopback port makes every check fail quickly.
    window._enter_offline(None)
    client = window.context.client
    original = client.sign_in

    async def unreachable():
        from leafdesk.core.errors import OfflineError

        raise OfflineError("connection refused")

    client.sign_in = unreachable
    try:
        window.banner.retry_button.click()
        run_until(lambda: window.banner.check_result.isVisibleTo(window.banner))
        text = window.banner.check_result.text()
        assert text.startswith("Still offline: connection refused, checked at ")
        assert text[-6:-1].count(":") == 1  # HH:MM.
    finally:
        client.sign_in = original


def test_focus_returns_to_table_after_dialog(window, qapp, settle):
    window.select_user(window.model.row_at(0).user.id)
    window.table.setFocus()
    dialog = QDialog(window)
    window._open_dialog(dialog)
    settle(0.05)
    dialog.setFocus()
    dialog.reject()
    settle(0.05)
    assert QApplication.focusWidget() is window.table


def test_title_names_account_once(window):
    # Qt adds the application's display name where the platform shows one.
    assert window.windowTitle() == window.context.account.name


def test_next_step_column_hidden_by_default(window):
    from leafdesk.ui.users_model import Column

    header = window.table.horizontalHeader()
    assert header.isSectionHidden(Column.NEXT_STEP)
    # The header's column menu can show it.
    menu = QMenu(window)
    window._fill_columns_menu(menu)
    action = next(action for action in menu.actions() if action.text() == "Next step")
    action.setChecked(True)
    assert not header.isSectionHidden(Column.NEXT_STEP)
    row = window.proxy.index(0, 0).data(Qt.ItemDataRole.UserRole + 1)
    assert window.proxy.index(0, Column.NEXT_STEP).data() == row.state.next_step


def test_focus_returns_after_error_box(window, sandbox, run_until, settle):
    window.select_user(window.model.row_at(0).user.id)
    window.table.setFocus()  # as when Ctrl+R is pressed in the table
    sandbox.faults(fault_rate=1.0, faults=["500"])
    operation = window.recheck_selected()
    run_until(lambda: not operation.running, timeout=30)
    sandbox.faults(fault_rate=0.0)
    box = window.last_failure_box
    box.setFocus()
    box.close()
    settle(0.05)
    assert QApplication.focusWidget() is window.table
