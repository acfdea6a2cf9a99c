"""`reserve_first`: the first of several events that every matched group admits, held at once,
with both clients."""

from __future__ import annotations

from typing import Any, Callable, Dict, List

import pytest
from both import Both
from conftest import Env

from quota_gateway import Allowed, AsyncQuotaGateway, Denied, QuotaGateway, QuotaGatewayError

A_THEN_B: List[Dict[str, Any]] = [{"event": "llm.a", "metadata": {"model": "a"}}, {"event": "llm.b", "quantity": 1}]


@pytest.fixture
def on_models(env: Env, fresh_user: Callable[..., str]) -> Callable[[], str]:
    """A user on a plan of Model A's calls, 1 a month, and Model B's, 2."""
    def make() -> str:
        user = fresh_user("alt")
        plan_id = f"plan_{user}"
        env.call("PUT", f"/v1/plans/{plan_id}", {"id": plan_id, "periodType": "month", "groups": [
            {"id": "model-a", "unit": "count", "quota": 1, "matches": [{"event": "llm.a"}]},
            {"id": "model-b", "unit": "count", "quota": 2, "matches": [{"event": "llm.b"}]}]})
        env.call("PUT", f"/v1/users/{user}/subscription", {"planId": plan_id})
        return user
    return make


async def test_model_a_is_held_while_it_has_room_then_model_b_with_why_a_was_passed(
        client: Both, on_models: Callable[[], str]) -> None:
    user = on_models()
    first = await client.reserve_first(user, A_THEN_B)
    assert isinstance(first, Allowed) and (first.chosen, first.alternatives) == (0, [])
    await client.commit(first.reservation_id)
    second = await client.reserve_first(user, A_THEN_B, ttl_seconds=30)
    assert isinstance(second, Allowed) and second.chosen == 1
    assert second.counters[0].group_id == "model-b"
    [passed] = second.alternatives
    assert (passed.index, passed.event, passed.reasons, passed.denied_by) == (0, "llm.a", ["limit_reached"], ["model-a"])
    assert passed.counters[0].remaining == 0 and passed.denials[0].group_id == "model-a"
    await client.release(second.reservation_id)


async def test_a_denial_of_all_says_each_ones_reasons_and_bad_alternatives_are_named_by_their_place(
        client: Both, on_models: Callable[[], str]) -> None:
    user = on_models()
    await client.track(user, "llm.a")
    await client.track(user, "llm.b", 2)
    none = await client.reserve_first(user, A_THEN_B)
    assert isinstance(none, Denied) and none.chosen is None
    assert none.denied_by == ["model-a", "model-b"] and none.retry_after
    assert [(p.index, p.reasons) for p in none.alternatives] == [(0, ["limit_reached"]), (1, ["limit_reached"])]
    for alternatives, field in [([{"event": "llm.a"}] * 9, "alternatives"),
                                ([{"event": "llm.a"}, {"event": "not an event"}], "alternatives[1].event")]:
        with pytest.raises(QuotaGatewayError) as refused:
            await client.reserve_first(user, alternatives)
        assert (refused.value.code, refused.value.field) == ("invalid_request", field)


async def test_a_repeated_key_answers_the_first_choice_and_an_unanswered_call_the_fail_modes(
        client: Both, on_models: Callable[[], str], env: Env) -> None:
    user = on_models()
    await client.track(user, "llm.a")
    key = f"fallback-{user}-{client.kind}"
    first = await client.reserve_first(user, A_THEN_B, idempotency_key=key)
    again = await client.reserve_first(user, A_THEN_B, idempotency_key=key)
    assert (again.chosen, again.reservation_id) == (1, first.reservation_id)
    counters = {c["groupId"]: c["reserved"] for c in env.call("GET", f"/v1/users/{user}/usage")["counters"]}
    assert counters["model-b"] == 1
    gone = "http://127.0.0.1:1"
    for fail_mode, allowed, chosen in (("open", True, 0), ("closed", False, None)):
        if client.kind == "sync":
            with QuotaGateway(env.secret, base_url=gone, max_retries=0, fail_mode=fail_mode) as down:
                decision = down.reserve_first(user, A_THEN_B)
        else:
            async with AsyncQuotaGateway(env.secret, base_url=gone, max_retries=0, fail_mode=fail_mode) as adown:
                decision = await adown.reserve_first(user, A_THEN_B)
        assert (decision.allowed, decision.unchecked, decision.chosen) == (allowed, True, chosen)
