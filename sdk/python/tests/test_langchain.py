"""The LangChain handler on a chat model that calls the OpenAI stand-in through the real
`openai` client, as ChatOpenAI does: it holds the whole run, commits the reported usage, commits
the hold for a stream left early, releases a refusal, and keeps a commit the gateway did not
answer rather than failing the run; it names the run's worst case and reported counts in the
gateway's names, and is denied, not clamped, by a group that would clamp."""

from __future__ import annotations

import threading
from typing import Any, Callable, Dict, Iterator, List, Mapping, Optional

import openai
import pytest
from conftest import Env
from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage, HumanMessage
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult
from openai_standin import OpenAIStandIn, prompt_tokens
from spent import entries, spent
from standin import Answer, Forward, Seen, StandIn

from quota_gateway import QuotaExceeded, QuotaGateway
from quota_gateway.langchain import QuotaCallbackHandler, as_message


class StandInChat(BaseChatModel):
    """A chat model on OpenAI's chat completions (the stand-in's), reporting usage as
    ChatOpenAI does (`usage_metadata`, on the last chunk of a stream)."""

    base_url: str
    model: str = "gpt-4o-mini"
    max_tokens: int = 30

    @property
    def _llm_type(self) -> str:
        return "standin-chat"

    @property
    def _identifying_params(self) -> Dict[str, Any]:
        return {"model": self.model, "max_tokens": self.max_tokens}

    def _client(self) -> openai.OpenAI:
        return openai.OpenAI(base_url=self.base_url, api_key="sk-test", max_retries=0)

    def _request(self, messages: List[BaseMessage]) -> Dict[str, Any]:
        return {"model": self.model, "max_tokens": self.max_tokens,
                "messages": [{"role": "user" if m.type == "human" else m.type, "content": m.content}
                             for m in messages]}

    def _generate(self, messages: List[BaseMessage], stop: Optional[List[str]] = None,
                  run_manager: Optional[CallbackManagerForLLMRun] = None, **kwargs: Any) -> ChatResult:
        answer = self._client().chat.completions.create(**self._request(messages))
        usage = answer.usage
        assert usage is not None
        meta = {"input_tokens": usage.prompt_tokens, "output_tokens": usage.completion_tokens,
                "total_tokens": usage.total_tokens}
        message = AIMessage(content=answer.choices[0].message.content or "", usage_metadata=meta)
        return ChatResult(generations=[ChatGeneration(message=message)])

    def _stream(self, messages: List[BaseMessage], stop: Optional[List[str]] = None,
                run_manager: Optional[CallbackManagerForLLMRun] = None, **kwargs: Any) -> Iterator[ChatGenerationChunk]:
        stream = self._client().chat.completions.create(**self._request(messages), stream=True,
                                                        stream_options={"include_usage": True})
        for chunk in stream:
            if chunk.usage is not None:
                meta = {"input_tokens": chunk.usage.prompt_tokens, "output_tokens": chunk.usage.completion_tokens,
                        "total_tokens": chunk.usage.total_tokens}
                yield ChatGenerationChunk(message=AIMessageChunk(content="", usage_metadata=meta))
            for choice in chunk.choices:
                if choice.delta.content:
                    yield ChatGenerationChunk(message=AIMessageChunk(content=choice.delta.content))


PROMPT = "count these five words please"
USAGE = prompt_tokens({"messages": [{"role": "user", "content": PROMPT}]}) + 3


@pytest.fixture
def standin() -> Iterator[OpenAIStandIn]:
    server = OpenAIStandIn()
    yield server
    server.close()


def run_config(handler: QuotaCallbackHandler, user: str) -> Any:
    return {"callbacks": [handler], "metadata": {"user_id": user}}


def test_a_run_holds_its_bound_and_commits_the_reported_usage(
        qg: QuotaGateway, env: Env, standin: OpenAIStandIn, subscribed: Callable[..., str]) -> None:
    user = subscribed(10_000, "tokens")
    handler = QuotaCallbackHandler(qg)
    model = StandInChat(base_url=standin.url)
    reply = model.invoke(PROMPT, config=run_config(handler, user))
    assert reply.content == "Hello!" and spent(env, user) == (USAGE, 0)
    [settled] = handler.settled.values()
    assert settled.held == handler.estimate([as_message(HumanMessage(PROMPT))], {"max_tokens": 30}, {})
    assert settled.held >= USAGE - 3 + 30, "the prompt as the provider counts it, and the maximum output"
    text = "".join(str(c.content) for c in model.stream(PROMPT, config=run_config(handler, user)))
    assert text == "Hello!" and spent(env, user) == (2 * USAGE, 0), "a stream read to its end: its usage"


def test_a_stream_left_early_commits_the_hold_and_a_refusal_releases(
        qg: QuotaGateway, env: Env, standin: OpenAIStandIn, subscribed: Callable[..., str]) -> None:
    user = subscribed(10_000, "tokens")
    handler = QuotaCallbackHandler(qg)
    model = StandInChat(base_url=standin.url)
    for _chunk in model.stream(PROMPT, config=run_config(handler, user)):
        break   # the generator is closed: the model was called, its usage never came
    [left] = handler.settled.values()
    assert left.unknown and spent(env, user) == (left.held, 0)
    with pytest.raises(openai.RateLimitError):
        StandInChat(base_url=standin.url, model="error-429").invoke(PROMPT, config=run_config(handler, user))
    assert spent(env, user) == (left.held, 0), "the provider refused: released"
    with pytest.raises(QuotaExceeded):
        StandInChat(base_url=standin.url, max_tokens=100_000).invoke(PROMPT, config=run_config(handler, user))
    assert len(standin.requests) == 2, "a denial never reaches the provider"


def test_a_commit_the_gateway_does_not_answer_keeps_the_answer_and_counts_later(
        env: Env, standin: OpenAIStandIn, subscribed: Callable[..., str]) -> None:
    user = subscribed(10_000, "tokens")
    down = threading.Event()

    def behave(_n: int, seen: Seen) -> Any:
        return Answer(503) if down.is_set() and seen.path.endswith("/commit") else Forward()

    with StandIn(env.base_url, behave) as proxy, QuotaGateway(env.secret, base_url=proxy.url) as qg:
        handler = QuotaCallbackHandler(qg)
        down.set()
        reply = StandInChat(base_url=standin.url).invoke(PROMPT, config=run_config(handler, user))
        assert reply.content == "Hello!", "the paid answer"
        assert qg.pending_commits == 1 and spent(env, user)[0] == 0
        down.clear()
        qg.usage(user)   # the gateway answers again: the kept commit is sent
        assert qg.pending_commits == 0
    assert spent(env, user) == (USAGE, 0)


def test_the_estimate_bounds_tools_and_n(qg: QuotaGateway) -> None:
    handler = QuotaCallbackHandler(qg, default_max_tokens=100)
    plain = handler.estimate(["hello"], {}, {})
    tools: Mapping[str, Any] = {"tools": [{"type": "function", "function": {"name": "f", "parameters": {}}}]}
    assert handler.estimate(["hello"], tools, {}) > plain + 64
    assert handler.estimate(["hello"], {"n": 3}, {}) == plain + 200
    assert handler.estimate(["hello"], {}, {"ls_max_tokens": 10}) == plain - 90


def test_a_run_names_its_worst_case_and_commits_its_counts_and_a_clamping_group_denies_it_whole(
        qg: QuotaGateway, env: Env, standin: OpenAIStandIn, fresh_user: Callable[..., str]) -> None:
    user = fresh_user()
    # 32 output tokens a month, in a group that would clamp: a callback cannot lower the call's
    # maximum, so a run asking for more than is left is denied rather than clamped.
    group = {"id": "out", "unit": "tokens", "quota": 32, "fit": "clamp", "minFit": 1,
             "measure": {"metadata": "output_tokens"}, "matches": [{"event": "*"}]}
    env.call("PUT", f"/v1/plans/plan_{user}", {"id": f"plan_{user}", "periodType": "month", "groups": [group]})
    env.call("PUT", f"/v1/users/{user}/subscription", {"planId": f"plan_{user}"})
    handler = QuotaCallbackHandler(qg)
    reply = StandInChat(base_url=standin.url).invoke(PROMPT, config=run_config(handler, user))
    assert reply.content == "Hello!" and spent(env, user) == (3, 0), "held 30, counted the 3 it wrote: 29 left"
    [entry] = entries(env, user)
    assert (entry["metadata"]["input_tokens"], entry["metadata"]["output_tokens"]) == (USAGE - 3, 3)
    with pytest.raises(QuotaExceeded) as denied:
        StandInChat(base_url=standin.url).invoke(PROMPT, config=run_config(handler, user))
    assert denied.value.reasons == ["limit_reached"] and len(standin.requests) == 1
