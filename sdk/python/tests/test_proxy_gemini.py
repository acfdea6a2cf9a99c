"""The gateway's proxy for Google's Gemini API through Google's own client (`google-genai`), built
by the SDK's helpers, against the provider simulator: holds and commits of the reported usage
(`usageMetadata`'s running totals, the last one counting, thoughts as output, cached content
within the prompt and a tool-use prompt as input), streams as server-sent events and as one JSON
array relayed element by element, streams left early or cut, denials in Google's error shape
(with `Retry-After` when the quota resets), the caller's key in a header or the query and never
forwarded, and the paths that pass free or not at all. What was charged is read from the gateway; what the
provider did, from the simulator."""

from __future__ import annotations

import asyncio
import json
import sys
import time
from typing import Any, Callable, Dict, List, Optional

import httpx
import pytest
from conftest import SIM_SECRET, Env, ProxyEnv
from google import genai
from google.genai import errors, types
from spent import spent
from test_proxy import WAIT_SECONDS, ledger, proxy_calls, reported, settled

from quota_gateway import AsyncQuotaGateway, QuotaGateway, gemini_client

FLASH = "gemini-2.5-flash"
HELLO = "Say hello to the quota gateway"
# What the simulator counts for HELLO: its 6 words, 3 for the content and 3 for the reply.
HELLO_TOKENS = 12
# The users these tests make (the shared `user_on`).
USER_PREFIX = "gm"


def config(sim: str = "", **fields: Any) -> types.GenerateContentConfig:
    """A call's config, with the simulator's `x-sim` directives as a request header."""
    options = types.HttpOptions(headers={"x-sim": sim}) if sim else None
    return types.GenerateContentConfig(http_options=options, **fields)


def provider_calls(stats: Dict[str, Any]) -> List[Dict[str, Any]]:
    """What the simulator was asked on Gemini's model paths (not the gateway's reads of a cached
    content's size)."""
    return [r for r in stats["requests"] if r["path"].startswith(("/v1beta/models/", "/v1/models/"))]


def assert_only_the_providers_key(requests: List[Dict[str, Any]], secret: str) -> None:
    """The provider saw its own key, in Google's header, and nothing of the caller's."""
    assert requests
    for r in requests:
        assert r["headers"]["x-goog-api-key"] == SIM_SECRET
        assert "authorization" not in r["headers"] and "key=" not in r["query"]
        assert secret not in json.dumps(r)
        assert not any(name.startswith("x-quota-") for name in r["headers"])


def wait_for(check: Callable[[], bool]) -> None:
    deadline = time.monotonic() + WAIT_SECONDS
    while not check() and time.monotonic() < deadline:
        time.sleep(0.05)


# The helper, without a call.

def test_the_helper_builds_googles_client_pointed_at_the_proxy(env: Env, monkeypatch: pytest.MonkeyPatch) -> None:
    # The environment may ask Google's client for Vertex AI or another key: the helper's win.
    monkeypatch.setenv("GOOGLE_GENAI_USE_VERTEXAI", "true")
    monkeypatch.setenv("GEMINI_API_KEY", "AIza-the-callers-own")
    seen: List[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"totalTokens": 3})

    own = httpx.Client(transport=httpx.MockTransport(answer))
    qg = QuotaGateway(env.secret, base_url="http://127.0.0.1:9/")
    client = qg.gemini("alice", upstream="gemini-eu", metadata={"feature": "summary"}, run="run_1", action="draft",
                       http_options={"headers": {"X-Trace": "t1", "X-Quota-User": "mallory"}, "httpx_client": own})
    assert isinstance(client, genai.Client) and not client.vertexai
    assert client.models.count_tokens(model=FLASH, contents=HELLO).total_tokens == 3
    (request,) = seen
    assert str(request.url) == f"http://127.0.0.1:9/proxy/gemini-eu/v1beta/models/{FLASH}:countTokens"
    assert request.headers["x-goog-api-key"] == env.secret
    assert (request.headers["x-quota-user"], request.headers["x-quota-metadata"]) == ("alice", '{"feature":"summary"}')
    assert (request.headers["x-quota-run"], request.headers["x-quota-action"]) == ("run_1", "draft")
    assert request.headers["x-trace"] == "t1", "the caller's own headers are kept, the quota headers on top"
    assert isinstance(AsyncQuotaGateway(env.secret, base_url="http://127.0.0.1:9").gemini("alice"), genai.Client)
    with pytest.raises(ValueError, match="user="):
        gemini_client("http://127.0.0.1:9", env.secret)
    for wrong in ({"vertexai": True}, {"project": "p"}, {"http_options": {"base_url": "https://x"}}):
        with pytest.raises(TypeError, match="set by the helper"):
            qg.gemini("alice", **wrong)


def test_a_missing_extra_says_which_to_install(env: Env, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "google.genai", None)  # as if it were not installed
    with pytest.raises(ImportError, match=r"quota-gateway\[gemini\].*pip install google-genai"):
        QuotaGateway(env.secret).gemini("alice")


# (a) Holds and commits.

async def test_two_hundred_parallel_calls_admit_exactly_the_hundred_worst_cases_the_budget_holds(
        patient_proxy: ProxyEnv, user_on: Callable[..., str]) -> None:
    # The node that waits longer for Redis: 32 calls at once may queue past the default 250 ms.
    proxy = patient_proxy
    # Output tokens only: each call's worst case is its maxOutputTokens, 10, which bounds its
    # thoughts and its text together.
    user = user_on(1000, {"metadata": "output_tokens"})
    denied_before = proxy_calls(proxy, "denied", "gemini", "generate")
    asked = config("output=6, reasoning=4", max_output_tokens=10,
                   thinking_config=types.ThinkingConfig(thinking_budget=64))
    async with AsyncQuotaGateway(proxy.env.secret, base_url=proxy.base_url) as aqg:
        client = aqg.gemini(user).aio
        gate = asyncio.Semaphore(32)

        async def one() -> str:
            async with gate:
                try:
                    answer = await client.models.generate_content(model=FLASH, contents=HELLO, config=asked)
                    usage = answer.usage_metadata
                    assert usage is not None and (usage.candidates_token_count, usage.thoughts_token_count) == (6, 4)
                    return "admitted"
                except errors.ClientError as err:
                    assert (err.code, err.status) == (429, "RESOURCE_EXHAUSTED"), err
                    return "denied"

        outcomes = await asyncio.wait_for(asyncio.gather(*(one() for _ in range(200))), 60)
        await client.aclose()
    assert (outcomes.count("admitted"), outcomes.count("denied")) == (100, 100)
    stats = await asyncio.to_thread(proxy.stats)
    assert stats["calls"] == 100, "a denied call never reaches the provider"
    assert_only_the_providers_key(provider_calls(stats), proxy.env.secret)
    used, reserved = await asyncio.to_thread(settled, proxy.env, user)
    # Candidates and thoughts, as the provider reported them: 100 x (6 + 4).
    assert stats["usage"]["output_tokens"] == 1000 and stats["usage"]["reasoning_tokens"] == 400
    assert (used, reserved) == (1000, 0)
    assert await asyncio.to_thread(proxy_calls, proxy, "denied", "gemini", "generate") - denied_before == 100


# (b) Streams: the last running total counts.

def test_a_sse_stream_commits_the_last_running_total_never_the_sum_of_its_chunks(
        proxy: ProxyEnv, pqg: QuotaGateway, user_on: Callable[..., str]) -> None:
    user = user_on()
    client = pqg.gemini(user, metadata={"feature": "chat"})
    chunks = list(client.models.generate_content_stream(
        model=FLASH, contents=HELLO, config=config("output=4", thinking_config=types.ThinkingConfig(thinking_budget=8))))
    assert "".join(c.text or "" for c in chunks).split() == ["tok0", "tok1", "tok2", "tok3"]
    totals = [c.usage_metadata.candidates_token_count for c in chunks if c.usage_metadata]
    assert totals == [1, 2, 3, 4], "running totals, one chunk a word"
    last = chunks[-1]
    assert last.candidates and last.candidates[0].finish_reason == types.FinishReason.STOP
    assert last.usage_metadata is not None and last.usage_metadata.thoughts_token_count == 4
    stats = proxy.stats()
    (sent,) = provider_calls(stats)
    assert sent["path"] == f"/v1beta/models/{FLASH}:streamGenerateContent" and sent["query"] == "alt=sse"
    assert_only_the_providers_key([sent], proxy.env.secret)
    used, reserved = settled(proxy.env, user)
    assert (used, reserved) == (HELLO_TOKENS + 4 + 4, 0) == (reported(stats), 0)
    assert used < HELLO_TOKENS * len(chunks) + sum(totals), "not the chunks summed"
    (entry,) = ledger(pqg, user, "commit")
    meta = entry.metadata or {}
    assert entry.event == "gemini.generate"
    assert (meta["operation"], meta["model"], meta["stream"], meta["usage"], meta["feature"]) == (
        "generate", FLASH, True, "reported", "chat")
    assert (meta["input_tokens"], meta["output_tokens"], meta["reasoning_tokens"]) == (HELLO_TOKENS, 8, 4)
    # Google names no request id in a header: the record keeps the answer's own id instead.
    assert chunks[0].response_id and meta["provider_request_id"] == chunks[0].response_id


def test_a_stream_without_alt_sse_is_one_json_array_relayed_element_by_element(
        proxy: ProxyEnv, pqg: QuotaGateway, user_on: Callable[..., str]) -> None:
    user = user_on()
    # The caller's bytes, spacing and key order as written: the provider must read these.
    body = b'{ "contents" : [{"parts": [{"text": "Say hello"}], "role": "user"}],\n  "generationConfig": {"maxOutputTokens": 50} }'
    headers = {"x-goog-api-key": proxy.env.secret, "X-Quota-User": user, "Content-Type": "application/json",
               "x-sim": "output=3, pause=20000"}
    url = f"{proxy.base_url}/proxy/gemini/v1beta/models/{FLASH}:streamGenerateContent"
    with httpx.stream("POST", url, content=body, headers=headers, timeout=WAIT_SECONDS) as answer:
        assert answer.status_code == 200, answer.read()
        assert answer.headers["content-type"].startswith("application/json")
        pieces = answer.iter_raw()
        first = b""
        for piece in pieces:
            first += piece
            if first.rstrip().endswith(b"}"):
                break
        # The simulator holds its last element until released: the first came on before it.
        stats = proxy.stats()
        assert (stats["open"], stats["streams"]["completed"]) == (1, 0)
        element = json.loads(first.decode().lstrip("[,\r\n "))
        assert element["candidates"][0]["content"]["parts"][0]["text"] == "tok0"
        httpx.post(proxy.sim.base_url + "/_sim/release", timeout=10).raise_for_status()
        whole = first + b"".join(pieces)
    assert whole.startswith(b"[{") and whole.endswith(b"}]") and whole.count(b",\r\n{") == 2, whole
    elements = json.loads(whole)
    assert [e["usageMetadata"]["candidatesTokenCount"] for e in elements] == [1, 2, 3]
    assert elements[-1]["candidates"][0]["finishReason"] == "STOP"
    stats = proxy.stats()
    (sent,) = provider_calls(stats)
    assert sent["raw"] == body.decode("latin-1"), "the body came through byte for byte"
    assert sent["query"] == ""
    assert_only_the_providers_key([sent], proxy.env.secret)
    used, reserved = settled(proxy.env, user)
    assert (used, reserved) == (reported(stats), 0) and stats["usage"]["output_tokens"] == 3


def test_usage_in_a_last_chunk_of_its_own_after_the_finish_is_what_counts(
        proxy: ProxyEnv, pqg: QuotaGateway, user_on: Callable[..., str]) -> None:
    user = user_on()
    client = pqg.gemini(user)
    chunks = list(client.models.generate_content_stream(
        model=FLASH, contents=HELLO, config=config("usage=apart, output=3, reasoning=2")))
    assert not chunks[-1].candidates and chunks[-1].usage_metadata is not None
    assert chunks[-1].usage_metadata.candidates_token_count == 3
    stats = proxy.stats()
    used, reserved = settled(proxy.env, user)
    assert (used, reserved) == (reported(stats), 0) == (HELLO_TOKENS + 5, 0)
    (entry,) = ledger(pqg, user, "commit")
    assert ((entry.metadata or {})["usage"], (entry.metadata or {})["output_tokens"]) == ("reported", 5)


# (c) A stream left early.

def test_a_caller_that_leaves_a_stream_after_two_chunks_is_charged_what_the_provider_reported(
        proxy: ProxyEnv, pqg: QuotaGateway, user_on: Callable[..., str]) -> None:
    user = user_on()
    client = pqg.gemini(user)
    stream = client.models.generate_content_stream(model=FLASH, contents=HELLO,
                                                   config=config("delay=100, output=20", max_output_tokens=100))
    taken = []
    for chunk in stream:
        taken.append(chunk)
        if len(taken) == 2:
            break
    stream.close()
    client.close()
    # The gateway reads the rest of the provider's stream on its own, then commits.
    wait_for(lambda: proxy.stats()["streams"]["completed"] == 1 and spent(proxy.env, user)[1] == 0)
    stats = proxy.stats()
    assert stats["streams"] == {"completed": 1, "broken": 0, "cut": 0}, "read to its end, not broken off"
    assert settled(proxy.env, user) == (HELLO_TOKENS + 20, 0)
    (entry,) = ledger(pqg, user, "commit")
    assert ((entry.metadata or {})["usage"], (entry.metadata or {})["output_tokens"]) == ("reported", 20)


def test_a_stream_the_provider_cuts_raises_googles_error_and_its_output_is_charged_at_its_hold(
        proxy: ProxyEnv, pqg: QuotaGateway, user_on: Callable[..., str]) -> None:
    user = user_on()
    client = pqg.gemini(user)
    chunks = []
    with pytest.raises(errors.APIError) as broken:
        for chunk in client.models.generate_content_stream(
                model=FLASH, contents=HELLO, config=config("cut=2, output=8", max_output_tokens=10)):
            chunks.append(chunk)
    assert len(chunks) == 2 and broken.value.code == 502 and "broke off" in str(broken.value)
    assert proxy.stats()["streams"]["cut"] == 1
    used, reserved = settled(proxy.env, user)
    (entry,) = ledger(pqg, user, "commit")
    meta = entry.metadata or {}
    # The prompt is what every chunk reported; the output never reached its final total, so it is
    # charged at its hold, maxOutputTokens.
    assert (meta["usage"], meta["input_tokens"], meta["output_tokens"]) == ("estimated", HELLO_TOKENS, 10)
    assert (used, reserved) == (HELLO_TOKENS + 10, 0) and entry.quantity == used
    # As one JSON array, the elements sent, then an error element and the array's end.
    url = f"{proxy.base_url}/proxy/gemini/v1beta/models/{FLASH}:streamGenerateContent"
    body = {"contents": [{"role": "user", "parts": [{"text": HELLO}]}], "generationConfig": {"maxOutputTokens": 10}}
    cut = httpx.post(url, json=body, timeout=WAIT_SECONDS, headers={
        "x-goog-api-key": proxy.env.secret, "X-Quota-User": user, "x-sim": "cut=2, output=8"})
    elements = json.loads(cut.content)
    assert [e["candidates"][0]["content"]["parts"][0]["text"] for e in elements[:2]] == ["tok0", " tok1"]
    assert elements[2]["error"]["code"] == 502 and "broke off" in elements[2]["error"]["message"]
    assert settled(proxy.env, user) == (2 * (HELLO_TOKENS + 10), 0)


# (d) Denials.

def test_a_denial_is_googles_client_error_429_and_the_provider_never_sees_the_call(
        proxy: ProxyEnv, pqg: QuotaGateway, user_on: Callable[..., str]) -> None:
    # A lifetime quota never resets: no window to wait for, whatever the date.
    user = user_on(5, period="lifetime")
    before = proxy_calls(proxy, "denied", "gemini", "generate")
    # Retries as Google's client offers them, 429 included: the gateway's answer stops them.
    retrying = types.HttpOptions(retry_options=types.HttpRetryOptions(attempts=3, initial_delay=0.1))
    client = pqg.gemini(user, http_options=retrying)
    with pytest.raises(errors.ClientError) as refused:
        client.models.generate_content(model=FLASH, contents=HELLO, config=config(max_output_tokens=10))
    error = refused.value
    assert (error.code, error.status) == (429, "RESOURCE_EXHAUSTED")
    assert "more than its whole quota" in (error.message or "")
    headers = error.response.headers
    assert (headers["x-should-retry"], headers["x-quota-code"], headers["x-quota-denied-by"]) == (
        "false", "insufficient_quota", "g")
    assert "retry-after" not in headers
    with pytest.raises(errors.ClientError):
        list(client.models.generate_content_stream(model=FLASH, contents=HELLO, config=config(max_output_tokens=10)))
    # Google's client retries a 429 when told to retry at all: it asked three times each.
    assert proxy_calls(proxy, "denied", "gemini", "generate") - before == 6
    assert len(ledger(pqg, user, "denied")) == 6
    assert proxy.stats()["calls"] == 0
    assert settled(proxy.env, user) == (0, 0)


def resets_in(seconds: int) -> str:
    """A wait as the gateway words it in a denial (`it resets in 3 h`)."""
    if seconds < 120:
        return f"{seconds} s"
    if seconds < 7_200:
        return f"{seconds // 60} min"
    if seconds < 172_800:
        return f"{seconds // 3_600} h"
    return f"{seconds // 86_400} days"


def test_a_denial_of_a_quota_that_resets_says_when_in_retry_after_and_is_googles_client_error(
        proxy: ProxyEnv, pqg: QuotaGateway, user_on: Callable[..., str]) -> None:
    # A day's 20 output tokens, 10 spent: a call that may use 15 fits the quota, not what is left
    # of it today, so the day's reset makes room.
    user = user_on(20, {"metadata": "output_tokens"}, period="day")
    client = pqg.gemini(user)
    client.models.generate_content(model=FLASH, contents=HELLO, config=config("output=10", max_output_tokens=10))
    before = proxy_calls(proxy, "denied", "gemini", "generate")
    with pytest.raises(errors.ClientError) as refused:
        client.models.generate_content(model=FLASH, contents=HELLO, config=config(max_output_tokens=15))
    error = refused.value
    assert (error.code, error.status) == (429, "RESOURCE_EXHAUSTED")
    headers = error.response.headers
    retry_after = int(headers["retry-after"])
    # The group's reset, the one the RateLimit header names, to the second: within the day.
    assert headers["ratelimit-policy"] == '"g";q=20;w=86400'
    assert headers["ratelimit"] == f'"g";r=10;t={retry_after}'
    assert 0 < retry_after <= 86_400
    # Told to retry only when the reset is a minute away or less.
    soon = retry_after <= 60
    assert headers["x-quota-code"] == ("rate_limit_exceeded" if soon else "insufficient_quota")
    assert headers.get("x-should-retry") == (None if soon else "false")
    assert headers["x-quota-denied-by"] == "g"
    assert error.message == (f"this call may use up to 15 tokens of quota g, and 10 are left; it resets in "
                             f"{resets_in(retry_after)}, or lower generationConfig.maxOutputTokens")
    # A stream is refused the same, before its first chunk.
    with pytest.raises(errors.ClientError) as refused_stream:
        list(client.models.generate_content_stream(model=FLASH, contents=HELLO, config=config(max_output_tokens=15)))
    assert refused_stream.value.code == 429 and "retry-after" in refused_stream.value.response.headers
    assert proxy_calls(proxy, "denied", "gemini", "generate") - before == 2, "Google's client asked once each"
    assert [e.denied_by for e in ledger(pqg, user, "denied")] == [["g"], ["g"]]
    assert proxy.stats()["calls"] == 1, "only the first call reached the provider"
    assert settled(proxy.env, user) == (10, 0)


# (e) The caller's key.

def test_the_callers_key_in_the_query_or_googles_header_works_and_never_reaches_the_provider(
        proxy: ProxyEnv, pqg: QuotaGateway, user_on: Callable[..., str]) -> None:
    user = user_on()
    body = {"contents": [{"role": "user", "parts": [{"text": HELLO}]}]}
    base = f"{proxy.base_url}/proxy/gemini/v1beta/models/{FLASH}"
    in_query = httpx.post(f"{base}:generateContent?key={proxy.env.secret}", json=body,
                          headers={"X-Quota-User": user}, timeout=WAIT_SECONDS)
    assert in_query.status_code == 200, in_query.text
    streamed = httpx.post(f"{base}:streamGenerateContent?alt=sse&key={proxy.env.secret}", json=body,
                          headers={"X-Quota-User": user}, timeout=WAIT_SECONDS)
    assert streamed.status_code == 200 and streamed.text.count("data: ") == 5
    client = pqg.gemini(user)
    in_header = client.models.generate_content(model=FLASH, contents=HELLO)
    assert in_header.text == "tok0 tok1 tok2 tok3 tok4"
    made = pqg.create_user_key(user, label="phone")
    assert made.key is not None
    device = gemini_client(proxy.base_url, made.key)
    assert device.models.generate_content(model=FLASH, contents=HELLO).usage_metadata is not None
    by_query = httpx.post(f"{base}:generateContent?key={made.key}", json=body, timeout=WAIT_SECONDS)
    assert by_query.status_code == 200, by_query.text
    stats = proxy.stats()
    sent = provider_calls(stats)
    assert [r["query"] for r in sent] == ["", "alt=sse", "", "", ""], "the key left the query, the rest stayed"
    assert_only_the_providers_key(sent, proxy.env.secret)
    assert not any(made.key in json.dumps(r) for r in sent)
    used, reserved = settled(proxy.env, user)
    assert (used, reserved) == (reported(stats), 0)
    assert [e.key_id for e in ledger(pqg, user, "commit")][-2:] == [made.id, made.id]
    # A wrong key in the query is the gateway's 401, in Google's shape, before the provider.
    wrong = httpx.post(f"{base}:generateContent?key=qg_sk_wrong", json=body, headers={"X-Quota-User": user},
                       timeout=WAIT_SECONDS)
    assert wrong.status_code == 401 and wrong.json()["error"]["status"] == "UNAUTHENTICATED"
    assert proxy.stats()["calls"] == stats["calls"]


# (f) What passes free, and what does not pass.

def test_count_tokens_and_the_model_list_pass_free_and_an_uncounted_path_is_googles_404(
        proxy: ProxyEnv, pqg: QuotaGateway, user_on: Callable[..., str]) -> None:
    user = user_on()
    client = pqg.gemini(user)
    assert client.models.count_tokens(model=FLASH, contents=HELLO).total_tokens == HELLO_TOKENS
    names = [m.name for m in client.models.list()]
    assert f"models/{FLASH}" in names
    assert client.models.get(model=FLASH).output_token_limit == 65536
    with pytest.raises(errors.ClientError) as unknown:
        client.caches.list()
    assert (unknown.value.code, unknown.value.status) == (404, "NOT_FOUND")
    assert unknown.value.response.headers["x-quota-code"] == "route_not_found"
    stats = proxy.stats()
    assert sorted(stats["paths"]) == ["/v1beta/models", f"/v1beta/models/{FLASH}", f"/v1beta/models/{FLASH}:countTokens"]
    assert_only_the_providers_key(provider_calls(stats), proxy.env.secret)
    assert settled(proxy.env, user) == (0, 0)
    assert ledger(pqg, user) == [], "nothing held, nothing charged"


def test_embeddings_are_charged_the_tokens_the_provider_counts_for_them(
        proxy: ProxyEnv, pqg: QuotaGateway, user_on: Callable[..., str]) -> None:
    # Google reports no usage for an embedding: the gateway asks countTokens, as Google bills.
    user = user_on()
    client = pqg.gemini(user)
    one = client.models.embed_content(model="gemini-embedding-001", contents=HELLO)
    assert one.embeddings and len(one.embeddings) == 1
    many = client.models.embed_content(model="gemini-embedding-001", contents=["first text", "and the second"])
    assert many.embeddings and len(many.embeddings) == 2
    # Each text embedded is a content of its own: counted so, together.
    def contents(*texts: str) -> List[types.Content]:
        return [types.Content(role="user", parts=[types.Part(text=t)]) for t in texts]
    counted = [client.models.count_tokens(model="gemini-embedding-001", contents=c).total_tokens or 0
               for c in (contents(HELLO), contents("first text", "and the second"))]
    entries = ledger(pqg, user, "commit")
    assert [e.event for e in entries] == ["gemini.embed", "gemini.embed"]
    metadata = [e.metadata or {} for e in entries]
    assert [m["input_tokens"] for m in metadata] == counted
    assert all(m["usage"] == "reported" and m["output_tokens"] == 0 for m in metadata)
    assert settled(proxy.env, user) == (sum(counted), 0)
    assert_only_the_providers_key(provider_calls(proxy.stats()), proxy.env.secret)


def test_a_cache_created_is_held_at_its_contents_and_charged_its_size_as_written(
        proxy: ProxyEnv, pqg: QuotaGateway, user_on: Callable[..., str]) -> None:
    user = user_on(measure={"metadata": "cache_write_tokens"})
    client = pqg.gemini(user)
    cache = client.caches.create(model=FLASH, config=types.CreateCachedContentConfig(
        contents=[types.Content(role="user", parts=[types.Part(text="a long document " * 50)])],
        http_options=types.HttpOptions(headers={"x-sim": "input=200"})))
    assert cache.name and cache.usage_metadata and cache.usage_metadata.total_token_count == 200
    (entry,) = ledger(pqg, user, "commit")
    metadata = entry.metadata or {}
    assert (entry.event, metadata["model"], metadata["usage"]) == ("gemini.cache", FLASH, "reported")
    assert (metadata["input_tokens"], metadata["cache_write_tokens"], metadata["output_tokens"]) == (200, 200, 0)
    assert settled(proxy.env, user) == (200, 0)
    assert_only_the_providers_key([r for r in proxy.stats()["requests"] if r["path"] == "/v1beta/cachedContents"],
                                  proxy.env.secret)


def test_a_batch_of_inlined_requests_is_held_until_it_ends_and_settles_what_its_responses_report(
        proxy: ProxyEnv, pqg: QuotaGateway, user_on: Callable[..., str], fresh_user: Callable[..., str]) -> None:
    user = user_on()
    client = pqg.gemini(user)
    requests = [types.InlinedRequest(contents=HELLO, config=types.GenerateContentConfig(max_output_tokens=10)),
                types.InlinedRequest(contents="Say hi", config=types.GenerateContentConfig(max_output_tokens=5))]
    batch = client.batches.create(model=FLASH, src=requests,
                                  config=types.CreateBatchJobConfig(display_name="nightly",
                                                                    http_options=types.HttpOptions(
                                                                        headers={"x-sim": "reads=2"})))
    assert batch.name and batch.state == types.JobState.JOB_STATE_PENDING
    # Held at both requests' worst case until it ends, as the user's open job.
    usage = pqg.usage(user)
    assert [(j.id, j.kind) for j in usage.jobs] == [(batch.name.split("/")[1], "gemini_batch")]
    assert usage.counters[0].reserved > 0
    # Another user's read of it is Google's 404: the batch is its owner's.
    stranger = pqg.gemini(fresh_user(USER_PREFIX))
    with pytest.raises(errors.ClientError) as other:
        stranger.batches.get(name=batch.name)
    assert other.value.code == 404
    while (seen := client.batches.get(name=batch.name)).state != types.JobState.JOB_STATE_SUCCEEDED:
        assert seen.state in (types.JobState.JOB_STATE_PENDING, types.JobState.JOB_STATE_RUNNING)
    answered = seen.dest.inlined_responses if seen.dest else None
    assert answered and len(answered) == 2
    billed = 0
    for one in answered:
        assert one.response and one.response.usage_metadata
        billed += one.response.usage_metadata.total_token_count or 0
    (entry,) = ledger(pqg, user, "commit")
    assert (entry.event, (entry.metadata or {})["batch"], (entry.metadata or {})["job_kind"]) == (
        "gemini.batches", True, "gemini_batch")
    assert settled(proxy.env, user) == (billed, 0)
    assert pqg.usage(user).jobs == []
    # The list is the gateway's, of the caller's own batches, paged as Google pages it.
    second = client.batches.create(model=FLASH, src=requests[:1])
    listed = [b.name for b in client.batches.list(config=types.ListBatchJobsConfig(page_size=1))]
    assert listed == [second.name, batch.name], "newest first, walked page by page"
    assert [b.name for b in stranger.batches.list()] == []


# (g) Thoughts.

def test_thoughts_are_charged_as_output_and_the_ledger_says_how_many(
        proxy: ProxyEnv, pqg: QuotaGateway, user_on: Callable[..., str]) -> None:
    user = user_on()
    client = pqg.gemini(user)
    answer = client.models.generate_content(
        model=FLASH, contents=HELLO, config=config(thinking_config=types.ThinkingConfig(thinking_budget=1024)))
    usage = answer.usage_metadata
    assert usage is not None and (usage.candidates_token_count, usage.thoughts_token_count) == (5, 4)
    used, reserved = settled(proxy.env, user)
    assert (used, reserved) == (HELLO_TOKENS + 5 + 4, 0) == (reported(proxy.stats()), 0)
    (entry,) = ledger(pqg, user, "commit")
    meta = entry.metadata or {}
    assert (meta["output_tokens"], meta["reasoning_tokens"], meta["usage"]) == (9, 4, "reported")
    assert answer.response_id and meta["provider_request_id"] == answer.response_id


# Cached content and a tool-use prompt.

def test_cached_content_is_counted_within_the_prompt_and_a_tool_use_prompt_as_input_beside_it(
        proxy: ProxyEnv, pqg: QuotaGateway, fresh_user: Callable[..., str]) -> None:
    user = fresh_user(USER_PREFIX)
    # Every token; the input alone; the cached input alone. The hold of a call naming a cached
    # content counts that content at its size, which the gateway reads from the provider.
    proxy.env.call("PUT", f"/v1/plans/plan_{user}", {"id": f"plan_{user}", "periodType": "month", "groups": [
        {"id": "g", "unit": "tokens", "quota": 10_000_000, "matches": [{"event": "*"}]},
        {"id": "input", "unit": "tokens", "quota": 10_000_000, "measure": {"metadata": "input_tokens"},
         "matches": [{"event": "*"}]},
        {"id": "cached", "unit": "tokens", "quota": 10_000_000, "measure": {"metadata": "cached_input_tokens"},
         "matches": [{"event": "*"}]}]})
    proxy.env.call("PUT", f"/v1/users/{user}/subscription", {"planId": f"plan_{user}"})
    client = pqg.gemini(user)
    # A cache of 20 tokens, made through the gateway by the user (a call may name only its
    # user's caches): its making is a ledger entry of its own, and the provider's counts start
    # after it.
    made = client.caches.create(model=FLASH, config=types.CreateCachedContentConfig(
        contents=["a document"], http_options=types.HttpOptions(headers={"x-sim": "input=20"})))
    assert made.name
    cache = made.name
    [making] = ledger(pqg, user, "commit")
    made_counts = {g.group_id: g.amount for g in making.groups}
    proxy.reset()
    # The simulator adds the cached content's 20 tokens to the prompt, as Google reports it
    # (`cachedContentTokenCount` within `promptTokenCount`), and reports 7 of a tool-use prompt
    # beside it.
    answer = client.models.generate_content(model=FLASH, contents=HELLO, config=config(
        "cached=20, tool_prompt=7, output=3", max_output_tokens=10, cached_content=cache))
    usage = answer.usage_metadata
    assert usage is not None
    assert (usage.prompt_token_count, usage.cached_content_token_count, usage.tool_use_prompt_token_count,
            usage.candidates_token_count) == (HELLO_TOKENS + 20, 20, 7, 3)
    chunks = list(client.models.generate_content_stream(model=FLASH, contents=HELLO, config=config(
        "cached=20, tool_prompt=7, output=4", max_output_tokens=10, cached_content=cache)))
    last = chunks[-1].usage_metadata
    assert last is not None and (last.cached_content_token_count, last.tool_use_prompt_token_count) == (20, 7)
    stats = proxy.stats()
    sent = provider_calls(stats)
    assert [r["body"]["cachedContent"] for r in sent] == [cache] * 2
    # The prompt (its cached tokens within it, counted once) and the tool-use prompt: the input.
    prompt = HELLO_TOKENS + 20 + 7
    assert stats["usage"]["input_tokens"] == 2 * prompt and stats["usage"]["cached_input_tokens"] == 2 * 20
    _, whole, streamed = ledger(pqg, user, "commit")
    for entry, output, stream in ((whole, 3, False), (streamed, 4, True)):
        meta = entry.metadata or {}
        assert (meta["stream"], meta["usage"]) == (stream, "reported")
        assert (meta["input_tokens"], meta["cached_input_tokens"], meta["output_tokens"]) == (prompt, 20, output)
        assert entry.quantity == prompt + output
        assert {g.group_id: g.amount for g in entry.groups} == {"g": prompt + output, "input": prompt, "cached": 20}
        # Held at its body, the cached content at its 20 tokens and its maximum output.
        assert entry.reserved is not None and 20 + 10 < entry.reserved < 20 + 10 + 1_000
    counters = {c.group_id: (c.used, c.reserved) for c in pqg.usage(user).counters}
    calls = {"g": 2 * prompt + 3 + 4, "input": 2 * prompt, "cached": 40}
    assert counters == {g: (n + made_counts.get(g, 0), 0) for g, n in calls.items()}
    assert reported(stats) == 2 * prompt + 3 + 4


# A clamp.

def test_a_clamped_hold_lowers_maxoutputtokens_inside_generation_config(
        proxy: ProxyEnv, pqg: QuotaGateway, user_on: Callable[..., str]) -> None:
    # Far less than the model's output limit is left: a call naming no maximum is clamped to it.
    user = user_on(200)
    client = pqg.gemini(user)
    answer = client.models.generate_content(model=FLASH, contents=HELLO, config=config("output=3"))
    assert answer.text == "tok0 tok1 tok2"
    (sent,) = provider_calls(proxy.stats())
    granted: Optional[int] = sent["body"]["generationConfig"]["maxOutputTokens"]
    assert granted is not None and 0 < granted < 200
    assert sent["body"]["contents"][0]["parts"][0]["text"] == HELLO
    assert settled(proxy.env, user) == (HELLO_TOKENS + 3, 0)


# Google reads a field by its JSON name or its proto name: so must the hold.

def test_counts_named_by_their_proto_names_are_held_as_google_reads_them(
        proxy: ProxyEnv, pqg: QuotaGateway, user_on: Callable[..., str]) -> None:
    url = f"{proxy.base_url}/proxy/gemini/v1beta/models/{FLASH}:generateContent"
    contents = [{"role": "user", "parts": [{"text": HELLO}]}]

    def send(user: str, generation_config: Dict[str, Any]) -> httpx.Response:
        body = json.dumps({"contents": contents, "generationConfig": generation_config}).encode()
        return httpx.post(url, content=body, timeout=WAIT_SECONDS, headers={
            "x-goog-api-key": proxy.env.secret, "X-Quota-User": user, "Content-Type": "application/json",
            "x-sim": "output=10"})

    # Three candidates of up to 10 tokens each may be 30 tokens: more than 25 left, never sent.
    small = user_on(25, {"metadata": "output_tokens"}, period="lifetime")
    denied = send(small, {"maxOutputTokens": 10, "candidate_count": 3})
    assert denied.status_code == 429, denied.text
    assert proxy.stats()["calls"] == 0 and settled(proxy.env, small) == (0, 0)
    # Held at 3 x 10 as named, and forwarded as written: no maximum spliced beside the caller's.
    user = user_on(100, {"metadata": "output_tokens"})
    answer = send(user, {"max_output_tokens": 10, "candidate_count": 3})
    assert answer.status_code == 200 and len(answer.json()["candidates"]) == 3
    (sent,) = provider_calls(proxy.stats())
    assert sent["body"]["generationConfig"] == {"max_output_tokens": 10, "candidate_count": 3}
    assert settled(proxy.env, user) == (30, 0)
    # A count named both ways is refused, not guessed at.
    twice = send(user, {"maxOutputTokens": 10, "max_output_tokens": 20})
    assert twice.status_code == 400 and twice.json()["error"]["status"] == "INVALID_ARGUMENT"
