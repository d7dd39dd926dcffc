"""The `leafdesk status` and `leafdesk events` commands: argument parsing, refresh, cache fallback.

Both commands read Leaf when they can and the offline cache when they cannot (or with
`--offline`). Results go to stdout; notes about where the data came from, errors and progress go
to stderr, and progress only when stderr is a terminal.

The password is found (and prompted for) before the event loop starts, so Ctrl+C at the prompt
ends the command at once.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import shutil
import sqlite3
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from leafdesk.cli.account import (
    PASSWORD_VARIABLE,
    AccountChoice,
    AccountError,
    ask_password,
    can_prompt,
    choose_account,
    remember_account,
    stored_password,
)
from leafdesk.cli.lookup import UserNotFound, find_user_cached, find_user_online
from leafdesk.cli.output import FORMATS, format_events, format_users
from leafdesk.core.cache import Cache, CacheError
from leafdesk.core.client import LeafClient
from leafdesk.core.errors import LeafError, SignedOutError
from leafdesk.core.http import HttpSession
from leafdesk.core.logsetup import configure_logging
from leafdesk.core.model import CredentialEvent, LeafUser, Secret, UserRow
from leafdesk.core.paths import cache_path
from leafdesk.core.settings import SettingsStore
from leafdesk.core.states import needs_attention
from leafdesk.core.sync import SyncService

logger = logging.getLogger(__name__)

EXIT_ALL_CONNECTED = 0
EXIT_NEEDS_ATTENTION = 1
EXIT_NOTHING_READ = 2
EXIT_SIGNED_OUT = 3
EXIT_INTERRUPTED = 130

EXIT_STATUS_HELP = (
    "Exit status: 0 when every user is connected, 1 when some user needs attention, 2 when "
    "nothing could be read (or the options are wrong), 3 when LeafDesk could not sign in to "
    "Leaf (a rejected username or password, or no password given) and so showed only the "
    "offline cache, 130 when interrupted."
)
EVENTS_EXIT_HELP = (
    "Exit status: 0 when the events were printed (even none), 2 when the user was not found or "
    "nothing could be read, 3 when LeafDesk could not sign in to Leaf (a rejected username or "
    "password, or no password given), 130 when interrupted."
)


@dataclass(frozen=True, slots=True)
class _SignIn:
    """The password for this run, or why the command reads only the cache."""

    password: Secret | None
    # The note printed when there is no password; None when there is one.
    note: str | None = None
    # True when the cause is a missing password (exit 3), False when Leaf is unreachable.
    signed_out: bool = False


@dataclass(frozen=True, slots=True)
class _Outcome:
    """A command's exit status, and whether it read anything for the account."""

    status: int
    account_works: bool


def run(argv: Sequence[str]) -> int:
    """Run one terminal command; `argv` starts with the subcommand (`status` or `events`).

    Returns the exit status that `EXIT_STATUS_HELP` and `EVENTS_EXIT_HELP` describe.
    """
    parser = _parser()
    try:
        args = parser.parse_args(list(argv))
    except SystemExit as exit_request:
        # argparse exits 2 on bad usage and 0 for --help, as command-line tools do.
        return int(exit_request.code or 0)
    if args.command == "events" and not args.user.strip():
        print("leafdesk events: The USER argument is empty. Give a user's id, name or e-mail.",
              file=sys.stderr)
        return EXIT_NOTHING_READ

    configure_logging()
    settings_store = SettingsStore()
    settings = settings_store.load()
    try:
        account = choose_account(settings, account=args.account, base_url=args.base_url,
                                 username=args.username)
    except AccountError as error:
        print(f"leafdesk {args.command}: {error}", file=sys.stderr)
        return EXIT_NOTHING_READ

    try:
        sign_in = _SignIn(password=None) if args.offline else _prepare_sign_in(account)
    except KeyboardInterrupt:
        # The prompt leaves the cursor at the end of its line.
        _note("\nInterrupted before signing in to Leaf, so nothing was read.")
        return EXIT_INTERRUPTED

    concurrency = getattr(args, "concurrency", None) or settings.concurrency
    path = cache_path(account.name, account.base_url)
    cache_is_new = not path.exists()
    cache = Cache(path)
    try:
        if cache.recovered_from is not None:
            _note(f"The offline cache was damaged; it was moved to {cache.recovered_from.name} "
                  "and started afresh.")
        if args.command == "status":
            outcome = asyncio.run(_status(args, account, cache, concurrency, sign_in))
        else:
            outcome = asyncio.run(_events(args, account, cache, sign_in))
    except KeyboardInterrupt:
        _note("Interrupted; what was read before is kept in the offline cache.")
        return EXIT_INTERRUPTED
    finally:
        _close_cache(cache, cache_is_new)

    if outcome.account_works:
        remember_account(settings_store, account)
    return outcome.status


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="leafdesk",
        description="Show Leaf users' Panorama connections in the terminal.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    status = commands.add_parser(
        "status",
        help="print every Leaf user's Panorama state",
        description="Print every Leaf user's Panorama state, refreshed from Leaf when it can be "
        "reached and read from the offline cache when it cannot.",
        epilog=EXIT_STATUS_HELP,
    )
    _common_options(status)
    status.add_argument("--concurrency", type=_positive_int, default=None, metavar="N",
                        help="requests sent to Leaf at once (default: the settings value, 8)")
    status.add_argument("--wide", action="store_true",
                        help="add each user's next step, in full, to the table (a short next "
                        "step is shown anyway when the terminal is wide enough)")

    events = commands.add_parser(
        "events",
        help="print one Leaf user's Panorama credential events, decoded",
        description="Print one Leaf user's Panorama credential events, newest first, with what "
        "each means. Events LeafDesk archived earlier (Leaf keeps only 30 days) are included.",
        epilog=EVENTS_EXIT_HELP,
    )
    events.add_argument("user", metavar="USER", help="the Leaf user's id, name or e-mail")
    _common_options(events)
    return parser


def _common_options(command: argparse.ArgumentParser) -> None:
    command.add_argument("--account", metavar="NAME", help="a Leaf account saved in the settings")
    command.add_argument("--base-url", metavar="URL",
                         help="the Leaf server address, with --username (password from "
                         f"{PASSWORD_VARIABLE} or a prompt); remembered for the next command")
    command.add_argument("--username", metavar="U", help="the Leaf API owner's username")
    command.add_argument("--offline", action="store_true",
                         help="read the offline cache only; send nothing to Leaf")
    command.add_argument("--format", choices=FORMATS, default="table",
                         help="output format (default: table)")


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, not {text!r}") from None
    if not 1 <= value <= 64:
        raise argparse.ArgumentTypeError(f"must be between 1 and 64, not {value}")
    return value


# -- signing in ------------------------------------------------------------------------------

def _prepare_sign_in(account: AccountChoice) -> _SignIn:
    """Find the password, prompting for it only when Leaf can be reached.

    Leaf is probed first, so an offline run shows the cache without asking for a password.
    Ctrl+C during the probe or at the prompt raises KeyboardInterrupt to the caller.
    """
    password = stored_password(account)
    if password is not None:
        return _SignIn(password)

    unreachable = asyncio.run(_probe(account.base_url))
    if unreachable is not None:
        return _SignIn(None, f"{unreachable.sentence()} Reading the offline cache instead.")

    if can_prompt():
        password = ask_password(account)
        if password is not None:
            return _SignIn(password)
    return _SignIn(
        None,
        f"No password for {account.username}: set {PASSWORD_VARIABLE}, answer the prompt in a "
        "terminal, or save the account with its password in LeafDesk. Reading the offline "
        "cache instead.",
        signed_out=True,
    )


async def _probe(base_url: str) -> LeafError | None:
    """Return why Leaf cannot be reached at `base_url`, or None when any HTTP response came.

    The probe sends no credentials: a GET of the server root, retried like any GET.
    """
    try:
        session = HttpSession(base_url)
    except LeafError as error:
        return error.about(action="reach Leaf")
    try:
        await session.send("GET", "/", repeatable=True)
    except LeafError as error:
        return error.about(action="reach Leaf")
    finally:
        await session.aclose()
    return None


# -- the offline cache -----------------------------------------------------------------------

def _close_cache(cache: Cache, cache_is_new: bool) -> None:
    """Close the cache, and delete the file this run created when nothing was stored in it.

    A failed first sign-in (a wrong port or username) would otherwise leave an empty cache file
    behind. A file with users or a complete refresh in it is always kept.
    """
    try:
        empty = (cache_is_new and cache.count_users() == 0
                 and cache.last_sync(complete_only=True) is None)
    except (CacheError, sqlite3.Error) as error:
        logger.warning("Could not check whether the offline cache %s is empty: %s",
                       cache.path, error)
        empty = False
    cache.close()
    if not empty:
        return
    # NOTE: a window that opened this same new file in the meantime would lose what it writes.
    for suffix in ("", "-wal", "-shm", "-journal"):
        companion = Path(f"{cache.path}{suffix}")
        try:
            companion.unlink(missing_ok=True)
        except OSError as error:
            logger.warning("Could not delete the empty offline cache file %s: %s", companion,
                           error)
    logger.info("Deleted the empty offline cache %s, because this run stored nothing", cache.path)


# -- status ----------------------------------------------------------------------------------

async def _status(
    args: argparse.Namespace, account: AccountChoice, cache: Cache, concurrency: int,
    sign_in: _SignIn,
) -> _Outcome:
    rows: list[UserRow] | None = None
    failed = 0
    signed_out = False

    if not args.offline and sign_in.password is None:
        _note(sign_in.note or "")
        signed_out = sign_in.signed_out
    elif not args.offline:
        result = await _refresh(account, sign_in.password, cache, concurrency)
        if result.error is None:
            rows, failed = result.rows, result.failed
            if failed:
                _note(f"{failed} of {result.total} users could not be refreshed; their "
                      "rows come from the offline cache. See the log for details.")
        else:
            _note(f"{result.error.sentence()} Reading the offline cache instead.")
            signed_out = isinstance(result.error, SignedOutError)

    if rows is None:
        rows = cache.load_rows()
        if not rows:
            _note("Nothing to show: Leaf could not be read and the offline cache is empty."
                  if not args.offline else "Nothing to show: the offline cache is empty.")
            return _Outcome(EXIT_SIGNED_OUT if signed_out else EXIT_NOTHING_READ,
                            account_works=False)
        _note(_cache_age(cache))

    _print(format_users(rows, args.format, **_next_step_column(args)))
    if signed_out:
        return _Outcome(EXIT_SIGNED_OUT, account_works=True)
    if failed or any(needs_attention(row.state) for row in rows):
        return _Outcome(EXIT_NEEDS_ATTENTION, account_works=True)
    return _Outcome(EXIT_ALL_CONNECTED, account_works=True)


def _next_step_column(args: argparse.Namespace) -> dict[str, object]:
    if args.wide:
        return {"next_step": "full"}
    if sys.stdout.isatty():
        return {"next_step": "fit", "width": shutil.get_terminal_size().columns}
    return {"next_step": "none"}


async def _refresh(account: AccountChoice, password: Secret, cache: Cache, concurrency: int):
    client = LeafClient(account.base_url, account.username, password,
                        max_connections=concurrency + 2)
    progress = _Progress(sys.stderr)
    try:
        return await SyncService(client, cache, concurrency).refresh_all(progress)
    finally:
        progress.clear()
        await client.aclose()


def _cache_age(cache: Cache) -> str:
    # A refresh that stopped early still wrote what it read, but only a complete one covers the
    # whole table. Each row also shows when it was last checked.
    last = cache.last_sync(complete_only=True)
    if last is None:
        return "Showing the offline cache; no refresh has finished yet."
    when = last.finished_at.astimezone().strftime("%Y-%m-%d %H:%M %Z").strip()
    return f"Showing the offline cache as of the last complete refresh at {when}."


class _Progress:
    """Refresh progress on one rewritten line of a terminal; silent when stderr is not one."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self.enabled = stream.isatty()
        self.shown = False
        self.last = 0.0

    def __call__(self, done: int, total: int, failed: int) -> None:
        if not self.enabled:
            return
        now = time.monotonic()
        # A redraw per user would flood a slow terminal; ten a second reads as smooth.
        if now - self.last < 0.1 and done < total:
            return
        self.last = now
        failures = f", {failed} failed" if failed else ""
        self.stream.write(f"\rRefreshing from Leaf: {done}/{total} users{failures}\x1b[K")
        self.stream.flush()
        self.shown = True

    def clear(self) -> None:
        if self.shown:
            self.stream.write("\r\x1b[K")
            self.stream.flush()


# -- events ----------------------------------------------------------------------------------

async def _events(
    args: argparse.Namespace, account: AccountChoice, cache: Cache, sign_in: _SignIn
) -> _Outcome:
    events: list[CredentialEvent] | None = None
    user: LeafUser | None = None
    signed_out = False

    if not args.offline and sign_in.password is None:
        _note(sign_in.note or "")
        signed_out = sign_in.signed_out
    elif not args.offline:
        client = LeafClient(account.base_url, account.username, sign_in.password)
        try:
            user = await find_user_online(client, args.user, cache)
            # Refreshing the user's row too lets a later offline run find them by name.
            await SyncService(client, cache).refresh_users([user.id])
            fetched = await client.list_panorama_events(user.id)
            cache.save_events(user.id, fetched)
            # The cache merges these with events archived earlier, past Leaf's 30 days.
            events = cache.load_events(user.id)
        except UserNotFound as missing:
            print(f"leafdesk events: {missing}", file=sys.stderr)
            return _Outcome(EXIT_NOTHING_READ, account_works=True)
        except LeafError as error:
            _note(f"{error.sentence()} Reading the offline cache instead.")
            signed_out = isinstance(error, SignedOutError)
            user = None
        finally:
            await client.aclose()

    if events is None:
        try:
            user = find_user_cached(cache, args.user)
        except UserNotFound as missing:
            print(f"leafdesk events: {missing}", file=sys.stderr)
            return _Outcome(EXIT_SIGNED_OUT if signed_out else EXIT_NOTHING_READ,
                            account_works=False)
        events = cache.load_events(user.id)
        _note(f"Showing the events archived in the offline cache for {user.name or user.id}.")

    if args.format == "table":
        email = f" <{user.email}>" if user.email else ""
        _print(f"Panorama credential events of {user.name or user.id}{email}, newest first:\n")
        if not events and user.panorama is None:
            _print("Leaf holds no Panorama credential for this user, so there are no events.")
        else:
            _print(format_events(events, args.format))
    else:
        _print(format_events(events, args.format))
    return _Outcome(EXIT_SIGNED_OUT if signed_out else EXIT_ALL_CONNECTED, account_works=True)


def _print(text: str) -> None:
    try:
        print(text, flush=True)
    except BrokenPipeError:
        # The reader (such as `head`) left early; the exit status still reports the states.
        # Pointing stdout at devnull keeps Python's final flush from raising again at exit.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())


def _note(text: str) -> None:
    print(text, file=sys.stderr)
