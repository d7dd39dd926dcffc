"""The page a one-click `signInUrl` opens: the sandbox's stand-in for Panorama's share approval.

The page names the partner application that requests the operation's data and offers Approve
and Decline. After the grower's choice, it states plainly what happened. [ours: Leaf's real flow runs
through Panorama's own pages]
"""

from __future__ import annotations

import html
import logging

from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

from .clock import iso_utc
from .state import SandboxState
from .store import Share

log = logging.getLogger(__name__)

_STYLE = """
body { font-family: system-ui, sans-serif; background: #f4f6f2; color: #1f2a1c; margin: 0; }
main { max-width: 34rem; margin: 3rem auto; background: #fff; padding: 2rem 2.5rem;
       border-radius: 10px; box-shadow: 0 2px 10px rgba(0,0,0,.08); }
h1 { font-size: 1.4rem; margin-top: 0; }
.note { color: #5a6656; font-size: .9rem; }
form { display: inline-block; margin-right: .8rem; }
button { font-size: 1rem; padding: .6rem 1.4rem; border-radius: 6px; border: 1px solid #2f6b2a;
         cursor: pointer; }
.approve { background: #2f6b2a; color: #fff; }
.decline { background: #fff; color: #2f6b2a; }
"""


def _page(title: str, body: str, status: int = 200) -> HTMLResponse:
    document = (
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>"
        f"<title>{html.escape(title)}</title><style>{_STYLE}</style></head>"
        f"<body><main><h1>{html.escape(title)}</h1>{body}"
        "<p class='note'>Leaf sandbox: this page stands in for Precision Planting Panorama's "
        "share approval.</p></main></body></html>"
    )
    return HTMLResponse(document, status_code=status)


def _app_name(state: SandboxState, share: Share) -> str:
    key = state.store.app_key_for_client(share.client_id, share.environment)
    return key.app_name if key is not None else f"Panorama client {share.client_id}"


def _find(request: Request) -> tuple[SandboxState, Share | None]:
    state: SandboxState = request.app.state.sandbox
    state.catch_up()
    return state, state.store.shares.get(request.path_params["share_id"])


def _not_found() -> HTMLResponse:
    return _page("Sharing request not found",
                 "<p>This link does not match any sharing request. Ask the person who sent it "
                 "for a new one.</p>", 404)


def _outcome_page(state: SandboxState, share: Share, outcome: str) -> HTMLResponse:
    user = state.store.users.get(share.user_id)
    farm = html.escape(user.name) if user else "this operation"
    app = html.escape(_app_name(state, share))
    if outcome == "approved":
        return _page("Sharing approved",
                     f"<p>You approved sharing {farm}'s Panorama data with {app}. Leaf has "
                     "attached the connection. You can close this window.</p>")
    if outcome == "declined":
        return _page("Sharing declined",
                     f"<p>You declined. {app} gets no access to {farm}'s Panorama data, and "
                     "nothing was connected. You can close this window.</p>")
    if outcome == "expired":
        return _page("Sharing request expired",
                     f"<p>This request expired at {iso_utc(share.expires)} UTC and can no longer "
                     "connect anything. Ask for a new link if you still want to share.</p>", 410)
    if outcome == "already connected":
        return _page("Already connected",
                     f"<p>{farm} was already connected to Panorama in Leaf, so this request "
                     "changed nothing.</p>", 409)
    return _page("Sharing request closed",
                 "<p>The Leaf user this request was for no longer exists, so nothing was "
                 "connected.</p>", 410)


async def show_share(request: Request) -> Response:
    state, share = _find(request)
    if share is None:
        return _not_found()
    if share.outcome is not None:
        return _outcome_page(state, share, share.outcome)
    if share.expires <= state.clock.now():
        return _outcome_page(state, share, "expired")

    user = state.store.users.get(share.user_id)
    farm = html.escape(user.name) if user else "your operation"
    organization = html.escape(user.organization_code) if user else ""
    app = html.escape(_app_name(state, share))
    action = f"/panorama-share/{html.escape(share.id)}"
    body = (
        f"<p><strong>{app}</strong> asks to read the Panorama data of <strong>{farm}</strong> "
        f"(organization {organization}, {html.escape(share.environment)}) through Leaf.</p>"
        f"<p>The request expires at {iso_utc(share.expires)} UTC.</p>"
        f"<form method='post' action='{action}/approve'>"
        "<button class='approve' type='submit'>Approve</button></form>"
        f"<form method='post' action='{action}/decline'>"
        "<button class='decline' type='submit'>Decline</button></form>"
    )
    return _page("Share your Panorama data?", body)


async def approve_share(request: Request) -> Response:
    return await _answer(request, approve=True)


async def decline_share(request: Request) -> Response:
    return await _answer(request, approve=False)


async def _answer(request: Request, approve: bool) -> Response:
    state, share = _find(request)
    if share is None:
        return _not_found()
    result = state.answer_share(share, approve)
    state.save_if_due()
    return _outcome_page(state, share, result.outcome)


ROUTES = [
    Route("/panorama-share/{share_id}", show_share, methods=["GET"]),
    Route("/panorama-share/{share_id}/approve", approve_share, methods=["POST"]),
    Route("/panorama-share/{share_id}/decline", decline_share, methods=["POST"]),
]
