"""The one logging setup of LeafDesk: a rotating file under the platform log folder.

Secrets are kept out of logs where they are used. The masking installed here is a second line of
defence: it blanks anything shaped like a bearer token, a JWT or a password or token value in each
record as the record is made, so every handler gets the masked text, and again at the file handler.

The window and a terminal command running at the same time share one log file. On Windows a
process cannot rename the file while the other has it open, so rotation is then put off and the
file grows past its limit until the other process lets go.
"""

from __future__ import annotations

import logging
import logging.handlers
import os
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any, TextIO

from leafdesk.core import paths

LOG_FILE_NAME = "leafdesk.log"
MAX_LOG_BYTES = 2 * 1024 * 1024
LOG_BACKUP_COUNT = 5
MASK = "********"

_FORMAT = "%(asctime)s %(levelname)s %(name)s [%(threadName)s] %(message)s"

# Libraries that would log request lines (with query strings) at INFO or DEBUG.
_QUIET_LOGGERS = ("httpx", "httpcore", "hpack", "urllib3", "asyncio", "keyring")

_JWT = re.compile(r"\beyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*")
# The credentials after an HTTP authorization scheme, as in "Authorization: Bearer <token>".
_BEARER = re.compile(r"(?i)\b(bearer|basic)(\s+)[A-Za-z0-9._~+/=-]{8,}")
# A JSON member, keyword argument, header or query parameter whose name marks a secret. The value
# is quoted (either quote) or runs bare up to a separator.
_SECRET_NAMES = (
    r"password|passwd|refresh_?token|access_?token|id_?token|client_?secret|secret|"
    r"authorization|x-api-key|api_?key|token"
)
_SECRET_VALUE = re.compile(
    r"(?i)(?P<name>[\"']?\b(?:" + _SECRET_NAMES + r")\b[\"']?\s*[:=]\s*)"
    r"(?P<value>\"(?:[^\"\\]|\\.)*\"|'(?:[^'\\]|\\.)*'|[^\s,;&}\]\)]+)"
)

_handler: logging.Handler | None = None


def mask_secrets(text: str) -> str:
    """Return `text` with every bearer token, JWT and password/token value replaced by a mask."""
    text = _BEARER.sub(lambda match: f"{match.group(1)}{match.group(2)}{MASK}", text)
    text = _JWT.sub(MASK, text)
    return _SECRET_VALUE.sub(_mask_value, text)


def _mask_value(match: re.Match[str]) -> str:
    value = match.group("value")

    # Keep the quotes so a masked JSON body still reads as JSON.
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
        return f"{match.group('name')}{value[0]}{MASK}{value[0]}"
    return f"{match.group('name')}{MASK}"


def mask_record(record: logging.LogRecord) -> logging.LogRecord:
    """Rewrite a record's message, arguments and traceback text with secrets masked, in place."""
    try:
        message = record.getMessage()
    except Exception:  # noqa: BLE001 - logging reports bad format strings the same way
        # A format string that does not match its arguments: keep both, masked, in the text.
        message = f"{record.msg} (arguments did not fit: {record.args!r})"
    record.msg = mask_secrets(message)
    record.args = None

    if record.exc_info and not record.exc_text:
        record.exc_text = logging.Formatter().formatException(record.exc_info)
    if record.exc_text:
        record.exc_text = mask_secrets(record.exc_text)
    if record.stack_info:
        record.stack_info = mask_secrets(record.stack_info)
    return record


class SecretMaskingFilter(logging.Filter):
    """Mask secrets in every record that reaches the handler this filter is attached to."""

    def filter(self, record: logging.LogRecord) -> bool:
        mask_record(record)
        return True


def _masking_factory(base: Callable[..., logging.LogRecord]) -> Callable[..., logging.LogRecord]:
    # Masking when the record is made covers every handler (console, test capture, a window's
    # log view) and not only the file. The handler filter still covers records made by hand.
    def make_record(*args: Any, **kwargs: Any) -> logging.LogRecord:
        return mask_record(base(*args, **kwargs))

    make_record.leafdesk_base = base  # type: ignore[attr-defined]
    return make_record


class _RotatingFileHandler(logging.handlers.RotatingFileHandler):
    """A rotating file handler that keeps writing to the current file when rotation fails.

    On POSIX systems each log file is readable by its owner only, because the log names Leaf
    users and their e-mail addresses.
    """

    def _open(self) -> TextIO:
        stream = super()._open()
        if os.name == "posix":
            os.chmod(self.baseFilename, 0o600)
        return stream

    def doRollover(self) -> None:
        try:
            super().doRollover()
        except OSError as error:
            # Without this, logging would drop every record while the rename keeps failing.
            if self.stream is None:
                self.stream = self._open()
            if not getattr(self, "_rotation_failed", False):
                self._rotation_failed = True
                self.stream.write(f"Log rotation put off: {error}\n")
        else:
            self._rotation_failed = False


def configure_logging(level: int = logging.INFO) -> Path:
    """Send LeafDesk's logs to one rotating file under the platform log folder; return its path.

    Calling it again changes the level and keeps the one handler. If the log folder has changed
    (as between tests), the old file handler is closed and replaced.
    """
    global _handler
    log_path = paths.log_dir() / LOG_FILE_NAME
    root = logging.getLogger()

    if _handler is not None and Path(getattr(_handler, "baseFilename", "")) != log_path:
        shutdown_logging()

    if _handler is None:
        handler = _RotatingFileHandler(
            log_path, maxBytes=MAX_LOG_BYTES, backupCount=LOG_BACKUP_COUNT, encoding="utf-8"
        )
        handler.setFormatter(logging.Formatter(_FORMAT))
        handler.addFilter(SecretMaskingFilter())
        root.addHandler(handler)
        _handler = handler

    factory = logging.getLogRecordFactory()
    if not hasattr(factory, "leafdesk_base"):
        logging.setLogRecordFactory(_masking_factory(factory))

    root.setLevel(level)
    _handler.setLevel(level)
    for name in _QUIET_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)

    logging.getLogger(__name__).debug("Logging to %s at level %s", log_path, level)
    return log_path


def shutdown_logging() -> None:
    """Remove and close the handler and record masking that `configure_logging` installed."""
    global _handler
    factory = logging.getLogRecordFactory()
    if hasattr(factory, "leafdesk_base"):
        logging.setLogRecordFactory(factory.leafdesk_base)

    if _handler is None:
        return
    logging.getLogger().removeHandler(_handler)
    _handler.close()
    _handler = None
