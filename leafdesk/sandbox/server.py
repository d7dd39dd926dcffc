"""Serving the sandbox with uvicorn: in a background thread for tests and the demo launcher."""

from __future__ import annotations

import logging
import os
import socket
import threading
import time

import uvicorn

from .app import create_app
from .config import SandboxConfig

log = logging.getLogger(__name__)

START_TIMEOUT_SECONDS = 30.0


def bind_socket(host: str, port: int) -> socket.socket:
    """Bind a listening TCP socket, raising OSError when the port is taken."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # Naming IPPROTO_TCP matters: asyncio turns on TCP_NODELAY only for sockets created as
    # TCP, and without it Nagle's algorithm delays each response body by about 40 ms.
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    if os.name != "nt":
        # On Windows SO_REUSEADDR would let a second server share the port instead of failing.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


def base_url_of(sock: socket.socket) -> str:
    host, port = sock.getsockname()[:2]
    if ":" in host:
        host = f"[{host}]"
    return f"http://{host}:{port}"


def make_uvicorn_server(app, log_level: str = "warning") -> uvicorn.Server:
    """Build a uvicorn server for `app`, the caller passing its bound socket to `run()`."""
    config = uvicorn.Config(app, log_level=log_level, lifespan="on", access_log=False,
                            timeout_graceful_shutdown=5)
    return uvicorn.Server(config)


class BackgroundServer:
    """A sandbox served by uvicorn in a daemon thread; `stop()` shuts it down and joins it."""

    def __init__(self, config: SandboxConfig, host: str, port: int) -> None:
        self.config = config
        self.app = create_app(config)
        self.app.state.sandbox.served_over_socket = True
        self._socket = bind_socket(host, port)
        self.base_url = base_url_of(self._socket)
        self._server = make_uvicorn_server(self.app)
        self._thread = threading.Thread(target=self._run, name=f"leaf-sandbox {self.base_url}",
                                        daemon=True)
        self._error: BaseException | None = None

    @property
    def state(self):
        """The sandbox's live state; touch it only while no request runs (it is not locked)."""
        return self.app.state.sandbox

    def _run(self) -> None:
        try:
            self._server.run(sockets=[self._socket])
        except BaseException as error:  # reported by start() or stop()
            self._error = error
            log.exception("sandbox server at %s stopped with an error", self.base_url)

    def start(self) -> BackgroundServer:
        self._thread.start()
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        while not self._server.started:
            if not self._thread.is_alive():
                raise RuntimeError(f"sandbox server at {self.base_url} failed to start: "
                                   f"{self._error!r}")
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"sandbox server at {self.base_url} did not start within "
                                   f"{START_TIMEOUT_SECONDS:g} s")
            time.sleep(0.01)
        log.info("sandbox serving at %s", self.base_url)
        return self

    def stop(self, timeout: float = 10.0) -> None:
        """Shut the server down (saving the state file, if any) and join its thread."""
        self._server.should_exit = True
        if self._thread.is_alive():
            self._thread.join(timeout)
        self._socket.close()
        if self._thread.is_alive():
            log.warning("sandbox server at %s did not stop within %g s", self.base_url, timeout)

    def __enter__(self) -> BackgroundServer:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


def start_background_server(config: SandboxConfig | None = None, host: str = "127.0.0.1",
                            port: int = 0) -> BackgroundServer:
    """Start a sandbox on `host:port` (0 picks a free port) and return once it accepts requests."""
    return BackgroundServer(config or SandboxConfig(), host, port).start()
