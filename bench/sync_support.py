"""Shared parts of the sync benchmarks: a loopback sandbox in a child process, and a signed-in client.

The sandbox runs in its own process so that its request handling does not compete with the
client for one interpreter lock. Both still share the machine's cores.
"""

from __future__ import annotations

import multiprocessing
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import httpx

from leafdesk.core.client import LeafClient
from leafdesk.sandbox import DEMO, SandboxConfig, start_background_server


@dataclass(frozen=True)
class ServedSandbox:
    """A sandbox serving on 127.0.0.1 in a child process."""

    base_url: str
    generate_seconds: float


def _serve(options: dict[str, Any], connection: Any) -> None:
    started = time.perf_counter()
    server = start_background_server(SandboxConfig(**options), host="127.0.0.1", port=0)
    connection.send((server.base_url, time.perf_counter() - started))
    connection.recv()  # any message means stop
    server.stop()


@contextmanager
def sandbox_process(**options: Any) -> Iterator[ServedSandbox]:
    """Start a loopback sandbox with `SandboxConfig(**options)` in a child process; stop it after."""
    context = multiprocessing.get_context("spawn")
    parent, child = context.Pipe()
    process = context.Process(target=_serve, args=(options, child), daemon=True)
    process.start()
    try:
        if not parent.poll(600):
            raise RuntimeError("the sandbox did not start within 10 minutes")
        base_url, generate_seconds = parent.recv()
        yield ServedSandbox(base_url, generate_seconds)
    finally:
        parent.send("stop")
        process.join(timeout=30)
        if process.is_alive():
            process.terminate()


def new_client(base_url: str, *, max_connections: int) -> LeafClient:
    """Return a client for the demo API owner of the sandbox at `base_url`."""
    return LeafClient(base_url, DEMO.owner_username, DEMO.owner_password,
                      max_connections=max_connections)


async def set_knobs(base_url: str, **knobs: Any) -> None:
    """Change the sandbox's fault knobs through its test controls (needs `controls=True`)."""
    async with httpx.AsyncClient(base_url=base_url) as http:
        reply = await http.post("/_sandbox/faults", json=knobs)
    if reply.status_code != 200:
        raise RuntimeError(f"the sandbox rejected the knobs {knobs}: HTTP {reply.status_code}")
