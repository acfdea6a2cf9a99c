"""Runs: a budget held up front for a piece of work (an agent's task), from which its steps
draw; what they do not use goes back when the run closes.

`start_run` answers a `RunHandle` (`AsyncRunHandle`) or, refused, a `DeniedRun`, told apart by
`allowed` as `Allowed` and `Denied` are, so a type checker knows `id` is a string exactly when
the run was admitted. `with_run(...)` starts one for a `with` block and closes it whatever
happens in the block (`KeyboardInterrupt` and `asyncio.CancelledError` included), with what the
run's output came to when the block said so (`run.outcome = "accepted"`).
"""

from __future__ import annotations

import asyncio
from types import TracebackType
from typing import TYPE_CHECKING, Any, Dict, List, Literal, Optional, Type, Union

from .decision import Counter, Decision, Denial, Denied, Reason
from .errors import denial_error
from .params import Metadata, Outcome, StepKind
from .types import CommitAnswer, ReleaseAnswer, Run, RunExtended, RunStart, TrackAnswer

if TYPE_CHECKING:
    from ._run_calls import RunLimitsArg
    from .aio import AsyncQuotaGateway
    from .client import QuotaGateway


class DeniedRun:
    """A refused start: no run exists. `reasons`, `denied_by`, `denials` and `counters` say why,
    as a denied reserve's do; `decision` is that `Denied`, for `QuotaExceeded`."""

    allowed: Literal[False] = False
    id: None = None

    def __init__(self, start: RunStart) -> None:
        self.start = start
        self.reasons: List[Reason] = start.reasons
        self.denied_by: List[str] = start.denied_by
        self.denials: List[Denial] = start.denials
        self.counters: List[Counter] = start.counters
        self.retry_after: Optional[int] = start.retry_after
        self.unchecked = start.unchecked

    @property
    def decision(self) -> Denied:
        s = self.start
        return Denied(s.reasons, s.denied_by, s.denials, s.counters, s.rate_limit, s.rate_limit_policy,
                      s.retry_after, s.unchecked, s.run)

    def __repr__(self) -> str:
        return f"DeniedRun(reasons={self.reasons!r}, denied_by={self.denied_by!r})"


class _Admitted:
    """What both handles hold: the run's id and the answer that started it."""

    allowed: Literal[True] = True

    def __init__(self, start: RunStart, user_id: str) -> None:
        self.start = start
        # "" for a run the gateway never decided, let through by fail_mode="open".
        self.id: str = start.run_id or ""
        self.user_id = user_id
        self.expires_at = start.expires_at
        self.unchecked = start.unchecked
        # Set by `with_run` once the block has ended: the run as its close left it.
        self.closed: Optional[Run] = None
        # What the run's output came to, when the block knows: said by `with_run`'s close.
        self.outcome: Optional[Outcome] = None

    def __repr__(self) -> str:
        return f"{type(self).__name__}(id={self.id!r}, user_id={self.user_id!r})"


class RunHandle(_Admitted):
    """An admitted run of the blocking client: its steps, and its end."""

    def __init__(self, client: QuotaGateway, start: RunStart, user_id: str) -> None:
        super().__init__(start, user_id)
        self._client = client

    def reserve(self, event: str, quantity: Optional[float] = None, metadata: Optional[Metadata] = None,
                *, action_id: Optional[str] = None, kind: Optional[StepKind] = None,
                ttl_seconds: Optional[int] = None, idempotency_key: Optional[str] = None) -> Decision:
        """A step: holds `quantity` of `event` from the run's budget (other groups on the user),
        to commit or release as any reservation. `action_id` names the action the step is an
        attempt of (a retry or fallback repeats it), `kind` is "primary" (default), "retry" or
        "fallback"."""
        return self._client.reserve(self.user_id, event, 1 if quantity is None else quantity, metadata,
                                    ttl_seconds=ttl_seconds, idempotency_key=idempotency_key,
                                    run_id=self.id, action_id=action_id, kind=kind)

    def track(self, event: str, quantity: Optional[float] = None, metadata: Optional[Metadata] = None,
              *, action_id: Optional[str] = None, kind: Optional[StepKind] = None,
              idempotency_key: Optional[str] = None, outcome: Optional[Outcome] = None) -> TrackAnswer:
        """A step whose usage already happened: counted into the run, never denied."""
        return self._client.track(self.user_id, event, 1 if quantity is None else quantity, metadata,
                                  idempotency_key=idempotency_key, run_id=self.id, action_id=action_id,
                                  kind=kind, outcome=outcome)

    def commit(self, reservation_id: str, quantity: Optional[float] = None,
               metadata: Optional[Metadata] = None, *, outcome: Optional[Outcome] = None) -> CommitAnswer:
        """Commits a step (what it really used, when given; what its output came to, with
        `outcome`) against the run."""
        return self._client.commit(reservation_id, quantity, metadata, outcome=outcome)

    def release(self, reservation_id: str) -> ReleaseAnswer:
        """Gives a step's hold back to the run."""
        return self._client.release(reservation_id)

    def close(self, outcome: Optional[Outcome] = None) -> Run:
        """Ends the run: what its steps committed counts on the user, the rest goes back; with
        `outcome`, what its output came to."""
        return self._client.close_run(self.id, outcome=outcome)

    def extend(self, ttl_seconds: int) -> RunExtended:
        return self._client.extend_run(self.id, ttl_seconds)

    def get(self) -> Run:
        return self._client.get_run(self.id)

    def start_child(self, event: str, quantity: Optional[float] = None, metadata: Optional[Metadata] = None,
                    *, limits: Optional[RunLimitsArg] = None, ttl_seconds: Optional[int] = None,
                    idempotency_key: Optional[str] = None) -> Union[RunHandle, DeniedRun]:
        """A run whose budget is carved from this one's remaining (a step of it)."""
        return self._client.start_run(self.user_id, event, quantity, metadata, limits=limits,
                                      ttl_seconds=ttl_seconds, parent_run_id=self.id or None,
                                      idempotency_key=idempotency_key)


class AsyncRunHandle(_Admitted):
    """An admitted run of the asyncio client: the methods of `RunHandle`, awaitable."""

    def __init__(self, client: AsyncQuotaGateway, start: RunStart, user_id: str) -> None:
        super().__init__(start, user_id)
        self._client = client

    async def reserve(self, event: str, quantity: Optional[float] = None, metadata: Optional[Metadata] = None,
                      *, action_id: Optional[str] = None, kind: Optional[StepKind] = None,
                      ttl_seconds: Optional[int] = None, idempotency_key: Optional[str] = None) -> Decision:
        """A step: holds `quantity` of `event` from the run's budget (see `RunHandle.reserve`)."""
        return await self._client.reserve(self.user_id, event, 1 if quantity is None else quantity, metadata,
                                          ttl_seconds=ttl_seconds, idempotency_key=idempotency_key,
                                          run_id=self.id, action_id=action_id, kind=kind)

    async def track(self, event: str, quantity: Optional[float] = None, metadata: Optional[Metadata] = None,
                    *, action_id: Optional[str] = None, kind: Optional[StepKind] = None,
                    idempotency_key: Optional[str] = None, outcome: Optional[Outcome] = None) -> TrackAnswer:
        """A step whose usage already happened: counted into the run, never denied."""
        return await self._client.track(self.user_id, event, 1 if quantity is None else quantity, metadata,
                                        idempotency_key=idempotency_key, run_id=self.id,
                                        action_id=action_id, kind=kind, outcome=outcome)

    async def commit(self, reservation_id: str, quantity: Optional[float] = None,
                     metadata: Optional[Metadata] = None, *, outcome: Optional[Outcome] = None) -> CommitAnswer:
        return await self._client.commit(reservation_id, quantity, metadata, outcome=outcome)

    async def release(self, reservation_id: str) -> ReleaseAnswer:
        return await self._client.release(reservation_id)

    async def close(self, outcome: Optional[Outcome] = None) -> Run:
        return await self._client.close_run(self.id, outcome=outcome)

    async def extend(self, ttl_seconds: int) -> RunExtended:
        return await self._client.extend_run(self.id, ttl_seconds)

    async def get(self) -> Run:
        return await self._client.get_run(self.id)

    async def start_child(self, event: str, quantity: Optional[float] = None,
                          metadata: Optional[Metadata] = None, *, limits: Optional[RunLimitsArg] = None,
                          ttl_seconds: Optional[int] = None,
                          idempotency_key: Optional[str] = None) -> Union[AsyncRunHandle, DeniedRun]:
        return await self._client.start_run(self.user_id, event, quantity, metadata, limits=limits,
                                            ttl_seconds=ttl_seconds, parent_run_id=self.id or None,
                                            idempotency_key=idempotency_key)


RunAnswer = Union[RunHandle, DeniedRun]
AsyncRunAnswer = Union[AsyncRunHandle, DeniedRun]


class RunContext:
    """`with qg.with_run(...) as run:` starts the run (raising `QuotaExceeded` when refused,
    `QuotaUnavailable` when the gateway gave no decision) and closes it when the block ends,
    however it ends."""

    def __init__(self, client: QuotaGateway, args: Dict[str, Any]) -> None:
        self._client = client
        self._args = args
        self._run: Optional[RunHandle] = None

    def __enter__(self) -> RunHandle:
        run = self._client.start_run(**self._args)
        if not run.allowed:
            raise denial_error(run.decision)
        self._run = run
        return run

    def __exit__(self, exc_type: Optional[Type[BaseException]], exc: Optional[BaseException],
                 tb: Optional[TracebackType]) -> None:
        run = self._run
        if run is None:
            return
        if exc_type is None:
            run.closed = run.close(run.outcome)
            return
        try:
            run.closed = run.close(run.outcome)
        except Exception:  # noqa: BLE001 - the block's own exception is the one to see
            pass


class AsyncRunContext:
    """`async with aqg.with_run(...) as run:`, as `RunContext`; the close is shielded, so a
    cancelled task still closes its run."""

    def __init__(self, client: AsyncQuotaGateway, args: Dict[str, Any]) -> None:
        self._client = client
        self._args = args
        self._run: Optional[AsyncRunHandle] = None

    async def __aenter__(self) -> AsyncRunHandle:
        run = await self._client.start_run(**self._args)
        if not run.allowed:
            raise denial_error(run.decision)
        self._run = run
        return run

    async def __aexit__(self, exc_type: Optional[Type[BaseException]], exc: Optional[BaseException],
                        tb: Optional[TracebackType]) -> None:
        if self._run is not None:
            await close_shielded(self._run, quiet=exc_type is not None)


async def close_shielded(run: AsyncRunHandle, quiet: bool) -> None:
    """Closes the run, shielded from a cancellation that arrives meanwhile; with `quiet` (the
    block raised) a failed close is not raised, since the block's exception is the one to see."""
    closing = asyncio.ensure_future(run.close(run.outcome))
    # Read its outcome even when no one awaits it any more (a second cancellation).
    closing.add_done_callback(lambda f: f.cancelled() or f.exception())
    try:
        run.closed = await asyncio.shield(closing)
    except Exception:  # noqa: BLE001 - see quiet
        if not quiet:
            raise

