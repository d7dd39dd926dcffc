"""The one-click form against a loopback sandbox: approved, declined, expired, cancelled, errors.

Each scenario runs as one coroutine on the shared loop and ends only when the dialog's tasks
have ended. qasync runs pending callbacks whenever Qt processes events, even after the loop has
stopped, and an HTTP request resumed with no running loop fails inside anyio.
"""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from PySide6.QtCore import QObject, Qt, QUrl, Slot
from PySide6.QtGui import QDesktopServices, QGuiApplication

from leafdesk.core.connect import ConnectService
from leafdesk.core.settings import PartnerPreset
from leafdesk.ui.one_click_dialog import CANCELLED, CONNECTED, EXPIRED, OneClickDialog

SHARE_EXPIRY = timedelta(minutes=15)


class MovableClock:
    """UTC now plus an offset the test moves forward together with the sandbox's clock."""

    def __init__(self) -> None:
        self.offset = timedelta()

    def __call__(self) -> datetime:
        return datetime.now(UTC) + self.offset


@pytest.fixture
def clock() -> MovableClock:
    return MovableClock()


@pytest.fixture
def connect_service(app_context, clock) -> ConnectService:
    return ConnectService(app_context.client, app_context.cache, "tester",
                          share_expiry=SHARE_EXPIRY, clock=clock)


@pytest.fixture
def user(app_context, run_async):
    users = run_async(app_context.client.list_users())
    return next(user for user in users if user.panorama is None)


@pytest.fixture
def presets(app_context, sandbox) -> list[PartnerPreset]:
    partner = sandbox.demo.partners["STAGE"]
    preset = PartnerPreset(name="Demo partner (stage)", client_id=partner.client_id,
                           partner_username=partner.username,
                           sharing_url_id=partner.sharing_url_id, client_environment="STAGE")
    app_context.secrets.set("partner-password", preset.name, partner.password)
    return [preset]


@pytest.fixture
def dialog(qtbot, connect_service, user, presets, app_context, run_async, monkeypatch):
    # Each test starts from an empty form, whatever an earlier test started.
    monkeypatch.setattr(OneClickDialog, "last_used", {})
    dialog = OneClickDialog(None, connect_service, user, presets, app_context.secrets)
    qtbot.addWidget(dialog)
    dialog.poll_interval = 0.05
    dialog.max_poll_interval = 0.2
    dialog.outcomes = []
    dialog.outcome.connect(dialog.outcomes.append)
    dialog.open()
    yield dialog
    dialog.done(0)
    run_async(dialog.tasks.wait_finished())


async def until(predicate, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {predicate}"
        await asyncio.sleep(0.02)


def scenario(run_async, dialog, steps) -> None:
    """Run `steps()` on the loop, then close the dialog and wait for its tasks to end."""

    async def run() -> None:
        try:
            await steps()
        finally:
            dialog.done(0)
            await dialog.tasks.wait_finished()

    run_async(run(), timeout=30)


async def _start_from_preset(dialog) -> None:
    dialog.preset_picker.setCurrentIndex(1)
    dialog.start_button.click()
    await until(lambda: dialog.pending is not None or not dialog.errors.isHidden())
    assert dialog.errors.isHidden(), dialog.errors.sentence.text()
    assert dialog.pages.currentIndex() == 1


def _advance(sandbox, clock: MovableClock, seconds: float) -> None:
    sandbox.advance_clock(seconds)
    clock.offset += timedelta(seconds=seconds)


def test_preset_fills_fields(dialog, presets, sandbox):
    dialog.preset_picker.setCurrentIndex(1)
    partner = sandbox.demo.partners["STAGE"]
    assert dialog.client_id.text() == partner.client_id
    assert dialog.username.text() == partner.username
    assert dialog.password.text() == partner.password
    assert dialog.sharing_url_id.text() == partner.sharing_url_id
    assert dialog.environment.currentData() == "STAGE"


def test_one_click_approved(dialog, run_async, sandbox, app_context, user, artifact_dir):
    started = []
    connected = []
    dialog.started.connect(started.append)
    dialog.connected.connect(connected.append)

    async def steps():
        await _start_from_preset(dialog)
        assert dialog.url_edit.text().startswith(sandbox.base_url)
        assert started[0].leaf_user_id == user.id
        assert [p.leaf_user_id for p in app_context.cache.pending_one_clicks()] == [user.id]
        assert dialog.password.text() == ""
        assert "Waiting" in dialog.state_label.text()
        assert dialog.grab().save(str(artifact_dir / "one_click_waiting.png"))

        sandbox.approve(user.id)
        await until(lambda: dialog.outcomes)
        assert dialog.outcomes == [CONNECTED]
        assert dialog.state_label.text() == "Connected"
        assert dialog.state_label.tone() == "success"
        assert connected[0].status == "OK"
        assert dialog.grab().save(str(artifact_dir / "one_click_connected.png"))

        credential = await app_context.client.get_panorama_credential(user.id)
        assert credential is not None
        assert app_context.cache.pending_one_clicks() == []

    scenario(run_async, dialog, steps)


def test_one_click_declined_ends_expired(dialog, run_async, sandbox, clock, user, app_context,
                                         artifact_dir):
    async def steps():
        await _start_from_preset(dialog)
        sandbox.decline(user.id)

        # Leaf reports no decline, so the dialog keeps waiting while polls find no credential.
        polls_before = app_context.client.requests_sent
        await until(lambda: app_context.client.requests_sent >= polls_before + 3)
        assert dialog.outcomes == []
        assert "Waiting" in dialog.state_label.text()

        _advance(sandbox, clock, SHARE_EXPIRY.total_seconds() + 1)
        await until(lambda: dialog.outcomes)
        assert dialog.outcomes == [EXPIRED]
        assert dialog.state_label.text() == "Expired"
        assert "declined" in dialog.state_detail.text()
        assert dialog.again_button.isVisibleTo(dialog)
        assert await app_context.client.get_panorama_credential(user.id) is None
        assert dialog.grab().save(str(artifact_dir / "one_click_expired.png"))

    scenario(run_async, dialog, steps)


def test_one_click_expired(dialog, run_async, sandbox, clock, user, app_context):
    async def steps():
        await _start_from_preset(dialog)
        _advance(sandbox, clock, SHARE_EXPIRY.total_seconds() + 1)
        await until(lambda: dialog.outcomes)
        assert dialog.outcomes == [EXPIRED]

        # The sandbox's share expired too: approving it now attaches nothing.
        with pytest.raises(httpx.HTTPStatusError):
            sandbox.approve(user.id)
        assert await app_context.client.get_panorama_credential(user.id) is None

        # Start again returns to the form with the partner login kept and the password cleared.
        dialog.again_button.click()
        assert dialog.pages.currentIndex() == 0
        assert dialog.client_id.text() == sandbox.demo.partners["STAGE"].client_id
        assert dialog.password.text() == ""

    scenario(run_async, dialog, steps)


def test_one_click_cancelled(dialog, run_async, app_context, user, artifact_dir):
    async def steps():
        await _start_from_preset(dialog)
        dialog.stop_button.click()
        await until(lambda: dialog.outcomes)
        assert dialog.outcomes == [CANCELLED]
        assert dialog.state_label.text() == "Stopped waiting"
        assert dialog.retry_button.isVisibleTo(dialog)
        # The grower's page still works, so the pending record stays.
        assert [p.leaf_user_id for p in app_context.cache.pending_one_clicks()] == [user.id]
        assert dialog.grab().save(str(artifact_dir / "one_click_cancelled.png"))

    scenario(run_async, dialog, steps)


def test_check_again_after_cancel(dialog, run_async, sandbox, user):
    async def steps():
        await _start_from_preset(dialog)
        dialog.stop_button.click()
        await until(lambda: dialog.outcomes)

        dialog.retry_button.click()
        sandbox.approve(user.id)
        await until(lambda: len(dialog.outcomes) == 2)
        assert dialog.outcomes == [CANCELLED, CONNECTED]

    scenario(run_async, dialog, steps)


def test_closing_stops_waiting(dialog, run_async):
    async def steps():
        await _start_from_preset(dialog)
        task = dialog._wait_task
        dialog.reject()
        await until(lambda: task.done())
        assert task.cancelled()
        assert dialog.outcomes == [CANCELLED]
        assert not dialog.isVisible()

    scenario(run_async, dialog, steps)


def test_validation_before_sending(dialog, qtbot, app_context, artifact_dir):
    sent_before = app_context.client.requests_sent
    dialog.sharing_url_id.setText("not-a-uuid")
    qtbot.mouseClick(dialog.start_button, Qt.MouseButton.LeftButton)

    assert dialog.pages.currentIndex() == 0
    for key in ("client_id", "username", "password"):
        assert "required" in dialog.form.error_text(key), key
    assert "UUID" in dialog.form.error_text("sharing_url_id")
    assert dialog.form.error_text("client_environment") == ""
    assert not dialog.tasks.busy
    assert app_context.client.requests_sent == sent_before
    assert dialog.grab().save(str(artifact_dir / "one_click_validation.png"))


def test_pasted_share_url_accepted(dialog, run_async, sandbox):
    partner = sandbox.demo.partners["STAGE"]

    async def steps():
        dialog.preset_picker.setCurrentIndex(1)
        dialog.sharing_url_id.setText(f"https://portal.example/share/{partner.sharing_url_id}")
        dialog.start_button.click()
        await until(lambda: dialog.pending is not None or not dialog.errors.isHidden())
        assert dialog.pending is not None

    scenario(run_async, dialog, steps)


def test_wrong_partner_password(dialog, run_async, artifact_dir):
    async def steps():
        dialog.preset_picker.setCurrentIndex(1)
        dialog.password.setText("not-the-partner-password")
        dialog.start_button.click()
        await until(lambda: not dialog.errors.isHidden())
        assert dialog.pages.currentIndex() == 0
        assert dialog.user.name in dialog.errors.sentence.text()
        assert dialog.start_button.isEnabled()
        assert dialog.form.isEnabled()
        assert dialog.grab().save(str(artifact_dir / "one_click_leaf_error.png"))

    scenario(run_async, dialog, steps)


def test_wrong_environment_for_partner(dialog, run_async):
    async def steps():
        dialog.preset_picker.setCurrentIndex(1)
        dialog.environment.setCurrentIndex(dialog.environment.findData("PRODUCTION"))
        dialog.start_button.click()
        await until(lambda: not dialog.errors.isHidden() or dialog.pending is not None)
        assert dialog.pending is None
        assert dialog.pages.currentIndex() == 0

    scenario(run_async, dialog, steps)


class _UrlCatcher(QObject):
    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []

    @Slot(QUrl)
    def open(self, url: QUrl) -> None:
        self.urls.append(url.toString())


def test_copy_and_open_link(dialog, run_async):
    catcher = _UrlCatcher()

    async def steps():
        await _start_from_preset(dialog)
        url = dialog.url_edit.text()

        dialog.copy_button.click()
        assert QGuiApplication.clipboard().text() == url

        scheme = QUrl(url).scheme()
        QDesktopServices.setUrlHandler(scheme, catcher, "open")
        try:
            dialog.open_button.click()
        finally:
            QDesktopServices.unsetUrlHandler(scheme)
        assert catcher.urls == [url]

    scenario(run_async, dialog, steps)


def test_form_screen(dialog, artifact_dir):
    dialog.preset_picker.setCurrentIndex(1)
    assert dialog.grab().save(str(artifact_dir / "one_click_form.png"))


def test_resume_open_one_click(dialog, qtbot, run_async, connect_service, user, presets,
                               app_context, sandbox, artifact_dir):
    async def steps():
        await _start_from_preset(dialog)

    scenario(run_async, dialog, steps)
    first_url = dialog.url_edit.text()

    second = OneClickDialog(None, connect_service, user, presets, app_context.secrets)
    qtbot.addWidget(second)
    second.poll_interval = 0.05
    second.max_poll_interval = 0.2
    outcomes = []
    second.outcome.connect(outcomes.append)
    second.open()
    assert second.open_pending is not None
    assert second.resume_button.isVisibleTo(second)
    assert second.grab().save(str(artifact_dir / "one_click_resume.png"))

    async def resume_steps():
        second.resume_button.click()
        assert second.pages.currentIndex() == 1
        assert second.url_edit.text() == first_url
        # Resuming starts no second share at Leaf; it only polls for the first.
        shares = [share for share in sandbox.one_clicks() if share["leafUserId"] == user.id]
        assert len(shares) == 1
        sandbox.approve(user.id)
        await until(lambda: outcomes)
        assert outcomes == [CONNECTED]

    scenario(run_async, second, resume_steps)


def test_no_resume_after_expiry(dialog, qtbot, run_async, connect_service, user, presets,
                                app_context, sandbox, clock):
    async def steps():
        await _start_from_preset(dialog)

    scenario(run_async, dialog, steps)
    _advance(sandbox, clock, SHARE_EXPIRY.total_seconds() + 1)

    later = OneClickDialog(None, connect_service, user, presets, app_context.secrets)
    qtbot.addWidget(later)
    assert later.open_pending is None
    assert later.resume_note is None


def test_resumed_then_expired_hides_resume(dialog, qtbot, run_async, connect_service, user,
                                           presets, app_context, sandbox, clock):
    async def steps():
        await _start_from_preset(dialog)

    scenario(run_async, dialog, steps)
    second = OneClickDialog(None, connect_service, user, presets, app_context.secrets)
    qtbot.addWidget(second)
    second.poll_interval = 0.05
    second.open()

    async def resume_steps():
        second.resume()
        _advance(sandbox, clock, SHARE_EXPIRY.total_seconds() + 1)
        await until(lambda: second.result_name is not None)
        assert second.result_name == EXPIRED
        second.again_button.click()
        assert second.open_pending is None
        assert not second.resume_note.isVisibleTo(second)

    scenario(run_async, second, resume_steps)


def test_mnemonics_unique_per_page(dialog):
    from PySide6.QtWidgets import QAbstractButton, QLabel

    for page in range(dialog.pages.count()):
        dialog._show_page(page)
        widgets = dialog.pages.widget(page).findChildren(QLabel) + dialog.pages.widget(
            page).findChildren(QAbstractButton) + dialog.buttons.findChildren(QAbstractButton)
        texts = [widget.text() for widget in widgets if "&" in widget.text()]
        keys = [text[text.index("&") + 1].lower() for text in texts]
        assert len(keys) == len(set(keys)), texts


def assert_rows_apart(dialog) -> None:
    """Check that each field's editor, error, warning and help text get their own height."""
    for form_field in dialog.form.fields.values():
        shown = [widget for widget in (form_field.editor, form_field.error, form_field.warning,
                                       form_field.help) if not widget.isHidden()]
        for upper, lower in zip(shown, shown[1:]):
            assert upper.geometry().bottom() < lower.geometry().top(), form_field.key
        help_label = form_field.help
        assert help_label.height() >= help_label.heightForWidth(help_label.width()), \
            form_field.key


def test_errors_and_help_apart(dialog, settle, artifact_dir):
    dialog.start_button.click()
    settle()
    assert "required" in dialog.form.error_text("client_id")
    assert_rows_apart(dialog)
    assert dialog.grab().save(str(artifact_dir / "one_click_errors_default_size.png"))

    dialog.resize(dialog.minimumWidth(), 200)
    settle()
    assert dialog.width() == dialog.minimumWidth()
    assert_rows_apart(dialog)
    assert dialog.grab().save(str(artifact_dir / "one_click_errors_small.png"))


def test_preset_environment_mismatch_warns(dialog):
    dialog.preset_picker.setCurrentIndex(1)
    assert dialog.form.warning_text("client_environment") == ""
    dialog.environment.setCurrentIndex(dialog.environment.findData("PRODUCTION"))
    assert "Demo partner (stage)" in dialog.form.warning_text("client_environment")
    assert dialog.checked_input() is not None


def _second_dialog(qtbot, connect_service, user, presets, app_context):
    second = OneClickDialog(None, connect_service, user, presets, app_context.secrets)
    qtbot.addWidget(second)
    return second


def test_next_form_selects_last_preset(dialog, run_async, qtbot, connect_service, user, presets,
                                       app_context, sandbox):
    scenario(run_async, dialog, lambda: _start_from_preset(dialog))

    second = _second_dialog(qtbot, connect_service, user, presets, app_context)
    partner = sandbox.demo.partners["STAGE"]
    assert second.preset_picker.current_preset() is presets[0]
    assert second.client_id.text() == partner.client_id
    assert second.sharing_url_id.text() == partner.sharing_url_id
    # The password comes from the keychain through the preset, not from the form's memory.
    assert second.password.text() == partner.password
    assert "password" not in OneClickDialog.last_used


def test_next_form_keeps_typed_fields(dialog, run_async, qtbot, connect_service, user,
                                      app_context, sandbox):
    partner = sandbox.demo.partners["STAGE"]
    dialog.client_id.setText(partner.client_id)
    dialog.username.setText(partner.username)
    dialog.password.setText("typed-not-remembered")
    dialog.sharing_url_id.setText(partner.sharing_url_id)

    async def steps():
        dialog.start_button.click()
        await until(lambda: not dialog.tasks.busy)

    scenario(run_async, dialog, steps)

    second = _second_dialog(qtbot, connect_service, user, [], app_context)
    assert second.client_id.text() == partner.client_id
    assert second.username.text() == partner.username
    assert second.sharing_url_id.text() == partner.sharing_url_id
    assert second.environment.currentData() == "STAGE"
    assert second.password.text() == ""


def test_wait_failure_says_checking_stopped(dialog, run_async, sandbox, connect_service,
                                            artifact_dir):
    from leafdesk.core.client import LeafClient

    # A client whose login Leaf rejects turns the next poll into an error that is not retried.
    rejected = LeafClient(sandbox.base_url, "nobody@leafdesk.example", "wrong-password")
    original = connect_service.client

    async def steps():
        await _start_from_preset(dialog)
        connect_service.client = rejected
        await until(lambda: dialog.retry_button.isVisibleTo(dialog))
        assert dialog.state_label.text() == "Could not check"
        assert "stopped checking" in dialog.state_detail.text()
        assert "Check again" in dialog.state_detail.text()
        assert "checks Leaf for the credential until then" not in dialog.state_detail.text()
        assert not dialog.wait_progress.isVisibleTo(dialog)
        assert not dialog.errors.isHidden()
        dialog.grab().save(str(artifact_dir / "one_click_wait_failed.png"))
        # Fitting the height leaves no blank band between the page and the error line.
        needed = dialog.layout().totalHeightForWidth(dialog.width())
        assert dialog.height() <= max(needed, dialog.minimumHeight()) + 1
        # The hidden, taller form page no longer sets the height of the waiting page.
        width = dialog.pages.width()
        waiting_page = dialog.pages.currentWidget().heightForWidth(width)
        assert dialog.pages.heightForWidth(width) == waiting_page

    try:
        scenario(run_async, dialog, steps)
    finally:
        connect_service.client = original
        run_async(rejected.aclose())
