"""The providers' lists through the gateway's proxy with the official `openai` and `anthropic`
clients, against the provider simulator: `.list()` and its auto-pagination (`files`, `batches`,
`videos`, `messages.batches`) walk the user's own jobs and files, newest first, each once, and
nobody else's: not another user's of the project, nor another project's user of the same id; the
async clients as the sync ones."""

from __future__ import annotations

import asyncio
import json
import os
from typing import Any, Callable, Dict, Iterator, List, Tuple

import pytest
from conftest import Env, ProxyEnv
from gateway import admin

from quota_gateway import AsyncQuotaGateway, QuotaGateway

# The official client's video calls are marked deprecated (Sora's shutdown is announced).
SORA_DEPRECATED = pytest.mark.filterwarnings("ignore:The Sora API:DeprecationWarning")
# Jobs that stay open: the simulator ends one only at its 1,000th read.
OPEN = {"x-sim": "reads=1000"}


@pytest.fixture(scope="module")
def other_secret(env: Env) -> str:
    """The secret key of a second project on the session's Redis and gateways."""
    project = f"lists{os.getpid()}"
    admin(env.base_url, env.root_token, "POST", "/v1/projects", {"id": project})
    made = admin(env.base_url, env.root_token, "POST", f"/v1/projects/{project}/keys", {"kind": "secret"})
    assert isinstance(made, dict)
    return str(made["key"])


def subscribe(proxy: ProxyEnv, secret: str, user: str) -> None:
    """`user` of the project of `secret` on a plan that lets every job of the test through."""
    groups = [
        {"id": "batch", "unit": "tokens", "quota": 1_000_000_000,
         "matches": [{"event": "openai.batches"}, {"event": "anthropic.batches"}]},
        {"id": "videos", "unit": "count", "quota": 1_000_000, "measure": {"metadata": "video_seconds"},
         "matches": [{"event": "openai.videos"}]},
    ]
    base = proxy.env.base_url
    admin(base, secret, "PUT", f"/v1/plans/plan_{user}", {"id": f"plan_{user}", "periodType": "month", "groups": groups})
    admin(base, secret, "PUT", f"/v1/users/{user}/subscription", {"planId": f"plan_{user}"})


def line() -> bytes:
    body = {"model": "gpt-4o-mini", "max_tokens": 10, "messages": [{"role": "user", "content": "hi"}]}
    return (json.dumps({"custom_id": "r0", "method": "POST", "url": "/v1/chat/completions", "body": body}) + "\n").encode()


def make(pqg: QuotaGateway, user: str, count: int) -> Dict[str, List[str]]:
    """`count` of each kind made by `user`, each list newest first."""
    client, claude = pqg.openai(user, max_retries=0), pqg.anthropic(user, max_retries=0)
    made: Dict[str, List[str]] = {"files": [], "batches": [], "videos": [], "message_batches": []}
    request: Any = {"custom_id": "r0", "params": {"model": "claude-sonnet-4-5", "max_tokens": 10,
                                                  "messages": [{"role": "user", "content": "hi"}]}}
    for _ in range(count):
        file = client.files.create(file=("b.jsonl", line()), purpose="batch")
        made["files"].insert(0, file.id)
        batch = client.batches.create(input_file_id=file.id, endpoint="/v1/chat/completions",
                                      completion_window="24h", extra_headers=OPEN)
        made["batches"].insert(0, batch.id)
        made["videos"].insert(0, client.videos.create(model="sora-2", prompt="a cat", seconds="4",
                                                      extra_headers=OPEN).id)
        made["message_batches"].insert(0, claude.messages.batches.create(requests=[request], extra_headers=OPEN).id)
    return made


@pytest.fixture
def projects(proxy: ProxyEnv, other_secret: str) -> Iterator[Tuple[QuotaGateway, QuotaGateway]]:
    """A client of the proxy for the session's project and one for the second."""
    with QuotaGateway(proxy.env.secret, base_url=proxy.base_url) as one, \
            QuotaGateway(other_secret, base_url=proxy.base_url) as two:
        yield one, two


@SORA_DEPRECATED
def test_list_and_its_auto_pagination_walk_only_the_users_own_newest_first(
        proxy: ProxyEnv, projects: Tuple[QuotaGateway, QuotaGateway], other_secret: str,
        fresh_user: Callable[..., str]) -> None:
    # The same two user ids in both projects: a project's users are its own, whatever their ids.
    alice, bob = fresh_user("pl"), fresh_user("pl")
    one, two = projects
    counts = {(one, alice): 5, (one, bob): 2, (two, alice): 3, (two, bob): 1}
    made = {}
    for (pqg, user), count in counts.items():
        subscribe(proxy, proxy.env.secret if pqg is one else other_secret, user)
        made[pqg, user] = make(pqg, user, count)
    for pqg, user in counts:
        own = made[pqg, user]
        client, claude = pqg.openai(user, max_retries=0), pqg.anthropic(user, max_retries=0)
        # Iterating a page walks the pages after it, two at a time.
        assert [f.id for f in client.files.list(limit=2)] == own["files"]
        assert [b.id for b in client.batches.list(limit=2)] == own["batches"]
        assert [v.id for v in client.videos.list(limit=2)] == own["videos"]
        assert [m.id for m in claude.messages.batches.list(limit=2)] == own["message_batches"]
        # One page is the newest, saying whether more follow.
        page = client.batches.list(limit=1)
        assert [b.id for b in page.data] == own["batches"][:1] and page.has_more == (len(own["batches"]) > 1)
        # Each as the provider has it now: every read of it (a list's too) moves the simulator's along.
        assert {b.status for b in client.batches.list()} <= {"in_progress", "finalizing"}
    # Anthropic's `before_id` walks back toward the newest, a page (newest first) at a time.
    newer = made[one, alice]["message_batches"]
    pages = one.anthropic(alice, max_retries=0).messages.batches.list(limit=2, before_id=newer[4])
    assert [m.id for m in pages] == newer[2:4] + newer[0:2]
    # An id of the other project's, as a cursor, is not one of the caller's: the walk starts nowhere in it.
    theirs = made[two, alice]["message_batches"]
    assert [m.id for m in one.anthropic(alice, max_retries=0).messages.batches.list(before_id=theirs[0])] == []
    # Files oldest first.
    assert [f.id for f in one.openai(alice).files.list(order="asc", limit=2)] == made[one, alice]["files"][::-1]
    assert [f.id for f in two.openai(alice).files.list(order="asc", limit=2)] == made[two, alice]["files"][::-1]


def test_the_async_clients_list_the_same(proxy: ProxyEnv, pqg: QuotaGateway, fresh_user: Callable[..., str]) -> None:
    user = fresh_user("pl")
    subscribe(proxy, proxy.env.secret, user)
    client = pqg.openai(user, max_retries=0)
    files = [client.files.create(file=("b.jsonl", line()), purpose="batch").id for _ in range(3)]

    async def listed() -> List[str]:
        async with AsyncQuotaGateway(proxy.env.secret, base_url=proxy.base_url) as aqg:
            return [f.id async for f in aqg.openai(user, max_retries=0).files.list(limit=2)]

    assert asyncio.run(listed()) == files[::-1]
