"""Cache-first start: the window paints the cached users, then opens its session."""

from __future__ import annotations

from PySide6.QtCore import QEvent, QObject

from test_users_model import CHECKED, make_row

from leafdesk.core.cache import Cache
from leafdesk.core.secrets import LEAF_PASSWORD, SecretStore
from leafdesk.core.settings import LeafAccount, Settings, SettingsStore
from leafdesk.ui.app import LeafDeskApp
from leafdesk.ui.event_log import EventLogView
from leafdesk.ui.main_window import MainWindow
from leafdesk.ui.session import cached_context, open_session, session_opener

SANDBOX_USERS = 40


class PaintWatcher(QObject):
    """Records whether a widget has been painted."""

    def __init__(self) -> None:
        super().__init__()
        self.painted = False

    def eventFilter(self, _watched, event):  # noqa: N802 - Qt's name
        if event.type() == QEvent.Type.Paint:
            self.painted = True
        return False


def fill_cache(run_async, account, password, settings_store, settings, cache_file=None):
    """Refresh every sandbox user into the account's cache, then close the session."""
    context = run_async(open_session(account, password, settings_store=settings_store,
                                     settings=settings, secrets=SecretStore(),
                                     cache_file=cache_file))
    run_async(context.sync.refresh_all())
    run_async(context.aclose())


def test_window_paints_cache_before_session(qtbot, run_async, run_until, sandbox,
                                            sandbox_account, tmp_path):
    cache_file = tmp_path / "cache.sqlite3"
    settings_store = SettingsStore()
    settings = Settings(accounts=[sandbox_account], last_account=sandbox_account.name)
    password = sandbox.demo.owner_password
    fill_cache(run_async, sandbox_account, password, settings_store, settings, cache_file)
    context = cached_context(sandbox_account, settings_store=settings_store, settings=settings,
                             cache_file=cache_file)
    open_later = session_opener(context, password, secrets=SecretStore())
    watcher = PaintWatcher()
    seen: dict[str, object] = {}

    async def opener():
        seen["painted"] = watcher.painted
        seen["rows"] = window.model.rowCount()
        return await open_later()

    window = MainWindow(context, open_session=opener)
    qtbot.addWidget(window)
    window.table.viewport().installEventFilter(watcher)

    assert not context.session_open
    assert window.model.rowCount() == SANDBOX_USERS
    assert not window.refresh_action.isEnabled()
    assert window.banner.isHidden()
    assert "Signing in" in window.connection_label.text()

    window.show()
    run_until(lambda: window.context.session_open, timeout=20)
    assert seen == {"painted": True, "rows": SANDBOX_USERS}
    assert window.online
    assert window.context.cache is context.cache
    assert window.event_log is None or window.event_log.client is window.context.client
    run_until(lambda: window.refresh_operation is not None
              and not window.refresh_operation.running, timeout=30)
    assert window.model.rowCount() == SANDBOX_USERS

    window.close()
    run_async(window.context.aclose())


def test_app_starts_saved_account_from_cache(run_async, run_until, sandbox, sandbox_account):
    store = SettingsStore()
    settings = Settings(accounts=[sandbox_account], last_account=sandbox_account.name)
    store.save(settings)
    secrets = SecretStore()
    secrets.set(LEAF_PASSWORD, sandbox_account.name, sandbox.demo.owner_password)
    fill_cache(run_async, sandbox_account, sandbox.demo.owner_password, store, settings)

    controller = LeafDeskApp(settings_store=store, secrets=secrets)
    controller.start()

    assert controller.sign_in is None
    assert controller.window is not None
    assert controller.window.model.rowCount() == SANDBOX_USERS
    run_until(lambda: controller.context.session_open, timeout=20)
    assert controller.context is controller.window.context
    assert controller.window.online

    controller.window.close()
    run_async(controller.shutdown())


def test_wrong_saved_password_opens_sign_in(run_async, run_until, sandbox, sandbox_account):
    store = SettingsStore()
    settings = Settings(accounts=[sandbox_account], last_account=sandbox_account.name)
    store.save(settings)
    fill_cache(run_async, sandbox_account, sandbox.demo.owner_password, store, settings)
    secrets = SecretStore()
    secrets.set(LEAF_PASSWORD, sandbox_account.name, "not the password")

    controller = LeafDeskApp(settings_store=store, secrets=secrets)
    controller.start()
    run_until(lambda: controller.sign_in is not None and controller.sign_in.isVisible(),
              timeout=20)

    assert "rejected" in controller.sign_in.message.text()
    assert controller.window.model.rowCount() == SANDBOX_USERS
    assert not controller.window.context.session_open

    controller.sign_in.close()
    controller.window.close()
    run_async(controller.shutdown())


def test_missing_saved_password_opens_sign_in(run_async, run_until, sandbox, sandbox_account):
    store = SettingsStore()
    settings = Settings(accounts=[sandbox_account], last_account=sandbox_account.name)
    store.save(settings)
    fill_cache(run_async, sandbox_account, sandbox.demo.owner_password, store, settings)
    secrets = SecretStore()  # the account remembers its password, but the keychain lost it

    controller = LeafDeskApp(settings_store=store, secrets=secrets)
    controller.start()
    run_until(lambda: controller.sign_in is not None and controller.sign_in.isVisible(),
              timeout=20)

    assert "not in the keychain" in controller.sign_in.message.text()
    assert controller.window.model.rowCount() == SANDBOX_USERS
    assert not controller.window.context.session_open

    controller.sign_in.close()
    controller.window.close()
    run_async(controller.shutdown())


def _window_over_cache(cache_file, opened):
    """Return a cache-first window whose session opener only records that it ran."""
    account = LeafAccount("Cached", base_url="http://127.0.0.1:9",
                          username="office@leafdesk.example")
    context = cached_context(account, settings_store=SettingsStore(),
                             settings=Settings(accounts=[account]), cache_file=cache_file)

    async def opener():
        opened.append(True)
        return context  # no client, so the window stays on its cache

    return MainWindow(context, open_session=opener), context


def _fill(cache_file, count):
    with Cache(cache_file) as cache:
        cache.replace_users([make_row(number) for number in range(count)], CHECKED)


def test_event_log_built_after_paint(qtbot, run_async, run_until, tmp_path):
    cache_file = tmp_path / "cache.sqlite3"
    _fill(cache_file, 20)
    opened: list[bool] = []
    window, context = _window_over_cache(cache_file, opened)
    qtbot.addWidget(window)

    assert window.event_log is None
    assert window.main_splitter.count() == 2
    assert not context.cache.integrity_checked

    window.show()
    run_until(lambda: opened, timeout=10)
    assert isinstance(window.event_log, EventLogView)
    assert window.main_splitter.widget(1) is window.event_log
    assert window.main_splitter.count() == 2
    assert context.cache.integrity_checked
    assert context.cache.recovered_from is None
    assert window.model.rowCount() == 20

    window.close()
    run_async(context.aclose())


def test_damaged_cache_rebuilt_after_paint(qtbot, run_async, run_until, tmp_path):
    cache_file = tmp_path / "cache.sqlite3"
    _fill(cache_file, 3000)
    size = cache_file.stat().st_size
    with cache_file.open("r+b") as file:
        file.seek(size // 2)
        file.write(b"\xff" * 8192)
    opened: list[bool] = []
    window, context = _window_over_cache(cache_file, opened)
    qtbot.addWidget(window)

    window.show()
    run_until(lambda: opened, timeout=10)
    assert context.cache.recovered_from is not None
    assert context.cache.recovered_from.exists()
    assert window.model.rowCount() == 0
    assert context.cache.recovered_from.name in window.statusBar().currentMessage()
    # Moved aside once: the rebuilt empty file is not taken for the damaged one.
    assert len([path for path in tmp_path.iterdir() if ".corrupt-" in path.name
                and not path.name.endswith(("-wal", "-shm"))]) == 1

    window.close()
    run_async(context.aclose())


def test_check_problem_rebuilds_cache(qtbot, run_async, run_until, tmp_path, monkeypatch):
    cache_file = tmp_path / "cache.sqlite3"
    _fill(cache_file, 20)
    opened: list[bool] = []
    window, context = _window_over_cache(cache_file, opened)
    qtbot.addWidget(window)
    assert window.model.rowCount() == 20
    # A fault that only the integrity check finds: every read still works.
    monkeypatch.setattr(context.cache, "check_integrity",
                        lambda: ["row 7 missing from index users_by_name"])

    window.show()
    run_until(lambda: opened, timeout=10)
    assert context.cache.recovered_from is not None
    assert context.cache.recovered_from.exists()
    assert window.model.rowCount() == 0
    assert "moved to" in window.statusBar().currentMessage()

    window.close()
    run_async(context.aclose())
