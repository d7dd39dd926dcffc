"""A chooser of partner app presets from the settings, used to fill a connect form's login fields.

A preset contains the partner's client id, username, `sharingUrlId` and environment. Its password
is in the keychain under the secret kind "partner-password", keyed by the preset's name.
"""

from __future__ import annotations

import logging
from typing import Any

from PySide6.QtWidgets import QComboBox, QWidget

log = logging.getLogger(__name__)

PARTNER_PASSWORD = "partner-password"


class PresetPicker(QComboBox):
    """A combo box whose first item means "type the login by hand" and the rest are presets."""

    def __init__(self, presets: list[Any], parent: QWidget | None = None) -> None:
        """List `presets` (settings' PartnerPreset objects) after a by-hand item."""
        super().__init__(parent)
        self.presets = list(presets)
        self.addItem(self.tr("None: type the partner login below"), None)
        for index, preset in enumerate(self.presets):
            environment = str(getattr(preset, "client_environment", "") or "")
            label = f"{preset.name} ({environment})" if environment else preset.name
            self.addItem(label, index)
        self.setEnabled(bool(self.presets))
        if not self.presets:
            self.setToolTip(self.tr("No partner app presets yet: add them in Settings."))

    def current_preset(self) -> Any | None:
        index = self.currentData()
        return None if index is None else self.presets[index]


def preset_password(secrets: Any | None, preset: Any) -> str:
    """Return the preset's partner password from the keychain, or '' when none is stored."""
    if secrets is None:
        return ""
    try:
        value = secrets.get(PARTNER_PASSWORD, preset.name)
    except Exception:  # a broken keychain must not stop the form: the operator can type it
        log.warning("Could not read the partner password of preset %r from the keychain",
                    preset.name, exc_info=True)
        return ""
    return str(value) if value else ""
