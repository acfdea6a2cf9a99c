"""The FastAPI dependency: a streamed body can still commit what it streamed (the dependency's
exit runs after the body was sent), the policy of `reservation(...)` settles the hold, a commit
after that raises, and a gateway that gives no decision answers 503, not 429."""

from __future__ import annotations

from typing import Any, AsyncIterator, Callable, Dict, List

import httpx
from conftest import Env
from fastapi import Depends, FastAPI, HTTPException
from fastapi.responses import StreamingResponse
from gateway import free_port
from spent import spent

from quota_gateway import AsyncQuotaGateway, ReservationScope
from quota_gateway.fastapi import quota_dependency


def app_of(client: AsyncQuotaGateway, user: str, kept: List[ReservationScope]) -> FastAPI:
    app = FastAPI()
    paid = quota_dependency(client, "llm.tokens", user=lambda _r: user, quantity=100)

    @app.get("/stream")
    async def stream(hold: ReservationScope = Depends(paid)) -> StreamingResponse:
        kept.append(hold)

        async def body() -> AsyncIterator[bytes]:
            for word in (b"Hel", b"lo", b"!"):
                yield word
            hold.commit(7)   # what the streamed answer cost, known once it is sent

        return StreamingResponse(body(), media_type="text/plain")

    @app.get("/measured-then-failed")
    async def measured(hold: ReservationScope = Depends(paid)) -> Dict[str, str]:
        hold.commit(2)
        raise HTTPException(status_code=502, detail="failed after the provider was paid")

    @app.get("/failed")
    async def failed(hold: ReservationScope = Depends(paid)) -> Dict[str, str]:
        raise HTTPException(status_code=502, detail="failed before anything was spent")

    return app


async def test_a_streamed_body_commits_what_it_streamed_and_the_policy_settles_the_rest(
        aqg: AsyncQuotaGateway, env: Env, subscribed: Callable[..., str]) -> None:
    user = subscribed(1000, "tokens")
    kept: List[ReservationScope] = []
    app = app_of(aqg, user, kept)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://app") as client:
        streamed = await client.get("/stream")
        assert streamed.text == "Hello!" and spent(env, user) == (7, 0)
        assert (await client.get("/measured-then-failed")).status_code == 502
        assert spent(env, user) == (9, 0), "measured, then failed: what it measured"
        assert (await client.get("/failed")).status_code == 502
        assert spent(env, user) == (9, 0), "failed before measuring: released"
    [hold] = kept
    assert hold.committed is not None and hold.committed.status == "committed"
    try:
        hold.commit(1)
    except RuntimeError as err:
        assert "settled already" in str(err)
    else:
        raise AssertionError("a commit after the hold was settled must raise")


async def test_a_fastapi_route_answers_503_when_the_gateway_cannot_decide(env: Env) -> None:
    unreachable = AsyncQuotaGateway(env.secret, base_url=f"http://127.0.0.1:{free_port()}", timeout=0.5)
    app = FastAPI()
    paid = quota_dependency(unreachable, "api.request", user=lambda _r: "u")

    @app.get("/x")
    async def route(hold: ReservationScope = Depends(paid)) -> Dict[str, Any]:
        return {"reservation": hold.reservation_id}

    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://app") as client:
        answer = await client.get("/x")
    await unreachable.aclose()
    assert (answer.status_code, answer.headers["Retry-After"]) == (503, "1")
    assert answer.json()["detail"]["reasons"] == ["backend_unavailable"]
