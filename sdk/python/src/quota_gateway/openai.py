"""OpenAI: chat completions that hold tokens first and count what the answer reports.

    guarded = QuotaOpenAI(openai.OpenAI(), qg, event="llm.tokens")
    answer = guarded.chat.completions.create(quota_user="alice", model="gpt-4o-mini",
                                             messages=[...], max_tokens=300)

Each call reserves `max_tokens` (or `quota_estimate=`) under the event, with the model in the
metadata; a denial raises `QuotaExceeded` before the provider is called, a failed call
releases, a completed one commits `usage.total_tokens` (`usage_field=` to choose another),
with the reported token counts added to the commit's metadata (for plans that measure by them).
A stream is asked for its usage (`stream_options={"include_usage": True}`) and commits it when
it ends; a stream that ends or breaks without usage commits the reserved amount, never zero,
since the provider may have spent it. Needs the `openai` extra.
"""

from __future__ import annotations

from typing import Any, Dict, Optional, Tuple

from openai import AsyncOpenAI, OpenAI

from .aio import AsyncQuotaGateway
from .client import QuotaGateway
from .errors import QuotaExceeded, QuotaGatewayError
from .params import Metadata
from ._openai_streams import AsyncQuotaStream, QuotaStream, token_counts, usage_of

__all__ = ["AsyncQuotaOpenAI", "AsyncQuotaStream", "QuotaOpenAI", "QuotaStream"]


class _Options:
    def __init__(self, event: str, metadata: Optional[Metadata], usage_field: str,
                 default_max_tokens: int) -> None:
        self.event = event
        self.metadata = dict(metadata or {})
        self.usage_field = usage_field
        self.default_max_tokens = default_max_tokens

    def plan(self, kwargs: Dict[str, Any]) -> Tuple[str, str, float, Dict[str, Any], Dict[str, Any]]:
        """Splits our arguments from the provider's: (user, event, amount, metadata, rest)."""
        user = kwargs.pop("quota_user", None)
        if not user:
            raise ValueError("quota_user= names the user whose quota pays for the call")
        event = kwargs.pop("quota_event", None) or self.event
        estimate = kwargs.pop("quota_estimate", None)
        meta = {"model": kwargs.get("model"), **self.metadata, **(kwargs.pop("quota_metadata", None) or {})}
        amount = (estimate or kwargs.get("max_completion_tokens") or kwargs.get("max_tokens")
                  or self.default_max_tokens)
        if kwargs.get("stream"):
            kwargs["stream_options"] = {**(kwargs.get("stream_options") or {}), "include_usage": True}
        return str(user), event, float(amount), {k: v for k, v in meta.items() if v is not None}, kwargs


class _Completions:
    def __init__(self, client: OpenAI, quota: QuotaGateway, options: _Options) -> None:
        self._client, self._quota, self._options = client, quota, options

    def create(self, **kwargs: Any) -> Any:
        """`chat.completions.create` with `quota_user=` (required), `quota_estimate=`,
        `quota_event=` and `quota_metadata=`; answers what the provider answers (a stream
        wrapped in `QuotaStream`)."""
        user, event, amount, meta, rest = self._options.plan(dict(kwargs))
        decision = self._quota.reserve(user, event, amount, meta)
        if not decision.allowed:
            raise QuotaExceeded(decision)
        rid = decision.reservation_id
        try:
            answer = self._client.chat.completions.create(**rest)
        except BaseException:
            try:
                self._quota.release(rid)
            except QuotaGatewayError:
                pass  # the hold expires by itself; the provider's error is the one to see
            raise
        field = self._options.usage_field
        if rest.get("stream"):
            return QuotaStream(answer, lambda used, counts: self._quota.commit(rid, used, {**meta, **counts}),
                               amount, field)
        usage = getattr(answer, "usage", None)
        used = usage_of(usage, field)
        self._quota.commit(rid, amount if used is None else used, {**meta, **token_counts(usage)})
        return answer


class _AsyncCompletions:
    def __init__(self, client: AsyncOpenAI, quota: AsyncQuotaGateway, options: _Options) -> None:
        self._client, self._quota, self._options = client, quota, options

    async def create(self, **kwargs: Any) -> Any:
        """As `QuotaOpenAI`'s, awaited; a stream is wrapped in `AsyncQuotaStream`."""
        user, event, amount, meta, rest = self._options.plan(dict(kwargs))
        decision = await self._quota.reserve(user, event, amount, meta)
        if not decision.allowed:
            raise QuotaExceeded(decision)
        rid = decision.reservation_id
        try:
            answer = await self._client.chat.completions.create(**rest)
        except BaseException:
            try:
                await self._quota.release(rid)
            except QuotaGatewayError:
                pass
            raise
        field = self._options.usage_field
        if rest.get("stream"):
            return AsyncQuotaStream(answer, lambda used, counts: self._quota.commit(rid, used, {**meta, **counts}),
                                    amount, field)
        usage = getattr(answer, "usage", None)
        used = usage_of(usage, field)
        await self._quota.commit(rid, amount if used is None else used, {**meta, **token_counts(usage)})
        return answer


class _Chat:
    def __init__(self, completions: Any) -> None:
        self.completions = completions


class QuotaOpenAI:
    """`openai.OpenAI` whose `chat.completions.create` is paid from a user's quota."""

    def __init__(self, client: OpenAI, quota: QuotaGateway, *, event: str = "llm.tokens",
                 metadata: Optional[Metadata] = None, usage_field: str = "total_tokens",
                 default_max_tokens: int = 1024) -> None:
        self.client = client
        self.chat = _Chat(_Completions(client, quota, _Options(event, metadata, usage_field,
                                                               default_max_tokens)))


class AsyncQuotaOpenAI:
    """`openai.AsyncOpenAI` whose `chat.completions.create` is paid from a user's quota."""

    def __init__(self, client: AsyncOpenAI, quota: AsyncQuotaGateway, *, event: str = "llm.tokens",
                 metadata: Optional[Metadata] = None, usage_field: str = "total_tokens",
                 default_max_tokens: int = 1024) -> None:
        self.client = client
        self.chat = _Chat(_AsyncCompletions(client, quota, _Options(event, metadata, usage_field,
                                                                    default_max_tokens)))
