"""The settings dialog: accounts, partner app presets with passwords in the keychain, refresh."""

from __future__ import annotations

import json

import pytest
from PySide6.QtCore import Qt

from leafdesk.core.secrets import LEAF_PASSWORD, PARTNER_PASSWORD, SecretStore
from leafdesk.core.settings import LeafAccount, PartnerPreset, Settings, SettingsStore
from leafdesk.ui.settings_dialog import SettingsDialog

SHARING_ID = "6f1c2a44-0b7e-4f4e-9d43-1f0f2d9c8a10"


@pytest.fixture
def setup(qtbot, tmp_path):
    store = SettingsStore(tmp_path / "settings.json")
    settings = Settings(
        accounts=[LeafAccount("Production", username="ops@example.org")],
        presets=[PartnerPreset("Old app", "client-1", "partner@example.org", SHARING_ID)],
    )
    store.save(settings)
    secrets = SecretStore()
    secrets.set(LEAF_PASSWORD, "Production", "leaf-secret")
    secrets.set(PARTNER_PASSWORD, "Old app", "old-partner-secret")
    dialog = SettingsDialog(None, store, settings, secrets, log_folder=tmp_path / "logs")
    qtbot.addWidget(dialog)
    dialog.show()
    return store, settings, secrets, dialog


def test_preset_password_goes_to_keychain(setup):
    store, settings, secrets, dialog = setup
    dialog.preset_name.setText("Stage app")
    dialog.preset_environment.setCurrentIndex(dialog.preset_environment.findText("STAGE"))
    dialog.preset_client_id.setText("client-2")
    dialog.preset_username.setText("stage-partner@example.org")
    dialog.preset_password.setText("new-partner-secret")
    dialog.preset_sharing.setText(SHARING_ID)
    dialog._add_preset()
    assert dialog.message.isHidden()
    dialog.save()

    saved = store.load()
    assert [preset.name for preset in saved.presets] == ["Old app", "Stage app"]
    assert str(saved.preset("Stage app").client_environment) == "STAGE"
    assert secrets.get(PARTNER_PASSWORD, "Stage app") == "new-partner-secret"
    text = store.path.read_text()
    assert "new-partner-secret" not in text
    assert "old-partner-secret" not in text
    # The window's settings object sees the change at once.
    assert settings.preset("Stage app") is not None


def test_invalid_preset_rejected_per_field(setup):
    _, _, _, dialog = setup
    dialog.preset_name.setText("Broken")
    dialog.preset_client_id.setText("client-3")
    dialog.preset_username.setText("partner@example.org")
    dialog.preset_password.setText("x")
    dialog.preset_sharing.setText("not-a-uuid")
    dialog._add_preset()
    assert dialog.message.isVisible()
    assert "sharing_url_id" in dialog.message.text()
    assert [preset.name for preset in dialog.presets] == ["Old app"]


def test_removing_entries_removes_secrets(setup):
    store, _, secrets, dialog = setup
    dialog.presets_view.selectRow(0)
    dialog._remove_preset()
    dialog.accounts_view.selectRow(0)
    dialog._remove_account()
    dialog.save()

    saved = store.load()
    assert saved.presets == []
    assert saved.accounts == []
    assert secrets.get(PARTNER_PASSWORD, "Old app") is None
    assert secrets.get(LEAF_PASSWORD, "Production") is None


def test_refresh_and_concurrency_saved(setup):
    store, _, _, dialog = setup
    dialog.interval.setValue(5)
    dialog.concurrency.setValue(12)
    dialog.save()
    document = json.loads(store.path.read_text())
    assert document["refresh_interval_minutes"] == 5
    assert document["concurrency"] == 12


def test_cancel_changes_nothing(setup):
    store, settings, secrets, dialog = setup
    dialog.presets_view.selectRow(0)
    dialog._remove_preset()
    dialog.reject()
    assert [preset.name for preset in store.load().presets] == ["Old app"]
    assert secrets.get(PARTNER_PASSWORD, "Old app") == "old-partner-secret"
    assert [preset.name for preset in settings.presets] == ["Old app"]


def test_settings_tabs_grabbed(setup, settle, artifact_dir, tmp_path):
    _, _, _, dialog = setup
    assert dialog.open_logs.isEnabled()
    assert str(tmp_path / "logs") in dialog.log_label.text()
    for index, name in enumerate(("accounts", "presets", "general")):
        dialog.tabs.setCurrentIndex(index)
        settle()
        dialog.grab().save(str(artifact_dir / f"settings_{name}.png"))


def test_new_accounts_get_own_colour_and_no_password(setup):
    _store, _settings, _secrets, dialog = setup
    colours = [dialog.accounts[0].environment_colour]
    for name in ("Test one", "Test two"):
        dialog.account_name.setText(name)
        dialog.account_username.setText("ops@example.org")
        dialog.add_account_button.click()
        colours.append(dialog.accounts[-1].environment_colour)
    assert len(set(colours)) == 3, colours

    model = dialog.accounts_view.model()
    password_column = next(column for column in range(model.columnCount())
                           if model.headerData(column, Qt.Orientation.Horizontal) == "Password")
    # The account added here has no password yet; the first one has one.
    assert model.index(2, password_column).data() == "not saved"
    assert model.index(0, password_column).data() != "not saved"


def test_account_renamed_twice_keeps_password(setup):
    _, _, secrets, dialog = setup
    for name in ("Production EU", "Production US"):
        dialog.accounts_view.selectRow(0)
        dialog.account_name.setText(name)
        dialog._update_account()
    dialog.save()

    assert secrets.get(LEAF_PASSWORD, "Production US") == "leaf-secret"
    assert secrets.get(LEAF_PASSWORD, "Production EU") is None
    assert secrets.get(LEAF_PASSWORD, "Production") is None


def test_rename_to_existing_name_rejected(setup):
    _, _, _, dialog = setup
    dialog.account_name.setText("Test")
    dialog.account_username.setText("test@example.org")
    dialog._add_account()
    dialog.accounts_view.selectRow(1)
    dialog.account_name.setText("Production")
    dialog._update_account()

    assert dialog.message.isVisible()
    assert "exists already" in dialog.message.text()
    assert [account.name for account in dialog.accounts] == ["Production", "Test"]
