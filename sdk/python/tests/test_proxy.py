"""The gateway's proxy through the official `openai` and `anthropic` clients, built by the SDK's
helpers, against the provider simulator: holds, commits of the reported usage (streams, streams
left early, streams without usage), denials the SDKs raise and do not retry, releases, user
keys, actions closed after a refusal, and an upstream that cannot be reached, stalls or breaks
off. What was charged is read from the gateway; what the provider did, from the simulator."""

from __future__ import annotations

import asyncio
import sys
import time
from typing import Any, Callable, Dict, List, Tuple

import anthropic
import httpx
import openai
import pytest
from conftest import Env, ProxyEnv
from spent import spent

from quota_gateway import (AsyncQuotaGateway, QuotaGateway, QuotaGatewayError, UsageEvent, anthropic_client,
                           openai_client, proxy_reservation_id)

GPT = "gpt-4o-mini"
CLAUDE = "claude-sonnet-5"
HELLO = [{"role": "user", "content": "Say hello to the quota gateway"}]
# Every wait for something the gateway settles on its own time, at most.
WAIT_SECONDS = 20.0


def ledger(qg: QuotaGateway, user: str, *kinds: str) -> List[UsageEvent]:
    """The user's ledger entries of these kinds (all of them when none is named), oldest first."""
    found: List[UsageEvent] = []
    cursor = None
    for _ in range(20):
        page = qg.list_usage_events(user_id=user, cursor=cursor)
        found.extend(e for e in page.data if not kinds or e.kind in kinds)
        cursor = page.next_cursor
        if cursor is None:
            break
    return found


def reported(stats: Dict[str, Any]) -> float:
    """What the simulator reported in all, as the proxy counts a text call: input plus output."""
    return float(stats["usage"]["input_tokens"] + stats["usage"]["output_tokens"])


def settled(env: Env, user: str) -> Tuple[float, float]:
    """(used, reserved) once nothing is held, within WAIT_SECONDS."""
    deadline = time.monotonic() + WAIT_SECONDS
    found = spent(env, user)
    while found[1] != 0 and time.monotonic() < deadline:
        time.sleep(0.05)
        found = spent(env, user)
    return found[0], found[1]


def proxy_calls(proxy: ProxyEnv, outcome: str, upstream: str = "openai", operation: str = "chat") -> float:
    """The gateway's count of proxied calls that ended so (`qg_proxy_calls_total`)."""
    text = httpx.get(proxy.base_url + "/metrics", timeout=10).text
    labels = (f'upstream="{upstream}"', f'operation="{operation}"', f'outcome="{outcome}"')
    for line in text.splitlines():
        if line.startswith("qg_proxy_calls_total{") and all(label in line for label in labels):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


# The helpers, without a call.

def test_the_helpers_build_the_official_clients_pointed_at_the_proxy(env: Env) -> None:
    qg = QuotaGateway(env.secret, base_url="http://127.0.0.1:9/")
    client = qg.openai("alice", metadata={"feature": "summary"}, run="run_1", action="draft", kind="retry",
                       max_retries=0, default_headers={"X-Trace": "t1"})
    assert isinstance(client, openai.OpenAI)
    assert str(client.base_url) == "http://127.0.0.1:9/proxy/openai/v1/"
    assert client.api_key == env.secret and client.max_retries == 0
    headers = client.default_headers
    assert (headers["X-Quota-User"], headers["X-Quota-Metadata"]) == ("alice", '{"feature":"summary"}')
    assert (headers["X-Quota-Run"], headers["X-Quota-Action"], headers["X-Quota-Kind"]) == ("run_1", "draft", "retry")
    assert headers["X-Trace"] == "t1", "the caller's own headers are kept"
    other = qg.anthropic("bob", upstream="claude-eu")
    assert isinstance(other, anthropic.Anthropic)
    assert str(other.base_url) == "http://127.0.0.1:9/proxy/claude-eu/"
    assert other.api_key == env.secret and other.default_headers["X-Quota-User"] == "bob"
    assert "X-Quota-Run" not in other.default_headers
    aqg = AsyncQuotaGateway(env.secret, base_url="http://127.0.0.1:9")
    assert isinstance(aqg.openai("alice"), openai.AsyncOpenAI)
    assert isinstance(aqg.anthropic("alice"), anthropic.AsyncAnthropic)
    device = openai_client("http://127.0.0.1:9", "qg_uk_example")
    assert "X-Quota-User" not in device.default_headers, "a user key is its own user"
    with pytest.raises(ValueError, match="user="):
        openai_client("http://127.0.0.1:9", env.secret)
    with pytest.raises(ValueError, match="run="):
        qg.openai("alice", action="draft")
    with pytest.raises(TypeError, match="base_url"):
        qg.openai("alice", base_url="https://api.openai.com/v1")


def test_a_missing_extra_says_which_to_install(env: Env, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "anthropic", None)  # as if it were not installed
    with pytest.raises(ImportError, match=r"quota-gateway\[anthropic\]"):
        QuotaGateway(env.secret).anthropic("alice")


# Holds and commits.

async def test_two_hundred_parallel_calls_admit_exactly_the_hundred_worst_cases_the_budget_holds(
        proxy: ProxyEnv, user_on: Callable[..., str]) -> None:
    user = user_on(1000, {"metadata": "output_tokens"})
    denied_before = proxy_calls(proxy, "denied")
    async with AsyncQuotaGateway(proxy.env.secret, base_url=proxy.base_url) as aqg:
        client = aqg.openai(user)  # the SDK's own retries left on: a denial must not be retried
        gate = asyncio.Semaphore(32)

        async def one() -> str:
            async with gate:
                try:
                    await client.chat.completions.create(model=GPT, messages=HELLO, max_tokens=10,
                                                         extra_headers={"x-sim": "output=10"})
                    return "admitted"
                except openai.RateLimitError:
                    return "denied"

        outcomes = await asyncio.wait_for(asyncio.gather(*(one() for _ in range(200))), 50)
        await client.close()
    assert (outcomes.count("admitted"), outcomes.count("denied")) == (100, 100)
    stats = proxy.stats()
    assert stats["calls"] == 100, "a denied call never reaches the provider"
    used, reserved = settled(proxy.env, user)
    assert stats["usage"]["output_tokens"] == 1000
    assert (used, reserved) == (1000, 0)
    assert proxy_calls(proxy, "denied") - denied_before == 100, "each denial was asked once"


def test_a_chat_stream_shows_its_usage_chunk_only_when_asked_and_commits_the_reported_usage(
        proxy: ProxyEnv, pqg: QuotaGateway, user_on: Callable[..., str]) -> None:
    user = user_on()
    client = pqg.openai(user, metadata={"feature": "summary"}, max_retries=0)
    plain = list(client.chat.completions.create(model=GPT, messages=HELLO, max_tokens=50, stream=True,
                                                extra_headers={"x-sim": "output=4"}))
    assert plain and all(chunk.choices for chunk in plain), "no usage chunk (it has no choices)"
    assert all(chunk.usage is None for chunk in plain)
    assert "".join(c.choices[0].delta.content or "" for c in plain).split() == ["tok0", "tok1", "tok2", "tok3"]
    asked = list(client.chat.completions.create(model=GPT, messages=HELLO, max_tokens=50, stream=True,
                                                stream_options={"include_usage": True},
                                                extra_headers={"x-sim": "output=4"}))
    last = asked[-1]
    assert last.choices == [] and last.usage is not None and last.usage.completion_tokens == 4
    stats = proxy.stats()
    sent = [r for r in stats["requests"] if r["path"] == "/v1/chat/completions"]
    assert [r["body"]["stream_options"] for r in sent] == [{"include_usage": True}] * 2, "the gateway asks"
    assert all(r["headers"]["authorization"] == "Bearer sim-secret-py-sdk" for r in sent)
    assert not any(name.startswith("x-quota-") for r in sent for name in r["headers"])
    assert stats["streams"]["completed"] == 2
    used, reserved = settled(proxy.env, user)
    assert (used, reserved) == (reported(stats), 0)
    commits = ledger(pqg, user, "commit")
    assert [e.event for e in commits] == ["openai.chat"] * 2
    for entry in commits:
        meta = entry.metadata or {}
        assert (meta["usage"], meta["stream"], meta["output_tokens"], meta["feature"]) == ("reported", True, 4, "summary")
        assert (meta["upstream"], meta["operation"], meta["model"], meta["provider_status"]) == ("openai", "chat", GPT, 200)
        assert meta["provider_request_id"] and isinstance(meta["duration_ms"], int)


def test_each_answered_call_names_its_reservation_and_the_app_says_later_what_its_output_came_to(
        proxy: ProxyEnv, pqg: QuotaGateway, user_on: Callable[..., str]) -> None:
    user = user_on()
    client = pqg.openai(user, max_retries=0)
    raw = client.chat.completions.with_raw_response.create(model=GPT, messages=HELLO, max_tokens=20,
                                                          extra_headers={"x-sim": "output=3"})
    assert raw.parse().usage is not None
    rid = proxy_reservation_id(raw)
    assert rid is not None and rid.startswith("r_")
    assert proxy_reservation_id(raw.headers) == rid
    assert proxy_reservation_id({"X-Quota-Reservation": rid}) == rid, "a mapping's name in any case"
    # Answered whole, the call was committed before its answer: its outcome can be said at once.
    assert pqg.set_outcome(rid, "accepted").previous is None
    # A stream's hold is committed when the stream ends: its outcome is said after that.
    with pqg.anthropic(user, max_retries=0).messages.with_streaming_response.create(
            model=CLAUDE, max_tokens=50, messages=HELLO, stream=True, extra_headers={"x-sim": "output=4"}) as streamed:
        streamed_id = proxy_reservation_id(streamed)
        for _ in streamed.iter_lines():
            pass
    assert streamed_id is not None and streamed_id != rid
    used, _ = settled(proxy.env, user)
    assert pqg.set_outcome(streamed_id, "rejected").outcome == "rejected"
    counter = pqg.usage(user).counters[0]
    assert (counter.used, counter.outcomes, counter.cost_per_accepted) == (used, {"accepted": 1, "rejected": 1}, used)
    # A denial was never a call: it names no reservation.
    with pytest.raises(openai.RateLimitError) as denied:
        pqg.openai(user_on(10), max_retries=0).chat.completions.create(model=GPT, messages=HELLO, max_tokens=20)
    assert proxy_reservation_id(denied.value.response) is None
    with pytest.raises(TypeError):
        proxy_reservation_id("r_1")


def test_a_caller_that_leaves_a_stream_is_charged_what_the_provider_reported(
        proxy: ProxyEnv, pqg: QuotaGateway, user_on: Callable[..., str]) -> None:
    user = user_on()
    client = pqg.openai(user, max_retries=0)
    stream = client.chat.completions.create(model=GPT, messages=HELLO, max_tokens=100, stream=True,
                                            extra_headers={"x-sim": "delay=100, output=20"})
    taken = []
    for chunk in stream:
        taken.append(chunk)
        if len(taken) == 2:
            break
    stream.close()
    # The gateway reads the rest of the provider's stream on its own, then commits.
    deadline = time.monotonic() + WAIT_SECONDS
    while True:
        stats = proxy.stats()
        used, reserved = spent(proxy.env, user)
        done = stats["streams"]["completed"] == 1 and reserved == 0 and used == reported(stats)
        if done or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert stats["streams"] == {"completed": 1, "broken": 0, "cut": 0}, "read to its end, not broken off"
    assert stats["usage"]["output_tokens"] == 20
    assert (used, reserved) == (reported(stats), 0)
    (entry,) = ledger(pqg, user, "commit")
    assert (entry.metadata or {})["usage"] == "reported"


def test_a_stream_without_usage_is_charged_its_hold_marked_estimated(
        proxy: ProxyEnv, pqg: QuotaGateway, user_on: Callable[..., str]) -> None:
    user = user_on()
    client = pqg.openai(user, max_retries=0)
    chunks = list(client.chat.completions.create(model=GPT, messages=HELLO, max_tokens=10, stream=True,
                                                 extra_headers={"x-sim": "usage=none"}))
    assert chunks and all(c.usage is None for c in chunks)
    used, reserved = settled(proxy.env, user)
    (entry,) = ledger(pqg, user, "commit")
    meta = entry.metadata or {}
    assert meta["usage"] == "estimated" and meta["output_tokens"] == 10, "the worst case: max_tokens"
    assert entry.quantity == entry.reserved and entry.reserved is not None and entry.reserved > 10
    assert (used, reserved) == (entry.reserved, 0), "never zero: the hold"


# Denials and refusals.

def test_a_denial_is_the_sdks_rate_limit_error_not_retried_and_the_provider_never_called(
        proxy: ProxyEnv, pqg: QuotaGateway, user_on: Callable[..., str]) -> None:
    # A lifetime quota never resets: no window to wait for, whatever the date.
    user = user_on(5, period="lifetime")
    before = (proxy_calls(proxy, "denied"), proxy_calls(proxy, "denied", "anthropic", "messages"))
    with pytest.raises(openai.RateLimitError) as refused:
        pqg.openai(user, max_retries=2).chat.completions.create(model=GPT, messages=HELLO, max_tokens=10)
    error = refused.value
    headers = error.response.headers
    assert (error.status_code, error.code, error.type) == (429, "insufficient_quota", "insufficient_quota")
    assert (headers["x-should-retry"], headers["x-quota-code"], headers["x-quota-denied-by"]) == (
        "false", "insufficient_quota", "g")
    assert "limit_reached" in headers["x-quota-reasons"] and "retry-after" not in headers
    with pytest.raises(anthropic.RateLimitError) as refused_too:
        pqg.anthropic(user, max_retries=2).messages.create(model=CLAUDE, max_tokens=10, messages=HELLO)
    body = refused_too.value.body
    assert isinstance(body, dict) and body["type"] == "error" and body["error"]["type"] == "rate_limit_error"
    assert refused_too.value.response.headers["x-should-retry"] == "false"
    after = (proxy_calls(proxy, "denied"), proxy_calls(proxy, "denied", "anthropic", "messages"))
    assert (after[0] - before[0], after[1] - before[1]) == (1, 1), "each SDK asked once"
    assert len(ledger(pqg, user, "denied")) == 2
    monthly = user_on(5)
    with pytest.raises(openai.RateLimitError) as until_next_month:
        pqg.openai(monthly, max_retries=0).chat.completions.create(model=GPT, messages=HELLO, max_tokens=10)
    # The call may use more than the whole monthly quota: no reset makes room, so no Retry-After,
    # and the message says what to change.
    assert "retry-after" not in until_next_month.value.response.headers
    assert "more than its whole quota" in until_next_month.value.message
    assert proxy.stats()["calls"] == 0
    assert settled(proxy.env, user) == (0, 0)


def test_a_provider_error_releases_the_hold(proxy: ProxyEnv, pqg: QuotaGateway, user_on: Callable[..., str]) -> None:
    user = user_on()
    with pytest.raises(openai.InternalServerError) as failed:
        pqg.openai(user, max_retries=0).chat.completions.create(model=GPT, messages=HELLO, max_tokens=10,
                                                                extra_headers={"x-sim": "status=500"})
    assert failed.value.status_code == 500
    assert proxy.stats()["calls"] == 1
    assert settled(proxy.env, user) == (0, 0)
    assert [e.kind for e in ledger(pqg, user, "commit", "release")] == ["release"]


def test_a_user_key_spends_as_its_user_only_reads_nothing_else_and_stops_when_revoked(
        proxy: ProxyEnv, pqg: QuotaGateway, user_on: Callable[..., str]) -> None:
    user, other = user_on(), user_on()
    made = pqg.create_user_key(user, label="phone")
    assert made.key is not None and made.key.startswith("qg_uk_")

    device = openai_client(proxy.base_url, made.key, max_retries=0)
    answer = device.chat.completions.create(model=GPT, messages=HELLO, max_tokens=10)
    assert answer.usage is not None
    messages = anthropic_client(proxy.base_url, made.key, max_retries=0).messages.create(
        model=CLAUDE, max_tokens=10, messages=HELLO)
    assert messages.usage.output_tokens > 0
    used, _ = settled(proxy.env, user)
    assert used == reported(proxy.stats()) and settled(proxy.env, other) == (0, 0)
    assert {e.key_id for e in ledger(pqg, user, "commit")} == {made.id}

    with pytest.raises(openai.PermissionDeniedError):
        openai_client(proxy.base_url, made.key, user=other, max_retries=0).chat.completions.create(
            model=GPT, messages=HELLO, max_tokens=10)
    with QuotaGateway(made.key, base_url=proxy.base_url, max_retries=0) as as_the_device:
        for call in (as_the_device.list_plans, lambda: as_the_device.reserve(user, "openai.chat", 1),
                     lambda: as_the_device.create_user_key(other), lambda: as_the_device.list_user_keys(user)):
            with pytest.raises(QuotaGatewayError) as admin:
                call()
            assert (admin.value.status, admin.value.code) == (403, "forbidden")

    calls = proxy.stats()["calls"]
    pqg.revoke_user_key(made.id)
    with pytest.raises(openai.AuthenticationError):
        device.chat.completions.create(model=GPT, messages=HELLO, max_tokens=10)
    assert proxy.stats()["calls"] == calls == 2, "refused at once, before the provider"
    assert settled(proxy.env, other) == (0, 0)


def test_a_user_key_cannot_read_usage_either(proxy: ProxyEnv, pqg: QuotaGateway, user_on: Callable[..., str]) -> None:
    user = user_on()
    made = pqg.create_user_key(user)
    assert made.key is not None
    with QuotaGateway(made.key, base_url=proxy.base_url, max_retries=0) as as_the_device:
        with pytest.raises(QuotaGatewayError) as admin:
            as_the_device.usage(user)
    assert (admin.value.status, admin.value.code) == (403, "forbidden")


def test_an_action_refused_by_the_provider_is_not_attempted_again(
        proxy: ProxyEnv, pqg: QuotaGateway, user_on: Callable[..., str]) -> None:
    user = user_on()
    run = pqg.start_run(user, "openai.chat", 10_000)
    assert run.allowed
    with pytest.raises(openai.BadRequestError):
        pqg.openai(user, run=run.id, action="answer-1", max_retries=0).chat.completions.create(
            model=GPT, messages=HELLO, max_tokens=10, extra_headers={"x-sim": "status=400"})
    assert proxy.stats()["calls"] == 1
    # The SDK retries a 409 unless told not to: its retries are left on.
    with pytest.raises(openai.ConflictError) as refused:
        pqg.openai(user, run=run.id, action="answer-1", kind="retry").chat.completions.create(
            model=GPT, messages=HELLO, max_tokens=10)
    assert (refused.value.status_code, refused.value.code) == (409, "action_not_retryable")
    assert refused.value.response.headers["x-quota-code"] == "action_not_retryable"
    assert proxy.stats()["calls"] == 1, "the provider was not called again"
    other = pqg.openai(user, run=run.id, action="answer-2", max_retries=0).chat.completions.create(
        model=GPT, messages=HELLO, max_tokens=10)
    assert other.choices and proxy.stats()["calls"] == 2, "another action still goes"
    run.close()


# Anthropic.

def test_anthropic_messages_and_their_stream_commit_the_last_cumulative_output_and_count_tokens_is_free(
        proxy: ProxyEnv, pqg: QuotaGateway, user_on: Callable[..., str]) -> None:
    user = user_on()
    client = pqg.anthropic(user, max_retries=0)
    message = client.messages.create(model=CLAUDE, max_tokens=50, messages=HELLO, extra_headers={"x-sim": "output=7"})
    assert message.usage.output_tokens == 7
    with client.messages.stream(model=CLAUDE, max_tokens=50, messages=HELLO,
                                extra_headers={"x-sim": "deltas=3, output=9"}) as stream:
        final = stream.get_final_message()
    assert final.usage.output_tokens == 9
    counted = client.messages.count_tokens(model=CLAUDE, messages=HELLO)
    assert counted.input_tokens == message.usage.input_tokens
    stats = proxy.stats()
    assert stats["paths"] == {"/v1/messages": 2, "/v1/messages/count_tokens": 1}
    used, reserved = settled(proxy.env, user)
    assert (used, reserved) == (reported(stats), 0)
    commits = ledger(pqg, user, "commit")
    assert [e.event for e in commits] == ["anthropic.messages"] * 2, "count_tokens is not counted"
    metas = [e.metadata or {} for e in commits]
    assert [(m["stream"], m["output_tokens"], m["usage"]) for m in metas] == [
        (False, 7, "reported"), (True, 9, "reported")], "the last cumulative count, not the sum of the deltas"
    assert used == sum(m["input_tokens"] + m["output_tokens"] for m in metas)


async def test_the_async_anthropic_client_streams_through_the_proxy(
        proxy: ProxyEnv, user_on: Callable[..., str]) -> None:
    user = user_on()
    async with AsyncQuotaGateway(proxy.env.secret, base_url=proxy.base_url) as aqg:
        client = aqg.anthropic(user, max_retries=0)
        async with client.messages.stream(model=CLAUDE, max_tokens=50, messages=HELLO,
                                          extra_headers={"x-sim": "deltas=2, output=6"}) as stream:
            text = "".join([piece async for piece in stream.text_stream])
            final = await stream.get_final_message()
        await client.close()
    assert text.split() == [f"tok{i}" for i in range(6)] and final.usage.output_tokens == 6
    stats = await asyncio.to_thread(proxy.stats)
    assert await asyncio.to_thread(settled, proxy.env, user) == (reported(stats), 0)


# Upstream trouble.

def test_an_upstream_that_cannot_be_reached_charges_nothing(
        proxy: ProxyEnv, pqg: QuotaGateway, user_on: Callable[..., str]) -> None:
    user = user_on()
    with pytest.raises(openai.APIStatusError) as unreachable:
        pqg.openai(user, upstream="closed").chat.completions.create(model=GPT, messages=HELLO, max_tokens=10)
    error = unreachable.value
    assert (error.status_code, error.code) == (502, "upstream_unreachable")
    assert error.response.headers["x-quota-code"] == "upstream_unreachable"
    assert settled(proxy.env, user) == (0, 0)
    assert ledger(pqg, user, "commit") == []


def test_an_upstream_that_stalls_past_its_first_byte_timeout_is_charged_the_hold(
        proxy: ProxyEnv, pqg: QuotaGateway, user_on: Callable[..., str]) -> None:
    user = user_on()
    with pytest.raises(openai.APIStatusError) as late:
        pqg.openai(user, upstream="slow").chat.completions.create(model=GPT, messages=HELLO, max_tokens=10,
                                                                  extra_headers={"x-sim": "stall=3000"})
    assert (late.value.status_code, late.value.code) == (504, "upstream_timeout")
    used, reserved = settled(proxy.env, user)
    (entry,) = ledger(pqg, user, "commit")
    meta = entry.metadata or {}
    # The provider gave no status: none is recorded.
    assert meta["usage"] == "estimated" and "provider_status" not in meta
    assert entry.reserved is not None and entry.reserved > 0
    assert (used, reserved) == (entry.reserved, 0) and entry.quantity == entry.reserved
    # The simulator still answers the call when its stall ends, to no one, and counts it then: wait
    # for that (or a little past the stall), so the count does not land in the next test's.
    deadline = time.monotonic() + 5
    while proxy.stats()["usage"]["output_tokens"] == 0 and time.monotonic() < deadline:
        time.sleep(0.05)


def test_a_stream_cut_midway_raises_while_iterating_and_is_charged_the_hold(
        proxy: ProxyEnv, pqg: QuotaGateway, user_on: Callable[..., str]) -> None:
    user = user_on()
    stream = pqg.openai(user, max_retries=0).chat.completions.create(
        model=GPT, messages=HELLO, max_tokens=10, stream=True, extra_headers={"x-sim": "cut=2, output=8"})
    # The answer began (a 200 and a stream), so the error comes while iterating: every event the
    # provider sent, then its in-stream error, on which the SDK raises.
    chunks = []
    with pytest.raises(openai.APIError) as broken:
        for chunk in stream:
            chunks.append(chunk)
    assert not isinstance(broken.value, openai.APIConnectionError)
    assert "broke off" in str(broken.value)
    assert len(chunks) == 3
    assert proxy.stats()["streams"]["cut"] == 1
    used, reserved = settled(proxy.env, user)
    (entry,) = ledger(pqg, user, "commit")
    assert (entry.metadata or {})["usage"] == "estimated"
    assert (used, reserved) == (entry.reserved, 0) and entry.quantity == entry.reserved
