"""Azure OpenAI's realtime sessions through the gateway, as `AsyncAzureOpenAI(...).realtime.connect`
opens them (`openai/realtime?api-version=...&deployment=<deployment>`, the gateway's key in
`api-key`) and as OpenAI's own client opens Azure's v1 path (`openai/v1/realtime?model=<deployment>`,
the key as a bearer token): the session held as the model the upstream's `deployments` map names,
each response committed at its usage as that model, the provider called with the upstream's
credential and never the caller's, and a response the budget cannot hold refused with an `error`
event the provider never sees. The simulator checks what Azure checks (its key in `api-key`, or
the Entra ID token as a bearer token; an `api-version` off v1) and serves the deployment as its
model."""

from __future__ import annotations

import asyncio
import time
from typing import Any, Callable, Dict, List, Tuple

import openai
import pytest
from conftest import AZURE, ENTRA_TOKEN, SIM_SECRET, ProxyEnv
from test_proxy import ledger, settled
from test_proxy_realtime import ask, plan, responses, sessions, until

from quota_gateway import AsyncQuotaGateway, QuotaGateway

USER_PREFIX = "rtaz"
DEPLOYMENT = "chat-prod"
MODEL = AZURE[DEPLOYMENT]
API_VERSION = "2025-04-01-preview"
# Each response asks its maximum: the tests' deployment serves a chat model, whose own output
# bound (16,384 tokens), which the gateway would hold a response without one at and write into
# it, is past what a Realtime session takes (4,096).
MAX_OUTPUT = 50


def responses_of(upstream: str, quota: float = 1_000_000) -> Dict[str, Any]:
    return {"id": "g", "unit": "tokens", "quota": quota, "matches": [{"event": f"{upstream}.realtime_response"}]}


def websocket_base(proxy: ProxyEnv, upstream: str = "azure") -> str:
    """The Azure endpoint's socket base (`.../openai`): the client makes it `wss` from an http
    endpoint, and the gateway listens on plain HTTP."""
    return f"ws://{proxy.base_url.split('://', 1)[1]}/proxy/{upstream}/openai"


@pytest.fixture
def aqg(proxy: ProxyEnv) -> Any:
    return AsyncQuotaGateway(proxy.env.secret, base_url=proxy.base_url)


def azure(aqg: AsyncQuotaGateway, proxy: ProxyEnv, user: str) -> openai.AsyncAzureOpenAI:
    return aqg.azure_openai(user, api_version=API_VERSION, websocket_base_url=websocket_base(proxy), max_retries=0)


def provider_request(proxy: ProxyEnv) -> Dict[str, Any]:
    """The provider's last upgrade request: its path and query."""
    (found,) = [r for r in proxy.stats()["requests"] if "realtime" in r["path"]]
    return dict(found)


def test_a_deployments_session_is_held_and_committed_as_its_model_with_the_upstreams_key(
        proxy: ProxyEnv, pqg: QuotaGateway, aqg: AsyncQuotaGateway, fresh_user: Callable[..., str]) -> None:
    user = fresh_user(USER_PREFIX)
    plan(proxy.env, user, [responses_of("azure")])

    async def run() -> Tuple[Any, List[Any]]:
        done = []
        async with azure(aqg, proxy, user).realtime.connect(
                model=DEPLOYMENT, extra_headers={"x-sim": "output=6"}) as connection:
            created = await until(connection, "session.created")
            jobs = pqg.usage(user).jobs
            assert [(j.id, j.kind, j.model) for j in jobs] == [(created.session.id, "realtime_session", MODEL)]
            for i in range(3):
                found = await ask(connection, f"turn {i} of the talk", max_output_tokens=MAX_OUTPUT)
                assert found.type == "response.done", found
                done.append(found.response)
        return created, done

    created, done = asyncio.run(run())
    assert created.session.model == MODEL, "the provider serves the deployment as its model"
    deadline = time.monotonic() + 10
    while pqg.usage(user).jobs and time.monotonic() < deadline:
        time.sleep(0.05)
    assert pqg.usage(user).jobs == [], "closed, it is no longer open"
    billed = sum(r.usage.input_tokens + r.usage.output_tokens for r in done)
    assert all(r.usage.output_tokens == 6 for r in done)
    assert settled(proxy.env, user) == (billed, 0)
    commits = [c for c in ledger(pqg, user, "commit") if c.event == "azure.realtime_response"]
    assert len(commits) == 3
    assert {(c.metadata or {})["model"] for c in commits} == {MODEL}, "the deployment's model, not its name"
    # The provider: Azure's path and query as the caller sent them, the upstream's key in
    # `api-key`, and nothing of the caller's credential.
    (session,) = sessions(proxy)
    assert (session["model"], session["deployment"]) == (MODEL, DEPLOYMENT)
    assert session["headers"]["api-key"] == SIM_SECRET
    assert "authorization" not in session["headers"]
    assert proxy.env.secret not in str(session["headers"])
    request = provider_request(proxy)
    assert request["path"] == "/openai/realtime"
    assert f"deployment={DEPLOYMENT}" in request["query"] and f"api-version={API_VERSION}" in request["query"]
    creates = [e for e in session["events"] if e["type"] == "response.create"]
    assert len(creates) == 3 and all(e["response"]["max_output_tokens"] == MAX_OUTPUT for e in creates)


def test_the_v1_path_with_a_bearer_key_reaches_an_entra_upstream_with_its_token(
        proxy: ProxyEnv, pqg: QuotaGateway, fresh_user: Callable[..., str]) -> None:
    user = fresh_user(USER_PREFIX)
    plan(proxy.env, user, [responses_of("azure-entra")])
    # Azure's v1 path takes the deployment as the model, as OpenAI's own client sends it.
    client = openai.AsyncOpenAI(base_url=f"{proxy.base_url}/proxy/azure-entra/openai/v1", api_key=proxy.env.secret,
                                default_headers={"X-Quota-User": user}, max_retries=0)

    async def run() -> Any:
        async with client.realtime.connect(model=DEPLOYMENT, extra_headers={"x-sim": "output=5"}) as connection:
            await until(connection, "session.created")
            found = await ask(connection, "hello over v1", max_output_tokens=MAX_OUTPUT)
            assert found.type == "response.done", found
            return found.response

    done = asyncio.run(run())
    assert settled(proxy.env, user) == (done.usage.input_tokens + done.usage.output_tokens, 0)
    (commit,) = [c for c in ledger(pqg, user, "commit") if c.event == "azure-entra.realtime_response"]
    assert (commit.metadata or {})["model"] == MODEL
    (session,) = sessions(proxy)
    assert session["model"] == MODEL
    assert session["headers"]["authorization"] == f"Bearer {ENTRA_TOKEN}"
    assert "api-key" not in session["headers"]
    request = provider_request(proxy)
    assert (request["path"], request["query"]) == ("/openai/v1/realtime", f"model={DEPLOYMENT}")


def test_a_response_the_budget_cannot_hold_never_reaches_the_provider_and_the_client_is_told(
        proxy: ProxyEnv, aqg: AsyncQuotaGateway, fresh_user: Callable[..., str]) -> None:
    user = fresh_user(USER_PREFIX)
    plan(proxy.env, user, [responses(2, "azure")])

    async def run() -> List[Any]:
        found = []
        async with azure(aqg, proxy, user).realtime.connect(
                model=DEPLOYMENT, extra_headers={"x-sim": "output=4"}) as connection:
            await until(connection, "session.created")
            for i in range(3):
                found.append(await ask(connection, f"question {i}", max_output_tokens=MAX_OUTPUT))
            # The session stays open for the user to upgrade.
            await connection.session.update(session={"type": "realtime", "instructions": "be brief"})
            found.append(await until(connection, "session.updated"))
        return found

    found = asyncio.run(run())
    assert [f.type for f in found] == ["response.done"] * 2 + ["error", "session.updated"]
    assert found[2].error.code == "insufficient_quota" and "quota g" in found[2].error.message
    (session,) = sessions(proxy)
    assert [e["type"] for e in session["events"]].count("response.create") == 2, "the provider never saw the 3rd"
    assert settled(proxy.env, user) == (2, 0)


def test_a_wrong_key_in_api_key_is_refused_before_the_provider(
        proxy: ProxyEnv, fresh_user: Callable[..., str]) -> None:
    user = fresh_user(USER_PREFIX)
    plan(proxy.env, user, [responses_of("azure")])
    client = openai.AsyncAzureOpenAI(azure_endpoint=f"{proxy.base_url}/proxy/azure", api_key="qg_sk_" + "x" * 40,
                                     api_version=API_VERSION, websocket_base_url=websocket_base(proxy),
                                     default_headers={"X-Quota-User": user}, max_retries=0)

    async def run() -> None:
        async with client.realtime.connect(model=DEPLOYMENT):
            pass

    with pytest.raises(Exception) as refused:
        asyncio.run(run())
    assert "401" in str(refused.value), refused.value
    assert proxy.stats()["requests"] == []
