"""Behaviour when the answer is slow, a proxy answers instead, or nothing answers: retries only
where safe with one Idempotency-Key per call, one deadline per call, and fail closed or open."""

from __future__ import annotations

import threading
from typing import Any, AsyncIterator, Callable, List

import pytest
from both import Both
from conftest import Env
from gateway import free_port, start_gateway
from standin import Answer, Forward, Seen, StandIn

from quota_gateway import AsyncQuotaGateway, QuotaGateway, QuotaGatewayError

HTML_502 = Answer(502, b"<html><body><h1>502 Bad Gateway</h1></body></html>", {"Content-Type": "text/html"})
PROBLEM_503 = Answer(503, b'{"code":"backend_unavailable","detail":"retry shortly","requestId":"x"}',
                     {"Content-Type": "application/problem+json"})

Make = Callable[..., Both]


@pytest.fixture(params=["sync", "async"])
async def make(request: pytest.FixtureRequest, env: Env) -> AsyncIterator[Make]:
    """Clients of the kind under test, with the options a test gives; closed afterwards."""
    made: List[Any] = []

    def build(base_url: str, **options: Any) -> Both:
        cls = QuotaGateway if request.param == "sync" else AsyncQuotaGateway
        client = cls(env.secret, base_url=base_url, **options)
        made.append(client)
        return Both(client)

    yield build
    for client in made:
        if isinstance(client, QuotaGateway):
            client.close()
        else:
            await client.aclose()


def reserved(env: Env, user: str) -> Any:
    return env.call("GET", f"/v1/users/{user}/usage")["counters"][0]["reserved"]


async def test_a_reserve_whose_answer_is_late_is_retried_with_the_same_key_and_counts_once(
        make: Make, env: Env, subscribed: Callable[..., str]) -> None:
    user = subscribed(5)
    with StandIn(env.base_url, lambda n, _s: Forward(delay=1.5 if n == 0 else 0)) as proxy:
        decision = await make(proxy.url, timeout=4, attempt_timeout=0.5).reserve(user, "e")
    assert decision.allowed
    assert len(proxy.seen) >= 2, "the late attempt was retried"
    assert len(set(proxy.keys())) == 1 and proxy.keys()[0], "every attempt carried the same key"
    assert reserved(env, user) == 1, "the first attempt ran too, and counted once"


async def test_a_proxys_502_html_page_and_a_503_are_retried(make: Make, env: Env, subscribed: Callable[..., str]) -> None:
    user = subscribed(5)
    script = [HTML_502, PROBLEM_503]
    with StandIn(env.base_url, lambda n, _s: script[n] if n < len(script) else Forward()) as proxy:
        client = make(proxy.url, timeout=5, max_retries=3)
        tracked = await client.track(user, "e", 2)
    assert tracked.counters[0].used == 2
    assert len(proxy.seen) == 3 and len(set(proxy.keys())) == 1


async def test_a_4xx_is_never_retried_and_each_call_has_its_own_key(make: Make, env: Env, fresh_user: Callable[..., str]) -> None:
    with StandIn(env.base_url, lambda _n, _s: Forward()) as proxy:
        client = make(proxy.url)
        with pytest.raises(QuotaGatewayError) as bad:
            await client.track("", "e")
        assert bad.value.code == "invalid_request" and len(proxy.seen) == 1
        for _ in range(2):
            await client.track(fresh_user(), "e")
    assert len(set(proxy.keys())) == 3


async def test_retry_after_is_honoured_so_a_wait_past_the_deadline_is_not_tried(make: Make, env: Env) -> None:
    busy = Answer(503, b"busy", {"Retry-After": "30"})
    with StandIn(env.base_url, lambda _n, _s: busy) as proxy:
        client = make(proxy.url, timeout=2, max_retries=5)
        with pytest.raises(QuotaGatewayError) as unavailable:
            await client.usage("u")
    assert (unavailable.value.code, unavailable.value.status) == ("backend_unavailable", 503)
    assert len(proxy.seen) == 1


async def test_an_unreachable_gateway_is_a_denial_when_closed_and_an_allow_when_open(make: Make) -> None:
    nowhere = f"http://127.0.0.1:{free_port()}"
    closed = make(nowhere, timeout=1, max_retries=2)
    denied = await closed.reserve("u", "e")
    assert (denied.allowed, denied.reasons, denied.reservation_id) == (False, ["backend_unavailable"], None)
    assert not (await closed.can_use("u", "e")).allowed
    with pytest.raises(QuotaGatewayError) as err:
        await closed.commit("r_u.x")
    assert (err.value.code, err.value.status) == ("backend_unavailable", 0)
    opened = make(nowhere, timeout=1, max_retries=1, fail_mode="open")
    allowed = await opened.reserve("u", "e")
    assert allowed.allowed and allowed.unchecked and allowed.reservation_id == ""
    assert (await opened.commit(allowed.reservation_id)).status == "unchecked", "nothing to commit"
    assert (await opened.can_use("u", "e")).allowed


async def test_a_gateway_without_redis_answers_503_which_fails_closed(make: Make, env: Env) -> None:
    gone = start_gateway(f"redis://127.0.0.1:{free_port()}", env.logs, ready=False)
    try:
        client = make(gone.base_url, timeout=2, max_retries=1)
        assert (await client.reserve("u", "e")).reasons == ["backend_unavailable"]
        with pytest.raises(QuotaGatewayError) as err:
            await client.track("u", "e")
        assert (err.value.code, err.value.status) == ("backend_unavailable", 503)
    finally:
        gone.stop()


async def test_an_adjustment_whose_answer_is_late_is_not_sent_twice(make: Make, env: Env, subscribed: Callable[..., str]) -> None:
    user = subscribed(10)
    with StandIn(env.base_url, lambda _n, _s: Forward(delay=1.0)) as proxy:
        client = make(proxy.url, timeout=3, attempt_timeout=0.3)
        with pytest.raises(QuotaGatewayError) as err:
            await client.adjust(user, "g", 2, "goodwill")
    assert err.value.code == "backend_unavailable"
    assert len(proxy.seen) == 1, "no retry: the gateway cannot tell a repeat from a new one"
    assert len(env.call("GET", f"/v1/users/{user}/adjustments")["data"]) == 1


async def test_a_reserve_that_ran_without_an_answer_is_released_once_the_gateway_answers(
        make: Make, env: Env, subscribed: Callable[..., str]) -> None:
    user = subscribed(5)
    slow = threading.Event()
    slow.set()

    def behave(_n: int, _seen: Seen) -> Forward:
        return Forward(delay=2.0 if slow.is_set() else 0)

    with StandIn(env.base_url, behave) as proxy:
        client = make(proxy.url, timeout=1.5, attempt_timeout=0.6, max_retries=2)
        denied = await client.reserve(user, "e")
        assert denied.reasons == ["backend_unavailable"]
        assert reserved(env, user) == 1, "the gateway did hold it"
        assert client.client.pending_releases == 1
        slow.clear()
        await client.usage(user)
    assert client.client.pending_releases == 0
    assert reserved(env, user) == 0, "released by its idempotency key"
