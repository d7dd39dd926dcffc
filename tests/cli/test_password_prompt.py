"""Tests of the password prompt in a real terminal: Ctrl+C there ends the command at once.

The command runs in a child process on a pseudo-terminal (Python's `pty` module), so getpass
opens a real /dev/tty and the terminal turns Ctrl+C into SIGINT, as for a person at a keyboard.
"""

from __future__ import annotations

import os
import pty
import select
import sys
import time

import pytest

from leafdesk.sandbox import DEMO, SandboxConfig, start_background_server

pytestmark = [
    pytest.mark.loopback,
    pytest.mark.skipif(sys.platform == "win32", reason="pseudo-terminals are POSIX only"),
]

PROMPT = b"Leaf password for "


def _read_until(descriptor: int, wanted: bytes, seconds: float) -> bytes:
    """Return what the terminal shows until `wanted` appears, the child exits, or time is up."""
    seen = b""
    deadline = time.monotonic() + seconds
    while wanted not in seen and time.monotonic() < deadline:
        ready, _, _ = select.select([descriptor], [], [], 0.1)
        if not ready:
            continue
        try:
            chunk = os.read(descriptor, 4096)
        except OSError:  # Linux raises EIO once the child has closed the terminal.
            break
        if not chunk:
            break
        seen += chunk
    return seen


def _wait_for_exit(pid: int, seconds: float) -> int | None:
    """Return the child's exit status, or None when it is still running after `seconds`."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        finished, status = os.waitpid(pid, os.WNOHANG)
        if finished:
            return os.waitstatus_to_exitcode(status)
        time.sleep(0.05)
    return None


def _run_at_prompt(keys: bytes, expected: bytes) -> tuple[int | None, bytes]:
    """Run `leafdesk status` on a pseudo-terminal, type `keys` at the password prompt, and
    return the exit status (None when it did not exit in time) and what the terminal showed."""
    server = start_background_server(SandboxConfig(users=3, seed=4, health=False))
    command = [sys.executable, "-c",
               "import sys; from leafdesk.main import main; sys.exit(main())",
               "status", "--base-url", server.base_url, "--username", DEMO.owner_username]
    try:
        pid, terminal = pty.fork()
        if pid == 0:  # the child: run the command with the pseudo-terminal as its terminal
            os.execve(sys.executable, command, dict(os.environ))
        status = None
        try:
            before = _read_until(terminal, PROMPT, seconds=30)
            assert PROMPT in before

            os.write(terminal, keys)
            after = _read_until(terminal, expected, seconds=30)
            status = _wait_for_exit(pid, seconds=5)
        finally:
            if status is None:  # still running (the prompt ignored the keys), or never asked
                os.kill(pid, 9)
                os.waitpid(pid, 0)
            os.close(terminal)
    finally:
        server.stop()
    return status, after


def test_ctrl_c_at_prompt_exits_130(monkeypatch):
    monkeypatch.delenv("LEAFDESK_PASSWORD", raising=False)
    status, shown = _run_at_prompt(b"\x03", b"nothing was read.")
    assert status == 130
    assert b"Interrupted before signing in to Leaf, so nothing was read." in shown
    assert b"Traceback" not in shown


def test_typed_password_signs_in(monkeypatch):
    monkeypatch.delenv("LEAFDESK_PASSWORD", raising=False)
    status, shown = _run_at_prompt(DEMO.owner_password.encode() + b"\r", b"3 users.")
    assert status == 1  # the demo users include some who are not connected
    assert b"3 users." in shown
    assert DEMO.owner_password.encode() not in shown
