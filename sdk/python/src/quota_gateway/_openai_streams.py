"""Streams of the OpenAI wrapper: drop-ins for the provider's own that settle their hold once
they end, however they end (`_spend.py`'s policy: the reported usage, else the hold).

- Exhausted, or closed (`close()`, `with`): settled at once.
- Broken (the connection dropped, an error event) or cancelled while waiting for the next item
  (`asyncio.CancelledError`): settled at once; the error is raised on.
- Abandoned (a `break` without `with`, an exception in the caller's loop, a task cancelled
  elsewhere, or the stream simply dropped): settled when it is garbage collected, by a
  finalizer that closes the provider's stream and hands the settlement to the client's queue of
  writes to send, with a drain started at once.

A chat stream asks for its usage (`stream_options.include_usage`); when the caller did not ask
for it, the usage chunk (the last one, with no choices) is read and not shown, so code written
for the plain client (`chunk.choices[0]`) never sees it.
"""

from __future__ import annotations

import asyncio
import logging
import weakref
from types import TracebackType
from typing import Any, Awaitable, Callable, Dict, List, Literal, Optional, Tuple, Type

from ._settle import Settled
from ._spend import Spend

log = logging.getLogger("quota_gateway")

Api = Literal["chat", "responses"]
# The token counts each API reports, put in the commit's metadata (a plan may measure by them).
TOKEN_FIELDS: Dict[Api, Tuple[str, ...]] = {
    "chat": ("prompt_tokens", "completion_tokens", "total_tokens"),
    "responses": ("input_tokens", "output_tokens", "total_tokens"),
}
# The counts in the gateway's names (its proxy's), which a priced group (`"measure": {"price":
# ...}`) prices and a clamped hold's `output_tokens` lowers: each from a count the API reports,
# or from one of its details (`<details>.<name>`). Cached input is part of the input, reasoning
# part of the output, as the provider bills them.
GATEWAY_COUNTS: Dict[Api, Tuple[Tuple[str, str], ...]] = {
    "chat": (("input_tokens", "prompt_tokens"), ("output_tokens", "completion_tokens"),
             ("cached_input_tokens", "prompt_tokens_details.cached_tokens"),
             ("reasoning_tokens", "completion_tokens_details.reasoning_tokens")),
    "responses": (("cached_input_tokens", "input_tokens_details.cached_tokens"),
                  ("reasoning_tokens", "output_tokens_details.reasoning_tokens")),
}


def _count(usage: Any, path: str) -> Any:
    for name in path.split("."):
        usage = getattr(usage, name, None)
    return usage
# The Responses API names a chat completion's counts otherwise.
RESPONSES_NAMES = {"prompt_tokens": "input_tokens", "completion_tokens": "output_tokens"}
# The events of a Responses stream that carry the final usage.
FINAL_EVENTS = frozenset({"response.completed", "response.incomplete", "response.failed"})


class Usage:
    """How an API reports usage: the field to commit (`usage_field`) and the counts to keep."""

    def __init__(self, api: Api, field: str) -> None:
        self.api = api
        self.field = RESPONSES_NAMES.get(field, field) if api == "responses" else field

    def of(self, usage: Any) -> Optional[Tuple[float, Dict[str, Any]]]:
        """The amount to commit and the reported counts; None when there is no usage."""
        if usage is None:
            return None
        value = getattr(usage, self.field, None)
        if not isinstance(value, (int, float)) or isinstance(value, bool):
            return None
        counts = {k: getattr(usage, k, None) for k in TOKEN_FIELDS[self.api]}
        counts.update({name: _count(usage, path) for name, path in GATEWAY_COUNTS[self.api]})
        return float(value), {k: v for k, v in counts.items() if isinstance(v, int) and not isinstance(v, bool)}


class StreamState:
    """What a stream has seen (no I/O): its usage, and which items the caller is shown."""

    def __init__(self, spend: Spend, usage: Usage, hide_usage: bool) -> None:
        self.spend = spend
        self.usage = usage
        self.hide_usage = hide_usage
        self.used: Optional[float] = None

    def see(self, item: Any) -> bool:
        """Records the usage an item carries; answers whether the caller is shown it."""
        if self.usage.api == "responses":
            if getattr(item, "type", None) in FINAL_EVENTS:
                self._report(getattr(getattr(item, "response", None), "usage", None))
            return True
        usage = getattr(item, "usage", None)
        if usage is None:
            return True
        self._report(usage)
        # The chunk the wrapper asked for: usage, no choices.
        return not (self.hide_usage and not getattr(item, "choices", None))

    def _report(self, usage: Any) -> None:
        found = self.usage.of(usage)
        if found is not None:
            self.used = found[0]
            self.spend.reported(*found)


def _close_quietly(stream: Any) -> None:
    try:
        close = getattr(stream, "close", None)
        if close is not None:
            close()
    except Exception:  # noqa: BLE001 - closing is a courtesy to the connection; settling matters
        pass


def _dropped_sync(stream: Any, spend: Spend, later: Callable[[Spend], None]) -> None:
    """The finalizer of a sync stream dropped before it was settled."""
    if spend.done:
        return
    _close_quietly(stream)
    later(spend)


def _dropped_async(stream: Any, spend: Spend, later: Callable[[Spend], None],
                   loop: asyncio.AbstractEventLoop) -> None:
    """The finalizer of an async stream dropped before it was settled: its close is scheduled on
    its loop (a finalizer cannot await)."""
    if spend.done:
        return
    close = getattr(stream, "close", None)
    if close is not None and not loop.is_closed():
        def start() -> None:
            task = asyncio.ensure_future(close())
            task.add_done_callback(lambda t: t.cancelled() or t.exception())
        try:
            loop.call_soon_threadsafe(start)
        except RuntimeError:
            pass  # the loop closed meanwhile
    later(spend)


class _Base:
    """What both streams show: the usage seen and how the hold was settled."""

    _stream: Any
    _state: StreamState
    settled: Optional[Settled]

    @property
    def used(self) -> Optional[float]:
        """The usage the provider reported (the committed field), once seen."""
        return self._state.used

    @property
    def over_quota(self) -> List[str]:
        """The groups the commit counted past their quota (the provider reported more than was
        held); empty before the stream is settled."""
        return self.settled.over_quota if self.settled is not None else []

    def __getattr__(self, name: str) -> Any:
        # Everything else of the provider's stream (`response`, ...); never our own private
        # names, which exist unless construction failed.
        if name.startswith("_"):
            raise AttributeError(name)
        return getattr(self._stream, name)


class QuotaStream(_Base):
    """The provider's stream, iterated as it is; settles once it ends, however it ends.
    `used`, `settled` and `over_quota` say how."""

    def __init__(self, stream: Any, state: StreamState, settle: Callable[[Spend], Optional[Settled]],
                 later: Callable[[Spend], None]) -> None:
        self._stream = stream
        self._iter = iter(stream)
        self._state = state
        self._settle = settle
        self.settled = None
        self._finalizer = weakref.finalize(self, _dropped_sync, stream, state.spend, later)

    def __iter__(self) -> QuotaStream:
        return self

    def __next__(self) -> Any:
        while True:
            try:
                item = next(self._iter)
            except StopIteration:
                self._end(None)
                raise
            except BaseException as err:  # a broken stream, KeyboardInterrupt
                self._end(err)
                raise
            if self._state.see(item):
                return item

    def _end(self, error: Optional[BaseException]) -> None:
        self._finalizer.detach()
        spend = self._state.spend
        if error is not None:
            spend.failed(error)
            _close_quietly(self._stream)
        try:
            self.settled = self._settle(spend) or self.settled
        except Exception:  # noqa: BLE001 - never instead of the stream's own end
            log.exception("quota_gateway: settling a stream failed")

    def close(self) -> None:
        """Closes the provider's stream (the provider stops) and settles: the usage seen, else
        the hold."""
        if self._state.spend.done:
            return
        _close_quietly(self._stream)
        self._end(None)

    def __enter__(self) -> QuotaStream:
        return self

    def __exit__(self, exc_type: Optional[Type[BaseException]], exc: Optional[BaseException],
                 tb: Optional[TracebackType]) -> None:
        self.close()


class AsyncQuotaStream(_Base):
    """The async `QuotaStream`: `async for`, `close()` (or `aclose()`), `async with`."""

    def __init__(self, stream: Any, state: StreamState, settle: Callable[[Spend], Awaitable[Optional[Settled]]],
                 later: Callable[[Spend], None]) -> None:
        self._stream = stream
        self._iter = stream.__aiter__()
        self._state = state
        self._settle = settle
        self.settled = None
        loop = asyncio.get_running_loop()
        self._finalizer = weakref.finalize(self, _dropped_async, stream, state.spend, later, loop)

    def __aiter__(self) -> AsyncQuotaStream:
        return self

    async def __anext__(self) -> Any:
        while True:
            try:
                item = await self._iter.__anext__()
            except StopAsyncIteration:
                await self._end(None)
                raise
            except BaseException as err:  # a broken stream, a cancelled task
                await self._end(err)
                raise
            if self._state.see(item):
                return item

    async def _end(self, error: Optional[BaseException]) -> None:
        self._finalizer.detach()
        spend = self._state.spend
        if error is not None:
            spend.failed(error)
            await self._close_provider()
        try:
            self.settled = await self._settle(spend) or self.settled
        except Exception:  # noqa: BLE001 - never instead of the stream's own end
            log.exception("quota_gateway: settling a stream failed")

    async def _close_provider(self) -> None:
        close = getattr(self._stream, "close", None)
        if close is None:
            return
        try:
            await close()
        except Exception:  # noqa: BLE001 - closing is a courtesy to the connection; settling matters
            pass

    async def close(self) -> None:
        """Closes the provider's stream (the provider stops) and settles: the usage seen, else
        the hold."""
        if self._state.spend.done:
            return
        await self._close_provider()
        await self._end(None)

    async def aclose(self) -> None:
        await self.close()

    async def __aenter__(self) -> AsyncQuotaStream:
        return self

    async def __aexit__(self, exc_type: Optional[Type[BaseException]], exc: Optional[BaseException],
                        tb: Optional[TracebackType]) -> None:
        await self.close()
