"""LangChain: a callback handler that holds tokens for each LLM or chat model run.

    handler = QuotaCallbackHandler(qg, event="llm.tokens")
    model.invoke("Hi", config={"callbacks": [handler], "metadata": {"user_id": "alice"}})

On start it holds an upper bound of what the run may cost (`_estimate.py`: the messages, tools
and schemas counted by the model's tokenizer where one is installed and usable offline, else by
UTF-8 bytes, plus the maximum output times `n`), and a denial raises `QuotaExceeded`
(`QuotaUnavailable` when the gateway gave no decision) before the model is called. The hold
settles by the one policy (`_spend.py`): the usage the model reported; else the hold when the
model was called (a stream left early, a timeout after sending, a cancelled run); a release
when it never was, or refused with an error status. A commit that gets no answer is kept and
sent again (`_settle.py`), never raised into the run. Needs the `langchain` extra.

The reserve names the run's worst case in the gateway's names (`input_tokens`, `output_tokens`)
and the commit the reported counts, so a group priced by the model (`"measure": {"price":
...}`) prices the run. A callback cannot lower the maximum output of the call it watches, so it
reserves with `fit="whole"`: where a group would clamp, the run is denied rather than let the
model write more than was held (the OpenAI wrapper lowers the call's maximum instead).
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from typing import Any, Dict, List, Mapping, Optional, Tuple
from uuid import UUID

from langchain_core.callbacks import BaseCallbackHandler
from langchain_core.messages import BaseMessage
from langchain_core.outputs import ChatGeneration, LLMResult

from ._estimate import IMAGE_TOKENS, messages_counts
from ._settle import Settled, settle
from ._spend import Spend
from .client import QuotaGateway
from .errors import denial_error
from .params import Metadata


def reported_tokens(response: Optional[LLMResult], field: str = "total_tokens") -> Optional[int]:
    """Tokens the model reported: `llm_output["token_usage"]`, else the messages' usage."""
    if response is None:
        return None
    usage = (response.llm_output or {}).get("token_usage") or {}
    if isinstance(usage, Mapping) and isinstance(usage.get(field), int):
        return int(usage[field])
    total, found = 0, False
    for generations in response.generations:
        for generation in generations:
            if isinstance(generation, ChatGeneration):
                meta = getattr(generation.message, "usage_metadata", None) or {}
                if isinstance(meta.get(field), int):
                    total, found = total + int(meta[field]), True
    return total if found else None


# The counts a model reports, in the gateway's names: from `llm_output["token_usage"]` (OpenAI's
# names) or from the messages' `usage_metadata` (LangChain's), details included.
TOKEN_USAGE_COUNTS = (("input_tokens", "prompt_tokens"), ("output_tokens", "completion_tokens"),
                      ("cached_input_tokens", "prompt_tokens_details.cached_tokens"),
                      ("reasoning_tokens", "completion_tokens_details.reasoning_tokens"))
USAGE_METADATA_COUNTS = (("input_tokens", "input_tokens"), ("output_tokens", "output_tokens"),
                         ("cached_input_tokens", "input_token_details.cache_read"),
                         ("cache_write_tokens", "input_token_details.cache_creation"),
                         ("reasoning_tokens", "output_token_details.reasoning"))


def _counted(usage: Any, names: Any) -> Dict[str, int]:
    found: Dict[str, int] = {}
    for name, path in names:
        value = usage
        for key in path.split("."):
            value = value.get(key) if isinstance(value, Mapping) else None
        if isinstance(value, int) and not isinstance(value, bool):
            found[name] = value
    return found


def reported_counts(response: Optional[LLMResult]) -> Dict[str, int]:
    """The token counts the model reported, in the gateway's names (`input_tokens`,
    `output_tokens`, `cached_input_tokens`, `cache_write_tokens`, `reasoning_tokens`), which a
    priced group (`"measure": {"price": ...}`) prices; empty when it reported none."""
    if response is None:
        return {}
    usage = (response.llm_output or {}).get("token_usage") or {}
    found = _counted(usage, TOKEN_USAGE_COUNTS) if isinstance(usage, Mapping) else {}
    if found:
        return found
    totals: Dict[str, int] = {}
    for generations in response.generations:
        for generation in generations:
            if isinstance(generation, ChatGeneration):
                meta = getattr(generation.message, "usage_metadata", None) or {}
                for name, value in _counted(meta, USAGE_METADATA_COUNTS).items():
                    totals[name] = totals.get(name, 0) + value
    return totals


def as_message(message: BaseMessage) -> Dict[str, Any]:
    """A message as the provider is sent it: role, content, name, tool calls and their ids."""
    found: Dict[str, Any] = {"role": message.type, "content": message.content}
    if message.name:
        found["name"] = message.name
    calls = getattr(message, "tool_calls", None)
    if calls:
        found["tool_calls"] = [json.dumps(call, default=str) for call in calls]
    for key in ("tool_call_id",):
        if getattr(message, key, None):
            found[key] = getattr(message, key)
    if message.additional_kwargs.get("function_call"):
        found["function_call"] = message.additional_kwargs["function_call"]
    return found


@dataclass
class _Held:
    reservation_id: str
    spend: Spend


class QuotaCallbackHandler(BaseCallbackHandler):
    """Holds on LLM start; settles on end or error by the one spend policy. `settled` keeps how
    each run's hold ended (by run id, the last 1,000): its `reservation_id` is what
    `set_outcome` takes, once the user has judged the output."""

    # A denial must stop the run, not be logged and ignored.
    raise_error = True

    def __init__(self, client: QuotaGateway, event: str = "llm.tokens", *,
                 user_id: Optional[str] = None, user_key: str = "user_id",
                 metadata: Optional[Metadata] = None, default_max_tokens: int = 1024,
                 usage_field: str = "total_tokens", image_tokens: int = IMAGE_TOKENS) -> None:
        self.client = client
        self.event = event
        self.user_id = user_id
        self.user_key = user_key
        self.metadata = dict(metadata or {})
        self.default_max_tokens = default_max_tokens
        self.usage_field = usage_field
        self.image_tokens = image_tokens
        self.settled: Dict[UUID, Settled] = {}
        self._held: Dict[UUID, _Held] = {}
        self._lock = threading.Lock()

    def counts(self, messages: List[Any], invocation: Mapping[str, Any],
               run_metadata: Mapping[str, Any]) -> Tuple[int, int]:
        """The most a run may cost as (input, output) tokens: its messages (dicts, or strings
        for a plain LLM's prompts) with the tools and schemas of its invocation, and its
        maximum output times `n`."""
        model = str(invocation.get("model") or invocation.get("model_name") or run_metadata.get("ls_model_name") or "")
        request = dict(invocation)
        if not any(isinstance(request.get(k), int) for k in ("max_tokens", "max_completion_tokens")):
            limit = run_metadata.get("ls_max_tokens")
            if isinstance(limit, int):
                request["max_tokens"] = limit
        return messages_counts(model, messages, request, self.default_max_tokens, self.image_tokens)

    def estimate(self, messages: List[Any], invocation: Mapping[str, Any],
                 run_metadata: Mapping[str, Any]) -> int:
        """The most a run may cost: its messages (dicts, or strings for a plain LLM's prompts),
        the tools and schemas of its invocation, and its maximum output times `n`."""
        return sum(self.counts(messages, invocation, run_metadata))

    def _reserve(self, messages: List[Any], run_id: UUID, metadata: Optional[Dict[str, Any]],
                 kwargs: Mapping[str, Any]) -> None:
        run_metadata = metadata or {}
        user = self.user_id or run_metadata.get(self.user_key)
        if not user:
            raise ValueError(f"no user: pass user_id= or the run's metadata {self.user_key!r}")
        inputs, output = self.counts(messages, kwargs.get("invocation_params") or {}, run_metadata)
        amount = inputs + output
        # The worst case in the gateway's names, which a priced group prices.
        meta: Dict[str, Any] = {"input_tokens": inputs, "output_tokens": output, **self.metadata}
        model = run_metadata.get("ls_model_name")
        if model and "model" not in meta:
            meta["model"] = model
        # A callback cannot lower the maximum output of the call it watches: a hold that would
        # clamp is denied instead, so the model never writes more than was held.
        decision = self.client.reserve(str(user), self.event, amount, meta, fit="whole")
        if not decision.allowed:
            raise denial_error(decision)
        with self._lock:
            self._held[run_id] = _Held(decision.reservation_id, Spend(amount))

    def on_llm_start(self, serialized: Dict[str, Any], prompts: List[str], *, run_id: UUID,
                     parent_run_id: Optional[UUID] = None, tags: Optional[List[str]] = None,
                     metadata: Optional[Dict[str, Any]] = None, **kwargs: Any) -> None:
        self._reserve(list(prompts), run_id, metadata, kwargs)

    def on_chat_model_start(self, serialized: Dict[str, Any], messages: List[List[BaseMessage]],
                            *, run_id: UUID, parent_run_id: Optional[UUID] = None,
                            tags: Optional[List[str]] = None,
                            metadata: Optional[Dict[str, Any]] = None, **kwargs: Any) -> None:
        self._reserve([as_message(m) for batch in messages for m in batch], run_id, metadata, kwargs)

    def on_llm_new_token(self, token: Any, *, chunk: Any = None, run_id: UUID,
                         parent_run_id: Optional[UUID] = None, tags: Optional[List[str]] = None,
                         **kwargs: Any) -> None:
        # A token streamed: the model was called, whatever ends the run.
        with self._lock:
            held = self._held.get(run_id)
        if held is not None:
            held.spend.answered()

    def _settle(self, run_id: UUID, response: Optional[LLMResult], error: Optional[BaseException]) -> None:
        with self._lock:
            held = self._held.pop(run_id, None)
        if held is None:
            return
        spend = held.spend
        if error is None:
            spend.answered()
        else:
            spend.failed(error)
        used = reported_tokens(response, self.usage_field)
        if used is not None:
            spend.reported(used, dict(reported_counts(response)))
        settled = settle(self.client, held.reservation_id, spend)
        if settled is not None:
            with self._lock:
                self.settled[run_id] = settled
                while len(self.settled) > 1_000:
                    del self.settled[next(iter(self.settled))]

    def on_llm_end(self, response: LLMResult, *, run_id: UUID,
                   parent_run_id: Optional[UUID] = None, tags: Optional[List[str]] = None,
                   **kwargs: Any) -> None:
        self._settle(run_id, response, None)

    def on_llm_error(self, error: BaseException, *, run_id: UUID,
                     parent_run_id: Optional[UUID] = None, tags: Optional[List[str]] = None,
                     **kwargs: Any) -> None:
        # `response` holds what was streamed before the error (a stream left early), usage
        # included when the model sent it.
        partial = kwargs.get("response")
        self._settle(run_id, partial if isinstance(partial, LLMResult) else None, error)
