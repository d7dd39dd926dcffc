"""The `--state FILE` format: the sandbox's data as JSON, written atomically.

The file contains no secret: partner passwords are kept only as salted hashes, and credential
tokens are not written at all, so a restarted sandbox hands out new token values for the same
credentials. Repeated event texts are stored once in a table and referred to by position.
"""

from __future__ import annotations

import json
import os
import random
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .credential_check import PendingCheck
from .events import EVENT_KINDS
from .store import AppKey, Credential, Event, Share, Store, User

if TYPE_CHECKING:
    from .state import SandboxState

FORMAT_VERSION = 1


class StateFileError(Exception):
    """The state file cannot be read as a sandbox state."""


def save(state: SandboxState, path: Path) -> None:
    texts: dict[str, int] = {}

    def text_ref(value: str) -> int:
        return texts.setdefault(value, len(texts))

    users = [_user_to_json(user, text_ref) for user in state.store.users.values()]
    document = {
        "format": "leafdesk-sandbox-state",
        "version": FORMAT_VERSION,
        "seed": state.config.seed,
        "clockAdvanced": state.clock.advanced,
        "healthLastStep": state.health_last_step,
        "recoveries": state.recoveries,
        "pendingChecks": [
            {"userId": user_id, "credentialId": check.credential_id, "due": check.due,
             "kind": check.kind}
            for user_id, check in state.pending_checks.items()
        ],
        "users": users,
        "texts": list(texts),
        "appKeys": [
            {"appName": key.app_name, "environment": key.environment,
             "clientId": key.client_id, "username": key.username,
             "passwordHash": key.password_hash, "sharingUrlId": key.sharing_url_id,
             "created": key.created}
            for key in state.store.app_keys.values()
        ],
        "partnerAccounts": [
            {"clientId": client_id, "environment": environment, "username": username,
             "passwordHash": password_hash}
            for (client_id, environment), (username, password_hash)
            in state.store.partner_accounts.items()
        ],
        "shares": [
            {"id": share.id, "userId": share.user_id, "clientId": share.client_id,
             "username": share.username, "environment": share.environment,
             "created": share.created, "expires": share.expires, "outcome": share.outcome,
             "answered": share.answered}
            for share in state.store.shares.values()
        ],
    }
    _write_atomically(path, json.dumps(document, separators=(",", ":")))


def _user_to_json(user: User, text_ref) -> dict[str, Any]:
    data: dict[str, Any] = {
        "id": user.id, "name": user.name, "email": user.email, "phone": user.phone,
        "address": user.address, "externalId": user.external_id, "created": user.created,
        "organizationCode": user.organization_code,
    }
    credential = user.credential
    if credential is not None:
        data["credential"] = {
            "id": credential.id, "status": credential.status, "created": credential.created,
            "dateForm": credential.date_form, "clientId": credential.client_id,
            "username": credential.username, "organizationCode": credential.organization_code,
            "environment": credential.environment,
            "events": [[event.id, event.created, event.date_form, event.status_code,
                        text_ref(event.headers), text_ref(event.body)]
                       for event in credential.events],
        }
    return data


def _write_atomically(path: Path, text: str) -> None:
    """Write to a temporary file beside `path`, then rename it over `path`."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=path.name + ".", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as stream:
            stream.write(text)
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def load(state: SandboxState, path: Path) -> None:
    """Fill `state` from a state file, raising StateFileError when it is not one."""
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise StateFileError(f"cannot read sandbox state file {path}: {error}") from error
    if not isinstance(document, dict) or document.get("format") != "leafdesk-sandbox-state":
        raise StateFileError(f"{path} is not a LeafDesk sandbox state file")
    if document.get("version") != FORMAT_VERSION:
        raise StateFileError(
            f"{path} has state format version {document.get('version')}, "
            f"this sandbox reads version {FORMAT_VERSION}")
    try:
        _fill(state, document)
    # AttributeError covers a field of the wrong JSON type, such as a list where an object belongs.
    except (AttributeError, KeyError, TypeError, ValueError, IndexError) as error:
        raise StateFileError(f"sandbox state file {path} is damaged: {error!r}") from error


def _fill(state: SandboxState, document: dict[str, Any]) -> None:
    texts: list[str] = document["texts"]
    store = Store()
    users = []
    for data in document["users"]:
        user = User(id=data["id"], name=data["name"], email=data["email"], phone=data["phone"],
                    address=data["address"], external_id=data["externalId"],
                    created=float(data["created"]), organization_code=data["organizationCode"])
        stored = data.get("credential")
        if stored is not None:
            credential = Credential(
                id=stored["id"], status=stored["status"], created=float(stored["created"]),
                date_form=int(stored["dateForm"]), client_id=stored["clientId"],
                username=stored["username"], organization_code=stored["organizationCode"],
                environment=stored["environment"])
            credential.events = [
                Event(event_id, float(created), int(form), int(code), texts[headers],
                      texts[body])
                for event_id, created, form, code, headers, body in stored["events"]
            ]
            user.credential = credential
        users.append(user)
    store.load_users(users)

    for data in document["appKeys"]:
        store.app_keys[(data["appName"], data["environment"])] = AppKey(
            app_name=data["appName"], environment=data["environment"],
            client_id=data["clientId"], username=data["username"],
            password_hash=data["passwordHash"], sharing_url_id=data["sharingUrlId"],
            created=float(data["created"]))
    for data in document["partnerAccounts"]:
        store.add_partner_account(data["clientId"], data["environment"], data["username"],
                                  data["passwordHash"])
    for data in document["shares"]:
        share = Share(id=data["id"], user_id=data["userId"], client_id=data["clientId"],
                      username=data["username"], environment=data["environment"],
                      created=float(data["created"]), expires=float(data["expires"]),
                      outcome=data["outcome"], answered=data["answered"])
        store.shares[share.id] = share

    state.store = store
    state.clock.advanced = float(document["clockAdvanced"])
    state.health_last_step = float(document["healthLastStep"])
    state.recoveries = {key: float(value) for key, value in document["recoveries"].items()}
    # Files written before the background check existed have no pending checks.
    state.pending_checks = {}
    for data in document.get("pendingChecks", []):
        if data["kind"] not in EVENT_KINDS:
            raise ValueError(f"unknown event kind {data['kind']!r} in a pending check")
        state.pending_checks[data["userId"]] = PendingCheck(
            data["credentialId"], float(data["due"]), data["kind"])
    state.health_rng = random.Random(f"{document['seed']}:{state.health_last_step}")
