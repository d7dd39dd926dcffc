"""The sign-in dialog against a loopback sandbox: success, each failure kind, and offline start."""

from __future__ import annotations

import socket
from datetime import datetime, timezone

import pytest

from leafdesk.core.cache import Cache
from leafdesk.core.client import LeafClient
from leafdesk.core.secrets import LEAF_PASSWORD, SecretStore
from leafdesk.core.settings import LeafAccount, Settings, SettingsStore
from leafdesk.core.sync import SyncService
from leafdesk.ui import aio
from leafdesk.ui.main_window import MainWindow
from leafdesk.ui.sign_in import SignInDialog


def free_loopback_port() -> int:
    """Return a port on 127.0.0.1 that nothing listens on (bound, then released)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


async def demo_never_started():
    raise AssertionError("these tests do not start the demo")


@pytest.fixture
def dialog(qtbot):
    store = SettingsStore()
    dialog = SignInDialog(None, store, store.load(), SecretStore(),
                          start_demo=demo_never_started)
    qtbot.addWidget(dialog)
    dialog.show()
    return dialog


def fill(dialog: SignInDialog, *, name: str, url: str, username: str, password: str) -> None:
    dialog.account_combo.setCurrentIndex(dialog.account_combo.count() - 1)  # New account…
    dialog.name_edit.setText(name)
    dialog.url_edit.setText(url)
    dialog.username_edit.setText(username)
    dialog.password_edit.setText(password)


def test_sign_in_saves_account_and_keychain(dialog, sandbox, run_until, run_async):
    signed_in = []
    dialog.signed_in.connect(signed_in.append)
    fill(dialog, name="Sandbox", url=sandbox.base_url, username=sandbox.demo.owner_username,
         password=sandbox.demo.owner_password)
    dialog.submit()
    run_until(lambda: dialog.task.done())

    assert len(signed_in) == 1
    context = signed_in[0]
    assert context.online
    saved = SettingsStore().load()
    assert saved.account("Sandbox").base_url == sandbox.base_url
    assert saved.last_account == "Sandbox"
    assert dialog.secrets.get(LEAF_PASSWORD, "Sandbox") == sandbox.demo.owner_password
    # The password went to the keychain, never into the settings file.
    assert sandbox.demo.owner_password not in SettingsStore().path.read_text()
    run_async(context.aclose())


def test_wrong_password_message(dialog, sandbox, run_until, settle, artifact_dir):
    signed_in = []
    dialog.signed_in.connect(signed_in.append)
    fill(dialog, name="Sandbox", url=sandbox.base_url, username=sandbox.demo.owner_username,
         password="not-the-password")
    dialog.submit()
    run_until(lambda: dialog.task.done())

    assert signed_in == []
    assert dialog.isVisible()
    assert dialog.message.text() == ("Leaf rejected the username or password for Sandbox. "
                                     "Check both and try again.")
    assert dialog.sign_in_button.isEnabled()
    assert dialog.secrets.get(LEAF_PASSWORD, "Sandbox") is None
    settle()
    dialog.grab().save(str(artifact_dir / "sign_in_wrong_password.png"))


def test_unreachable_host_message(dialog, run_until):
    url = f"http://127.0.0.1:{free_loopback_port()}"
    fill(dialog, name="Nowhere", url=url, username="someone@example.org", password="secret")
    dialog.submit()
    run_until(lambda: dialog.task.done(), timeout=30)

    text = dialog.message.text()
    assert text.startswith(f"Leaf at {url} cannot be reached")
    assert "No offline cache exists for this account yet" in text


def test_tls_problem_message(dialog, sandbox, run_until):
    # The sandbox speaks plain HTTP, so an https:// URL to it fails in the TLS handshake.
    url = sandbox.base_url.replace("http://", "https://")
    fill(dialog, name="Wrong scheme", url=url, username="someone@example.org", password="x")
    dialog.submit()
    run_until(lambda: dialog.task.done(), timeout=30)

    text = dialog.message.text()
    assert text.startswith(f"The secure connection to {url} failed")
    assert "cannot be reached" not in text


def test_missing_fields_not_sent(dialog):
    fill(dialog, name="Sandbox", url="http://127.0.0.1:1", username="", password="")
    dialog.submit()
    assert dialog.task is None
    assert dialog.message.text() == "Enter the username and password to sign in."


def test_saved_account_prefilled(qtbot, sandbox):
    store = SettingsStore()
    account = LeafAccount("Sandbox", base_url=sandbox.base_url, username="me@example.org")
    store.save(Settings(accounts=[account], last_account="Sandbox"))
    secrets = SecretStore()
    secrets.set(LEAF_PASSWORD, "Sandbox", "from-keychain")

    dialog = SignInDialog(None, store, store.load(), secrets)
    qtbot.addWidget(dialog)
    assert dialog.url_edit.text() == sandbox.base_url
    assert dialog.username_edit.text() == "me@example.org"
    assert dialog.password_edit.text() == "from-keychain"


def test_start_offline_from_cache(qtbot, sandbox, run_async, run_until, settle, tmp_path,
                                  artifact_dir):
    # A first session fills the account's cache while Leaf answers.
    cache_file = tmp_path / "cache.sqlite3"

    async def fill_cache() -> int:
        client = LeafClient(sandbox.base_url, sandbox.demo.owner_username,
                            sandbox.demo.owner_password)
        cache = Cache(cache_file)
        try:
            result = await SyncService(client, cache).refresh_all()
            return len(result.rows)
        finally:
            await client.aclose()
            cache.close()

    cached = run_async(fill_cache())
    assert cached == 40

    # Then Leaf is unreachable: the dialog opens the session offline instead of refusing.
    store = SettingsStore()
    dialog = SignInDialog(None, store, store.load(), SecretStore())
    qtbot.addWidget(dialog)
    opened = []
    dialog.signed_in.connect(opened.append)
    account = LeafAccount("Sandbox", base_url=f"http://127.0.0.1:{free_loopback_port()}",
                          username=sandbox.demo.owner_username)
    dialog.task = aio.spawn(dialog._sign_in(account, "any", save=False, cache_file=cache_file))
    run_until(lambda: dialog.task.done(), timeout=30)

    assert len(opened) == 1
    context = opened[0]
    assert context.online is False
    assert context.offline_since is not None
    assert context.offline_since <= datetime.now(timezone.utc)

    window = MainWindow(context)
    qtbot.addWidget(window)
    window.show()
    assert window.model.rowCount() == 40
    assert window.banner.isVisible()
    assert "Leaf has been unreachable since" in window.banner.message.text()
    assert "Showing the offline cache as of" in window.banner.message.text()
    assert window.connection_label.text() == "○ Offline"
    assert not window.refresh_action.isEnabled()
    assert "offline cache" in window.refresh_action.toolTip()

    window.select_user(window.model.row_at(0).user.id)
    assert not window.details.connect_button.isEnabled()
    assert window.details.connect_button.toolTip() == window._offline_reason()
    assert "from the offline cache" in window.details.checked.text()
    settle(0.3)
    window.grab().save(str(artifact_dir / "main_window_offline.png"))

    window.close()
    run_async(context.aclose())
