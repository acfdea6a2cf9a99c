"""A reservation as a context manager: reserve on entry, commit on a normal exit, release on
any exception (`KeyboardInterrupt` and `asyncio.CancelledError` included), so no path through
the block leaves quota held until it expires."""

from __future__ import annotations

import asyncio
from types import TracebackType
from typing import TYPE_CHECKING, Any, Dict, Optional, Type

from .decision import Allowed
from .errors import QuotaExceeded
from .params import Metadata
from .types import CommitAnswer, ReleaseAnswer

if TYPE_CHECKING:
    from .aio import AsyncQuotaGateway
    from .client import QuotaGateway


class ReservationScope:
    """What the `with` block gets: the admitted decision, and a way to set the actual amount."""

    def __init__(self, decision: Allowed, quantity: float) -> None:
        self.decision = decision
        self.reservation_id = decision.reservation_id
        self.quantity = quantity
        self.metadata: Optional[Dict[str, Any]] = None
        # Set when the block has ended: the commit's answer, or the release's.
        self.committed: Optional[CommitAnswer] = None
        self.released: Optional[ReleaseAnswer] = None

    def commit(self, quantity: Optional[float] = None, metadata: Optional[Metadata] = None) -> None:
        """The amount to commit when the block ends (tokens really used, ...) instead of the
        reserved one; the commit itself happens on exit, once."""
        if quantity is not None:
            self.quantity = quantity
        if metadata is not None:
            self.metadata = dict(metadata)


class ReservationContext:
    def __init__(self, client: QuotaGateway, user_id: str, event: str, quantity: float,
                 metadata: Optional[Metadata], ttl_seconds: Optional[int]) -> None:
        self._client = client
        self._args = (user_id, event, quantity, metadata)
        self._ttl = ttl_seconds
        self._scope: Optional[ReservationScope] = None

    def __enter__(self) -> ReservationScope:
        decision = self._client.reserve(*self._args, ttl_seconds=self._ttl)
        if not decision.allowed:
            raise QuotaExceeded(decision)
        self._scope = ReservationScope(decision, self._args[2])
        return self._scope

    def __exit__(self, exc_type: Optional[Type[BaseException]], exc: Optional[BaseException],
                 tb: Optional[TracebackType]) -> None:
        scope = self._scope
        if scope is None:
            return
        if exc_type is None:
            scope.committed = self._client.commit(scope.reservation_id, scope.quantity, scope.metadata)
            return
        try:
            scope.released = self._client.release(scope.reservation_id)
        except Exception:  # noqa: BLE001 - the block's own exception is the one to see
            pass


class AsyncReservationContext:
    def __init__(self, client: AsyncQuotaGateway, user_id: str, event: str, quantity: float,
                 metadata: Optional[Metadata], ttl_seconds: Optional[int]) -> None:
        self._client = client
        self._args = (user_id, event, quantity, metadata)
        self._ttl = ttl_seconds
        self._scope: Optional[ReservationScope] = None

    async def __aenter__(self) -> ReservationScope:
        decision = await self._client.reserve(*self._args, ttl_seconds=self._ttl)
        if not decision.allowed:
            raise QuotaExceeded(decision)
        self._scope = ReservationScope(decision, self._args[2])
        return self._scope

    async def __aexit__(self, exc_type: Optional[Type[BaseException]], exc: Optional[BaseException],
                        tb: Optional[TracebackType]) -> None:
        scope = self._scope
        if scope is None:
            return
        client = self._client
        if exc_type is None:
            await commit_shielded(client, scope)
            return
        await release_shielded(client, scope)


async def commit_shielded(client: AsyncQuotaGateway, scope: ReservationScope) -> None:
    """Commits the scope's amount; shielded, so a cancellation that arrives while committing
    does not lose the commit."""
    commit = client.commit(scope.reservation_id, scope.quantity, scope.metadata)
    scope.committed = await asyncio.shield(asyncio.ensure_future(commit))


async def release_shielded(client: AsyncQuotaGateway, scope: ReservationScope) -> None:
    """Gives the hold back after the caller's code failed or was cancelled: shielded, so a
    cancelled task still releases; a release that fails is not raised, since the caller's own
    exception is the one to see."""
    release = asyncio.ensure_future(client.release(scope.reservation_id))
    # Read its outcome even when no one awaits it any more (a second cancellation).
    release.add_done_callback(lambda f: f.cancelled() or f.exception())
    try:
        scope.released = await asyncio.shield(release)
    except Exception:  # noqa: BLE001 - the caller's own exception is the one to see
        pass
