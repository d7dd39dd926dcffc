"""The details panel in the main window: it fits the window without clipping, follows every
change of the credential, and words the state timeline right."""

from __future__ import annotations

import pytest
from PySide6.QtCore import QPoint
from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import QAbstractButton, QLineEdit, QWidget

from leafdesk.core.model import ConnectionState
from leafdesk.core.validation import validate_one_click
from leafdesk.ui.main_window import MainWindow
from leafdesk.ui.operations import OperationState
from leafdesk.ui.window_state import WindowStateStore

DARK = {
    QPalette.ColorRole.Window: "#202124",
    QPalette.ColorRole.WindowText: "#e8eaed",
    QPalette.ColorRole.Base: "#17181a",
    QPalette.ColorRole.AlternateBase: "#25272a",
    QPalette.ColorRole.Text: "#e8eaed",
    QPalette.ColorRole.Button: "#2d2f31",
    QPalette.ColorRole.ButtonText: "#e8eaed",
    QPalette.ColorRole.ToolTipBase: "#3c4043",
    QPalette.ColorRole.ToolTipText: "#e8eaed",
    QPalette.ColorRole.Highlight: "#8ab4f8",
    QPalette.ColorRole.HighlightedText: "#202124",
}


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


def clipped_widgets(panel) -> list[str]:
    """Name the visible widgets of the panel that reach past its visible width."""
    viewport = panel.scroll.viewport()
    right_edge = viewport.width()
    clipped = []
    for widget in panel.scroll.widget().findChildren(QWidget):
        if not widget.isVisibleTo(panel) or widget.width() == 0:
            continue
        right = widget.mapTo(viewport, QPoint(widget.width(), 0)).x()
        if right > right_edge + 1:
            clipped.append(f"{type(widget).__name__} {widget.objectName() or ''}"
                           f"{getattr(widget, 'text', lambda: '')()!r} ends at {right} > "
                           f"{right_edge}")
        if isinstance(widget, QAbstractButton) and widget.width() < widget.sizeHint().width():
            clipped.append(f"button {widget.text()!r} is {widget.width()} px, needs "
                           f"{widget.sizeHint().width()}")
    return clipped


@pytest.mark.parametrize("size", [(1280, 800), (1024, 700)])
@pytest.mark.parametrize("palette", ["light", "dark"])
def test_details_fit_window(window, qapp, run_until, settle, artifact_dir, size, palette):
    original = qapp.palette()
    if palette == "dark":
        dark = QPalette()
        for role, colour in DARK.items():
            dark.setColor(role, QColor(colour))
        qapp.setPalette(dark)
    try:
        window.resize(*size)
        row = first_row(window, lambda r: r.state.state is ConnectionState.CONNECTED
                        and r.user.external_id)
        window.select_user(row.user.id)
        run_until(lambda: window.details.credential is not None)
        settle(0.3)

        assert clipped_widgets(window.details) == []
        assert window.details.width() >= window.details.minimumWidth()
        # The values follow the palette, also when it changes while the window is open.
        text_colour = window.details.fields["id"].palette().color(QPalette.ColorRole.Text)
        assert text_colour == qapp.palette().color(QPalette.ColorRole.Text)
        # A value too long for its field is elided in the middle, never cut off.
        for field in [*window.details.fields.values(), window.details.access_token]:
            shown = QLineEdit.text(field)
            room = field.contentsRect().width()
            assert field.fontMetrics().horizontalAdvance(shown) <= room, (field.text(), shown)
            if shown != field.text():
                assert "…" in shown
                assert field.toolTip() == field.text()
        window.grab().save(str(artifact_dir / f"details_fit_{size[0]}x{size[1]}_{palette}.png"))
        bar = window.details.scroll.verticalScrollBar()
        bar.setValue(bar.maximum())
        settle(0.1)
        window.details.grab().save(
            str(artifact_dir / f"details_fit_{size[0]}x{size[1]}_{palette}_bottom.png"))
        bar.setValue(0)

        window._enter_offline(None)
        settle(0.3)
        assert clipped_widgets(window.details) == []
        window.grab().save(
            str(artifact_dir / f"details_fit_{size[0]}x{size[1]}_{palette}_offline.png"))
    finally:
        qapp.setPalette(original)


def test_delete_clears_stale_credential(window, run_until, settle):
    row = first_row(window, lambda r: r.state.state is ConnectionState.CONNECTED)
    window.select_user(row.user.id)
    run_until(lambda: window.details.credential is not None)
    run_until(lambda: window.event_log.load_operation is not None
              and not window.event_log.load_operation.running)
    events_before = window.event_log.load_operation

    operation = window.delete_credential(row)
    run_until(lambda: not operation.running)
    run_until(lambda: window.model.row_for(row.user.id).state.state
              is ConnectionState.NOT_CONNECTED)
    settle(0.2)

    details = window.details
    assert details.row.user.id == row.user.id
    assert details.credential is None
    assert details.fields["id"].text() == "—"
    assert details.access_token.text() == "—"
    assert not details.copy_access.isEnabled()
    assert not details.delete_button.isEnabled()
    assert details.credential_note.text() == "Leaf holds no Panorama credential for this user."
    # The event log was loaded again for the same user after the change.
    assert window.event_log.load_operation is not events_before
    newest = details.timeline.item(0).text()
    assert newest.endswith("Disconnected (credential deleted)"), newest
    assert "Deleted the Panorama credential" in window.statusBar().currentMessage()


def test_first_connection_not_healed(window, sandbox, run_async, run_until):
    row = first_row(window, lambda r: r.state.state is ConnectionState.NOT_CONNECTED)
    window.select_user(row.user.id)
    # A one-click approved through the sandbox gives the user their first credential.
    partner = sandbox.demo.partners["STAGE"]
    start = validate_one_click(client_id=partner.client_id, username=partner.username,
                               password=partner.password, client_environment="STAGE",
                               sharing_url_id=partner.sharing_url_id)
    run_async(window.context.connect.start_one_click(row.user, start))
    sandbox.approve(row.user.id)
    operation = window.recheck_selected()
    run_until(lambda: not operation.running)
    assert window.model.row_for(row.user.id).state.state is ConnectionState.CONNECTED

    lines = [window.details.timeline.item(i).text()
             for i in range(window.details.timeline.count())]
    assert lines[0].endswith("  Connected")  # newest first
    assert not any("Healed" in line for line in lines)
    assert lines[-1].endswith("First seen: Not connected")
    assert window.details.timeline_note.text().startswith("Since LeafDesk began watching on ")


def test_rejected_partner_login_advice(window, sandbox, app_context, run_async, run_until,
                                       settle, artifact_dir):
    from leafdesk.core.validation import validate_manual

    row = first_row(window, lambda r: r.state.state is ConnectionState.NOT_CONNECTED)
    partner = sandbox.demo.partners["STAGE"]
    data = validate_manual(client_id=partner.client_id, username=partner.username,
                           password="not-the-partner-password", organization_code="PP-TEST01",
                           refresh_token="refresh-token-from-cognito", client_environment="STAGE")
    run_async(app_context.connect.create_manual(row.user, data))
    # Leaf's background check rejects the partner login a few sandbox seconds later.
    sandbox.advance_clock(10)
    operation = window.refresh()
    run_until(lambda: not operation.running, timeout=30)
    run_until(lambda: window.model.row_for(row.user.id).state.state
              is ConnectionState.NEEDS_REAUTHORIZATION)

    window.select_user(row.user.id)
    run_until(lambda: window.event_log.load_operation is not None
              and not window.event_log.load_operation.running)
    settle(0.2)
    details = window.details
    assert details.actor.text() == "Who must act: Staff"
    assert "partner username and password" in details.next_step.text()
    assert "approve sharing" not in details.next_step.text()
    details.grab().save(str(artifact_dir / "details_partner_login_rejected.png"))
