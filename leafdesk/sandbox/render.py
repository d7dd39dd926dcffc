"""JSON shapes of what the sandbox returns: users, credentials, events, app keys."""

from __future__ import annotations

from typing import Any

from .clock import format_date
from .store import AppKey, Credential, Event, User


def user_json(user: User, owner_username: str, embed: str) -> dict[str, Any]:
    """Render a Leaf user; `embed` is "full" (id, status, createdTime) or "id" for the credential."""
    data: dict[str, Any] = {
        "id": user.id,
        "name": user.name,
        "email": user.email,
        "phone": user.phone,
        "address": user.address,
        "externalId": user.external_id,
        "apiOwnerUsername": owner_username,
    }
    credential = user.credential
    if credential is not None:
        # The embedded credential never carries tokens. [ours]
        if embed == "id":
            data["panoramaCredentials"] = {"id": credential.id}
        else:
            data["panoramaCredentials"] = {
                "id": credential.id,
                "status": credential.status,
                "createdTime": format_date(credential.created, credential.date_form),
            }
    return data


def credential_json(credential: Credential) -> dict[str, Any]:
    """The credential as its own route returns it; the password is never echoed."""
    return {
        "id": credential.id,
        "status": credential.status,
        "createdTime": format_date(credential.created, credential.date_form),
        "clientId": credential.client_id,
        "username": credential.username,
        "organizationCode": credential.organization_code,
        "clientEnvironment": credential.environment,
        "accessToken": credential.access_token,
        "refreshToken": credential.refresh_token,
    }


def event_json(event: Event) -> dict[str, Any]:
    return {
        "id": event.id,
        "statusCode": event.status_code,
        "headers": event.headers,
        "body": event.body,
        "createdDate": format_date(event.created, event.date_form),
    }


def app_key_json(key: AppKey) -> dict[str, Any]:
    """Render an app key with everything but the password. [ours]"""
    return {
        "appName": key.app_name,
        "clientEnvironment": key.environment,
        "clientId": key.client_id,
        "username": key.username,
        "sharingUrlId": key.sharing_url_id,
        "createdTime": format_date(key.created),
    }
