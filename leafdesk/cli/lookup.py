"""Finding the one Leaf user `leafdesk events USER` means, by id, e-mail or part of the name.

Online, Leaf filters the users; offline, the cache does. When no user or several users match,
`UserNotFound` carries a message that lists the matches one per line, or suggests close names.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable

from leafdesk.cli.output import format_user_choices
from leafdesk.core.cache import Cache
from leafdesk.core.client import LeafClient
from leafdesk.core.errors import NotFoundError
from leafdesk.core.model import LeafUser

# The maximum number of matching users listed when a name is ambiguous.
MAX_LISTED = 20

_UUID = re.compile(r"[0-9a-fA-F]{8}(-[0-9a-fA-F]{4}){3}-[0-9a-fA-F]{12}")


class UserNotFound(Exception):
    """No single Leaf user matches the query; the message lists the matches or close names."""


async def find_user_online(client: LeafClient, query: str, cache: Cache) -> LeafUser:
    """Return the one Leaf user the query names, asking Leaf; raise `UserNotFound` otherwise.

    Close names for a query without matches come from the cache, or from Leaf's full user list
    when the cache has no users yet.
    """
    text = query.strip()
    if _UUID.fullmatch(text):
        try:
            return await client.get_user(text)
        except NotFoundError:
            pass
    if "@" in text:
        candidates = await client.list_users(email=text)
    else:
        candidates = await client.list_users(name=text)
    if candidates:
        return pick_user(candidates, text)

    known = [row.user for row in cache.load_rows()]
    if not known:
        known = await client.list_users()
    raise UserNotFound(_no_match_message(text, known))


def find_user_cached(cache: Cache, query: str) -> LeafUser:
    """Return the one cached Leaf user the query names; raise `UserNotFound` otherwise."""
    text = query.strip()
    row = cache.load_row(text)
    if row is not None:
        return row.user
    users = [row.user for row in cache.load_rows()]
    if "@" in text:
        matches = [user for user in users if (user.email or "").casefold() == text.casefold()]
    else:
        matches = [user for user in users if text.casefold() in user.name.casefold()]
    if not matches:
        raise UserNotFound(_no_match_message(text, users))
    return pick_user(matches, text)


def pick_user(candidates: list[LeafUser], query: str) -> LeafUser:
    """Return the only candidate, or the one whose name or e-mail equals the query.

    A name search matches anywhere in the name, so an exact name wins over longer ones. Raises
    `UserNotFound` listing the candidates when several remain, or when there are none.
    """
    folded_query = query.casefold()
    exact = [user for user in candidates
             if folded_query in (user.name.casefold(), (user.email or "").casefold())]
    matches = exact or candidates
    if len(matches) == 1:
        return matches[0]
    if not matches:
        raise UserNotFound(_no_match_message(query, []))

    listed = format_user_choices(matches[:MAX_LISTED])
    more = ""
    if len(matches) > MAX_LISTED:
        more = f"\n... and {len(matches) - MAX_LISTED} more; give more of the name."
    message = (f"{len(matches)} Leaf users match {query!r}. Give the id or the e-mail "
               f"of one of them:\n{listed}{more}")
    raise UserNotFound(message)


def close_names(query: str, users: Iterable[LeafUser], limit: int = 3) -> list[str]:
    """Return up to `limit` users' names or e-mails that look like the query, best first."""
    spellings: dict[str, str] = {}
    for user in users:
        for value in (user.name, user.email):
            if value:
                spellings.setdefault(value.casefold(), value)
    found = difflib.get_close_matches(query.casefold(), list(spellings), n=limit, cutoff=0.6)
    return [spellings[key] for key in found]


def _no_match_message(query: str, users: Iterable[LeafUser]) -> str:
    message = f"No Leaf user has the id, name or e-mail {query!r}."
    suggestions = close_names(query, users)
    if not suggestions:
        return message
    if len(suggestions) == 1:
        listed = suggestions[0]
    else:
        listed = ", ".join(suggestions[:-1]) + " or " + suggestions[-1]
    return f"{message} Did you mean {listed}?"
