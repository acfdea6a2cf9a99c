"""A wrapped stream is a drop-in for the provider's, and settles however it ends: exhausted with
or without the usage asked for, closed, left by `break`, an exception in the caller's loop, a
cancelled task, a dropped connection, or simply dropped and garbage collected. The provider's
usage is counted when it was seen, else the hold; nothing stays held."""

from __future__ import annotations

import asyncio
import gc
from typing import Any, Callable, Dict, Iterator

import openai
import pytest
from conftest import Env
from openai_standin import OpenAIStandIn, prompt_tokens
from spent import settled, settled_async, spent

from quota_gateway import AsyncQuotaGateway, QuotaGateway
from quota_gateway._estimate import chat_bound
from quota_gateway.openai import AsyncQuotaOpenAI, QuotaOpenAI

MESSAGES = [{"role": "user", "content": "hi"}]
# What the stand-in reports for MESSAGES: the prompt, and "Hel", "lo", "!".
USAGE = prompt_tokens({"messages": MESSAGES}) + 3


@pytest.fixture
def standin() -> Iterator[OpenAIStandIn]:
    server = OpenAIStandIn()
    yield server
    server.close()


def request(model: str = "m", **extra: Any) -> Dict[str, Any]:
    return {"model": model, "messages": MESSAGES, "max_tokens": 40, "stream": True, **extra}


def hold(model: str = "m") -> int:
    """What a stream of `request(model)` holds (the wrapper asks for usage)."""
    return chat_bound({**request(model), "stream_options": {"include_usage": True}}, 1024)


@pytest.fixture
def wrapped(standin: OpenAIStandIn, qg: QuotaGateway) -> QuotaOpenAI:
    return QuotaOpenAI(openai.OpenAI(base_url=standin.url, api_key="sk-test", max_retries=0), qg)


@pytest.fixture
def awrapped(standin: OpenAIStandIn, aqg: AsyncQuotaGateway) -> AsyncQuotaOpenAI:
    return AsyncQuotaOpenAI(openai.AsyncOpenAI(base_url=standin.url, api_key="sk-test", max_retries=0), aqg)


def test_a_stream_that_did_not_ask_for_usage_never_shows_its_chunk_and_counts_it(
        wrapped: QuotaOpenAI, env: Env, standin: OpenAIStandIn, subscribed: Callable[..., str]) -> None:
    user = subscribed(10_000, "tokens")
    stream = wrapped.chat.completions.create(quota_user=user, **request())
    text = "".join(c.choices[0].delta.content or "" for c in stream)   # as written for the plain client
    assert text == "Hello!" and stream.used == USAGE and spent(env, user) == (USAGE, 0)
    assert standin.requests[-1]["stream_options"] == {"include_usage": True}, "asked for it all the same"
    asked = wrapped.chat.completions.create(quota_user=user, **request(stream_options={"include_usage": True}))
    chunks = list(asked)
    assert chunks[-1].choices == [] and chunks[-1].usage.total_tokens == USAGE, "shown to who asked"
    with wrapped.chat.completions.create(quota_user=user, **request()) as closed:
        assert closed.response.status_code == 200, "the provider's stream's own attributes"
        list(closed)
    assert spent(env, user) == (3 * USAGE, 0)


def test_a_stream_left_by_break_or_an_exception_or_dropped_counts_the_hold(
        wrapped: QuotaOpenAI, env: Env, subscribed: Callable[..., str]) -> None:
    user = subscribed(100_000, "tokens")

    def leave_by_break() -> None:
        stream = wrapped.chat.completions.create(quota_user=user, **request())
        for _chunk in stream:
            break

    def fail_in_the_loop() -> None:
        stream = wrapped.chat.completions.create(quota_user=user, **request())
        for _chunk in stream:
            raise ValueError("the caller's own bug")

    leave_by_break()
    assert settled(env, user) == (hold(), 0), "settled when the stream was collected"
    try:
        fail_in_the_loop()
    except ValueError:
        pass
    assert settled(env, user) == (2 * hold(), 0)
    wrapped.chat.completions.create(quota_user=user, **request())   # never read, dropped
    gc.collect()
    assert settled(env, user) == (3 * hold(), 0)
    with wrapped.chat.completions.create(quota_user=user, **request()) as stream:
        next(stream)
    assert stream.settled is not None and stream.settled.unknown and stream.used is None
    assert spent(env, user) == (4 * hold(), 0), "closed before its usage: the hold"


    def leave_after_the_usage() -> None:
        stream = wrapped.chat.completions.create(quota_user=user, **request(stream_options={"include_usage": True}))
        for chunk in stream:
            if chunk.usage is not None:
                break   # left before its end, but after its usage

    leave_after_the_usage()
    assert settled(env, user) == (4 * hold() + USAGE, 0), "the usage seen, not the hold"


def test_a_broken_stream_counts_the_hold_and_raises(
        wrapped: QuotaOpenAI, env: Env, subscribed: Callable[..., str]) -> None:
    user = subscribed(100_000, "tokens")
    stream = wrapped.chat.completions.create(quota_user=user, **request("broken"))
    with pytest.raises(openai.APIConnectionError):
        for _chunk in stream:
            pass
    assert spent(env, user) == (hold("broken"), 0), "never zero"


async def test_an_async_stream_settles_exhausted_left_cancelled_or_dropped(
        awrapped: AsyncQuotaOpenAI, env: Env, subscribed: Callable[..., str]) -> None:
    user = subscribed(100_000, "tokens")
    create = awrapped.chat.completions.create
    stream = await create(quota_user=user, **request())
    text = "".join([c.choices[0].delta.content or "" async for c in stream])
    assert (text, stream.used) == ("Hello!", USAGE) and spent(env, user) == (USAGE, 0)

    async def leave_by_break() -> None:
        left = await create(quota_user=user, **request())
        async for _chunk in left:
            break

    async def fail_in_the_loop() -> None:
        failing = await create(quota_user=user, **request())
        async for _chunk in failing:
            raise ValueError("the caller's own bug")

    await leave_by_break()
    assert await settled_async(env, user) == (USAGE + hold(), 0)
    with pytest.raises(ValueError):
        await fail_in_the_loop()
    gc.collect()
    assert await settled_async(env, user) == (USAGE + 2 * hold(), 0)
    await create(quota_user=user, **request())   # never read, dropped
    gc.collect()
    assert await settled_async(env, user) == (USAGE + 3 * hold(), 0)


    async def leave_after_the_usage() -> None:
        left = await create(quota_user=user, **request(stream_options={"include_usage": True}))
        async for chunk in left:
            if chunk.usage is not None:
                break

    await leave_after_the_usage()
    assert await settled_async(env, user) == (2 * USAGE + 3 * hold(), 0), "the usage seen, not the hold"


async def test_cancelling_the_task_that_consumes_an_async_stream_counts_the_hold(
        awrapped: AsyncQuotaOpenAI, env: Env, subscribed: Callable[..., str]) -> None:
    user = subscribed(100_000, "tokens")
    started = asyncio.Event()

    async def consume(busy_in_the_loop: bool) -> None:
        stream = await awrapped.chat.completions.create(quota_user=user, **request("slow"))
        async for _chunk in stream:
            started.set()
            if busy_in_the_loop:
                await asyncio.sleep(60)   # cancelled here, outside the stream

    for busy in (False, True):
        started.clear()
        task = asyncio.ensure_future(consume(busy))
        await asyncio.wait_for(started.wait(), 10)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        del task
        gc.collect()
    assert await settled_async(env, user) == (2 * hold("slow"), 0)


async def test_a_broken_async_stream_counts_the_hold(
        awrapped: AsyncQuotaOpenAI, env: Env, subscribed: Callable[..., str]) -> None:
    user = subscribed(100_000, "tokens")
    stream = await awrapped.chat.completions.create(quota_user=user, **request("broken"))
    with pytest.raises(openai.APIConnectionError):
        async for _chunk in stream:
            pass
    assert stream.settled is not None and stream.settled.unknown
    assert spent(env, user) == (hold("broken"), 0)
