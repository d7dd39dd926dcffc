"""Measure what one page of the users list costs at 50,000 users against 250 (the baseline).

Each query goes through the whole sandbox app (middleware, token check, routing, paging,
JSON), called directly as ASGI in this process so that no client or socket cost hides the
server's work. The median of many calls is reported per query and size, with the ratio.
A ratio near 1 means a page does not scale with the number of users.

Run: python bench/sandbox_list_pages.py [--repeats 300]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time

from leafdesk.sandbox import DEMO, SandboxConfig, create_app

QUERIES = {
    "default page 0": "page=0&size=20",
    "size 100": "page=0&size=100",
    "name asc, middle page": "page={middle}&size=20&sort=name,asc",
    "name desc, page 3": "page=3&size=20&sort=name,desc",
    "createdDate desc, last page": "page={last}&size=20&sort=createdDate,desc",
    "email filter (hash index)": "email={email}",
    # A name filter matches anywhere in the name, so it must scan every user.
    "name filter (full scan)": "name=zzz-no-match",
}


async def call(app, path: str, query: str, token: str) -> int:
    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1",
             "method": "GET", "scheme": "http", "path": path, "raw_path": path.encode(),
             "query_string": query.encode(), "root_path": "",
             "headers": [(b"host", b"bench.test"),
                         (b"authorization", f"Bearer {token}".encode())],
             "server": ("bench.test", 80), "client": ("127.0.0.1", 5000)}
    status = 0

    async def receive():
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message):
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]

    await app(scope, receive, send)
    return status


def build(users: int) -> tuple[object, str, dict[str, object]]:
    started = time.perf_counter()
    app = create_app(SandboxConfig(users=users, health=False))
    print(f"{users:>6} users generated in {time.perf_counter() - started:.2f} s")
    state = app.state.sandbox
    token = state.tokens.issue(DEMO.owner_username, state.clock.now(), True)
    some_user = next(iter(state.store.users.values()))
    # The last full page, so that both sizes return 20 users.
    fill = {"middle": users // 40, "last": users // 20 - 1, "email": some_user.email}
    return app, token, fill


async def main_async(repeats: int) -> None:
    sizes = (250, 50_000)
    built = {users: build(users) for users in sizes}
    print(f"{'query':<30}{'250 users':>12}{'50,000 users':>15}{'ratio':>8}")
    for label, template in QUERIES.items():
        times: dict[int, list[float]] = {users: [] for users in sizes}
        rounds = repeats if "full scan" not in label else max(20, repeats // 10)
        # Alternate the two sizes call by call, so load from other processes hits both alike.
        for _ in range(rounds):
            for users in sizes:
                app, token, fill = built[users]
                begin = time.perf_counter()
                status = await call(app, "/services/usermanagement/api/users",
                                    template.format(**fill), token)
                times[users].append(time.perf_counter() - begin)
                assert status == 200, (label, status)
        small, large = (statistics.median(times[users]) for users in sizes)
        print(f"{label:<30}{small * 1e6:>10.0f}us{large * 1e6:>13.0f}us{large / small:>8.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=300)
    asyncio.run(main_async(parser.parse_args().repeats))


if __name__ == "__main__":
    main()
