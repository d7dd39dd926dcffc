"""SecretStore over real keyring backends: the in-memory test one, null, fail and failing ones."""

from __future__ import annotations

import logging

import keyring
import keyring.errors
import pytest
from keyring.backends import fail, null
from keyring_memory import MemoryKeyring

from leafdesk.core.model import Secret
from leafdesk.core.secrets import (
    LEAF_PASSWORD,
    LEAF_TOKEN,
    NO_KEYCHAIN_WARNING,
    PARTNER_PASSWORD,
    SERVICE_NAME,
    SecretStore,
)


def test_store_uses_resolved_backend():
    store = SecretStore()

    assert store.persistent is True
    assert store.warning is None
    assert store.backend_name == "keyring_memory.MemoryKeyring"
    assert keyring.get_keyring() is store._backend


def test_set_get_delete_round_trip():
    backend = keyring.get_keyring()
    store = SecretStore()

    store.set(LEAF_PASSWORD, "Demo", "owner-password-1")
    store.set(LEAF_TOKEN, "Demo", "eyJ.token.value")
    store.set(PARTNER_PASSWORD, "Acme STAGE", "partner-password-1")

    value = store.get(LEAF_PASSWORD, "Demo")
    assert value == "owner-password-1"
    assert isinstance(value, Secret)
    assert "owner-password-1" not in repr(value)
    assert store.get(LEAF_TOKEN, "Demo") == "eyJ.token.value"
    assert store.get(PARTNER_PASSWORD, "Acme STAGE") == "partner-password-1"
    assert backend.entries[(SERVICE_NAME, "leaf-password:Demo")] == "owner-password-1"

    store.delete(LEAF_PASSWORD, "Demo")
    assert store.get(LEAF_PASSWORD, "Demo") is None
    assert store.get(LEAF_TOKEN, "Demo") == "eyJ.token.value"


def test_values_shared_between_stores():
    SecretStore().set(LEAF_PASSWORD, "Demo", "pw")

    assert SecretStore().get(LEAF_PASSWORD, "Demo") == "pw"


def test_missing_secret_is_none():
    assert SecretStore().get(LEAF_TOKEN, "nobody") is None


def test_delete_missing_secret_is_quiet(caplog):
    store = SecretStore()

    with caplog.at_level(logging.WARNING):
        store.delete(LEAF_TOKEN, "nobody")

    assert store.persistent is True
    assert caplog.records == []


def test_unknown_kind_rejected():
    store = SecretStore()

    with pytest.raises(ValueError, match="Unknown secret kind"):
        store.set("panorama-token", "x", "y")
    with pytest.raises(ValueError, match="non-empty key"):
        store.get(LEAF_PASSWORD, "")


@pytest.mark.parametrize("backend_class", [null.Keyring, fail.Keyring])
def test_no_keychain_falls_back_to_memory(backend_class, caplog, isolated_folders):
    with caplog.at_level(logging.WARNING, logger="leafdesk.core.secrets"):
        store = SecretStore(backend=backend_class())
        store.set(LEAF_PASSWORD, "Demo", "fallback-password-7")
        store.set(LEAF_TOKEN, "Demo", "fallback-token-7")
        value = store.get(LEAF_PASSWORD, "Demo")

    assert value == "fallback-password-7"
    assert store.persistent is False
    assert store.warning == NO_KEYCHAIN_WARNING
    warnings = [record for record in caplog.records if record.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert "fallback-password-7" not in caplog.text

    # Memory only: no file under the temporary home contains the value.
    for path in isolated_folders.rglob("*"):
        if path.is_file():
            assert b"fallback-password-7" not in path.read_bytes()


def test_fallback_values_last_for_this_store_only():
    store = SecretStore(backend=null.Keyring())
    store.set(LEAF_PASSWORD, "Demo", "pw")

    assert SecretStore(backend=null.Keyring()).get(LEAF_PASSWORD, "Demo") is None


def test_backend_error_switches_to_memory(caplog):
    backend = MemoryKeyring()
    store = SecretStore(backend=backend)
    store.set(LEAF_PASSWORD, "Demo", "before-failure")
    assert store.persistent is True

    backend.fail_with = keyring.errors.KeyringLocked("The keychain is locked")
    with caplog.at_level(logging.WARNING, logger="leafdesk.core.secrets"):
        store.set(LEAF_PASSWORD, "Demo", "after-failure")
        store.set(LEAF_TOKEN, "Demo", "token-after-failure")
        fetched = store.get(LEAF_PASSWORD, "Demo")
        store.delete(LEAF_TOKEN, "Demo")

    assert store.persistent is False
    assert store.warning == NO_KEYCHAIN_WARNING
    assert fetched == "after-failure"
    assert store.get(LEAF_TOKEN, "Demo") is None
    assert len([r for r in caplog.records if r.levelno == logging.WARNING]) == 1
    assert "KeyringLocked" in caplog.text
    # The value written before the failure stays in the keychain; nothing after it reached it.
    assert backend.entries == {(SERVICE_NAME, "leaf-password:Demo"): "before-failure"}


def test_read_error_switches_to_memory():
    backend = MemoryKeyring()
    backend.fail_with = RuntimeError("dbus connection closed")
    store = SecretStore(backend=backend)

    assert store.get(LEAF_PASSWORD, "Demo") is None
    assert store.persistent is False


def test_file_backend_refused():
    # Shaped like keyrings.alt's PlaintextKeyring, which writes secrets to a file.
    file_backend_class = type(
        "PlaintextKeyring", (MemoryKeyring,), {"__module__": "keyrings.alt.file"}
    )

    store = SecretStore(backend=file_backend_class())
    store.set(LEAF_PASSWORD, "Demo", "pw")

    assert store.persistent is False
    assert store.backend_name == "keyrings.alt.file.PlaintextKeyring"
    assert store._backend.entries == {}


def test_repr_shows_no_secret():
    store = SecretStore()
    store.set(LEAF_PASSWORD, "Demo", "repr-password")

    assert "repr-password" not in repr(store)
    assert "MemoryKeyring" in repr(store)


def test_oversized_value_kept_in_memory(caplog):
    backend = MemoryKeyring()
    backend.max_length = 100
    store = SecretStore(backend=backend)
    store.set(LEAF_TOKEN, "Demo", "short-old-token")
    long_token = "t" * 500

    with caplog.at_level(logging.WARNING, logger="leafdesk.core.secrets"):
        store.set(LEAF_TOKEN, "Demo", long_token)
        store.set(LEAF_PASSWORD, "Demo", "still-in-keychain")

    assert store.get(LEAF_TOKEN, "Demo") == long_token
    assert store.persistent is True
    assert store.warning is None
    assert backend.entries == {(SERVICE_NAME, "leaf-password:Demo"): "still-in-keychain"}
    assert "did not accept the leaf-token" in caplog.text
    assert long_token not in caplog.text

    store.set(LEAF_TOKEN, "Demo", "short-again")
    assert backend.entries[(SERVICE_NAME, "leaf-token:Demo")] == "short-again"
    assert store.get(LEAF_TOKEN, "Demo") == "short-again"


def test_rename_moves_secret():
    backend = keyring.get_keyring()
    store = SecretStore()
    store.set(LEAF_PASSWORD, "Old name", "pw-to-move")

    store.rename(LEAF_PASSWORD, "Old name", "New name")
    store.rename(LEAF_PASSWORD, "Missing", "Elsewhere")

    assert store.get(LEAF_PASSWORD, "New name") == "pw-to-move"
    assert store.get(LEAF_PASSWORD, "Old name") is None
    assert store.get(LEAF_PASSWORD, "Elsewhere") is None
    assert backend.entries == {(SERVICE_NAME, "leaf-password:New name"): "pw-to-move"}
