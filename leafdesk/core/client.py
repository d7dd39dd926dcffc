"""LeafClient: every Leaf API route LeafDesk uses, with sign-in handled and typed results.

Responses are parsed tolerantly, because the real Leaf service may differ from its documentation.
Unknown status strings are kept, optional fields may be missing, dates come in three forms, and
event headers and bodies are decoded only when they contain JSON. Every failure is a `LeafError`.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
import logging
import ssl
import time
from collections.abc import AsyncIterator, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any, Self
from urllib.parse import quote

from leafdesk.core.dates import parse_optional_datetime
from leafdesk.core.errors import (
    ConflictError,
    LeafError,
    MalformedResponseError,
    NotFoundError,
    OutcomeUnknownError,
    SignedOutError,
)
from leafdesk.core.http import (
    HttpSession,
    RateLimitHook,
    Reply,
    RetryPolicy,
    Timeouts,
    error_for_reply,
    excerpt,
    redact,
    redact_text,
)
from leafdesk.core.model import (
    AppKey,
    CredentialEvent,
    CredentialSummary,
    LeafUser,
    ManualCredentialInput,
    OneClickInput,
    OneClickStart,
    PanoramaCredential,
    Secret,
)

logger = logging.getLogger(__name__)

AUTHENTICATE_PATH = "/api/authenticate"
API = "/services/usermanagement/api"

# Leaf's largest page size.
PAGE_SIZE = 100

# A server that ignores `page` would otherwise be read forever.
MAX_PAGES = 10_000

# How long before the token's `exp` LeafDesk signs in again.
DEFAULT_REFRESH_MARGIN = timedelta(minutes=5)


class UserPage(list):
    """One page of Leaf users, with the total Leaf reported in `X-Total-Count` when it did."""

    def __init__(self, users: list[LeafUser], *, page: int, total: int | None) -> None:
        super().__init__(users)
        self.page = page
        self.total = total


class LeafClient:
    """An async client for the Leaf routes LeafDesk uses, signed in as one Leaf API owner.

    The password and the token live only in this object's memory and never appear in its
    `repr`, in logs or in errors. The client signs in on first use, again shortly before the
    token's `exp`, and once more when Leaf returns 401.

    Parameters:
    - `base_url`: the Leaf server root, such as `https://api.withleaf.io` or a sandbox.
    - `username`, `password`: the Leaf API owner's login; `password` may be a `Secret`.
    - `remember_me`: request a 30-day token instead of a 24-hour one.
    - `transport`: an httpx transport in place of the network (tests pass
      `httpx.ASGITransport`). TLS settings, pool limits and environment proxies then do not apply.
    - `max_connections`: the maximum number of connections open to Leaf at once. Further
      requests wait up to the pool timeout for one to come free.
    - `timeout`: a `Timeouts`, or one number of seconds for connect, read, write and pool.
    - `retry`: the `RetryPolicy` for attempts, backoff and total time.
    - `on_rate_limited`: called with `Retry-After` seconds (or None) on every 429.
    - `refresh_margin`: how long before the token's `exp` to sign in again.
    - `ssl_context`: replaces the OS certificate store (truststore) for TLS, such as for a
      private certificate authority.
    """

    def __init__(
        self,
        base_url: str,
        username: str,
        password: str | Secret,
        *,
        remember_me: bool = False,
        transport: Any | None = None,
        max_connections: int = 10,
        timeout: Timeouts | float | None = None,
        retry: RetryPolicy | None = None,
        on_rate_limited: RateLimitHook | None = None,
        refresh_margin: timedelta = DEFAULT_REFRESH_MARGIN,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        self._http = HttpSession(
            base_url,
            transport=transport,
            max_connections=max_connections,
            timeout=timeout,
            retry=retry,
            on_rate_limited=on_rate_limited,
            ssl_context=ssl_context,
        )
        self.username = username
        self._password = password if isinstance(password, Secret) else Secret(password)
        self.remember_me = remember_me
        self.refresh_margin = refresh_margin
        self._token: Secret | None = None
        self.token_expires_at: datetime | None = None
        self._sign_in_lock = asyncio.Lock()
        self.sign_in_count = 0

    def __repr__(self) -> str:
        return (
            f"LeafClient(base_url={self.base_url!r}, username={self.username!r}, "
            f"signed_in={self._token is not None})"
        )

    @property
    def base_url(self) -> str:
        """The Leaf server root, without a trailing slash."""
        return self._http.base_url

    @property
    def requests_sent(self) -> int:
        """HTTP requests sent so far, retries and sign-ins included."""
        return self._http.requests_sent

    @property
    def retry_count(self) -> int:
        """Requests sent again after a failure or a retryable status, so far."""
        return self._http.retry_count

    @property
    def rate_limited_count(self) -> int:
        """429 responses received so far."""
        return self._http.rate_limited_count

    @property
    def on_rate_limited(self) -> RateLimitHook | None:
        """The settable hook called with the `Retry-After` seconds (or None) for every 429."""
        return self._http.on_rate_limited

    @on_rate_limited.setter
    def on_rate_limited(self, hook: RateLimitHook | None) -> None:
        self._http.on_rate_limited = hook

    @property
    def signed_in(self) -> bool:
        """Whether the client has a token, which may still have lapsed on Leaf's side."""
        return self._token is not None

    async def aclose(self) -> None:
        """Close the connection pool and forget the token."""
        self._token = None
        await self._http.aclose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    # --- signing in -------------------------------------------------------------------------

    async def sign_in(self) -> None:
        """Sign in to Leaf with the username and password and keep the token in memory.

        When a 200 response carries no readable token, the request is sent again within the
        retry policy, as after a dropped connection. Raises `SignedOutError` when Leaf does not
        accept the username or password, and `MalformedResponseError` when every response was
        damaged.
        """
        action = "sign in to Leaf"
        retry = self._http.retry
        started = time.monotonic()
        attempt = 0
        while True:
            attempt += 1
            reply = await self._send_sign_in(action)
            token = _token_from_sign_in(reply)
            if token is not None:
                break
            # Signing in changes nothing at Leaf, so a truncated or garbled body is as safe to
            # ask for again as a GET is.
            delay = retry.next_delay(attempt, started)
            if delay is None:
                raise MalformedResponseError(
                    "Leaf's response to the sign-in was damaged (it contained no token); "
                    "try again",
                    action=action, status_code=reply.status_code,
                    details=f"{reply.describe()} on each of {attempt} tries",
                )
            logger.info("Leaf's sign-in response contained no token; signing in again "
                        "(try %d of %d) in %.2f s", attempt + 1, retry.max_attempts, delay)
            await asyncio.sleep(delay)

        self._token = Secret(token)
        self.token_expires_at = jwt_expiry(token)
        self.sign_in_count += 1
        logger.info("Signed in to %s as %s", self.base_url, self.username)

    async def _send_sign_in(self, action: str) -> Reply:
        """Send one sign-in request and return its 200 response; raise on any other status."""
        try:
            reply = await self._http.send(
                "POST",
                AUTHENTICATE_PATH,
                json_body={
                    "username": self.username,
                    "password": str(self._password),
                    # Leaf accepts a boolean or "true"/"false"; LeafDesk sends a boolean.
                    "rememberMe": bool(self.remember_me),
                },
                # Signing in changes nothing at Leaf, so it is as safe to repeat as a GET.
                repeatable=True,
            )
        except LeafError as error:
            raise error.about(action=action)
        if reply.status_code == 401:
            raise SignedOutError(
                "the username or password was not accepted",
                action=action,
                status_code=401,
                details=f"{reply.describe()} for username {self.username!r}",
            )
        if reply.status_code != 200:
            raise error_for_reply(reply, action=action)
        return reply

    async def _current_token(self) -> Secret:
        if self._token is not None and not self._token_expiring():
            return self._token
        async with self._sign_in_lock:
            if self._token is None or self._token_expiring():
                await self.sign_in()
            assert self._token is not None
            return self._token

    def _token_expiring(self) -> bool:
        if self.token_expires_at is None:
            return False
        return datetime.now(UTC) >= self.token_expires_at - self.refresh_margin

    async def _sign_in_again(self, rejected: Secret) -> None:
        async with self._sign_in_lock:
            # Another request may have signed in again while this one waited for the lock.
            if self._token is not None and self._token != rejected:
                return
            logger.info("Leaf rejected the token; signing in again")
            await self.sign_in()

    async def _call(
        self,
        method: str,
        path: str,
        *,
        action: str,
        leaf_user: str | None = None,
        params: Mapping[str, Any] | list[tuple[str, Any]] | None = None,
        json_body: Any = None,
        repeatable: bool | None = None,
    ) -> Reply:
        """Send one signed-in request; sign in again once on a 401.

        Returns the response whatever its status other than 401. Transport failures come back as
        LeafErrors naming the action and the Leaf user.
        """
        if repeatable is None:
            repeatable = method == "GET"

        async def send(token: Secret) -> Reply:
            try:
                return await self._http.send(
                    method, path, params=params, json_body=json_body,
                    headers=_bearer(token), repeatable=repeatable,
                )
            except LeafError as error:
                raise error.about(leaf_user=leaf_user, action=action)

        try:
            token = await self._current_token()
        except LeafError as error:
            raise _signing_in_for(error, action=action, leaf_user=leaf_user)
        reply = await send(token)
        if reply.status_code != 401:
            return reply

        # Leaf returns 401 before acting, so the request can be sent again once.
        try:
            await self._sign_in_again(token)
            token = await self._current_token()
        except LeafError as error:
            raise _signing_in_for(error, action=action, leaf_user=leaf_user)
        reply = await send(token)
        if reply.status_code == 401:
            raise SignedOutError(
                "Leaf rejected LeafDesk's sign-in even after signing in again",
                action=action,
                leaf_user=leaf_user,
                status_code=401,
                details=reply.describe(),
            )
        return reply

    # --- users --------------------------------------------------------------------------------

    async def iter_user_pages(
        self,
        name: str | None = None,
        email: str | None = None,
        external_id: str | None = None,
        *,
        page_size: int = PAGE_SIZE,
    ) -> AsyncIterator[UserPage]:
        """Yield every page of Leaf users matching the filters, `page_size` users at a time.

        Each page carries `total` from `X-Total-Count` when Leaf sent it. A user that moves
        between pages while they are read is yielded only once.
        """
        action = "load the Leaf users"
        filters: list[tuple[str, Any]] = []
        if name:
            filters.append(("name", name))
        if email:
            filters.append(("email", email))
        if external_id:
            filters.append(("externalId", external_id))

        # A fixed order keeps pages from overlapping while they are read. NOTE: Leaf shows
        # `createdDate` as a sort key only by example; a server that rejects it would return 400.
        seen: set[str] = set()
        async for reply, items, number in self._pages(
            f"{API}/users", filters, sort="createdDate,asc", page_size=page_size, action=action
        ):
            users = [parse_user(item, action=action) for item in items]
            fresh = [user for user in users if user.id not in seen]
            seen.update(user.id for user in fresh)
            yield UserPage(fresh, page=number, total=total_count(reply))

    async def list_users(
        self, name: str | None = None, email: str | None = None, external_id: str | None = None
    ) -> list[LeafUser]:
        """Return every Leaf user matching the filters, reading every page.

        `email` and `externalId` match exactly and `name` matches anywhere in the name (the
        sandbox's reading of Leaf's filters).
        """
        users: list[LeafUser] = []
        async for page in self.iter_user_pages(name=name, email=email, external_id=external_id):
            users.extend(page)
        return users

    async def get_user(self, user_id: str) -> LeafUser:
        """Return one Leaf user; raise `NotFoundError` when Leaf has none with this id."""
        action = "load the Leaf user"
        reply = await self._call("GET", _user_path(user_id), action=action, leaf_user=user_id)
        _expect(reply, (200,), action=action, leaf_user=user_id,
                not_found="Leaf has no user with this id")
        return parse_user(_json_object(reply, action=action, leaf_user=user_id), action=action,
                          leaf_user=user_id)

    async def create_user(
        self,
        *,
        name: str,
        email: str,
        phone: str | None = None,
        address: str | None = None,
        external_id: str | None = None,
    ) -> LeafUser:
        """Create a Leaf user and return it as Leaf stored it.

        Only `externalId` is optional to Leaf; without `phone` or `address` the sandbox rejects
        the request with 400, so they are optional here only to let Leaf name what is missing.

        When no response comes, the users with this e-mail are read back, and the newest with
        the same name is taken as the one created. NOTE: a user with the same name and e-mail
        that existed before cannot be told apart from it. The request is not sent again,
        because a late arrival of the first one would create a second user.
        """
        action = "create the Leaf user"
        body: dict[str, Any] = {"name": name, "email": email}
        if phone is not None:
            body["phone"] = phone
        if address is not None:
            body["address"] = address
        if external_id is not None:
            body["externalId"] = external_id

        try:
            reply = await self._call("POST", f"{API}/users", action=action, leaf_user=name,
                                     json_body=body)
        except OutcomeUnknownError:
            match = await self._find_created_user(name=name, email=email, external_id=external_id)
            if match is not None:
                logger.info("The user %s was created although Leaf's response was lost", match.id)
                return match
            raise

        _expect(reply, (200, 201), action=action, leaf_user=name)
        return parse_user(_json_object(reply, action=action, leaf_user=name), action=action,
                          leaf_user=name)

    async def _find_created_user(
        self, *, name: str, email: str, external_id: str | None
    ) -> LeafUser | None:
        try:
            candidates = await self.list_users(email=email)
        except LeafError:
            logger.warning("Could not read the users back after an unanswered create")
            return None
        for user in reversed(candidates):
            if user.name == name and (external_id is None or user.external_id == external_id):
                return user
        return None

    # --- Panorama credentials ---------------------------------------------------------------

    async def get_panorama_credential(self, user_id: str) -> PanoramaCredential | None:
        """Return the Leaf user's Panorama credential, or None when there is none (HTTP 404)."""
        action = "load the Panorama credential"
        reply = await self._call("GET", _credential_path(user_id), action=action,
                                 leaf_user=user_id)
        if reply.status_code == 404:
            _raise_if_user_missing(reply, action=action, leaf_user=user_id)
            return None
        _expect(reply, (200,), action=action, leaf_user=user_id)
        return parse_credential(_json_object(reply, action=action, leaf_user=user_id), user_id,
                                action=action)

    async def create_panorama_credential(
        self, user_id: str, data: ManualCredentialInput
    ) -> PanoramaCredential:
        """Attach a Panorama credential to the Leaf user from a manual entry.

        Raises `ConflictError` (`error_key="credentialExists"`) when one is already attached.
        When no response comes, the credential is read back. One with the same client id and
        organization code is taken as created. When there is none, the request is sent once
        more. That is safe only because a second create is rejected with 409, which is
        LeafDesk's reading of Leaf (the sandbox does so; Leaf does not document it).
        """
        action = "create the Panorama credential"
        body = {
            "clientId": data.client_id,
            "username": data.username,
            "password": str(data.password),
            "organizationCode": data.organization_code,
            "refreshToken": str(data.refresh_token),
            "clientEnvironment": str(data.client_environment),
        }
        path = _credential_path(user_id)

        try:
            reply = await self._call("POST", path, action=action, leaf_user=user_id,
                                     json_body=body)
        except OutcomeUnknownError as unknown:
            existing = await self._read_back_credential(user_id, unknown)
            if existing is not None:
                if _credential_matches(existing, data):
                    logger.info("The credential for %s was created although Leaf's response was "
                                "lost", user_id)
                    return existing
                raise ConflictError(ERROR_CREDENTIAL_EXISTS, error_key="credentialExists",
                                    action=action, leaf_user=user_id, status_code=None,
                                    details="read back after an unanswered create") from unknown
            logger.info("No credential for %s after an unanswered create; sending it again",
                        user_id)
            reply = await self._call("POST", path, action=action, leaf_user=user_id,
                                     json_body=body)
            if reply.status_code == 409:
                # The first request arrived after the read-back.
                existing = await self._read_back_credential(user_id, unknown)
                if existing is not None and _credential_matches(existing, data):
                    return existing

        _expect(reply, (200, 201), action=action, leaf_user=user_id)
        return parse_credential(_json_object(reply, action=action, leaf_user=user_id), user_id,
                                action=action)

    async def delete_panorama_credential(self, user_id: str) -> None:
        """Detach the Leaf user's Panorama credential; Leaf deletes its event log with it.

        Raises `NotFoundError` when the user has no credential. When no response comes, the
        credential is read back. If it is gone, the delete took effect. If it is still there,
        the delete is sent once more. That is safe because a user has one Panorama credential,
        so a late first delete only turns the second into a 404.
        """
        action = "delete the Panorama credential"
        path = _credential_path(user_id)
        try:
            reply = await self._call("DELETE", path, action=action, leaf_user=user_id)
        except OutcomeUnknownError as unknown:
            if await self._read_back_credential(user_id, unknown) is None:
                logger.info("The credential for %s was deleted although Leaf's response was lost",
                            user_id)
                return
            logger.info("The credential for %s is still there after an unanswered delete; "
                        "sending it again", user_id)
            reply = await self._call("DELETE", path, action=action, leaf_user=user_id)
            if reply.status_code == 404:
                return

        _expect(reply, (200, 202, 204), action=action, leaf_user=user_id,
                not_found="this Leaf user has no Panorama credential")

    async def _read_back_credential(
        self, user_id: str, unknown: OutcomeUnknownError
    ) -> PanoramaCredential | None:
        """Read the credential after an unanswered change; re-raise `unknown` if that fails."""
        try:
            return await self.get_panorama_credential(user_id)
        except LeafError as error:
            logger.warning("Could not read the credential of %s back: %s", user_id, error.message)
            raise unknown from error

    async def list_panorama_events(self, user_id: str) -> list[CredentialEvent]:
        """Return every event Leaf logged for the Leaf user's Panorama credential, newest first.

        A user without a credential has no events, so a 404 gives an empty list, unless its
        error key reports that the user itself is missing.
        """
        action = "load the Panorama credential's events"
        events: list[CredentialEvent] = []
        seen: set[str] = set()
        try:
            async for _reply, items, _number in self._pages(
                f"{_credential_path(user_id)}/events", [], sort="createdDate,desc",
                page_size=PAGE_SIZE, action=action, leaf_user=user_id,
            ):
                for item in items:
                    event = parse_event(item, user_id, action=action)
                    if event.id not in seen:
                        seen.add(event.id)
                        events.append(event)
        except NotFoundError as error:
            if error.error_key == USER_NOT_FOUND_KEY:
                raise
            return []

        # Leaf sorts already; sorting again keeps the order right if a page boundary shifted.
        events.sort(key=_event_sort_key, reverse=True)
        return events

    # --- one-click ----------------------------------------------------------------------------

    async def start_one_click(self, user_id: str, data: OneClickInput) -> OneClickStart:
        """Start a Panorama one-click integration and return the page the grower must open.

        A start is never sent twice, because Leaf keeps no record of pending one-clicks that
        could be read back. An unanswered start raises `OutcomeUnknownError`; polling the
        credential still shows whether the grower approved a share that did start.
        """
        action = "start the one-click connection"
        body = {
            "clientId": data.client_id,
            "username": data.username,
            "password": str(data.password),
            "clientEnvironment": str(data.client_environment),
            "sharingUrlId": data.sharing_url_id,
        }
        reply = await self._call(
            "POST", f"{_user_path(user_id)}/one-click-integration/Panorama",
            action=action, leaf_user=user_id, json_body=body,
        )
        _expect(reply, (200, 201), action=action, leaf_user=user_id,
                not_found="Leaf has no user with this id")
        return parse_one_click(_json_object(reply, action=action, leaf_user=user_id), user_id,
                               action=action)

    # --- Panorama app keys --------------------------------------------------------------------

    async def list_app_keys(self) -> list[AppKey]:
        """Return the API owner's Panorama app keys (partner application settings)."""
        action = "load the Panorama app keys"
        reply = await self._call("GET", f"{API}/app-keys/Panorama", action=action)
        _expect(reply, (200,), action=action)
        body = _json_body(reply, action=action)
        if isinstance(body, dict):
            # Tolerate a wrapper object such as {"content": [...]} or a single key.
            body = body.get("content", body.get("items", [body]))
        if not isinstance(body, list):
            raise _malformed("Leaf's app key list is not a list", reply, action=action)
        return [parse_app_key(item, action=action) for item in body]

    async def get_app_key(self, app_name: str, client_environment: str) -> AppKey | None:
        """Return one Panorama app key, or None when there is none (HTTP 404)."""
        action = "load the Panorama app key"
        reply = await self._call("GET", _app_key_path(app_name, client_environment),
                                 action=action)
        if reply.status_code == 404:
            return None
        _expect(reply, (200,), action=action)
        return parse_app_key(_json_object(reply, action=action), action=action,
                             app_name=app_name, client_environment=client_environment)

    async def save_app_key(
        self,
        app_name: str,
        client_environment: str,
        *,
        client_id: str,
        username: str,
        password: str | Secret,
        sharing_url_id: str,
    ) -> AppKey:
        """Create a Panorama app key and return it as Leaf stored it.

        Raises `ConflictError` (`error_key="appKeyExists"` in the sandbox) when a key with this
        name and environment exists. When no response comes, the key is read back, and one with
        these values is taken as saved. When there is none, the request is sent once more. That
        is safe because a second create is rejected with 409.
        """
        action = "save the Panorama app key"
        path = _app_key_path(app_name, client_environment)
        body = {
            "clientId": client_id,
            "username": username,
            "password": str(password),
            "sharingUrlId": sharing_url_id,
        }
        expected = (client_id, username, sharing_url_id)

        try:
            reply = await self._call("POST", path, action=action, json_body=body)
        except OutcomeUnknownError as unknown:
            stored = await self._read_back_app_key(app_name, client_environment, unknown)
            if stored is not None:
                if _app_key_values(stored) == expected:
                    return stored
                raise
            reply = await self._call("POST", path, action=action, json_body=body)
            if reply.status_code == 409:
                # The first request arrived after the read-back.
                stored = await self._read_back_app_key(app_name, client_environment, unknown)
                if stored is not None and _app_key_values(stored) == expected:
                    return stored

        _expect(reply, (200, 201), action=action)
        return parse_app_key(_json_object(reply, action=action), action=action,
                             app_name=app_name, client_environment=client_environment)

    async def _read_back_app_key(
        self, app_name: str, client_environment: str, unknown: OutcomeUnknownError
    ) -> AppKey | None:
        """Read an app key after an unanswered change; re-raise `unknown` if that fails."""
        try:
            return await self.get_app_key(app_name, client_environment)
        except LeafError as error:
            raise unknown from error

    async def delete_app_key(self, app_name: str, client_environment: str) -> None:
        """Delete a Panorama app key; raise `NotFoundError` when there is none."""
        action = "delete the Panorama app key"
        path = _app_key_path(app_name, client_environment)
        try:
            reply = await self._call("DELETE", path, action=action)
        except OutcomeUnknownError as unknown:
            if await self._read_back_app_key(app_name, client_environment, unknown) is None:
                return
            reply = await self._call("DELETE", path, action=action)
            if reply.status_code == 404:
                return
        _expect(reply, (200, 202, 204), action=action,
                not_found="Leaf has no Panorama app key with this name and environment")

    # --- paging -------------------------------------------------------------------------------

    async def _pages(
        self,
        path: str,
        filters: list[tuple[str, Any]],
        *,
        sort: str,
        page_size: int,
        action: str,
        leaf_user: str | None = None,
    ) -> AsyncIterator[tuple[Reply, list[Any], int]]:
        """Yield (response, items, page number) for every page of a Leaf list route.

        Reading stops at the last page as the `Link` header names it, or else when
        `X-Total-Count` items were read, or else at a short or empty page.
        """
        read = 0
        for number in range(MAX_PAGES):
            params = [*filters, ("page", number), ("size", page_size), ("sort", sort)]
            reply = await self._call("GET", path, action=action, leaf_user=leaf_user,
                                     params=params)
            _expect(reply, (200,), action=action, leaf_user=leaf_user)
            items = _json_body(reply, action=action, leaf_user=leaf_user)
            if not isinstance(items, list):
                raise _malformed("Leaf's list response is not a JSON array", reply, action=action,
                                 leaf_user=leaf_user)
            read += len(items)
            yield reply, items, number

            if not items:
                return
            links = reply.headers.get("Link")
            if links is not None:
                if 'rel="next"' not in links:
                    return
                continue
            total = total_count(reply)
            if total is not None:
                if read >= total:
                    return
                continue
            if len(items) < page_size:
                return
        logger.warning("Stopped reading %s after %d pages", path, MAX_PAGES)


# --- helpers for requests and responses ---------------------------------------------------------

ERROR_CREDENTIAL_EXISTS = (
    "this Leaf user already has a Panorama credential; delete it before creating another"
)


def _signing_in_for(error: LeafError, *, action: str, leaf_user: str | None) -> LeafError:
    """Make a sign-in failure read as a failure of the call that needed the sign-in.

    "Could not load the Panorama credential for Ridge Farm: the username or password was not
    accepted" gives the operator more context than "Could not sign in to Leaf". It also keeps a
    service that names the user later through `about()` from producing "sign in to Leaf for
    Ridge Farm".
    """
    error.action = action
    if leaf_user:
        error.leaf_user = leaf_user
    error.details = f"while signing in: {error.details}" if error.details else "while signing in"
    return error


def _bearer(token: Secret) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _segment(value: str) -> str:
    return quote(str(value), safe="")


def _user_path(user_id: str) -> str:
    return f"{API}/users/{_segment(user_id)}"


def _credential_path(user_id: str) -> str:
    return f"{_user_path(user_id)}/panorama-credentials"


def _app_key_path(app_name: str, client_environment: str) -> str:
    return f"{API}/app-keys/Panorama/{_segment(app_name)}/{_segment(str(client_environment))}"


# [ours] The error key of a 404 for an unknown Leaf user, as the sandbox sends it; Leaf does not
# document one. Without it, a 404 on a credential route is read as "no credential".
USER_NOT_FOUND_KEY = "userNotFound"


def _raise_if_user_missing(reply: Reply, *, action: str, leaf_user: str) -> None:
    error = error_for_reply(reply, action=action, leaf_user=leaf_user,
                            not_found="Leaf has no user with this id")
    if error.error_key == USER_NOT_FOUND_KEY:
        raise error


def _expect(
    reply: Reply,
    statuses: tuple[int, ...],
    *,
    action: str,
    leaf_user: str | None = None,
    not_found: str | None = None,
) -> None:
    if reply.status_code not in statuses:
        raise error_for_reply(reply, action=action, leaf_user=leaf_user, not_found=not_found)


def _json_body(reply: Reply, *, action: str, leaf_user: str | None = None) -> Any:
    try:
        return reply.json()
    except (ValueError, UnicodeDecodeError) as error:
        raise _malformed("Leaf's response is not valid JSON", reply, action=action,
                         leaf_user=leaf_user) from error


def _json_object(reply: Reply, *, action: str, leaf_user: str | None = None) -> dict[str, Any]:
    body = _json_body(reply, action=action, leaf_user=leaf_user)
    if not isinstance(body, dict):
        raise _malformed("Leaf's response is not a JSON object", reply, action=action,
                         leaf_user=leaf_user)
    return body


def _malformed(message: str, reply: Reply | None = None, *, action: str,
               leaf_user: str | None = None, details: str | None = None) -> MalformedResponseError:
    if reply is not None:
        details = f"{reply.describe()}: {excerpt(reply)}"
    return MalformedResponseError(message, action=action, leaf_user=leaf_user,
                                  status_code=reply.status_code if reply else None,
                                  details=details)


def total_count(reply: Reply) -> int | None:
    """Return `X-Total-Count` as an int, or None when absent or unreadable."""
    value = reply.headers.get("X-Total-Count")
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None


def _token_from_sign_in(reply: Reply) -> str | None:
    try:
        body = reply.json()
    except (ValueError, UnicodeDecodeError):
        body = None
    if isinstance(body, dict):
        for key in ("id_token", "idToken", "token"):
            token = body.get(key)
            if isinstance(token, str) and token:
                return token
    # JHipster also sends the token as `Authorization: Bearer ...`.
    header = reply.headers.get("Authorization", "")
    if header.lower().startswith("bearer ") and header[7:].strip():
        return header[7:].strip()
    return None


def jwt_expiry(token: str) -> datetime | None:
    """Read `exp` from a JWT's payload without checking its signature; None if unreadable.

    The sandbox's token carries `exp`, which is LeafDesk's reading of Leaf. Checking the
    signature is Leaf's job, so the client only uses the time to sign in again before it lapses.
    """
    parts = token.split(".")
    if len(parts) != 3:
        return None
    payload = parts[1] + "=" * (-len(parts[1]) % 4)
    try:
        claims = json.loads(base64.urlsafe_b64decode(payload.encode("ascii")))
    except (ValueError, binascii.Error, UnicodeError):
        return None
    expiry = claims.get("exp") if isinstance(claims, dict) else None
    if not isinstance(expiry, (int, float)) or isinstance(expiry, bool):
        return None
    try:
        return datetime.fromtimestamp(expiry, tz=UTC)
    except (OverflowError, OSError, ValueError):
        return None


# --- tolerant parsing ---------------------------------------------------------------------------

def _text(value: Any) -> str | None:
    """Return a JSON scalar as text; None for null, empty, objects and lists."""
    if value is None or isinstance(value, (dict, list)):
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    text = str(value)
    return text if text != "" else None


def _required_id(obj: dict[str, Any], what: str, *, action: str,
                 leaf_user: str | None = None) -> str:
    identifier = _text(obj.get("id"))
    if identifier is None:
        raise MalformedResponseError(
            f"Leaf sent {what} without an id", action=action, leaf_user=leaf_user,
            details=f"keys: {', '.join(sorted(map(str, obj)))[:200]}",
        )
    return identifier


def parse_user(obj: Any, *, action: str = "read a Leaf user",
               leaf_user: str | None = None) -> LeafUser:
    """Build a LeafUser from Leaf's user object; only `id` is required.

    `leaf_user` names the user in errors when the caller asked for one by id.
    """
    if not isinstance(obj, dict):
        raise MalformedResponseError("Leaf sent a user that is not a JSON object", action=action,
                                     leaf_user=leaf_user, details=f"got {type(obj).__name__}")
    user_id = _required_id(obj, "a user", action=action, leaf_user=leaf_user)
    return LeafUser(
        id=user_id,
        name=_text(obj.get("name")) or "",
        email=_text(obj.get("email")),
        phone=_text(obj.get("phone")),
        address=_address_text(obj.get("address")),
        external_id=_text(obj.get("externalId")),
        api_owner_username=_text(obj.get("apiOwnerUsername")),
        panorama=parse_credential_summary(obj.get("panoramaCredentials")),
    )


def _address_text(value: Any) -> str | None:
    # Leaf documents `address` as text; a structured address is joined rather than dropped.
    if isinstance(value, dict):
        parts = [_text(part) for part in value.values()]
        joined = ", ".join(part for part in parts if part)
        return joined or None
    return _text(value)


def parse_credential_summary(value: Any) -> CredentialSummary | None:
    """Read the `panoramaCredentials` embedded in a user: full, `{"id"}` only, or absent.

    Embedding the credential in user responses follows Leaf's documented pattern for other
    providers; that Leaf does so for Panorama is LeafDesk's assumption.
    """
    if isinstance(value, list):
        value = next((item for item in value if item), None)
    if value is None or value == "" or value == {}:
        return None
    if isinstance(value, (str, int)) and not isinstance(value, bool):
        return CredentialSummary(id=str(value))
    if not isinstance(value, dict):
        return None
    identifier = _text(value.get("id"))
    status = _text(value.get("status"))
    if identifier is None and status is None:
        return None
    return CredentialSummary(
        id=identifier or "",
        status=status,
        created_time=parse_optional_datetime(value.get("createdTime")),
    )


def parse_credential(obj: dict[str, Any], leaf_user_id: str, *,
                     action: str = "read a Panorama credential") -> PanoramaCredential:
    """Build a PanoramaCredential; an unknown `status` is kept as it came, a missing one is ''."""
    credential_id = _required_id(obj, "a Panorama credential", action=action,
                                 leaf_user=leaf_user_id)
    return PanoramaCredential(
        id=credential_id,
        leaf_user_id=leaf_user_id,
        status=_text(obj.get("status")) or "",
        created_time=parse_optional_datetime(obj.get("createdTime")),
        client_id=_text(obj.get("clientId")),
        username=_text(obj.get("username")),
        organization_code=_text(obj.get("organizationCode")),
        client_environment=_text(obj.get("clientEnvironment")),
        access_token=Secret(_text(obj.get("accessToken")) or ""),
        refresh_token=Secret(_text(obj.get("refreshToken")) or ""),
    )


def _credential_matches(credential: PanoramaCredential, data: ManualCredentialInput) -> bool:
    return (
        credential.client_id in (None, data.client_id)
        and credential.organization_code in (None, data.organization_code)
    )


def _app_key_values(key: AppKey) -> tuple[str, str, str]:
    """Return the values a saved app key is compared on after an unanswered save."""
    return (key.client_id, key.username, key.sharing_url_id)


def parse_event(obj: Any, leaf_user_id: str, *,
                action: str = "read a credential event") -> CredentialEvent:
    """Build a CredentialEvent, decoding `headers` and `body` when they contain JSON.

    Leaf logs whole exchanges with Panorama, so headers and bodies can contain tokens and
    passwords. Those values are masked in both the decoded and the raw forms before the rest
    of LeafDesk receives the event.
    """
    if not isinstance(obj, dict):
        raise MalformedResponseError("Leaf sent an event that is not a JSON object",
                                     action=action, leaf_user=leaf_user_id,
                                     details=f"got {type(obj).__name__}")
    event_id = _required_id(obj, "an event", action=action, leaf_user=leaf_user_id)
    headers, raw_headers = decode_embedded_json(obj.get("headers"))
    body, raw_body = decode_embedded_json(obj.get("body"))
    return CredentialEvent(
        id=event_id,
        leaf_user_id=leaf_user_id,
        status_code=_status_code(obj.get("statusCode")),
        created_date=parse_optional_datetime(obj.get("createdDate")),
        headers=headers,
        body=body,
        raw_headers=raw_headers,
        raw_body=raw_body,
    )


def decode_embedded_json(value: Any) -> tuple[Any, str | None]:
    """Return (decoded, raw) for a field Leaf sends as a JSON string, secrets masked in both.

    A string containing a JSON object or array decodes to that JSON, and any other string is
    kept as text. A field that already came as JSON (not as a string) is taken as decoded.
    """
    if value is None:
        return None, None
    if isinstance(value, str):
        try:
            decoded = json.loads(value)
        except ValueError:
            masked = redact_text(value)
            return masked, masked
        if not isinstance(decoded, (dict, list)):
            masked = redact_text(value)
            return masked, masked
        safe = redact(decoded)
        return safe, value if safe == decoded else json.dumps(safe, ensure_ascii=False)
    safe = redact(value)
    return safe, json.dumps(safe, ensure_ascii=False)


def _status_code(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, (float, str)):
        try:
            return int(float(value))
        except (ValueError, OverflowError):
            # OverflowError: "Infinity" or 1e400 parse as an infinite float.
            return None
    return None


def _event_sort_key(event: CredentialEvent) -> datetime:
    return event.created_date or datetime.min.replace(tzinfo=UTC)


def parse_one_click(obj: dict[str, Any], leaf_user_id: str, *,
                    action: str = "start the one-click connection") -> OneClickStart:
    """Read a one-click start response, `{"signInUrl": ...}`.

    Leaf does not document this response for Panorama; `signInUrl` is what its John Deere
    one-click returned, and what the sandbox returns.
    """
    url = _text(obj.get("signInUrl")) or _text(obj.get("url"))
    if url is None:
        raise MalformedResponseError(
            "Leaf's one-click response contained no page for the grower to open",
            action=action, leaf_user=leaf_user_id,
            details=f"keys: {', '.join(sorted(map(str, obj)))[:200]}",
        )
    return OneClickStart(leaf_user_id=leaf_user_id, sign_in_url=url, raw=redact(obj))


def parse_app_key(obj: Any, *, action: str = "read a Panorama app key",
                  app_name: str | None = None,
                  client_environment: str | None = None) -> AppKey:
    """Build an AppKey; the app name and environment come from the path when the body lacks them.

    The Panorama app key route and body are the sandbox's (LeafDesk's reading of Leaf's app
    keys for other providers); Leaf has not published them for Panorama.
    """
    if not isinstance(obj, dict):
        raise MalformedResponseError("Leaf sent an app key that is not a JSON object",
                                     action=action, details=f"got {type(obj).__name__}")
    name = _text(obj.get("appName")) or _text(obj.get("name")) or app_name
    environment = _text(obj.get("clientEnvironment")) or client_environment
    if name is None or environment is None:
        raise MalformedResponseError("Leaf sent an app key without its name or environment",
                                     action=action,
                                     details=f"keys: {', '.join(sorted(map(str, obj)))[:200]}")
    return AppKey(
        app_name=name,
        client_environment=environment,
        client_id=_text(obj.get("clientId")) or "",
        username=_text(obj.get("username")) or "",
        sharing_url_id=_text(obj.get("sharingUrlId")) or "",
        created_time=parse_optional_datetime(obj.get("createdTime")),
    )
