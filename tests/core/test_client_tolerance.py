"""Tests of the client against answers the sandbox never gives but a real Leaf, or a proxy in
front of it, may: odd error bodies, unexpected statuses and shapes, and loosely typed fields.

A small Starlette app plays that server; each Leaf user id picks one behaviour.
"""

from __future__ import annotations

import base64
import json
import time

import httpx
import pytest
import pytest_asyncio
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from leafdesk.core.client import LeafClient, parse_event
from leafdesk.core.errors import (
    ConflictError,
    LeafError,
    MalformedResponseError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitedError,
    ServerError,
    SignedOutError,
    ValidationError,
)
from leafdesk.core.http import RetryPolicy

API = "/services/usermanagement/api"
PASSWORD = "odd-server-password"
FAST_RETRY = RetryPolicy(max_attempts=3, base_delay=0.001, max_delay=0.005, max_total=2.0)
LEAKED_TOKEN = "eyJleaked.access.token-value"


def make_token(lifetime: float = 3600) -> str:
    def part(data: dict) -> str:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()

    return f"{part({'alg': 'HS256'})}.{part({'sub': 'owner', 'exp': time.time() + lifetime})}.sig"


PROXY_PAGE = (
    "<!DOCTYPE html><html><head><title>502 Bad Gateway</title></head>"
    "<body><h1>Bad Gateway</h1><p>nginx</p></body></html>"
)

USER_ANSWERS: dict[str, Response] = {
    "forbidden": Response(status_code=403),
    "proxy-502": Response(PROXY_PAGE, status_code=502, media_type="text/html"),
    "text-400": PlainTextResponse("Bad Request: something went wrong\nat line 2", status_code=400),
    "other-json-409": JSONResponse({"error": "duplicate", "errorKey": "userClash"},
                                   status_code=409),
    "not-json": PlainTextResponse("hello there", status_code=200),
    "array": JSONResponse([], status_code=200),
    "no-id": JSONResponse({"name": "No Id Farm"}, status_code=200),
    "teapot": PlainTextResponse("short and stout", status_code=418),
    "redirect": Response(status_code=302, headers={"Location": "https://login.example/"}),
    "secret-500": JSONResponse({"message": "boom", "accessToken": LEAKED_TOKEN,
                                "detail": f"refreshToken={LEAKED_TOKEN}"}, status_code=500),
    "long-400": PlainTextResponse("x" * 10_000, status_code=400),
    "empty-404": Response(status_code=404),
    "limited": Response(status_code=429, headers={"Retry-After": "0"}),
    "problem-400": JSONResponse(
        {"title": "Bad Request", "status": 400, "errorKey": "validation",
         "fieldErrors": [{"objectName": "user", "field": "email", "message": "must be valid"},
                         {"field": "name"}, "not an object"]},
        status_code=400, media_type="application/problem+json"),
    "loose": JSONResponse({
        "id": 12345,
        "name": "Loose Farm",
        "email": None,
        "address": {"street": "1 Field Rd", "city": "Ames"},
        "externalId": 77,
        "futureField": {"nested": True},
        "panoramaCredentials": [{"id": "cred-1", "status": "BRAND_NEW_STATUS",
                                 "createdTime": "2024-02-03T04:05:06"}],
    }),
    "id-only": JSONResponse({"id": "u-id-only", "name": "Id Only",
                             "panoramaCredentials": {"id": "cred-2"}}),
    "bare-string-credential": JSONResponse({"id": "u-bare", "name": "Bare",
                                            "panoramaCredentials": "cred-3"}),
}


async def authenticate(request: Request) -> Response:
    body = await request.json()
    if body.get("password") != PASSWORD:
        return Response(status_code=401)
    # This server answers in the JHipster header as well, with a body of its own shape.
    token = make_token()
    return JSONResponse({"ok": True}, headers={"Authorization": f"Bearer {token}"})


async def user(request: Request) -> Response:
    return USER_ANSWERS[request.path_params["user_id"]]


async def credential(request: Request) -> Response:
    return JSONResponse({
        "id": "c-9",
        "status": "SOMETHING_LEAF_ADDED",
        "createdTime": "2024-05-01T10:20:30.123456Z",
        "accessToken": LEAKED_TOKEN,
    })


async def events(request: Request) -> Response:
    page = int(request.query_params.get("page", "0"))
    items = [
        {"id": 1, "statusCode": "200", "headers": "not json at all",
         "body": {"AccessToken": LEAKED_TOKEN, "ExpiresIn": 3600},
         "createdDate": "2024-05-02T00:00:00"},
        {"id": 2, "statusCode": 400,
         "headers": json.dumps({"Authorization": f"Bearer {LEAKED_TOKEN}"}),
         "body": json.dumps({"__type": "NotAuthorizedException",
                             "message": "Refresh Token has expired"}),
         "createdDate": "2024-05-03T00:00:00.000Z"},
        {"id": 3, "statusCode": None, "headers": None, "body": "\"just a string\""},
    ]
    # No paging headers: the client must stop at the short page.
    return JSONResponse(items if page == 0 else [])


async def always_401(request: Request) -> Response:
    return Response(status_code=401)


def odd_server() -> Starlette:
    return Starlette(routes=[
        Route("/api/authenticate", authenticate, methods=["POST"]),
        Route(f"{API}/users/expired-everywhere/panorama-credentials", always_401),
        Route(f"{API}/users/{{user_id}}/panorama-credentials/events", events),
        Route(f"{API}/users/{{user_id}}/panorama-credentials", credential),
        Route(f"{API}/users/{{user_id}}", user),
    ])


@pytest_asyncio.fixture
async def client():
    leaf = LeafClient("http://odd.test", "owner", PASSWORD, retry=FAST_RETRY,
                      transport=httpx.ASGITransport(app=odd_server()))
    yield leaf
    await leaf.aclose()


async def failure(client: LeafClient, user_id: str) -> LeafError:
    with pytest.raises(LeafError) as caught:
        await client.get_user(user_id)
    return caught.value


def assert_plain(error: LeafError) -> None:
    """One sentence naming the action and the Leaf user, and no raw body in the message."""
    sentence = error.sentence()
    assert sentence.startswith("Could not load the Leaf user for ")
    assert sentence.endswith(".")
    assert "\n" not in sentence
    assert "<" not in error.message
    assert "{" not in error.message
    assert len(error.message) < 160


pytestmark = pytest.mark.asyncio


async def test_header_token_and_signin(client):
    await client.sign_in()
    assert client.signed_in
    assert client.token_expires_at is not None


async def test_empty_403_is_permission_denied(client):
    error = await failure(client, "forbidden")
    assert isinstance(error, PermissionDeniedError)
    assert error.status_code == 403
    assert error.leaf_user == "forbidden"
    assert "empty body" in error.details
    assert_plain(error)


async def test_proxy_html_is_server_error(client):
    error = await failure(client, "proxy-502")
    assert isinstance(error, ServerError)
    assert "proxy" in error.message
    assert "502 Bad Gateway" in error.details
    assert "<title>" not in error.details
    assert_plain(error)
    # 502 is retried for a GET until the attempts run out.
    assert client.requests_sent == 1 + FAST_RETRY.max_attempts


async def test_text_400_is_validation(client):
    error = await failure(client, "text-400")
    assert isinstance(error, ValidationError)
    assert error.field_errors == ()
    assert "Bad Request: something went wrong at line 2" in error.details
    assert_plain(error)


async def test_problem_400_field_errors(client):
    error = await failure(client, "problem-400")
    assert isinstance(error, ValidationError)
    assert error.error_key == "validation"
    assert error.for_field("email") == "must be valid"
    assert error.for_field("name") == "is invalid"
    assert len(error.field_errors) == 2
    assert "email" in error.message
    assert_plain(error)


async def test_other_json_409_is_conflict(client):
    error = await failure(client, "other-json-409")
    assert isinstance(error, ConflictError)
    assert error.error_key == "userClash"
    assert "duplicate" in error.details
    assert_plain(error)


@pytest.mark.parametrize("user_id", ["not-json", "array", "no-id", "redirect"])
async def test_unreadable_success_is_malformed(client, user_id):
    error = await failure(client, user_id)
    assert isinstance(error, MalformedResponseError)
    assert_plain(error)


async def test_unknown_4xx_is_leaf_error(client):
    error = await failure(client, "teapot")
    assert type(error) is LeafError
    assert error.status_code == 418
    assert_plain(error)


async def test_error_details_mask_secrets(client):
    error = await failure(client, "secret-500")
    assert isinstance(error, ServerError)
    assert LEAKED_TOKEN not in error.details
    assert LEAKED_TOKEN not in error.sentence()
    assert "[masked]" in error.details
    # 500 is not one of the retried statuses.
    assert client.requests_sent == 2


async def test_long_body_is_cut(client):
    error = await failure(client, "long-400")
    assert len(error.details) < 300


async def test_empty_404_is_not_found(client):
    error = await failure(client, "empty-404")
    assert isinstance(error, NotFoundError)
    assert "no user" in error.message
    assert_plain(error)


async def test_429_exhausted_is_rate_limited(client):
    seen: list[float | None] = []
    client.on_rate_limited = seen.append
    error = await failure(client, "limited")
    assert isinstance(error, RateLimitedError)
    assert error.retry_after == 0
    assert seen == [0.0] * FAST_RETRY.max_attempts
    assert client.rate_limited_count == FAST_RETRY.max_attempts
    assert_plain(error)


async def test_loose_user_fields(client):
    user = await client.get_user("loose")
    assert user.id == "12345"
    assert user.name == "Loose Farm"
    assert user.email is None
    assert user.external_id == "77"
    assert user.address == "1 Field Rd, Ames"
    assert user.panorama is not None
    assert user.panorama.id == "cred-1"
    assert user.panorama.status == "BRAND_NEW_STATUS"
    assert user.panorama.created_time is not None
    assert user.panorama.created_time.tzinfo is not None


async def test_embedded_id_only(client):
    user = await client.get_user("id-only")
    assert user.panorama is not None
    assert user.panorama.id == "cred-2"
    assert user.panorama.status is None

    bare = await client.get_user("bare-string-credential")
    assert bare.panorama is not None
    assert bare.panorama.id == "cred-3"


async def test_unknown_credential_status_kept(client):
    credential = await client.get_panorama_credential("anyone")
    assert credential is not None
    assert credential.status == "SOMETHING_LEAF_ADDED"
    assert credential.access_token == LEAKED_TOKEN
    assert LEAKED_TOKEN not in repr(credential)


async def test_events_loosely_typed(client):
    events = await client.list_panorama_events("anyone")
    assert [event.id for event in events] == ["2", "1", "3"]

    newest, older, undated = events
    assert newest.status_code == 400
    assert newest.body == {"__type": "NotAuthorizedException",
                           "message": "Refresh Token has expired"}
    assert newest.headers == {"Authorization": "[masked]"}
    assert LEAKED_TOKEN not in newest.raw_headers

    assert older.status_code == 200
    assert older.headers == "not json at all"
    assert older.raw_headers == "not json at all"
    assert older.body == {"AccessToken": "[masked]", "ExpiresIn": 3600}
    assert LEAKED_TOKEN not in older.raw_body

    assert undated.status_code is None
    assert undated.created_date is None
    assert undated.headers is None
    # JSON that is a bare string is not a structure to decode; the text is kept.
    assert undated.body == '"just a string"'


async def test_persistent_401_signs_in_once_more(client):
    with pytest.raises(SignedOutError) as caught:
        await client.get_panorama_credential("expired-everywhere")
    assert client.sign_in_count == 2
    assert caught.value.leaf_user == "expired-everywhere"
    assert "after signing in again" in caught.value.message


async def test_wrong_password_is_signed_out():
    leaf = LeafClient("http://odd.test", "owner", "wrong", retry=FAST_RETRY,
                      transport=httpx.ASGITransport(app=odd_server()))
    with pytest.raises(SignedOutError) as caught:
        await leaf.get_user("loose")
    await leaf.aclose()
    assert caught.value.message == "the username or password was not accepted"
    assert caught.value.sentence() == (
        "Could not load the Leaf user for loose: the username or password was not accepted."
    )
    assert caught.value.details.startswith("while signing in: ")
    assert "wrong" not in caught.value.details


async def test_direct_sign_in_failure_names_sign_in():
    leaf = LeafClient("http://odd.test", "owner", "wrong", retry=FAST_RETRY,
                      transport=httpx.ASGITransport(app=odd_server()))
    with pytest.raises(SignedOutError) as caught:
        await leaf.sign_in()
    await leaf.aclose()
    assert caught.value.sentence() == (
        "Could not sign in to Leaf: the username or password was not accepted."
    )


@pytest.mark.parametrize("status_code", ["Infinity", "1e400", float("inf"), "NaN", "abc"])
async def test_event_unreadable_status_code_is_none(status_code: object) -> None:
    event = parse_event({"id": 7, "statusCode": status_code}, "u-1")
    assert event.id == "7"
    assert event.status_code is None
