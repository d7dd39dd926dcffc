"""The Leaf API routes the sandbox plays: sign-in, users, Panorama credentials and their
events, one-click integration, and Panorama app keys.

Every route returns the shapes Leaf documents. Where Leaf documents nothing, the behaviour is
the sandbox's own decision, marked [ours] where it is made.
"""

from __future__ import annotations

import hmac
import logging
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from . import credential_check
from .config import ENVIRONMENTS
from .events import new_id
from .paging import PageRequest, page_headers, parse_page_request
from .problems import BodyChecker, ProblemError, check_uuid, read_json_object
from .render import app_key_json, credential_json, event_json, user_json
from .state import SandboxState
from .store import USER_SORTS, AppKey, Credential, User, hash_password, slice_page

log = logging.getLogger(__name__)

API = "/services/usermanagement/api"
PROVIDER = "Panorama"


def _state(request: Request) -> SandboxState:
    return request.app.state.sandbox


def user_or_404(state: SandboxState, raw_id: str) -> User:
    """Look up the Leaf user with id `raw_id`, raising a 400 for a malformed id or a 404."""
    user_id = check_uuid(raw_id, "Leaf user id")
    user = state.store.users.get(user_id)
    if user is None:
        # [ours] Leaf does not document the response for an unknown user.
        raise ProblemError(404, f"No Leaf user has the id {user_id}.", error_key="userNotFound")
    return user


def credential_or_404(user: User) -> Credential:
    """Return the user's Panorama credential, raising a 404 when the user has none."""
    if user.credential is None:
        # [ours] 404 when the user has no Panorama credential yet.
        raise ProblemError(404, f"Leaf user {user.id} has no Panorama credential.",
                           error_key="credentialNotFound")
    return user.credential


# Sign-in.

async def authenticate(request: Request) -> Response:
    state = _state(request)
    body = await read_json_object(request)
    checker = BodyChecker(body, "loginVM")
    username = checker.text("username")
    password = checker.text("password")

    # rememberMe may come as a boolean or as the string "true"/"false"; missing means false.
    remember_raw = body.get("rememberMe", False)
    remember_me = False
    if isinstance(remember_raw, bool):
        remember_me = remember_raw
    elif isinstance(remember_raw, str) and remember_raw.strip().lower() in ("true", "false"):
        remember_me = remember_raw.strip().lower() == "true"
    elif remember_raw is not None:
        checker.fail("rememberMe", "must be true or false")
    checker.raise_if_failed()

    owner = state.config.logins
    if (username.casefold() != owner.owner_username.casefold()
            or not hmac.compare_digest(password.encode(), owner.owner_password.encode())):
        log.info("sign-in rejected for %s", username)
        raise ProblemError(401, "Bad credentials: the username or password is wrong.",
                           title="Unauthorized", error_key="badCredentials")
    token = state.tokens.issue(owner.owner_username, state.clock.now(), remember_me)
    return JSONResponse({"id_token": token})


# Users.

def _user_response(state: SandboxState, user: User, status: int = 200,
                 headers: dict[str, str] | None = None) -> JSONResponse:
    owner_username = state.config.logins.owner_username
    return JSONResponse(user_json(user, owner_username, state.knobs.embed_credentials),
                        status_code=status, headers=headers)


async def list_users(request: Request) -> Response:
    state = _state(request)
    paging: PageRequest = parse_page_request(request, USER_SORTS, [("createdDate", False)])
    params = request.query_params
    result = state.store.page_users(
        paging.sorts, paging.page, paging.size,
        name=params.get("name") or None,
        email=params.get("email") or None,
        external_id=params.get("externalId") or None,
    )
    embed = state.knobs.embed_credentials
    owner_username = state.config.logins.owner_username
    body = [user_json(user, owner_username, embed) for user in result.users]
    return JSONResponse(body, headers=page_headers(request, paging, result.total))


async def get_user(request: Request) -> Response:
    state = _state(request)
    return _user_response(state, user_or_404(state, request.path_params["user_id"]))


def _check_user_fields(body: dict[str, Any]) -> tuple[BodyChecker, dict[str, Any]]:
    # [ours] The length limits, because Leaf publishes none.
    checker = BodyChecker(body, "leafUser")
    fields = {
        "name": checker.text("name", max_length=200),
        "email": checker.email("email"),
        "phone": checker.text("phone", max_length=50),
        "address": checker.text("address", max_length=500),
        "external_id": checker.text("externalId", required=False, max_length=200),
    }
    return checker, fields


async def create_user(request: Request) -> Response:
    state = _state(request)
    body = await read_json_object(request)
    checker, fields = _check_user_fields(body)
    if body.get("id") is not None:
        checker.fail("id", "must be empty: a new user cannot already have an id")
    checker.raise_if_failed()

    now = state.clock.now()
    user = User(id=new_id(), name=fields["name"], email=fields["email"], phone=fields["phone"],
                address=fields["address"], external_id=fields["external_id"], created=now,
                organization_code=_organization_code_for(new_id()))
    state.store.add_user(user)
    state.dirty = True
    log.info("user %s created", user.id)
    # [ours] 201 with a Location header; Leaf does not document the status code.
    return _user_response(state, user, 201, {"Location": f"{API}/users/{user.id}"})


def _organization_code_for(seed_text: str) -> str:
    """Give a user made through the API a Panorama organization code for share approvals."""
    letters = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
    digits = int(seed_text.replace("-", ""), 16)
    return "PP-" + "".join(letters[(digits >> (5 * i)) % 32] for i in range(6))


async def replace_user(request: Request) -> Response:
    state = _state(request)
    body = await read_json_object(request)
    checker, fields = _check_user_fields(body)
    user_id = checker.uuid("id")
    embedded = body.get("panoramaCredentials")
    if embedded is not None and not (isinstance(embedded, dict)
                                     and isinstance(embedded.get("id"), str)):
        checker.fail("panoramaCredentials", "must be an object with the credential id")
    checker.raise_if_failed()

    user = user_or_404(state, user_id)
    if embedded is not None:
        if user.credential is None or embedded["id"] != user.credential.id:
            raise ProblemError(400, "panoramaCredentials names a credential this user does not "
                               "have. Leave it out to detach, or send the current one's id.",
                               error_key="credentialMismatch")
    elif user.credential is not None:
        # A credential reference left out of a PUT is detached, and its events go with it.
        log.info("credential %s detached from user %s by PUT", user.credential.id, user.id)
        state.delete_credential(user)

    state.store.replace_user_fields(user, fields["name"], fields["email"], fields["phone"],
                                    fields["address"], fields["external_id"])
    state.dirty = True
    return _user_response(state, user)


async def delete_user(request: Request) -> Response:
    state = _state(request)
    user = user_or_404(state, request.path_params["user_id"])
    # [ours] Deleting a user deletes its credential and that credential's events.
    state.recoveries.pop(user.id, None)
    state.pending_checks.pop(user.id, None)
    state.store.remove_user(user.id)
    state.dirty = True
    log.info("user %s deleted", user.id)
    return Response(status_code=204)


# Panorama credentials.

async def get_credential(request: Request) -> Response:
    state = _state(request)
    user = user_or_404(state, request.path_params["user_id"])
    return JSONResponse(credential_json(credential_or_404(user)))


async def create_credential(request: Request) -> Response:
    state = _state(request)
    user = user_or_404(state, request.path_params["user_id"])
    body = await read_json_object(request)
    checker = BodyChecker(body, "panoramaCredentials")
    client_id = checker.text("clientId")
    username = checker.text("username")
    password = checker.text("password")  # used for the check below, never stored or echoed
    organization_code = checker.text("organizationCode")
    refresh_token = checker.text("refreshToken", max_length=8192)
    environment = checker.choice("clientEnvironment", ENVIRONMENTS)
    checker.raise_if_failed()

    if user.credential is not None:
        # [ours] One credential per provider per user; replacing means delete, then create.
        raise ProblemError(409, f"Leaf user {user.id} already has a Panorama credential. "
                           "Delete it before creating another.", error_key="credentialExists")
    # [ours] Leaf tries a manual credential with Panorama in the background, so the create
    # returns status OK and the check may change it a few sandbox seconds later.
    outcome = credential_check.judge(state.store, client_id=client_id, environment=environment,
                                     username=username, password=password,
                                     organization_code=organization_code)
    credential = state.new_credential(user, client_id=client_id, username=username,
                                      organization_code=organization_code,
                                      environment=environment, refresh_token=refresh_token,
                                      tried=False)
    credential_check.schedule(state, user, credential, outcome)
    log.info("credential %s created for user %s", credential.id, user.id)
    return JSONResponse(credential_json(credential), status_code=201)


async def delete_credential(request: Request) -> Response:
    state = _state(request)
    user = user_or_404(state, request.path_params["user_id"])
    credential = credential_or_404(user)
    # [ours] 204, and the credential's events are deleted with it.
    log.info("credential %s of user %s deleted", credential.id, user.id)
    state.delete_credential(user)
    return Response(status_code=204)


async def list_events(request: Request) -> Response:
    state = _state(request)
    user = user_or_404(state, request.path_params["user_id"])
    paging = parse_page_request(request, ("createdDate", "id"), [("createdDate", True)])
    credential = credential_or_404(user)
    credential.purge_events(state.clock.now())

    events = credential.events
    prop, descending = paging.sorts[0]
    total = len(events)
    if prop == "createdDate" and len(paging.sorts) == 1:
        # Events are kept in time order, so a page is a slice from either end.
        chunk = slice_page(events, descending, paging.page, paging.size)
    else:
        ordered = list(events)
        for sort_prop, sort_desc in reversed(paging.sorts):
            ordered.sort(key=lambda e, p=sort_prop: e.created if p == "createdDate" else e.id,
                         reverse=sort_desc)
        chunk = slice_page(ordered, False, paging.page, paging.size)
    return JSONResponse([event_json(event) for event in chunk],
                        headers=page_headers(request, paging, total))


# One-click integration.

async def start_one_click(request: Request) -> Response:
    state = _state(request)
    if request.path_params["provider"] != PROVIDER:
        raise ProblemError(404, f"The sandbox plays only the {PROVIDER} one-click integration, "
                           f"not {request.path_params['provider']!r}.",
                           error_key="providerNotFound")
    user = user_or_404(state, request.path_params["user_id"])
    body = await read_json_object(request)
    checker = BodyChecker(body, "oneClickIntegration")
    client_id = checker.text("clientId")
    username = checker.text("username")
    password = checker.text("password")
    environment = checker.choice("clientEnvironment", ENVIRONMENTS)
    sharing_url_id = checker.uuid("sharingUrlId")
    checker.raise_if_failed()

    # [ours] The failure responses and their order below are the sandbox's own.
    if user.credential is not None:
        raise ProblemError(409, f"Leaf user {user.id} already has a Panorama credential. "
                           "Delete it before connecting again.", error_key="credentialExists")
    if not state.store.partner_login_valid(client_id, environment, username, password):
        raise ProblemError(400, f"Panorama rejected the partner login for client {client_id} "
                           f"in {environment}.", error_key="invalidPartnerCredentials")
    app_key = state.store.app_key_for_client(client_id, environment)
    if app_key is None:
        raise ProblemError(400, f"No Panorama app key is set for client {client_id} in "
                           f"{environment}.", error_key="appKeyNotFound")
    if app_key.sharing_url_id != sharing_url_id:
        raise ProblemError(400, f"The sharingUrlId differs from the one in app key "
                           f"{app_key.app_name!r}.", error_key="sharingUrlMismatch")

    share = state.open_share(user, client_id, username, environment)
    base = str(request.base_url).rstrip("/")
    return JSONResponse({"signInUrl": f"{base}/panorama-share/{share.id}"})


# Panorama app keys. [ours: Leaf publishes no Panorama app-key route]

def _key_path(request: Request) -> tuple[str, str]:
    environment = request.path_params["environment"]
    if environment not in ENVIRONMENTS:
        raise ProblemError(400, f"The client environment {environment!r} is not STAGE or "
                           "PRODUCTION.", error_key="environmentInvalid")
    return request.path_params["app_name"], environment


async def list_app_keys(request: Request) -> Response:
    state = _state(request)
    keys = sorted(state.store.app_keys.values(), key=lambda k: (k.app_name, k.environment))
    return JSONResponse([app_key_json(key) for key in keys])


async def get_app_key(request: Request) -> Response:
    state = _state(request)
    key = state.store.app_keys.get(_key_path(request))
    if key is None:
        raise ProblemError(404, "No Panorama app key has that name and environment.",
                           error_key="appKeyNotFound")
    return JSONResponse(app_key_json(key))


async def create_app_key(request: Request) -> Response:
    state = _state(request)
    app_name, environment = _key_path(request)
    body = await read_json_object(request)
    checker = BodyChecker(body, "panoramaAppKey")
    client_id = checker.text("clientId")
    username = checker.text("username")
    password = checker.text("password")
    sharing_url_id = checker.uuid("sharingUrlId")
    checker.raise_if_failed()

    if (app_name, environment) in state.store.app_keys:
        raise ProblemError(409, f"A Panorama app key {app_name!r} already exists in "
                           f"{environment}. Delete it first.", error_key="appKeyExists")
    password_hash = hash_password(password)
    key = AppKey(app_name=app_name, environment=environment, client_id=client_id,
                 username=username, password_hash=password_hash, sharing_url_id=sharing_url_id,
                 created=state.clock.now())
    state.store.app_keys[(app_name, environment)] = key
    # The sandbox also plays Panorama, so an app key's login becomes a partner account there.
    state.store.add_partner_account(client_id, environment, username, password_hash)
    state.dirty = True
    return JSONResponse(app_key_json(key), status_code=201)


async def delete_app_key(request: Request) -> Response:
    state = _state(request)
    key = state.store.app_keys.pop(_key_path(request), None)
    if key is None:
        raise ProblemError(404, "No Panorama app key has that name and environment.",
                           error_key="appKeyNotFound")
    state.dirty = True
    return Response(status_code=204)


ROUTES = [
    Route("/api/authenticate", authenticate, methods=["POST"]),
    Route(f"{API}/users", list_users, methods=["GET"]),
    Route(f"{API}/users", create_user, methods=["POST"]),
    Route(f"{API}/users", replace_user, methods=["PUT"]),
    Route(f"{API}/users/{{user_id}}", get_user, methods=["GET"]),
    Route(f"{API}/users/{{user_id}}", delete_user, methods=["DELETE"]),
    Route(f"{API}/users/{{user_id}}/panorama-credentials", get_credential, methods=["GET"]),
    Route(f"{API}/users/{{user_id}}/panorama-credentials", create_credential, methods=["POST"]),
    Route(f"{API}/users/{{user_id}}/panorama-credentials", delete_credential,
          methods=["DELETE"]),
    Route(f"{API}/users/{{user_id}}/panorama-credentials/events", list_events, methods=["GET"]),
    Route(f"{API}/users/{{user_id}}/one-click-integration/{{provider}}", start_one_click,
          methods=["POST"]),
    Route(f"{API}/app-keys/{PROVIDER}", list_app_keys, methods=["GET"]),
    Route(f"{API}/app-keys/{PROVIDER}/{{app_name}}/{{environment}}", get_app_key,
          methods=["GET"]),
    Route(f"{API}/app-keys/{PROVIDER}/{{app_name}}/{{environment}}", create_app_key,
          methods=["POST"]),
    Route(f"{API}/app-keys/{PROVIDER}/{{app_name}}/{{environment}}", delete_app_key,
          methods=["DELETE"]),
]
