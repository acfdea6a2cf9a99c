"""A reservation as a context manager: reserve on entry, settle when the block ends, by the
one spend policy (`_spend.py`) every integration uses:

- the block ends: commit the amount it gave (`r.commit(n)`), else the reserved one, with what
  the output came to when it said (`r.commit(outcome="accepted")`);
- the block raises (`KeyboardInterrupt` and `asyncio.CancelledError` included) after
  `r.commit(n)`: the work was done and measured, so commit `n`;
- the block raises before: release.

No path through the block leaves quota held until it expires. A commit that gets no answer is
kept and sent again (`_settle.py`), so the block's result is never lost to it.
"""

from __future__ import annotations

from types import TracebackType
from typing import TYPE_CHECKING, Any, Dict, Optional, Type

from ._settle import Settled, settle, settle_async
from ._spend import Spend
from .decision import Allowed, Granted
from .errors import denial_error
from .params import Fit, Metadata, Outcome
from .types import CommitAnswer, ReleaseAnswer

if TYPE_CHECKING:
    from .aio import AsyncQuotaGateway
    from .client import QuotaGateway


class ReservationScope:
    """What the `with` block gets: the admitted decision, and a way to set the actual amount.

    `granted` is what a clamped hold was granted (None when it got all it asked): do no more
    work than it covers (`granted.output_tokens` is the most output to ask the provider for).
    `quantity`, the amount committed when the block ends without `commit(n)`, is what is held:
    the granted quantity of a clamped hold (and its granted `output_tokens` the commit's
    metadata, unless `commit` gives other)."""

    def __init__(self, decision: Allowed, quantity: float) -> None:
        self.decision = decision
        self.reservation_id = decision.reservation_id
        granted: Optional[Granted] = decision.granted
        self.granted = granted
        self.quantity = quantity if granted is None else granted.quantity
        # A clamped call's output as granted: what the commit counts unless told otherwise.
        self._granted_metadata: Dict[str, Any] = {}
        if granted is not None and granted.output_tokens is not None:
            self._granted_metadata["output_tokens"] = granted.output_tokens
        self.metadata: Optional[Dict[str, Any]] = dict(self._granted_metadata) or None
        self.outcome: Optional[Outcome] = None
        # Set when the block has ended: the commit's answer, or the release's, and how it ended
        # (`settled.pending`: the gateway gave no answer, the commit is sent again later).
        self.committed: Optional[CommitAnswer] = None
        self.released: Optional[ReleaseAnswer] = None
        self.settled: Optional[Settled] = None
        self._spend = Spend(self.quantity)

    def commit(self, quantity: Optional[float] = None, metadata: Optional[Metadata] = None, *,
               outcome: Optional[Outcome] = None) -> None:
        """The amount to commit when the block ends (tokens really used, ...) instead of the
        reserved one, and what the output came to (`outcome`: "accepted", "rejected", "failed"
        or a word of the app's); the commit itself happens once, when the block ends, even if
        it then raises. Raises RuntimeError once the hold is settled: a commit then would count
        nothing (`set_outcome` says an outcome after it)."""
        if self._spend.done:
            raise RuntimeError(f"the reservation {self.reservation_id} was settled already (when its block "
                               "ended): this commit would count nothing")
        if quantity is not None:
            self.quantity = quantity
        if metadata is not None:
            self.metadata = {**self._granted_metadata, **metadata}
        if outcome is not None:
            self.outcome = self._spend.outcome = outcome
        self._spend.reported(self.quantity, self.metadata)

    def _ended(self, failed: bool) -> Spend:
        """The policy's input once the block has ended: a block that ended normally did its work."""
        if not failed and self._spend.used is None:
            self._spend.reported(self.quantity, self.metadata)
        return self._spend

    def _record(self, settled: Optional[Settled]) -> None:
        if settled is not None:
            self.settled = settled
            self.committed = settled.commit
            self.released = settled.release


def _raise_refusal(scope: ReservationScope, failed: bool) -> None:
    """A commit the gateway refused (an amount it rejects, ...) is the block's error, unless
    the block raised its own, which is the one to see."""
    settled = scope.settled
    if not failed and settled is not None and settled.error is not None and not settled.released:
        raise settled.error


class ReservationContext:
    def __init__(self, client: QuotaGateway, user_id: str, event: str, quantity: float,
                 metadata: Optional[Metadata], ttl_seconds: Optional[int], fit: Optional[Fit] = None,
                 min_fit: Optional[float] = None) -> None:
        self._client = client
        self._args = (user_id, event, quantity, metadata)
        self._ttl = ttl_seconds
        self._fit = fit
        self._min_fit = min_fit
        self._scope: Optional[ReservationScope] = None

    def __enter__(self) -> ReservationScope:
        decision = self._client.reserve(*self._args, ttl_seconds=self._ttl, fit=self._fit, min_fit=self._min_fit)
        if not decision.allowed:
            raise denial_error(decision)
        self._scope = ReservationScope(decision, self._args[2])
        return self._scope

    def __exit__(self, exc_type: Optional[Type[BaseException]], exc: Optional[BaseException],
                 tb: Optional[TracebackType]) -> None:
        scope = self._scope
        if scope is None:
            return
        failed = exc_type is not None
        scope._record(settle(self._client, scope.reservation_id, scope._ended(failed)))
        _raise_refusal(scope, failed)


class AsyncReservationContext:
    def __init__(self, client: AsyncQuotaGateway, user_id: str, event: str, quantity: float,
                 metadata: Optional[Metadata], ttl_seconds: Optional[int], fit: Optional[Fit] = None,
                 min_fit: Optional[float] = None) -> None:
        self._client = client
        self._args = (user_id, event, quantity, metadata)
        self._ttl = ttl_seconds
        self._fit = fit
        self._min_fit = min_fit
        self._scope: Optional[ReservationScope] = None

    async def __aenter__(self) -> ReservationScope:
        decision = await self._client.reserve(*self._args, ttl_seconds=self._ttl, fit=self._fit,
                                             min_fit=self._min_fit)
        if not decision.allowed:
            raise denial_error(decision)
        self._scope = ReservationScope(decision, self._args[2])
        return self._scope

    async def __aexit__(self, exc_type: Optional[Type[BaseException]], exc: Optional[BaseException],
                        tb: Optional[TracebackType]) -> None:
        scope = self._scope
        if scope is None:
            return
        failed = exc_type is not None
        await settle_scope(self._client, scope, failed)
        _raise_refusal(scope, failed)


async def settle_scope(client: AsyncQuotaGateway, scope: ReservationScope, failed: bool) -> None:
    """Settles an async scope, shielded: a cancelled task still settles its hold."""
    scope._record(await settle_async(client, scope.reservation_id, scope._ended(failed)))
