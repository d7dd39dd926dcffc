"""The manual credential form against a loopback sandbox: field checks, create and replace.

Scenarios that talk to Leaf run as one coroutine and end only when the form's tasks have ended,
because qasync runs pending callbacks whenever Qt processes events, even with the loop stopped.
"""

from __future__ import annotations

import asyncio
import time

import pytest
from PySide6.QtCore import Qt

from leafdesk.core.settings import PartnerPreset
from leafdesk.ui.manual_dialog import ManualDialog

FIELDS = ("client_id", "username", "password", "organization_code", "refresh_token")


async def until(predicate, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {predicate}"
        await asyncio.sleep(0.02)


@pytest.fixture
def users(app_context, run_async):
    return run_async(app_context.client.list_users())


@pytest.fixture
def unconnected_user(users):
    return next(user for user in users if user.panorama is None)


@pytest.fixture
def connected(app_context, run_async, users):
    """A connected user and their credential, PRODUCTION if the demo data has one."""
    found = []
    for user in users:
        if user.panorama is None:
            continue
        credential = run_async(app_context.client.get_panorama_credential(user.id))
        if credential is not None:
            found.append((user, credential))
        if credential is not None and credential.client_environment == "PRODUCTION":
            return user, credential
    return found[0]


@pytest.fixture
def make_dialog(qtbot, app_context, run_async):
    dialogs = []

    def make(user, existing=None, presets=None) -> ManualDialog:
        dialog = ManualDialog(None, app_context.connect, user, existing, presets=presets,
                              secrets=app_context.secrets)
        qtbot.addWidget(dialog)
        # Short re-read delays keep the after-save checks inside a test's time.
        dialog.RECHECK_DELAYS = (0.2, 0.2)
        dialog.saved_credentials = []
        dialog.saved.connect(dialog.saved_credentials.append)
        dialog.checked_credentials = []
        dialog.checked.connect(dialog.checked_credentials.append)
        dialog.open()
        dialogs.append(dialog)
        return dialog

    yield make
    for dialog in dialogs:
        dialog.done(0)
        run_async(dialog.tasks.wait_finished())
        run_async(dialog.check_tasks.wait_finished())


def _fill(dialog, sandbox, *, environment="STAGE", organization_code="PP-TEST01",
          refresh_token="refresh-token-from-cognito") -> None:
    partner = sandbox.demo.partners[environment]
    dialog.client_id.setText(partner.client_id)
    dialog.username.setText(partner.username)
    dialog.password.setText(partner.password)
    dialog.organization_code.setText(organization_code)
    dialog.refresh_token.setText(refresh_token)
    dialog.environment.setCurrentIndex(dialog.environment.findData(environment))


def test_empty_form_marks_every_field(make_dialog, unconnected_user, app_context, qtbot,
                                      artifact_dir):
    dialog = make_dialog(unconnected_user)
    sent_before = app_context.client.requests_sent
    qtbot.mouseClick(dialog.submit_button, Qt.MouseButton.LeftButton)

    for key in FIELDS:
        assert "required" in dialog.form.error_text(key), key
    assert dialog.form.error_text("client_environment") == ""
    assert app_context.client.requests_sent == sent_before
    assert dialog.saved_credentials == []
    assert dialog.isVisible()
    assert dialog.grab().save(str(artifact_dir / "manual_validation.png"))


@pytest.mark.parametrize("key", FIELDS)
def test_each_field_checked_alone(make_dialog, unconnected_user, sandbox, app_context, key):
    dialog = make_dialog(unconnected_user)
    _fill(dialog, sandbox)
    getattr(dialog, key).setText("   ")
    sent_before = app_context.client.requests_sent

    assert dialog.checked_input() is None
    assert "required" in dialog.form.error_text(key)
    others = [other for other in FIELDS if other != key]
    assert all(dialog.form.error_text(other) == "" for other in others)
    assert app_context.client.requests_sent == sent_before


def test_control_character_rejected(make_dialog, unconnected_user, sandbox):
    dialog = make_dialog(unconnected_user)
    _fill(dialog, sandbox, organization_code="ORG\u200b-1")
    assert dialog.checked_input() is None
    assert "U+200B" in dialog.form.error_text("organization_code")


def test_too_long_rejected(make_dialog, unconnected_user, sandbox):
    dialog = make_dialog(unconnected_user)
    _fill(dialog, sandbox)
    dialog.client_id.setText("c" * 200)
    assert dialog.checked_input() is None
    assert "too long" in dialog.form.error_text("client_id")


def test_values_trimmed(make_dialog, unconnected_user, sandbox):
    dialog = make_dialog(unconnected_user)
    _fill(dialog, sandbox, organization_code="  ORG-9  ")
    data = dialog.checked_input()
    assert data is not None
    assert data.organization_code == "ORG-9"
    assert data.client_environment == "STAGE"


def test_errors_clear_after_fix(make_dialog, unconnected_user, sandbox):
    dialog = make_dialog(unconnected_user)
    assert dialog.checked_input() is None
    _fill(dialog, sandbox)
    assert dialog.checked_input() is not None
    assert all(dialog.form.error_text(key) == "" for key in FIELDS)


def test_secrets_masked_with_toggle(make_dialog, unconnected_user, qtbot):
    dialog = make_dialog(unconnected_user)
    for secret in (dialog.password, dialog.refresh_token):
        assert secret.line_edit.echoMode() == secret.line_edit.EchoMode.Password
        qtbot.mouseClick(secret.toggle, Qt.MouseButton.LeftButton)
        assert secret.line_edit.echoMode() == secret.line_edit.EchoMode.Normal
        assert secret.toggle.accessibleName()


def test_says_whose_login(make_dialog, unconnected_user):
    dialog = make_dialog(unconnected_user)
    assert "partner login" in dialog.whose.text()
    assert "not the grower's own login" in dialog.whose.text()
    assert "organization code" in dialog.whose.text()


def test_preset_fills_partner_login(make_dialog, unconnected_user, sandbox, app_context):
    partner = sandbox.demo.partners["PRODUCTION"]
    preset = PartnerPreset(name="Demo partner (production)", client_id=partner.client_id,
                           partner_username=partner.username,
                           sharing_url_id=partner.sharing_url_id,
                           client_environment="PRODUCTION")
    app_context.secrets.set("partner-password", preset.name, partner.password)
    dialog = make_dialog(unconnected_user, presets=[preset])
    dialog.preset_picker.setCurrentIndex(1)
    assert dialog.client_id.text() == partner.client_id
    assert dialog.username.text() == partner.username
    assert dialog.password.text() == partner.password
    assert dialog.environment.currentData() == "PRODUCTION"
    assert dialog.organization_code.text() == ""


def test_manual_create(make_dialog, unconnected_user, sandbox, app_context, run_async,
                       artifact_dir):
    dialog = make_dialog(unconnected_user)
    _fill(dialog, sandbox)
    assert dialog.submit_button.text().replace("&", "") == "Create credential"
    assert dialog.grab().save(str(artifact_dir / "manual_create.png"))

    async def steps():
        dialog.submit_button.click()
        assert not dialog.form.isEnabled()
        await until(lambda: dialog.saved_credentials or not dialog.errors.isHidden())
        assert dialog.errors.isHidden(), dialog.errors.sentence.text()
        # Leaf checks a manual credential with Panorama only later, so the form stays open
        # and claims nothing yet.
        assert dialog.isVisible()
        assert "Leaf accepted the credential" in dialog.result.text()
        assert "Connected" not in dialog.result.text()

        credential = dialog.saved_credentials[0]
        assert credential.organization_code == "PP-TEST01"
        assert credential.client_environment == "STAGE"
        at_leaf = await app_context.client.get_panorama_credential(unconnected_user.id)
        assert at_leaf.id == credential.id
        assert dialog.password.text() == ""
        assert dialog.refresh_token.text() == ""

    run_async(steps())


def test_manual_create_conflict(make_dialog, connected, sandbox, run_async):
    # A form opened without knowing of the credential gets Leaf's conflict as one sentence.
    user, _credential = connected
    dialog = make_dialog(user)
    _fill(dialog, sandbox)

    async def steps():
        dialog.submit_button.click()
        await until(lambda: not dialog.errors.isHidden() or dialog.saved_credentials)
        assert dialog.saved_credentials == []
        assert user.name in dialog.errors.sentence.text()
        assert dialog.isVisible()
        assert dialog.submit_button.isEnabled()
        assert dialog.cancel_button.isEnabled()

    run_async(steps())


def test_replace_needs_typed_name(make_dialog, connected, artifact_dir):
    user, credential = connected
    dialog = make_dialog(user, existing=credential)
    assert dialog.submit_button.text().replace("&", "") == "Replace credential"
    assert "event log" in dialog.confirmation.warning.text()
    assert dialog.client_id.text() == (credential.client_id or "")
    assert dialog.organization_code.text() == (credential.organization_code or "")
    if credential.client_environment == "PRODUCTION":
        assert not dialog.submit_button.isEnabled()
        dialog.confirmation.name_edit.setText(user.name)
    assert dialog.submit_button.isEnabled()
    assert dialog.grab().save(str(artifact_dir / "manual_replace.png"))


def test_manual_replace(make_dialog, connected, sandbox, app_context, run_async):
    user, old = connected
    environment = old.client_environment or "STAGE"
    dialog = make_dialog(user, existing=old)
    _fill(dialog, sandbox, environment=environment, organization_code="ORG-REPLACED")
    if dialog.confirmation.name_edit is not None:
        dialog.confirmation.name_edit.setText(user.name)
    events_before = len(app_context.cache.load_events(user.id))

    async def steps():
        dialog.submit_button.click()
        await until(lambda: dialog.saved_credentials or not dialog.errors.isHidden())
        assert dialog.errors.isHidden(), dialog.errors.sentence.text()
        new = dialog.saved_credentials[0]
        assert new.id != old.id
        assert new.organization_code == "ORG-REPLACED"
        at_leaf = await app_context.client.get_panorama_credential(user.id)
        assert at_leaf.id == new.id

    run_async(steps())
    # The old credential's events were archived before Leaf deleted them.
    assert len(app_context.cache.load_events(user.id)) >= events_before


def test_cancel_ignored_while_saving(make_dialog, unconnected_user, sandbox, run_async):
    dialog = make_dialog(unconnected_user)
    _fill(dialog, sandbox)

    async def steps():
        dialog.submit_button.click()
        assert not dialog.cancel_button.isEnabled()
        dialog.reject()
        assert dialog.isVisible()
        await until(lambda: dialog.saved_credentials or not dialog.errors.isHidden())

    run_async(steps())


@pytest.mark.parametrize("existing", [False, True])
def test_mnemonics_unique(make_dialog, unconnected_user, connected, existing):
    from PySide6.QtWidgets import QAbstractButton, QLabel

    user, credential = connected if existing else (unconnected_user, None)
    dialog = make_dialog(user, existing=credential)
    texts = [widget.text() for widget in dialog.findChildren(QLabel) + dialog.findChildren(
        QAbstractButton) if "&" in widget.text() and widget.isVisibleTo(dialog)]
    keys = [text[text.index("&") + 1].lower() for text in texts]
    assert len(keys) == len(set(keys)), texts


def test_saved_credential_rechecked(make_dialog, unconnected_user, sandbox, run_async,
                                    artifact_dir):
    dialog = make_dialog(unconnected_user)
    dialog.RECHECK_DELAYS = (0.5, 0.5, 0.5)
    _fill(dialog, sandbox)

    async def steps():
        dialog.submit_button.click()
        await until(lambda: dialog.saved_credentials or not dialog.errors.isHidden())
        assert dialog.errors.isHidden(), dialog.errors.sentence.text()
        assert not dialog.submit_button.isVisible()
        assert dialog.cancel_button.text().replace("&", "") == "Close"
        assert dialog.grab().save(str(artifact_dir / "manual_accepted.png"))
        # Panorama rejects the credential in Leaf's background check.
        await asyncio.to_thread(sandbox.set_status, unconnected_user.id, "UNAUTHENTICATED")
        await until(lambda: "stopped checking" in dialog.result.text())

    run_async(steps())
    assert "Needs re-authorization" in dialog.result.text()
    assert dialog.result.tone() == "error"
    assert dialog.checked_credentials[-1].status == "UNAUTHENTICATED"
    # A status other than OK is the verdict: no further reads after it.
    assert len(dialog.checked_credentials) == 1
    assert dialog.grab().save(str(artifact_dir / "manual_rechecked.png"))


def test_ok_credential_checked_bounded(make_dialog, unconnected_user, sandbox, run_async):
    dialog = make_dialog(unconnected_user)
    _fill(dialog, sandbox)

    async def steps():
        dialog.submit_button.click()
        await until(lambda: "stopped checking" in dialog.result.text()
                    or not dialog.errors.isHidden())

    run_async(steps())
    assert dialog.errors.isHidden(), dialog.errors.sentence.text()
    assert len(dialog.checked_credentials) == len(dialog.RECHECK_DELAYS)
    if dialog.checked_credentials[-1].status == "OK":
        assert "Connected" in dialog.result.text()
        assert dialog.result.tone() == "success"


def test_close_cancels_status_checks(make_dialog, unconnected_user, sandbox, app_context,
                                     run_async):
    dialog = make_dialog(unconnected_user)
    dialog.RECHECK_DELAYS = (30.0,)
    _fill(dialog, sandbox)

    async def steps():
        dialog.submit_button.click()
        await until(lambda: dialog.saved_credentials or not dialog.errors.isHidden())
        assert dialog.check_tasks.busy
        dialog.cancel_button.click()
        assert not dialog.isVisible()
        await asyncio.wait_for(dialog.check_tasks.wait_finished(), 2)

    run_async(steps())
    assert not dialog.check_tasks.busy
    assert dialog.checked_credentials == []


def test_replace_enter_waits_for_name(make_dialog, connected, sandbox, qtbot):
    user, credential = connected
    dialog = make_dialog(user, existing=credential)
    if dialog.confirmation.name_edit is None:
        pytest.skip("the demo data has no PRODUCTION credential")
    _fill(dialog, sandbox, environment=credential.client_environment)
    name_edit = dialog.confirmation.name_edit
    qtbot.keyClicks(name_edit, user.name[:-1])
    assert dialog.cancel_button.isDefault()
    assert not dialog.submit_button.isDefault()

    qtbot.keyClicks(name_edit, user.name[-1])
    assert dialog.submit_button.isDefault()
    qtbot.keyClick(name_edit, Qt.Key.Key_Return)
    assert dialog.tasks.busy


def test_replace_enter_cancels_without_name(make_dialog, connected, sandbox, qtbot):
    user, credential = connected
    dialog = make_dialog(user, existing=credential)
    if dialog.confirmation.name_edit is None:
        pytest.skip("the demo data has no PRODUCTION credential")
    qtbot.keyClicks(dialog.confirmation.name_edit, "not the name")
    qtbot.keyClick(dialog.confirmation.name_edit, Qt.Key.Key_Return)
    assert not dialog.tasks.busy
    assert not dialog.isVisible()


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


def test_errors_and_help_apart(make_dialog, unconnected_user, settle, artifact_dir):
    dialog = make_dialog(unconnected_user)
    dialog.submit_button.click()
    settle()
    assert dialog.form.error_text("refresh_token") == "Refresh token is required."
    assert_rows_apart(dialog)
    assert dialog.grab().save(str(artifact_dir / "manual_errors_default_size.png"))

    dialog.resize(dialog.minimumWidth(), 200)
    settle()
    assert dialog.width() == dialog.minimumWidth()
    assert_rows_apart(dialog)
    assert dialog.grab().save(str(artifact_dir / "manual_errors_small.png"))


def test_preset_environment_mismatch_warns(make_dialog, unconnected_user, sandbox, artifact_dir,
                                           settle):
    partner = sandbox.demo.partners["STAGE"]
    preset = PartnerPreset(name="Demo partner (stage)", client_id=partner.client_id,
                           partner_username=partner.username,
                           sharing_url_id=partner.sharing_url_id, client_environment="STAGE")
    dialog = make_dialog(unconnected_user, presets=[preset])
    _fill(dialog, sandbox, environment="STAGE")
    assert dialog.form.warning_text("client_environment") == ""

    dialog.environment.setCurrentIndex(dialog.environment.findData("PRODUCTION"))
    warning = dialog.form.warning_text("client_environment")
    assert "Demo partner (stage)" in warning
    assert "STAGE" in warning
    settle()
    assert_rows_apart(dialog)
    assert dialog.grab().save(str(artifact_dir / "manual_environment_warning.png"))
    # A warning, not an error: the form can still be sent.
    assert dialog.checked_input() is not None

    dialog.client_id.setText("another-client-id")
    assert dialog.form.warning_text("client_environment") == ""


def test_ok_before_verdict_shown_neutral(make_dialog, unconnected_user, sandbox, run_async):
    dialog = make_dialog(unconnected_user)
    _fill(dialog, sandbox)
    shown: list[tuple[str, str, bool]] = []
    dialog.checked.connect(lambda _credential: shown.append(
        (dialog.result.text(), dialog.result.tone(), dialog.verdict_pending)))

    async def steps():
        dialog.submit_button.click()
        await until(lambda: "stopped checking" in dialog.result.text()
                    or not dialog.errors.isHidden())

    run_async(steps())
    assert dialog.errors.isHidden(), dialog.errors.sentence.text()
    # The first read comes before Leaf has tried the credential with Panorama.
    first_text, first_tone, first_pending = shown[0]
    assert dialog.checked_credentials[0].status == "OK"
    assert first_pending
    assert "Leaf accepted the credential and is checking it with Panorama" in first_text
    assert "Connected" not in first_text
    assert "Nothing to do" not in first_text
    assert first_tone == ""
    # The last read of an OK credential is the verdict.
    assert not dialog.verdict_pending
    assert "Connected" in dialog.result.text()


def test_wrong_partner_password_advice(make_dialog, unconnected_user, sandbox, run_async):
    dialog = make_dialog(unconnected_user)
    dialog.RECHECK_DELAYS = (0.5, 0.5, 0.5)
    _fill(dialog, sandbox)
    dialog.password.setText("not-the-partner-password")

    async def steps():
        dialog.submit_button.click()
        await until(lambda: dialog.saved_credentials or not dialog.errors.isHidden())
        assert dialog.errors.isHidden(), dialog.errors.sentence.text()
        # Leaf's background check rejects the partner login a few sandbox seconds later.
        await asyncio.to_thread(sandbox.advance_clock, 10)
        await until(lambda: "stopped checking" in dialog.result.text())

    run_async(steps())
    assert dialog.checked_credentials[-1].status == "UNAUTHENTICATED"
    assert "partner username and password" in dialog.result.text()
    assert "approve sharing" not in dialog.result.text()
