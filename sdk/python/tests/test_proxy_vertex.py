"""Google's Vertex AI through the gateway, as its clients call it in a project's location: Gemini
through google-genai (`Client(vertexai=True)`: `generate_content` and its stream, under `v1beta1`
and `v1`) and Claude through `AnthropicVertex` (`rawPredict`, `streamRawPredict`), both built by
the SDK's helpers with the gateway's key as their OAuth access token, so that neither looks for
Google's credentials. Each call is held before the provider sees it and the reported usage
committed, as `vertex.generate` or `vertex.messages`; a denial is each client's own error and
never reaches the provider; token counting passes free. The gateway calls the simulator with
access tokens it mints from its service account's key (the JWT-bearer grant at the key's
`token_uri`, the simulator's `/token`, which checks the grant's signature and then takes only
tokens it minted and that have not expired), renewing them as they age, and never sends the
caller's key."""

from __future__ import annotations

import asyncio
import json
import sys
import time
from typing import Any, Callable, Dict, List

import anthropic
import httpx
import pytest
from conftest import TOKEN_LIFETIME, Env, ProxyEnv
from google import genai
from google.genai import errors, types
from test_proxy import WAIT_SECONDS, ledger, proxy_calls, reported, settled

from quota_gateway import (AsyncQuotaGateway, QuotaGateway, anthropic_vertex_client, async_anthropic_vertex_client,
                           vertex_gemini_client)

USER_PREFIX = "vx"
# The caller's project and location, as the path names them (the gateway's service account is
# the simulator's whatever the project).
PROJECT = "acme-prod"
LOCATION = "us-central1"
FLASH = "gemini-2.5-flash"
# A Claude model as Vertex names it, its version after `@`: priced as Anthropic's dated id.
CLAUDE = "claude-haiku-4-5@20251001"
CLAUDE_PRICED_AS = "claude-haiku-4-5-20251001"
HELLO_TEXT = "Say hello to the quota gateway"
HELLO = [{"role": "user", "content": HELLO_TEXT}]
# What the simulator counts for HELLO: its 6 words, 3 for the content and 3 for the reply.
HELLO_TOKENS = 12
VERTEX_VERSION = "vertex-2023-10-16"


def gemini_path(verb: str, version: str = "v1beta1", model: str = FLASH) -> str:
    return f"/{version}/projects/{PROJECT}/locations/{LOCATION}/publishers/google/models/{model}:{verb}"


def claude_path(verb: str, model: str = CLAUDE) -> str:
    return f"/v1/projects/{PROJECT}/locations/{LOCATION}/publishers/anthropic/models/{model}:{verb}"


def config(sim: str = "", **fields: Any) -> types.GenerateContentConfig:
    """A call's config, with the simulator's `x-sim` directives as a request header."""
    options = types.HttpOptions(headers={"x-sim": sim}) if sim else None
    return types.GenerateContentConfig(http_options=options, **fields)


def vertex_requests(stats: Dict[str, Any]) -> List[Dict[str, Any]]:
    """What the simulator was asked on Vertex's paths (not the gateway's grants at `/token`)."""
    return [r for r in stats["requests"] if r["path"].startswith(("/v1/projects/", "/v1beta1/projects/"))]


def provider_calls(stats: Dict[str, Any]) -> int:
    """The calls the simulator answered on Vertex's paths, the gateway's grants left out."""
    return int(stats["calls"]) - int(stats["paths"].get("/token", 0))


def minted(stats: Dict[str, Any]) -> int:
    return int(stats["clouds"].get("tokens_minted", 0))


def assert_minted_tokens_alone(requests: List[Dict[str, Any]], secret: str) -> None:
    """Vertex was sent an access token the simulator minted (which it checked), and nothing of
    the caller's: not its key, nor a quota header."""
    assert requests
    for r in requests:
        assert r["headers"]["authorization"].startswith("Bearer ya29.sim-"), r["headers"]
        assert "x-goog-api-key" not in r["headers"] and "key=" not in r["query"]
        assert secret not in json.dumps(r)
        assert not any(name.startswith("x-quota-") for name in r["headers"])


def gemini(qg: QuotaGateway, user: str, **client_kwargs: Any) -> genai.Client:
    return qg.vertex_gemini(user, project=PROJECT, location=LOCATION, **client_kwargs)


def claude(qg: QuotaGateway, user: str, **client_kwargs: Any) -> anthropic.AnthropicVertex:
    return qg.anthropic_vertex(user, project=PROJECT, region=LOCATION, **client_kwargs)


# The helpers, against a stand-in for the network.

def test_the_helpers_build_vertex_clients_that_send_the_gateways_key_alone(
        env: Env, monkeypatch: pytest.MonkeyPatch) -> None:
    # Google's and Anthropic's clients would read these; none of them is what the client sends.
    for name, value in (("GOOGLE_API_KEY", "AIza-the-process-own"),
                        ("GOOGLE_APPLICATION_CREDENTIALS", "/nonexistent/adc.json"),
                        ("GOOGLE_CLOUD_PROJECT", "env-project"), ("GOOGLE_CLOUD_LOCATION", "europe-west4"),
                        ("GOOGLE_GENAI_USE_VERTEXAI", "false"), ("ANTHROPIC_VERTEX_PROJECT_ID", "env-project"),
                        ("CLOUD_ML_REGION", "europe-west4"), ("ANTHROPIC_VERTEX_BASE_URL", "https://x.example")):
        monkeypatch.setenv(name, value)
    seen: List[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"totalTokens": 3})

    own = httpx.Client(transport=httpx.MockTransport(answer))
    qg = QuotaGateway(env.secret, base_url="http://127.0.0.1:9/")
    client = qg.vertex_gemini("alice", project=PROJECT, location=LOCATION, metadata={"feature": "summary"},
                              run="run_1", action="draft", http_options={
                                  "headers": {"X-Trace": "t1", "X-Quota-User": "mallory"}, "httpx_client": own})
    assert isinstance(client, genai.Client) and client.vertexai
    assert client.models.count_tokens(model=FLASH, contents=HELLO_TEXT).total_tokens == 3
    (request,) = seen
    assert str(request.url) == "http://127.0.0.1:9/proxy/vertex" + gemini_path("countTokens")
    assert request.headers["authorization"] == f"Bearer {env.secret}" and "x-goog-api-key" not in request.headers
    assert (request.headers["x-quota-user"], request.headers["x-quota-metadata"]) == ("alice", '{"feature":"summary"}')
    assert (request.headers["x-quota-run"], request.headers["x-quota-action"]) == ("run_1", "draft")
    assert request.headers["x-trace"] == "t1", "the caller's own headers are kept, the quota headers on top"
    assert "x-goog-user-project" not in request.headers
    # A user key is its own user; `v1` when the caller's http_options ask for it.
    device = vertex_gemini_client("http://127.0.0.1:9", "qg_uk_example", project="p2", location="global",
                                  upstream="vertex-eu", http_options=types.HttpOptions(api_version="v1",
                                                                                       httpx_client=own))
    device.models.count_tokens(model=FLASH, contents=HELLO_TEXT)
    assert str(seen[1].url) == ("http://127.0.0.1:9/proxy/vertex-eu/v1/projects/p2/locations/global/"
                                f"publishers/google/models/{FLASH}:countTokens")
    assert seen[1].headers["authorization"] == "Bearer qg_uk_example" and "x-quota-user" not in seen[1].headers
    messages = qg.anthropic_vertex("bob", project=PROJECT, region="us-east5", max_retries=0)
    assert isinstance(messages, anthropic.AnthropicVertex)
    assert (str(messages.base_url), messages.access_token, messages.project_id, messages.region) == (
        "http://127.0.0.1:9/proxy/vertex/v1/", env.secret, PROJECT, "us-east5")
    assert messages.credentials is None and messages.default_headers["X-Quota-User"] == "bob"
    aqg = AsyncQuotaGateway(env.secret, base_url="http://127.0.0.1:9")
    assert isinstance(aqg.anthropic_vertex("alice", project=PROJECT, region=LOCATION), anthropic.AsyncAnthropicVertex)
    assert aqg.vertex_gemini("alice", project=PROJECT, location=LOCATION).vertexai
    assert str(async_anthropic_vertex_client("http://127.0.0.1:9", "qg_uk_example", project=PROJECT,
                                             region=LOCATION).base_url) == "http://127.0.0.1:9/proxy/vertex/v1/"
    with pytest.raises(ValueError, match="user="):
        vertex_gemini_client("http://127.0.0.1:9", env.secret, project=PROJECT, location=LOCATION)
    with pytest.raises(ValueError, match="user="):
        anthropic_vertex_client("http://127.0.0.1:9", env.secret, project=PROJECT, region=LOCATION)
    for wrong in ({"credentials": object()}, {"vertexai": False},
                  {"http_options": {"base_url": "https://us-central1-aiplatform.googleapis.com"}}):
        with pytest.raises(TypeError, match="set by the helper"):
            qg.vertex_gemini("alice", project=PROJECT, location=LOCATION, **wrong)
    for wrong in ({"access_token": "ya29.x"}, {"credentials": object()}, {"base_url": "https://x"},
                  {"project_id": "p"}):
        with pytest.raises(TypeError, match="set by the helper"):
            qg.anthropic_vertex("alice", project=PROJECT, region=LOCATION, **wrong)


def test_a_missing_extra_says_which_to_install(env: Env, monkeypatch: pytest.MonkeyPatch) -> None:
    qg = QuotaGateway(env.secret)
    monkeypatch.setitem(sys.modules, "google.genai", None)  # as if it were not installed
    with pytest.raises(ImportError, match=r"quota-gateway\[gemini\].*pip install google-genai"):
        qg.vertex_gemini("alice", project=PROJECT, location=LOCATION)
    monkeypatch.setitem(sys.modules, "anthropic", None)
    with pytest.raises(ImportError, match=r"quota-gateway\[anthropic\]"):
        qg.anthropic_vertex("alice", project=PROJECT, region=LOCATION)


# Gemini through google-genai on Vertex AI.

def test_generate_content_is_held_and_commits_the_reported_usage(
        proxy: ProxyEnv, pqg: QuotaGateway, user_on: Callable[..., str]) -> None:
    user = user_on()
    # Kept while it calls: a google-genai client closes its connections when it is collected.
    client = gemini(pqg, user, metadata={"feature": "summary"})
    answer = client.models.generate_content(model=FLASH, contents=HELLO_TEXT,
                                            config=config("output=4", max_output_tokens=20))
    usage = answer.usage_metadata
    assert answer.text == "tok0 tok1 tok2 tok3" and usage is not None
    assert (usage.prompt_token_count, usage.candidates_token_count) == (HELLO_TOKENS, 4)
    stats = proxy.stats()
    assert provider_calls(stats) == 1
    assert settled(proxy.env, user) == (reported(stats), 0) == (HELLO_TOKENS + 4, 0)
    (entry,) = ledger(pqg, user, "commit")
    meta = entry.metadata or {}
    assert entry.event == "vertex.generate"
    assert (meta["upstream"], meta["operation"], meta["model"], meta["stream"], meta["usage"], meta["feature"]) == (
        "vertex", "generate", FLASH, False, "reported", "summary")
    assert (meta["input_tokens"], meta["output_tokens"]) == (HELLO_TOKENS, 4)
    assert answer.response_id and meta["provider_request_id"] == answer.response_id
    [sent] = vertex_requests(stats)
    assert sent["path"] == gemini_path("generateContent"), "google-genai's own path: v1beta1, the project's location"
    assert sent["body"]["generationConfig"]["maxOutputTokens"] == 20
    assert_minted_tokens_alone([sent], proxy.env.secret)


def test_generate_content_stream_of_a_user_key_under_v1_commits_the_last_running_total(
        proxy: ProxyEnv, pqg: QuotaGateway, user_on: Callable[..., str]) -> None:
    user = user_on()
    made = pqg.create_user_key(user, label="phone")
    assert made.key is not None
    client = vertex_gemini_client(proxy.base_url, made.key, project=PROJECT, location=LOCATION,
                                  http_options={"api_version": "v1"})
    chunks = list(client.models.generate_content_stream(model=FLASH, contents=HELLO_TEXT, config=config("output=5")))
    assert "".join(c.text or "" for c in chunks).split() == [f"tok{i}" for i in range(5)]
    totals = [c.usage_metadata.candidates_token_count for c in chunks if c.usage_metadata]
    assert totals == [1, 2, 3, 4, 5], "running totals, one chunk a word"
    stats = proxy.stats()
    assert stats["streams"]["completed"] == 1
    assert settled(proxy.env, user) == (reported(stats), 0) == (HELLO_TOKENS + 5, 0), "the last total, not the sum"
    (entry,) = ledger(pqg, user, "commit")
    meta = entry.metadata or {}
    assert (entry.event, entry.key_id) == ("vertex.generate", made.id)
    assert (meta["model"], meta["stream"], meta["output_tokens"], meta["usage"]) == (FLASH, True, 5, "reported")
    [sent] = vertex_requests(stats)
    assert (sent["path"], sent["query"]) == (gemini_path("streamGenerateContent", "v1"), "alt=sse")
    assert_minted_tokens_alone([sent], made.key)


# Claude through AnthropicVertex.

def test_anthropic_vertex_messages_plain_and_streamed_commit_the_reported_usage(
        proxy: ProxyEnv, pqg: QuotaGateway, user_on: Callable[..., str]) -> None:
    user = user_on()
    client = claude(pqg, user, max_retries=0)
    message = client.messages.create(model=CLAUDE, max_tokens=50, messages=HELLO,
                                     extra_headers={"x-sim": "output=7"})
    assert (message.model, message.usage.output_tokens) == (CLAUDE, 7)
    events = list(client.messages.create(model=CLAUDE, max_tokens=50, messages=HELLO,
                                         stream=True, extra_headers={"x-sim": "deltas=3, output=9"}))
    start = events[0]
    assert start.type == "message_start"
    assert [e.usage.output_tokens for e in events if e.type == "message_delta"][-1] == 9
    stats = proxy.stats()
    assert stats["streams"]["completed"] == 1
    used = message.usage.input_tokens + 7 + start.message.usage.input_tokens + 9
    assert settled(proxy.env, user) == (reported(stats), 0) == (used, 0), "the last cumulative count, not the sum"
    commits = ledger(pqg, user, "commit")
    assert [e.event for e in commits] == ["vertex.messages"] * 2
    metas = [e.metadata or {} for e in commits]
    assert [(m["model"], m["stream"], m["output_tokens"], m["usage"]) for m in metas] == [
        (CLAUDE_PRICED_AS, False, 7, "reported"), (CLAUDE_PRICED_AS, True, 9, "reported")]
    sent = vertex_requests(stats)
    assert [r["path"] for r in sent] == [claude_path("rawPredict"), claude_path("streamRawPredict")]
    for request in sent:
        assert "model" not in request["body"] and request["body"]["max_tokens"] == 50
        assert request["body"]["anthropic_version"], "AnthropicVertex's own version, passed through"
    assert_minted_tokens_alone(sent, proxy.env.secret)


async def test_the_async_clients_generate_and_stream_through_vertex(
        proxy: ProxyEnv, user_on: Callable[..., str]) -> None:
    user = user_on()
    async with AsyncQuotaGateway(proxy.env.secret, base_url=proxy.base_url) as aqg:
        client = aqg.anthropic_vertex(user, project=PROJECT, region=LOCATION, max_retries=0)
        async with client.messages.stream(model=CLAUDE, max_tokens=50, messages=HELLO,
                                          extra_headers={"x-sim": "deltas=2, output=6"}) as stream:
            text = "".join([piece async for piece in stream.text_stream])
            final = await stream.get_final_message()
        await client.close()
        google = aqg.vertex_gemini(user, project=PROJECT, location=LOCATION).aio
        answer = await google.models.generate_content(model=FLASH, contents=HELLO_TEXT, config=config("output=3"))
        await google.aclose()
    assert text.split() == [f"tok{i}" for i in range(6)] and final.usage.output_tokens == 6
    assert answer.usage_metadata is not None and answer.usage_metadata.candidates_token_count == 3
    stats = await asyncio.to_thread(proxy.stats)
    used = await asyncio.to_thread(settled, proxy.env, user)
    assert used == (reported(stats), 0) == (final.usage.input_tokens + 6 + HELLO_TOKENS + 3, 0)
    sent = vertex_requests(stats)
    assert [r["path"] for r in sent] == [claude_path("streamRawPredict"), gemini_path("generateContent")]
    assert_minted_tokens_alone(sent, proxy.env.secret)


# Denials.

def test_a_denial_is_each_clients_own_error_asked_once_and_the_provider_never_called(
        proxy: ProxyEnv, pqg: QuotaGateway, user_on: Callable[..., str]) -> None:
    # A lifetime quota never resets: no window to wait for, whatever the date.
    user = user_on(5, period="lifetime")
    before = (proxy_calls(proxy, "denied", "vertex", "generate"), proxy_calls(proxy, "denied", "vertex", "messages"))
    client = gemini(pqg, user)
    with pytest.raises(errors.ClientError) as refused:
        client.models.generate_content(model=FLASH, contents=HELLO_TEXT, config=config(max_output_tokens=10))
    error = refused.value
    assert (error.code, error.status) == (429, "RESOURCE_EXHAUSTED")
    assert "more than its whole quota" in (error.message or "")
    headers = error.response.headers
    assert (headers["x-should-retry"], headers["x-quota-code"], headers["x-quota-denied-by"]) == (
        "false", "insufficient_quota", "g")
    assert "limit_reached" in headers["x-quota-reasons"] and "retry-after" not in headers
    with pytest.raises(errors.ClientError) as refused_stream:
        list(client.models.generate_content_stream(model=FLASH, contents=HELLO_TEXT,
                                                   config=config(max_output_tokens=10)))
    assert refused_stream.value.code == 429
    # AnthropicVertex's retries left on: the gateway's x-should-retry stops them.
    with pytest.raises(anthropic.RateLimitError) as refused_too:
        claude(pqg, user, max_retries=2).messages.create(model=CLAUDE, max_tokens=10,
                                                         messages=HELLO)
    assert refused_too.value.status_code == 429
    assert refused_too.value.response.headers["x-should-retry"] == "false"
    body = refused_too.value.body
    assert isinstance(body, dict) and body["error"]["status"] == "RESOURCE_EXHAUSTED", "Google's shape, as Vertex's"
    after = (proxy_calls(proxy, "denied", "vertex", "generate"), proxy_calls(proxy, "denied", "vertex", "messages"))
    assert (after[0] - before[0], after[1] - before[1]) == (2, 1), "each client asked once a call"
    assert len(ledger(pqg, user, "denied")) == 3
    stats = proxy.stats()
    assert provider_calls(stats) == 0 and vertex_requests(stats) == []
    assert settled(proxy.env, user) == (0, 0)


@pytest.mark.parametrize("model", ["gemini", "claude"])
async def test_a_hundred_parallel_calls_admit_exactly_the_fifty_worst_cases_the_budget_holds(
        model: str, patient_proxy: ProxyEnv, user_on: Callable[..., str]) -> None:
    # The node that waits longer for Redis: 32 calls at once may queue past the default 250 ms.
    proxy = patient_proxy
    user = user_on(500, {"metadata": "output_tokens"})
    operation = "generate" if model == "gemini" else "messages"
    denied_before = await asyncio.to_thread(proxy_calls, proxy, "denied", "vertex", operation)
    gate = asyncio.Semaphore(32)
    async with AsyncQuotaGateway(proxy.env.secret, base_url=proxy.base_url) as aqg:
        google = aqg.vertex_gemini(user, project=PROJECT, location=LOCATION).aio
        # Its own retries left on: a denial is not asked again.
        messages = aqg.anthropic_vertex(user, project=PROJECT, region=LOCATION)

        async def one() -> str:
            async with gate:
                try:
                    if model == "gemini":
                        answer = await google.models.generate_content(
                            model=FLASH, contents=HELLO_TEXT, config=config("output=10", max_output_tokens=10))
                        assert answer.usage_metadata is not None
                        assert answer.usage_metadata.candidates_token_count == 10
                    else:
                        message = await messages.messages.create(model=CLAUDE, max_tokens=10,
                                                                 messages=HELLO,
                                                                 extra_headers={"x-sim": "output=10"})
                        assert message.usage.output_tokens == 10
                    return "admitted"
                except (errors.ClientError, anthropic.RateLimitError) as err:
                    assert getattr(err, "code", None) == 429 or getattr(err, "status_code", None) == 429, err
                    return "denied"

        outcomes = await asyncio.wait_for(asyncio.gather(*(one() for _ in range(100))), 60)
        await google.aclose()
        await messages.close()
    assert (outcomes.count("admitted"), outcomes.count("denied")) == (50, 50)
    stats = await asyncio.to_thread(proxy.stats)
    assert provider_calls(stats) == 50, "a denied call never reaches the provider"
    assert stats["usage"]["output_tokens"] == 500
    assert_minted_tokens_alone(vertex_requests(stats), proxy.env.secret)
    assert await asyncio.to_thread(settled, proxy.env, user) == (500, 0)
    denied = await asyncio.to_thread(proxy_calls, proxy, "denied", "vertex", operation)
    assert denied - denied_before == 50, "each denial was asked once"


# The gateway's access tokens.

async def test_the_gateways_access_token_is_renewed_under_load_and_no_call_fails(
        patient_proxy: ProxyEnv, user_on: Callable[..., str]) -> None:
    proxy = patient_proxy
    user = user_on()
    # Calls without a pause for more than two tokens' lives: the gateway renews its token at three
    # quarters of its life, once, while the other calls go on with the one it holds.
    seconds = 2 * TOKEN_LIFETIME + 1
    failures: List[BaseException] = []
    done = {"gemini": 0, "claude": 0}
    async with AsyncQuotaGateway(proxy.env.secret, base_url=proxy.base_url) as aqg:
        google = aqg.vertex_gemini(user, project=PROJECT, location=LOCATION).aio
        messages = aqg.anthropic_vertex(user, project=PROJECT, region=LOCATION, max_retries=0)
        deadline = time.monotonic() + seconds

        async def caller(n: int) -> None:
            while time.monotonic() < deadline:
                try:
                    if n % 2:
                        await google.models.generate_content(model=FLASH, contents=HELLO_TEXT,
                                                             config=config("output=2", max_output_tokens=10))
                        done["gemini"] += 1
                    else:
                        await messages.messages.create(model=CLAUDE, max_tokens=10,
                                                       messages=HELLO)
                        done["claude"] += 1
                except Exception as err:  # noqa: BLE001 - every failure is reported below
                    failures.append(err)

        await asyncio.wait_for(asyncio.gather(*(caller(n) for n in range(8))), seconds + WAIT_SECONDS)
        await google.aclose()
        await messages.close()
    assert failures == [], failures[:3]
    calls = done["gemini"] + done["claude"]
    stats = await asyncio.to_thread(proxy.stats)
    assert provider_calls(stats) == calls and min(done.values()) > 0
    # Renewed at least twice in the time, and far less often than there were calls.
    assert 2 <= minted(stats) <= max(3, calls // 10), (minted(stats), calls)
    assert stats["paths"]["/token"] == minted(stats), "every grant the gateway made was good"
    assert_minted_tokens_alone(vertex_requests(stats), proxy.env.secret)
    tokens = {r["headers"]["authorization"] for r in vertex_requests(stats)}
    assert len(tokens) <= minted(stats) + 1, "the calls of the last kept requests shared few tokens"
    assert await asyncio.to_thread(settled, proxy.env, user) == (reported(stats), 0)


# What passes free, and what does not pass.

def test_count_tokens_of_both_publishers_passes_free(
        proxy: ProxyEnv, pqg: QuotaGateway, user_on: Callable[..., str]) -> None:
    user = user_on()
    google = gemini(pqg, user)
    assert google.models.count_tokens(model=FLASH, contents=HELLO_TEXT).total_tokens == HELLO_TOKENS
    counted = claude(pqg, user, max_retries=0).messages.count_tokens(model=CLAUDE, messages=HELLO)
    assert counted.input_tokens == HELLO_TOKENS
    stats = proxy.stats()
    sent = vertex_requests(stats)
    assert [r["path"] for r in sent] == [
        gemini_path("countTokens"), claude_path("rawPredict", "count-tokens")], "count-tokens is no model"
    assert_minted_tokens_alone(sent, proxy.env.secret)
    assert stats["usage"]["input_tokens"] == 0 and stats["usage"]["output_tokens"] == 0
    assert settled(proxy.env, user) == (0, 0)
    assert ledger(pqg, user) == [], "nothing held, nothing charged"


def test_an_express_mode_path_is_not_served_and_a_wrong_key_is_refused_before_the_provider(
        proxy: ProxyEnv, user_on: Callable[..., str]) -> None:
    user = user_on()
    body = {"contents": [{"role": "user", "parts": [{"text": HELLO_TEXT}]}]}
    express = httpx.post(f"{proxy.base_url}/proxy/vertex/v1/publishers/google/models/{FLASH}:generateContent",
                         json=body, headers={"Authorization": f"Bearer {proxy.env.secret}", "X-Quota-User": user},
                         timeout=WAIT_SECONDS)
    assert express.status_code == 404 and express.json()["error"]["status"] == "NOT_FOUND", express.text
    assert express.headers["x-quota-code"] == "route_not_found"
    wrong = vertex_gemini_client(proxy.base_url, "qg_sk_" + "x" * 40, user=user, project=PROJECT, location=LOCATION)
    with pytest.raises(errors.ClientError) as refused:
        wrong.models.generate_content(model=FLASH, contents=HELLO_TEXT)
    assert (refused.value.code, refused.value.status) == (401, "UNAUTHENTICATED")
    with pytest.raises(anthropic.AuthenticationError):
        anthropic_vertex_client(proxy.base_url, "qg_sk_" + "x" * 40, user=user, project=PROJECT, region=LOCATION,
                                max_retries=0).messages.create(model=CLAUDE, max_tokens=10,
                                                               messages=HELLO)
    stats = proxy.stats()
    assert provider_calls(stats) == 0 and vertex_requests(stats) == []
