"""The integrations' edges the examples do not reach: broken and abandoned streams, provider
errors, a failing LangChain run, and a FastAPI route whose gateway cannot be reached."""

from __future__ import annotations

from typing import Any, Callable, Dict, Iterator, List, Optional

import httpx
import openai
import pytest
from conftest import Env
from fastapi import Depends, FastAPI
from gateway import free_port
from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import BaseMessage
from langchain_core.outputs import ChatResult
from openai_standin import OpenAIStandIn

from quota_gateway import AsyncQuotaGateway, QuotaGateway, ReservationScope
from quota_gateway.fastapi import quota_dependency
from quota_gateway.langchain import QuotaCallbackHandler
from quota_gateway.openai import AsyncQuotaOpenAI, QuotaOpenAI

MESSAGES = [{"role": "user", "content": "hi"}]


def counter(env: Env, user: str) -> Any:
    return env.call("GET", f"/v1/users/{user}/usage")["counters"][0]


@pytest.fixture
def standin() -> Iterator[OpenAIStandIn]:
    server = OpenAIStandIn()
    yield server
    server.close()


def test_a_broken_stream_commits_what_was_reserved(qg: QuotaGateway, env: Env, standin: OpenAIStandIn,
                                                   subscribed: Callable[..., str]) -> None:
    user = subscribed(1000, "tokens")
    chat = QuotaOpenAI(openai.OpenAI(base_url=standin.url, api_key="sk-test", max_retries=0), qg)
    stream = chat.chat.completions.create(quota_user=user, model="broken", messages=MESSAGES, max_tokens=40,
                                          stream=True)
    with pytest.raises(Exception):
        for _chunk in stream:
            pass
    assert (counter(env, user)["used"], counter(env, user)["reserved"]) == (40, 0), "never zero"


def test_a_stream_left_early_commits_on_close_and_a_failed_call_releases(
        qg: QuotaGateway, env: Env, standin: OpenAIStandIn, subscribed: Callable[..., str]) -> None:
    user = subscribed(1000, "tokens")
    chat = QuotaOpenAI(openai.OpenAI(base_url=standin.url, api_key="sk-test", max_retries=0), qg,
                       usage_field="completion_tokens")
    with chat.chat.completions.create(quota_user=user, model="m", messages=MESSAGES, quota_estimate=30,
                                      stream=True) as stream:
        next(iter(stream))
    assert counter(env, user)["used"] == 30, "no usage seen yet: the reserved amount"
    answer = chat.chat.completions.create(quota_user=user, model="m", messages=MESSAGES, max_tokens=50)
    assert answer.usage is not None and counter(env, user)["used"] == 30 + 7, "completion_tokens"
    broken = QuotaOpenAI(openai.OpenAI(base_url=f"http://127.0.0.1:{free_port()}/v1", api_key="sk-test",
                                       max_retries=0), qg)
    with pytest.raises(openai.APIConnectionError):
        broken.chat.completions.create(quota_user=user, model="m", messages=MESSAGES, max_tokens=50)
    assert (counter(env, user)["used"], counter(env, user)["reserved"]) == (37, 0)


async def test_the_async_wrapper_commits_stream_usage_and_broken_streams(
        aqg: AsyncQuotaGateway, env: Env, standin: OpenAIStandIn, subscribed: Callable[..., str]) -> None:
    user = subscribed(1000, "tokens")
    chat = AsyncQuotaOpenAI(openai.AsyncOpenAI(base_url=standin.url, api_key="sk-test", max_retries=0), aqg,
                            metadata={"feature": "test"})
    answer = await chat.chat.completions.create(quota_user=user, model="m", messages=MESSAGES, max_tokens=50)
    assert answer.usage.total_tokens == 17
    stream = await chat.chat.completions.create(quota_user=user, model="m", messages=MESSAGES, max_tokens=50,
                                                stream=True)
    chunks = [c async for c in stream]
    assert chunks and stream.used == 17
    broken = await chat.chat.completions.create(quota_user=user, model="broken", messages=MESSAGES,
                                                max_tokens=60, stream=True)
    with pytest.raises(Exception):
        async for _chunk in broken:
            pass
    assert (counter(env, user)["used"], counter(env, user)["reserved"]) == (17 + 17 + 60, 0)
    events = env.call("GET", f"/v1/usage-events?userId={user}")["data"]
    assert events[0]["metadata"] == {"model": "m", "feature": "test", "prompt_tokens": 10,
                                     "completion_tokens": 7, "total_tokens": 17}
    assert events[2]["metadata"] == {"model": "broken", "feature": "test"}, "no usage came"


class FailingModel(BaseChatModel):
    max_tokens: int = 100

    @property
    def _llm_type(self) -> str:
        return "failing"

    def _generate(self, messages: List[BaseMessage], stop: Optional[List[str]] = None,
                  run_manager: Optional[CallbackManagerForLLMRun] = None, **kwargs: Any) -> ChatResult:
        raise RuntimeError("the provider is down")


def test_a_failed_langchain_run_releases_its_hold(qg: QuotaGateway, env: Env, subscribed: Callable[..., str]) -> None:
    user = subscribed(1000, "tokens")
    handler = QuotaCallbackHandler(qg, user_id=user)
    with pytest.raises(RuntimeError):
        FailingModel().invoke("hello there", config={"callbacks": [handler]})
    assert (counter(env, user)["used"], counter(env, user)["reserved"]) == (0, 0)
    assert handler.estimate(["12345678"], {"max_tokens": 10}, {}) == 12


async def test_a_fastapi_route_answers_429_when_the_gateway_cannot_decide(env: Env) -> None:
    unreachable = AsyncQuotaGateway(env.secret, base_url=f"http://127.0.0.1:{free_port()}", timeout=0.5)
    app = FastAPI()
    paid = quota_dependency(unreachable, "api.request", user=lambda _r: "u")

    @app.get("/x")
    async def route(hold: ReservationScope = Depends(paid)) -> Dict[str, str]:
        return {"reservation": hold.reservation_id}

    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://app") as client:
        answer = await client.get("/x")
    await unreachable.aclose()
    assert (answer.status_code, answer.headers["Retry-After"]) == (429, "1")
    assert answer.json()["detail"]["reasons"] == ["backend_unavailable"]
