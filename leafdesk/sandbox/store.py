"""The sandbox's data: Leaf users, their Panorama credentials and events, app keys and shares.

Users are kept in a dict plus sorted indexes (by id, by name, by created date). A list page is a
slice of an index, never a sort of everything, so it costs the same at 50,000 users as at 250. Exact-match filters (email, external id) have their own hash indexes.
"""

from __future__ import annotations

import bisect
import hashlib
import hmac
import random
import secrets
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

EVENT_RETENTION_SECONDS = 30 * 24 * 3600

# Sort properties with a kept index; any other known property is sorted on request.
INDEXED_SORTS = ("id", "name", "createdDate")
USER_SORTS = ("id", "name", "email", "externalId", "createdDate")


class Event:
    """One logged exchange with Panorama; `headers` and `body` are JSON strings, as Leaf sends them."""

    __slots__ = ("id", "created", "date_form", "status_code", "headers", "body")

    def __init__(self, id: str, created: float, date_form: int, status_code: int,
                 headers: str, body: str) -> None:
        self.id = id
        self.created = created
        self.date_form = date_form
        self.status_code = status_code
        self.headers = headers
        self.body = body


class Credential:
    """A Leaf user's Panorama credential with its chronological event log.

    The tokens are sandbox-made values held only in memory (the state file never stores them).
    """

    __slots__ = ("id", "status", "created", "date_form", "client_id", "username",
                 "organization_code", "environment", "access_token", "refresh_token", "events")

    def __init__(self, id: str, status: str, created: float, date_form: int, client_id: str,
                 username: str, organization_code: str, environment: str,
                 access_token: str = "", refresh_token: str = "") -> None:
        self.id = id
        self.status = status
        self.created = created
        self.date_form = date_form
        self.client_id = client_id
        self.username = username
        self.organization_code = organization_code
        self.environment = environment
        self.access_token = access_token or new_token("sbx-access")
        self.refresh_token = refresh_token or new_token("sbx-refresh")
        self.events: list[Event] = []

    def add_event(self, event: Event) -> None:
        """Insert an event in time order, appending in the usual case of a newer event."""
        if not self.events or self.events[-1].created <= event.created:
            self.events.append(event)
        else:
            bisect.insort(self.events, event, key=lambda item: item.created)

    def purge_events(self, now: float) -> int:
        """Drop events older than the retention window and return how many were dropped."""
        cutoff = now - EVENT_RETENTION_SECONDS
        keep_from = bisect.bisect_left(self.events, cutoff, key=lambda item: item.created)
        if keep_from:
            del self.events[:keep_from]
        return keep_from


class User:
    """A Leaf user; `organization_code` is the grower's Panorama organization a share attaches."""

    __slots__ = ("id", "name", "email", "phone", "address", "external_id", "created",
                 "organization_code", "credential")

    def __init__(self, id: str, name: str, email: str, phone: str, address: str,
                 external_id: str | None, created: float, organization_code: str) -> None:
        self.id = id
        self.name = name
        self.email = email
        self.phone = phone
        self.address = address
        self.external_id = external_id
        self.created = created
        self.organization_code = organization_code
        self.credential: Credential | None = None


@dataclass(slots=True)
class AppKey:
    """A Panorama partner application's settings at the API-owner level."""

    app_name: str
    environment: str
    client_id: str
    username: str
    password_hash: str
    sharing_url_id: str
    created: float


@dataclass(slots=True)
class Share:
    """A one-click share waiting on the grower's approval page, or its outcome."""

    id: str
    user_id: str
    client_id: str
    username: str
    environment: str
    created: float
    expires: float
    outcome: str | None = None  # "approved", "declined" or None while unanswered
    answered: float | None = None


def new_token(prefix: str) -> str:
    return f"{prefix}-{secrets.token_urlsafe(24)}"


def hash_password(password: str, salt: str | None = None) -> str:
    """Return `salt$digest`, the only form in which the sandbox keeps partner passwords."""
    salt = salt or secrets.token_hex(8)
    digest = hashlib.sha256(f"{salt}:{password}".encode()).hexdigest()
    return f"{salt}${digest}"


def password_matches(password: str, stored: str) -> bool:
    salt, _, _ = stored.partition("$")
    return hmac.compare_digest(hash_password(password, salt).encode(), stored.encode())


class IndexedSet:
    """A set of strings with O(1) add, remove and uniform random choice."""

    def __init__(self) -> None:
        self._items: list[str] = []
        self._positions: dict[str, int] = {}

    def add(self, item: str) -> None:
        if item not in self._positions:
            self._positions[item] = len(self._items)
            self._items.append(item)

    def discard(self, item: str) -> None:
        position = self._positions.pop(item, None)
        if position is None:
            return
        last = self._items.pop()
        if position < len(self._items):
            self._items[position] = last
            self._positions[last] = position

    def choice(self, rng: random.Random) -> str:
        return self._items[rng.randrange(len(self._items))]

    def clear(self) -> None:
        self._items.clear()
        self._positions.clear()

    def __len__(self) -> int:
        return len(self._items)

    def __iter__(self) -> Iterator[str]:
        return iter(list(self._items))


def _sort_value(user: User, prop: str) -> object:
    if prop == "name":
        return user.name.casefold()
    if prop == "email":
        return user.email.casefold()
    if prop == "externalId":
        return user.external_id or ""
    if prop == "createdDate":
        return user.created
    return user.id


@dataclass(slots=True)
class UserPage:
    total: int
    users: list[User] = field(default_factory=list)


class Store:
    """All sandbox data in memory, with the indexes that keep list pages cheap."""

    def __init__(self) -> None:
        self.users: dict[str, User] = {}
        self._by_id: list[str] = []
        self._by_name: list[tuple[str, str]] = []
        self._by_created: list[tuple[float, str]] = []
        self._by_email: dict[str, set[str]] = {}
        self._by_external_id: dict[str, set[str]] = {}
        self.connected = IndexedSet()  # ids of users that have a Panorama credential
        self.app_keys: dict[tuple[str, str], AppKey] = {}
        # Panorama's own partner accounts, keyed by (client id, environment): username, hash.
        self.partner_accounts: dict[tuple[str, str], tuple[str, str]] = {}
        self.shares: dict[str, Share] = {}

    # Users.

    def add_user(self, user: User) -> None:
        self.users[user.id] = user
        bisect.insort(self._by_id, user.id)
        bisect.insort(self._by_name, (user.name.casefold(), user.id))
        bisect.insort(self._by_created, (user.created, user.id))
        self._by_email.setdefault(user.email.casefold(), set()).add(user.id)
        if user.external_id:
            self._by_external_id.setdefault(user.external_id, set()).add(user.id)
        if user.credential is not None:
            self.connected.add(user.id)

    def load_users(self, users: Iterable[User]) -> None:
        """Add many users at once, building each index with one sort."""
        for user in users:
            self.users[user.id] = user
            self._by_email.setdefault(user.email.casefold(), set()).add(user.id)
            if user.external_id:
                self._by_external_id.setdefault(user.external_id, set()).add(user.id)
            if user.credential is not None:
                self.connected.add(user.id)
        self._by_id = sorted(self.users)
        self._by_name = sorted((user.name.casefold(), user.id) for user in self.users.values())
        self._by_created = sorted((user.created, user.id) for user in self.users.values())

    def remove_user(self, user_id: str) -> User:
        user = self.users.pop(user_id)
        _remove_sorted(self._by_id, user.id)
        _remove_sorted(self._by_name, (user.name.casefold(), user.id))
        _remove_sorted(self._by_created, (user.created, user.id))
        _discard_indexed(self._by_email, user.email.casefold(), user.id)
        if user.external_id:
            _discard_indexed(self._by_external_id, user.external_id, user.id)
        self.connected.discard(user.id)
        for share in self.shares.values():
            if share.user_id == user_id and share.outcome is None:
                share.outcome = "user deleted"
        return user

    def replace_user_fields(self, user: User, name: str, email: str, phone: str, address: str,
                            external_id: str | None) -> None:
        """Change a user's fields and keep every index in step."""
        _remove_sorted(self._by_name, (user.name.casefold(), user.id))
        _discard_indexed(self._by_email, user.email.casefold(), user.id)
        if user.external_id:
            _discard_indexed(self._by_external_id, user.external_id, user.id)
        user.name, user.email, user.phone, user.address = name, email, phone, address
        user.external_id = external_id
        bisect.insort(self._by_name, (user.name.casefold(), user.id))
        self._by_email.setdefault(user.email.casefold(), set()).add(user.id)
        if user.external_id:
            self._by_external_id.setdefault(user.external_id, set()).add(user.id)

    def page_users(self, sorts: list[tuple[str, bool]], page: int, size: int, *,
                   name: str | None = None, email: str | None = None,
                   external_id: str | None = None) -> UserPage:
        """Return one page of users; `sorts` is [(property, descending)], first one leading."""
        sorts = sorts or [("createdDate", False)]
        filtered = name is not None or email is not None or external_id is not None
        if not filtered and len(sorts) == 1 and sorts[0][0] in INDEXED_SORTS:
            return self._page_from_index(sorts[0][0], sorts[0][1], page, size)

        candidates = self._filter(name, email, external_id)
        # Sort by the keys from last to first so that the first key leads (sorts are stable).
        ordered = sorted(candidates, key=lambda user: user.id)
        for prop, descending in reversed(sorts):
            ordered.sort(key=lambda user, p=prop: _sort_value(user, p), reverse=descending)
        start = page * size
        return UserPage(len(ordered), ordered[start:start + size])

    def _page_from_index(self, prop: str, descending: bool, page: int, size: int) -> UserPage:
        if prop == "id":
            ids = slice_page(self._by_id, descending, page, size)
        else:
            index = self._by_name if prop == "name" else self._by_created
            ids = [entry[1] for entry in slice_page(index, descending, page, size)]
        return UserPage(len(self._by_id), [self.users[user_id] for user_id in ids])

    def _filter(self, name: str | None, email: str | None,
                external_id: str | None) -> list[User]:
        if email is not None:
            pool = [self.users[i] for i in self._by_email.get(email.casefold(), ())]
        elif external_id is not None:
            pool = [self.users[i] for i in self._by_external_id.get(external_id, ())]
        else:
            # A name filter matches anywhere in the name, so it has to scan every user.
            pool = list(self.users.values())
        needle = name.casefold() if name is not None else None
        return [
            user for user in pool
            if (needle is None or needle in user.name.casefold())
            and (email is None or user.email.casefold() == email.casefold())
            and (external_id is None or user.external_id == external_id)
        ]

    # Credentials.

    def attach(self, user: User, credential: Credential) -> None:
        user.credential = credential
        self.connected.add(user.id)

    def detach(self, user: User) -> None:
        """Delete the user's credential; its events go with it."""
        user.credential = None
        self.connected.discard(user.id)

    # Panorama partner accounts and app keys.

    def add_partner_account(self, client_id: str, environment: str, username: str,
                            password_hash: str) -> None:
        self.partner_accounts[(client_id, environment)] = (username, password_hash)

    def partner_login_valid(self, client_id: str, environment: str, username: str,
                            password: str) -> bool:
        account = self.partner_accounts.get((client_id, environment))
        if account is None:
            return False
        known_username, stored_hash = account
        return (known_username.casefold() == username.casefold()
                and password_matches(password, stored_hash))

    def app_key_for_client(self, client_id: str, environment: str) -> AppKey | None:
        for key in self.app_keys.values():
            if key.client_id == client_id and key.environment == environment:
                return key
        return None

    # Shares.

    def newest_pending_share(self, user_id: str, now: float) -> Share | None:
        pending = [share for share in self.shares.values()
                   if share.user_id == user_id and share.outcome is None and share.expires > now]
        return max(pending, key=lambda share: share.created, default=None)

    def pending_shares(self, now: float) -> list[Share]:
        return sorted((share for share in self.shares.values()
                       if share.outcome is None and share.expires > now),
                      key=lambda share: share.created)

    def forget_old_shares(self, now: float) -> None:
        """Drop shares decided or expired more than a day ago, so the dict stays small."""
        horizon = now - 24 * 3600
        for share_id in [s.id for s in self.shares.values()
                         if (s.answered or s.expires) < horizon]:
            del self.shares[share_id]


def slice_page(ordered: list, descending: bool, page: int, size: int) -> list:
    """Cut one page out of a sorted list, read from the end when descending."""
    if not descending:
        start = page * size
        return ordered[start:start + size]
    end = len(ordered) - page * size
    if end <= 0:
        return []
    chunk = ordered[max(0, end - size):end]
    chunk.reverse()
    return chunk


def _remove_sorted(index: list, item: object) -> None:
    position = bisect.bisect_left(index, item)
    if position < len(index) and index[position] == item:
        del index[position]


def _discard_indexed(index: dict[str, set[str]], key: str, user_id: str) -> None:
    ids = index.get(key)
    if ids is not None:
        ids.discard(user_id)
        if not ids:
            del index[key]
