"""The one spend policy and its runners: a paid answer survives a commit the gateway does not
answer (the commit is kept and sent again with its key, counted once); a reserve whose task is
cancelled in flight is released once the gateway answers; an outage raises `QuotaUnavailable`,
not "quota exceeded"; a `with` block that measured and then raised commits what it measured;
a reserve that matched no group warns once per event."""

from __future__ import annotations

import asyncio
import logging
import threading
from typing import Any, Callable, Iterator

import openai
import pytest
from conftest import Env
from gateway import free_port
from openai_standin import OpenAIStandIn
from spent import spent
from standin import Answer, Forward, Seen, StandIn

from quota_gateway import AsyncQuotaGateway, QuotaExceeded, QuotaGateway
from quota_gateway.errors import QuotaUnavailable
from quota_gateway.openai import AsyncQuotaOpenAI, QuotaOpenAI, settlement

MESSAGES = [{"role": "user", "content": "hi"}]


@pytest.fixture
def standin() -> Iterator[OpenAIStandIn]:
    server = OpenAIStandIn()
    yield server
    server.close()


class Commits:
    """A gateway in front of the real one whose commits fail while `down` is set: 503, or
    with `lose`, run and their answer lost."""

    def __init__(self, lose: bool = False) -> None:
        self.down = threading.Event()
        self.lose = lose

    def __call__(self, _n: int, seen: Seen) -> Any:
        if self.down.is_set() and seen.path.endswith("/commit"):
            return Forward(drop=True) if self.lose else Answer(503, b"", {"Content-Type": "text/html"})
        return Forward()


@pytest.mark.parametrize("lose", [False, True], ids=["refused", "answer-lost"])
def test_a_commit_without_an_answer_keeps_the_paid_answer_and_counts_once_the_gateway_is_back(
        env: Env, standin: OpenAIStandIn, subscribed: Callable[..., str], lose: bool,
        caplog: pytest.LogCaptureFixture) -> None:
    user = subscribed(10_000, "tokens")
    commits = Commits(lose)
    with StandIn(env.base_url, commits) as proxy, QuotaGateway(env.secret, base_url=proxy.url) as qg:
        wrapped = QuotaOpenAI(openai.OpenAI(base_url=standin.url, api_key="sk-test", max_retries=0), qg)
        commits.down.set()
        with caplog.at_level(logging.WARNING, logger="quota_gateway"):
            answer = wrapped.chat.completions.create(quota_user=user, model="m", messages=MESSAGES, max_tokens=20)
        found = settlement(answer)
        assert answer.choices[0].message.content == "Hello!" and found is not None and found.pending
        assert any("kept and sent again" in r.getMessage() for r in caplog.records)
        assert qg.pending_commits == 1
        commits.down.clear()
        qg.usage(user)   # any call the gateway answers sends what was kept
        assert qg.pending_commits == 0
        keys = {s.headers["idempotency-key"] for s in proxy.seen if s.path.endswith("/commit")}
        assert len(keys) == 1, "sent again with its own key"
    assert spent(env, user) == (answer.usage.total_tokens, 0), "counted once"


async def test_an_async_stream_whose_commit_got_no_answer_counts_once_the_gateway_is_back(
        env: Env, standin: OpenAIStandIn, subscribed: Callable[..., str]) -> None:
    user = subscribed(10_000, "tokens")
    commits = Commits()
    with StandIn(env.base_url, commits) as proxy:
        async with AsyncQuotaGateway(env.secret, base_url=proxy.url) as aqg:
            wrapped = AsyncQuotaOpenAI(openai.AsyncOpenAI(base_url=standin.url, api_key="sk-test", max_retries=0),
                                       aqg)
            stream = await wrapped.chat.completions.create(quota_user=user, model="m", messages=MESSAGES,
                                                           stream=True)
            commits.down.set()
            text = "".join([c.choices[0].delta.content or "" async for c in stream])
            assert text == "Hello!" and stream.settled is not None and stream.settled.pending
            commits.down.clear()
            await aqg.usage(user)
            assert aqg.pending_commits == 0
    assert spent(env, user) == (stream.used, 0)


async def test_a_reserve_cancelled_in_flight_is_released_by_its_key_once_the_gateway_answers(
        env: Env, subscribed: Callable[..., str]) -> None:
    user = subscribed(10)
    arrived, late = threading.Event(), threading.Event()
    late.set()

    def behave(_n: int, seen: Seen) -> Forward:
        if seen.path == "/v1/reserve" and late.is_set():
            arrived.set()
            return Forward(delay=1.0)   # it runs at once; its answer comes late
        return Forward()

    with StandIn(env.base_url, behave) as proxy:
        async with AsyncQuotaGateway(env.secret, base_url=proxy.url, timeout=5) as aqg:
            task = asyncio.ensure_future(aqg.reserve(user, "e", 3))
            await asyncio.to_thread(arrived.wait, 10)
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            assert aqg.pending_releases == 1
            await asyncio.sleep(1.2)   # the first reserve has run at the gateway by now
            assert spent(env, user) == (0, 3), "held, and no one has its id"
            late.clear()
            await aqg.usage(user)
            assert aqg.pending_releases == 0
        reserves = [s for s in proxy.seen if s.path == "/v1/reserve"]
        assert len(reserves) == 2 and reserves[0].headers["idempotency-key"] == reserves[1].headers["idempotency-key"]
    assert spent(env, user) == (0, 0), "released by its idempotency key"


async def test_an_outage_raises_quota_unavailable_with_its_retry_after(
        env: Env, standin: OpenAIStandIn) -> None:
    nowhere = f"http://127.0.0.1:{free_port()}"
    with QuotaGateway(env.secret, base_url=nowhere, timeout=0.5) as qg:
        with pytest.raises(QuotaUnavailable) as out:
            with qg.reservation("u", "llm.tokens", 10):
                pass
        assert isinstance(out.value, QuotaExceeded) and out.value.retry_after == 1
        assert str(out.value).startswith("quota gateway unavailable") and "quota exceeded" not in str(out.value)
        wrapped = QuotaOpenAI(openai.OpenAI(base_url=standin.url, api_key="sk-test", max_retries=0), qg)
        with pytest.raises(QuotaUnavailable):
            wrapped.chat.completions.create(quota_user="u", model="m", messages=MESSAGES)
    assert standin.requests == [], "the provider is not called unpaid"
    busy = Answer(503, b"busy", {"Retry-After": "30"})
    with StandIn(env.base_url, lambda _n, _s: busy) as proxy:
        async with AsyncQuotaGateway(env.secret, base_url=proxy.url, timeout=2) as aqg:
            with pytest.raises(QuotaUnavailable) as later:
                async with aqg.reservation("u", "e"):
                    pass
    assert later.value.retry_after == 30, "the gateway's own Retry-After"


def test_a_block_that_measured_then_raised_commits_what_it_measured(
        qg: QuotaGateway, env: Env, subscribed: Callable[..., str]) -> None:
    user = subscribed(100, "tokens")
    with pytest.raises(ValueError):
        with qg.reservation(user, "llm", 40) as r:
            r.commit(15)   # the provider answered and was paid
            raise ValueError("rendering the answer failed")
    assert r.committed is not None and spent(env, user) == (15, 0)
    with pytest.raises(RuntimeError, match="settled already"):
        r.commit(1)


async def test_an_async_block_that_measured_then_was_cancelled_commits_what_it_measured(
        aqg: AsyncQuotaGateway, env: Env, subscribed: Callable[..., str]) -> None:
    user = subscribed(100, "tokens")
    measured = asyncio.Event()

    async def work() -> None:
        async with aqg.reservation(user, "llm", 40) as r:
            r.commit(9)
            measured.set()
            await asyncio.Event().wait()   # until cancelled

    task = asyncio.ensure_future(work())
    await asyncio.wait_for(measured.wait(), 10)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert spent(env, user) == (9, 0)


def test_a_reserve_that_matched_no_group_warns_once_per_client_and_event(
        env: Env, fresh_user: Callable[..., str], caplog: pytest.LogCaptureFixture) -> None:
    user = fresh_user()
    plan = {"id": f"plan_{user}", "periodType": "month",
            "groups": [{"id": "g", "unit": "count", "quota": 5, "matches": [{"event": "image.render"}]}]}
    env.call("PUT", f"/v1/plans/{plan['id']}", plan)
    env.call("PUT", f"/v1/users/{user}/subscription", {"planId": plan["id"]})
    with caplog.at_level(logging.WARNING, logger="quota_gateway"):
        for _client in range(2):
            with QuotaGateway(env.secret, base_url=env.base_url) as qg:
                for _ in range(3):
                    hold = qg.reserve(user, "llm.tokens", 10)
                    assert hold.allowed and hold.counters == []
                    qg.release(hold.reservation_id)
                assert qg.reserve(user, "image.render").counters, "a counted event says nothing"
    warned = [r.getMessage() for r in caplog.records if "no counter" in r.getMessage()]
    assert len(warned) == 2 and all("'llm.tokens'" in w for w in warned), "once per client"


def test_closing_the_client_sends_its_kept_commits_and_says_which_it_could_not(
        env: Env, subscribed: Callable[..., str], caplog: pytest.LogCaptureFixture) -> None:
    user = subscribed(100, "tokens")
    commits = Commits()
    with StandIn(env.base_url, commits) as proxy:
        for still_down in (False, True):
            commits.down.clear()
            qg = QuotaGateway(env.secret, base_url=proxy.url)
            with qg.reservation(user, "llm", 40) as r:
                commits.down.set()
                r.commit(12)
            assert r.settled is not None and r.settled.pending and qg.pending_commits == 1
            if not still_down:
                commits.down.clear()
            with caplog.at_level(logging.ERROR, logger="quota_gateway"):
                qg.close()
    assert spent(env, user) == (12, 40), "the first sent at close; the second still held"
    assert any("closes with 1 commit" in r.getMessage() for r in caplog.records)
