"""Which Leaf account a terminal command uses, and where its password comes from.

A saved account (from the settings file) takes its password from the keychain. An account given
by `--base-url` and `--username` takes it from `LEAFDESK_PASSWORD`, or from a prompt when the
terminal is interactive. The password is never read from the command line, where other users of
the machine could see it in the process list.
"""

from __future__ import annotations

import getpass
import logging
import os
import sys
from dataclasses import dataclass
from urllib.parse import urlsplit

from leafdesk.core.model import Secret
from leafdesk.core.secrets import LEAF_PASSWORD, SecretStore
from leafdesk.core.settings import Settings

logger = logging.getLogger(__name__)

PASSWORD_VARIABLE = "LEAFDESK_PASSWORD"


class AccountError(Exception):
    """The command line does not name a usable Leaf account; the message lists what to pass."""


@dataclass(frozen=True, slots=True)
class AccountChoice:
    """The Leaf account a command runs against; `saved` when it comes from the settings file."""

    name: str
    base_url: str
    username: str
    saved: bool


def choose_account(
    settings: Settings, *, account: str | None, base_url: str | None, username: str | None
) -> AccountChoice:
    """Pick the account from the options, else the last one used, else the only one saved."""
    if base_url or username:
        if not (base_url and username):
            raise AccountError("--base-url and --username go together; pass both.")
        _check_base_url(base_url)
        # A saved account with the same address and login shares its cache and keychain entry.
        for saved in settings.accounts:
            if saved.base_url.rstrip("/") == base_url.rstrip("/") and saved.username == username:
                return AccountChoice(saved.name, saved.base_url, saved.username, saved=True)
        return AccountChoice(username, base_url, username, saved=False)

    if account:
        saved = settings.account(account)
        if saved is None:
            known = ", ".join(a.name for a in settings.accounts) or "none"
            raise AccountError(f"No saved Leaf account is named {account!r} (saved: {known}).")
        return AccountChoice(saved.name, saved.base_url, saved.username, saved=True)

    chosen = settings.account(settings.last_account) if settings.last_account else None
    if chosen is None and len(settings.accounts) == 1:
        chosen = settings.accounts[0]
    if chosen is None:
        raise AccountError(
            "Name a Leaf account: --account NAME for a saved one, or --base-url URL with "
            "--username NAME."
        )
    return AccountChoice(chosen.name, chosen.base_url, chosen.username, saved=True)


def find_password(choice: AccountChoice, secrets: SecretStore | None = None) -> Secret | None:
    """Return the account's password from the keychain, the environment or a prompt; else None."""
    if choice.saved:
        store = secrets or SecretStore()
        stored = store.get(LEAF_PASSWORD, choice.name)
        if stored:
            return stored

    from_environment = os.environ.get(PASSWORD_VARIABLE)
    if from_environment:
        return Secret(from_environment)

    if sys.stdin is not None and sys.stdin.isatty():
        typed = getpass.getpass(f"Leaf password for {choice.username} at {choice.base_url}: ")
        return Secret(typed) if typed else None
    return None


def _check_base_url(base_url: str) -> None:
    parts = urlsplit(base_url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise AccountError(
            f"--base-url must be an http:// or https:// address, not {base_url!r}."
        )
