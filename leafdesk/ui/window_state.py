"""Window geometry, splitter sizes and table columns, remembered between runs.

Kept apart from the typed settings file because it is opaque Qt state (byte strings from
`saveGeometry()` and `saveState()`), written whenever the window closes. Losing the file only
costs the layout, so a missing or unreadable file is ignored.
"""

from __future__ import annotations

import base64
import json
import logging
import os
from pathlib import Path

from PySide6.QtCore import QByteArray

from leafdesk.core import paths

log = logging.getLogger(__name__)

WINDOW_STATE_FILE_NAME = "window-state.json"


class WindowStateStore:
    """Named byte strings of Qt state, stored as base64 in one JSON file in the config folder."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = path or paths.config_dir() / WINDOW_STATE_FILE_NAME
        self._values: dict[str, str] = {}
        try:
            document = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return
        except (OSError, ValueError) as error:
            log.warning("Ignoring unreadable window state %s: %s", self.path, error)
            return
        if isinstance(document, dict):
            self._values = {key: value for key, value in document.items()
                            if isinstance(key, str) and isinstance(value, str)}

    def get(self, key: str) -> QByteArray | None:
        """Return the stored state for `key`, or None."""
        value = self._values.get(key)
        if value is None:
            return None
        try:
            return QByteArray(base64.b64decode(value))
        except ValueError:
            return None

    def put(self, key: str, value: QByteArray) -> None:
        self._values[key] = base64.b64encode(bytes(value.data())).decode("ascii")

    def save(self) -> None:
        """Write the file through a temporary file, so a crash never leaves half of it."""
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            temporary = self.path.with_name(self.path.name + ".tmp")
            temporary.write_text(json.dumps(self._values, indent=1), encoding="utf-8")
            os.replace(temporary, self.path)
        except OSError as error:
            log.warning("Could not save the window state to %s: %s", self.path, error)
