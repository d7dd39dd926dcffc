"""The `leafdesk status` and `leafdesk events` commands: argument parsing, refresh, cache fallback.

Both commands read Leaf when they can and the offline cache when they cannot (or with
`--offline`). Results go to stdout; notes about where the data came from, errors and progress go
to stderr, and progress only when stderr is a terminal.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import re
import sys
import time
from collections.abc import Sequence
from typing import TextIO

from leafdesk.cli.account import AccountChoice, AccountError, choose_account, find_password
from leafdesk.cli.output import FORMATS, format_events, format_users
from leafdesk.core.cache import Cache
from leafdesk.core.client import LeafClient
from leafdesk.core.errors import LeafError, NotFoundError
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

_UUID = re.compile(r"[0-9a-fA-F]{8}(-[0-9a-fA-F]{4}){3}-[0-9a-fA-F]{12}")


def run(argv: Sequence[str]) -> int:
    """Run one terminal command; `argv` starts with the subcommand (`status` or `events`).

    Returns 0 when every user is connected (or the events were printed), 1 when some user needs
    attention, and 2 when nothing could be read.
    """
    parser = _parser()
    try:
        args = parser.parse_args(list(argv))
    except SystemExit as exit_request:
        # argparse exits 2 on bad usage and 0 for --help, as command-line tools do.
        return int(exit_request.code or 0)

    configure_logging()
    settings = SettingsStore().load()
    try:
        account = choose_account(settings, account=args.account, base_url=args.base_url,
                                 username=args.username)
    except AccountError as error:
        print(f"leafdesk {args.command}: {error}", file=sys.stderr)
        return EXIT_NOTHING_READ

    concurrency = getattr(args, "concurrency", None) or settings.concurrency
    cache = Cache(cache_path(account.name, account.base_url))
    try:
        if cache.recovered_from is not None:
            _note(f"The offline cache was damaged; it was moved to {cache.recovered_from.name} "
                  "and started afresh.")
        if args.command == "status":
            return asyncio.run(_status(args, account, cache, concurrency))
        return asyncio.run(_events(args, account, cache))
    except KeyboardInterrupt:
        _note("Interrupted; what was read before is kept in the offline cache.")
        return 130
    finally:
        cache.close()


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
        "reached and read from the offline cache when it cannot. Exit status: 0 when all users "
        "are connected, 1 when some need attention, 2 when nothing could be read.",
    )
    _common_options(status)
    status.add_argument("--concurrency", type=_positive_int, default=None, metavar="N",
                        help="requests sent to Leaf at once (default: the settings value, 8)")

    events = commands.add_parser(
        "events",
        help="print one Leaf user's Panorama credential events, decoded",
        description="Print one Leaf user's Panorama credential events, newest first, with what "
        "each means. Events LeafDesk archived earlier (Leaf keeps only 30 days) are included.",
    )
    events.add_argument("user", metavar="USER", help="the Leaf user's id, name or e-mail")
    _common_options(events)
    return parser


def _common_options(command: argparse.ArgumentParser) -> None:
    command.add_argument("--account", metavar="NAME", help="a Leaf account saved in the settings")
    command.add_argument("--base-url", metavar="URL",
                         help="the Leaf server address, with --username (password from "
                         "LEAFDESK_PASSWORD or a prompt)")
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


# -- status ----------------------------------------------------------------------------------

async def _status(
    args: argparse.Namespace, account: AccountChoice, cache: Cache, concurrency: int
) -> int:
    rows: list[UserRow] | None = None
    failed = 0

    if not args.offline:
        password = find_password(account)
        if password is None:
            _note(f"No password for {account.username}: set LEAFDESK_PASSWORD or save the "
                  "account in LeafDesk. Reading the offline cache instead.")
        else:
            result = await _refresh(account, password, cache, concurrency)
            if result.error is None:
                rows, failed = result.rows, result.failed
                if failed:
                    _note(f"{failed} of {result.total} users could not be refreshed; their "
                          "rows come from the offline cache. See the log for details.")
            else:
                _note(f"{result.error.sentence()} Reading the offline cache instead.")

    if rows is None:
        rows = cache.load_rows()
        if not rows:
            _note("Nothing to show: Leaf could not be read and the offline cache is empty."
                  if not args.offline else "Nothing to show: the offline cache is empty.")
            return EXIT_NOTHING_READ
        _note(_cache_age(cache))

    _print(format_users(rows, args.format))
    if failed or any(needs_attention(row.state) for row in rows):
        return EXIT_NEEDS_ATTENTION
    return EXIT_ALL_CONNECTED


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

async def _events(args: argparse.Namespace, account: AccountChoice, cache: Cache) -> int:
    events: list[CredentialEvent] | None = None
    user: LeafUser | None = None

    if not args.offline:
        password = find_password(account)
        if password is None:
            _note(f"No password for {account.username}: set LEAFDESK_PASSWORD or save the "
                  "account in LeafDesk. Reading the offline cache instead.")
        else:
            client = LeafClient(account.base_url, account.username, password)
            try:
                user = await _find_user_online(client, args.user)
                # Refreshing the user's row too lets a later offline run find them by name.
                await SyncService(client, cache).refresh_users([user.id])
                fetched = await client.list_panorama_events(user.id)
                cache.save_events(user.id, fetched)
                # The cache merges these with events archived earlier, past Leaf's 30 days.
                events = cache.load_events(user.id)
            except _UserNotFound as missing:
                print(f"leafdesk events: {missing}", file=sys.stderr)
                return EXIT_NOTHING_READ
            except LeafError as error:
                _note(f"{error.sentence()} Reading the offline cache instead.")
                user = None
            finally:
                await client.aclose()

    if events is None:
        try:
            user = _find_user_cached(cache, args.user)
        except _UserNotFound as missing:
            print(f"leafdesk events: {missing}", file=sys.stderr)
            return EXIT_NOTHING_READ
        events = cache.load_events(user.id)
        _note(f"Showing the events archived in the offline cache for {user.name or user.id}.")

    if args.format == "table":
        email = f" <{user.email}>" if user.email else ""
        _print(f"Panorama credential events of {user.name or user.id}{email}, newest first:\n")
    _print(format_events(events, args.format))
    return EXIT_ALL_CONNECTED


class _UserNotFound(Exception):
    """No single Leaf user matches what was typed; the message lists the close matches."""


async def _find_user_online(client: LeafClient, query: str) -> LeafUser:
    text = query.strip()
    if _UUID.fullmatch(text):
        try:
            return await client.get_user(text)
        except NotFoundError:
            pass
    if "@" in text:
        return _pick(await client.list_users(email=text), text)
    return _pick(await client.list_users(name=text), text)


def _find_user_cached(cache: Cache, query: str) -> LeafUser:
    text = query.strip()
    row = cache.load_row(text)
    if row is not None:
        return row.user
    users = [row.user for row in cache.load_rows()]
    if "@" in text:
        matches = [user for user in users if (user.email or "").casefold() == text.casefold()]
    else:
        matches = [user for user in users if text.casefold() in user.name.casefold()]
    return _pick(matches, text)


def _pick(candidates: list[LeafUser], query: str) -> LeafUser:
    # A name search matches anywhere in the name; an exact name wins over longer ones.
    exact = [user for user in candidates
             if query.casefold() in (user.name.casefold(), (user.email or "").casefold())]
    matches = exact or candidates
    if len(matches) == 1:
        return matches[0]
    if not matches:
        raise _UserNotFound(f"No Leaf user has the id, name or e-mail {query!r}.")
    shown = "; ".join(f"{user.name} <{user.email or 'no e-mail'}> ({user.id})"
                      for user in matches[:10])
    more = f" and {len(matches) - 10} more" if len(matches) > 10 else ""
    raise _UserNotFound(f"{len(matches)} Leaf users match {query!r}: {shown}{more}. "
                        "Give the id or the e-mail.")


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
