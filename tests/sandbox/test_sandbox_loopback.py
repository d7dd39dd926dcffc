"""The sandbox over a real socket on 127.0.0.1: the background server and the command."""

from __future__ import annotations

import contextlib
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator

import httpx
import pytest
from sandbox_helpers import API, one_click_body

from leafdesk.sandbox import DEMO, SandboxConfig, start_background_server

pytestmark = pytest.mark.loopback


@pytest.fixture
def server():
    running = start_background_server(SandboxConfig(users=25, controls=True, health=False))
    yield running
    running.stop()


@contextlib.contextmanager
def signed_in(base_url: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=base_url, timeout=10) as http:
        token = http.post("/api/authenticate", json={
            "username": DEMO.owner_username, "password": DEMO.owner_password,
            "rememberMe": True}).json()["id_token"]
        http.headers["Authorization"] = f"Bearer {token}"
        yield http


def test_server_on_loopback_port(server):
    assert re.fullmatch(r"http://127\.0\.0\.1:\d+", server.base_url)
    with signed_in(server.base_url) as http:
        users = http.get(f"{API}/users", params={"size": 100})
        assert users.status_code == 200
        assert users.headers["x-total-count"] == "25"
        assert users.headers["link"].count(server.base_url) >= 2
        connected = next(u for u in users.json() if "panoramaCredentials" in u)
        credential = http.get(f"{API}/users/{connected['id']}/panorama-credentials")
        assert credential.status_code == 200
        assert credential.json()["id"] == connected["panoramaCredentials"]["id"]


def test_share_page_form_round_trip(server):
    with signed_in(server.base_url) as http:
        user = next(u for u in http.get(f"{API}/users", params={"size": 100}).json()
                    if "panoramaCredentials" not in u)
        started = http.post(f"{API}/users/{user['id']}/one-click-integration/Panorama",
                            json=one_click_body())
        url = started.json()["signInUrl"]
        assert url.startswith(server.base_url + "/panorama-share/")

        page = httpx.get(url)
        action = re.search(r"action='([^']+/approve)'", page.text).group(1)
        answer = httpx.post(server.base_url + action, data={})
        assert answer.status_code == 200
        assert "approved" in answer.text
        credential = http.get(f"{API}/users/{user['id']}/panorama-credentials")
        assert credential.json()["status"] == "OK"


def test_reset_fault_drops_connection(server):
    with signed_in(server.base_url) as http:
        http.post("/_sandbox/faults", json={"fault_rate": 1.0, "faults": ["reset"]})
        with pytest.raises(httpx.TransportError):
            http.get(f"{API}/users")
        http.post("/_sandbox/faults", json={"fault_rate": 0.0})
        assert http.get(f"{API}/users").status_code == 200


def test_slow_fault_hits_client_timeout(server):
    with signed_in(server.base_url) as http:
        http.post("/_sandbox/faults", json={"fault_rate": 1.0, "faults": ["slow"],
                                            "slow_seconds": 1})
        with pytest.raises(httpx.ReadTimeout):
            http.get(f"{API}/users", timeout=0.3)


def test_stop_closes_port():
    running = start_background_server(SandboxConfig(users=2))
    port = int(running.base_url.rsplit(":", 1)[1])
    running.stop()
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", port), timeout=1).close()


def _start_command(*args: str) -> tuple[subprocess.Popen, str]:
    process = subprocess.Popen(
        [sys.executable, "-m", "leafdesk.sandbox.cli", "--port", "0", *args],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 20
    banner = []
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            break
        banner.append(line)
        match = re.search(r"serving at (http://127\.0\.0\.1:\d+)", line)
        if match:
            # Read the rest of the banner: the logins follow the address.
            for _ in range(4):
                banner.append(process.stdout.readline())
            return process, match.group(1) + "\n" + "".join(banner)
    process.kill()
    raise AssertionError(f"the sandbox command did not start: {''.join(banner)}"
                         f"{process.stderr.read()}")


def _interrupt(process: subprocess.Popen) -> tuple[int, str, str]:
    process.send_signal(signal.SIGINT)
    out, err = process.communicate(timeout=20)
    return process.returncode, out, err


def _wait_until_answering(base_url: str) -> None:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            httpx.get(base_url + "/", timeout=1)
            return
        except httpx.TransportError:
            time.sleep(0.05)
    raise AssertionError(f"nothing answers at {base_url}")


def test_command_prints_logins_and_stops_on_ctrl_c():
    process, banner = _start_command("--users", "15", "--controls")
    base_url = banner.splitlines()[0]
    _wait_until_answering(base_url)
    assert DEMO.owner_username in banner
    assert DEMO.owner_password in banner
    for partner in DEMO.partners.values():
        assert partner.client_id in banner
        assert partner.password in banner
        assert partner.sharing_url_id in banner

    with signed_in(base_url) as http:
        assert http.get(f"{API}/users").headers["x-total-count"] == "15"
        assert http.get("/_sandbox/state").status_code == 200

    code, out, err = _interrupt(process)
    assert code == 0
    assert "stopped" in out
    assert "Traceback" not in err


def test_command_keeps_state_across_restart(tmp_path):
    state = tmp_path / "sandbox.json"
    process, banner = _start_command("--users", "10", "--state", str(state))
    base_url = banner.splitlines()[0]
    _wait_until_answering(base_url)
    with signed_in(base_url) as http:
        created = http.post(f"{API}/users", json={
            "name": "Restart Ridge Farm", "email": "ops@restart-ridge.example.org",
            "phone": "+1-605-555-0111", "address": "3 County Road 9, Fairview, KS 60001"})
        assert created.status_code == 201
    assert _interrupt(process)[0] == 0

    process, banner = _start_command("--state", str(state))
    base_url = banner.splitlines()[0]
    _wait_until_answering(base_url)
    with signed_in(base_url) as http:
        fetched = http.get(f"{API}/users/{created.json()['id']}")
    _interrupt(process)
    assert fetched.status_code == 200
    assert fetched.json()["name"] == "Restart Ridge Farm"


def test_command_accepts_other_logins():
    process, banner = _start_command(
        "--users", "4", "--owner", "owner@farm.example", "own-owner-pw",
        "--partner", "PRODUCTION", "own-client", "own@partner.example", "own-partner-pw",
        "0f7c1e5b-3a4f-4e8b-9c2d-6a1f0e9b8c7d")
    base_url = banner.splitlines()[0]
    _wait_until_answering(base_url)
    assert "owner@farm.example / own-owner-pw" in banner
    assert "own-client" in banner
    assert DEMO.partners["STAGE"].client_id in banner
    with httpx.Client(base_url=base_url) as http:
        signed = http.post("/api/authenticate", json={
            "username": "owner@farm.example", "password": "own-owner-pw"})
    _interrupt(process)
    assert signed.status_code == 200


def test_command_port_in_use_is_one_line():
    occupied = socket.socket()
    occupied.bind(("127.0.0.1", 0))
    occupied.listen(1)
    port = occupied.getsockname()[1]
    try:
        result = subprocess.run(
            [sys.executable, "-m", "leafdesk.sandbox.cli", "--port", str(port), "--users", "1"],
            capture_output=True, text=True, timeout=30, check=False)
    finally:
        occupied.close()
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert f"port {port} on 127.0.0.1 is already in use" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_command_rejects_bad_options():
    for args in (["--faults", "500,boom"], ["--latency", "fast"], ["--rate-limit", "0/s"],
                 ["--fault-rate", "2"], ["--embed-credentials", "some"],
                 ["--clock-speed", "nan"], ["--clock-speed", "1e9"], ["--users", "-3"],
                 ["--partner", "QA", "c", "u", "p", "0f7c1e5b-3a4f-4e8b-9c2d-6a1f0e9b8c7d"],
                 ["--partner", "STAGE", "c", "u", "p", "not-a-uuid"]):
        result = subprocess.run([sys.executable, "-m", "leafdesk.sandbox.cli", *args],
                                capture_output=True, text=True, timeout=30, check=False)
        assert result.returncode == 2, args
        assert "Traceback" not in result.stderr


def test_command_help_lists_options():
    result = subprocess.run([sys.executable, "-m", "leafdesk.sandbox.cli", "--help"],
                            capture_output=True, text=True, timeout=30, check=False)
    assert result.returncode == 0
    for option in ("--host", "--port", "--users", "--seed", "--state", "--latency",
                   "--rate-limit", "--fault-rate", "--faults", "--embed-credentials",
                   "--clock-speed", "--controls"):
        assert option in result.stdout


def test_sequential_requests_do_not_stall(server):
    # Without TCP_NODELAY on the server's sockets, each keep-alive response waits about 40 ms.
    with signed_in(server.base_url) as http:
        http.get(f"{API}/users", params={"size": 1})
        started = time.perf_counter()
        for _ in range(100):
            assert http.get(f"{API}/users", params={"size": 1}).status_code == 200
        elapsed = time.perf_counter() - started
    # With the stall, 100 requests take at least 4 s; without it, well under a second.
    assert elapsed < 2.5, f"100 sequential requests took {elapsed:.2f} s"


def test_health_ticks_without_requests():
    # One sandbox day per real second: the lifespan ticker runs health steps on its own.
    running = start_background_server(SandboxConfig(users=50, clock_speed=86400, health=True))
    try:
        state = running.state
        first_step = state.health_last_step
        deadline = time.monotonic() + 5
        while state.health_last_step - first_step < 6 * 3600 and time.monotonic() < deadline:
            time.sleep(0.1)
        assert state.health_last_step - first_step >= 6 * 3600
    finally:
        running.stop()


def test_state_saved_while_running(tmp_path):
    path = tmp_path / "sandbox.json"
    running = start_background_server(SandboxConfig(users=5, state_file=path))
    try:
        with signed_in(running.base_url) as http:
            created = http.post(f"{API}/users", json={
                "name": "Saved Soon Farm", "email": "ops@saved-soon.example.com",
                "phone": "+1-605-555-0112", "address": "5 County Road 1, Oakdale, OH 40000"})
            assert created.status_code == 201
        deadline = time.monotonic() + 5
        while created.json()["id"] not in path.read_text() and time.monotonic() < deadline:
            time.sleep(0.1)
        assert created.json()["id"] in path.read_text()
    finally:
        running.stop()
