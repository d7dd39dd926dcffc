"""The logging setup: one rotating file under the log folder, quiet HTTP loggers, secrets masked."""

from __future__ import annotations

import json
import logging
import logging.handlers
import os
import stat

import pytest

from leafdesk.core import logsetup, paths
from leafdesk.core.logsetup import MASK, configure_logging, mask_secrets, shutdown_logging

JWT = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJvd25lciJ9.c2lnbmF0dXJlLXZhbHVl"


@pytest.fixture(autouse=True)
def restore_logging():
    root = logging.getLogger()
    level = root.level
    quiet_levels = {name: logging.getLogger(name).level for name in ("httpx", "httpcore")}
    yield
    shutdown_logging()
    root.setLevel(level)
    for name, saved in quiet_levels.items():
        logging.getLogger(name).setLevel(saved)


def read_log(path) -> str:
    for handler in logging.getLogger().handlers:
        handler.flush()
    return path.read_text(encoding="utf-8")


def our_handlers() -> list[logging.Handler]:
    handlers = logging.getLogger().handlers
    return [h for h in handlers if isinstance(h, logging.handlers.RotatingFileHandler)]


def test_log_file_under_log_folder(isolated_folders):
    path = configure_logging()

    logging.getLogger("leafdesk.test").info("hello from the test")

    assert path == paths.log_dir() / "leafdesk.log"
    assert path.is_relative_to(isolated_folders)
    assert "hello from the test" in read_log(path)
    assert "INFO leafdesk.test" in read_log(path)


def test_configure_twice_keeps_one_handler():
    first = configure_logging()
    second = configure_logging(logging.DEBUG)

    logging.getLogger("leafdesk.test").debug("only once")

    assert first == second
    assert len(our_handlers()) == 1
    assert read_log(first).count("only once") == 1
    assert logging.getLogger().level == logging.DEBUG


def test_new_log_folder_replaces_handler(tmp_path, monkeypatch):
    first = configure_logging()
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "elsewhere"))

    second = configure_logging()

    assert second != first
    assert second.is_relative_to(tmp_path / "elsewhere")
    assert len(our_handlers()) == 1


def test_http_loggers_at_warning():
    configure_logging(logging.DEBUG)

    assert logging.getLogger("httpx").getEffectiveLevel() == logging.WARNING
    assert logging.getLogger("httpcore").getEffectiveLevel() == logging.WARNING
    assert logging.getLogger("httpcore.connection").getEffectiveLevel() == logging.WARNING


def test_http_info_not_written():
    path = configure_logging(logging.DEBUG)

    logging.getLogger("httpx").info("HTTP Request: GET http://127.0.0.1/users?token=abc")

    assert "HTTP Request" not in read_log(path)


@pytest.mark.parametrize(
    ("text", "secret"),
    [
        (f"Authorization: Bearer {JWT}", JWT),
        ("headers={'Authorization': 'Bearer abcdefgh12345678'}", "abcdefgh12345678"),
        ("Authorization: Basic dXNlcjpwYXNzd29yZA==", "dXNlcjpwYXNzd29yZA=="),
        (f"token is {JWT} here", JWT),
        ('{"username": "me", "password": "hunter2-secret"}', "hunter2-secret"),
        ('{"refreshToken": "refresh-abc-123", "status": "OK"}', "refresh-abc-123"),
        ("accessToken=access-xyz-789&other=1", "access-xyz-789"),
        ("id_token: 'quoted token value'", "quoted token value"),
        ('{"id_token": "tok\\"en-with-escape"}', "en-with-escape"),
        ("password=plain-secret, next", "plain-secret"),
    ],
)
def test_mask_secrets_removes_value(text, secret):
    masked = mask_secrets(text)

    assert secret not in masked
    assert MASK in masked


def test_mask_secrets_keeps_plain_text():
    text = "Could not sign in for Demo: the password was rejected (HTTP 401)."

    assert mask_secrets(text) == text


def test_masked_json_stays_json():
    masked = mask_secrets('{"password": "hunter2", "username": "me"}')

    assert json.loads(masked) == {"password": MASK, "username": "me"}


def test_filter_masks_arguments_and_tracebacks():
    path = configure_logging()
    log = logging.getLogger("leafdesk.test")

    log.info("Signed in with token %s", JWT)
    log.warning("Body was %r", {"refreshToken": "refresh-in-args-42"})
    try:
        raise RuntimeError(f"failed with Authorization: Bearer {JWT}")
    except RuntimeError:
        log.exception("Request failed")
    log.info("Broken format %s %s", "password=only-one-argument-1")  # noqa: PLE1206

    text = read_log(path)
    assert JWT not in text
    assert "refresh-in-args-42" not in text
    assert "only-one-argument-1" not in text
    assert "RuntimeError" in text
    assert "Request failed" in text
    assert text.count(MASK) >= 4


def test_failed_rotation_keeps_writing(monkeypatch):
    monkeypatch.setattr(logsetup, "MAX_LOG_BYTES", 500)
    path = configure_logging()
    log = logging.getLogger("leafdesk.test")

    def held_open(source, target):
        raise PermissionError(32, "The process cannot access the file", source)

    monkeypatch.setattr(our_handlers()[0], "rotate", held_open)
    for number in range(30):
        log.info("record %d %s", number, "y" * 40)

    text = read_log(path)
    assert "record 29" in text
    assert text.count("Log rotation put off") == 1
    assert not (path.parent / "leafdesk.log.1").exists()


def test_other_handlers_see_masked_records(caplog):
    configure_logging()

    with caplog.at_level(logging.INFO, logger="leafdesk.test"):
        logging.getLogger("leafdesk.test").info("token %s", JWT)

    assert JWT not in caplog.text
    assert MASK in caplog.text


def test_shutdown_restores_record_factory():
    before = logging.getLogRecordFactory()
    configure_logging()
    configure_logging()

    shutdown_logging()

    assert logging.getLogRecordFactory() is before


def test_log_file_rotates(monkeypatch):
    monkeypatch.setattr(logsetup, "MAX_LOG_BYTES", 2000)
    path = configure_logging()
    log = logging.getLogger("leafdesk.test")

    for number in range(100):
        log.info("line %d %s", number, "x" * 50)

    rotated = sorted(p.name for p in path.parent.iterdir())
    assert rotated[:2] == ["leafdesk.log", "leafdesk.log.1"]
    assert len(rotated) <= 1 + logsetup.LOG_BACKUP_COUNT
    assert path.stat().st_size <= 2000


@pytest.mark.skipif(os.name != "posix", reason="file modes are POSIX")
def test_log_file_owner_only():
    log_path = configure_logging()
    try:
        logging.getLogger("leafdesk.test").warning("grower e-mail: someone@example.com")
        assert stat.S_IMODE(log_path.stat().st_mode) == 0o600
        assert stat.S_IMODE(log_path.parent.stat().st_mode) == 0o700
    finally:
        shutdown_logging()
