"""Seeded demo data: farm operations as Leaf users, their Panorama credentials and event logs.

The same seed and size give the same users, ids, credentials and events; dates are laid out
relative to the sandbox clock's `now`. Names read like farm operations and e-mails use example
domains, so no real person or business is named.
"""

from __future__ import annotations

import random

from .clock import DATE_MICROS_Z
from .config import ENVIRONMENTS, DemoLogins
from .events import credential_date_form, make_event, new_id
from .store import AppKey, Credential, Store, User, hash_password

DAY = 24 * 3600

_FIRST = ("Cedar", "Willow", "Prairie", "Oak", "Maple", "Birch", "Aspen", "Cottonwood", "Elm",
          "Hickory", "Walnut", "Sycamore", "Pine", "Juniper", "Clover", "Meadow", "Stone",
          "Red", "Silver", "Golden", "Green", "Blue", "North", "South", "East", "West", "Big",
          "Little", "Hidden", "Windy", "Sunny", "Misty", "Rolling", "Twin", "Three", "Lone",
          "High", "Deer", "Fox", "Hawk", "Eagle", "Heron", "Bison", "Quail", "Crane", "Kestrel")
_SECOND = ("Creek", "Ridge", "Valley", "Hollow", "Bend", "Hill", "Springs", "Meadows", "Prairie",
           "Fork", "River", "Lake", "Grove", "Field", "Bluff", "Plains", "Pond", "Run",
           "Crossing", "Point", "Acres", "Knoll", "Draw", "Flats", "Brook", "Mill", "Gap")
_KIND = ("Farms", "Farm", "Acres", "Grain Co.", "Ag", "Ranch", "Family Farms", "Seed & Grain",
         "Agronomy", "Land & Cattle", "Growers", "Farming Partnership", "Produce", "Orchards")
_TOWNS = (("Millbrook", "IA"), ("Harlan Springs", "NE"), ("Ashford", "IL"), ("Kettle Falls", "MN"),
          ("Brandon Ridge", "SD"), ("Fairview", "KS"), ("Oakdale", "OH"), ("Pine Bluff", "IN"),
          ("Riverton", "MO"), ("Cedar Point", "WI"), ("Greenfield", "ND"), ("Wheatland", "MT"),
          ("Maple Grove", "MI"), ("Elm Creek", "NE"), ("Prairie View", "TX"),
          ("Stone Mill", "KY"), ("Willow Lake", "SD"), ("Walnut Hill", "IA"),
          ("Sunfield", "IL"), ("Clearwater", "MN"))
_ROADS = ("County Road", "Township Road", "Rural Route", "State Highway", "Gravel Road")
_MAILBOXES = ("office", "info", "farm", "accounts", "agronomy", "ops", "hello")
_DOMAINS = ("example.com", "example.org", "example.net")

CONNECTED_SHARE = 0.6
_STATUS_WEIGHTS = (("OK", 0.78), ("UNAUTHENTICATED", 0.09), ("MISSING_PERMISSION", 0.06),
                   ("TEMPORARILY_UNAVAILABLE", 0.07))


def install_demo_partners(store: Store, now: float, logins: DemoLogins) -> None:
    """Register the partner logins with Panorama and one app key per environment."""
    for environment in ENVIRONMENTS:
        partner = logins.partners[environment]
        password_hash = hash_password(partner.password)
        store.add_partner_account(partner.client_id, environment, partner.username,
                                  password_hash)
        store.app_keys[(partner.app_name, environment)] = AppKey(
            app_name=partner.app_name, environment=environment, client_id=partner.client_id,
            username=partner.username, password_hash=password_hash,
            sharing_url_id=partner.sharing_url_id, created=now - 400 * DAY)


def generate(store: Store, users: int, seed: int, now: float, logins: DemoLogins) -> None:
    """Fill an empty store with `users` demo users and their credentials, seeded by `seed`."""
    rng = random.Random(seed)
    install_demo_partners(store, now, logins)

    used_names: set[str] = set()
    new_users: list[User] = []
    for number in range(users):
        user = _make_user(rng, number, now, used_names)
        if rng.random() < CONNECTED_SHARE:
            user.credential = _make_credential(rng, user, now, logins)
        new_users.append(user)
    store.load_users(new_users)


def _farm_name(rng: random.Random, used_names: set[str]) -> str:
    name = f"{rng.choice(_FIRST)} {rng.choice(_SECOND)} {rng.choice(_KIND)}"
    if name not in used_names:
        used_names.add(name)
        return name
    # Large demo sizes run out of plain combinations, so a numbered division keeps names unique.
    suffix = 2
    while f"{name} No. {suffix}" in used_names:
        suffix += 1
    name = f"{name} No. {suffix}"
    used_names.add(name)
    return name


def _make_user(rng: random.Random, number: int, now: float, used_names: set[str]) -> User:
    name = _farm_name(rng, used_names)
    slug = "".join(ch for ch in name.lower().replace("&", "and") if ch.isalnum() or ch == " ")
    slug = "-".join(slug.split()[:3])
    town, state = rng.choice(_TOWNS)
    external_id = f"CRM-{100000 + number:06d}" if rng.random() < 0.85 else None
    return User(
        id=new_id(rng),
        name=name,
        email=f"{rng.choice(_MAILBOXES)}@{slug}.{rng.choice(_DOMAINS)}",
        phone=f"+1-{rng.randint(200, 989)}-555-01{rng.randint(0, 99):02d}",
        address=f"{rng.randint(100, 39999)} {rng.choice(_ROADS)} {rng.randint(1, 350)}, "
                f"{town}, {state} {rng.randint(50000, 69999)}",
        external_id=external_id,
        created=now - rng.uniform(31 * DAY, 900 * DAY),
        organization_code=_organization_code(rng),
    )


def _organization_code(rng: random.Random) -> str:
    letters = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
    return "PP-" + "".join(rng.choice(letters) for _ in range(6))


def _pick_status(rng: random.Random) -> str:
    roll = rng.random()
    for status, weight in _STATUS_WEIGHTS:
        if roll < weight:
            return status
        roll -= weight
    return "OK"


def _make_credential(rng: random.Random, user: User, now: float,
                     logins: DemoLogins) -> Credential:
    environment = "STAGE" if rng.random() < 0.15 else "PRODUCTION"
    partner = logins.partners[environment]
    created = rng.uniform(user.created + DAY, now - DAY)
    status = _pick_status(rng)
    credential = Credential(
        id=new_id(rng), status=status, created=created,
        date_form=credential_date_form(rng) if rng.random() < 0.9 else DATE_MICROS_Z,
        client_id=partner.client_id, username=partner.username,
        organization_code=user.organization_code, environment=environment,
    )
    _fill_history(rng, credential, now)
    return credential


def _fill_history(rng: random.Random, credential: Credential, now: float) -> None:
    """Lay out about 30 days of events that end in the credential's current status."""
    window_start = max(credential.created, now - 30 * DAY + 3600)
    if credential.created >= window_start:
        credential.events.append(make_event("token_refreshed", credential.created, rng))

    # The moment things went wrong, for a credential that is not OK now.
    broke_at = now if credential.status == "OK" else rng.uniform(
        max(window_start, now - 10 * DAY), now - 1800)

    # Routine token refreshes every few days until then; some OK ones lived through an outage.
    moment = window_start + rng.uniform(0, 3 * DAY)
    had_outage = credential.status == "OK" and rng.random() < 0.15
    while moment < broke_at:
        if had_outage and rng.random() < 0.3:
            kind = rng.choice(("provider_unavailable", "cognito_internal_error"))
            credential.events.append(make_event(kind, moment, rng))
            moment += rng.uniform(1800, 6 * 3600)
            had_outage = False
            if moment >= broke_at:
                break
        credential.events.append(make_event("token_refreshed", moment, rng))
        moment += rng.uniform(2 * DAY, 5 * DAY)

    if credential.status == "OK":
        return
    kinds = {
        "UNAUTHENTICATED": ("refresh_token_expired", "refresh_token_expired",
                            "refresh_token_revoked", "password_reset_required"),
        "MISSING_PERMISSION": ("sharing_revoked", "permission_missing"),
        "TEMPORARILY_UNAVAILABLE": ("provider_unavailable", "cognito_internal_error",
                                    "cognito_throttled"),
    }[credential.status]
    kind = rng.choice(kinds)
    # Leaf keeps trying a broken credential, so the same failure repeats a few times.
    moment = broke_at
    for _ in range(rng.randint(1, 4)):
        if moment >= now:
            break
        credential.events.append(make_event(kind, moment, rng))
        moment += rng.uniform(3600, 2 * DAY)
