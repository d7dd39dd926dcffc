"""Without a usable keychain, the sign-in and settings windows say the same thing: passwords
are kept in memory until LeafDesk closes, and nothing offers to remember them in a keychain."""

from __future__ import annotations

import pytest
from keyring.backends import fail
from PySide6.QtCore import Qt

from leafdesk.core.secrets import LEAF_PASSWORD, SecretStore
from leafdesk.core.settings import LeafAccount, Settings, SettingsStore
from leafdesk.ui.settings_dialog import SettingsDialog
from leafdesk.ui.sign_in import SignInDialog

IN_MEMORY = "kept in memory until LeafDesk closes"


@pytest.fixture
def memory_secrets():
    secrets = SecretStore(backend=fail.Keyring())
    assert not secrets.persistent
    return secrets


@pytest.fixture
def saved(tmp_path):
    store = SettingsStore(tmp_path / "settings.json")
    settings = Settings(accounts=[LeafAccount("Production", username="ops@example.org")],
                        last_account="Production")
    store.save(settings)
    return store, settings


def test_sign_in_remember_disabled(qtbot, memory_secrets, saved, settle, artifact_dir):
    store, settings = saved
    dialog = SignInDialog(None, store, settings, memory_secrets)
    qtbot.addWidget(dialog)
    dialog.show()

    box = dialog.remember_check
    assert not box.isChecked()
    assert not box.isEnabled()
    assert IN_MEMORY in box.toolTip()
    assert IN_MEMORY in dialog.keychain_note.text()
    assert dialog.keychain_note.isVisible()

    # Switching accounts or finishing a sign-in attempt must not tick or enable it again.
    dialog.account_combo.setCurrentIndex(dialog.account_combo.count() - 1)
    dialog.set_busy(True, "Signing in…")
    dialog.set_busy(False)
    assert not box.isChecked()
    assert not box.isEnabled()
    # The saved choice is kept for a later run that has a keychain.
    dialog.account_combo.setCurrentIndex(0)
    assert dialog.account_from_form().remember is True
    settle(0.1)
    dialog.grab().save(str(artifact_dir / "sign_in_no_keychain.png"))


def test_settings_no_keychain_wording(qtbot, memory_secrets, saved, tmp_path):
    store, settings = saved
    memory_secrets.set(LEAF_PASSWORD, "Production", "leaf-secret")
    dialog = SettingsDialog(None, store, settings, memory_secrets, log_folder=tmp_path)
    qtbot.addWidget(dialog)
    dialog.show()

    password_column = 3
    shown = dialog.accounts_model.index(0, password_column).data(Qt.ItemDataRole.DisplayRole)
    assert shown == IN_MEMORY
    labels = [label.text() for label in dialog.findChildren(type(dialog.message))]
    assert not any("kept in the system keychain" in text for text in labels)
    assert any(IN_MEMORY in text for text in labels)
    assert "keychain" not in dialog.preset_password.placeholderText().replace(
        "system keychain", "")
    assert dialog.preset_password.placeholderText().startswith("Kept in memory")
