"""FastAPI: a dependency that holds quota for the request's user while the route runs.

    limited = quota_dependency(qg, "chat.message", user=lambda request: request.headers["x-user"])

    @app.post("/chat")
    async def chat(hold: ReservationScope = Depends(limited)) -> dict:
        ...

A denial answers 429 with `Retry-After` and the gateway's `RateLimit` and `RateLimit-Policy`
headers; an admitted request gets the same headers on its response, and its hold is committed
once the response is done (`hold.commit(actual)` sets the amount), or released when the route
raises. Needs the `fastapi` extra.
"""

from __future__ import annotations

import inspect
from typing import Any, AsyncIterator, Awaitable, Callable, Dict, Optional, Union

from fastapi import HTTPException, Request, Response

from .aio import AsyncQuotaGateway
from .decision import Allowed, Check, Denied
from .params import Metadata
from .reservation import ReservationScope, commit_shielded, release_shielded

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
            raise HTTPException(status_code=429, detail=detail, headers=headers)
        response.headers.update(headers)
        scope = ReservationScope(decision, amount)
        try:
            yield scope
        except BaseException:
            # A cancelled request still gives its hold back.
            await release_shielded(client, scope)
            raise
        await commit_shielded(client, scope)

    return hold_quota
