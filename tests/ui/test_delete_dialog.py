"""The confirmation asked before a Panorama credential is deleted."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel

from leafdesk.core.model import LeafUser, PanoramaCredential
from leafdesk.ui.delete_dialog import DeleteDialog

USER = LeafUser(id="7c0e4b2a-1111-4c3d-9e8f-000000000001", name="Prairie Wind Farms")


def _credential(environment: str | None) -> PanoramaCredential:
    return PanoramaCredential(id="cred-1", leaf_user_id=USER.id, status="OK",
                              client_environment=environment, organization_code="ORG-77")


@pytest.fixture
def open_dialog(qtbot):
    def make(environment: str | None) -> tuple[DeleteDialog, list[int]]:
        dialog = DeleteDialog(None, USER, _credential(environment))
        qtbot.addWidget(dialog)
        confirmations: list[int] = []
        dialog.confirmed.connect(lambda: confirmations.append(1))
        dialog.open()
        return dialog, confirmations

    return make


def test_production_needs_typed_name(open_dialog, qtbot):
    dialog, confirmations = open_dialog("PRODUCTION")
    assert dialog.confirmation.name_edit is not None
    assert not dialog.delete_button.isEnabled()

    qtbot.keyClicks(dialog.confirmation.name_edit, "Prairie Wind")
    assert not dialog.delete_button.isEnabled()
    qtbot.keyClicks(dialog.confirmation.name_edit, " Farms")
    assert dialog.delete_button.isEnabled()

    qtbot.mouseClick(dialog.delete_button, Qt.MouseButton.LeftButton)
    assert confirmations == [1]
    assert not dialog.isVisible()


def test_production_rejects_other_case(open_dialog, qtbot):
    dialog, confirmations = open_dialog("PRODUCTION")
    qtbot.keyClicks(dialog.confirmation.name_edit, "prairie wind farms")
    assert not dialog.delete_button.isEnabled()
    dialog._confirm()
    assert confirmations == []


def test_production_trims_spaces(open_dialog, qtbot):
    dialog, _ = open_dialog("PRODUCTION")
    qtbot.keyClicks(dialog.confirmation.name_edit, "  Prairie Wind Farms ")
    assert dialog.delete_button.isEnabled()


def test_warning_names_event_log_loss(open_dialog):
    dialog, _ = open_dialog("PRODUCTION")
    assert "event log" in dialog.confirmation.warning.text()
    assert USER.name in dialog.confirmation.summary.text()
    assert "PRODUCTION" in dialog.confirmation.summary.text()


def test_stage_plain_confirm(open_dialog, qtbot):
    dialog, confirmations = open_dialog("STAGE")
    assert dialog.confirmation.name_edit is None
    assert dialog.delete_button.isEnabled()
    assert "event log" in dialog.confirmation.warning.text()
    qtbot.mouseClick(dialog.delete_button, Qt.MouseButton.LeftButton)
    assert confirmations == [1]


def test_unknown_environment_needs_name(open_dialog):
    dialog, _ = open_dialog(None)
    assert dialog.confirmation.name_edit is not None
    assert not dialog.delete_button.isEnabled()


def test_cancel_and_enter_do_not_delete(open_dialog, qtbot):
    dialog, confirmations = open_dialog("STAGE")
    # Cancel is the default button, so Enter alone must not confirm.
    qtbot.keyClick(dialog, Qt.Key.Key_Return)
    assert confirmations == []
    assert not dialog.isVisible()


def test_escape_cancels(open_dialog, qtbot):
    dialog, confirmations = open_dialog("PRODUCTION")
    qtbot.keyClicks(dialog.confirmation.name_edit, USER.name)
    qtbot.keyClick(dialog, Qt.Key.Key_Escape)
    assert confirmations == []
    assert not dialog.isVisible()


def test_delete_dialog_screens(open_dialog, qtbot, artifact_dir):
    for environment in ("PRODUCTION", "STAGE"):
        dialog, _ = open_dialog(environment)
        if dialog.confirmation.name_edit is not None:
            qtbot.keyClicks(dialog.confirmation.name_edit, "Prairie")
        path = artifact_dir / f"delete_dialog_{environment.lower()}.png"
        assert dialog.grab().save(str(path))
        assert path.stat().st_size > 0


def _dark_palette(original):
    from PySide6.QtGui import QColor, QPalette

    dark = QPalette(original)
    for role, colour in ((QPalette.ColorRole.Window, "#2b2b2b"),
                         (QPalette.ColorRole.WindowText, "#e8e8e8"),
                         (QPalette.ColorRole.Base, "#1e1e1e"),
                         (QPalette.ColorRole.Text, "#e8e8e8"),
                         (QPalette.ColorRole.Button, "#3a3a3a"),
                         (QPalette.ColorRole.ButtonText, "#e8e8e8")):
        dark.setColor(role, QColor(colour))
    for role in (QPalette.ColorRole.ButtonText, QPalette.ColorRole.Text,
                 QPalette.ColorRole.WindowText):
        dark.setColor(QPalette.ColorGroup.Disabled, role, QColor("#7a7a7a"))
    return dark


def test_dark_palette_screen(qtbot, qapp, artifact_dir):
    from leafdesk.ui.forms_fields import is_dark

    original = qapp.palette()
    qapp.setPalette(_dark_palette(original))
    try:
        dialog = DeleteDialog(None, USER, _credential("PRODUCTION"))
        qtbot.addWidget(dialog)
        dialog.open()
        assert is_dark(dialog.palette())
        # The warning's amber must be the light variant on a dark window.
        assert dialog.confirmation.warning.tone_colour() == "#ffd180"
        assert dialog.grab().save(str(artifact_dir / "delete_dialog_dark.png"))
    finally:
        qapp.setPalette(original)
        qapp.processEvents()


def test_warning_recoloured_on_theme_switch(open_dialog, qapp):
    dialog, _ = open_dialog("PRODUCTION")
    light = dialog.confirmation.warning.tone_colour()
    original = qapp.palette()
    qapp.setPalette(_dark_palette(original))
    qapp.processEvents()  # Qt posts the palette change to each widget
    try:
        assert light == "#8a4b00"
        assert dialog.confirmation.warning.tone_colour() == "#ffd180"
    finally:
        qapp.setPalette(original)
        qapp.processEvents()
    assert dialog.confirmation.warning.tone_colour() == light


def test_production_enter_confirms_typed_name(open_dialog, qtbot):
    dialog, confirmations = open_dialog("PRODUCTION")
    name_edit = dialog.confirmation.name_edit
    qtbot.keyClicks(name_edit, "Prairie Wind")
    assert dialog.cancel_button.isDefault()
    assert not dialog.delete_button.isDefault()

    qtbot.keyClicks(name_edit, " Farms")
    assert dialog.delete_button.isDefault()
    assert not dialog.cancel_button.isDefault()
    qtbot.keyClick(name_edit, Qt.Key.Key_Return)
    assert confirmations == [1]
    assert not dialog.isVisible()


def test_production_enter_cancels_wrong_name(open_dialog, qtbot):
    dialog, confirmations = open_dialog("PRODUCTION")
    name_edit = dialog.confirmation.name_edit
    qtbot.keyClicks(name_edit, "Prairie Wind Farms")
    qtbot.keyClick(name_edit, Qt.Key.Key_Backspace)
    assert dialog.cancel_button.isDefault()
    qtbot.keyClick(name_edit, Qt.Key.Key_Return)
    assert confirmations == []
    assert not dialog.isVisible()


def test_production_prompt_keeps_ampersand(qtbot, artifact_dir):
    user = LeafUser(id=USER.id, name="Aspen Ridge Land & Cattle")
    dialog = DeleteDialog(None, user, _credential("PRODUCTION"))
    qtbot.addWidget(dialog)
    dialog.open()
    prompt = dialog.confirmation.name_edit
    labels = [label for label in dialog.findChildren(QLabel) if label.buddy() is prompt]
    assert len(labels) == 1
    # With a buddy, Qt shows "&&" as one "&" and would take a single "&" as a mnemonic.
    assert "Aspen Ridge Land && Cattle, to confirm" in labels[0].text()
    dialog.grab().save(str(artifact_dir / "delete_dialog_ampersand.png"))

    qtbot.keyClicks(prompt, "Aspen Ridge Land & Cattle")
    assert dialog.delete_button.isEnabled()


def _prompt_text(dialog: DeleteDialog) -> str:
    prompt = dialog.confirmation.name_edit
    labels = [label for label in dialog.findChildren(QLabel) if label.buddy() is prompt]
    assert len(labels) == 1
    return labels[0].text()


def test_unknown_environment_not_called_production(open_dialog):
    dialog, _ = open_dialog(None)
    text = _prompt_text(dialog)
    assert "PRODUCTION credential" not in text
    assert "does not know this credential's environment" in text
    assert "Prairie Wind Farms, to confirm" in text


def test_production_prompt_names_production(open_dialog):
    dialog, _ = open_dialog("PRODUCTION")
    assert _prompt_text(dialog).startswith("This is a PRODUCTION credential.")
