"""The OpenAI wrapper against the real `openai` client and the loopback stand-in: it holds the
whole call (input bound plus maximum output, times n), so parallel calls never spend past a
budget; it commits what the provider reported, releases what never reached it or was refused,
commits the hold when the answer was lost; the Responses API alike. A hold that clamps to what is
left sends the call with its maximum output lowered to what was granted; a group priced by the
catalog holds the call's worst case and counts its reported tokens at the model's price."""

from __future__ import annotations

import asyncio
import logging
import math
from concurrent.futures import ThreadPoolExecutor
from fractions import Fraction
from typing import Any, Callable, Dict, Iterator, List, Optional

import openai
import pytest
from conftest import Env
from gateway import free_port
from openai_standin import OVERRUN_TOKENS, OpenAIStandIn, prompt_tokens
from spent import entries, settled_async, spent

from quota_gateway import AsyncQuotaGateway, QuotaExceeded, QuotaGateway
from quota_gateway._estimate import chat_bound, chat_counts, responses_bound
from quota_gateway.openai import AsyncQuotaOpenAI, QuotaOpenAI, settlement

MESSAGES = [{"role": "user", "content": "hi"}]
# About 900 words: a prompt the provider counts as some 1,200 tokens.
LONG_PROMPT = " ".join(["budget"] * 450 + ["quota"] * 450)


@pytest.fixture
def standin() -> Iterator[OpenAIStandIn]:
    server = OpenAIStandIn()
    yield server
    server.close()


def chat(standin: OpenAIStandIn, qg: QuotaGateway, **options: Any) -> QuotaOpenAI:
    return QuotaOpenAI(openai.OpenAI(base_url=standin.url, api_key="sk-test", max_retries=0), qg, **options)


def achat(standin: OpenAIStandIn, aqg: AsyncQuotaGateway, **options: Any) -> AsyncQuotaOpenAI:
    return AsyncQuotaOpenAI(openai.AsyncOpenAI(base_url=standin.url, api_key="sk-test", max_retries=0), aqg,
                            **options)


def parallel_calls(wrapped: QuotaOpenAI, user: str, prompt: str, calls: int) -> List[Optional[Any]]:
    def one(_i: int) -> Optional[Any]:
        try:
            return wrapped.chat.completions.create(quota_user=user, model="gpt-4o-mini", max_tokens=100,
                                                   messages=[{"role": "user", "content": prompt}])
        except QuotaExceeded:
            return None
    with ThreadPoolExecutor(max_workers=calls) as pool:
        return list(pool.map(one, range(calls)))


def test_ten_parallel_calls_with_a_long_prompt_never_spend_past_a_budget_of_1000(
        qg: QuotaGateway, env: Env, standin: OpenAIStandIn, subscribed: Callable[..., str]) -> None:
    user = subscribed(1000, "tokens")
    answers = parallel_calls(chat(standin, qg), user, LONG_PROMPT, 10)
    assert prompt_tokens({"messages": [{"role": "user", "content": LONG_PROMPT}]}) > 1000, "the prompt alone"
    assert answers == [None] * 10 and standin.requests == [], "denied before the provider was called"
    assert spent(env, user) == (0, 0)
    # A prompt a tenth as long: some calls fit, and together they still stay within the budget.
    short = " ".join(LONG_PROMPT.split()[:90])
    answers = parallel_calls(chat(standin, qg), user, short, 10)
    admitted = [a for a in answers if a is not None]
    used, reserved = spent(env, user)
    assert admitted and reserved == 0 and used <= 1000
    assert used == sum(a.usage.total_tokens for a in admitted), "each answer's reported usage, exactly"


async def test_ten_parallel_async_calls_never_spend_past_a_budget_of_1000(
        aqg: AsyncQuotaGateway, env: Env, standin: OpenAIStandIn, subscribed: Callable[..., str]) -> None:
    user = subscribed(1000, "tokens")
    wrapped = achat(standin, aqg)

    async def one(prompt: str) -> Optional[Any]:
        try:
            return await wrapped.chat.completions.create(quota_user=user, model="gpt-4o-mini", max_tokens=100,
                                                         messages=[{"role": "user", "content": prompt}])
        except QuotaExceeded:
            return None

    for prompt in (LONG_PROMPT, " ".join(LONG_PROMPT.split()[:90])):
        await asyncio.gather(*(one(prompt) for _ in range(10)))
    used, reserved = spent(env, user)
    assert reserved == 0 and 0 < used <= 1000


def test_an_answer_commits_its_reported_usage_and_counts_and_holds_input_plus_n_outputs(
        qg: QuotaGateway, env: Env, standin: OpenAIStandIn, subscribed: Callable[..., str]) -> None:
    user = subscribed(100_000, "tokens")
    wrapped = chat(standin, qg, metadata={"feature": "test"})
    request = {"model": "m", "messages": [{"role": "system", "content": "Be brief."}, *MESSAGES], "n": 3,
               "max_completion_tokens": 50}
    answer = wrapped.chat.completions.create(quota_user=user, quota_metadata={"route": "/chat"}, **request)
    found = settlement(answer)
    assert found is not None and found.held == chat_bound(request, 1024) and found.over_quota == []
    assert found.held >= 3 * 50 + answer.usage.prompt_tokens, "n outputs at most and the prompt"
    assert answer.usage.completion_tokens == 9 and spent(env, user) == (answer.usage.total_tokens, 0)
    [entry] = entries(env, user)
    # The reported counts in the API's names and in the gateway's (which a priced group prices),
    # over the worst case the reserve named.
    assert entry["metadata"] == {"model": "m", "feature": "test", "route": "/chat", "prompt_tokens": 13,
                                 "completion_tokens": 9, "total_tokens": 22, "input_tokens": 13,
                                 "output_tokens": 9, "cached_input_tokens": 0, "reasoning_tokens": 0}
    assert answer.model_dump()["usage"]["total_tokens"] == 22, "the answer serializes as the provider's"
    assert "quota_settlement" not in answer.model_dump()


def test_an_answers_settlement_names_the_reservation_whose_outcome_is_said_later(
        qg: QuotaGateway, env: Env, standin: OpenAIStandIn, subscribed: Callable[..., str]) -> None:
    user = subscribed(100_000, "tokens")
    answer = chat(standin, qg).chat.completions.create(quota_user=user, model="m", messages=MESSAGES, max_tokens=20)
    found = settlement(answer)
    assert found is not None and found.commit is not None
    assert qg.set_outcome(found.reservation_id, "accepted").previous is None
    counter = qg.usage(user).counters[0]
    assert (counter.outcomes, counter.cost_per_accepted) == ({"accepted": 1}, answer.usage.total_tokens)


def test_usage_past_the_bound_is_counted_and_its_over_quota_said(
        qg: QuotaGateway, env: Env, standin: OpenAIStandIn, subscribed: Callable[..., str],
        caplog: pytest.LogCaptureFixture) -> None:
    user = subscribed(1000, "tokens")
    with caplog.at_level(logging.WARNING, logger="quota_gateway"):
        answer = chat(standin, qg).chat.completions.create(quota_user=user, model="overrun", messages=MESSAGES,
                                                           max_tokens=10)
    found = settlement(answer)
    assert found is not None and found.quantity == answer.usage.total_tokens > found.held
    assert found.over_quota == ["g"] and spent(env, user) == (OVERRUN_TOKENS + 7, 0)
    assert any("more than the" in r.getMessage() and "past the quota of g" in r.getMessage() for r in caplog.records)


def test_a_refused_or_unreached_call_releases_and_a_lost_answer_commits_the_hold(
        qg: QuotaGateway, env: Env, standin: OpenAIStandIn, subscribed: Callable[..., str]) -> None:
    user = subscribed(100_000, "tokens")
    wrapped = chat(standin, qg)
    for status in (400, 429, 500):
        with pytest.raises(openai.APIStatusError):
            wrapped.chat.completions.create(quota_user=user, model=f"error-{status}", messages=MESSAGES)
    assert spent(env, user) == (0, 0), "the provider refused: nothing spent"
    nowhere = QuotaOpenAI(openai.OpenAI(base_url=f"http://127.0.0.1:{free_port()}/v1", api_key="sk-test",
                                        max_retries=0), qg)
    with pytest.raises(openai.APIConnectionError):
        nowhere.chat.completions.create(quota_user=user, model="m", messages=MESSAGES, max_tokens=50)
    assert spent(env, user) == (0, 0), "never reached"
    with pytest.raises(TypeError):
        wrapped.chat.completions.create(quota_user=user, model="m", messages=MESSAGES, not_an_argument=1)
    assert spent(env, user) == (0, 0), "refused by the client before sending"
    request = {"model": "broken", "messages": MESSAGES, "max_tokens": 50}
    with pytest.raises(openai.APIConnectionError):
        wrapped.chat.completions.create(quota_user=user, **request)
    assert spent(env, user) == (chat_bound(request, 1024), 0), "the answer was lost: the hold"


async def test_the_async_wrapper_commits_usage_releases_refusals_and_commits_the_hold_when_cancelled(
        aqg: AsyncQuotaGateway, env: Env, standin: OpenAIStandIn, subscribed: Callable[..., str]) -> None:
    user = subscribed(100_000, "tokens")
    wrapped = achat(standin, aqg)
    answer = await wrapped.chat.completions.create(quota_user=user, model="m", messages=MESSAGES, max_tokens=50)
    assert spent(env, user) == (answer.usage.total_tokens, 0)
    with pytest.raises(openai.RateLimitError):
        await wrapped.chat.completions.create(quota_user=user, model="error-429", messages=MESSAGES)
    assert spent(env, user) == (answer.usage.total_tokens, 0)
    # A call cancelled while the provider works: sent, its usage unknown, so the hold counts.
    request = {"model": "slow", "messages": MESSAGES, "max_tokens": 40}
    task = asyncio.ensure_future(wrapped.chat.completions.create(quota_user=user, **request))
    await asyncio.sleep(0.3)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert spent(env, user) == (answer.usage.total_tokens + chat_bound(request, 1024), 0)


def test_the_responses_api_holds_its_input_and_maximum_and_commits_its_usage(
        qg: QuotaGateway, env: Env, standin: OpenAIStandIn, subscribed: Callable[..., str]) -> None:
    user = subscribed(100_000, "tokens")
    wrapped = chat(standin, qg)
    request = {"model": "m", "input": "Say hello.", "instructions": "Be brief.", "max_output_tokens": 30}
    answer = wrapped.responses.create(quota_user=user, **request)
    found = settlement(answer)
    assert answer.output_text == "Hello!" and found is not None and found.held == responses_bound(request, 1024)
    assert spent(env, user) == (answer.usage.total_tokens, 0)
    stream = wrapped.responses.create(quota_user=user, stream=True, **request)
    kinds = [event.type for event in stream]
    assert kinds[-1] == "response.completed" and "response.output_text.delta" in kinds
    assert stream.used == answer.usage.total_tokens and stream.settled is not None
    assert spent(env, user) == (2 * answer.usage.total_tokens, 0)
    prompt = prompt_tokens(request)
    assert [e["metadata"] for e in entries(env, user)] == [
        {"model": "m", "input_tokens": prompt, "output_tokens": 3, "total_tokens": prompt + 3,
         "cached_input_tokens": 0, "reasoning_tokens": 0}] * 2


async def test_the_async_responses_api_and_its_stream_commit_their_usage(
        aqg: AsyncQuotaGateway, env: Env, standin: OpenAIStandIn, subscribed: Callable[..., str]) -> None:
    user = subscribed(100_000, "tokens")
    wrapped = achat(standin, aqg)
    answer = await wrapped.responses.create(quota_user=user, model="m", input=MESSAGES)
    assert settlement(answer) is not None and spent(env, user) == (answer.usage.total_tokens, 0)
    stream = await wrapped.responses.create(quota_user=user, model="m", input=MESSAGES, max_output_tokens=2,
                                            stream=True)
    async with stream:
        kinds = [event.type async for event in stream]
    assert kinds[-1] == "response.incomplete", "cut at its maximum"
    assert stream.used == prompt_tokens({"input": MESSAGES}) + 2
    assert spent(env, user) == (answer.usage.total_tokens + stream.used, 0)
    with pytest.raises(openai.InternalServerError):
        await wrapped.responses.create(quota_user=user, model="error-500", input="x")
    assert spent(env, user)[1] == 0


def clamped_output(env: Env, user: str, fit: bool = True, quota: int = 100) -> None:
    """`user` on a plan of 100 output tokens a month, whose group clamps a call to what is left,
    down to 10 tokens (or, with `fit` false, is whole-only)."""
    group: Dict[str, Any] = {"id": "out", "unit": "tokens", "quota": quota, "measure": {"metadata": "output_tokens"},
                             "matches": [{"event": "*"}]}
    if fit:
        group.update({"fit": "clamp", "minFit": 10})
    env.call("PUT", f"/v1/plans/plan_{user}", {"id": f"plan_{user}", "periodType": "month", "groups": [group]})
    env.call("PUT", f"/v1/users/{user}/subscription", {"planId": f"plan_{user}"})


def test_a_call_asking_more_than_is_left_is_sent_with_its_maximum_lowered_to_what_was_granted(
        qg: QuotaGateway, env: Env, standin: OpenAIStandIn, fresh_user: Callable[..., str]) -> None:
    user = fresh_user()
    clamped_output(env, user)
    wrapped = chat(standin, qg)
    first = wrapped.chat.completions.create(quota_user=user, model="long-70", messages=MESSAGES, max_tokens=70)
    assert standin.requests[-1]["max_tokens"] == 70 and first.usage.completion_tokens == 70
    assert spent(env, user) == (70, 0)
    # 30 are left: a call asking for 50 is sent asking for 30, and held at its bound less the 20 cut.
    request = {"model": "long-50", "messages": MESSAGES, "max_tokens": 50}
    second = wrapped.chat.completions.create(quota_user=user, **request)
    assert standin.requests[-1]["max_tokens"] == 30 and "max_completion_tokens" not in standin.requests[-1]
    assert second.usage.completion_tokens == 30 and second.choices[0].finish_reason == "length"
    found = settlement(second)
    assert found is not None and found.held == chat_bound(request, 1024) - 20
    assert found.quantity == second.usage.total_tokens
    assert spent(env, user) == (100, 0)
    # Nothing left, less than the least it may be granted: denied before the provider is called.
    with pytest.raises(QuotaExceeded) as denied:
        wrapped.chat.completions.create(quota_user=user, **request)
    assert denied.value.reasons == ["limit_reached"] and len(standin.requests) == 2


async def test_an_async_stream_of_n_choices_naming_no_maximum_is_asked_for_its_share_of_the_grant(
        aqg: AsyncQuotaGateway, env: Env, standin: OpenAIStandIn, fresh_user: Callable[..., str]) -> None:
    user = fresh_user()
    clamped_output(env, user)
    wrapped = achat(standin, aqg)
    # 2 choices of up to 1,024 tokens each (the default): granted 100, 50 a choice.
    stream = await wrapped.chat.completions.create(quota_user=user, model="long-80", messages=MESSAGES, n=2,
                                                   stream=True)
    async with stream:
        chunks = [chunk async for chunk in stream]
    sent = standin.requests[-1]
    assert sent["max_completion_tokens"] == 50 and "max_tokens" not in sent and sent["n"] == 2
    assert all(chunk.choices for chunk in chunks), "the usage chunk it asked for is not shown"
    assert stream.settled is not None and stream.settled.quantity == stream.used
    assert await settled_async(env, user) == (100, 0)


def test_the_responses_api_is_asked_for_the_granted_output_and_the_wrapper_may_ask_to_clamp(
        qg: QuotaGateway, env: Env, standin: OpenAIStandIn, fresh_user: Callable[..., str]) -> None:
    user = fresh_user()
    clamped_output(env, user, fit=False)
    request = {"model": "long-120", "input": "Write at length.", "max_output_tokens": 500}
    with pytest.raises(QuotaExceeded):
        chat(standin, qg).responses.create(quota_user=user, **request)
    assert standin.requests == [], "the group is whole-only: denied"
    answer = chat(standin, qg, fit="clamp", min_fit=10).responses.create(quota_user=user, **request)
    assert standin.requests[-1]["max_output_tokens"] == 100 and answer.usage.output_tokens == 100
    assert spent(env, user) == (100, 0)
    # Per call: quota_fit="whole" refuses to clamp what the wrapper would.
    other = fresh_user()
    clamped_output(env, other)
    with pytest.raises(QuotaExceeded):
        chat(standin, qg).responses.create(quota_user=other, quota_fit="whole", **request)


def test_a_group_priced_by_the_catalog_holds_the_calls_worst_case_and_counts_its_reported_tokens(
        qg: QuotaGateway, env: Env, standin: OpenAIStandIn, fresh_user: Callable[..., str]) -> None:
    user = fresh_user()
    group = {"id": "dollars", "unit": "cents", "quota": 2000, "measure": {"price": "catalog", "markup": 1.5},
             "matches": [{"event": "*"}]}
    env.call("PUT", f"/v1/plans/plan_{user}", {"id": f"plan_{user}", "periodType": "month", "groups": [group]})
    env.call("PUT", f"/v1/users/{user}/subscription", {"planId": f"plan_{user}"})
    gpt = qg.catalog().find("gpt-4.1")
    assert gpt is not None

    def milli_cents(inputs: int, output: int) -> int:
        cost = (inputs * Fraction(str(gpt.input_per_million)) + output * Fraction(str(gpt.output_per_million)))
        return math.ceil(cost / 1_000_000 * 100 * Fraction("1.5") * 1000)

    seen: List[Any] = []
    original = qg.reserve

    def reserve(*args: Any, **kwargs: Any) -> Any:
        seen.append(original(*args, **kwargs))
        return seen[-1]

    qg.reserve = reserve  # type: ignore[method-assign]
    request = {"model": "gpt-4.1", "messages": MESSAGES, "max_completion_tokens": 400}
    answer = chat(standin, qg).chat.completions.create(quota_user=user, **request)
    inputs, output = chat_counts(request, 1024)
    assert output == 400 and round(seen[0].counters[0].reserved * 1000) == milli_cents(inputs, output)
    usage = answer.usage
    assert round(spent(env, user)[0] * 1000) == milli_cents(usage.prompt_tokens, usage.completion_tokens)
    [entry] = entries(env, user)
    assert entry["groups"][0]["price"] == {"source": "catalog", "catalogVersion": qg.catalog().version,
                                           "model": "gpt-4.1"}
