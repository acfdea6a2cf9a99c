"""The reservation context manager, and many reserves at once against a quota of one."""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Callable

import pytest
from conftest import Env
from gateway import free_port

from quota_gateway import AsyncQuotaGateway, QuotaExceeded, QuotaGateway


def counter(env: Env, user: str) -> Any:
    return env.call("GET", f"/v1/users/{user}/usage")["counters"][0]


def test_twenty_threads_against_a_quota_of_one_admit_exactly_one(qg: QuotaGateway, subscribed: Callable[..., str]) -> None:
    user = subscribed(1)
    with ThreadPoolExecutor(max_workers=20) as pool:
        decisions = list(pool.map(lambda _i: qg.reserve(user, "e"), range(20)))
    assert sum(d.allowed for d in decisions) == 1
    assert {r for d in decisions if not d.allowed for r in d.reasons} == {"limit_reached"}


async def test_twenty_tasks_against_a_quota_of_one_admit_exactly_one(aqg: AsyncQuotaGateway, subscribed: Callable[..., str]) -> None:
    user = subscribed(1)
    decisions = await asyncio.gather(*(aqg.reserve(user, "e") for _ in range(20)))
    assert sum(d.allowed for d in decisions) == 1


def test_a_block_that_ends_commits_the_amount_it_reported(qg: QuotaGateway, env: Env, subscribed: Callable[..., str]) -> None:
    user = subscribed(100, "tokens")
    with qg.reservation(user, "llm", 40, {"model": "m"}) as r:
        assert r.reservation_id and r.decision.counters[0].reserved == 40
        r.commit(12)
    assert r.committed is not None and r.committed.status == "committed"
    assert (counter(env, user)["used"], counter(env, user)["reserved"]) == (12, 0)
    with qg.reservation(user, "llm", 5):
        pass
    assert counter(env, user)["used"] == 17, "the reserved amount when none was reported"


@pytest.mark.parametrize("error", [ValueError("boom"), KeyboardInterrupt()])
def test_a_block_that_raises_releases_its_hold(qg: QuotaGateway, env: Env, subscribed: Callable[..., str],
                                                error: BaseException) -> None:
    user = subscribed(10)
    with pytest.raises(type(error)):
        with qg.reservation(user, "e", 3):
            assert counter(env, user)["reserved"] == 3
            raise error
    assert (counter(env, user)["reserved"], counter(env, user)["used"]) == (0, 0)


def test_a_denied_reservation_raises_quota_exceeded_and_runs_nothing(qg: QuotaGateway, subscribed: Callable[..., str]) -> None:
    user = subscribed(1)
    ran = []
    with pytest.raises(QuotaExceeded) as denied:
        with qg.reservation(user, "e", 2):
            ran.append(True)
    assert not ran
    e = denied.value
    assert e.reasons == ["limit_reached"] and e.denied_by == ["g"] and e.counters[0].quota == 1


async def test_an_async_block_commits_and_releases_on_an_exception(aqg: AsyncQuotaGateway, env: Env,
                                                                   subscribed: Callable[..., str]) -> None:
    user = subscribed(10)
    async with aqg.reservation(user, "e", 4) as r:
        r.commit(2)
    assert counter(env, user)["used"] == 2
    with pytest.raises(RuntimeError):
        async with aqg.reservation(user, "e", 4):
            raise RuntimeError("the model failed")
    assert (counter(env, user)["used"], counter(env, user)["reserved"]) == (2, 0)


async def test_a_cancelled_task_releases_its_hold(aqg: AsyncQuotaGateway, env: Env, subscribed: Callable[..., str]) -> None:
    user = subscribed(10)
    inside = asyncio.Event()

    async def work() -> None:
        async with aqg.reservation(user, "e", 5):
            inside.set()
            await asyncio.Event().wait()  # until cancelled

    task = asyncio.ensure_future(work())
    await asyncio.wait_for(inside.wait(), 10)
    assert counter(env, user)["reserved"] == 5
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert (counter(env, user)["reserved"], counter(env, user)["used"]) == (0, 0)


def test_with_fail_mode_open_a_block_runs_when_the_gateway_gives_no_decision(env: Env) -> None:
    nowhere = f"http://127.0.0.1:{free_port()}"
    ran = []
    with QuotaGateway(env.secret, base_url=nowhere, timeout=0.5, fail_mode="open") as qg:
        with qg.reservation("u", "llm.tokens", 4000) as r:
            ran.append((r.reservation_id, r.decision.unchecked))
            r.commit(1200)
    assert ran == [("", True)]
    assert r.committed is not None and r.committed.status == "unchecked", "nothing was held to commit"
    with QuotaGateway(env.secret, base_url=nowhere, timeout=0.5) as closed:
        with pytest.raises(QuotaExceeded) as denied:
            with closed.reservation("u", "llm.tokens", 4000):
                ran.append(("closed", False))
    assert denied.value.reasons == ["backend_unavailable"] and len(ran) == 1


async def test_with_fail_mode_open_an_async_block_runs_too(env: Env) -> None:
    async with AsyncQuotaGateway(env.secret, base_url=f"http://127.0.0.1:{free_port()}", timeout=0.5,
                                 fail_mode="open") as aqg:
        async with aqg.reservation("u", "e") as r:
            r.commit(1)
    assert r.committed is not None and r.committed.status == "unchecked"
