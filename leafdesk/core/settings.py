"""LeafDesk's settings: typed dataclasses saved as JSON in the platform config folder.

The file is written atomically (a temporary file in the same folder, fsync, then os.replace), so a
crash leaves either the old settings or the new ones. Reading is forgiving: unknown keys are
ignored, and a bad value is reported as a `SettingsError` naming its key and replaced by its default
without losing the rest. No password or token is ever part of the settings; those live in the
keychain (`core.secrets`).
"""

from __future__ import annotations

import json
import logging
import os
import re
import tempfile
import time
from dataclasses import KW_ONLY, asdict, dataclass, field
from pathlib import Path
from typing import Any

from leafdesk.core import paths
from leafdesk.core.model import Environment

log = logging.getLogger(__name__)

SETTINGS_FILE_NAME = "settings.json"
SETTINGS_FORMAT_VERSION = 1

DEFAULT_BASE_URL = "https://api.withleaf.io"
DEFAULT_ENVIRONMENT_COLOUR = "#2e7d32"
DEFAULT_REFRESH_INTERVAL_MINUTES = 15
DEFAULT_CONCURRENCY = 8
REFRESH_INTERVAL_RANGE = (1, 24 * 60)
CONCURRENCY_RANGE = (1, 64)

_COLOUR = re.compile(r"^#[0-9a-fA-F]{6}$")
_MAX_TEXT_LENGTH = 500


class SettingsError(ValueError):
    """A settings value that could not be used; `key` is its path, such as `accounts[0].name`."""

    def __init__(self, key: str, message: str) -> None:
        super().__init__(f"Setting {key}: {message}")
        self.key = key
        self.message = message


@dataclass(slots=True)
class LeafAccount:
    """A Leaf API account LeafDesk signs in to; its password is kept in the keychain by name."""

    name: str
    # The rest are keyword-only, so a positional call cannot swap the base URL and the username.
    _: KW_ONLY
    base_url: str = DEFAULT_BASE_URL
    username: str
    environment_colour: str = DEFAULT_ENVIRONMENT_COLOUR
    remember: bool = True


@dataclass(slots=True)
class PartnerPreset:
    """A partner's Panorama login for one-click starts; its password is kept in the keychain."""

    name: str
    client_id: str
    partner_username: str
    sharing_url_id: str
    client_environment: Environment = Environment.PRODUCTION

    def __post_init__(self) -> None:
        self.client_environment = Environment(self.client_environment)


@dataclass(slots=True)
class Settings:
    """Everything LeafDesk remembers between runs, apart from secrets and the offline caches."""

    accounts: list[LeafAccount] = field(default_factory=list)
    presets: list[PartnerPreset] = field(default_factory=list)
    refresh_interval_minutes: int = DEFAULT_REFRESH_INTERVAL_MINUTES
    concurrency: int = DEFAULT_CONCURRENCY
    last_account: str | None = None

    def account(self, name: str) -> LeafAccount | None:
        """Return the account with this name, or None."""
        return next((account for account in self.accounts if account.name == name), None)

    def preset(self, name: str) -> PartnerPreset | None:
        """Return the partner app preset with this name, or None."""
        return next((preset for preset in self.presets if preset.name == name), None)


class SettingsStore:
    """Load and save `Settings` at one path, by default `settings.json` in the config folder.

    After `load()`, `problems` lists every value that was reported and replaced by its default.
    """

    def __init__(self, path: Path | str | None = None) -> None:
        self.path = Path(path) if path is not None else paths.config_dir() / SETTINGS_FILE_NAME
        self.problems: list[SettingsError] = []

    def load(self) -> Settings:
        """Read the settings file; a missing file gives the defaults, a bad value its default."""
        self.problems = []
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return Settings()
        except UnicodeDecodeError as error:
            self._set_aside_unreadable(f"not UTF-8 text (byte {error.start})")
            return Settings()

        try:
            document = json.loads(text)
        except json.JSONDecodeError as error:
            self._set_aside_unreadable(f"not valid JSON ({error.msg} at line {error.lineno})")
            return Settings()
        if not isinstance(document, dict):
            self._set_aside_unreadable("the file does not contain a JSON object")
            return Settings()

        settings = _settings_from_document(document, self.problems)
        for problem in self.problems:
            log.warning("Settings file %s: %s", self.path, problem)
        return settings

    def save(self, settings: Settings) -> None:
        """Write the settings atomically: a temporary file in the same folder, fsync, replace."""
        document = {"version": SETTINGS_FORMAT_VERSION, **asdict(settings)}
        data = json.dumps(document, indent=2, ensure_ascii=False) + "\n"
        self.path.parent.mkdir(parents=True, exist_ok=True)

        descriptor, temporary_name = tempfile.mkstemp(
            dir=self.path.parent, prefix=f".{self.path.name}.", suffix=".tmp"
        )
        temporary = Path(temporary_name)
        try:
            with os.fdopen(descriptor, "w", encoding="utf-8", newline="\n") as file:
                file.write(data)
                file.flush()
                os.fsync(file.fileno())
            _replace_with_retry(temporary, self.path)
        except BaseException:
            temporary.unlink(missing_ok=True)
            raise
        _fsync_folder(self.path.parent)
        log.info("Saved settings to %s", self.path)

    def _set_aside_unreadable(self, reason: str) -> None:
        # Keep the unreadable file beside the new one so the next save cannot destroy it.
        aside = paths.unused_aside_path(self.path, "invalid")
        try:
            os.replace(self.path, aside)
        except OSError as error:
            log.warning("Could not move the unreadable settings file aside: %s", error)
            aside = self.path
        problem = SettingsError("(file)", f"{reason}; kept as {aside.name}, defaults used")
        self.problems.append(problem)
        log.warning("Settings file %s: %s", self.path, problem)


def _replace_with_retry(source: Path, target: Path) -> None:
    # On Windows a virus scanner or indexer can hold the target open for a moment.
    for attempt in range(5):
        try:
            os.replace(source, target)
            return
        except PermissionError:
            if attempt == 4:
                raise
            time.sleep(0.05 * (attempt + 1))


def _fsync_folder(folder: Path) -> None:
    # Makes the rename itself durable on POSIX; Windows cannot open a folder this way.
    if os.name != "posix":
        return
    descriptor = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def _settings_from_document(document: dict[str, Any], problems: list[SettingsError]) -> Settings:
    settings = Settings()

    for index, item in _list_of_objects(document, "accounts", problems):
        account = _account_from(item, f"accounts[{index}]", problems)
        if account is None:
            continue
        if settings.account(account.name) is not None:
            problems.append(
                SettingsError(f"accounts[{index}].name",
                              f"duplicate name {account.name!r}; dropped")
            )
            continue
        settings.accounts.append(account)

    for index, item in _list_of_objects(document, "presets", problems):
        preset = _preset_from(item, f"presets[{index}]", problems)
        if preset is None:
            continue
        if settings.preset(preset.name) is not None:
            problems.append(
                SettingsError(f"presets[{index}].name", f"duplicate name {preset.name!r}; dropped")
            )
            continue
        settings.presets.append(preset)

    settings.refresh_interval_minutes = _bounded_int(
        document, "refresh_interval_minutes", DEFAULT_REFRESH_INTERVAL_MINUTES,
        REFRESH_INTERVAL_RANGE, problems,
    )
    settings.concurrency = _bounded_int(
        document, "concurrency", DEFAULT_CONCURRENCY, CONCURRENCY_RANGE, problems
    )

    last_account = document.get("last_account")
    if last_account is not None:
        if not isinstance(last_account, str) or settings.account(last_account) is None:
            problems.append(
                SettingsError("last_account", f"{last_account!r} is not a saved account; cleared")
            )
        else:
            settings.last_account = last_account
    return settings


def _list_of_objects(
    document: dict[str, Any], key: str, problems: list[SettingsError]
) -> list[tuple[int, dict[str, Any]]]:
    # Indexes are those of the file, so a reported key points at the right entry.
    value = document.get(key, [])
    if not isinstance(value, list):
        problems.append(SettingsError(key, "expected a list; using an empty list"))
        return []
    objects = []
    for index, item in enumerate(value):
        if isinstance(item, dict):
            objects.append((index, item))
        else:
            problems.append(SettingsError(f"{key}[{index}]", "expected an object; dropped"))
    return objects


def _account_from(
    item: dict[str, Any], where: str, problems: list[SettingsError]
) -> LeafAccount | None:
    name = _required_text(item, "name", where, problems)
    username = _required_text(item, "username", where, problems)
    if name is None or username is None:
        return None

    base_url = item.get("base_url", DEFAULT_BASE_URL)
    if not isinstance(base_url, str) or not re.match(r"^https?://[^\s/]+", base_url.strip()):
        problems.append(
            SettingsError(f"{where}.base_url",
                          f"{base_url!r} is not an http(s) URL; using the default")
        )
        base_url = DEFAULT_BASE_URL

    colour = item.get("environment_colour", DEFAULT_ENVIRONMENT_COLOUR)
    if not isinstance(colour, str) or not _COLOUR.match(colour):
        problems.append(
            SettingsError(f"{where}.environment_colour",
                          f"{colour!r} is not #rrggbb; using the default")
        )
        colour = DEFAULT_ENVIRONMENT_COLOUR

    remember = item.get("remember", True)
    if not isinstance(remember, bool):
        problems.append(
            SettingsError(f"{where}.remember", f"{remember!r} is not true or false; using true")
        )
        remember = True

    return LeafAccount(
        name=name, username=username, base_url=base_url.strip(), environment_colour=colour,
        remember=remember,
    )


def _preset_from(
    item: dict[str, Any], where: str, problems: list[SettingsError]
) -> PartnerPreset | None:
    name = _required_text(item, "name", where, problems)
    client_id = _required_text(item, "client_id", where, problems)
    partner_username = _required_text(item, "partner_username", where, problems)
    sharing_url_id = _required_text(item, "sharing_url_id", where, problems)
    if None in (name, client_id, partner_username, sharing_url_id):
        return None

    environment_text = item.get("client_environment", Environment.PRODUCTION.value)
    try:
        environment = Environment(environment_text)
    except ValueError:
        problems.append(
            SettingsError(
                f"{where}.client_environment",
                f"{environment_text!r} is not STAGE or PRODUCTION; using PRODUCTION",
            )
        )
        environment = Environment.PRODUCTION

    return PartnerPreset(
        name=name, client_id=client_id, partner_username=partner_username,
        sharing_url_id=sharing_url_id, client_environment=environment,
    )


def _required_text(
    item: dict[str, Any], key: str, where: str, problems: list[SettingsError]
) -> str | None:
    value = item.get(key)
    if not isinstance(value, str) or not value.strip():
        problems.append(SettingsError(f"{where}.{key}", "missing or empty; entry dropped"))
        return None
    if len(value) > _MAX_TEXT_LENGTH:
        problems.append(
            SettingsError(f"{where}.{key}",
                          f"longer than {_MAX_TEXT_LENGTH} characters; entry dropped")
        )
        return None
    return value.strip()


def _bounded_int(
    document: dict[str, Any], key: str, default: int, bounds: tuple[int, int],
    problems: list[SettingsError],
) -> int:
    value = document.get(key, default)
    low, high = bounds
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        problems.append(
            SettingsError(
                key, f"{value!r} is not a whole number from {low} to {high}; using {default}"
            )
        )
        return default
    return value
