"""The OpenAI wrapper against the real `openai` client and the loopback stand-in: it holds the
whole call (input bound plus maximum output, times n), so parallel calls never spend past a
budget; it commits what the provider reported, releases what never reached it or was refused,
commits the hold when the answer was lost; the Responses API alike."""

from __future__ import annotations

import asyncio
import logging
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Callable, Iterator, List, Optional

import openai
import pytest
from conftest import Env
from gateway import free_port
from openai_standin import OVERRUN_TOKENS, OpenAIStandIn, prompt_tokens
from spent import entries, spent

from quota_gateway import AsyncQuotaGateway, QuotaExceeded, QuotaGateway
from quota_gateway._estimate import chat_bound, responses_bound
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
    assert entry["metadata"] == {"model": "m", "feature": "test", "route": "/chat", "prompt_tokens": 13,
                                 "completion_tokens": 9, "total_tokens": 22}
    assert answer.model_dump()["usage"]["total_tokens"] == 22, "the answer serializes as the provider's"
    assert "quota_settlement" not in answer.model_dump()


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
        {"model": "m", "input_tokens": prompt, "output_tokens": 3, "total_tokens": prompt + 3}] * 2


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
