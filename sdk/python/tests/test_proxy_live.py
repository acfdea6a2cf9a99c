"""Gemini's Live API through the gateway with Google's own client (`client.aio.live.connect`,
which connects with `wss` only: through a TLS front, as a load balancer would terminate it)
against the provider simulator: the next response always held ahead of it at the session's
maximum (which the gateway sets in the setup the provider gets), each turn's usage committed,
and a session ended (closed 1008) when the next response cannot be held."""

from __future__ import annotations

import asyncio
import ssl
from typing import Any, Callable, Dict, List

import pytest
from conftest import ProxyEnv, TlsFronts
from google import genai
from google.genai import types
from test_proxy import ledger, settled
from test_proxy_realtime import plan, responses

from quota_gateway import QuotaGateway

MODEL = "gemini-live-2.5-flash-preview"
USER_PREFIX = "lv"
TIMEOUT = 15


def client(proxy: ProxyEnv, tls: TlsFronts, user: str, sim: str = "") -> genai.Client:
    context = ssl.create_default_context(cafile=tls.cert)
    headers = {"X-Quota-User": user, **({"x-sim": sim} if sim else {})}
    return genai.Client(api_key=proxy.env.secret, http_options={
        "base_url": f"{tls.url(proxy)}/proxy/gemini", "headers": headers, "async_client_args": {"ssl": context}})


async def turn(session: Any, text: str) -> List[Any]:
    await session.send_client_content(turns=types.Content(role="user", parts=[types.Part(text=text)]),
                                      turn_complete=True)

    async def gather() -> List[Any]:
        return [message async for message in session.receive()]
    return await asyncio.wait_for(gather(), TIMEOUT)


def live_sessions(proxy: ProxyEnv) -> List[Dict[str, Any]]:
    return [j for j in proxy.stats().get("jobs", {}).values() if j.get("kind") == "live"]


def test_each_turn_is_held_ahead_and_committed_at_its_usage(
        proxy: ProxyEnv, pqg: QuotaGateway, tls: TlsFronts, fresh_user: Callable[..., str]) -> None:
    user = fresh_user(USER_PREFIX)
    plan(proxy.env, user, [{"id": "g", "unit": "tokens", "quota": 1_000_000,
                            "matches": [{"event": "gemini.realtime_response"}]}])
    config = types.LiveConnectConfig(response_modalities=[types.Modality.TEXT],
                                     system_instruction="be brief please")

    live = client(proxy, tls, user, "output=7")

    async def run() -> List[Any]:
        used = []
        async with live.aio.live.connect(model=MODEL, config=config) as session:
            for text in ("hello there gateway", "and once more"):
                messages = await turn(session, text)
                usage = [m.usage_metadata for m in messages if m.usage_metadata]
                assert usage, messages
                used.append(usage[-1])
        return used

    used = asyncio.run(run())
    billed = sum(u.prompt_token_count + u.response_token_count for u in used)
    assert [u.response_token_count for u in used] == [7, 7]
    assert settled(proxy.env, user) == (billed, 0)
    commits = [c for c in ledger(pqg, user, "commit") if c.event == "gemini.realtime_response"]
    assert len(commits) == 2 and all((c.metadata or {})["model"] == MODEL for c in commits)
    # The provider got the session's maximum in its setup: the model's own, the caller named none.
    (session,) = live_sessions(proxy)
    setup = next(m for m in session["messages"] if m["type"] == "setup")["setup"]
    assert setup["generationConfig"]["maxOutputTokens"] > 0
    assert "x-quota-user" not in session["headers"] and proxy.env.secret not in str(session["headers"])


def test_a_session_whose_next_response_cannot_be_held_ends_after_the_last_that_could(
        proxy: ProxyEnv, tls: TlsFronts, fresh_user: Callable[..., str]) -> None:
    user = fresh_user(USER_PREFIX)
    plan(proxy.env, user, [responses(2, "gemini")])
    config = types.LiveConnectConfig(response_modalities=[types.Modality.TEXT])

    live = client(proxy, tls, user, "output=3")

    async def run() -> int:
        answered = 0
        async with live.aio.live.connect(model=MODEL, config=config) as session:
            with pytest.raises(Exception) as closed:
                for i in range(4):
                    await turn(session, f"question {i}")
                    answered += 1
            assert "1008" in str(closed.value), closed.value
        return answered

    assert asyncio.run(run()) == 2
    (session,) = live_sessions(proxy)
    assert len(session["turns"]) == 2, "the provider never started a third"
    assert settled(proxy.env, user) == (2, 0)
