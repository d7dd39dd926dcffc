"""The application flow: --demo straight to the window, switching accounts, and the self-test."""

from __future__ import annotations

import os
import subprocess
import sys

from leafdesk.core.secrets import LEAF_PASSWORD, SecretStore
from leafdesk.core.settings import LeafAccount, Settings, SettingsStore
from leafdesk.ui.app import LeafDeskApp


class SandboxAsDemo:
    """Stands in for `leafdesk.demo`: the test's sandbox, handed out as the demo account."""

    def __init__(self, sandbox, cache_file) -> None:
        self.sandbox = sandbox
        self.cache_file = cache_file
        self.stopped = False

    async def __call__(self):
        account = LeafAccount("Demo sandbox", base_url=self.sandbox.base_url,
                              username=self.sandbox.demo.owner_username, remember=False)
        return account, self.sandbox.demo.owner_password, self

    def stop(self) -> None:
        self.stopped = True


def test_demo_opens_window_and_refreshes(sandbox, run_until, run_async, tmp_path):
    demo = SandboxAsDemo(sandbox, tmp_path / "demo.sqlite3")
    controller = LeafDeskApp(settings_store=SettingsStore(), secrets=SecretStore(),
                             start_demo=demo)
    controller.start(demo=True)
    run_until(lambda: controller.window is not None, timeout=20)
    window = controller.window
    assert window.windowTitle() == "Demo sandbox"
    run_until(lambda: window.refresh_operation is not None
              and not window.refresh_operation.running, timeout=20)
    assert window.model.rowCount() == 40
    # The demo account is not saved: its port changes every run.
    assert SettingsStore().load().accounts == []

    window.close()
    run_async(controller.shutdown())
    assert demo.stopped


def test_switch_account_replaces_window(sandbox, run_until, run_async, tmp_path):
    store = SettingsStore()
    first = LeafAccount("First", base_url=sandbox.base_url,
                        username=sandbox.demo.owner_username, environment_colour="#1565c0")
    second = LeafAccount("Second", base_url=sandbox.base_url,
                         username=sandbox.demo.owner_username, environment_colour="#c62828")
    store.save(Settings(accounts=[first, second], last_account="First"))
    secrets = SecretStore()
    secrets.set(LEAF_PASSWORD, "First", sandbox.demo.owner_password)
    secrets.set(LEAF_PASSWORD, "Second", sandbox.demo.owner_password)

    controller = LeafDeskApp(settings_store=store, secrets=secrets)
    controller.start()
    dialog = controller.sign_in
    assert dialog.password_edit.text() == sandbox.demo.owner_password
    dialog.submit()
    run_until(lambda: controller.window is not None, timeout=20)
    first_window = controller.window
    assert [first_window.account_combo.itemText(i)
            for i in range(first_window.account_combo.count())] == ["First", "Second"]

    first_window.account_switch_requested.emit("Second")
    run_until(lambda: controller.window is not first_window, timeout=20)
    assert controller.context.account.name == "Second"
    assert controller.window.windowTitle() == "Second"
    assert controller.window.account_combo.currentText() == "Second"

    controller.window.close()
    run_async(controller.shutdown())


def test_self_test_passes(tmp_path):
    environment = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    for variable in ("XDG_DATA_HOME", "XDG_CONFIG_HOME", "XDG_CACHE_HOME", "XDG_STATE_HOME"):
        folder = tmp_path / variable.lower()
        folder.mkdir()
        environment[variable] = str(folder)
    result = subprocess.run([sys.executable, "-m", "leafdesk.main", "--self-test"],
                            capture_output=True, text=True, timeout=120, env=environment)
    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    assert lines[-1] == "self-test passed"
    assert any(line.startswith("keyring backend: ") for line in lines)
    assert "truststore TLS context: loaded" in lines
    # Every step the README names for the self-test is in its output, in this order.
    steps = [line[len("ok      "):].rsplit(" (", 1)[0] for line in lines
             if line.startswith("ok      ")]
    assert steps[:4] == ["start the demo sandbox", "reject a wrong password", "sign in",
                         "refresh every user"]
    assert "connect one user by one-click, approved through the sandbox" in steps


def test_platform_failure_printed(tmp_path):
    environment = {**os.environ, "QT_QPA_PLATFORM": "no-such-platform"}
    for variable in ("XDG_DATA_HOME", "XDG_CONFIG_HOME", "XDG_CACHE_HOME", "XDG_STATE_HOME"):
        folder = tmp_path / variable.lower()
        folder.mkdir()
        environment[variable] = str(folder)
    result = subprocess.run([sys.executable, "-m", "leafdesk.main"], capture_output=True,
                            text=True, timeout=60, env=environment)
    assert result.returncode == 1, result.stderr
    first = result.stderr.splitlines()[0]
    assert first.startswith("LeafDesk could not open its window because Qt could not start its "
                            "platform plugin: ")
    assert "no-such-platform" in first
    assert "Details are in " in result.stderr


def test_platform_failure_names_packages():
    from leafdesk.main import missing_xcb_packages, platform_failure_message

    present = {"xcb-cursor": None, "xcb-icccm": None}
    missing = missing_xcb_packages(lambda name: present.get(name, f"lib{name}.so"))
    assert missing == ["libxcb-cursor0", "libxcb-icccm4"]

    text = platform_failure_message("Could not load the Qt platform plugin \"xcb\".", None,
                                    platform="linux", missing=missing)
    assert text.splitlines()[1] == ("Install the missing libraries, then start LeafDesk again: "
                                    "sudo apt install libxcb-cursor0 libxcb-icccm4")
    on_mac = platform_failure_message("no cocoa", None, platform="darwin", missing=[])
    assert on_mac.splitlines() == ["LeafDesk could not open its window because Qt could not "
                                   "start its platform plugin: no cocoa."]
