"""A realtime session as a browser opens one: a browser's WebSocket cannot send headers, so
OpenAI's browser clients name the key among the subprotocols (`Sec-WebSocket-Protocol: realtime,
openai-insecure-api-key.<key>`). Over the `websockets` library, with no Authorization header: a
user key so offered opens the session as its user (the gateway chooses `realtime`, the provider
sees only its own key), a text response in it is committed to that user, and a wrong key is the
gateway's 401 before any upgrade, the provider never called."""

from __future__ import annotations

import asyncio
import json
from typing import Any, Callable, Dict, List, Tuple

import pytest
from conftest import SIM_SECRET, ProxyEnv
from test_proxy import ledger, settled
from test_proxy_realtime import plan, responses, sessions, tokens
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import InvalidStatus
from websockets.typing import Subprotocol

from quota_gateway import QuotaGateway

MODEL = "gpt-realtime"
USER_PREFIX = "rtb"
# Every wait on the socket, at most.
TIMEOUT = 15


def url(proxy: ProxyEnv) -> str:
    return proxy.base_url.replace("http://", "ws://", 1) + f"/proxy/openai/v1/realtime?model={MODEL}"


def offered(key: str) -> List[Subprotocol]:
    """The subprotocols OpenAI's browser clients offer, the key among them."""
    return [Subprotocol("realtime"), Subprotocol(f"openai-insecure-api-key.{key}")]


def browser(proxy: ProxyEnv, key: str) -> Any:
    """The session's opening as a browser makes it: no header of the caller's, the key offered
    as a subprotocol (and no HTTP proxy: loopback only)."""
    return connect(url(proxy), subprotocols=offered(key), open_timeout=TIMEOUT, close_timeout=TIMEOUT, proxy=None)


async def until(connection: ClientConnection, *kinds: str) -> Dict[str, Any]:
    """The next event of one of `kinds`; an `error` event is returned only when named."""
    while True:
        event: Dict[str, Any] = json.loads(await asyncio.wait_for(connection.recv(), TIMEOUT))
        if event["type"] in kinds:
            return event
        assert event["type"] != "error", event


def test_a_user_key_offered_as_a_subprotocol_opens_the_session_as_its_user_and_pays_its_response(
        proxy: ProxyEnv, pqg: QuotaGateway, fresh_user: Callable[..., str]) -> None:
    user, other = fresh_user(USER_PREFIX), fresh_user(USER_PREFIX)
    plan(proxy.env, user, [tokens()])
    plan(proxy.env, other, [tokens()])
    made = pqg.create_user_key(user, label="browser")
    assert made.key is not None and made.key.startswith("qg_uk_")
    key = made.key

    async def run() -> Tuple[Any, Dict[str, Any], Dict[str, Any], Dict[str, Any]]:
        async with browser(proxy, key) as connection:
            request_headers = connection.request.headers
            assert "Authorization" not in request_headers and "X-Quota-User" not in request_headers
            assert request_headers["Sec-WebSocket-Protocol"] == f"realtime, openai-insecure-api-key.{key}"
            chosen = connection.subprotocol, connection.response.headers.get_all("Sec-WebSocket-Protocol")
            created = await until(connection, "session.created")
            await connection.send(json.dumps({"type": "conversation.item.create", "item": {
                "type": "message", "role": "user", "content": [{"type": "input_text", "text": "hello from a browser"}]}}))
            await connection.send(json.dumps({"type": "response.create", "event_id": "evt_browser_1",
                                              "response": {"output_modalities": ["text"]}}))
            done = await until(connection, "response.done")
            # The session goes on after it.
            await connection.send(json.dumps({"type": "session.update",
                                              "session": {"type": "realtime", "instructions": "be brief"}}))
            updated = await until(connection, "session.updated")
        return chosen, created, done, updated

    (subprotocol, answered), created, done, updated = asyncio.run(run())
    # The gateway chose `realtime`, and only it: the key is never sent back.
    assert subprotocol == "realtime" and answered == ["realtime"]
    assert created["session"]["model"] == MODEL
    assert updated["session"]["instructions"] == "be brief"
    response = done["response"]
    assert response["status"] == "completed" and response["output_modalities"] == ["text"]
    usage = response["usage"]
    # "hello from a browser": 4 words in; the simulator's default output, 20 words.
    assert (usage["input_tokens"], usage["output_tokens"]) == (4, 20)
    billed = usage["input_tokens"] + usage["output_tokens"]
    assert settled(proxy.env, user) == (billed, 0)
    assert settled(proxy.env, other) == (0, 0)
    commits = [c for c in ledger(pqg, user, "commit") if c.event == "openai.realtime_response"]
    assert [(c.quantity, c.key_id) for c in commits] == [(billed, made.id)]
    # The provider saw its own key, never the user key (no subprotocol of the caller's either).
    (session,) = sessions(proxy)
    assert session["headers"]["authorization"] == f"Bearer {SIM_SECRET}"
    assert key not in json.dumps(session["headers"]), session["headers"]
    assert [r["usage"]["total_tokens"] for r in session["responses"]] == [billed]
    creates = [e for e in session["events"] if e["type"] == "response.create"]
    assert len(creates) == 1 and isinstance(creates[0]["response"]["max_output_tokens"], int)


@pytest.mark.parametrize("wrong", ["qg_uk_this-key-was-never-made", "revoked"])
def test_a_wrong_key_in_the_subprotocol_is_refused_401_before_any_upgrade(
        proxy: ProxyEnv, pqg: QuotaGateway, fresh_user: Callable[..., str], wrong: str) -> None:
    user = fresh_user(USER_PREFIX)
    plan(proxy.env, user, [tokens()])
    if wrong == "revoked":
        made = pqg.create_user_key(user, label="gone")
        assert made.key is not None
        pqg.revoke_user_key(made.id)
        wrong = made.key

    async def run() -> InvalidStatus:
        with pytest.raises(InvalidStatus) as refused:
            async with browser(proxy, wrong):
                pass
        return refused.value

    refused = asyncio.run(run())
    assert refused.response.status_code == 401, (refused.response.status_code, refused.response.body)
    assert "Sec-WebSocket-Accept" not in refused.response.headers, "never upgraded"
    stats = proxy.stats()
    assert stats["calls"] == 0 and sessions(proxy) == [], "the provider was never called"
    assert settled(proxy.env, user) == (0, 0)


def test_events_in_binary_frames_or_with_a_key_named_twice_are_read_as_the_gateway_reads_them(
        proxy: ProxyEnv, pqg: QuotaGateway, fresh_user: Callable[..., str]) -> None:
    # A provider may read a binary frame as an event, and a JSON parser may keep either of a
    # key named twice: the gateway reads both as the provider gets them, so neither starts a
    # response the gateway did not hold.
    user = fresh_user("rtb")
    plan(proxy.env, user, [responses(1)])
    key = pqg.create_user_key(user).key

    async def run() -> List[Dict[str, Any]]:
        seen = []
        async with browser(proxy, key) as ws:
            await until(ws, "session.created")
            ask = {"type": "response.create", "response": {"output_modalities": ["text"], "max_output_tokens": 20}}
            await ws.send(json.dumps(ask).encode())  # a binary frame
            seen.append(await until(ws, "response.done", "error"))
            twice = '{"type": "session.update", "type": "response.create", "response": {"output_modalities": ["text"]}}'
            await ws.send(twice)
            await ws.send(json.dumps(ask).encode())
            seen.append(await until(ws, "response.done", "error"))
        return seen

    seen = asyncio.run(run())
    assert [e["type"] for e in seen] == ["response.done", "error"], seen
    assert seen[1]["error"]["code"] == "insufficient_quota"
    (session,) = sessions(proxy)
    assert [e["type"] for e in session["events"]].count("response.create") == 1, session["events"]
    assert settled(proxy.env, user) == (1, 0)
