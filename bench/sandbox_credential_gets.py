"""Measure how many Panorama credential GETs a second the sandbox serves over loopback.

The sandbox runs as `leafdesk-sandbox` in its own process with no latency, faults or health
process. A small keep-alive HTTP/1.1 client (raw asyncio streams, so the client costs little
CPU) sends GETs of `/users/{id}/panorama-credentials` over several connections for a fixed time.
The baseline is a bare uvicorn app that returns a fixed JSON body, served the same way and
measured with the same client: the ratio shows what the sandbox's own work costs.

Run: python bench/sandbox_credential_gets.py [--seconds 5] [--connections 8]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import subprocess
import sys
import time

BASELINE_APP = '''
import sys, uvicorn
BODY = b'{"id": "x", "status": "OK"}'
async def app(scope, receive, send):
    if scope["type"] != "http":
        return
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", b"application/json"),
                            (b"content-length", str(len(BODY)).encode())]})
    await send({"type": "http.response.body", "body": BODY})
config = uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", access_log=False)
server = uvicorn.Server(config)
import socket
sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP); sock.bind(("127.0.0.1", 0)); sock.listen(2048)
print(f"serving at http://127.0.0.1:{sock.getsockname()[1]}", flush=True)
server.run(sockets=[sock])
'''


def start(command: list[str]) -> tuple[subprocess.Popen, str, int]:
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                               text=True)
    for line in process.stdout:
        match = re.search(r"serving at http://(127\.0\.0\.1):(\d+)", line)
        if match:
            return process, match.group(1), int(match.group(2))
    raise RuntimeError(f"{command[0]} did not start")


async def request(reader, writer, raw: bytes) -> tuple[int, bytes]:
    writer.write(raw)
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    length = int(re.search(rb"(?i)content-length: *(\d+)", head).group(1))
    return status, await reader.readexactly(length)


async def sign_in(host: str, port: int) -> str:
    reader, writer = await asyncio.open_connection(host, port)
    body = json.dumps({"username": "demo@leafdesk.example", "password": "leafdesk-demo",
                       "rememberMe": True}).encode()
    raw = (f"POST /api/authenticate HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json"
           f"\r\nContent-Length: {len(body)}\r\n\r\n").encode() + body
    status, answer = await request(reader, writer, raw)
    writer.close()
    assert status == 200, answer
    return json.loads(answer)["id_token"]


async def user_ids(host: str, port: int, token: str) -> list[str]:
    reader, writer = await asyncio.open_connection(host, port)
    raw = (f"GET /services/usermanagement/api/users?size=100 HTTP/1.1\r\nHost: {host}\r\n"
           f"Authorization: Bearer {token}\r\n\r\n").encode()
    _, answer = await request(reader, writer, raw)
    writer.close()
    return [user["id"] for user in json.loads(answer) if "panoramaCredentials" in user]


async def hammer(host: str, port: int, paths: list[str], token: str | None, seconds: float,
                 connections: int) -> tuple[int, int]:
    """Send GETs round-robin over `paths` for `seconds`; return (responses with 200, other responses)."""
    deadline = time.perf_counter() + seconds
    auth = f"Authorization: Bearer {token}\r\n" if token else ""
    raws = [f"GET {path} HTTP/1.1\r\nHost: {host}\r\n{auth}\r\n".encode() for path in paths]

    async def worker(offset: int) -> tuple[int, int]:
        reader, writer = await asyncio.open_connection(host, port)
        good = bad = 0
        index = offset
        while time.perf_counter() < deadline:
            status, _ = await request(reader, writer, raws[index % len(raws)])
            index += 1
            if status == 200:
                good += 1
            else:
                bad += 1
        writer.close()
        return good, bad

    results = await asyncio.gather(*(worker(i) for i in range(connections)))
    return sum(r[0] for r in results), sum(r[1] for r in results)


async def measure(args: argparse.Namespace) -> None:
    sandbox, host, port = start([sys.executable, "-m", "leafdesk.sandbox.cli", "--port", "0",
                                 "--users", "250", "--no-health", "--log-level", "warning"])
    try:
        token = await sign_in(host, port)
        ids = await user_ids(host, port, token)
        paths = [f"/services/usermanagement/api/users/{user_id}/panorama-credentials"
                 for user_id in ids]
        await hammer(host, port, paths, token, 1.0, args.connections)  # warm-up
        good, bad = await hammer(host, port, paths, token, args.seconds, args.connections)
    finally:
        sandbox.terminate()
        sandbox.wait()

    baseline, host, port = start([sys.executable, "-c", BASELINE_APP])
    try:
        await hammer(host, port, ["/"], None, 1.0, args.connections)
        base_good, _ = await hammer(host, port, ["/"], None, args.seconds, args.connections)
    finally:
        baseline.terminate()
        baseline.wait()

    rate = good / args.seconds
    base_rate = base_good / args.seconds
    print(f"credential GETs: {rate:,.0f}/s ({good} answered 200, {bad} other) over "
          f"{args.connections} keep-alive connections for {args.seconds:g} s")
    print(f"baseline (bare uvicorn, fixed JSON): {base_rate:,.0f}/s")
    print(f"ratio sandbox/baseline: {rate / base_rate:.2f}")
    print(f"target >= 1,000/s: {'met' if rate >= 1000 else 'NOT met'}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--connections", type=int, default=8)
    asyncio.run(measure(parser.parse_args()))


if __name__ == "__main__":
    main()
