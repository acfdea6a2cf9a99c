"""OpenAI: chat completions and responses that hold the whole call first, and count what the
answer reports.

    guarded = QuotaOpenAI(openai.OpenAI(), qg, event="llm.tokens")
    answer = guarded.chat.completions.create(quota_user="alice", model="gpt-4o-mini",
                                             messages=[...], max_completion_tokens=300)
    answer = guarded.responses.create(quota_user="alice", model="gpt-4o-mini", input="Hi")

Each call holds an upper bound of what it may cost (`_estimate.py`): its input (counted by the
model's tokenizer where one is installed and usable offline, else by UTF-8 bytes, with a
documented overhead per message, per request and per tool) plus its maximum output times `n`
(`default_max_tokens` when the request sets none), or `quota_estimate=`. A denial raises
`QuotaExceeded` (`QuotaUnavailable` when the gateway gave no decision) before the provider is
called. The hold then settles by the one policy (`_spend.py`): the reported usage
(`usage.total_tokens`, or `usage_field=`) is committed with the reported counts in the
commit's metadata; a call that never reached the provider, or that it refused with an error
status, is released; one whose usage is unknown (a timeout after sending, a broken stream, a
cancelled call) commits the hold. A commit that gets no answer never loses the answer: it is
kept and sent again (`_settle.py`). `settlement(answer)` tells how an answer was settled; its
`reservation_id` is what `set_outcome` takes, once the user has judged the output.

The reserve names the call's `model` and its worst case in the gateway's names
(`input_tokens`, `output_tokens`: the maximum output times `n`), so a group priced by the model
(`"measure": {"price": "catalog"}`) holds its price, and the commit reports the provider's counts
so (`input_tokens`, `output_tokens`, `cached_input_tokens`, `reasoning_tokens`, beside the API's
own names). When a group clamps (`"fit": "clamp"`, or `fit=` / `quota_fit=` here) and the
reserve answers `granted.output_tokens`, the provider is asked for no more: the request's maximum
output (`max_completion_tokens` / `max_tokens`, divided among `n` choices, or
`max_output_tokens`; `max_completion_tokens` when it named none) is lowered to it, so a user near
the end of a budget gets a shorter answer instead of a denial.

A stream answers a `QuotaStream` (`AsyncQuotaStream`), a drop-in for the provider's that
settles however it ends (`_openai_streams.py`). Needs the `openai` extra.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any, Callable, Dict, Optional

from openai import AsyncOpenAI, OpenAI

from ._estimate import IMAGE_TOKENS, chat_counts, lower_max_output, responses_counts
from ._openai_streams import Api, AsyncQuotaStream, QuotaStream, StreamState, Usage
from ._settle import Settled, settle, settle_async, settle_later
from ._spend import Spend
from .aio import AsyncQuotaGateway
from .client import QuotaGateway
from .decision import Allowed
from .errors import denial_error
from .params import Fit, Metadata

__all__ = ["AsyncQuotaOpenAI", "AsyncQuotaStream", "QuotaOpenAI", "QuotaStream", "Settled", "settlement"]

# Where an answer keeps its settlement: an attribute the provider's types do not serialize.
SETTLEMENT_ATTRIBUTE = "quota_settlement"


def settlement(answer: Any) -> Optional[Settled]:
    """How the hold of a wrapped call's answer was settled: what was committed (`quantity`),
    `over_quota`, and `pending` when the gateway gave no answer (sent again later); a stream's
    is its `settled`."""
    found = getattr(answer, SETTLEMENT_ATTRIBUTE, None)
    if found is None and isinstance(answer, (QuotaStream, AsyncQuotaStream)):
        found = answer.settled
    return found if isinstance(found, Settled) else None


def _attach(answer: Any, settled: Optional[Settled]) -> None:
    try:
        object.__setattr__(answer, SETTLEMENT_ATTRIBUTE, settled)
    except (AttributeError, TypeError):
        pass  # an answer that takes no attribute: `settlement` answers None for it


@dataclass
class _Plan:
    user: str
    event: str
    held: float
    metadata: Dict[str, Any]
    request: Dict[str, Any]
    stream: bool
    hide_usage: bool
    fit: Optional[Fit]
    min_fit: Optional[float]

    def granted(self, decision: Allowed, api: Api) -> Spend:
        """The spend of an admitted call: of all it asked, or of what a clamped hold granted,
        whose output the request is lowered to first (`granted.output_tokens`)."""
        granted = decision.granted
        if granted is None:
            return Spend(self.held, self.metadata)
        self.held = float(granted.quantity)
        if granted.output_tokens is not None:
            asked = lower_max_output(self.request, api, granted.output_tokens)
            self.metadata = {**self.metadata, "output_tokens": asked}
        return Spend(self.held, self.metadata)


class _Options:
    def __init__(self, event: str, metadata: Optional[Metadata], usage_field: str, default_max_tokens: int,
                 image_tokens: int, fit: Optional[Fit] = None, min_fit: Optional[float] = None) -> None:
        self.event = event
        self.metadata = dict(metadata or {})
        self.usage_field = usage_field
        self.default_max_tokens = default_max_tokens
        self.image_tokens = image_tokens
        self.fit = fit
        self.min_fit = min_fit

    def plan(self, kwargs: Dict[str, Any], api: Api) -> _Plan:
        """Splits our arguments from the provider's, and bounds what the call may cost."""
        request = dict(kwargs)
        user = request.pop("quota_user", None)
        if not user:
            raise ValueError("quota_user= names the user whose quota pays for the call")
        event = request.pop("quota_event", None) or self.event
        estimate = request.pop("quota_estimate", None)
        fit = request.pop("quota_fit", None) or self.fit
        min_fit = request.pop("quota_min_fit", None) or self.min_fit
        for key in ("messages", "input", "tools", "functions"):
            # An iterator would be spent by the estimate before the provider reads it.
            value = request.get(key)
            if value is not None and not isinstance(value, (str, list, tuple, dict)) and hasattr(value, "__iter__"):
                request[key] = list(value)
        counts = chat_counts if api == "chat" else responses_counts
        inputs, output = counts(request, self.default_max_tokens, self.image_tokens)
        held = float(estimate) if estimate is not None else float(inputs + output)
        # The worst case in the gateway's names: a priced group prices it, and a clamping group
        # lowers its output (`granted.output_tokens`). The commit reports the real counts.
        meta = {"model": request.get("model"), "input_tokens": inputs, "output_tokens": output, **self.metadata,
                **(request.pop("quota_metadata", None) or {})}
        stream = bool(request.get("stream"))
        hide_usage = False
        if stream and api == "chat":
            options = dict(request.get("stream_options") or {})
            hide_usage = not options.get("include_usage")
            request["stream_options"] = {**options, "include_usage": True}
        return _Plan(str(user), event, held, {k: v for k, v in meta.items() if v is not None}, request,
                     stream, hide_usage, fit, min_fit)


def _answered(spend: Spend, answer: Any, usage: Usage) -> None:
    spend.answered()
    found = usage.of(getattr(answer, "usage", None))
    if found is not None:
        spend.reported(*found)


class _Create:
    """One API's `create`, paid from a user's quota (the blocking client)."""

    def __init__(self, create: Callable[..., Any], quota: QuotaGateway, options: _Options, api: Api) -> None:
        self._create, self._quota, self._options, self._api = create, quota, options, api

    def create(self, **kwargs: Any) -> Any:
        """The provider's `create` with `quota_user=` (required), `quota_estimate=`,
        `quota_event=`, `quota_metadata=`, `quota_fit=` and `quota_min_fit=` (the reserve's
        `fit` and `min_fit`, in output tokens); answers what the provider answers (a stream
        wrapped in `QuotaStream`), asked for no more output than a clamped hold granted."""
        plan = self._options.plan(kwargs, self._api)
        decision = self._quota.reserve(plan.user, plan.event, plan.held, plan.metadata, fit=plan.fit,
                                       min_fit=plan.min_fit)
        if not decision.allowed:
            raise denial_error(decision)
        rid = decision.reservation_id
        spend = plan.granted(decision, self._api)
        try:
            answer = self._create(**plan.request)
        except BaseException as err:
            spend.failed(err)
            settle(self._quota, rid, spend)
            raise
        usage = Usage(self._api, self._options.usage_field)
        if plan.stream:
            spend.answered()
            quota = self._quota
            return QuotaStream(answer, StreamState(spend, usage, plan.hide_usage),
                               lambda s: settle(quota, rid, s), lambda s: settle_later(quota, rid, s))
        _answered(spend, answer, usage)
        _attach(answer, settle(self._quota, rid, spend))
        return answer


class _AsyncCreate:
    """One API's `create`, paid from a user's quota (the asyncio client)."""

    def __init__(self, create: Callable[..., Any], quota: AsyncQuotaGateway, options: _Options, api: Api) -> None:
        self._create, self._quota, self._options, self._api = create, quota, options, api

    async def create(self, **kwargs: Any) -> Any:
        """As `QuotaOpenAI`'s, awaited; a stream is wrapped in `AsyncQuotaStream`."""
        plan = self._options.plan(kwargs, self._api)
        decision = await self._quota.reserve(plan.user, plan.event, plan.held, plan.metadata, fit=plan.fit,
                                             min_fit=plan.min_fit)
        if not decision.allowed:
            raise denial_error(decision)
        rid = decision.reservation_id
        spend = plan.granted(decision, self._api)
        try:
            answer = await self._create(**plan.request)
        except BaseException as err:  # a cancelled task too: settled, shielded
            spend.failed(err)
            await settle_async(self._quota, rid, spend)
            raise
        usage = Usage(self._api, self._options.usage_field)
        if plan.stream:
            spend.answered()
            quota, loop = self._quota, asyncio.get_running_loop()
            return AsyncQuotaStream(answer, StreamState(spend, usage, plan.hide_usage),
                                    lambda s: settle_async(quota, rid, s),
                                    lambda s: settle_later(quota, rid, s, loop))
        _answered(spend, answer, usage)
        _attach(answer, await settle_async(self._quota, rid, spend))
        return answer


class _Chat:
    def __init__(self, completions: Any) -> None:
        self.completions = completions


class QuotaOpenAI:
    """`openai.OpenAI` whose `chat.completions.create` and `responses.create` are paid from a
    user's quota. `client` is the wrapped client, for everything else (unpaid)."""

    def __init__(self, client: OpenAI, quota: QuotaGateway, *, event: str = "llm.tokens",
                 metadata: Optional[Metadata] = None, usage_field: str = "total_tokens",
                 default_max_tokens: int = 1024, image_tokens: int = IMAGE_TOKENS,
                 fit: Optional[Fit] = None, min_fit: Optional[float] = None) -> None:
        self.client = client
        options = _Options(event, metadata, usage_field, default_max_tokens, image_tokens, fit, min_fit)
        self.chat = _Chat(_Create(client.chat.completions.create, quota, options, "chat"))
        self.responses = _Create(client.responses.create, quota, options, "responses")


class AsyncQuotaOpenAI:
    """`openai.AsyncOpenAI` whose `chat.completions.create` and `responses.create` are paid
    from a user's quota. `client` is the wrapped client, for everything else (unpaid)."""

    def __init__(self, client: AsyncOpenAI, quota: AsyncQuotaGateway, *, event: str = "llm.tokens",
                 metadata: Optional[Metadata] = None, usage_field: str = "total_tokens",
                 default_max_tokens: int = 1024, image_tokens: int = IMAGE_TOKENS,
                 fit: Optional[Fit] = None, min_fit: Optional[float] = None) -> None:
        self.client = client
        options = _Options(event, metadata, usage_field, default_max_tokens, image_tokens, fit, min_fit)
        self.chat = _Chat(_AsyncCreate(client.chat.completions.create, quota, options, "chat"))
        self.responses = _AsyncCreate(client.responses.create, quota, options, "responses")
