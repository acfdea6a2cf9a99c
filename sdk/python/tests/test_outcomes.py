"""What calls' outputs came to, through both clients against a real gateway: said by a commit, a
track, the reservation block, a run's close or later (`set_outcome`), counted per counter and
day, and divided into usage as the cost per accepted output; said again it changes nothing, a
new word moves the count; a reservation not committed, an unknown one and a word the gateway
refuses raise; a block's commit that got no answer is sent again with its outcome."""

from __future__ import annotations

import json
from typing import Any, Callable, Optional

import pytest
from both import Both
from conftest import Env
from standin import Answer, Forward, Seen, StandIn

from quota_gateway import AsyncQuotaGateway, Counter, QuotaGateway, QuotaGatewayError


def subscribed(env: Env, fresh_user: Callable[..., str], parent_id: Optional[str] = None) -> str:
    """A user of its own on a plan whose `spend` group counts renders and tasks in cents."""
    user = fresh_user("out")
    env.call("PUT", f"/v1/plans/plan_{user}", {"id": f"plan_{user}", "periodType": "month", "groups": [
        {"id": "spend", "unit": "cents", "quota": 10_000,
         "matches": [{"event": "image.render"}, {"event": "agent.task"}]}]})
    env.call("PUT", f"/v1/users/{user}/subscription",
             {"planId": f"plan_{user}", **({"parentId": parent_id} if parent_id else {})})
    return user


async def render(client: Both, user: str) -> str:
    """Reserves 10 cents of a render, which must be admitted."""
    hold = await client.reserve(user, "image.render", 10)
    assert hold.allowed
    return str(hold.reservation_id)


async def spend(client: Both, user: str) -> Counter:
    return next(c for c in (await client.usage(user)).counters if c.group_id == "spend")


async def test_four_renders_of_10_cents_two_accepted_cost_20_an_accepted_render(
        client: Both, env: Env, fresh_user: Callable[..., str]) -> None:
    user = subscribed(env, fresh_user)
    first = await render(client, user)
    assert (await client.commit(first, outcome="accepted")).status == "committed"
    second = await render(client, user)
    await client.commit(second)
    await client.track(user, "image.render", 10, outcome="rejected")
    third = await render(client, user)
    await client.commit(third, 10, {"model": "flux"}, outcome="failed")
    before = await spend(client, user)
    assert (before.used, before.outcomes, before.cost_per_accepted) == (
        40, {"accepted": 1, "rejected": 1, "failed": 1}, 40)

    # The second render is judged later: kept.
    said = await client.set_outcome(second, "accepted")
    assert (said.reservation_id, said.outcome, said.previous) == (second, "accepted", None)
    after = await spend(client, user)
    assert (after.used, after.outcomes, after.cost_per_accepted) == (40, {"accepted": 2, "rejected": 1, "failed": 1}, 20)
    today = (await client.daily_usage(user)).days[-1]
    day = next(g for g in today.groups if g.group_id == "spend")
    assert (day.used, day.outcomes, day.cost_per_accepted) == (40, {"accepted": 2, "rejected": 1, "failed": 1}, 20)


async def test_set_outcome_replaces_the_word_said_before_and_said_again_changes_nothing(
        client: Both, env: Env, fresh_user: Callable[..., str]) -> None:
    user = subscribed(env, fresh_user)
    rid = await render(client, user)
    await client.commit(rid, outcome="rejected")
    assert (await client.set_outcome(rid, "accepted")).previous == "rejected"
    again = await client.set_outcome(rid, "accepted")
    assert (again.outcome, again.previous) == ("accepted", "accepted")
    counter = await spend(client, user)
    assert (counter.outcomes, counter.cost_per_accepted) == ({"accepted": 1}, 10), "counted once, its last word"

    entries = (await client.list_usage_events(user_id=user)).data
    commit = next(e for e in entries if e.kind == "commit")
    assert (commit.outcome, commit.previous_outcome) == ("rejected", None)
    said = [e for e in entries if e.kind == "outcome"]
    assert len(said) == 1, "said again, nothing is written"
    assert (said[0].outcome, said[0].previous_outcome, said[0].changes_usage) == ("accepted", "rejected", False)
    assert [g.amount for g in said[0].groups] == [0]


async def test_a_held_reservation_is_not_committed_and_an_unknown_one_not_found(
        client: Both, env: Env, fresh_user: Callable[..., str]) -> None:
    user = subscribed(env, fresh_user)
    held = await render(client, user)
    with pytest.raises(QuotaGatewayError) as early:
        await client.set_outcome(held, "accepted")
    assert (early.value.code, early.value.status, early.value.unavailable) == ("reservation_not_committed", 409, False)
    await client.release(held)
    with pytest.raises(QuotaGatewayError) as released:
        await client.set_outcome(held, "accepted")
    assert released.value.code == "reservation_not_committed", "a released hold produced nothing"
    with pytest.raises(QuotaGatewayError) as unknown:
        await client.set_outcome(held[:-1] + ("1" if held[-1] == "0" else "0"), "accepted")
    assert (unknown.value.code, unknown.value.status) == ("reservation_not_found", 404)
    assert (await spend(client, user)).outcomes == {}


async def test_a_word_the_gateway_refuses_is_invalid_request_naming_outcome(
        client: Both, env: Env, fresh_user: Callable[..., str]) -> None:
    user = subscribed(env, fresh_user)
    rid = await render(client, user)
    calls: Any = [
        lambda: client.commit(rid, outcome="Accepted!"),
        lambda: client.track(user, "image.render", 1, outcome="x" * 33),
        lambda: client.set_outcome(rid, ""),
    ]
    for call in calls:
        with pytest.raises(QuotaGatewayError) as refused:
            await call()
        assert (refused.value.code, refused.value.status, refused.value.field) == ("invalid_request", 400, "outcome")
    assert (await client.get_reservation(rid)).status == "held", "a refused commit committed nothing"
    counter = await spend(client, user)
    assert (counter.used, counter.outcomes) == (0, {})


def test_the_reservation_block_commits_with_the_outcome_it_said(
        qg: QuotaGateway, env: Env, fresh_user: Callable[..., str]) -> None:
    user = subscribed(env, fresh_user)
    with qg.reservation(user, "image.render", 10) as r:
        r.commit(outcome="accepted")
    assert r.outcome == "accepted" and r.committed is not None
    with pytest.raises(ValueError):
        with qg.reservation(user, "image.render", 10) as r:
            r.commit(8, outcome="failed")
            raise ValueError("the upload broke after the render")
    counter = next(c for c in qg.usage(user).counters if c.group_id == "spend")
    assert (counter.used, counter.outcomes, counter.cost_per_accepted) == (18, {"accepted": 1, "failed": 1}, 18)


async def test_the_async_reservation_block_commits_with_the_outcome_it_said(
        aqg: AsyncQuotaGateway, env: Env, fresh_user: Callable[..., str]) -> None:
    user = subscribed(env, fresh_user)
    async with aqg.reservation(user, "image.render", 10) as r:
        r.commit(outcome="rejected")
    committed = await aqg.get_reservation(r.reservation_id)
    assert committed.status == "committed"
    counter = next(c for c in (await aqg.usage(user)).counters if c.group_id == "spend")
    assert (counter.outcomes, counter.cost_per_accepted) == ({"rejected": 1}, None)


def test_with_run_closes_with_the_outcome_the_block_set_and_close_says_one_too(
        qg: QuotaGateway, env: Env, fresh_user: Callable[..., str]) -> None:
    user = subscribed(env, fresh_user)
    with qg.with_run(user, "agent.task", 30) as run:
        step = run.reserve("image.render", 10)
        assert step.allowed
        run.commit(step.reservation_id)
        run.outcome = "accepted"
    assert run.closed is not None and run.closed.state == "closed"
    other = qg.start_run(user, "agent.task", 30)
    assert other.allowed
    other.close("abandoned")
    closes = [e for e in qg.list_usage_events(user_id=user).data if e.kind == "run_close"]
    assert [e.outcome for e in closes] == ["accepted", "abandoned"]
    counter = next(c for c in qg.usage(user).counters if c.group_id == "spend")
    assert (counter.used, counter.outcomes, counter.cost_per_accepted) == (10, {"accepted": 1, "abandoned": 1}, 10)


async def test_async_with_run_closes_with_the_outcome_the_block_set(
        aqg: AsyncQuotaGateway, env: Env, fresh_user: Callable[..., str]) -> None:
    user = subscribed(env, fresh_user)
    async with aqg.with_run(user, "agent.task", 30) as run:
        await run.track("image.render", 10, outcome="accepted")
        run.outcome = "rejected"
    closes = [e for e in (await aqg.list_usage_events(user_id=user)).data if e.kind in ("track", "run_close")]
    assert [(e.kind, e.outcome) for e in closes] == [("track", "accepted"), ("run_close", "rejected")]


async def test_a_teams_usage_counts_its_members_outcomes(
        client: Both, env: Env, fresh_user: Callable[..., str]) -> None:
    team = subscribed(env, fresh_user)
    member = subscribed(env, fresh_user, team)
    await client.commit(await render(client, member), outcome="accepted")
    await client.track(member, "image.render", 10, outcome="rejected")
    usage = await client.usage(member)
    pooled = next(c for p in usage.parents if p.subject_id == team for c in p.counters if c.group_id == "spend")
    assert (pooled.used, pooled.outcomes, pooled.cost_per_accepted) == (20, {"accepted": 1, "rejected": 1}, 20)


def test_an_unchecked_reservations_outcome_is_answered_by_the_client_as_its_commit_is(env: Env) -> None:
    with QuotaGateway(env.secret, base_url="http://127.0.0.1:9", fail_mode="open", timeout=0.5,
                      max_retries=0) as qg:
        said = qg.set_outcome("", "accepted")
    assert (said.reservation_id, said.outcome, said.previous) == ("", "accepted", None)


def test_a_blocks_commit_that_got_no_answer_is_sent_again_with_its_outcome(
        env: Env, fresh_user: Callable[..., str]) -> None:
    user = subscribed(env, fresh_user)
    down = [True]

    def behave(_n: int, seen: Seen) -> Any:
        if down[0] and seen.path.endswith("/commit"):
            return Answer(503, b"", {"Content-Type": "text/html"})
        return Forward()

    with StandIn(env.base_url, behave) as proxy, QuotaGateway(env.secret, base_url=proxy.url) as qg:
        with qg.reservation(user, "image.render", 10) as r:
            r.commit(outcome="accepted")
        assert r.settled is not None and r.settled.pending and qg.pending_commits == 1
        down[0] = False
        qg.usage(user)  # any call the gateway answers sends what was kept
        assert qg.pending_commits == 0
        bodies = [json.loads(s.body) for s in proxy.seen if s.path.endswith("/commit")]
        assert {b.get("outcome") for b in bodies} == {"accepted"}, "every try says it"
    counter = env.call("GET", f"/v1/users/{user}/usage")["counters"][0]
    assert (counter["used"], counter["outcomes"], counter["costPerAccepted"]) == (10, {"accepted": 1}, 10)
