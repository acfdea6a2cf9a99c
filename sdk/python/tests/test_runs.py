"""Runs against the real gateway, with both clients: a budget held up front, steps that draw from
it, its limits, its close whatever happens, and a refused start as an answer."""

from __future__ import annotations

import asyncio
from typing import Any, AsyncIterator, Callable, List

import pytest
from both import Both
from conftest import Env
from gateway import free_port
from standin import Forward, Seen, StandIn

from quota_gateway import (AsyncQuotaGateway, DeniedRun, QuotaExceeded, QuotaGateway, QuotaGatewayError,
                           RunLimits)
from quota_gateway import _run_calls
from quota_gateway._load import load
from quota_gateway.types import Run


def counter(env: Env, user: str) -> Any:
    return env.call("GET", f"/v1/users/{user}/usage")["counters"][0]


def used_and_reserved(env: Env, user: str) -> Any:
    c = counter(env, user)
    return c["used"], c["reserved"]


def env_runs(env: Env, user: str) -> List[Run]:
    """The user's runs as the gateway lists them, read outside the client under test."""
    return [load(Run, r) for r in env.call("GET", f"/v1/runs?userId={user}")["data"]]


async def start(client: Both, *args: Any, **kwargs: Any) -> Both:
    """An admitted run's handle, behind the same face as its client."""
    run = await client.start_run(*args, **kwargs)
    assert run.allowed, run
    return Both(run)


def group(run: Run, group_id: str = "g") -> Any:
    return next(g for g in run.groups if g.group_id == group_id)


async def test_a_run_holds_its_budget_its_steps_draw_from_it_and_its_close_counts_what_they_used(
        client: Both, env: Env, subscribed: Callable[..., str]) -> None:
    user = subscribed(10_000, "tokens")
    run = await start(client, user, "llm", 1000, {"task": "t1"}, limits={"steps": 10}, ttl_seconds=300)
    assert run.id and run.expires_at and run.start.allowed
    assert counter(env, user)["reserved"] == 1000, "the budget is held up front"

    first = await run.reserve("llm", 300, {"model": "m"}, action_id="think-1")
    assert first.allowed and first.run is not None
    assert (first.run.run_id, first.run.remaining["g"], first.run.steps) == (run.id, 700, 1)
    await run.commit(first.reservation_id, 120)
    second = await run.reserve("llm", 200, action_id="think-2")
    assert second.allowed and second.run is not None and second.run.remaining["g"] == 680
    await run.release(second.reservation_id)
    tracked = await run.track("llm", 30, action_id="tool-1")
    assert tracked.run is not None and tracked.run.remaining["g"] == 850

    assert (await run.extend(600)).run_id == run.id
    now = await run.get()
    assert (now.state, now.user_id, now.event, now.steps, now.fallbacks) == ("open", user, "llm", 3, 0)
    assert (group(now).budget, group(now).used, group(now).open, group(now).remaining) == (1000, 150, 0, 850)
    assert now.limits == RunLimits(steps=10) and now.attempts == {"think-1": 1, "think-2": 1, "tool-1": 1}

    closed = await run.close()
    assert (closed.state, group(closed).used) == ("closed", 150) and closed.ended_at
    assert used_and_reserved(env, user) == (150, 0), "what the steps used counts; the rest went back"
    again = await client.close_run(run.id)
    assert (again.state, group(again).used) == ("closed", 150), "a repeated close answers the closed run"
    assert used_and_reserved(env, user) == (150, 0), "and counts nothing twice"
    listed = await client.list_runs(user)
    assert run.id in [r.run_id for r in listed.data] and listed.next_cursor is None
    ended = await run.reserve("llm", 1)
    assert not ended.allowed and ended.reasons == ["run_ended"]


async def test_a_step_past_the_runs_budget_is_denied_though_the_user_has_quota_left(
        client: Both, env: Env, subscribed: Callable[..., str]) -> None:
    user = subscribed(10_000, "tokens")
    run = await start(client, user, "llm", 100)
    held = await run.reserve("llm", 60, action_id="a1")
    assert held.allowed
    over = await run.reserve("llm", 50, action_id="a2")
    assert not over.allowed and over.reservation_id is None
    assert (over.reasons, over.denied_by) == (["run_budget_exhausted"], ["g"])
    assert over.run is not None and over.run.remaining["g"] == 40
    await run.commit(held.reservation_id)
    assert group(await run.close()).used == 60
    assert used_and_reserved(env, user) == (60, 0)


async def test_attempts_per_action_and_fallbacks_bound_retries(client: Both, subscribed: Callable[..., str]) -> None:
    user = subscribed(10_000, "tokens")
    run = await start(client, user, "llm", 1000, limits={"attempts_per_action": 2, "fallbacks": 1})
    failed = await run.reserve("llm", 10, action_id="search")
    assert failed.allowed
    await run.release(failed.reservation_id)       # the tool failed
    retried = await run.reserve("llm", 10, action_id="search", kind="retry")
    assert retried.allowed
    await run.commit(retried.reservation_id)
    third = await run.reserve("llm", 10, action_id="search", kind="retry")
    assert (third.allowed, third.reasons) == (False, ["action_attempts_exhausted"])

    primary = await run.reserve("llm", 10, {"model": "big"}, action_id="think")
    assert primary.allowed
    await run.release(primary.reservation_id)      # the model failed
    fallback = await run.reserve("llm", 10, {"model": "small"}, action_id="think", kind="fallback")
    assert fallback.allowed and fallback.run is not None and fallback.run.fallbacks == 1
    await run.commit(fallback.reservation_id, 4)
    another = await run.reserve("llm", 10, action_id="answer", kind="fallback")
    assert (another.allowed, another.reasons) == (False, ["fallback_budget_exhausted"])

    now = await run.get()
    assert (now.attempts["search"], now.attempts["think"], now.fallbacks) == (2, 2, 1)
    assert now.limits == RunLimits(attempts_per_action=2, fallbacks=1)
    assert group(await run.close()).used == 14


async def test_a_refused_start_is_an_answer_and_no_run_exists(client: Both, subscribed: Callable[..., str]) -> None:
    user = subscribed(5)
    run = await client.start_run(user, "e", 10)
    assert isinstance(run, DeniedRun) and not run.allowed and run.id is None
    assert (run.reasons, run.denied_by, run.counters[0].quota) == (["limit_reached"], ["g"], 5)
    assert run.start.run_id is None and run.decision.reasons == ["limit_reached"]
    assert (await client.list_runs(user)).data == []


async def test_a_start_with_a_key_answers_the_same_run_and_bad_input_names_its_field(
        client: Both, subscribed: Callable[..., str]) -> None:
    user = subscribed(100)
    key = f"start-{user}-{client.kind}"
    first = await start(client, user, "e", 10, idempotency_key=key)
    again = await start(client, user, "e", 10, idempotency_key=key)
    assert again.id == first.id, "a repeated key answers the run it made"
    extended = await client.extend_run(first.id, 1200)   # past the default 900 s
    assert extended.run_id == first.id and extended.expires_at >= (first.expires_at or "")
    await first.close()
    with pytest.raises(QuotaGatewayError) as invalid:
        await client.start_run(user, "e", 1, limits={"steps": 0})
    assert (invalid.value.code, invalid.value.field) == ("invalid_request", "limits.steps")
    with pytest.raises(QuotaGatewayError) as missing:
        await client.get_run("run_does_not_exist")
    assert (missing.value.code, missing.value.status) == ("run_not_found", 404)
    with pytest.raises(QuotaGatewayError) as unknown:
        await client.close_run("run_does_not_exist")
    assert unknown.value.code == "run_not_found"


async def test_a_child_run_is_carved_from_its_parents_budget(client: Both, env: Env,
                                                             subscribed: Callable[..., str]) -> None:
    user = subscribed(10_000, "tokens")
    parent = await start(client, user, "llm", 1000)
    child = await parent.start_child("llm", 300)
    assert child.allowed and child.id != parent.id
    kid = Both(child)
    step = await kid.reserve("llm", 100, action_id="sub-1")
    assert step.allowed and step.run is not None and step.run.run_id == kid.id
    await kid.commit(step.reservation_id, 50)
    assert (await kid.close()).state == "closed"
    now = await parent.get()
    assert now.children == [kid.id]
    assert (await kid.get()).parent_run_id == parent.id
    await parent.close()
    assert used_and_reserved(env, user) == (50, 0)


async def test_steps_and_the_close_are_in_the_ledger(client: Both, subscribed: Callable[..., str]) -> None:
    user = subscribed(10_000, "tokens")
    run = await start(client, user, "llm", 100)
    step = await run.reserve("llm", 10, action_id="think-1", kind="primary")
    await run.commit(step.reservation_id, 7)
    await run.track("llm", 3, action_id="tool-1")
    await run.close()
    entries = (await client.list_usage_events(user_id=user)).data
    steps = [e for e in entries if e.run_id == run.id]
    assert sorted((e.kind, e.action_id, e.step_kind, e.quantity) for e in steps) == [
        ("commit", "think-1", "primary", 7), ("track", "tool-1", "primary", 3)]
    assert [e for e in entries if e.kind == "run_close"], "the close wrote its entry"


def test_with_run_closes_the_run_when_the_block_ends(qg: QuotaGateway, env: Env,
                                                     subscribed: Callable[..., str]) -> None:
    user = subscribed(1000, "tokens")
    with qg.with_run(user, "llm", 500) as run:
        step = run.reserve("llm", 100, action_id="a")
        assert step.allowed
        run.commit(step.reservation_id, 40)
        open_step = run.reserve("llm", 100, action_id="b")
        assert open_step.allowed, "left open: the close gives it back"
    assert run.closed is not None and run.closed.state == "closed"
    assert used_and_reserved(env, user) == (40, 0)


@pytest.mark.parametrize("error", [ValueError("the agent failed"), KeyboardInterrupt()])
def test_with_run_closes_the_run_when_the_block_raises(qg: QuotaGateway, env: Env, subscribed: Callable[..., str],
                                                       error: BaseException) -> None:
    user = subscribed(1000, "tokens")
    with pytest.raises(type(error)):
        with qg.with_run(user, "llm", 500, limits=RunLimits(steps=5)) as run:
            step = run.reserve("llm", 100, action_id="a")
            assert step.allowed
            run.commit(step.reservation_id, 30)
            assert counter(env, user)["reserved"] == 500
            raise error
    assert qg.get_run(run.id).state == "closed"
    assert used_and_reserved(env, user) == (30, 0)


def test_with_run_raises_quota_exceeded_when_refused_and_runs_nothing(qg: QuotaGateway,
                                                                      subscribed: Callable[..., str]) -> None:
    user = subscribed(5)
    ran: List[bool] = []
    with pytest.raises(QuotaExceeded) as denied:
        with qg.with_run(user, "e", 10):
            ran.append(True)
    assert not ran and denied.value.reasons == ["limit_reached"] and denied.value.denied_by == ["g"]


async def test_async_with_run_closes_on_an_exception_and_on_cancellation(
        aqg: AsyncQuotaGateway, env: Env, subscribed: Callable[..., str]) -> None:
    user = subscribed(1000, "tokens")
    with pytest.raises(RuntimeError):
        async with aqg.with_run(user, "llm", 200) as run:
            step = await run.reserve("llm", 50, action_id="a")
            assert step.allowed
            await run.commit(step.reservation_id, 20)
            raise RuntimeError("the model failed")
    assert run.closed is not None and run.closed.state == "closed"
    assert used_and_reserved(env, user) == (20, 0)

    inside = asyncio.Event()
    runs: List[str] = []

    async def work() -> None:
        async with aqg.with_run(user, "llm", 300) as cancelled:
            runs.append(cancelled.id)
            inside.set()
            await asyncio.Event().wait()  # until cancelled

    task = asyncio.ensure_future(work())
    await asyncio.wait_for(inside.wait(), 10)
    assert counter(env, user)["reserved"] == 300
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert (await aqg.get_run(runs[0])).state == "closed"
    assert used_and_reserved(env, user) == (20, 0)
    with pytest.raises(QuotaExceeded):
        async with aqg.with_run(user, "llm", 5000):
            pass


def test_fail_closed_refuses_a_start_and_fail_open_runs_unchecked(env: Env) -> None:
    nowhere = f"http://127.0.0.1:{free_port()}"
    with QuotaGateway(env.secret, base_url=nowhere, timeout=0.5) as closed:
        refused = closed.start_run("u", "agent.run", 100)
        assert isinstance(refused, DeniedRun) and refused.reasons == ["backend_unavailable"] and refused.unchecked
    with QuotaGateway(env.secret, base_url=nowhere, timeout=0.5, fail_mode="open") as opened:
        with opened.with_run("u", "agent.run", 100) as run:
            assert (run.id, run.unchecked) == ("", True)
            step = run.reserve("llm", 10, action_id="a")
            assert step.allowed and step.unchecked
            run.commit(step.reservation_id, 5)
        assert run.closed is not None and run.closed.state == "unchecked", "nothing was held to close"


@pytest.fixture(params=["sync", "async"])
async def through(request: pytest.FixtureRequest, env: Env) -> AsyncIterator[Callable[..., Both]]:
    """Clients of the kind under test in front of a stand-in proxy; closed afterwards."""
    made: List[Any] = []

    def build(base_url: str, **options: Any) -> Both:
        cls = QuotaGateway if request.param == "sync" else AsyncQuotaGateway
        made.append(cls(env.secret, base_url=base_url, **options))
        return Both(made[-1])

    yield build
    for c in made:
        if isinstance(c, AsyncQuotaGateway):
            await c.aclose()
        else:
            c.close()


async def test_a_start_whose_answer_was_lost_is_retried_with_its_key_and_closed_once_it_answers(
        through: Callable[..., Both], env: Env, subscribed: Callable[..., str]) -> None:
    user = subscribed(1000, "tokens")
    slow = [True]

    def behave(_n: int, seen: Seen) -> Forward:
        return Forward(delay=2.0 if slow[0] and seen.path == "/v1/runs" else 0)

    with StandIn(env.base_url, behave) as proxy:
        client = through(proxy.url, timeout=1.5, attempt_timeout=0.6, max_retries=2)
        refused = await client.start_run(user, "llm", 400)
        assert refused.reasons == ["backend_unavailable"] and refused.unchecked
        starts = [s for s in proxy.seen if s.path == "/v1/runs"]
        assert len(starts) >= 2 and len({s.headers.get("idempotency-key") for s in starts}) == 1
        assert counter(env, user)["reserved"] == 400, "the gateway did start it"
        assert client.client.pending_releases == 1
        slow[0] = False
        await client.usage(user)
    assert client.client.pending_releases == 0
    assert counter(env, user)["reserved"] == 0, "closed by its idempotency key"
    assert [r.state for r in env_runs(env, user)] == ["closed"]


def test_steps_limits_and_the_fail_mode_answers_are_built_without_io() -> None:
    assert _run_calls.step_fields("run_1", "a", "retry") == {"runId": "run_1", "actionId": "a", "kind": "retry"}
    assert _run_calls.step_fields("run_1", None, None) == {"runId": "run_1"}
    assert _run_calls.step_fields("", "a", "retry") == {}, "an unchecked run's steps are the user's"
    assert _run_calls.limits_body(RunLimits(attempts_per_action=2, fallback_share=0.25)) == {
        "attemptsPerAction": 2, "fallbackShare": 0.25}
    assert _run_calls.limits_body({"attempts_per_action": 2, "fallbacks": 0}) == {
        "attemptsPerAction": 2, "fallbacks": 0}, "zero is a limit, sent"
    call = _run_calls.start("closed", "u", "agent.run", None, {"task": "t"}, {"steps": 3}, 60, "run_p", None)
    assert (call.path, call.orphan_ttl) == ("/v1/runs", 60.0) and call.idempotency_key
    assert call.body == {"userId": "u", "event": "agent.run", "quantity": 1, "metadata": {"task": "t"},
                         "ttlSeconds": 60, "parentRunId": "run_p", "limits": {"steps": 3}}
    mine = _run_calls.start("closed", "u", "e", 2, None, None, None, None, "mine")
    assert (mine.idempotency_key, mine.orphan_ttl) == ("mine", None)
    assert _run_calls.close("run_1").body is None and _run_calls.close("run_1").idempotency_key is None
    local = _run_calls.close("").local
    assert local is not None and local().state == "unchecked"
    nothing = QuotaGatewayError("backend_unavailable", 0, "no answer")
    assert _run_calls.failed_start("open")(nothing).run_id == "", "fail open: a run of its own, unchecked"
    assert _run_calls.failed_start("closed")(nothing).run_id is None
