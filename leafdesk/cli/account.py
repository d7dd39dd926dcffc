"""Selection of the Leaf account a terminal command uses, and of the source of its password.

A saved account (from the settings file) takes its password from the keychain. An account given
by `--base-url` and `--username` takes it from `LEAFDESK_PASSWORD`, or from a prompt when the
terminal is interactive. The password is never read from the command line, where other users of
the machine could see it in the process list, and never written to the settings.

An account given by `--base-url` and `--username` is saved (without its password) once a command
has read something for it, and the last account used is recorded, so a later command needs no
account option.
"""

from __future__ import annotations

import getpass
import logging
import os
import sys
from dataclasses import dataclass
from urllib.parse import urlsplit

from leafdesk.core.model import Secret
from leafdesk.core.paths import normalize_base_url
from leafdesk.core.secrets import LEAF_PASSWORD, SecretStore
from leafdesk.core.settings import LeafAccount, Settings, SettingsStore

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
        saved = _saved_account(settings, base_url, username)
        if saved is not None:
            return AccountChoice(saved.name, saved.base_url, saved.username, saved=True)
        # The name chosen here is also the one saved later, so the cache file stays the same.
        return AccountChoice(_free_name(settings, base_url, username), base_url, username,
                             saved=False)

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


def stored_password(choice: AccountChoice, secrets: SecretStore | None = None) -> Secret | None:
    """Return the account's password from the keychain or `LEAFDESK_PASSWORD`, else None."""
    if choice.saved:
        store = secrets or SecretStore()
        stored = store.get(LEAF_PASSWORD, choice.name)
        if stored:
            return stored

    from_environment = os.environ.get(PASSWORD_VARIABLE)
    if from_environment:
        return Secret(from_environment)
    return None


def can_prompt() -> bool:
    """Return True when standard input is a terminal, so a password prompt can be answered."""
    return sys.stdin is not None and sys.stdin.isatty()


def ask_password(choice: AccountChoice) -> Secret | None:
    """Prompt for the account's password on the terminal; None when nothing was typed.

    Call this outside a running event loop. asyncio.run's SIGINT handler only cancels the main
    task, and the cancellation cannot take effect while getpass blocks, so Ctrl+C would hang.
    """
    typed = getpass.getpass(f"Leaf password for {choice.username} at {choice.base_url}: ")
    return Secret(typed) if typed else None


def remember_account(store: SettingsStore, choice: AccountChoice) -> None:
    """Save the account (never its password) and record it as the last account used.

    A failure to write the settings is logged and reported on stderr, and the command's exit
    status is unchanged.
    """
    settings = store.load()
    saved = _saved_account(settings, choice.base_url, choice.username)
    if saved is None:
        # remember=False: the terminal never puts the password in the keychain.
        saved = LeafAccount(_free_name(settings, choice.base_url, choice.username),
                            base_url=choice.base_url, username=choice.username, remember=False)
        settings.accounts.append(saved)
    elif settings.last_account == saved.name:
        return
    settings.last_account = saved.name
    try:
        store.save(settings)
    except OSError as error:
        logger.warning("Could not save the Leaf account %r in %s: %s", saved.name, store.path,
                       error)
        print(f"Could not save the Leaf account in {store.path} ({error.strerror or error}), "
              "so the next command needs --base-url and --username again.", file=sys.stderr)


def _saved_account(settings: Settings, base_url: str, username: str) -> LeafAccount | None:
    for saved in settings.accounts:
        same_url = normalize_base_url(saved.base_url) == normalize_base_url(base_url)
        if same_url and saved.username == username:
            return saved
    return None


def _free_name(settings: Settings, base_url: str, username: str) -> str:
    """Return the username as the account name, with the host added when that name is taken."""
    if settings.account(username) is None:
        return username
    candidate = f"{username} at {urlsplit(base_url).netloc}"
    number = 2
    name = candidate
    while settings.account(name) is not None:
        name = f"{candidate} ({number})"
        number += 1
    return name


def _check_base_url(base_url: str) -> None:
    parts = urlsplit(base_url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise AccountError(
            f"Invalid --base-url {base_url!r}: give an http:// or https:// address."
        )
