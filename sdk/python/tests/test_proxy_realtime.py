"""Realtime sessions through the gateway with OpenAI's own client (`client.realtime.connect`)
against the provider simulator's Realtime API: a session held while open (a `concurrent` group
counts sessions), each response held before it starts and committed at its `response.done`
usage, turn detection that waits for the gateway, a response the budget cannot hold refused
with an `error` event the provider never causes, and a caller that leaves mid-response."""

from __future__ import annotations

import asyncio
import base64
import struct
import time
from typing import Any, Callable, Dict, List, Optional, Tuple

import pytest
from conftest import Env, ProxyEnv
from spent import spent
from test_proxy import ledger, settled

from quota_gateway import AsyncQuotaGateway, QuotaGateway

MODEL = "gpt-realtime"
USER_PREFIX = "rt"
TIMEOUT = 15


def plan(env: Env, user: str, groups: List[Dict[str, Any]]) -> None:
    env.call("PUT", f"/v1/plans/plan_{user}", {"id": f"plan_{user}", "periodType": "month", "groups": groups})
    env.call("PUT", f"/v1/users/{user}/subscription", {"planId": f"plan_{user}"})


def tokens(quota: float = 1_000_000) -> Dict[str, Any]:
    return {"id": "g", "unit": "tokens", "quota": quota, "matches": [{"event": "openai.realtime_response"}]}


def responses(quota: int, upstream: str = "openai") -> Dict[str, Any]:
    """A group of `quota` responses of `upstream`'s realtime sessions."""
    return {"id": "g", "unit": "count", "quota": quota, "measure": {"metadata": "calls"},
            "matches": [{"event": f"{upstream}.realtime_response"}]}


async def until(connection: Any, *kinds: str) -> Any:
    """The next event of one of `kinds` (an `error` raises nothing: it is returned too)."""
    while True:
        event = await asyncio.wait_for(connection.recv(), TIMEOUT)
        if event.type in kinds:
            return event


async def ask(connection: Any, text: str, **response: Any) -> Any:
    """A text turn and a response to it: its `response.done`, or the `error` that refused it."""
    await connection.conversation.item.create(
        item={"type": "message", "role": "user", "content": [{"type": "input_text", "text": text}]})
    await connection.response.create(response={"output_modalities": ["text"], **response})
    return await until(connection, "response.done", "error")


def sessions(proxy: ProxyEnv) -> List[Dict[str, Any]]:
    return [j for j in proxy.stats().get("jobs", {}).values() if j.get("kind") == "realtime"]


def pcm(ms: int, loud: bool) -> str:
    """PCM16 at 24 kHz, mono: a tone or silence, base64."""
    samples = [(8000 if (i // 20) % 2 else -8000) if loud else 0 for i in range(24 * ms)]
    return base64.b64encode(struct.pack(f"<{len(samples)}h", *samples)).decode()


@pytest.fixture
def aqg(proxy: ProxyEnv) -> Any:
    return AsyncQuotaGateway(proxy.env.secret, base_url=proxy.base_url)


def test_every_response_is_held_before_it_starts_and_commits_what_its_usage_reports(
        proxy: ProxyEnv, pqg: QuotaGateway, aqg: AsyncQuotaGateway, fresh_user: Callable[..., str]) -> None:
    user = fresh_user(USER_PREFIX)
    plan(proxy.env, user, [tokens()])

    async def run() -> List[Any]:
        client = aqg.openai(user)
        done = []
        async with client.realtime.connect(model=MODEL, extra_headers={"x-sim": "output=6"}) as connection:
            created = await until(connection, "session.created")
            # Open, the session is the user's open job, with its model.
            jobs = pqg.usage(user).jobs
            assert [(j.id, j.kind, j.model) for j in jobs] == [(created.session.id, "realtime_session", MODEL)]
            for i in range(20):
                found = await ask(connection, f"turn {i} of the talk", max_output_tokens=50)
                assert found.type == "response.done", found
                done.append(found.response)
        return done

    done = asyncio.run(run())
    deadline = time.monotonic() + 10
    while pqg.usage(user).jobs and time.monotonic() < deadline:
        time.sleep(0.05)
    assert pqg.usage(user).jobs == [], "closed, it is no longer open"
    billed = sum(r.usage.input_tokens + r.usage.output_tokens for r in done)
    assert billed > 20 * 6
    assert settled(proxy.env, user) == (billed, 0)
    commits = [c for c in ledger(pqg, user, "commit") if c.event == "openai.realtime_response"]
    assert len(commits) == 20
    # Beside them, the session's time: a commit of its seconds a minute, none of tokens.
    times = [c for c in ledger(pqg, user, "commit") if c.event == "openai.realtime"]
    assert times and all((c.metadata or {})["realtime_seconds"] >= 1 for c in times)
    (session_id,) = [k for k, j in proxy.stats()["jobs"].items() if j.get("kind") == "realtime"]
    assert {(c.metadata or {})["realtime_session"] for c in commits} == {session_id}
    # The provider got each response with the maximum it was held at.
    (session,) = sessions(proxy)
    creates = [e for e in session["events"] if e["type"] == "response.create"]
    assert len(creates) == 20 and all(e["response"]["max_output_tokens"] == 50 for e in creates)


def test_turn_detection_waits_for_the_gateway_which_starts_each_held_response_itself(
        proxy: ProxyEnv, aqg: AsyncQuotaGateway, fresh_user: Callable[..., str]) -> None:
    user = fresh_user(USER_PREFIX)
    plan(proxy.env, user, [tokens()])

    async def run() -> Tuple[Any, Any]:
        client = aqg.openai(user)
        async with client.realtime.connect(model=MODEL) as connection:
            created = await until(connection, "session.created")
            # Speech, then silence: the provider's turn detection ends the turn.
            for chunk in [pcm(100, False)] * 3 + [pcm(100, True)] * 10 + [pcm(100, False)] * 7:
                await connection.input_audio_buffer.append(audio=chunk)
            return created, await until(connection, "response.done")

    created, done = asyncio.run(run())
    # The caller sees the turn detection it asked for; the provider was told to wait.
    assert created.session.audio.input.turn_detection.create_response is True
    (session,) = sessions(proxy)
    updates = [e for e in session["events"] if e["type"] == "session.update"]
    assert updates[0]["session"]["audio"]["input"]["turn_detection"]["create_response"] is False
    assert [e["type"] for e in session["events"]].count("response.create") == 1
    usage = done.response.usage
    assert usage.input_token_details.audio_tokens > 0
    assert settled(proxy.env, user) == (usage.input_tokens + usage.output_tokens, 0)


def test_a_response_the_budget_cannot_hold_never_starts_and_the_client_is_told(
        proxy: ProxyEnv, aqg: AsyncQuotaGateway, fresh_user: Callable[..., str]) -> None:
    user = fresh_user(USER_PREFIX)
    plan(proxy.env, user, [responses(3)])

    async def run() -> List[Any]:
        client = aqg.openai(user)
        found = []
        async with client.realtime.connect(model=MODEL, extra_headers={"x-sim": "output=4"}) as connection:
            await until(connection, "session.created")
            for i in range(4):
                found.append(await ask(connection, f"question {i}"))
            # The session stays open for the user to upgrade.
            await connection.session.update(session={"type": "realtime", "instructions": "be brief"})
            found.append(await until(connection, "session.updated"))
        return found

    found = asyncio.run(run())
    assert [f.type for f in found] == ["response.done"] * 3 + ["error", "session.updated"]
    assert found[3].error.code == "insufficient_quota" and "quota g" in found[3].error.message
    (session,) = sessions(proxy)
    assert [e["type"] for e in session["events"]].count("response.create") == 3, "the provider never saw the 4th"
    assert settled(proxy.env, user) == (3, 0)


def test_a_flood_of_response_creates_never_holds_past_the_budget(
        proxy: ProxyEnv, aqg: AsyncQuotaGateway, fresh_user: Callable[..., str]) -> None:
    user = fresh_user(USER_PREFIX)
    plan(proxy.env, user, [responses(3)])

    async def run() -> List[Any]:
        client = aqg.openai(user)
        seen = []
        async with client.realtime.connect(model=MODEL, extra_headers={"x-sim": "output=30"}) as connection:
            await until(connection, "session.created")
            for _ in range(12):
                await connection.response.create(response={"output_modalities": ["text"]})
            while len(seen) < 12:
                event = await until(connection, "response.done", "error")
                seen.append(event)
                if event.type == "response.done" and sum(e.type == "response.done" for e in seen) == 3:
                    break
                if event.type == "error" and event.error.code == "insufficient_quota" and len(seen) >= 12:
                    break
            return seen

    seen = asyncio.run(run())
    done = [e for e in seen if e.type == "response.done"]
    used, reserved = settled(proxy.env, user)
    assert reserved == 0 and used == len(done) <= 3
    assert any(e.type == "error" for e in seen)


def test_fifty_sessions_against_a_concurrent_quota_of_ten_admit_exactly_ten(
        proxy: ProxyEnv, aqg: AsyncQuotaGateway, fresh_user: Callable[..., str]) -> None:
    user = fresh_user(USER_PREFIX)
    plan(proxy.env, user, [{"id": "open", "unit": "concurrent", "quota": 10,
                            "matches": [{"event": "openai.realtime"}]}])

    async def run() -> Tuple[int, int, bool]:
        client = aqg.openai(user)
        opened: List[Any] = []
        refused = 0

        async def one() -> Optional[Any]:
            manager = client.realtime.connect(model=MODEL)
            try:
                connection = await manager.enter()
            except Exception as err:  # the handshake's 429, as the client raises it
                assert "429" in str(err), err
                return None
            await until(connection, "session.created")
            return connection

        for found in await asyncio.gather(*(one() for _ in range(50))):
            if found is None:
                refused += 1
            else:
                opened.append(found)
        for connection in opened:
            await connection.close()
        # Closed, a session's slot is free again.
        again = None
        for _ in range(50):
            again = await one()
            if again is not None:
                break
            await asyncio.sleep(0.1)
        if again is not None:
            await again.close()
        return len(opened), refused, again is not None

    assert asyncio.run(run()) == (10, 40, True)


def test_a_caller_that_leaves_mid_response_pays_what_the_provider_reports_for_it(
        proxy: ProxyEnv, aqg: AsyncQuotaGateway, fresh_user: Callable[..., str]) -> None:
    user = fresh_user(USER_PREFIX)
    plan(proxy.env, user, [tokens()])

    async def run() -> None:
        client = aqg.openai(user)
        async with client.realtime.connect(model=MODEL, extra_headers={"x-sim": "output=40, delay=20"}) as connection:
            await until(connection, "session.created")
            await connection.conversation.item.create(
                item={"type": "message", "role": "user", "content": [{"type": "input_text", "text": "talk"}]})
            await connection.response.create(response={"output_modalities": ["text"]})
            await until(connection, "response.output_text.delta")

    asyncio.run(run())
    used, reserved = settled(proxy.env, user)
    (session,) = sessions(proxy)
    (response,) = session["responses"]
    assert response["status"] == "cancelled", "the gateway stopped what nobody reads"
    assert (used, reserved) == (response["usage"]["input_tokens"] + response["usage"]["output_tokens"], 0)
    assert spent(proxy.env, user)[1] == 0


def test_a_priced_group_counts_each_response_at_its_text_audio_and_cached_prices(
        proxy: ProxyEnv, aqg: AsyncQuotaGateway, fresh_user: Callable[..., str]) -> None:
    user = fresh_user(USER_PREFIX)
    plan(proxy.env, user, [{"id": "spend", "unit": "cents", "quota": 1000, "measure": {"price": "catalog"},
                            "matches": [{"event": "openai.realtime_response"}]}])

    async def run() -> List[Any]:
        client = aqg.openai(user)
        done = []
        async with client.realtime.connect(model=MODEL, extra_headers={"x-sim": "output=10"}) as connection:
            await until(connection, "session.created")
            for chunk in [pcm(100, True)] * 10 + [pcm(100, False)] * 7:
                await connection.input_audio_buffer.append(audio=chunk)
            done.append((await until(connection, "response.done")).response.usage)
            done.append((await ask(connection, "and then?", output_modalities=["audio"])).response.usage)
        return done

    # gpt-realtime, USD a million: text in 4, cached 0.40, audio in 32; text out 16, audio out 64.
    micro = 0.0
    for u in asyncio.run(run()):
        cached = u.input_token_details.cached_tokens
        audio = u.input_token_details.audio_tokens - u.input_token_details.cached_tokens_details.audio_tokens
        text = u.input_tokens - cached - audio
        out_audio = u.output_token_details.audio_tokens
        micro += text * 4 + cached * 0.4 + audio * 32 + (u.output_tokens - out_audio) * 16 + out_audio * 64
        assert audio > 0 and out_audio > 0
    used, reserved = settled(proxy.env, user)
    # Cents, each commit rounded up to a thousandth.
    assert reserved == 0 and abs(used - micro / 10_000) <= 0.002, (used, micro / 10_000)
