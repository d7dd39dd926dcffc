"""Tests of retries, backoff, read-back after lost changes, rate limits and cancellation.

Most run against the sandbox's fault knobs (500, 503, reset, malformed, slow, rate limit,
latency). Where a test needs one particular request lost at one particular moment, a
transport wrapper drops it on the way to the in-process sandbox or on the way back.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
import pytest_asyncio

from leafdesk.core.client import LeafClient
from leafdesk.core.errors import (
    MalformedResponseError,
    OfflineError,
    OutcomeUnknownError,
    RateLimitedError,
    ServerError,
    TimedOutError,
)
from leafdesk.core.http import RetryPolicy, Timeouts
from leafdesk.core.model import Environment, LeafUser, ManualCredentialInput, OneClickInput, Secret
from leafdesk.sandbox import DEMO, SandboxConfig, create_app, start_background_server

pytestmark = pytest.mark.asyncio

FAST_RETRY = RetryPolicy(max_attempts=3, base_delay=0.01, max_delay=0.05, max_total=10.0)


def sandbox_config(**changes: Any) -> SandboxConfig:
    values: dict[str, Any] = {"users": 30, "seed": 3, "controls": True, "health": False}
    values.update(changes)
    return SandboxConfig(**values)


def manual_input() -> ManualCredentialInput:
    partner = DEMO.partners["STAGE"]
    return ManualCredentialInput(
        client_id=partner.client_id, username=partner.username,
        password=Secret(partner.password), organization_code="ORG-FAULTS",
        refresh_token=Secret("refresh-token-faults"), client_environment=Environment.STAGE,
    )


def one_click_input() -> OneClickInput:
    partner = DEMO.partners["STAGE"]
    return OneClickInput(
        client_id=partner.client_id, username=partner.username,
        password=Secret(partner.password), client_environment=Environment.STAGE,
        sharing_url_id=partner.sharing_url_id,
    )


class Controls:
    """The sandbox's test controls through a plain httpx client."""

    def __init__(self, http: httpx.AsyncClient) -> None:
        self.http = http

    async def post(self, path: str, body: Any = None) -> Any:
        response = await self.http.post(f"/_sandbox/{path}", json=body)
        assert response.status_code == 200, response.text
        return response.json()

    async def faults(self, **knobs: Any) -> None:
        await self.post("faults", knobs)


@pytest.fixture(scope="module")
def server():
    running = start_background_server(sandbox_config(), host="127.0.0.1", port=0)
    yield running
    running.stop()


@pytest_asyncio.fixture
async def controls(server):
    http = httpx.AsyncClient(base_url=server.base_url)
    result = Controls(http)
    await result.post("reset")
    yield result
    await result.post("reset")
    await http.aclose()


@pytest_asyncio.fixture
async def users(server, controls) -> list[LeafUser]:
    client = LeafClient(server.base_url, DEMO.owner_username, DEMO.owner_password)
    result = await client.list_users()
    await client.aclose()
    return result


def loopback_client(server, **options: Any) -> LeafClient:
    options.setdefault("retry", FAST_RETRY)
    return LeafClient(server.base_url, DEMO.owner_username, DEMO.owner_password, **options)


def unconnected(users: list[LeafUser]) -> LeafUser:
    return next(user for user in users if user.panorama is None)


def connected(users: list[LeafUser]) -> LeafUser:
    return next(user for user in users if user.panorama is not None)


# --- sandbox fault knobs ------------------------------------------------------------------------

async def test_503_honours_retry_after(server, controls, users):
    client = loopback_client(server)
    await client.sign_in()
    await controls.faults(fault_rate=1.0, faults=["503"])

    started = time.monotonic()
    with pytest.raises(ServerError) as caught:
        await client.get_user(users[0].id)
    elapsed = time.monotonic() - started
    await client.aclose()

    assert caught.value.status_code == 503
    assert "proxy" in caught.value.message
    assert client.requests_sent == 1 + FAST_RETRY.max_attempts
    # The sandbox's 503 carries Retry-After: 1, so two retries wait at least a second each.
    assert elapsed >= 2.0


async def test_retries_stop_at_total_time(server, controls, users):
    policy = RetryPolicy(max_attempts=10, base_delay=0.01, max_delay=0.05, max_total=1.5)
    client = loopback_client(server, retry=policy)
    await client.sign_in()
    await controls.faults(fault_rate=1.0, faults=["503"])

    started = time.monotonic()
    with pytest.raises(ServerError):
        await client.get_user(users[0].id)
    elapsed = time.monotonic() - started
    await client.aclose()

    # A second retry would start after 2 s of waiting, past the 1.5 s budget.
    assert client.requests_sent == 1 + 2
    assert elapsed < policy.max_total


async def test_503_some_of_the_time_gets_through(server, controls, users):
    client = loopback_client(server, retry=RetryPolicy(max_attempts=8, base_delay=0.01,
                                                       max_delay=0.05, max_total=20.0))
    await client.sign_in()
    await controls.faults(fault_rate=0.3, faults=["503"])

    credentials = await asyncio.gather(*(client.get_panorama_credential(user.id)
                                         for user in users))
    await client.aclose()
    assert len(credentials) == len(users)
    assert client.requests_sent > 1 + len(users)


async def test_500_is_not_retried(server, controls, users):
    client = loopback_client(server)
    await client.sign_in()
    await controls.faults(fault_rate=1.0, faults=["500"])
    with pytest.raises(ServerError) as caught:
        await client.get_user(users[0].id)
    await client.aclose()
    assert caught.value.status_code == 500
    assert caught.value.message == "Leaf failed with HTTP 500; try again later"
    assert client.requests_sent == 2


async def test_malformed_is_not_retried(server, controls, users):
    client = loopback_client(server)
    await client.sign_in()
    await controls.faults(fault_rate=1.0, faults=["malformed"])
    with pytest.raises(MalformedResponseError) as caught:
        await client.get_panorama_credential(connected(users).id)
    await client.aclose()
    assert caught.value.leaf_user == connected(users).id
    assert caught.value.action == "load the Panorama credential"
    assert client.requests_sent == 2


async def test_reset_get_retried_then_offline(server, controls, users):
    client = loopback_client(server)
    await client.sign_in()
    await controls.faults(fault_rate=1.0, faults=["reset"])
    with pytest.raises(OfflineError) as caught:
        await client.get_user(users[0].id)
    await client.aclose()
    assert not isinstance(caught.value, OutcomeUnknownError)
    assert "broke" in caught.value.message
    assert client.requests_sent == 1 + FAST_RETRY.max_attempts


async def test_reset_some_of_the_time_gets_through(server, controls, users):
    client = loopback_client(server, retry=RetryPolicy(max_attempts=8, base_delay=0.01,
                                                       max_delay=0.05, max_total=20.0))
    await client.sign_in()
    await controls.faults(fault_rate=0.3, faults=["reset"])
    fetched = await asyncio.gather(*(client.get_user(user.id) for user in users))
    await client.aclose()
    assert [user.id for user in fetched] == [user.id for user in users]


async def test_reset_post_is_not_repeated(server, controls, users):
    target = unconnected(users)
    client = loopback_client(server)
    await client.sign_in()
    await controls.faults(fault_rate=1.0, faults=["reset"])

    with pytest.raises(OutcomeUnknownError) as caught:
        await client.create_panorama_credential(target.id, manual_input())
    error = caught.value
    assert error.leaf_user == target.id
    assert error.action == "create the Panorama credential"
    assert "not known whether the change was made" in error.message
    # One POST, then the read-back GET with its retries; the POST itself was not repeated.
    assert client.requests_sent == 1 + 1 + FAST_RETRY.max_attempts

    await controls.faults(fault_rate=0.0)
    assert await client.get_panorama_credential(target.id) is None
    await client.aclose()


async def test_in_process_reset_is_offline():
    app = create_app(sandbox_config())
    transport = httpx.ASGITransport(app=app)
    client = LeafClient("http://sandbox.test", DEMO.owner_username, DEMO.owner_password,
                        transport=transport, retry=FAST_RETRY)
    controls = Controls(httpx.AsyncClient(base_url="http://sandbox.test", transport=transport))
    await client.sign_in()
    await controls.faults(fault_rate=1.0, faults=["reset"])
    with pytest.raises(OfflineError):
        await client.list_users()
    await controls.faults(fault_rate=0.0)
    assert len(await client.list_users()) == 30
    await client.aclose()
    await controls.http.aclose()


async def test_slow_get_times_out(server, controls, users):
    client = loopback_client(server, timeout=Timeouts(connect=2, read=0.3, write=2, pool=2))
    await client.sign_in()
    await controls.faults(fault_rate=1.0, faults=["slow"], slow_seconds=1.0)

    started = time.monotonic()
    with pytest.raises(TimedOutError) as caught:
        await client.get_user(users[0].id)
    elapsed = time.monotonic() - started
    await client.aclose()

    assert isinstance(caught.value, OfflineError)
    assert caught.value.leaf_user == users[0].id
    assert client.requests_sent == 1 + FAST_RETRY.max_attempts
    assert 0.9 <= elapsed < 3.0


async def test_slow_some_of_the_time_gets_through(server, controls, users):
    client = loopback_client(
        server, timeout=Timeouts(connect=2, read=0.3, write=2, pool=5),
        retry=RetryPolicy(max_attempts=8, base_delay=0.01, max_delay=0.05, max_total=20.0),
    )
    await client.sign_in()
    await controls.faults(fault_rate=0.3, faults=["slow"], slow_seconds=1.0)
    fetched = await asyncio.gather(*(client.get_user(user.id) for user in users[:10]))
    await client.aclose()
    assert len(fetched) == 10


async def test_rate_limit_waits_and_reports(server, controls, users):
    seen: list[float | None] = []
    client = loopback_client(server, on_rate_limited=seen.append,
                             retry=RetryPolicy(max_attempts=10, base_delay=0.01,
                                               max_delay=0.05, max_total=20.0))
    await client.sign_in()
    await controls.faults(rate_limit=10)

    started = time.monotonic()
    fetched = await asyncio.gather(*(client.get_user(user.id) for user in users))
    elapsed = time.monotonic() - started
    await client.aclose()

    assert len(fetched) == len(users)
    assert seen
    assert all(value is not None and value >= 1 for value in seen)
    assert client.rate_limited_count == len(seen)
    # 30 requests at 10 a second with a burst of 10 take about 2 s.
    assert elapsed >= 1.0


async def test_rate_limit_exhausted_raises(server, controls, users):
    client = loopback_client(server, retry=RetryPolicy(max_attempts=1))
    await client.sign_in()
    await controls.faults(rate_limit=1)
    outcomes = await asyncio.gather(*(client.get_user(user.id) for user in users[:5]),
                                    return_exceptions=True)
    await client.aclose()
    limited = [outcome for outcome in outcomes if isinstance(outcome, RateLimitedError)]
    assert limited
    assert all(error.retry_after >= 1 for error in limited)
    assert "wait" in limited[0].message


async def test_rate_limited_post_is_retried(server, controls, users):
    targets = [user for user in users if user.panorama is None][:3]
    client = loopback_client(server)
    await client.sign_in()
    await controls.faults(rate_limit=1)

    created = await asyncio.gather(*(client.create_panorama_credential(user.id, manual_input())
                                     for user in targets))
    await client.aclose()
    # A 429 is Leaf turning the request away before acting, so sending it again is safe.
    assert [credential.leaf_user_id for credential in created] == [user.id for user in targets]
    assert client.rate_limited_count >= 1


async def test_pool_limits_concurrency(server, controls, users):
    await controls.faults(latency_ms=200)
    timings = {}
    for connections in (2, 8):
        client = loopback_client(server, max_connections=connections)
        await client.sign_in()
        started = time.monotonic()
        await asyncio.gather(*(client.get_user(user.id) for user in users[:8]))
        timings[connections] = time.monotonic() - started
        await client.aclose()
    # Eight 200 ms requests: four rounds through two connections, one round through eight.
    assert timings[2] >= 0.75
    assert timings[8] < 0.7


# --- read-back after a lost change --------------------------------------------------------------

@dataclass
class Loss:
    """Lose the next `count` requests with this method and path ending, before or after the
    server handles them."""

    method: str
    path_end: str
    when: str  # "before" or "after"
    count: int = 1
    error: type[httpx.TransportError] = httpx.ReadError


@dataclass
class LossyTransport(httpx.AsyncBaseTransport):
    """An ASGI transport that loses chosen requests, and counts what reached the server."""

    inner: httpx.ASGITransport
    losses: list[Loss] = field(default_factory=list)
    sent: list[str] = field(default_factory=list)
    delivered: list[str] = field(default_factory=list)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        key = f"{request.method} {request.url.path}"
        self.sent.append(key)
        loss = next((loss for loss in self.losses if loss.count > 0
                     and request.method == loss.method
                     and request.url.path.endswith(loss.path_end)), None)
        if loss is not None:
            loss.count -= 1
            if loss.when == "before":
                raise loss.error("lost on the way to the server", request=request)
        response = await self.inner.handle_async_request(request)
        self.delivered.append(key)
        if loss is not None:
            await response.aread()
            raise loss.error("lost on the way back", request=request)
        return response

    def count(self, method: str, path_end: str, where: str = "sent") -> int:
        keys = self.sent if where == "sent" else self.delivered
        return sum(1 for key in keys if key.startswith(method + " ") and key.endswith(path_end))


@dataclass
class LossRig:
    client: LeafClient
    transport: LossyTransport
    users: list[LeafUser]


@pytest_asyncio.fixture
async def lossy():
    app = create_app(sandbox_config())
    transport = LossyTransport(httpx.ASGITransport(app=app))
    client = LeafClient("http://sandbox.test", DEMO.owner_username, DEMO.owner_password,
                        transport=transport, retry=FAST_RETRY)
    users = await client.list_users()
    yield LossRig(client, transport, users)
    await client.aclose()


CREDENTIAL = "/panorama-credentials"


async def test_create_answer_lost_reads_back(lossy):
    target = unconnected(lossy.users)
    lossy.transport.losses.append(Loss("POST", CREDENTIAL, "after"))
    credential = await lossy.client.create_panorama_credential(target.id, manual_input())
    assert credential.organization_code == "ORG-FAULTS"
    assert lossy.transport.count("POST", CREDENTIAL, "delivered") == 1
    assert lossy.transport.count("POST", CREDENTIAL) == 1


async def test_create_request_lost_sends_again(lossy):
    target = unconnected(lossy.users)
    lossy.transport.losses.append(Loss("POST", CREDENTIAL, "before", error=httpx.WriteTimeout))
    credential = await lossy.client.create_panorama_credential(target.id, manual_input())
    assert credential.leaf_user_id == target.id
    assert lossy.transport.count("POST", CREDENTIAL) == 2
    assert lossy.transport.count("POST", CREDENTIAL, "delivered") == 1


async def test_create_lost_and_offline_is_unknown(lossy):
    target = unconnected(lossy.users)
    lossy.transport.losses += [Loss("POST", CREDENTIAL, "after"),
                               Loss("GET", CREDENTIAL, "before", count=99,
                                    error=httpx.ConnectError)]
    with pytest.raises(OutcomeUnknownError) as caught:
        await lossy.client.create_panorama_credential(target.id, manual_input())
    error = caught.value
    assert error.sentence().startswith(f"Could not create the Panorama credential for {target.id}")
    assert lossy.transport.count("POST", CREDENTIAL) == 1


async def test_delete_answer_lost_reads_back(lossy):
    target = connected(lossy.users)
    lossy.transport.losses.append(Loss("DELETE", CREDENTIAL, "after"))
    await lossy.client.delete_panorama_credential(target.id)
    assert lossy.transport.count("DELETE", CREDENTIAL) == 1
    assert await lossy.client.get_panorama_credential(target.id) is None


async def test_delete_request_lost_sends_again(lossy):
    target = connected(lossy.users)
    lossy.transport.losses.append(Loss("DELETE", CREDENTIAL, "before", error=httpx.ReadTimeout))
    await lossy.client.delete_panorama_credential(target.id)
    assert lossy.transport.count("DELETE", CREDENTIAL) == 2
    assert lossy.transport.count("DELETE", CREDENTIAL, "delivered") == 1
    assert await lossy.client.get_panorama_credential(target.id) is None


async def test_create_user_answer_lost_finds_it(lossy):
    lossy.transport.losses.append(Loss("POST", "/users", "after"))
    created = await lossy.client.create_user(name="Lost Answer Farm", email="lost@farm.example",
                                             phone="+1 555 0101", address="2 Lost Lane")
    assert created.name == "Lost Answer Farm"
    assert lossy.transport.count("POST", "/users") == 1
    assert len(await lossy.client.list_users(email="lost@farm.example")) == 1


async def test_create_user_request_lost_not_resent(lossy):
    lossy.transport.losses.append(Loss("POST", "/users", "before"))
    with pytest.raises(OutcomeUnknownError):
        await lossy.client.create_user(name="Never Sent Farm", email="never@farm.example",
                                       phone="+1 555 0102", address="3 Never Road")
    # A second user would be worse than asking the operator to check.
    assert lossy.transport.count("POST", "/users") == 1
    assert await lossy.client.list_users(email="never@farm.example") == []


async def test_one_click_lost_not_resent(lossy):
    target = unconnected(lossy.users)
    lossy.transport.losses.append(Loss("POST", "/Panorama", "after"))
    with pytest.raises(OutcomeUnknownError) as caught:
        await lossy.client.start_one_click(target.id, one_click_input())
    assert caught.value.action == "start the one-click connection"
    assert lossy.transport.count("POST", "/Panorama") == 1


async def test_app_key_answer_lost_reads_back(lossy):
    lossy.transport.losses.append(Loss("POST", "/STAGE", "after"))
    saved = await lossy.client.save_app_key(
        "lost-app", "STAGE", client_id="lost-client", username="lost@partner.example",
        password="lost-password", sharing_url_id="0f1e2d3c-4b5a-4978-8695-a4b3c2d1e0f9",
    )
    assert saved.client_id == "lost-client"
    assert lossy.transport.count("POST", "/STAGE") == 1


async def test_connect_failure_post_is_retried(lossy):
    # A refused connection means the request never left, so even a POST may go again.
    target = unconnected(lossy.users)
    lossy.transport.losses.append(Loss("POST", CREDENTIAL, "before", error=httpx.ConnectError))
    await lossy.client.create_panorama_credential(target.id, manual_input())
    assert lossy.transport.count("POST", CREDENTIAL) == 2
    assert lossy.transport.count("POST", CREDENTIAL, "delivered") == 1


async def test_get_read_error_is_retried(lossy):
    target = connected(lossy.users)
    lossy.transport.losses.append(Loss("GET", CREDENTIAL, "after"))
    assert await lossy.client.get_panorama_credential(target.id) is not None
    assert lossy.transport.count("GET", CREDENTIAL) == 2


# --- cancellation -------------------------------------------------------------------------------

async def refresh(client: LeafClient, users: list[LeafUser]) -> None:
    await asyncio.gather(*(client.get_panorama_credential(user.id) for user in users))


@pytest.mark.timeout(60)
@pytest.mark.parametrize("seed", [20, 21, 22])
async def test_twenty_cancelled_refreshes_loopback(server, controls, users, seed):
    # A short pool timeout makes a leaked connection fail the final request quickly.
    client = loopback_client(server, max_connections=2,
                             timeout=Timeouts(connect=5, read=5, write=5, pool=2))
    await client.sign_in()
    # Short latency and short waits put many cancellations near the end of a response, where
    # httpcore gives the connection back; that is where a cancellation used to leak it.
    await controls.faults(latency_ms=20)
    chooser = random.Random(seed)

    for _ in range(20):
        task = asyncio.create_task(refresh(client, users[:6]))
        await asyncio.sleep(chooser.uniform(0.0, 0.06))
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task

    # Every cancelled request must have given its pooled connection back.
    user = await client.get_user(users[0].id)
    assert user.id == users[0].id
    await refresh(client, users[:4])
    await client.aclose()


@pytest.mark.timeout(60)
async def test_twenty_cancelled_refreshes_in_process(users):
    app = create_app(sandbox_config(latency_ms=50))
    client = LeafClient("http://sandbox.test", DEMO.owner_username, DEMO.owner_password,
                        transport=httpx.ASGITransport(app=app), max_connections=2,
                        retry=FAST_RETRY)
    listed = await client.list_users()
    chooser = random.Random(21)

    for _ in range(20):
        task = asyncio.create_task(refresh(client, listed[:6]))
        await asyncio.sleep(chooser.uniform(0.0, 0.12))
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task

    assert (await client.get_user(listed[0].id)).id == listed[0].id
    await client.aclose()


@pytest.mark.timeout(30)
async def test_cancel_during_backoff(server, controls, users):
    client = loopback_client(server, retry=RetryPolicy(max_attempts=5, base_delay=0.01,
                                                       max_delay=0.05, max_total=30.0))
    await client.sign_in()
    await controls.faults(fault_rate=1.0, faults=["503"])

    task = asyncio.create_task(client.get_user(users[0].id))
    # The 503's Retry-After keeps the request asleep between tries.
    await asyncio.sleep(0.3)
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    assert task.cancelled()

    await controls.faults(fault_rate=0.0)
    assert (await client.get_user(users[0].id)).id == users[0].id
    await client.aclose()
