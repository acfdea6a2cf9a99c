"""Streams of chat completion chunks that commit once they end, however they end."""

from __future__ import annotations

from types import TracebackType
from typing import Any, Awaitable, Callable, Dict, Optional, Tuple, Type

TOKEN_FIELDS = ("prompt_tokens", "completion_tokens", "total_tokens")
Commit = Callable[[float, Dict[str, Any]], Any]


def usage_of(usage: Any, field: str) -> Optional[float]:
    value = getattr(usage, field, None) if usage is not None else None
    return float(value) if isinstance(value, (int, float)) else None


def token_counts(usage: Any) -> Dict[str, Any]:
    """The reported token counts, for the commit's metadata (a plan may measure by them)."""
    counts = {k: getattr(usage, k, None) for k in TOKEN_FIELDS} if usage is not None else {}
    return {k: v for k, v in counts.items() if isinstance(v, int)}


class _Settle:
    """What a stream has seen of its usage, and whether it has been committed."""

    def __init__(self, reserved: float, field: str) -> None:
        self.reserved = reserved
        self.field = field
        self.used: Optional[float] = None
        self.counts: Dict[str, Any] = {}
        self.done = False

    def see(self, chunk: Any) -> None:
        usage = getattr(chunk, "usage", None)
        used = usage_of(usage, self.field)
        if used is not None:
            self.used = used
            self.counts = token_counts(usage)

    def amount(self) -> Optional[Tuple[float, Dict[str, Any]]]:
        """What to commit, once: the reported usage, else all that was reserved."""
        if self.done:
            return None
        self.done = True
        return (self.reserved if self.used is None else self.used), self.counts


class QuotaStream:
    """Iterates the provider's stream; commits when it is exhausted, breaks or is closed.
    Use it as a context manager (or exhaust it) so a stream left early commits too."""

    def __init__(self, stream: Any, commit: Commit, reserved: float, field: str) -> None:
        self._stream = stream
        self._iter = iter(stream)
        self._commit = commit
        self._settle = _Settle(reserved, field)

    @property
    def used(self) -> Optional[float]:
        return self._settle.used

    def __iter__(self) -> QuotaStream:
        return self

    def __next__(self) -> Any:
        try:
            chunk = next(self._iter)
        except BaseException:
            # StopIteration (the end) or a broken stream: commit, then let it go on.
            self._finish()
            raise
        self._settle.see(chunk)
        return chunk

    def _finish(self) -> None:
        settle = self._settle.amount()
        if settle is not None:
            self._commit(*settle)

    def close(self) -> None:
        try:
            close = getattr(self._stream, "close", None)
            if close is not None:
                close()
        finally:
            self._finish()

    def __enter__(self) -> QuotaStream:
        return self

    def __exit__(self, exc_type: Optional[Type[BaseException]], exc: Optional[BaseException],
                 tb: Optional[TracebackType]) -> None:
        self.close()


class AsyncQuotaStream:
    """The async `QuotaStream`: `async for`, `aclose()`, `async with`."""

    def __init__(self, stream: Any, commit: Callable[[float, Dict[str, Any]], Awaitable[Any]],
                 reserved: float, field: str) -> None:
        self._stream = stream
        self._iter = stream.__aiter__()
        self._commit = commit
        self._settle = _Settle(reserved, field)

    @property
    def used(self) -> Optional[float]:
        return self._settle.used

    def __aiter__(self) -> AsyncQuotaStream:
        return self

    async def __anext__(self) -> Any:
        try:
            chunk = await self._iter.__anext__()
        except BaseException:
            await self._finish()
            raise
        self._settle.see(chunk)
        return chunk

    async def _finish(self) -> None:
        settle = self._settle.amount()
        if settle is not None:
            await self._commit(*settle)

    async def aclose(self) -> None:
        try:
            close = getattr(self._stream, "close", None)
            if close is not None:
                await close()
        finally:
            await self._finish()

    async def __aenter__(self) -> AsyncQuotaStream:
        return self

    async def __aexit__(self, exc_type: Optional[Type[BaseException]], exc: Optional[BaseException],
                        tb: Optional[TracebackType]) -> None:
        await self.aclose()
