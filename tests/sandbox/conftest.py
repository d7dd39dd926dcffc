"""Fixtures for the sandbox's own tests: an in-process app behind httpx's ASGI transport, and
a signed-in client for it. Loopback tests start their own servers."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
import pytest_asyncio
from sandbox_helpers import sign_in

from leafdesk.sandbox import SandboxConfig, create_app


@pytest.fixture
def sandbox_config() -> SandboxConfig:
    """Small demo, test controls on, and the health process off."""
    return SandboxConfig(users=30, seed=1, controls=True, health=False)


@pytest.fixture
def sandbox_app(sandbox_config):
    return create_app(sandbox_config)


@pytest_asyncio.fixture
async def client(sandbox_app) -> AsyncIterator[httpx.AsyncClient]:
    """An httpx client on the in-process sandbox, signed in as the demo API owner."""
    transport = httpx.ASGITransport(app=sandbox_app)
    async with httpx.AsyncClient(transport=transport, base_url="http://sandbox.test") as http:
        token = await sign_in(http)
        http.headers["Authorization"] = f"Bearer {token}"
        yield http
