"""Fallback routes through the proxy, with the official `openai` and `anthropic` clients against
the provider simulator: a model the upstreams file routes (conftest.ROUTES: `smart` on openai
tries openai/gpt-4o, then backup/gpt-4o-mini, then openai/gpt-4.1-nano; `claude-smart` on
anthropic tries anthropic/claude-opus-5, then anthropic/claude-sonnet-5) moves on when the plan
denies a target or the provider refuses it before any byte of an answer, never after; each
attempt is held and settled on its own and named in the ledger; the answer names what served
it. The caps per original action are checked with a hundred callers in flight at once, each
call's chain of ledger entries against what the provider reported to it. What was charged is
read from the gateway; what the provider did, from the simulator."""

from __future__ import annotations

import json
import threading
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Callable, Dict, Iterator, List, Optional

import anthropic
import openai
import pytest
from conftest import Env, ProxyEnv
from spent import settled

from quota_gateway import QuotaGateway, UsageEvent

USER_PREFIX = "pr"
SMART = "smart"
HELLO = [{"role": "user", "content": "Say hello to the quota gateway"}]


def chain(qg: QuotaGateway, user: str) -> List[UsageEvent]:
    """The user's entries of one routed call's attempts, oldest first: denials and the ends of
    holds (commits and releases)."""
    found: List[UsageEvent] = []
    cursor = None
    for _ in range(20):
        page = qg.list_usage_events(user_id=user, cursor=cursor)
        found.extend(e for e in page.data if e.kind in ("denied", "commit", "release"))
        cursor = page.next_cursor
        if cursor is None:
            break
    return found


def meta(entry: UsageEvent) -> Dict[str, Any]:
    return entry.metadata or {}


def plan_denying(env: Env, user: str, model: str, event: str = "openai.chat") -> None:
    """A plan of tokens for every call, with a group of none for calls of `model` (as `event`)."""
    env.call("PUT", f"/v1/plans/plan_{user}", {"id": f"plan_{user}", "periodType": "month", "groups": [
        {"id": "g", "unit": "tokens", "quota": 1_000_000, "matches": [{"event": "*"}]},
        {"id": "none_of_it", "unit": "tokens", "quota": 0,
         "matches": [{"event": event, "metadata": {"model": model}}]}]})
    env.call("PUT", f"/v1/users/{user}/subscription", {"planId": f"plan_{user}"})


def test_a_target_the_plan_denies_is_passed_without_reaching_the_provider(
        proxy: ProxyEnv, pqg: QuotaGateway, fresh_user: Callable[..., str]) -> None:
    user = fresh_user(USER_PREFIX)
    plan_denying(proxy.env, user, "gpt-4o")
    raw = pqg.openai(user, max_retries=0).chat.completions.with_raw_response.create(
        model=SMART, messages=HELLO, max_tokens=10, extra_headers={"x-sim": "output=3"})
    assert raw.parse().usage is not None and raw.parse().usage.completion_tokens == 3
    assert raw.headers["x-quota-served-by"] == "backup/gpt-4o-mini"
    stats = proxy.stats()
    assert stats["calls"] == 1, "the denied target was never called"
    assert stats["requests"][0]["body"]["model"] == "gpt-4o-mini", "the target's model is the one asked"
    denied, committed = chain(pqg, user)
    assert (denied.kind, committed.kind) == ("denied", "commit")
    assert denied.denied_by == ["none_of_it"]
    assert (meta(denied)["attempt"], meta(denied)["target"], meta(denied)["model"]) == (1, "openai/gpt-4o", "gpt-4o")
    assert "fallback_reason" not in meta(denied)
    assert (meta(committed)["attempt"], meta(committed)["target"], meta(committed)["fallback_reason"]) == (
        2, "backup/gpt-4o-mini", "denied")
    assert (meta(committed)["upstream"], committed.event) == ("backup", "backup.chat")
    assert meta(denied)["fallback_of"] == meta(committed)["fallback_of"]
    assert meta(denied)["fallback_of"].startswith("call_")


def test_a_503_before_any_byte_moves_on_and_the_caller_gets_one_answer(
        proxy: ProxyEnv, pqg: QuotaGateway, user_on: Callable[..., str]) -> None:
    user = user_on()
    raw = pqg.openai(user, max_retries=0).chat.completions.with_raw_response.create(
        model=SMART, messages=HELLO, max_tokens=10, extra_headers={"x-sim": "status=503@gpt-4o, output=4"})
    answer = raw.parse()
    assert answer.usage is not None and answer.usage.completion_tokens == 4
    assert raw.headers["x-quota-served-by"] == "backup/gpt-4o-mini"
    stats = proxy.stats()
    assert stats["calls"] == 2 and [r["body"]["model"] for r in stats["requests"]] == ["gpt-4o", "gpt-4o-mini"]
    used, reserved = settled(proxy.env, user)
    released, committed = chain(pqg, user)
    assert (released.kind, meta(released)["attempt"], meta(released)["target"]) == ("release", 1, "openai/gpt-4o")
    assert (committed.kind, meta(committed)["fallback_reason"], meta(committed)["usage"]) == (
        "commit", "status_503", "reported")
    # The chain adds up to what the provider reported: the 503 cost nothing.
    reported = stats["usage"]["input_tokens"] + stats["usage"]["output_tokens"]
    assert (used, reserved) == (reported, 0) and committed.quantity == reported


def test_anthropics_overloaded_529_moves_on_and_a_context_too_long_too(
        proxy: ProxyEnv, pqg: QuotaGateway, user_on: Callable[..., str]) -> None:
    user = user_on()
    client = pqg.anthropic(user, max_retries=0)
    raw = client.messages.with_raw_response.create(model="claude-smart", max_tokens=10, messages=HELLO,
                                                   extra_headers={"x-sim": "status=529@claude-opus-5, output=2"})
    assert raw.parse().usage.output_tokens == 2
    assert raw.headers["x-quota-served-by"] == "anthropic/claude-sonnet-5"
    too_long = client.messages.with_raw_response.create(model="claude-smart", max_tokens=10, messages=HELLO,
                                                        extra_headers={"x-sim": "context=1@claude-opus-5"})
    assert too_long.headers["x-quota-served-by"] == "anthropic/claude-sonnet-5"
    reasons = [meta(e).get("fallback_reason") for e in chain(pqg, user) if e.kind == "commit"]
    assert reasons == ["status_529", "context_length"]
    assert proxy.stats()["calls"] == 4


def test_the_last_failure_is_the_answer_in_the_providers_shape_when_no_target_serves(
        proxy: ProxyEnv, pqg: QuotaGateway, user_on: Callable[..., str]) -> None:
    user = user_on()
    with pytest.raises(anthropic.InternalServerError) as failed:
        pqg.anthropic(user, max_retries=0).messages.create(model="claude-smart", max_tokens=10, messages=HELLO,
                                                           extra_headers={"x-sim": "status=529"})
    assert failed.value.status_code == 529
    assert failed.value.response.headers["x-quota-served-by"] == "anthropic/claude-sonnet-5"
    assert proxy.stats()["calls"] == 2
    assert settled(proxy.env, user) == (0, 0)
    assert [(e.kind, meta(e)["attempt"]) for e in chain(pqg, user)] == [("release", 1), ("release", 2)]


def test_a_stream_that_failed_after_its_first_byte_is_not_retried(
        proxy: ProxyEnv, pqg: QuotaGateway, user_on: Callable[..., str]) -> None:
    user = user_on()
    stream = pqg.openai(user, max_retries=0).chat.completions.create(
        model=SMART, messages=HELLO, max_tokens=10, stream=True, extra_headers={"x-sim": "cut=2@gpt-4o, output=8"})
    chunks = []
    with pytest.raises(openai.APIError) as broken:
        for chunk in stream:
            chunks.append(chunk)
    assert "broke off" in str(broken.value) and chunks
    stats = proxy.stats()
    assert (stats["calls"], stats["streams"]["cut"]) == (1, 1), "the second target was never asked"
    used, reserved = settled(proxy.env, user)
    (entry,) = chain(pqg, user)
    assert (entry.kind, meta(entry)["attempt"], meta(entry)["usage"]) == ("commit", 1, "estimated")
    assert (used, reserved) == (entry.reserved, 0)


def test_a_504_after_sending_keeps_its_hold_committed_estimated_and_moves_on(
        proxy: ProxyEnv, pqg: QuotaGateway, user_on: Callable[..., str]) -> None:
    user = user_on()
    raw = pqg.openai(user, max_retries=0).chat.completions.with_raw_response.create(
        model=SMART, messages=HELLO, max_tokens=10, extra_headers={"x-sim": "status=504@gpt-4o, output=3"})
    assert raw.headers["x-quota-served-by"] == "backup/gpt-4o-mini"
    stats = proxy.stats()
    used, reserved = settled(proxy.env, user)
    first, second = chain(pqg, user)
    assert (first.kind, meta(first)["usage"], meta(first)["provider_status"]) == ("commit", "estimated", 504)
    assert first.quantity == first.reserved and first.reserved is not None and first.reserved > 0
    assert (meta(second)["usage"], meta(second)["fallback_reason"]) == ("reported", "status_504")
    reported = stats["usage"]["input_tokens"] + stats["usage"]["output_tokens"]
    assert (used, reserved) == (first.reserved + reported, 0), "the hold kept, and what the next reported"


def test_a_caller_orders_the_targets_where_the_route_allows_among_its_targets_only(
        proxy: ProxyEnv, pqg: QuotaGateway, user_on: Callable[..., str]) -> None:
    user = user_on()
    client = pqg.openai(user, max_retries=0)
    raw = client.chat.completions.with_raw_response.create(
        model=SMART, messages=HELLO, max_tokens=10,
        extra_headers={"X-Quota-Fallback": "openai/gpt-4.1-nano, openai/gpt-4o", "x-sim": "status=500@gpt-4.1-nano"})
    assert raw.headers["x-quota-served-by"] == "openai/gpt-4o"
    assert [r["body"]["model"] for r in proxy.stats()["requests"]] == ["gpt-4.1-nano", "gpt-4o"]
    with pytest.raises(openai.BadRequestError) as refused:
        client.chat.completions.create(model=SMART, messages=HELLO, max_tokens=10,
                                       extra_headers={"X-Quota-Fallback": "openai/gpt-5"})
    assert refused.value.response.headers["x-quota-code"] == "invalid_request"
    assert "X-Quota-Fallback" in str(refused.value)
    with pytest.raises(anthropic.BadRequestError):
        pqg.anthropic(user, max_retries=0).messages.create(
            model="claude-smart", max_tokens=10, messages=HELLO,
            extra_headers={"X-Quota-Fallback": "anthropic/claude-sonnet-5"})
    assert proxy.stats()["calls"] == 2, "a refused order reaches no provider"


# The same with Anthropic's client, on `claude-smart`: anthropic/claude-opus-5, then
# anthropic/claude-sonnet-5.

CLAUDE_SMART = "claude-smart"


def test_anthropic_a_target_the_plan_denies_is_passed_without_reaching_the_provider(
        proxy: ProxyEnv, pqg: QuotaGateway, fresh_user: Callable[..., str]) -> None:
    user = fresh_user(USER_PREFIX)
    plan_denying(proxy.env, user, "claude-opus-5", event="anthropic.messages")
    raw = pqg.anthropic(user, max_retries=0).messages.with_raw_response.create(
        model=CLAUDE_SMART, max_tokens=10, messages=HELLO, extra_headers={"x-sim": "output=3"})
    assert raw.parse().usage.output_tokens == 3
    assert raw.headers["x-quota-served-by"] == "anthropic/claude-sonnet-5"
    stats = proxy.stats()
    assert stats["calls"] == 1 and stats["paths"] == {"/v1/messages": 1}, "the denied target was never called"
    assert stats["requests"][0]["body"]["model"] == "claude-sonnet-5", "the target's model is the one asked"
    used, reserved = settled(proxy.env, user)
    denied, committed = chain(pqg, user)
    assert (denied.kind, committed.kind) == ("denied", "commit")
    assert denied.denied_by == ["none_of_it"]
    assert (meta(denied)["attempt"], meta(denied)["target"], meta(denied)["model"]) == (
        1, "anthropic/claude-opus-5", "claude-opus-5")
    assert "fallback_reason" not in meta(denied)
    assert (meta(committed)["attempt"], meta(committed)["target"], meta(committed)["fallback_reason"]) == (
        2, "anthropic/claude-sonnet-5", "denied")
    assert (meta(committed)["model"], meta(committed)["usage"], committed.event) == (
        "claude-sonnet-5", "reported", "anthropic.messages")
    assert meta(denied)["fallback_of"] == meta(committed)["fallback_of"]
    assert meta(denied)["fallback_of"].startswith("call_")
    # What the one provider call reported, and nothing for the denial.
    reported = stats["usage"]["input_tokens"] + stats["usage"]["output_tokens"]
    assert (used, reserved) == (reported, 0) and committed.quantity == reported


def test_anthropic_a_stream_that_failed_after_its_first_byte_is_not_retried(
        proxy: ProxyEnv, pqg: QuotaGateway, user_on: Callable[..., str]) -> None:
    user = user_on()
    stream = pqg.anthropic(user, max_retries=0).messages.create(
        model=CLAUDE_SMART, max_tokens=10, messages=HELLO, stream=True,
        extra_headers={"x-sim": "cut=2@claude-opus-5, output=8"})
    events = []
    with pytest.raises(anthropic.APIError) as broken:
        for event in stream:
            events.append(event)
    assert "broke off" in str(broken.value)
    assert [e.type for e in events][:2] == ["message_start", "content_block_start"]
    assert sum(1 for e in events if e.type == "content_block_delta") == 2
    stats = proxy.stats()
    assert (stats["calls"], stats["streams"]["cut"]) == (1, 1), "the second target was never asked"
    assert stats["requests"][0]["body"]["model"] == "claude-opus-5"
    used, reserved = settled(proxy.env, user)
    (entry,) = chain(pqg, user)
    assert (entry.kind, meta(entry)["attempt"], meta(entry)["target"], meta(entry)["usage"]) == (
        "commit", 1, "anthropic/claude-opus-5", "estimated")
    # The input is what `message_start` reported; the output never reached its final count, so it
    # is charged at its hold, max_tokens.
    reported_input = stats["usage"]["input_tokens"]
    assert (meta(entry)["input_tokens"], meta(entry)["output_tokens"]) == (reported_input, 10)
    assert (used, reserved) == (reported_input + 10, 0) and entry.quantity == used


def test_anthropic_a_504_after_sending_keeps_its_hold_committed_estimated_and_moves_on(
        proxy: ProxyEnv, pqg: QuotaGateway, user_on: Callable[..., str]) -> None:
    user = user_on()
    raw = pqg.anthropic(user, max_retries=0).messages.with_raw_response.create(
        model=CLAUDE_SMART, max_tokens=10, messages=HELLO,
        extra_headers={"x-sim": "status=504@claude-opus-5, output=3"})
    assert raw.parse().usage.output_tokens == 3
    assert raw.headers["x-quota-served-by"] == "anthropic/claude-sonnet-5"
    stats = proxy.stats()
    assert [r["body"]["model"] for r in stats["requests"]] == ["claude-opus-5", "claude-sonnet-5"]
    used, reserved = settled(proxy.env, user)
    first, second = chain(pqg, user)
    assert (first.kind, meta(first)["usage"], meta(first)["provider_status"], meta(first)["target"]) == (
        "commit", "estimated", 504, "anthropic/claude-opus-5")
    assert first.quantity == first.reserved and first.reserved is not None and first.reserved > 0
    assert (second.kind, meta(second)["usage"], meta(second)["fallback_reason"], meta(second)["attempt"]) == (
        "commit", "reported", "status_504", 2)
    reported = stats["usage"]["input_tokens"] + stats["usage"]["output_tokens"]
    assert second.quantity == reported
    assert (used, reserved) == (first.reserved + reported, 0), "the hold kept, and what the next reported"


# Caps per original action: a hundred callers, each on a thread of its own, let go at once so
# that all hundred calls are in flight together.

CALLERS = 100


@pytest.fixture
def crowd(patient_proxy: ProxyEnv) -> ProxyEnv:
    """The proxy node that waits longer for Redis (conftest's `patient_proxy`): a hundred routed
    calls let go at once may queue their scripts past the default 250 ms."""
    return patient_proxy


@pytest.fixture
def cqg(crowd: ProxyEnv) -> Iterator[QuotaGateway]:
    with QuotaGateway(crowd.env.secret, base_url=crowd.base_url) as client:
        yield client


@dataclass
class Outcome:
    """One caller's call: `said` is "served by <target>" or "denied <reasons>"; `input` and
    `output` what the provider reported to the caller (its answer's usage), None when denied."""

    caller: int
    said: str
    input: Optional[int] = None
    output: Optional[int] = None


def in_parallel(call: Callable[[int], Outcome]) -> List[Outcome]:
    """CALLERS calls of `call`, each on its own thread, started together, each call's outcome."""
    start = threading.Barrier(CALLERS)

    def one(caller: int) -> Outcome:
        start.wait(timeout=60)
        return call(caller)

    with ThreadPoolExecutor(CALLERS) as pool:
        return list(pool.map(one, range(CALLERS), timeout=120))


def named(caller: int) -> Dict[str, str]:
    """The caller's own metadata, in each of its call's ledger entries."""
    return {"X-Quota-Metadata": json.dumps({"caller": str(caller)})}


def plan_of_output(env: Env, user: str, **group: Any) -> None:
    """A plan counting output tokens alone: a call's hold (its max_tokens) is what it reports
    when the simulator writes that many, so what fallbacks hold and what they spend agree."""
    env.call("PUT", f"/v1/plans/plan_{user}", {"id": f"plan_{user}", "periodType": "month", "groups": [
        {"id": "out", "unit": "tokens", "quota": 1_000_000, "measure": {"metadata": "output_tokens"},
         "matches": [{"event": "*"}], **group}]})
    env.call("PUT", f"/v1/users/{user}/subscription", {"planId": f"plan_{user}"})


def one_call(client: openai.OpenAI, sim: str) -> Callable[[int], Outcome]:
    def call(caller: int) -> Outcome:
        try:
            raw = client.chat.completions.with_raw_response.create(
                model=SMART, messages=HELLO, max_tokens=10, extra_headers={"x-sim": sim, **named(caller)})
            usage = raw.parse().usage
            assert usage is not None
            return Outcome(caller, "served by " + raw.headers["x-quota-served-by"], usage.prompt_tokens,
                           usage.completion_tokens)
        except openai.RateLimitError as denied:
            return Outcome(caller, "denied " + denied.response.headers["x-quota-reasons"])
    return call


def one_message(client: anthropic.Anthropic, sim: str) -> Callable[[int], Outcome]:
    def call(caller: int) -> Outcome:
        try:
            raw = client.messages.with_raw_response.create(
                model=CLAUDE_SMART, max_tokens=10, messages=HELLO, extra_headers={"x-sim": sim, **named(caller)})
            usage = raw.parse().usage
            return Outcome(caller, "served by " + raw.headers["x-quota-served-by"], usage.input_tokens,
                           usage.output_tokens)
        except anthropic.RateLimitError as denied:
            return Outcome(caller, "denied " + denied.response.headers["x-quota-reasons"])
    return call


def saids(outcomes: List[Outcome]) -> List[str]:
    return [o.said for o in outcomes]


def out(entry: UsageEvent) -> float:
    """What the entry counted in the plan's one group (`out`, output tokens)."""
    return sum(float(g.amount) for g in entry.groups if g.group_id == "out")


def chains(qg: QuotaGateway, user: str, outcomes: List[Outcome],
           denials_kept: bool = True) -> Dict[int, List[UsageEvent]]:
    """Each caller's chain, its entries by attempt, checked against what the provider reported to
    it: one chain (one `fallback_of`) a call, its attempts numbered from 1; a commit marked
    `reported` is what the provider's answer to the caller reported (its input and output tokens,
    the output counted in the group), one marked `estimated` is its hold kept, and a denial or a
    release counts nothing. A denied call's last entry is its denial, unless `denials_kept` is
    False: a denial no group made (a run's `attemptsPerAction`) writes no entry. Answers the
    chains."""
    found: Dict[int, List[UsageEvent]] = defaultdict(list)
    cursor = None
    for _ in range(20):
        page = qg.list_usage_events(user_id=user, cursor=cursor, limit=1000)
        for e in page.data:
            if e.kind in ("denied", "commit", "release") and "caller" in meta(e):
                found[int(meta(e)["caller"])].append(e)
        cursor = page.next_cursor
        if cursor is None:
            break
    assert set(found) <= set(range(CALLERS))
    if denials_kept:
        assert sorted(found) == list(range(CALLERS)), "every call's attempts are in the ledger"
    for o in outcomes:
        mine = sorted(found[o.caller], key=lambda e: int(meta(e)["attempt"]))
        found[o.caller] = mine
        assert [meta(e)["attempt"] for e in mine] == list(range(1, len(mine) + 1)), (o, mine)
        assert len({meta(e)["fallback_of"] for e in mine}) <= 1, "one chain a call"
        # Served, the last attempt is the commit the answer came from; else the last was refused.
        if o.output is not None:
            assert mine and mine[-1].kind == "commit", (o, mine)
        elif denials_kept:
            assert mine and mine[-1].kind == "denied", (o, mine)
        else:
            assert all(e.kind != "denied" for e in mine), (o, mine)
        for e in mine:
            if e.kind != "commit":
                assert not e.changes_usage and out(e) == 0, (o, e)
            elif e is mine[-1] and o.output is not None:
                assert meta(e)["usage"] == "reported", (o, e)
                assert (meta(e)["input_tokens"], meta(e)["output_tokens"]) == (o.input, o.output), (o, e)
                assert (e.quantity, out(e)) == ((o.input or 0) + o.output, o.output), (o, e)
            else:
                assert meta(e)["usage"] == "estimated" and e.quantity == e.reserved, (o, e)
    return found


def spent_in_chains(found: Dict[int, List[UsageEvent]]) -> float:
    """What the chains' commits counted in the group, in all."""
    return sum(out(e) for c in found.values() for e in c if e.kind == "commit")


def test_a_runs_max_fallback_spend_stops_one_actions_fallbacks_exactly_under_parallel_callers(
        crowd: ProxyEnv, cqg: QuotaGateway, fresh_user: Callable[..., str]) -> None:
    user = fresh_user(USER_PREFIX)
    plan_of_output(crowd.env, user)
    run = cqg.start_run(user, "openai.chat", metadata={"output_tokens": 100_000},
                        limits={"max_fallback_spend": 100})
    assert run.allowed and run.id is not None
    client = cqg.openai(user, run=run.id, action="answer", max_retries=0)
    # Every caller's first target answers 503 (released: nothing spent); each fallback holds
    # 10 and spends 10, so the action's fallbacks fit exactly 10 times in 100, whatever the
    # order. Each other caller's fallback is refused before any provider sees it.
    outcomes = in_parallel(one_call(client, "status=503@gpt-4o, output=10"))
    assert saids(outcomes).count("served by backup/gpt-4o-mini") == 10
    assert saids(outcomes).count("denied fallback_budget_exhausted") == CALLERS - 10
    stats = crowd.stats()
    assert stats["calls"] == CALLERS + 10 and stats["paths"] == {"/v1/chat/completions": CALLERS + 10}
    assert stats["usage"]["output_tokens"] == 100
    found = chains(cqg, user, outcomes)
    for o in outcomes:
        kinds = [e.kind for e in found[o.caller]]
        assert kinds == (["release", "commit"] if o.output is not None else ["release", "denied"]), (o, kinds)
    assert spent_in_chains(found) == stats["usage"]["output_tokens"], "the chains add up to what the provider reported"
    counter = cqg.usage(user).counters[0]
    assert counter.fallback_used == 100, "what the fallbacks committed, counted once each"
    read = cqg.get_run(run.id)
    assert read.attempts["answer"] == CALLERS + 10, "every attempt admitted, the first and its fallback"
    assert read.groups[0].fallback_spent == 100
    run.close()


def test_a_runs_attempts_per_action_stop_the_chain_exactly_under_parallel_callers(
        crowd: ProxyEnv, cqg: QuotaGateway, fresh_user: Callable[..., str]) -> None:
    user = fresh_user(USER_PREFIX)
    plan_of_output(crowd.env, user)
    run = cqg.start_run(user, "openai.chat", metadata={"output_tokens": 100_000},
                        limits={"attempts_per_action": 130})
    assert run.allowed and run.id is not None
    client = cqg.openai(user, run=run.id, action="answer", max_retries=0)
    outcomes = in_parallel(one_call(client, "status=503@gpt-4o, output=10"))
    # Each attempt counts, the first and its fallback alike: exactly 130 reach a provider.
    stats = crowd.stats()
    assert stats["calls"] == 130
    served = saids(outcomes).count("served by backup/gpt-4o-mini")
    assert served == stats["usage"]["output_tokens"] // 10
    assert served + saids(outcomes).count("denied action_attempts_exhausted") == CALLERS
    # Every attempt admitted reached a provider: a first (a 503) or a fallback (served).
    assert stats["paths"] == {"/v1/chat/completions": 130}
    assert cqg.get_run(run.id).attempts["answer"] == 130
    # An attempt past the action's 130 is denied by the run, not by a group: its entry says so.
    found = chains(cqg, user, outcomes)
    for o in outcomes:
        kinds = [e.kind for e in found[o.caller]]
        # Served; its fallback refused; or its first attempt refused, the call never held.
        assert kinds in ([["release", "commit"]] if o.output is not None else [["release", "denied"], ["denied"]]), \
            (o, kinds)
        if o.output is None:
            assert found[o.caller][-1].reason == "action_attempts_exhausted", found[o.caller][-1]
    # Every admitted attempt ended as a release (a 503) or a commit (served): 130 in all.
    ended = [e for c in found.values() for e in c if e.kind != "denied"]
    assert len(ended) == 130
    assert spent_in_chains(found) == stats["usage"]["output_tokens"], "the chains add up to what the provider reported"
    run.close()


def test_anthropic_a_runs_max_fallback_spend_stops_one_actions_fallbacks_exactly_under_parallel_callers(
        crowd: ProxyEnv, cqg: QuotaGateway, fresh_user: Callable[..., str]) -> None:
    user = fresh_user(USER_PREFIX)
    plan_of_output(crowd.env, user)
    run = cqg.start_run(user, "anthropic.messages", metadata={"output_tokens": 100_000},
                        limits={"max_fallback_spend": 100})
    assert run.allowed and run.id is not None
    client = cqg.anthropic(user, run=run.id, action="answer", max_retries=0)
    # Each first target is overloaded (529, released); each fallback holds and spends 10.
    outcomes = in_parallel(one_message(client, "status=529@claude-opus-5, output=10"))
    assert saids(outcomes).count("served by anthropic/claude-sonnet-5") == 10
    assert saids(outcomes).count("denied fallback_budget_exhausted") == CALLERS - 10
    stats = crowd.stats()
    assert stats["calls"] == CALLERS + 10 and stats["paths"] == {"/v1/messages": CALLERS + 10}
    assert stats["usage"]["output_tokens"] == 100
    found = chains(cqg, user, outcomes)
    for o in outcomes:
        mine = found[o.caller]
        assert [(e.kind, meta(e)["target"]) for e in mine] == [
            ("release", "anthropic/claude-opus-5"),
            ("commit" if o.output is not None else "denied", "anthropic/claude-sonnet-5")], (o, mine)
        assert meta(mine[1])["fallback_reason"] == "status_529"
    assert spent_in_chains(found) == stats["usage"]["output_tokens"], "the chains add up to what the provider reported"
    assert cqg.usage(user).counters[0].fallback_used == 100
    read = cqg.get_run(run.id)
    assert read.attempts["answer"] == CALLERS + 10
    assert read.groups[0].fallback_spent == 100
    run.close()


def test_a_groups_max_fallback_spend_bounds_each_calls_fallbacks_and_counts_a_kept_hold(
        crowd: ProxyEnv, cqg: QuotaGateway, fresh_user: Callable[..., str]) -> None:
    user = fresh_user(USER_PREFIX)
    plan_of_output(crowd.env, user, maxFallbackSpend=15)
    client = cqg.openai(user, max_retries=0)
    # The first target refuses (released), the second answers 504 (its hold of 10 kept, as
    # estimated): 10 of the call's 15 spent, a third target's 10 more do not fit.
    outcomes = in_parallel(one_call(client, "status=503@gpt-4o, status=504@gpt-4o-mini, output=10"))
    assert saids(outcomes) == ["denied fallback_budget_exhausted"] * CALLERS
    stats = crowd.stats()
    assert stats["calls"] == 2 * CALLERS
    assert not any(r["body"]["model"] == "gpt-4.1-nano" for r in stats["requests"])
    assert stats["usage"]["output_tokens"] == 0, "neither error reported any usage"
    used, reserved = settled(crowd.env, user)
    assert (used, reserved) == (10 * CALLERS, 0), "each 504 charged its hold"
    assert cqg.usage(user).counters[0].fallback_used == 10 * CALLERS
    # Each chain: the 503 released, the 504's hold kept, the third target refused.
    found = chains(cqg, user, outcomes)
    for o in outcomes:
        mine = found[o.caller]
        assert [(e.kind, meta(e)["target"], out(e)) for e in mine] == [
            ("release", "openai/gpt-4o", 0), ("commit", "backup/gpt-4o-mini", 10),
            ("denied", "openai/gpt-4.1-nano", 0)], (o, mine)
        assert (meta(mine[1])["usage"], meta(mine[1])["provider_status"]) == ("estimated", 504)
    # The refusal is the SDK's rate-limit error, in the provider's words, naming the cap.
    with pytest.raises(openai.RateLimitError) as denied:
        client.chat.completions.create(model=SMART, messages=HELLO, max_tokens=10,
                                       extra_headers={"x-sim": "status=503@gpt-4o, status=504@gpt-4o-mini"})
    headers = denied.value.response.headers
    assert (denied.value.code, headers["x-quota-code"], headers["x-quota-denied-by"]) == (
        "fallback_budget_exhausted", "fallback_budget_exhausted", "out")
