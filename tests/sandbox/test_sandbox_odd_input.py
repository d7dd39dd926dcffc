"""Odd input on every route gets a 4xx problem, never a 500 or a traceback."""

from __future__ import annotations

import json
import random

import pytest
from sandbox_helpers import API, connected_user

pytestmark = pytest.mark.asyncio

ODD_VALUES = [None, True, 0, -1, 10**30, 1.5, "", " ", "\u00e9\u4e2d\U0001f33e", "x" * 5000,
              [], [1, 2], {}, {"a": {"b": [None]}}, "STAGE", "00000000-0000-0000-0000-000000000000"]
BODY_FIELDS = ["username", "password", "rememberMe", "name", "email", "phone", "address",
               "externalId", "id", "clientId", "organizationCode", "refreshToken",
               "clientEnvironment", "sharingUrlId", "panoramaCredentials", "status", "seconds",
               "fault_rate", "faults", "rate_limit", "latency_ms", "embed_credentials"]
QUERY_VALUES = ["", "-1", "abc", "1e9", "99999999999999999999", "name,", ",asc", "\u00e9",
                "id,asc,extra", "size"]


def odd_body(rng: random.Random) -> bytes:
    roll = rng.random()
    if roll < 0.1:
        return bytes(rng.randrange(256) for _ in range(rng.randrange(1, 40)))
    if roll < 0.2:
        return json.dumps(rng.choice(ODD_VALUES)).encode()
    body = {name: rng.choice(ODD_VALUES) for name in rng.sample(BODY_FIELDS, rng.randint(1, 8))}
    return json.dumps(body).encode()


async def test_odd_input_never_500(client):
    rng = random.Random(2024)
    user = await connected_user(client)
    user_paths = [user["id"], "not-a-uuid", "00000000-0000-0000-0000-000000000000",
                  "%00", "\u00e9"]
    # The faults control is left out: odd but valid knob values would switch faults on.
    templates = [
        ("POST", "/api/authenticate"),
        ("GET", f"{API}/users"), ("POST", f"{API}/users"), ("PUT", f"{API}/users"),
        ("GET", f"{API}/users/{{id}}"), ("DELETE", f"{API}/users/{{id}}"),
        ("GET", f"{API}/users/{{id}}/panorama-credentials"),
        ("POST", f"{API}/users/{{id}}/panorama-credentials"),
        ("DELETE", f"{API}/users/{{id}}/panorama-credentials"),
        ("GET", f"{API}/users/{{id}}/panorama-credentials/events"),
        ("POST", f"{API}/users/{{id}}/one-click-integration/Panorama"),
        ("GET", f"{API}/app-keys/Panorama"),
        ("GET", f"{API}/app-keys/Panorama/{{id}}/STAGE"),
        ("POST", f"{API}/app-keys/Panorama/{{id}}/{{id}}"),
        ("DELETE", f"{API}/app-keys/Panorama/x/{{id}}"),
        ("GET", "/panorama-share/{id}"), ("POST", "/panorama-share/{id}/approve"),
        ("POST", "/_sandbox/users/{id}/panorama-status"),
        ("POST", "/_sandbox/one-clicks/{id}/approve"),
        ("POST", "/_sandbox/clock/advance"),
        ("GET", "/_sandbox/state"),
    ]
    statuses = set()
    for _ in range(600):
        method, template = rng.choice(templates)
        path = template.replace("{id}", rng.choice(user_paths))
        params = {name: rng.choice(QUERY_VALUES)
                  for name in rng.sample(["page", "size", "sort", "name", "email", "externalId"],
                                         rng.randint(0, 3))}
        content = odd_body(rng) if method in ("POST", "PUT") else None
        response = await client.request(method, path, params=params, content=content)
        statuses.add(response.status_code)
        assert response.status_code < 500, (method, path, params, content, response.text)
        assert "Traceback" not in response.text
    assert {400, 404} <= statuses
