"""One real redis-server and one real gateway for the whole session, on loopback, with a
project of the tests' own (a secret and a publishable key) made through the root token; for the
proxy's tests, the provider simulator and a second gateway on the same Redis that forwards to
it, and TLS in front of that gateway for the clients that call only over HTTPS."""

from __future__ import annotations

import itertools
import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, AsyncIterator, Callable, Dict, Iterator

import httpx
import pytest

sys.path.insert(0, str(Path(__file__).parent))

from both import Both  # noqa: E402
from gateway import (Gateway, Redis, Simulator, TlsFront, admin, free_port, self_signed_certificate,  # noqa: E402
                     start_gateway, start_redis, start_simulator)
from quota_gateway import AsyncQuotaGateway, QuotaGateway  # noqa: E402


def pytest_configure(config: pytest.Config) -> None:
    # A test that measures the node's memory through a long upload (test_proxy_jobs.py,
    # test_proxy_audio.py), left out of the cluster run by `-m "not memory"`: what it measures is
    # the node's alone.
    config.addinivalue_line("markers", "memory: measures the gateway's memory through a large upload")


@dataclass
class Env:
    base_url: str
    root_token: str
    secret: str
    publishable: str
    redis: Redis
    gateway: Gateway
    logs: Path
    secret_key_id: str

    def call(self, method: str, path: str, body: Any = None) -> Any:
        """An admin call with the secret key, outside the client under test."""
        return admin(self.base_url, self.secret, method, path, body)


@pytest.fixture(scope="session")
def env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Env]:
    logs = tmp_path_factory.mktemp("logs")
    redis = start_redis()
    try:
        gateway = start_gateway(redis.url, logs)
    except BaseException:
        redis.stop()
        raise
    try:
        admin(gateway.base_url, gateway.root_token, "POST", "/v1/projects",
              {"id": "pysdk", "allowedOrigins": ["https://app.example.com"]})
        keys: Dict[str, Dict[str, str]] = {}
        for kind in ("secret", "publishable"):
            made = admin(gateway.base_url, gateway.root_token, "POST", "/v1/projects/pysdk/keys", {"kind": kind})
            assert isinstance(made, dict)
            keys[kind] = made
        yield Env(gateway.base_url, gateway.root_token, keys["secret"]["key"], keys["publishable"]["key"], redis,
                  gateway, logs, keys["secret"]["keyId"])
    finally:
        gateway.stop()
        redis.stop()


# The key the simulator requires and the proxy's gateway holds (never a caller).
SIM_SECRET = "sim-secret-py-sdk"
# The proxy's upstreams beside the three the simulator answers as: one on a port nothing listens
# on, one that gives up waiting for the first byte after half a second, a second name for the
# simulator's OpenAI that fallback routes move on to, Azure OpenAI with its deployments (the
# simulator serves each as its model), Amazon Bedrock, signed with AWS_KEY or called with a
# Bedrock API key (the simulator's own key), and Google's Vertex AI (last).
FIRST_BYTE_MS = 500
# An application inference profile of Bedrock's, by ARN, and the model it serves.
BEDROCK_APP_PROFILE = "arn:aws:bedrock:us-east-1:123456789012:application-inference-profile/a1b2c3d4e5f6"
BEDROCK_APP_MODEL = "anthropic.claude-haiku-4-5-20251001-v1:0"
AZURE = {"chat-prod": "gpt-4o-mini", "embed-prod": "text-embedding-3-small"}
# The Entra ID token the simulator takes as a bearer token, and never in `api-key`.
ENTRA_TOKEN = "entra-token-py-sdk"
# The AWS credentials the proxy's gateway signs Bedrock's calls with (Signature Version 4), and
# the simulator checks them by: the gateway reads them from its environment, as the AWS SDKs do.
AWS_KEY = ("AKIDSIMPY", "sim-aws-secret-py", "sim-session-token")
AWS_ENV = {"AWS_ACCESS_KEY_ID": AWS_KEY[0], "AWS_SECRET_ACCESS_KEY": AWS_KEY[1], "AWS_SESSION_TOKEN": AWS_KEY[2]}
# Google's Vertex AI: the service account whose key the proxy's gateway mints access tokens with
# (VERTEX_SA, the key's JSON, its `token_uri` the simulator's), which the simulator checks each
# grant's signature against, and how long a token it mints lives: short, so that the gateway
# renews its token during the tests (at three quarters of its life).
VERTEX_PROJECT = "qg-sim-project"
VERTEX_ACCOUNT = f"gateway@{VERTEX_PROJECT}.iam.gserviceaccount.com"
TOKEN_LIFETIME = 5
# Fallback routes (test_proxy_routes.py): a model no other test asks for, each routed to targets
# the simulator answers (its `x-sim` directives may name a target's model: `status=503@gpt-4o`).
ROUTES = [
    {"upstream": "openai", "model": "smart", "callerOrder": True, "targets": [
        {"upstream": "openai", "model": "gpt-4o"}, {"upstream": "backup", "model": "gpt-4o-mini"},
        {"upstream": "openai", "model": "gpt-4.1-nano"}]},
    {"upstream": "anthropic", "model": "claude-smart", "targets": [
        {"upstream": "anthropic", "model": "claude-opus-5"}, {"upstream": "anthropic", "model": "claude-sonnet-5"}]},
]


@dataclass
class ProxyEnv:
    """A gateway with upstreams (`base_url`), sharing the session's Redis and project, so the
    session's secret key pays on it; `sim` is the provider behind it."""

    env: Env
    base_url: str
    gateway: Gateway
    sim: Simulator

    def stats(self) -> Dict[str, Any]:
        return self.sim.stats()

    def reset(self) -> None:
        httpx.post(self.sim.base_url + "/_sim/reset", timeout=10).raise_for_status()


def google_key(directory: Path) -> Path:
    """A service account's RSA private key (PKCS #8 PEM), made with the openssl CLI."""
    pem = directory / "vertex-sa.pem"
    subprocess.run(["openssl", "genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out", str(pem)],
                   check=True, capture_output=True, timeout=60)
    return pem


def service_account(pem: Path, token_uri: str) -> str:
    """The service account's JSON key as Google issues it, minting at `token_uri`."""
    return json.dumps({"type": "service_account", "project_id": VERTEX_PROJECT, "private_key_id": "qg-sim-key-1",
                       "private_key": pem.read_text(), "client_email": VERTEX_ACCOUNT, "client_id": "1",
                       "token_uri": token_uri})


@pytest.fixture(scope="session")
def proxy_env(env: Env) -> Iterator[ProxyEnv]:
    # The simulator reads only the public half of the key; the JSON names the simulator's port.
    pem = google_key(env.logs)
    sim = start_simulator(SIM_SECRET, env.logs, ["--azure-deployments", ",".join(f"{d}={m}" for d, m in AZURE.items()),
                                                 "--azure-entra-token", ENTRA_TOKEN, "--aws-key", ":".join(AWS_KEY),
                                                 "--google-key", str(pem), "--token-lifetime", str(TOKEN_LIFETIME)])
    try:
        vertex_sa = service_account(pem, sim.base_url + "/token")
        (env.logs / "vertex-sa.json").write_text(vertex_sa)
        upstreams = {"upstreams": [
            # `x-sim` steers the simulator: forwarded as an operator would allow a header of theirs.
            {"name": "openai", "kind": "openai", "baseUrl": sim.base_url, "credentialEnv": "SIM_KEY",
             "forwardHeaders": ["x-sim"]},
            {"name": "anthropic", "kind": "anthropic", "baseUrl": sim.base_url, "credentialEnv": "SIM_KEY",
             "forwardHeaders": ["x-sim"]},
            {"name": "gemini", "kind": "gemini", "baseUrl": sim.base_url, "credentialEnv": "SIM_KEY",
             "forwardHeaders": ["x-sim"]},
            # Taken and let go: nothing listens there.
            {"name": "closed", "kind": "openai", "baseUrl": f"http://127.0.0.1:{free_port()}",
             "credentialEnv": "SIM_KEY", "timeouts": {"connectMs": 2000}},
            {"name": "slow", "kind": "openai", "baseUrl": sim.base_url, "credentialEnv": "SIM_KEY",
             "forwardHeaders": ["x-sim"], "timeouts": {"firstByteMs": FIRST_BYTE_MS}},
            {"name": "backup", "kind": "openai", "baseUrl": sim.base_url, "credentialEnv": "SIM_KEY",
             "forwardHeaders": ["x-sim"]},
            {"name": "azure", "kind": "azure-openai", "baseUrl": sim.base_url, "credentialEnv": "SIM_KEY",
             "forwardHeaders": ["x-sim"], "deployments": AZURE},
            # The same resource with an Entra ID token for the credential (a bearer token).
            {"name": "azure-entra", "kind": "azure-openai", "baseUrl": sim.base_url, "credentialEnv": "ENTRA_TOKEN",
             "azureAuth": "entra", "deployments": AZURE},
            # Signed with the gateway's AWS credentials (AWS_ENV), or with a Bedrock API key.
            {"name": "bedrock", "kind": "bedrock", "baseUrl": sim.base_url, "region": "us-east-1",
             "forwardHeaders": ["x-sim"], "deployments": {BEDROCK_APP_PROFILE: BEDROCK_APP_MODEL}},
            {"name": "bedrock-key", "kind": "bedrock", "baseUrl": sim.base_url, "region": "us-east-1",
             "credentialEnv": "SIM_KEY", "forwardHeaders": ["x-sim"]},
            # Google's Vertex AI, each call with an access token the gateway mints from VERTEX_SA.
            {"name": "vertex", "kind": "vertex", "baseUrl": sim.base_url, "credentialEnv": "VERTEX_SA",
             "forwardHeaders": ["x-sim"]},
        ], "routes": ROUTES}
        path = env.logs / "upstreams.json"
        path.write_text(json.dumps(upstreams))
        # VERTEX_SA holds the key's JSON itself here, and its file's path on the patient node.
        gateway = start_gateway(env.redis.url, env.logs,
                                extra_env={"QG_UPSTREAMS": str(path), "SIM_KEY": SIM_SECRET,
                                           "ENTRA_TOKEN": ENTRA_TOKEN, **AWS_ENV, "VERTEX_SA": vertex_sa})
    except BaseException:
        sim.stop()
        raise
    try:
        yield ProxyEnv(env, gateway.base_url, gateway, sim)
    finally:
        gateway.stop()
        sim.stop()


# How long a patient proxy node waits for Redis (QG_COMMAND_TIMEOUT_MS; the gateway's is 250 ms).
PATIENT_MS = 5000


@pytest.fixture(scope="session")
def patient_proxy_env(proxy_env: ProxyEnv) -> Iterator[ProxyEnv]:
    """A second proxy node beside `proxy_env`'s, on its Redis, upstreams file and simulator, that
    waits for Redis up to PATIENT_MS: many calls let go at once queue their scripts, and on a debug
    build of a busy machine the last may wait past the default 250 ms, which the gateway answers
    503 `backend_unavailable` by design. For the tests that count exact outcomes of a crowd."""
    env = proxy_env.env
    gateway = start_gateway(env.redis.url, env.logs, extra_env={
        "QG_UPSTREAMS": str(env.logs / "upstreams.json"), "SIM_KEY": SIM_SECRET, "ENTRA_TOKEN": ENTRA_TOKEN,
        **AWS_ENV, "VERTEX_SA": str(env.logs / "vertex-sa.json"), "QG_COMMAND_TIMEOUT_MS": str(PATIENT_MS)})
    try:
        yield ProxyEnv(env, gateway.base_url, gateway, proxy_env.sim)
    finally:
        gateway.stop()


@pytest.fixture
def patient_proxy(patient_proxy_env: ProxyEnv) -> ProxyEnv:
    """The patient node, its simulator's counts zeroed for this test."""
    patient_proxy_env.reset()
    return patient_proxy_env


class TlsFronts:
    """TLS in front of the proxy's nodes, as a load balancer would terminate it (boto3 sends a
    Bedrock API key only over HTTPS, and the gateway listens on HTTP): one front a node, made when
    first asked for, all on one self-signed certificate, `cert`, for a client's `verify=`."""

    def __init__(self, directory: Path) -> None:
        cert, self._key = self_signed_certificate(directory)
        self.cert = str(cert)
        self._fronts: Dict[str, TlsFront] = {}

    def url(self, node: ProxyEnv) -> str:
        """`node`'s gateway at an https:// URL."""
        if node.base_url not in self._fronts:
            port = int(node.base_url.rsplit(":", 1)[1])
            self._fronts[node.base_url] = TlsFront(port, Path(self.cert), self._key)
        return f"https://127.0.0.1:{self._fronts[node.base_url].port}"

    def close(self) -> None:
        for front in self._fronts.values():
            front.close()


@pytest.fixture(scope="session")
def tls(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TlsFronts]:
    fronts = TlsFronts(tmp_path_factory.mktemp("tls"))
    try:
        yield fronts
    finally:
        fronts.close()


@pytest.fixture
def qg(env: Env) -> Iterator[QuotaGateway]:
    with QuotaGateway(env.secret, base_url=env.base_url) as client:
        yield client


@pytest.fixture
async def aqg(env: Env) -> AsyncIterator[AsyncQuotaGateway]:
    async with AsyncQuotaGateway(env.secret, base_url=env.base_url) as client:
        yield client


_next = itertools.count()


@pytest.fixture
def fresh_user() -> Callable[..., str]:
    """A user id no other test uses."""
    return lambda prefix="u": f"{prefix}{os.getpid()}x{next(_next)}"


def count_plan(plan_id: str, quota: float, **extra: Any) -> Dict[str, Any]:
    """A plan with one count group every event matches."""
    return {"id": plan_id, "periodType": "month", **extra,
            "groups": [{"id": "g", "unit": "count", "quota": quota, "matches": [{"event": "*"}]}]}


@pytest.fixture
def subscribed(env: Env, fresh_user: Callable[..., str]) -> Callable[..., str]:
    """A new user on a new one-group count plan of `quota`."""
    def make(quota: float, unit: str = "count") -> str:
        user = fresh_user()
        plan = count_plan(f"plan_{user}", quota)
        plan["groups"][0]["unit"] = unit
        env.call("PUT", f"/v1/plans/{plan['id']}", plan)
        env.call("PUT", f"/v1/users/{user}/subscription", {"planId": plan["id"]})
        return user
    return make


@pytest.fixture(params=["sync", "async"])
async def client(request: pytest.FixtureRequest, env: Env) -> AsyncIterator[Both]:
    if request.param == "sync":
        with QuotaGateway(env.secret, base_url=env.base_url) as sync:
            yield Both(sync)
    else:
        async with AsyncQuotaGateway(env.secret, base_url=env.base_url) as aio:
            yield Both(aio)


@pytest.fixture
def proxy(proxy_env: ProxyEnv) -> ProxyEnv:
    """The proxy's gateway, its simulator's counts zeroed for this test."""
    proxy_env.reset()
    return proxy_env


@pytest.fixture
def pqg(proxy: ProxyEnv) -> Iterator[QuotaGateway]:
    with QuotaGateway(proxy.env.secret, base_url=proxy.base_url) as client:
        yield client


@pytest.fixture
def user_on(request: pytest.FixtureRequest, env: Env, fresh_user: Callable[..., str]) -> Callable[..., str]:
    """A new user on a plan of one group `g` (unit tokens) that every event matches; `measure`
    as a plan writes it, or the event's quantity; `period` the plan's `periodType`. The proxy's
    tests share it; a module's `USER_PREFIX` (else `px`) begins its users' ids."""
    prefix = getattr(request.module, "USER_PREFIX", "px")

    def make(quota: float = 1_000_000, measure: Any = None, period: str = "month") -> str:
        user = fresh_user(prefix)
        group: Dict[str, Any] = {"id": "g", "unit": "tokens", "quota": quota, "matches": [{"event": "*"}]}
        if measure is not None:
            group["measure"] = measure
        env.call("PUT", f"/v1/plans/plan_{user}", {"id": f"plan_{user}", "periodType": period, "groups": [group]})
        env.call("PUT", f"/v1/users/{user}/subscription", {"planId": f"plan_{user}"})
        return user
    return make
