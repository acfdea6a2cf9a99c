"""FastAPI: a dependency that holds quota for the request's user while the route runs.

    limited = quota_dependency(qg, "chat.message", user=lambda request: request.headers["x-user"])

    @app.post("/chat")
    async def chat(hold: ReservationScope = Depends(limited)) -> dict:
        ...

A denial answers 429 with `Retry-After` and the gateway's `RateLimit` and `RateLimit-Policy`
headers (503 with `Retry-After` when the gateway gave no decision: an outage, not the user's
quota); an admitted request gets the same headers on its response, and its hold is settled once
the response is done, by the policy of `reservation(...)`: committed (`hold.commit(actual)` sets
the amount, and is committed even if the route raises after it; `hold.commit(outcome=...)` what
the output came to), or released when the route raises before. A `hold.commit(...)` after that raises RuntimeError.

Needs the `fastapi` extra, FastAPI 0.118 or later: from that version the code after a
dependency's `yield` runs once the response has been sent, a streamed body included, so a
`StreamingResponse` can still commit what it streamed (from 0.106 to 0.117 it ran before the
body was streamed, settling the hold too early).
"""

from __future__ import annotations

import inspect
from typing import Any, AsyncIterator, Awaitable, Callable, Dict, Optional, Union

import fastapi
from fastapi import HTTPException, Request, Response

from .aio import AsyncQuotaGateway
from .decision import Allowed, Check, Denied
from .params import Metadata
from .reservation import ReservationScope, settle_scope

# The first FastAPI that runs a dependency's exit after a streamed body was sent.
FASTAPI_AFTER_BODY = (0, 118)


def _version(text: str) -> tuple[int, ...]:
    parts = []
    for part in text.split(".")[:2]:
        digits = "".join(ch for ch in part if ch.isdigit())
        parts.append(int(digits or 0))
    return tuple(parts)


if _version(fastapi.__version__) < FASTAPI_AFTER_BODY:
    raise ImportError(f"quota_gateway.fastapi needs FastAPI 0.118 or later (found {fastapi.__version__}): "
                      "before it a dependency's exit ran before a streamed body was sent")

UserOf = Callable[[Request], Union[str, Awaitable[str]]]
QuantityOf = Union[float, Callable[[Request], float]]
MetadataOf = Union[Metadata, Callable[[Request], Optional[Metadata]], None]


def rate_limit_headers(decision: Union[Allowed, Denied, Check]) -> Dict[str, str]:
    """The gateway's `RateLimit`, `RateLimit-Policy` and `Retry-After` for your own answer."""
    headers: Dict[str, str] = {}
    if decision.rate_limit:
        headers["RateLimit"] = decision.rate_limit
    if decision.rate_limit_policy:
        headers["RateLimit-Policy"] = decision.rate_limit_policy
    if not decision.allowed:
        if decision.retry_after is not None:
            headers["Retry-After"] = str(decision.retry_after)
        elif "backend_unavailable" in decision.reasons:
            # The gateway could not decide: ask again soon rather than never.
            headers["Retry-After"] = "1"
    return headers


def quota_dependency(
    client: AsyncQuotaGateway,
    event: str,
    *,
    user: UserOf,
    quantity: QuantityOf = 1,
    metadata: MetadataOf = None,
    ttl_seconds: Optional[int] = None,
) -> Callable[[Request, Response], AsyncIterator[ReservationScope]]:
    """A dependency (use with `Depends`) that reserves `quantity` of `event` for the user
    `user(request)` names, and yields the hold."""

    async def hold_quota(request: Request, response: Response) -> AsyncIterator[ReservationScope]:
        user_id = user(request)
        if inspect.isawaitable(user_id):
            user_id = await user_id
        amount = quantity(request) if callable(quantity) else quantity
        meta = metadata(request) if callable(metadata) else metadata
        decision = await client.reserve(str(user_id), event, amount, meta, ttl_seconds=ttl_seconds)
        headers = rate_limit_headers(decision)
        if not decision.allowed:
            detail: Dict[str, Any] = {"reasons": decision.reasons, "deniedBy": decision.denied_by}
            status = 503 if "backend_unavailable" in decision.reasons else 429
            raise HTTPException(status_code=status, detail=detail, headers=headers)
        response.headers.update(headers)
        scope = ReservationScope(decision, amount)
        failed = False
        try:
            yield scope
        except BaseException:
            # A cancelled request is settled too (released, or committed once measured).
            failed = True
            raise
        finally:
            await settle_scope(client, scope, failed)

    return hold_quota
