"""`leafdesk --demo` adds partner app presets for the sandbox's demo partner logins, with their
passwords in the secret store and never in the settings file."""

from __future__ import annotations

from leafdesk.core.secrets import PARTNER_PASSWORD, SecretStore
from leafdesk.core.settings import LeafAccount, PartnerPreset, Settings, SettingsStore
from leafdesk.demo import DEMO_PRESET_NAMES, DemoSandbox
from leafdesk.sandbox import DEMO
from leafdesk.ui.app import LeafDeskApp


def demo_handle(sandbox, cache_file) -> DemoSandbox:
    """A DemoSandbox over the test's sandbox, as `leafdesk.demo.start_demo` would return."""
    account = LeafAccount("Demo sandbox", base_url=sandbox.base_url,
                          username=sandbox.demo.owner_username, remember=False)
    return DemoSandbox(server=sandbox.server, account=account,
                       password=sandbox.demo.owner_password, cache_file=cache_file,
                       controls=True)


def test_install_presets_per_environment(tmp_path):
    account = LeafAccount("Demo sandbox", base_url="http://127.0.0.1:1",
                          username=DEMO.owner_username)
    handle = DemoSandbox(server=None, account=account, password="x", cache_file=None,
                         controls=False)
    settings = Settings(presets=[PartnerPreset(DEMO_PRESET_NAMES["STAGE"], "stale-client",
                                               "old@example.org",
                                               DEMO.partners["STAGE"].sharing_url_id)])
    secrets = SecretStore()

    handle.install_presets(settings, secrets)

    assert [preset.name for preset in settings.presets] == list(DEMO_PRESET_NAMES.values())
    for environment, name in DEMO_PRESET_NAMES.items():
        preset = settings.preset(name)
        login = DEMO.partners[environment]
        assert preset.client_id == login.client_id
        assert preset.partner_username == login.username
        assert preset.sharing_url_id == login.sharing_url_id
        assert preset.client_environment.value == environment
        assert str(secrets.get(PARTNER_PASSWORD, name)) == login.password

    # Saved settings carry the presets but none of the passwords.
    store = SettingsStore(tmp_path / "settings.json")
    store.save(settings)
    text = (tmp_path / "settings.json").read_text(encoding="utf-8")
    for login in DEMO.partners.values():
        assert login.password not in text


def test_demo_fills_one_click_from_preset(sandbox, run_until, run_async, tmp_path):
    handle = demo_handle(sandbox, tmp_path / "demo.sqlite3")

    async def start_demo():
        return handle.account, handle.password, handle

    secrets = SecretStore()
    controller = LeafDeskApp(settings_store=SettingsStore(), secrets=secrets,
                             start_demo=start_demo)
    controller.start(demo=True)
    run_until(lambda: controller.window is not None, timeout=20)
    window = controller.window
    try:
        run_until(lambda: window.refresh_operation is not None
                  and not window.refresh_operation.running, timeout=20)
        assert [preset.name for preset in window.context.settings.presets] == \
            list(DEMO_PRESET_NAMES.values())
        window.select_user(window.model.row_at(0).user.id)
        dialog = window.open_one_click()
        assert dialog is not None
        dialog.preset_picker.setCurrentIndex(1)  # the first preset, after "None"
        login = DEMO.partners["STAGE"]
        assert dialog.client_id.text() == login.client_id
        assert dialog.username.text() == login.username
        assert dialog.password.text() == login.password
        assert dialog.sharing_url_id.text() == login.sharing_url_id
        dialog.close()
        # The demo writes no settings file of its own.
        assert SettingsStore().load().presets == []
    finally:
        window.close()
        controller.demo_handles.clear()  # the sandbox belongs to the test session
        run_async(controller.shutdown())


def test_preset_picker_names_environment_once(qtbot):
    from leafdesk.core.model import Environment
    from leafdesk.ui.forms_presets import PresetPicker

    presets = [PartnerPreset(DEMO_PRESET_NAMES["STAGE"], "client", "partner@example.org", "share",
                             client_environment=Environment.STAGE),
               PartnerPreset("Co-op partner", "client", "partner@example.org", "share",
                             client_environment=Environment.PRODUCTION)]
    picker = PresetPicker(presets)
    qtbot.addWidget(picker)
    assert picker.itemText(1) == "Demo sandbox partner (STAGE)"
    assert picker.itemText(2) == "Co-op partner (PRODUCTION)"
