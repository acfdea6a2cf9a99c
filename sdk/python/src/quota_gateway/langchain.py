"""LangChain: a callback handler that holds tokens for each LLM or chat model run.

    handler = QuotaCallbackHandler(qg, event="llm.tokens")
    model.invoke("Hi", config={"callbacks": [handler], "metadata": {"user_id": "alice"}})

On start it reserves an estimate (the prompt's length in tokens, about four characters each,
plus `max_tokens`) and a denial raises `QuotaExceeded` before the model is called; on end it
commits the token usage the model reported (the estimate when it reported none); on error it
releases. Needs the `langchain` extra.
"""

from __future__ import annotations

import math
import threading
from typing import Any, Dict, List, Mapping, Optional
from uuid import UUID

from langchain_core.callbacks import BaseCallbackHandler
from langchain_core.messages import BaseMessage, get_buffer_string
from langchain_core.outputs import ChatGeneration, LLMResult

from .client import QuotaGateway
from .errors import QuotaExceeded, QuotaGatewayError
from .params import Metadata


def reported_tokens(response: LLMResult, field: str = "total_tokens") -> Optional[int]:
    """Tokens the model reported: `llm_output["token_usage"]`, else the messages' usage."""
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


class QuotaCallbackHandler(BaseCallbackHandler):
    """Reserves on LLM start, commits the reported usage on end, releases on error."""

    # A denial must stop the run, not be logged and ignored.
    raise_error = True

    def __init__(self, client: QuotaGateway, event: str = "llm.tokens", *,
                 user_id: Optional[str] = None, user_key: str = "user_id",
                 metadata: Optional[Metadata] = None, default_max_tokens: int = 1024,
                 chars_per_token: float = 4.0, usage_field: str = "total_tokens") -> None:
        self.client = client
        self.event = event
        self.user_id = user_id
        self.user_key = user_key
        self.metadata = dict(metadata or {})
        self.default_max_tokens = default_max_tokens
        self.chars_per_token = chars_per_token
        self.usage_field = usage_field
        self._held: Dict[UUID, tuple[str, int]] = {}
        self._lock = threading.Lock()

    def estimate(self, texts: List[str], invocation: Mapping[str, Any],
                 run_metadata: Mapping[str, Any]) -> int:
        prompt = sum(math.ceil(len(text) / self.chars_per_token) for text in texts)
        limit = (invocation.get("max_tokens") or invocation.get("max_completion_tokens")
                 or run_metadata.get("ls_max_tokens") or self.default_max_tokens)
        return prompt + int(limit)

    def _reserve(self, texts: List[str], run_id: UUID, metadata: Optional[Dict[str, Any]],
                 kwargs: Mapping[str, Any]) -> None:
        run_metadata = metadata or {}
        user = self.user_id or run_metadata.get(self.user_key)
        if not user:
            raise ValueError(f"no user: pass user_id= or the run's metadata {self.user_key!r}")
        amount = self.estimate(texts, kwargs.get("invocation_params") or {}, run_metadata)
        meta = dict(self.metadata)
        model = run_metadata.get("ls_model_name")
        if model and "model" not in meta:
            meta["model"] = model
        decision = self.client.reserve(str(user), self.event, amount, meta or None)
        if not decision.allowed:
            raise QuotaExceeded(decision)
        with self._lock:
            self._held[run_id] = (decision.reservation_id, amount)

    def on_llm_start(self, serialized: Dict[str, Any], prompts: List[str], *, run_id: UUID,
                     parent_run_id: Optional[UUID] = None, tags: Optional[List[str]] = None,
                     metadata: Optional[Dict[str, Any]] = None, **kwargs: Any) -> None:
        self._reserve(prompts, run_id, metadata, kwargs)

    def on_chat_model_start(self, serialized: Dict[str, Any], messages: List[List[BaseMessage]],
                            *, run_id: UUID, parent_run_id: Optional[UUID] = None,
                            tags: Optional[List[str]] = None,
                            metadata: Optional[Dict[str, Any]] = None, **kwargs: Any) -> None:
        self._reserve([get_buffer_string(m) for m in messages], run_id, metadata, kwargs)

    def _take(self, run_id: UUID) -> Optional[tuple[str, int]]:
        with self._lock:
            return self._held.pop(run_id, None)

    def on_llm_end(self, response: LLMResult, *, run_id: UUID,
                   parent_run_id: Optional[UUID] = None, tags: Optional[List[str]] = None,
                   **kwargs: Any) -> None:
        held = self._take(run_id)
        if held is not None:
            used = reported_tokens(response, self.usage_field)
            self.client.commit(held[0], held[1] if used is None else used)

    def on_llm_error(self, error: BaseException, *, run_id: UUID,
                     parent_run_id: Optional[UUID] = None, tags: Optional[List[str]] = None,
                     **kwargs: Any) -> None:
        held = self._take(run_id)
        if held is not None:
            try:
                self.client.release(held[0])
            except QuotaGatewayError:
                pass  # the hold expires by itself; the model's error is the one to see
