"""Builds the sandbox's Starlette app from a `SandboxConfig`."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response

from . import controls, front_page, leaf_routes, share_page
from .config import SandboxConfig
from .gate import Gate, RateLimiter
from .problems import ProblemError, problem_from_error, problem_response
from .state import SandboxState

log = logging.getLogger(__name__)

TICK_SECONDS = 1.0


async def _problem_handler(request: Request, error: Exception) -> Response:
    assert isinstance(error, ProblemError)
    log.debug("%s %s -> %d %s", request.method, request.url.path, error.status,
              error.error_key or error.detail)
    return problem_from_error(error, request.url.path)


async def _http_error_handler(request: Request, error: Exception) -> Response:
    assert isinstance(error, HTTPException)
    if error.status_code == 404:
        detail = f"No sandbox route matches {request.url.path}."
    elif error.status_code == 405:
        detail = f"{request.method} is not allowed on {request.url.path}."
    else:
        detail = str(error.detail)
    return problem_response(error.status_code, detail, request.url.path,
                            headers=getattr(error, "headers", None))


def create_app(config: SandboxConfig | None = None) -> Starlette:
    """Build a sandbox app: demo data (or the state file), the Leaf routes, the share page,
    and the test controls when `config.controls` is on.

    Under uvicorn, the app's lifespan runs the health process and periodic saves once a second.
    httpx's ASGI transport runs no lifespan, so the same work then happens on each API request.
    """
    config = config or SandboxConfig()
    state = SandboxState(config)
    rate_limiter = RateLimiter()

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        ticker = asyncio.create_task(_tick(state))
        try:
            yield
        finally:
            ticker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await ticker
            state.save_if_due(force=True)

    routes = [*leaf_routes.ROUTES, *share_page.ROUTES, *front_page.ROUTES]
    if config.controls:
        routes.extend(controls.ROUTES)
    app = Starlette(
        routes=routes,
        exception_handlers={ProblemError: _problem_handler, HTTPException: _http_error_handler},
        middleware=[Middleware(Gate, state=state, rate_limiter=rate_limiter)],
        lifespan=lifespan,
    )
    app.state.sandbox = state
    app.state.rate_limiter = rate_limiter
    return app


async def _tick(state: SandboxState) -> None:
    """Run the health process and pending saves once a second, even while no request arrives."""
    while True:
        await asyncio.sleep(TICK_SECONDS)
        try:
            state.catch_up()
            state.save_if_due()
        except Exception:
            log.exception("sandbox background step failed, retrying in %s s",
                          TICK_SECONDS)
