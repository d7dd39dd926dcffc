"""A chooser of partner app presets from the settings, used to fill a connect form's login fields.

A preset contains the partner's client id, username, `sharingUrlId` and environment. Its password
is in the keychain under the secret kind "partner-password", keyed by the preset's name.
"""

from __future__ import annotations

import logging
from typing import Any

from PySide6.QtCore import QCoreApplication
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
            label = preset.name
            # A name may already end in its environment, as the demo presets' names do.
            if environment and f"({environment.upper()})" not in preset.name.upper():
                label = f"{preset.name} ({environment})"
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


def preset_for_other_environment(presets: list[Any], client_id: str,
                                 environment: str | None) -> Any | None:
    """Return a preset that uses `client_id` in an environment other than `environment`, if any.

    A Panorama client id belongs to one environment, so a match on another environment usually
    means the wrong environment is chosen. Only the presets tell LeafDesk which is which.
    """
    client_id = client_id.strip()
    chosen = str(environment or "").upper()
    if not client_id or not chosen:
        return None
    for preset in presets:
        preset_environment = str(preset.client_environment or "").upper()
        if preset.client_id.strip() == client_id and preset_environment \
                and preset_environment != chosen:
            return preset
    return None


def environment_warning(presets: list[Any], client_id: str, environment: str | None) -> str:
    """Return the inline warning for a client id that a preset uses elsewhere, or ''."""
    preset = preset_for_other_environment(presets, client_id, environment)
    if preset is None:
        return ""
    return QCoreApplication.translate(
        "PresetPicker",
        "The preset \u201c{name}\u201d uses this client id on {preset_environment}, not on "
        "{environment}. "
        "A credential made for one environment does not work in the other.",
    ).format(name=preset.name, preset_environment=str(preset.client_environment).upper(),
             environment=str(environment).upper())
