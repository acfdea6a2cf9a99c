"""Behaviour when the answer is slow, a proxy answers instead, or nothing answers: retries only
where safe with one Idempotency-Key per call, one deadline per call, and fail closed or open."""

from __future__ import annotations

import threading
from typing import Any, AsyncIterator, Callable, Dict, List, Optional

import pytest
from both import Both
from conftest import Env
from gateway import free_port, start_gateway
from standin import Answer, Forward, Seen, StandIn

from quota_gateway import AsyncQuotaGateway, QuotaGateway, QuotaGatewayError

def html(status: int, headers: Optional[Dict[str, str]] = None) -> Answer:
    """A load balancer's error page."""
    page = f"<html><body><h1>{status}</h1><hr>nginx</body></html>".encode()
    return Answer(status, page, {"Content-Type": "text/html", **(headers or {})})


HTML_502 = html(502)
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


async def test_load_balancer_pages_are_retried_after_retry_after_and_the_reserve_counts_once(
        make: Make, env: Env, subscribed: Callable[..., str]) -> None:
    user = subscribed(5)
    script = [HTML_502, html(504), html(429, {"Retry-After": "1"})]
    with StandIn(env.base_url, lambda n, _s: script[n] if n < len(script) else Forward()) as proxy:
        decision = await make(proxy.url, timeout=5, max_retries=3).reserve(user, "e")
    assert decision.allowed
    assert len(proxy.seen) == 4 and len(set(proxy.keys())) == 1
    assert proxy.times[3] - proxy.times[2] >= 0.9, "the 429's Retry-After: 1 was waited for"
    assert reserved(env, user) == 1


async def test_a_500_page_is_not_retried_and_reserve_answers_it_by_the_fail_mode(make: Make, env: Env) -> None:
    with StandIn(env.base_url, lambda _n, _s: html(500)) as proxy:
        client = make(proxy.url, max_retries=3)
        denied = await client.reserve("u", "e")
        assert (denied.allowed, denied.reasons, denied.unchecked) == (False, ["backend_unavailable"], True)
        assert len(proxy.seen) == 1, "a 500 is not one of the statuses retried"
        with pytest.raises(QuotaGatewayError) as err:
            await client.usage("u")
        assert (err.value.code, err.value.status, err.value.unavailable) == ("http_500", 500, True)
        opened = make(proxy.url, fail_mode="open")
        assert (await opened.reserve("u", "e")).allowed


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


def lose_first_answer(n: int, _seen: Seen) -> Forward:
    """The first request runs at the gateway, but its answer is lost."""
    return Forward(drop=n == 0)


async def test_an_adjustment_whose_answer_was_lost_is_retried_with_its_key_and_applied_once(
        make: Make, env: Env, subscribed: Callable[..., str]) -> None:
    user = subscribed(10)
    env.call("POST", "/v1/track", {"userId": user, "event": "e", "quantity": 5})
    with StandIn(env.base_url, lose_first_answer) as proxy:
        adjusted = await make(proxy.url).adjust(user, "g", -2, "refund two renders")
    assert len(proxy.seen) == 2 and len(set(proxy.keys())) == 1 and proxy.keys()[0], "retried with one key"
    assert adjusted.counter.used == 3
    assert len(env.call("GET", f"/v1/users/{user}/adjustments")["data"]) == 1, "applied once"
    assert env.call("GET", f"/v1/users/{user}/usage")["counters"][0]["used"] == 3


async def test_a_grant_whose_answer_was_lost_is_retried_with_its_key_and_granted_once(
        make: Make, env: Env, fresh_user: Callable[..., str]) -> None:
    user = fresh_user("credits")
    with StandIn(env.base_url, lose_first_answer) as proxy:
        made = await make(proxy.url).grant(user, "credits", 40)   # no key of the caller's
    assert len(proxy.seen) == 2 and len(set(proxy.keys())) == 1 and proxy.keys()[0], "retried with one key"
    assert made.remaining == 40
    grants = env.call("GET", f"/v1/users/{user}/grants")["data"]
    assert [g["grantId"] for g in grants] == [made.grant_id], "granted once"


async def test_a_webhook_endpoint_whose_creation_answer_was_lost_is_made_once(
        make: Make, env: Env, fresh_user: Callable[..., str]) -> None:
    url = f"http://127.0.0.1:9/hooks/{fresh_user()}"
    with StandIn(env.base_url, lose_first_answer) as proxy:
        made = await make(proxy.url).create_webhook(url, description="made once")
    assert len(proxy.seen) == 2 and len(set(proxy.keys())) == 1 and proxy.keys()[0]
    endpoints = [w["id"] for w in env.call("GET", "/v1/webhooks")["data"] if w["url"] == url]
    assert endpoints == [made.id], "one endpoint, the one answered"


async def test_rotating_a_secret_and_sending_a_test_are_not_retried_once_they_may_have_arrived(
        make: Make, env: Env, fresh_user: Callable[..., str]) -> None:
    for behave in (lambda _n, _s: Forward(drop=True), lambda _n, _s: HTML_502, lambda _n, _s: Forward(delay=3)):
        # An endpoint of its own each time: the gateway limits rotations per endpoint.
        hook = env.call("POST", "/v1/webhooks", {"url": f"http://127.0.0.1:9/hooks/{fresh_user()}"})
        with StandIn(env.base_url, behave) as proxy:
            client = make(proxy.url, timeout=2, max_retries=3)
            for method in (client.rotate_webhook_secret, client.test_webhook):
                with pytest.raises(QuotaGatewayError) as err:
                    await method(hook["id"])
                assert err.value.unavailable
        assert [s.path.rsplit("/", 1)[-1] for s in proxy.seen] == ["rotate-secret", "test"], "one attempt each"


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
