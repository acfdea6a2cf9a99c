"""Amazon Bedrock through the gateway, as boto3's `bedrock-runtime` client calls it (`converse`,
`converse_stream`, `invoke_model`, `invoke_model_with_response_stream`; built by the SDK's helper
and sent over HTTPS, as boto3 sends a Bedrock API key only so) and as `AnthropicBedrock` calls it:
each call held before the provider sees it and the reported usage committed (a stream's from its
last event), Converse as `<upstream>.converse` and invoke as `<upstream>.messages`, a denial raised
as the client's own error and not asked again, Bedrock's request id passed through. The upstream
`bedrock` signs for the simulator with the gateway's AWS credentials (Signature Version 4, which
the simulator recomputes with botocore's own signer), `bedrock-key` sends the simulator's key as a
Bedrock API key; neither sends the caller's key."""

from __future__ import annotations

import asyncio
import json
import sys
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Callable, Dict, Iterator, List, Optional
from urllib.parse import unquote

import anthropic
import botocore.exceptions
import pytest
from botocore.awsrequest import AWSResponse
from botocore.config import Config
from conftest import AWS_KEY, BEDROCK_APP_MODEL, BEDROCK_APP_PROFILE, SIM_SECRET, Env, ProxyEnv, TlsFronts
from test_proxy import ledger, proxy_calls, reported, settled

from quota_gateway import AsyncQuotaGateway, QuotaGateway, bedrock_runtime_client

USER_PREFIX = "br"
MODEL = "anthropic.claude-haiku-4-5-20251001-v1:0"
# A cross-region inference profile: the id boto3 sends URL-encoded (`%3A`), as it sends any.
PROFILE = "us.anthropic.claude-haiku-4-5-20251001-v1:0"
HELLO = [{"role": "user", "content": "Say hello to the quota gateway"}]
CONVERSE_HELLO = [{"role": "user", "content": [{"text": "Say hello to the quota gateway"}]}]
INVOKE_VERSION = "bedrock-2023-05-31"
CONVERSE_EVENTS = ["messageStart"] + ["contentBlockDelta"] * 5 + ["contentBlockStop", "messageStop", "metadata"]


def runtime(tls: TlsFronts, node: ProxyEnv, user: Optional[str], *, key: str = "", sim: str = "",
            **client_kwargs: Any) -> Any:
    """boto3's client through `node`'s TLS front with the gateway's key (else `key`), as the SDK's
    helper builds it, botocore's retries left as they are; `sim` steers the simulator."""
    client = bedrock_runtime_client(tls.url(node), key or node.env.secret, user=user, verify=tls.cert,
                                    **client_kwargs)
    if sim:
        steer(client, sim)
    return client


def steer(client: Any, directives: str) -> None:
    """`x-sim` on each request of a boto3 client, as `extra_headers` adds it to an SDK's call."""
    def add(request: Any, **_: Any) -> None:
        request.headers["x-sim"] = directives
    client.meta.events.register("before-sign.bedrock-runtime", add)


def provider_requests(stats: Dict[str, Any]) -> List[Dict[str, Any]]:
    return [r for r in stats["requests"] if r["path"].startswith("/model/")]


def assert_bedrocks_credential(sent: Dict[str, Any], upstream: str) -> None:
    """What the simulator was sent as Bedrock's credential: the gateway's signature (`bedrock`,
    which the simulator checked) or the simulator's key (`bedrock-key`); never the caller's key,
    nor a quota header."""
    headers = sent["headers"]
    if upstream == "bedrock":
        assert headers["authorization"].startswith(f"AWS4-HMAC-SHA256 Credential={AWS_KEY[0]}/")
        assert "/us-east-1/bedrock/aws4_request" in headers["authorization"]
        assert headers["x-amz-security-token"] == AWS_KEY[2]
    else:
        assert headers["authorization"] == f"Bearer {SIM_SECRET}"
    assert not any(name.startswith("x-quota-") for name in headers)


# The helpers, against a stand-in for the network: botocore's `before-send` answers instead.

class _Body:
    """An answer's body as botocore reads it from urllib3."""

    def __init__(self, data: bytes) -> None:
        self._data = data

    def stream(self, **_: Any) -> Iterator[bytes]:
        yield self._data


def answer_with(client: Any, status: int, headers: Dict[str, str], body: Any) -> List[Any]:
    """Every request the client sends is answered so, unsent; the requests, as sent."""
    sent: List[Any] = []

    def send(request: Any, **_: Any) -> AWSResponse:
        sent.append(request)
        return AWSResponse(request.url, status, {"content-type": "application/json", **headers},
                           _Body(json.dumps(body).encode()))
    client.meta.events.register("before-send.bedrock-runtime", send)
    return sent


CONVERSED = {"output": {"message": {"role": "assistant", "content": [{"text": "hello"}]}}, "stopReason": "end_turn",
             "usage": {"inputTokens": 7, "outputTokens": 1, "totalTokens": 8}, "metrics": {"latencyMs": 1}}


def test_the_helpers_build_boto3_and_anthropic_bedrock_clients_that_send_the_gateways_key_alone(
        env: Env, monkeypatch: pytest.MonkeyPatch) -> None:
    # The process's own AWS credentials and Bedrock key are never what the client sends.
    for name, value in (("AWS_BEARER_TOKEN_BEDROCK", "the-process-own-bedrock-key"),
                        ("AWS_ACCESS_KEY_ID", "AKIDPROCESS"), ("AWS_SECRET_ACCESS_KEY", "process-secret")):
        monkeypatch.setenv(name, value)
    qg = QuotaGateway(env.secret, base_url="https://127.0.0.1:9/")
    client = qg.bedrock_runtime("alice", region="eu-west-1", metadata={"feature": "summary"}, run="run_1",
                                action="draft", kind="retry")
    assert (client.meta.endpoint_url, client.meta.region_name) == ("https://127.0.0.1:9/proxy/bedrock", "eu-west-1")
    sent = answer_with(client, 200, {"x-amzn-RequestId": "req-1"}, CONVERSED)
    answer = client.converse(modelId=PROFILE, messages=CONVERSE_HELLO)
    assert (answer["usage"]["totalTokens"], answer["ResponseMetadata"]["RequestId"]) == (8, "req-1")
    [request] = sent
    assert request.url == "https://127.0.0.1:9/proxy/bedrock/model/us.anthropic.claude-haiku-4-5-20251001-v1%3A0/converse"
    headers = {name.lower(): value.decode() if isinstance(value, bytes) else value
               for name, value in request.headers.items()}
    assert headers["authorization"] == f"Bearer {env.secret}" and "x-amz-security-token" not in headers
    assert (headers["x-quota-user"], headers["x-quota-metadata"]) == ("alice", '{"feature":"summary"}')
    assert (headers["x-quota-run"], headers["x-quota-action"], headers["x-quota-kind"]) == ("run_1", "draft", "retry")

    device = bedrock_runtime_client("https://127.0.0.1:9", "qg_uk_example", upstream="bedrock-eu")
    sent = answer_with(device, 200, {}, CONVERSED)
    device.converse(modelId=MODEL, messages=CONVERSE_HELLO)
    assert sent[0].url.startswith("https://127.0.0.1:9/proxy/bedrock-eu/model/")
    assert sent[0].headers["Authorization"] == b"Bearer qg_uk_example"
    assert "X-Quota-User" not in sent[0].headers, "a user key is its own user"
    claude = qg.anthropic_bedrock("bob", region="us-west-2", max_retries=0)
    assert isinstance(claude, anthropic.AnthropicBedrock)
    assert (str(claude.base_url), claude.api_key, claude.aws_region) == (
        "https://127.0.0.1:9/proxy/bedrock/", env.secret, "us-west-2")
    assert claude.default_headers["X-Quota-User"] == "bob"
    aqg = AsyncQuotaGateway(env.secret, base_url="https://127.0.0.1:9")
    assert isinstance(aqg.anthropic_bedrock("alice"), anthropic.AsyncAnthropicBedrock)
    assert aqg.bedrock_runtime("alice").meta.endpoint_url == "https://127.0.0.1:9/proxy/bedrock"
    with pytest.raises(ValueError, match="user="):
        bedrock_runtime_client("https://127.0.0.1:9", env.secret)
    with pytest.raises(TypeError, match="endpoint_url"):
        qg.bedrock_runtime("alice", endpoint_url="https://bedrock-runtime.us-east-1.amazonaws.com")
    with pytest.raises(TypeError, match="aws_access_key_id"):
        qg.bedrock_runtime("alice", aws_access_key_id="AKID", aws_secret_access_key="s")
    with pytest.raises(TypeError, match="aws_secret_key"):
        qg.anthropic_bedrock("alice", aws_secret_key="s")


def test_a_denial_is_not_asked_again_though_botocore_retries_a_throttling(env: Env) -> None:
    qg = QuotaGateway(env.secret, base_url="https://127.0.0.1:9")
    throttled = {"x-amzn-ErrorType": "ThrottlingException:http://internal.amazon.com/coral/com.amazon.bedrock/"}
    denied = qg.bedrock_runtime("alice")  # botocore's retries as they are: 3 attempts in its standard mode
    sent = answer_with(denied, 429, {**throttled, "x-should-retry": "false"}, {"message": "quota exceeded"})
    with pytest.raises(denied.exceptions.ThrottlingException) as refused:
        denied.converse(modelId=MODEL, messages=CONVERSE_HELLO)
    assert (len(sent), refused.value.response["ResponseMetadata"]["RetryAttempts"]) == (1, 0)
    # Bedrock's own throttling, which says nothing of it, is retried as botocore retries it.
    throttling = qg.bedrock_runtime("alice", config=Config(retries={"total_max_attempts": 2}))
    sent = answer_with(throttling, 429, throttled, {"message": "Too many requests, please wait before trying again."})
    with pytest.raises(throttling.exceptions.ThrottlingException):
        throttling.converse(modelId=MODEL, messages=CONVERSE_HELLO)
    assert len(sent) == 2
    assert throttling.meta.config.signature_version == "bearer", "a given config keeps the bearer scheme"


def test_the_key_never_leaves_but_over_https_and_a_missing_extra_says_which_to_install(
        env: Env, monkeypatch: pytest.MonkeyPatch) -> None:
    plain = QuotaGateway(env.secret, base_url="http://127.0.0.1:9").bedrock_runtime("alice")
    sent = answer_with(plain, 200, {}, CONVERSED)
    with pytest.raises(botocore.exceptions.InvalidEndpointConfigurationError, match="HTTPS"):
        plain.converse(modelId=MODEL, messages=CONVERSE_HELLO)
    assert sent == [], "refused before anything was sent"
    monkeypatch.setitem(sys.modules, "boto3", None)  # as if it were not installed
    with pytest.raises(ImportError, match=r"quota-gateway\[bedrock\]"):
        QuotaGateway(env.secret).bedrock_runtime("alice")


# Through the gateway and its TLS front, to the simulator.

@pytest.mark.parametrize("upstream", ["bedrock", "bedrock-key"])
def test_converse_is_held_and_commits_the_reported_usage_signed_or_with_an_api_key(
        upstream: str, proxy: ProxyEnv, pqg: QuotaGateway, tls: TlsFronts, user_on: Callable[..., str]) -> None:
    user = user_on()
    with QuotaGateway(proxy.env.secret, base_url=tls.url(proxy)) as over_tls:
        client = over_tls.bedrock_runtime(user, upstream=upstream, metadata={"feature": "summary"}, verify=tls.cert)
    steer(client, "output=4")
    answer = client.converse(modelId=MODEL, messages=CONVERSE_HELLO, system=[{"text": "be brief"}],
                             inferenceConfig={"maxTokens": 20})
    usage = answer["usage"]
    assert answer["output"]["message"]["content"][0]["text"] and usage["outputTokens"] == 4
    stats = proxy.stats()
    assert stats["calls"] == 1
    assert settled(proxy.env, user) == (reported(stats), 0) == (usage["inputTokens"] + usage["outputTokens"], 0)
    (entry,) = ledger(pqg, user, "commit")
    meta = entry.metadata or {}
    assert entry.event == f"{upstream}.converse"
    assert (meta["upstream"], meta["model"], meta["stream"], meta["usage"], meta["feature"]) == (
        upstream, MODEL, False, "reported", "summary")
    assert (meta["input_tokens"], meta["output_tokens"]) == (usage["inputTokens"], usage["outputTokens"])
    request_id = answer["ResponseMetadata"]["RequestId"]
    assert request_id and meta["provider_request_id"] == request_id, "Bedrock's x-amzn-RequestId passed through"
    [sent] = provider_requests(stats)
    assert unquote(sent["path"]) == f"/model/{MODEL}/converse"
    assert_bedrocks_credential(sent, upstream)


def test_a_model_named_by_its_arn_is_held_as_the_profile_or_the_model_it_names(
        proxy: ProxyEnv, pqg: QuotaGateway, tls: TlsFronts, user_on: Callable[..., str]) -> None:
    # boto3 sends an ARN's `/` encoded in the path: one segment, held as the model it names
    # (a cross-region profile's own id; an application profile's model from the upstream's
    # `deployments`), forwarded as it came and signed so.
    user = user_on()
    with QuotaGateway(proxy.env.secret, base_url=tls.url(proxy)) as over_tls:
        client = over_tls.bedrock_runtime(user, verify=tls.cert)
    profile = f"arn:aws:bedrock:us-east-1:123456789012:inference-profile/{PROFILE}"
    for arn, held_as in ((profile, PROFILE), (BEDROCK_APP_PROFILE, BEDROCK_APP_MODEL)):
        answer = client.converse(modelId=arn, messages=CONVERSE_HELLO, inferenceConfig={"maxTokens": 20})
        assert answer["usage"]["outputTokens"] > 0
        sent = provider_requests(proxy.stats())[-1]
        assert "%2F" in sent["path"] and unquote(sent["path"]) == f"/model/{arn}/converse"
        entry = ledger(pqg, user, "commit")[-1]
        assert ((entry.metadata or {})["model"], (entry.metadata or {})["usage"]) == (held_as, "reported")
    assert settled(proxy.env, user)[1] == 0
    # Anywhere else an encoded `/` is refused before anything is held or forwarded.
    with pytest.raises(botocore.exceptions.ClientError):
        client.converse(modelId="anthropic/claude", messages=CONVERSE_HELLO, inferenceConfig={"maxTokens": 20})


def test_converse_stream_of_a_user_key_commits_the_usage_of_its_metadata_event(
        proxy: ProxyEnv, pqg: QuotaGateway, tls: TlsFronts, user_on: Callable[..., str]) -> None:
    user = user_on()
    made = pqg.create_user_key(user, label="cli")
    assert made.key is not None
    client = runtime(tls, proxy, None, key=made.key, upstream="bedrock-key", sim="output=5")
    answer = client.converse_stream(modelId=PROFILE, messages=CONVERSE_HELLO, inferenceConfig={"maxTokens": 30})
    events = list(answer["stream"])
    assert [next(iter(e)) for e in events] == CONVERSE_EVENTS
    usage = events[-1]["metadata"]["usage"]
    assert usage["outputTokens"] == 5
    stats = proxy.stats()
    assert stats["streams"]["completed"] == 1
    assert settled(proxy.env, user) == (reported(stats), 0) == (usage["inputTokens"] + usage["outputTokens"], 0)
    (entry,) = ledger(pqg, user, "commit")
    meta = entry.metadata or {}
    assert (entry.event, entry.key_id) == ("bedrock-key.converse", made.id)
    assert (meta["model"], meta["stream"], meta["output_tokens"], meta["usage"]) == (PROFILE, True, 5, "reported")
    assert meta["provider_request_id"] == answer["ResponseMetadata"]["RequestId"]
    [sent] = provider_requests(stats)
    assert unquote(sent["path"]) == f"/model/{PROFILE}/converse-stream"
    assert_bedrocks_credential(sent, "bedrock-key")


def test_invoke_model_is_held_as_messages_and_its_body_reaches_bedrock_as_sent(
        proxy: ProxyEnv, pqg: QuotaGateway, tls: TlsFronts, user_on: Callable[..., str]) -> None:
    user = user_on()
    body = json.dumps({"anthropic_version": INVOKE_VERSION, "max_tokens": 40, "messages": HELLO})
    answer = runtime(tls, proxy, user, sim="output=6").invoke_model(modelId=MODEL, body=body)
    message = json.loads(answer["body"].read())
    usage = message["usage"]
    assert (message["type"], usage["output_tokens"]) == ("message", 6)
    headers = answer["ResponseMetadata"]["HTTPHeaders"]
    assert headers["x-amzn-bedrock-output-token-count"] == "6", "Bedrock's own headers passed through"
    stats = proxy.stats()
    assert settled(proxy.env, user) == (reported(stats), 0) == (usage["input_tokens"] + usage["output_tokens"], 0)
    (entry,) = ledger(pqg, user, "commit")
    meta = entry.metadata or {}
    assert (entry.event, meta["model"], meta["stream"], meta["output_tokens"]) == ("bedrock.messages", MODEL, False, 6)
    assert meta["provider_request_id"] == answer["ResponseMetadata"]["RequestId"]
    [sent] = provider_requests(stats)
    assert unquote(sent["path"]) == f"/model/{MODEL}/invoke"
    assert sent["raw"] == body, "the very bytes boto3 sent, which the gateway's signature covers"
    assert_bedrocks_credential(sent, "bedrock")


def test_invoke_model_with_response_stream_commits_the_last_cumulative_output(
        proxy: ProxyEnv, pqg: QuotaGateway, tls: TlsFronts, user_on: Callable[..., str]) -> None:
    user = user_on()
    body = json.dumps({"anthropic_version": INVOKE_VERSION, "max_tokens": 40, "messages": HELLO})
    answer = runtime(tls, proxy, user, sim="deltas=3, output=7").invoke_model_with_response_stream(
        modelId=PROFILE, body=body)
    events = [json.loads(e["chunk"]["bytes"]) for e in answer["body"]]
    assert (events[0]["type"], events[-1]["type"]) == ("message_start", "message_stop")
    assert [e["usage"]["output_tokens"] for e in events if e["type"] == "message_delta"][-1] == 7
    metrics = events[-1]["amazon-bedrock-invocationMetrics"]
    assert (metrics["inputTokenCount"], metrics["outputTokenCount"]) == (
        events[0]["message"]["usage"]["input_tokens"], 7)
    stats = proxy.stats()
    assert stats["streams"]["completed"] == 1
    used = metrics["inputTokenCount"] + metrics["outputTokenCount"]
    assert settled(proxy.env, user) == (reported(stats), 0) == (used, 0), "the last count, not the deltas' sum"
    (entry,) = ledger(pqg, user, "commit")
    meta = entry.metadata or {}
    assert (entry.event, meta["model"], meta["stream"], meta["output_tokens"]) == ("bedrock.messages", PROFILE, True, 7)
    assert meta["provider_request_id"] == answer["ResponseMetadata"]["RequestId"]
    [sent] = provider_requests(stats)
    assert unquote(sent["path"]) == f"/model/{PROFILE}/invoke-with-response-stream"


def test_anthropic_bedrock_messages_plain_and_streamed_commit_the_reported_usage(
        proxy: ProxyEnv, pqg: QuotaGateway, user_on: Callable[..., str]) -> None:
    user = user_on()
    client = pqg.anthropic_bedrock(user, upstream="bedrock-key", max_retries=0)
    raw = client.messages.with_raw_response.create(model=MODEL, max_tokens=50, messages=HELLO,
                                                   extra_headers={"x-sim": "output=7"})
    message = raw.parse()
    assert message.usage.output_tokens == 7
    events = list(client.messages.create(model=PROFILE, max_tokens=50, messages=HELLO, stream=True,
                                         extra_headers={"x-sim": "deltas=3, output=9"}))
    start = events[0]
    assert start.type == "message_start"
    assert [e.usage.output_tokens for e in events if e.type == "message_delta"][-1] == 9
    stats = proxy.stats()
    used = message.usage.input_tokens + 7 + start.message.usage.input_tokens + 9
    assert settled(proxy.env, user) == (reported(stats), 0) == (used, 0)
    commits = ledger(pqg, user, "commit")
    assert [e.event for e in commits] == ["bedrock-key.messages"] * 2
    metas = [e.metadata or {} for e in commits]
    assert [(m["model"], m["stream"], m["output_tokens"]) for m in metas] == [(MODEL, False, 7), (PROFILE, True, 9)]
    assert metas[0]["provider_request_id"] == raw.headers["x-amzn-requestid"]
    sent = provider_requests(stats)
    assert [unquote(r["path"]) for r in sent] == [f"/model/{MODEL}/invoke",
                                                  f"/model/{PROFILE}/invoke-with-response-stream"]
    for request in sent:
        assert_bedrocks_credential(request, "bedrock-key")


async def test_the_async_anthropic_bedrock_client_streams_through_the_signing_upstream(
        proxy: ProxyEnv, user_on: Callable[..., str]) -> None:
    user = user_on()
    async with AsyncQuotaGateway(proxy.env.secret, base_url=proxy.base_url) as aqg:
        client = aqg.anthropic_bedrock(user, max_retries=0)
        async with client.messages.stream(model=MODEL, max_tokens=50, messages=HELLO,
                                          extra_headers={"x-sim": "deltas=2, output=6"}) as stream:
            text = "".join([piece async for piece in stream.text_stream])
            final = await stream.get_final_message()
        await client.close()
    assert text.split() == [f"tok{i}" for i in range(6)] and final.usage.output_tokens == 6
    stats = await asyncio.to_thread(proxy.stats)
    used = await asyncio.to_thread(settled, proxy.env, user)
    assert used == (reported(stats), 0) == (final.usage.input_tokens + 6, 0)
    [sent] = provider_requests(stats)
    assert_bedrocks_credential(sent, "bedrock")


def test_a_hundred_parallel_calls_admit_exactly_the_fifty_worst_cases_the_budget_holds(
        patient_proxy: ProxyEnv, tls: TlsFronts, user_on: Callable[..., str]) -> None:
    # The node that waits longer for Redis: 32 calls at once may queue past the default 250 ms.
    proxy = patient_proxy
    user = user_on(500, {"metadata": "output_tokens"})
    denied_before = proxy_calls(proxy, "denied", "bedrock", "converse")
    # botocore's retries left on: a denial must not be asked again.
    client = runtime(tls, proxy, user, sim="output=10", config=Config(max_pool_connections=32))

    def one(_: int) -> str:
        try:
            answer = client.converse(modelId=MODEL, messages=CONVERSE_HELLO, inferenceConfig={"maxTokens": 10})
            assert answer["usage"]["outputTokens"] == 10
            return "admitted"
        except client.exceptions.ThrottlingException:
            return "denied"

    with ThreadPoolExecutor(32) as pool:
        outcomes = list(pool.map(one, range(100), timeout=60))
    assert (outcomes.count("admitted"), outcomes.count("denied")) == (50, 50)
    stats = proxy.stats()
    assert stats["calls"] == 50, "a denied call never reaches the provider"
    assert stats["usage"]["output_tokens"] == 500
    assert settled(proxy.env, user) == (500, 0)
    assert proxy_calls(proxy, "denied", "bedrock", "converse") - denied_before == 50, "each denial was asked once"


def test_a_denial_is_the_clients_own_error_asked_once_and_the_provider_never_called(
        proxy: ProxyEnv, pqg: QuotaGateway, tls: TlsFronts, user_on: Callable[..., str]) -> None:
    # A lifetime quota never resets: no window to wait for, whatever the date.
    user = user_on(5, period="lifetime")
    before = (proxy_calls(proxy, "denied", "bedrock", "converse"), proxy_calls(proxy, "denied", "bedrock", "messages"))
    client = runtime(tls, proxy, user)
    with pytest.raises(client.exceptions.ThrottlingException) as refused:
        client.converse(modelId=MODEL, messages=CONVERSE_HELLO, inferenceConfig={"maxTokens": 10})
    error = refused.value.response
    headers = error["ResponseMetadata"]["HTTPHeaders"]
    assert (error["Error"]["Code"], error["ResponseMetadata"]["HTTPStatusCode"]) == ("ThrottlingException", 429)
    assert error["Error"]["Message"] and error["ResponseMetadata"]["RetryAttempts"] == 0
    assert (headers["x-should-retry"], headers["x-quota-code"], headers["x-quota-denied-by"]) == (
        "false", "insufficient_quota", "g")
    assert "limit_reached" in headers["x-quota-reasons"] and "retry-after" not in headers
    with pytest.raises(anthropic.RateLimitError) as refused_too:
        pqg.anthropic_bedrock(user, max_retries=2).messages.create(model=MODEL, max_tokens=10, messages=HELLO)
    assert refused_too.value.status_code == 429
    assert refused_too.value.response.headers["x-should-retry"] == "false"
    after = (proxy_calls(proxy, "denied", "bedrock", "converse"), proxy_calls(proxy, "denied", "bedrock", "messages"))
    assert (after[0] - before[0], after[1] - before[1]) == (1, 1), "each client asked once"
    assert len(ledger(pqg, user, "denied")) == 2
    assert proxy.stats()["calls"] == 0
    assert settled(proxy.env, user) == (0, 0)


def test_bedrocks_refusal_is_passed_through_and_releases_the_hold(
        proxy: ProxyEnv, pqg: QuotaGateway, tls: TlsFronts, user_on: Callable[..., str]) -> None:
    user = user_on()
    client = runtime(tls, proxy, user, sim="context=1")
    with pytest.raises(client.exceptions.ValidationException) as refused:
        client.converse(modelId=MODEL, messages=CONVERSE_HELLO, inferenceConfig={"maxTokens": 10})
    assert refused.value.response["Error"]["Message"] == "Input is too long for requested model."
    assert refused.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert proxy.stats()["calls"] == 1
    assert settled(proxy.env, user) == (0, 0)
    assert [e.kind for e in ledger(pqg, user, "commit", "release")] == ["release"]


def test_a_wrong_key_is_refused_before_the_provider(proxy: ProxyEnv, tls: TlsFronts, user_on: Callable[..., str]) -> None:
    user = user_on()
    client = runtime(tls, proxy, user, key="qg_sk_" + "x" * 40)
    with pytest.raises(botocore.exceptions.ClientError) as refused:
        client.converse(modelId=MODEL, messages=CONVERSE_HELLO, inferenceConfig={"maxTokens": 10})
    assert refused.value.response["ResponseMetadata"]["HTTPStatusCode"] == 401
    assert proxy.stats()["calls"] == 0
