"""Seeded demo data: determinism, proportions, and how it reads."""

from __future__ import annotations

import json
import re

import pytest

from leafdesk.sandbox import DEMO, DemoLogins, SandboxConfig, create_app


def dump(seed: int, users: int = 250) -> list[tuple]:
    """Everything seeded about the data, leaving out times (they follow the start moment)."""
    store = create_app(SandboxConfig(users=users, seed=seed, health=False)).state.sandbox.store
    rows = []
    for user in sorted(store.users.values(), key=lambda u: u.id):
        credential = user.credential
        rows.append((
            user.id, user.name, user.email, user.phone, user.address, user.external_id,
            user.organization_code,
            None if credential is None else (
                credential.id, credential.status, credential.environment, credential.client_id,
                tuple((e.id, e.status_code, e.body) for e in credential.events)),
        ))
    return rows


def test_same_seed_same_data():
    assert dump(7) == dump(7)


def test_other_seed_other_data():
    first, second = dump(7), dump(8)
    assert {row[0] for row in first}.isdisjoint({row[0] for row in second})


def test_demo_proportions():
    store = create_app(SandboxConfig(users=250, seed=1)).state.sandbox.store
    assert len(store.users) == 250
    connected = [store.users[i].credential for i in store.connected]
    assert 0.5 <= len(connected) / 250 <= 0.7
    statuses = [credential.status for credential in connected]
    assert statuses.count("OK") / len(statuses) > 0.6
    for status in ("UNAUTHENTICATED", "MISSING_PERMISSION", "TEMPORARILY_UNAVAILABLE"):
        assert status in statuses


def test_demo_users_read_like_farms():
    store = create_app(SandboxConfig(users=250, seed=1)).state.sandbox.store
    names = [user.name for user in store.users.values()]
    assert len(set(names)) == len(names)
    for user in store.users.values():
        assert re.search(r"@[a-z0-9-]+\.example\.(com|org|net)$", user.email), user.email
        assert "555-01" in user.phone
        assert user.organization_code.startswith("PP-")
    with_external = [user for user in store.users.values() if user.external_id]
    assert len(with_external) > 150


def test_names_stay_unique_at_scale():
    store = create_app(SandboxConfig(users=20000, seed=2, health=False)).state.sandbox.store
    names = [user.name for user in store.users.values()]
    assert len(set(names)) == len(names)


def test_events_match_status():
    store = create_app(SandboxConfig(users=250, seed=1)).state.sandbox.store
    bodies = []
    for user_id in store.connected:
        credential = store.users[user_id].credential
        now_ish = max((e.created for e in credential.events), default=None)
        if credential.events:
            newest = credential.events[-1]
            assert newest.created == now_ish
            if credential.status == "OK":
                assert newest.status_code in (200,)
            if credential.status == "UNAUTHENTICATED":
                assert newest.status_code == 400
            if credential.status == "MISSING_PERMISSION":
                assert newest.status_code == 403
        bodies += [e.body for e in credential.events]
    text = "\n".join(bodies)
    assert "Refresh Token has expired" in text
    assert "NotAuthorizedException" in text
    assert "403" in text
    assert "503 Service Temporarily Unavailable" in text
    for body in bodies:
        json.loads(body)


def test_one_app_key_per_environment():
    store = create_app(SandboxConfig(users=1)).state.sandbox.store
    keys = sorted(store.app_keys.values(), key=lambda key: key.environment)
    assert [key.environment for key in keys] == ["PRODUCTION", "STAGE"]
    for key in keys:
        assert key.sharing_url_id == DEMO.partners[key.environment].sharing_url_id
        assert key.client_id == DEMO.partners[key.environment].client_id


def test_demo_logins_fixed():
    assert DEMO.owner_username == "demo@leafdesk.example"
    assert DEMO.owner_password == "leafdesk-demo"
    assert set(DEMO.partners) == {"STAGE", "PRODUCTION"}
    for partner in DEMO.partners.values():
        assert partner.username.endswith(".example")
        assert re.fullmatch(r"[0-9a-f-]{36}", partner.sharing_url_id)


def test_logins_need_both_environments():
    with pytest.raises(ValueError, match="STAGE"):
        SandboxConfig(logins=DemoLogins("a", "b", {"STAGE": DEMO.partners["STAGE"]}))
