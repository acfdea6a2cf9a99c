"""One real redis-server and one real gateway for the whole session, on loopback, with a
project of the tests' own (a secret and a publishable key) made through the root token."""

from __future__ import annotations

import itertools
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, AsyncIterator, Callable, Dict, Iterator

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from both import Both  # noqa: E402
from gateway import Gateway, Redis, admin, start_gateway, start_redis  # noqa: E402
from quota_gateway import AsyncQuotaGateway, QuotaGateway  # noqa: E402


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
