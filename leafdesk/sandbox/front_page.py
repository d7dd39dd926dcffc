"""The page at the sandbox's root URL, for a person who opens the printed address in a browser:
what this server is, where the API lives and which demo logins it accepts."""

from __future__ import annotations

import html

from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

from .config import ENVIRONMENTS


async def front_page(request: Request) -> Response:
    config = request.app.state.sandbox.config
    logins = config.logins
    base = html.escape(str(request.base_url).rstrip("/"))
    partners = "".join(
        f"<li>Panorama partner, {environment}: client id <code>"
        f"{html.escape(logins.partners[environment].client_id)}</code>, "
        f"<code>{html.escape(logins.partners[environment].username)}</code> / "
        f"<code>{html.escape(logins.partners[environment].password)}</code>, sharingUrlId "
        f"<code>{html.escape(logins.partners[environment].sharing_url_id)}</code></li>"
        for environment in ENVIRONMENTS
    )
    controls = "on, under <code>/_sandbox/</code>" if config.controls else "off"
    body = (
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>"
        "<title>Leaf sandbox</title></head><body style='font-family: system-ui, sans-serif; "
        "max-width: 46rem; margin: 2rem auto;'>"
        "<h1>Leaf sandbox</h1>"
        "<p>This local server plays the Leaf API for Precision Planting Panorama, with demo "
        "data. Point LeafDesk at this base URL:</p>"
        f"<p><code>{base}</code></p>"
        "<p>Routes: <code>POST /api/authenticate</code> and "
        "<code>/services/usermanagement/api/...</code> (users, Panorama credentials and their "
        f"events, one-click integration, Panorama app keys). Test controls are {controls}.</p>"
        "<h2>Demo logins</h2><ul>"
        f"<li>Leaf API owner: <code>{html.escape(logins.owner_username)}</code> / "
        f"<code>{html.escape(logins.owner_password)}</code></li>{partners}</ul>"
        "</body></html>"
    )
    return HTMLResponse(body)


ROUTES = [Route("/", front_page, methods=["GET"])]
