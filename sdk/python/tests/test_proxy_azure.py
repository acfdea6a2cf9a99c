"""Azure OpenAI through the gateway, as the official `AzureOpenAI` client calls it (a deployment
in the path, `api-version` in the query, the key in `api-key`), and as the plain `OpenAI` client
calls Azure's `openai/v1` paths: each deployment held and priced as the model it serves (a batch too), the
reported usage committed, a denial raised as the client's own `RateLimitError`, the provider's
request id passed through. The simulator checks what Azure checks: its own key in `api-key`
(never the caller's) and an `api-version` on a deployment's path."""

from __future__ import annotations

import asyncio
import json
from typing import Callable

import openai
import pytest
from conftest import AZURE, ProxyEnv
from test_proxy import HELLO, ledger, reported, settled

from quota_gateway import AsyncQuotaGateway, QuotaGateway, azure_openai_client

USER_PREFIX = "az"
API_VERSION = "2024-10-21"


def azure(proxy: ProxyEnv, user: str, key: str = "", upstream: str = "azure") -> openai.AzureOpenAI:
    """The official client pointed at the gateway's Azure upstream with the gateway's key, as the
    SDK's helper builds it."""
    client = azure_openai_client(proxy.base_url, key or proxy.env.secret, api_version=API_VERSION, user=user,
                                 upstream=upstream, max_retries=0)
    assert isinstance(client, openai.AzureOpenAI)
    return client


def test_a_deployments_chat_is_held_as_its_model_and_commits_the_reported_usage(
        proxy: ProxyEnv, pqg: QuotaGateway, user_on: Callable[..., str]) -> None:
    user = user_on()
    client = pqg.azure_openai(user, api_version=API_VERSION, max_retries=0)
    assert str(client.base_url) == f"{proxy.base_url}/proxy/azure/openai/"
    answer = client.chat.completions.create(model="chat-prod", messages=HELLO, max_tokens=20)
    assert answer.choices[0].message.content and answer.usage is not None
    stats = proxy.stats()
    assert stats["calls"] == 1
    assert settled(proxy.env, user) == (reported(stats), 0) == (answer.usage.total_tokens, 0)
    (entry,) = ledger(pqg, user, "commit")
    assert entry.event == "azure.chat"
    assert (entry.metadata or {})["model"] == AZURE["chat-prod"], "the deployment's model, not its name"
    assert answer._request_id, "the provider's request id passed through"


def test_an_upstream_with_an_entra_id_token_sends_it_as_a_bearer_token(
        proxy: ProxyEnv, user_on: Callable[..., str]) -> None:
    user = user_on()
    answer = azure(proxy, user, upstream="azure-entra").chat.completions.create(model="chat-prod", messages=HELLO,
                                                                               max_tokens=20)
    assert answer.usage is not None
    assert settled(proxy.env, user) == (answer.usage.total_tokens, 0)


def test_a_streamed_chat_commits_the_usage_of_its_last_chunk(
        proxy: ProxyEnv, user_on: Callable[..., str]) -> None:
    user = user_on()
    stream = azure(proxy, user).chat.completions.create(model="chat-prod", messages=HELLO, max_tokens=30, stream=True,
                                                         stream_options={"include_usage": True})
    chunks = list(stream)
    usage = chunks[-1].usage
    assert usage is not None and "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert settled(proxy.env, user) == (usage.total_tokens, 0) == (reported(proxy.stats()), 0)


def test_embeddings_of_a_deployment_and_the_v1_paths_count_as_their_models(
        proxy: ProxyEnv, pqg: QuotaGateway, user_on: Callable[..., str]) -> None:
    user = user_on()
    embedded = azure(proxy, user).embeddings.create(model="embed-prod", input="the quota gateway")
    assert embedded.usage.total_tokens > 0
    assert settled(proxy.env, user) == (embedded.usage.total_tokens, 0)
    # Azure's v1 paths take the deployment as the body's model, as OpenAI's own client sends it.
    v1 = openai.OpenAI(base_url=proxy.base_url + "/proxy/azure/openai/v1", api_key=proxy.env.secret,
                       default_headers={"X-Quota-User": user}, max_retries=0)
    answer = v1.chat.completions.create(model="chat-prod", messages=HELLO, max_tokens=20)
    assert answer.usage is not None
    assert settled(proxy.env, user) == (embedded.usage.total_tokens + answer.usage.total_tokens, 0)
    models = [(e.event, (e.metadata or {})["model"]) for e in ledger(pqg, user, "commit")]
    assert models == [("azure.embeddings", AZURE["embed-prod"]), ("azure.chat", AZURE["chat-prod"])]


async def test_a_hundred_parallel_calls_admit_exactly_the_fifty_worst_cases_the_budget_holds(
        proxy: ProxyEnv, user_on: Callable[..., str]) -> None:
    user = user_on(500, {"metadata": "output_tokens"})
    aqg = AsyncQuotaGateway(proxy.env.secret, base_url=proxy.base_url)
    client = aqg.azure_openai(user, api_version=API_VERSION)  # its own retries left on: a denial is not retried
    assert isinstance(client, openai.AsyncAzureOpenAI)
    gate = asyncio.Semaphore(32)

    async def one() -> str:
        async with gate:
            try:
                await client.chat.completions.create(model="chat-prod", messages=HELLO, max_tokens=10,
                                                     extra_headers={"x-sim": "output=10"})
                return "admitted"
            except openai.RateLimitError:
                return "denied"

    outcomes = await asyncio.wait_for(asyncio.gather(*(one() for _ in range(100))), 50)
    await client.close()
    await aqg.aclose()
    assert (outcomes.count("admitted"), outcomes.count("denied")) == (50, 50)
    stats = proxy.stats()
    assert stats["calls"] == 50, "a denied call never reaches the provider"
    assert stats["usage"]["output_tokens"] == 500
    assert settled(proxy.env, user) == (500, 0)


def test_a_batch_of_a_deployment_is_held_whole_as_its_model_and_settles_the_reported_usage(
        proxy: ProxyEnv, pqg: QuotaGateway, user_on: Callable[..., str]) -> None:
    user = user_on()
    client = azure(proxy, user)
    # Azure's batch lines name their path without `/v1`, and a deployment as the model.
    lines = [{"custom_id": f"req-{i}", "method": "POST", "url": "/chat/completions",
              "body": {"model": "chat-prod", "max_tokens": 20, "messages": HELLO}} for i in range(3)]
    content = "".join(json.dumps(line) + "\n" for line in lines).encode()
    file = client.files.create(file=("batch.jsonl", content), purpose="batch")
    batch = client.batches.create(input_file_id=file.id, endpoint="/chat/completions", completion_window="24h",
                                  extra_headers={"x-sim": "reads=2"})
    [job] = pqg.usage(user).jobs
    assert (job.id, job.upstream, job.kind, job.model) == (batch.id, "azure", "batch", AZURE["chat-prod"])
    assert job.held["output_tokens"] == 3 * 20, "each line at its max_tokens"
    for _ in range(5):
        batch = client.batches.retrieve(batch.id)
        if batch.status == "completed":
            break
    assert batch.status == "completed" and batch.usage is not None
    assert settled(proxy.env, user) == (batch.usage.total_tokens, 0), "the reported usage, the rest released"
    assert pqg.usage(user).jobs == []
    [entry] = [e for e in ledger(pqg, user, "commit") if e.event == "azure.batches"]
    assert (entry.metadata or {})["model"] == AZURE["chat-prod"]


def test_a_denial_is_the_clients_rate_limit_error_and_the_provider_never_called(
        proxy: ProxyEnv, user_on: Callable[..., str]) -> None:
    user = user_on(5, period="lifetime")
    with pytest.raises(openai.RateLimitError) as refused:
        azure(proxy, user).chat.completions.create(model="chat-prod", messages=HELLO, max_tokens=10)
    assert refused.value.status_code == 429 and refused.value.code == "insufficient_quota"
    assert refused.value.response.headers["x-should-retry"] == "false"
    assert proxy.stats()["calls"] == 0
    assert settled(proxy.env, user) == (0, 0)


def test_a_wrong_key_in_api_key_is_refused_before_the_provider(
        proxy: ProxyEnv, user_on: Callable[..., str]) -> None:
    user = user_on()
    with pytest.raises(openai.AuthenticationError):
        azure(proxy, user, key="qg_sk_" + "x" * 40).chat.completions.create(model="chat-prod", messages=HELLO,
                                                                           max_tokens=10)
    assert proxy.stats()["calls"] == 0
