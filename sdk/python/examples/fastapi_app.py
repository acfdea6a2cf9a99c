"""A FastAPI app whose routes are paid from the caller's quota, with RateLimit headers.

    pip install './sdk/python[fastapi]'   # FastAPI and uvicorn; from the repository's root (README.md, Install)
    QUOTA_GATEWAY_URL=http://127.0.0.1:8080 QUOTA_GATEWAY_KEY=qg_sk_… PORT=8000 python examples/fastapi_app.py
    curl -i -H 'X-User-Id: alice' http://127.0.0.1:8000/hello

Each request to /hello holds one `api.request` for the user named by `X-User-Id`, committed
once the response is done; /fail shows a route that raises, whose hold is released. A denied
request gets 429 with Retry-After, RateLimit and RateLimit-Policy.
"""

from __future__ import annotations

import os
from typing import Dict

from fastapi import Depends, FastAPI, HTTPException, Request

from quota_gateway import AsyncQuotaGateway, ReservationScope
from quota_gateway.fastapi import quota_dependency


def user_of(request: Request) -> str:
    user = request.headers.get("x-user-id")
    if not user:
        raise HTTPException(status_code=401, detail="X-User-Id is required")
    return user


def create_app(qg: AsyncQuotaGateway) -> FastAPI:
    app = FastAPI()
    paid = quota_dependency(qg, "api.request", user=user_of, metadata={"route": "example"})

    @app.get("/hello")
    async def hello(hold: ReservationScope = Depends(paid)) -> Dict[str, str]:
        return {"hello": "world", "reservation": hold.reservation_id}

    @app.get("/fail")
    async def fail(hold: ReservationScope = Depends(paid)) -> Dict[str, str]:
        raise HTTPException(status_code=502, detail="the provider failed; the hold is released")

    return app


if __name__ == "__main__":
    import uvicorn

    uvicorn.run(create_app(AsyncQuotaGateway()), host="127.0.0.1", port=int(os.environ.get("PORT", "8000")),
                log_level="warning")
