"""Carries out the spend policy (`_spend.py`): the commit or release that settles a hold, for
the sync client (`settle`) and the async one (`settle_async`, shielded from cancellation).

Neither raises for the gateway: a commit that gets no answer is kept and sent again with its
Idempotency-Key once the gateway answers (`_orphans.py`), and logged, so a paid answer is never
thrown away for it; a release that gets none is kept too, until its hold would have expired. A
commit of more than was held is logged, with the groups it counted past their quota, which the
`Settled` keeps. A refusal (any other error) is logged and kept on the `Settled` for the caller to
raise if it wants.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import threading
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, List, Optional, Set, Union

from . import _calls as c
from ._core import Call
from ._orphans import KEEP_COMMIT_SECONDS
from ._spend import Commit, Release, Settlement, Spend
from .errors import QuotaGatewayError
from .types import CommitAnswer, ReleaseAnswer

if TYPE_CHECKING:
    from .aio import AsyncQuotaGateway
    from .client import QuotaGateway

log = logging.getLogger("quota_gateway")

# A release that got no answer is worth sending again only while its hold has not expired by
# itself (the gateway's default ttl, which every integration uses).
KEEP_RELEASE_SECONDS = 60.0
# Settlements running on their own task: a task the loop holds only weakly must not vanish.
_running: Set["asyncio.Future[Any]"] = set()


@dataclass
class Settled:
    """How a hold ended.

    `quantity` is what was committed (None for a release); `unknown` is true when that is the
    whole hold because no usage was reported. `pending` is true when the gateway gave no answer:
    the commit (or release) is kept and sent again once it answers. `over_quota` names the
    groups the commit counted past their quota; `error` is a refusal of the gateway.
    """

    reservation_id: str
    held: float
    quantity: Optional[float]
    unknown: bool = False
    commit: Optional[CommitAnswer] = None
    release: Optional[ReleaseAnswer] = None
    pending: bool = False
    error: Optional[QuotaGatewayError] = None
    over_quota: List[str] = field(default_factory=list)

    @property
    def released(self) -> bool:
        return self.quantity is None


def _call(reservation_id: str, settlement: Settlement) -> Call[Any]:
    """The settling request, marked to be kept and sent again when it gets no answer."""
    if isinstance(settlement, Release):
        return dataclasses.replace(c.release(reservation_id), keep_ttl=KEEP_RELEASE_SECONDS)
    call = c.commit(reservation_id, settlement.quantity, settlement.metadata or None, None, settlement.outcome)
    return dataclasses.replace(call, keep_ttl=KEEP_COMMIT_SECONDS)


def _start(reservation_id: str, held: float, settlement: Settlement) -> Settled:
    if isinstance(settlement, Release):
        return Settled(reservation_id, held, None)
    return Settled(reservation_id, held, settlement.quantity, settlement.unknown)


def _answered(settled: Settled, answer: Union[CommitAnswer, ReleaseAnswer]) -> Settled:
    if isinstance(answer, CommitAnswer):
        settled.commit = answer
        settled.over_quota = list(answer.over_quota)
        if settled.quantity is not None and settled.quantity > settled.held:
            # The bound was passed: the provider counts more than it, or the request set no
            # maximum output and the answer was longer than the default.
            over = ", ".join(settled.over_quota)
            past = f"; the commit counted past the quota of {over}" if over else ""
            log.warning("quota_gateway: %s: the provider reported %s, more than the %s held%s",
                        settled.reservation_id, settled.quantity, settled.held, past)
    else:
        settled.release = answer
    return settled


def _failed(settled: Settled, error: QuotaGatewayError) -> Settled:
    what = "release" if settled.released else f"commit of {settled.quantity}"
    if error.unavailable:
        settled.pending = True
        log.warning("quota_gateway: %s: the %s got no answer (%s); it is kept and sent again with its key once "
                    "the gateway answers", settled.reservation_id, what, error)
    else:
        settled.error = error
        log.warning("quota_gateway: %s: the gateway refused the %s (%s)", settled.reservation_id, what, error)
    return settled


def settle(client: QuotaGateway, reservation_id: str, spend: Spend) -> Optional[Settled]:
    """Settles the hold as the policy says, once (None when it was settled already)."""
    settlement = spend.settle()
    if settlement is None:
        return None
    settled = _start(reservation_id, spend.held, settlement)
    try:
        return _answered(settled, client._run(_call(reservation_id, settlement)))
    except QuotaGatewayError as err:
        return _failed(settled, err)


async def settle_async(client: AsyncQuotaGateway, reservation_id: str, spend: Spend) -> Optional[Settled]:
    """`settle` for the async client, on a task of its own: a cancellation of the caller (one
    that arrives while settling) does not stop it, and is raised once it is done."""
    settlement = spend.settle()
    if settlement is None:
        return None
    settled = _start(reservation_id, spend.held, settlement)

    async def run() -> Settled:
        try:
            return _answered(settled, await client._run(_call(reservation_id, settlement)))
        except QuotaGatewayError as err:
            return _failed(settled, err)

    task = asyncio.ensure_future(run())
    _running.add(task)
    task.add_done_callback(_running.discard)
    return await asyncio.shield(task)


def settle_later(client: Union[QuotaGateway, AsyncQuotaGateway], reservation_id: str, spend: Spend,
                 loop: Optional[asyncio.AbstractEventLoop] = None) -> None:
    """Settles from a finalizer (a stream dropped unsettled): no I/O here. The settling request
    is kept as one that got no answer, and sent by a drain started now (a thread for the sync
    client, a task on `loop`, the async client's), else by the client's next call."""
    settlement = spend.settle()
    if settlement is None:
        return
    call = _call(reservation_id, settlement)
    assert call.keep_ttl is not None
    client._orphans.add(call, call.keep_ttl, time.monotonic(), kind="resend")
    from .aio import AsyncQuotaGateway  # the finalizer runs long after import time
    if isinstance(client, AsyncQuotaGateway):
        if loop is not None:
            _drain_on_loop(client, loop)
    else:
        try:
            threading.Thread(target=client._release_orphans, name="quota-gateway-settle", daemon=True).start()
        except RuntimeError:
            pass  # the interpreter is exiting: the client's close, or its next call, sends it


def _drain_on_loop(client: AsyncQuotaGateway, loop: asyncio.AbstractEventLoop) -> None:
    if loop.is_closed():
        return  # the next call of the client sends it

    def start() -> None:
        task = asyncio.ensure_future(client._release_orphans())
        _running.add(task)
        task.add_done_callback(_running.discard)

    try:
        loop.call_soon_threadsafe(start)
    except RuntimeError:
        pass  # the loop closed meanwhile: the next call sends it
