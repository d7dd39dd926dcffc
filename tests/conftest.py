"""Guardrails for every test: no developer folder, no proxy, no real keychain, offscreen Qt.

LeafDesk resolves its folders through platformdirs, which reads XDG variables on Linux; each test
session points them at a temporary tree so that nothing reads or writes the developer's real
settings, cache, logs or keychain.
"""

from __future__ import annotations

import os

import pytest

# Set before anything imports Qt or platformdirs.
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
for _name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy",
              "SSL_CERT_FILE", "SSL_CERT_DIR", "REQUESTS_CA_BUNDLE"):
    os.environ.pop(_name, None)
os.environ["NO_PROXY"] = "127.0.0.1,localhost"


@pytest.fixture(autouse=True)
def isolated_folders(tmp_path_factory, monkeypatch):
    """Point the platform data, config, cache, state and log folders at a fresh temporary tree."""
    root = tmp_path_factory.mktemp("home")
    for variable, sub in (
        ("XDG_DATA_HOME", "data"),
        ("XDG_CONFIG_HOME", "config"),
        ("XDG_CACHE_HOME", "cache"),
        ("XDG_STATE_HOME", "state"),
    ):
        path = root / sub
        path.mkdir()
        monkeypatch.setenv(variable, str(path))
    monkeypatch.setenv("HOME", str(root))
    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", "keyring.backends.null.Keyring")
    monkeypatch.setattr(
        "keyring.core._keyring_backend", __import__("keyring_memory").MemoryKeyring()
    )
    return root
