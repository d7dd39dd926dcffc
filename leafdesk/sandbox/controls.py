"""Test controls under `/_sandbox/`, present only when the sandbox runs with controls on.

They let client and window tests reset the data, set a credential's status, approve or decline
a pending one-click, move the clock and switch faults, all as JSON in and out. Faults and rate
limits never apply here.
"""

from __future__ import annotations

import logging
import math
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from .clock import iso_utc
from .config import EMBED_MODES, FAULT_KINDS
from .leaf_routes import credential_or_404, user_or_404
from .problems import ProblemError, check_uuid, read_json_object
from .render import credential_json
from .state import SandboxState

log = logging.getLogger(__name__)

# One advance may move the clock ten years; dates must stay within what datetime can format.
MAX_ADVANCE_SECONDS = 10 * 366 * 24 * 3600


def _state(request: Request) -> SandboxState:
    state: SandboxState = request.app.state.sandbox
    state.catch_up()
    return state


def _is_number(value: object) -> bool:
    """Return whether `value` is a finite JSON number (not a boolean, NaN or Infinity)."""
    return (isinstance(value, (int, float)) and not isinstance(value, bool)
            and math.isfinite(value))


def _clock_json(state: SandboxState) -> dict[str, Any]:
    return {"now": iso_utc(state.clock.now()), "epochSeconds": state.clock.now(),
            "speed": state.clock.speed, "advancedSeconds": state.clock.advanced}


async def reset(request: Request) -> Response:
    state = _state(request)
    state.reset()
    log.info("sandbox reset by a test control")
    return JSONResponse(_state_json(state))


async def set_status(request: Request) -> Response:
    state = _state(request)
    user = user_or_404(state, request.path_params["user_id"])
    credential_or_404(user)
    body = await read_json_object(request)
    status = body.get("status")
    if not isinstance(status, str) or not status.strip():
        raise ProblemError(400, "Send {\"status\": \"...\"} with a non-blank string.",
                           error_key="statusInvalid")
    credential = state.set_status(user, status)
    state.save_if_due()
    return JSONResponse(credential_json(credential))


async def list_one_clicks(request: Request) -> Response:
    state = _state(request)
    now = state.clock.now()
    return JSONResponse([
        {"shareId": share.id, "leafUserId": share.user_id, "expiresAt": iso_utc(share.expires),
         "clientEnvironment": share.environment, "clientId": share.client_id}
        for share in state.store.pending_shares(now)
    ])


async def approve_one_click(request: Request) -> Response:
    return await _answer_one_click(request, approve=True)


async def decline_one_click(request: Request) -> Response:
    return await _answer_one_click(request, approve=False)


async def _answer_one_click(request: Request, approve: bool) -> Response:
    state = _state(request)
    user_id = check_uuid(request.path_params["user_id"], "Leaf user id")
    share = state.store.newest_pending_share(user_id, state.clock.now())
    if share is None:
        raise ProblemError(404, f"Leaf user {user_id} has no pending one-click share.",
                           error_key="shareNotFound")
    result = state.answer_share(share, approve)
    state.save_if_due()
    outcome: dict[str, Any] = {"shareId": share.id, "leafUserId": share.user_id,
                              "outcome": result.outcome}
    if result.credential is not None:
        outcome["credential"] = credential_json(result.credential)
    return JSONResponse(outcome)


async def advance_clock(request: Request) -> Response:
    state = _state(request)
    body = await read_json_object(request)
    seconds = body.get("seconds")
    if not _is_number(seconds) or not 0 <= seconds <= MAX_ADVANCE_SECONDS:
        raise ProblemError(400, "Send {\"seconds\": N} with N a number from 0 to "
                           f"{MAX_ADVANCE_SECONDS} (ten years).", error_key="secondsInvalid")
    state.clock.advance(float(seconds))
    state.catch_up()
    state.dirty = True
    state.save_if_due()
    log.info("sandbox clock advanced by %s s", seconds)
    return JSONResponse(_clock_json(state))


async def set_faults(request: Request) -> Response:
    state = _state(request)
    body = await read_json_object(request)
    knobs = state.knobs
    errors: list[str] = []
    updates: dict[str, Any] = {}

    if "fault_rate" in body:
        rate = body["fault_rate"]
        if not _is_number(rate) or not 0 <= rate <= 1:
            errors.append("fault_rate must be a number from 0 to 1")
        else:
            updates["fault_rate"] = float(rate)
    if "faults" in body:
        kinds = body["faults"]
        if not isinstance(kinds, list) or any(kind not in FAULT_KINDS for kind in kinds):
            errors.append(f"faults must be a list drawn from {', '.join(FAULT_KINDS)}")
        else:
            updates["faults"] = tuple(kinds)
    if "rate_limit" in body:
        limit = body["rate_limit"]
        if limit is not None and (not _is_number(limit) or limit <= 0):
            errors.append("rate_limit must be a number above 0, or null for no limit")
        else:
            updates["rate_limit"] = None if limit is None else float(limit)
    for name in ("latency_ms", "latency_jitter_ms", "slow_seconds"):
        if name in body:
            value = body[name]
            if not _is_number(value) or value < 0:
                errors.append(f"{name} must be a number of 0 or more")
            else:
                updates[name] = float(value)
    if "embed_credentials" in body:
        if body["embed_credentials"] not in EMBED_MODES:
            errors.append("embed_credentials must be \"full\" or \"id\"")
        else:
            updates["embed_credentials"] = body["embed_credentials"]
    unknown = sorted(set(body) - {"fault_rate", "faults", "rate_limit", "latency_ms",
                                  "latency_jitter_ms", "slow_seconds", "embed_credentials"})
    if unknown:
        errors.append(f"unknown settings: {', '.join(unknown)}")
    if errors:
        raise ProblemError(400, "; ".join(errors) + ".", error_key="faultsInvalid")

    for name, value in updates.items():
        setattr(knobs, name, value)
    request.app.state.rate_limiter.reset()
    log.info("sandbox knobs changed: %s", updates)
    return JSONResponse(knobs.as_json())


async def get_faults(request: Request) -> Response:
    return JSONResponse(_state(request).knobs.as_json())


def _state_json(state: SandboxState) -> dict[str, Any]:
    statuses: dict[str, int] = {}
    events = 0
    for user_id in state.store.connected:
        credential = state.store.users[user_id].credential
        if credential is None:
            continue
        statuses[credential.status] = statuses.get(credential.status, 0) + 1
        events += len(credential.events)
    return {
        "users": len(state.store.users),
        "credentials": {"total": sum(statuses.values()), "byStatus": statuses},
        "events": events,
        "pendingOneClicks": len(state.store.pending_shares(state.clock.now())),
        "appKeys": len(state.store.app_keys),
        "clock": _clock_json(state),
        "knobs": state.knobs.as_json(),
    }


async def get_state(request: Request) -> Response:
    return JSONResponse(_state_json(_state(request)))


ROUTES = [
    Route("/_sandbox/reset", reset, methods=["POST"]),
    Route("/_sandbox/users/{user_id}/panorama-status", set_status, methods=["POST"]),
    Route("/_sandbox/one-clicks", list_one_clicks, methods=["GET"]),
    Route("/_sandbox/one-clicks/{user_id}/approve", approve_one_click, methods=["POST"]),
    Route("/_sandbox/one-clicks/{user_id}/decline", decline_one_click, methods=["POST"]),
    Route("/_sandbox/clock/advance", advance_clock, methods=["POST"]),
    Route("/_sandbox/faults", set_faults, methods=["POST"]),
    Route("/_sandbox/faults", get_faults, methods=["GET"]),
    Route("/_sandbox/state", get_state, methods=["GET"]),
]
