"""Async jobs through the gateway's proxy with the official `openai` and `anthropic` clients,
against the provider simulator: a batch file priced line by line as it streams up (100 MB of it
without the node's memory growing), a batch held at its lines' worst case from its submission,
listed among the user's open jobs (`usage().jobs`) and settled once at the usage the provider
reports, or refused whole; its objects and files served to its owner only; an Anthropic message
batch settled from its results, read through the gateway; videos as jobs in flight of a
`concurrent` group, a failed one costing nothing, one whose first try the provider fails made and
held once by the client's retry. What was held and charged is read from the
gateway through the SDK; what the provider did, from the simulator (`x-sim: reads=k` makes a job
final at its k-th read)."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import tempfile
import threading
import time
import uuid
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Tuple

import openai
import pytest
from conftest import SIM_SECRET, Env, ProxyEnv

from quota_gateway import AsyncQuotaGateway, OpenJob, QuotaGateway, Usage, UsageEvent, openai_client
from quota_gateway._load import camel
from quota_gateway.decision import Counter
from quota_gateway.types import ParentUsage, Period

USER_PREFIX = "pj"
GPT = "gpt-4o-mini"
CLAUDE = "claude-sonnet-4-5"
MAX_TOKENS = 20
# What the simulator reports for one line asking MAX_TOKENS of "say hi": 2 words, 3 for the
# message and 3 for the reply in; 5 tokens out.
LINE_INPUT, LINE_OUTPUT = 8, 5
# The official client's video calls are marked deprecated (Sora's shutdown is announced).
SORA_DEPRECATED = pytest.mark.filterwarnings("ignore:The Sora API:DeprecationWarning")


# The gateway's own description of the answers.

def test_the_usage_dataclasses_have_every_field_of_the_gateways_usage_answer(env: Env) -> None:
    # A field the gateway adds to its usage answer and these dataclasses lack would never reach
    # the SDK's callers: held to the gateway's own OpenAPI document.
    schemas = env.call("GET", "/openapi.json")["components"]["schemas"]
    for cls, schema in ((Usage, "UsageAnswer"), (OpenJob, "JobAnswer"), (ParentUsage, "ParentUsageAnswer"),
                        (Period, "PeriodAnswer"), (Counter, "CounterAnswer")):
        ours = {camel(f.name) for f in dataclasses.fields(cls)}
        assert set(schemas[schema]["properties"]) <= ours, f"{cls.__name__} lacks fields of {schema}"
    assert "jobs" in schemas["UsageAnswer"]["required"]


# Plans, files and reads.

def subscribe(env: Env, user: str, groups: List[Dict[str, Any]]) -> None:
    env.call("PUT", f"/v1/plans/plan_{user}", {"id": f"plan_{user}", "periodType": "month", "groups": groups})
    env.call("PUT", f"/v1/users/{user}/subscription", {"planId": f"plan_{user}"})


def batch_user(proxy: ProxyEnv, fresh_user: Callable[..., str], tokens: int = 1_000_000) -> str:
    """A new user whose one group `batch` counts the tokens of OpenAI batches and Anthropic
    message batches (input and output)."""
    user = fresh_user(USER_PREFIX)
    subscribe(proxy.env, user, [batch_group(tokens)])
    return user


def rebudget(proxy: ProxyEnv, qg: QuotaGateway, user: str, tokens: int) -> None:
    """The user's `batch` quota changed to `tokens`, once the proxy's node sees it: plans are
    put through the session's other node, and a node trusts its cached plans until it next
    polls the config epoch (every 250 ms)."""
    subscribe(proxy.env, user, [batch_group(tokens)])
    deadline = time.monotonic() + 10
    while [c.quota for c in qg.usage(user).counters] != [tokens]:
        assert time.monotonic() < deadline, "the proxy's node never saw the plan change"
        time.sleep(0.05)


def batch_group(tokens: int) -> Dict[str, Any]:
    return {"id": "batch", "unit": "tokens", "quota": tokens,
            "matches": [{"event": "openai.batches"}, {"event": "anthropic.batches"}]}


def line(i: int, content: str = "say hi") -> Dict[str, Any]:
    """One chat line of a batch file."""
    return {"custom_id": f"req-{i}", "method": "POST", "url": "/v1/chat/completions",
            "body": {"model": GPT, "max_tokens": MAX_TOKENS, "messages": [{"role": "user", "content": content}]}}


def jsonl(count: int) -> bytes:
    return "".join(json.dumps(line(i)) + "\n" for i in range(count)).encode()


def submit(client: openai.OpenAI, file_id: str, sim: str, **headers: str) -> openai.types.Batch:
    return client.batches.create(input_file_id=file_id, endpoint="/v1/chat/completions", completion_window="24h",
                                 extra_headers={"x-sim": sim, **headers})


def counter(usage: Usage, group: str) -> Tuple[float, float]:
    """(used, reserved) of one of the user's counters."""
    found = [c for c in usage.counters if c.group_id == group]
    assert len(found) == 1, f"no counter {group} in {usage.counters}"
    return found[0].used, found[0].reserved


def tokens_held(job: OpenJob) -> int:
    """What a tokens group holds for a job: its worst input and output."""
    return int(job.held["input_tokens"]) + int(job.held["output_tokens"])


def commits_of(qg: QuotaGateway, user: str, job_id: str) -> List[UsageEvent]:
    """The user's commit entries of one job."""
    found: List[UsageEvent] = []
    cursor = None
    for _ in range(20):
        page = qg.list_usage_events(user_id=user, cursor=cursor)
        found.extend(e for e in page.data if e.kind == "commit" and (e.metadata or {}).get("job_id") == job_id)
        cursor = page.next_cursor
        if cursor is None:
            break
    return found


def same_jobs(usage: Usage, *jobs: OpenJob) -> bool:
    """Whether the user's open jobs are these, whatever their age now."""
    return [dataclasses.replace(j, age_seconds=0) for j in usage.jobs] == [
        dataclasses.replace(j, age_seconds=0) for j in jobs]


def at(stamp: str) -> datetime:
    return datetime.fromisoformat(stamp.replace("Z", "+00:00"))


def reads(proxy: ProxyEnv, job_id: str) -> int:
    """The reads of a job the provider answered."""
    job: Optional[Dict[str, Any]] = proxy.stats()["jobs"].get(job_id)
    return int(job["reads"]) if job else 0


def async_usage(proxy: ProxyEnv, user: str) -> Usage:
    """The user's usage as the async client reads it."""
    async def read() -> Usage:
        async with AsyncQuotaGateway(proxy.env.secret, base_url=proxy.base_url) as aqg:
            return await aqg.usage(user)
    return asyncio.run(read())


# OpenAI batches.

def test_a_batch_holds_its_lines_worst_case_listed_as_an_open_job_and_settles_the_reported_usage_once(
        proxy: ProxyEnv, pqg: QuotaGateway, fresh_user: Callable[..., str]) -> None:
    lines = 10
    user = batch_user(proxy, fresh_user)
    client = pqg.openai(user, max_retries=0)
    content = jsonl(lines)
    file = client.files.create(file=("batch.jsonl", content), purpose="batch")
    assert (file.purpose, file.bytes) == ("batch", len(content))
    assert proxy.stats()["requests"][-1]["body"]["file"] == {"filename": "batch.jsonl", "bytes": len(content)}
    assert counter(pqg.usage(user), "batch") == (0, 0), "a file alone holds nothing"

    batch = submit(client, file.id, "reads=2")
    assert batch.status == "validating"
    usage = pqg.usage(user)
    [job] = usage.jobs
    assert (job.id, job.upstream, job.kind, job.model) == (batch.id, "openai", "batch", GPT)
    assert job.held["output_tokens"] == lines * MAX_TOKENS, "each line at its max_tokens"
    assert job.held["input_tokens"] > 0 and job.held["input_tokens"] % lines == 0, "ten equal lines"
    assert counter(usage, "batch") == (0, tokens_held(job)), "the job's worst case, held whole"
    assert job.reservation_id.startswith("r_") and not job.overdue and job.age_seconds < 60
    assert at(job.due_at) - at(job.submitted_at) == timedelta(hours=24), "its completion window"
    assert at(job.hold_ends_at) > at(job.due_at)
    assert same_jobs(async_usage(proxy, user), job), "the async client reads the same job"

    # Read until it ends: the first read is still running and settles nothing.
    seen = []
    for _ in range(5):
        batch = client.batches.retrieve(batch.id)
        seen.append(batch.status)
        if batch.status == "completed":
            break
        usage = pqg.usage(user)
        assert counter(usage, "batch") == (0, tokens_held(job)) and same_jobs(usage, job)
    assert seen == ["in_progress", "completed"]
    assert batch.usage is not None and batch.request_counts is not None
    assert (batch.request_counts.total, batch.request_counts.completed) == (lines, lines)
    reported = batch.usage.total_tokens
    assert reported == lines * (LINE_INPUT + LINE_OUTPUT)
    usage = pqg.usage(user)
    assert counter(usage, "batch") == (reported, 0), "the reported usage, the rest released"
    assert usage.jobs == [] and async_usage(proxy, user).jobs == []

    assert batch.output_file_id is not None and batch.error_file_id is None
    output = [json.loads(text) for text in client.files.content(batch.output_file_id).text.splitlines()]
    assert [o["custom_id"] for o in output] == [f"req-{i}" for i in range(lines)]
    assert {o["response"]["status_code"] for o in output} == {200}
    assert sum(o["response"]["body"]["usage"]["total_tokens"] for o in output) == reported

    # Read again: settled once.
    assert client.batches.retrieve(batch.id).status == "completed"
    assert counter(pqg.usage(user), "batch") == (reported, 0)
    [commit] = commits_of(pqg, user, batch.id)
    meta = commit.metadata or {}
    assert (commit.event, commit.quantity, commit.reserved) == ("openai.batches", reported, tokens_held(job))
    assert (meta["job_kind"], meta["batch"], meta["usage"], meta["model"]) == ("batch", True, "reported", GPT)
    assert (meta["input_tokens"], meta["output_tokens"]) == (lines * LINE_INPUT, lines * LINE_OUTPUT)


def test_a_batch_file_with_a_line_the_gateway_cannot_price_is_refused_naming_the_line(
        proxy: ProxyEnv, pqg: QuotaGateway, fresh_user: Callable[..., str]) -> None:
    user = batch_user(proxy, fresh_user)
    client = pqg.openai(user, max_retries=0)
    lines = [line(i) for i in range(50)]
    lines[36] = {"custom_id": "tune", "method": "POST", "url": "/v1/fine_tuning/jobs", "body": {}}
    other_model = [line(i) for i in range(3)]
    other_model[2]["body"]["model"] = "gpt-4o"
    provider = openai.OpenAI(base_url=proxy.sim.base_url + "/v1", api_key=SIM_SECRET, max_retries=0)
    files = {f.id for f in provider.files.list(limit=10_000)}
    for bad, named in ((lines, "file line 37"), (other_model, "file line 3")):
        content = "".join(json.dumps(each) + "\n" for each in bad).encode()
        with pytest.raises(openai.BadRequestError) as refused:
            client.files.create(file=("batch.jsonl", content), purpose="batch")
        assert refused.value.param == named and f"- {named}: " in refused.value.message, refused.value.body
    # The gateway may have begun forwarding the upload before it read the line: the provider
    # keeps no file of either.
    assert {f.id for f in provider.files.list(limit=10_000)} == files, "the provider has no file of either"


def test_a_batch_past_the_budget_is_refused_whole_without_a_retry_and_holds_nothing(
        proxy: ProxyEnv, pqg: QuotaGateway, fresh_user: Callable[..., str]) -> None:
    user = batch_user(proxy, fresh_user)
    client = pqg.openai(user)  # the SDK's own retries left on: a denial must not be retried
    file = client.files.create(file=("batch.jsonl", jsonl(10)), purpose="batch")
    # Its worst case, from a submission the budget admits, cancelled.
    probe = submit(client, file.id, "reads=100")
    [job] = pqg.usage(user).jobs
    worst = tokens_held(job)
    client.batches.cancel(probe.id)
    assert client.batches.retrieve(probe.id).status == "cancelled"
    assert counter(pqg.usage(user), "batch") == (0, 0) and pqg.usage(user).jobs == [], "a cancelled batch is released"

    # One token short of it: refused whole.
    rebudget(proxy, pqg, user, worst - 1)
    proxy.reset()
    with pytest.raises(openai.RateLimitError) as denied:
        submit(client, file.id, "reads=100")
    assert denied.value.status_code == 429
    assert denied.value.response.headers["x-should-retry"] == "false"
    assert denied.value.response.headers["x-quota-denied-by"] == "batch"
    assert denied.value.code == "insufficient_quota" and f"up to {worst} tokens" in denied.value.message
    assert "/v1/batches" not in proxy.stats()["paths"], "a refused batch never reaches the provider"
    usage = pqg.usage(user)
    assert counter(usage, "batch") == (0, 0) and usage.jobs == [], "nothing held"
    denials = [e for e in pqg.list_usage_events(user_id=user).data if e.kind == "denied"]
    assert len(denials) == 1 and denials[0].denied_by == ["batch"], "asked once: the SDK did not retry"

    # Exactly its worst case: admitted, and all of it held.
    rebudget(proxy, pqg, user, worst)
    admitted = submit(client, file.id, "reads=100")
    usage = pqg.usage(user)
    assert counter(usage, "batch") == (0, worst) and [j.id for j in usage.jobs] == [admitted.id]
    client.batches.cancel(admitted.id)
    client.batches.retrieve(admitted.id)
    assert counter(pqg.usage(user), "batch") == (0, 0)


def test_a_batch_submitted_twice_with_one_idempotency_key_is_one_job_held_once(
        proxy: ProxyEnv, pqg: QuotaGateway, fresh_user: Callable[..., str]) -> None:
    user = batch_user(proxy, fresh_user)
    client = pqg.openai(user, max_retries=0)
    file = client.files.create(file=("batch.jsonl", jsonl(3)), purpose="batch")
    key = f"batch-{uuid.uuid4()}"
    first = submit(client, file.id, "reads=3", **{"Idempotency-Key": key})
    again = client.batches.with_raw_response.create(
        input_file_id=file.id, endpoint="/v1/chat/completions", completion_window="24h",
        extra_headers={"x-sim": "reads=3", "Idempotency-Key": key})
    assert again.http_response.status_code == 200
    assert (again.parse().id, again.parse().status) == (first.id, "in_progress"), "the same job, read anew"
    assert proxy.stats()["paths"]["/v1/batches"] == 1, "submitted once"
    usage = pqg.usage(user)
    [job] = usage.jobs
    assert counter(usage, "batch") == (0, tokens_held(job)), "held once"
    assert [client.batches.retrieve(first.id).status for _ in range(2)] == ["finalizing", "completed"]
    assert counter(pqg.usage(user), "batch") == (3 * (LINE_INPUT + LINE_OUTPUT), 0)


def test_a_batch_and_its_files_are_not_found_for_another_user(
        proxy: ProxyEnv, pqg: QuotaGateway, fresh_user: Callable[..., str]) -> None:
    owner, other = batch_user(proxy, fresh_user), batch_user(proxy, fresh_user)
    client = pqg.openai(owner, max_retries=0)
    file = client.files.create(file=("batch.jsonl", jsonl(2)), purpose="batch")
    batch = submit(client, file.id, "reads=1")
    ended = client.batches.retrieve(batch.id)
    assert ended.status == "completed" and ended.output_file_id is not None
    output = ended.output_file_id
    stats = proxy.stats()

    made = pqg.create_user_key(other)
    assert made.key is not None
    # The other user's own device (a user key), and the app acting for them (the secret key).
    for theirs in (openai_client(proxy.base_url, made.key, max_retries=0), pqg.openai(other, max_retries=0)):
        for read, named in ((lambda: theirs.batches.retrieve(batch.id), batch.id),
                            (lambda: theirs.batches.cancel(batch.id), batch.id),
                            (lambda: theirs.files.retrieve(file.id), file.id),
                            (lambda: theirs.files.content(file.id), file.id),
                            (lambda: theirs.files.retrieve(output), output),
                            (lambda: theirs.files.content(output), output)):
            with pytest.raises(openai.NotFoundError) as missing:
                read()
            assert missing.value.status_code == 404 and named in missing.value.message
        # Nor may they build a batch of the owner's file.
        with pytest.raises(openai.BadRequestError):
            submit(theirs, file.id, "reads=1")
    after = proxy.stats()
    assert after["calls"] == stats["calls"], "refused before the provider"
    assert reads(proxy, batch.id) == 1

    # The owner still reads both.
    assert len(client.files.content(output).text.splitlines()) == 2
    assert client.batches.retrieve(batch.id).status == "completed"
    assert counter(pqg.usage(other), "batch") == (0, 0)
    assert counter(pqg.usage(owner), "batch") == (2 * (LINE_INPUT + LINE_OUTPUT), 0)


# Anthropic message batches.

def test_a_message_batch_settles_its_succeeded_results_read_through_the_gateway(
        proxy: ProxyEnv, pqg: QuotaGateway, fresh_user: Callable[..., str]) -> None:
    user = batch_user(proxy, fresh_user)
    client = pqg.anthropic(user, max_retries=0)
    requests: List[Any] = [
        {"custom_id": f"r{i}", "params": {"model": CLAUDE, "max_tokens": 30,
                                          "messages": [{"role": "user", "content": "hello there"}]}}
        for i in range(4)]
    batch = client.messages.batches.create(requests=requests, extra_headers={"x-sim": "reads=2, failures=1"})
    assert batch.processing_status == "in_progress"
    usage = pqg.usage(user)
    [job] = usage.jobs
    assert (job.id, job.upstream, job.kind, job.model) == (batch.id, "anthropic", "message_batch", CLAUDE)
    assert job.held["output_tokens"] == 4 * 30
    assert counter(usage, "batch") == (0, tokens_held(job))

    statuses = []
    for _ in range(5):
        batch = client.messages.batches.retrieve(batch.id)
        statuses.append(batch.processing_status)
        if batch.processing_status == "ended":
            break
    assert statuses == ["in_progress", "ended"]
    assert (batch.request_counts.succeeded, batch.request_counts.errored) == (3, 1)
    assert batch.results_url is not None
    assert batch.results_url.startswith(f"{proxy.base_url}/proxy/anthropic/v1/messages/batches/{batch.id}/results")

    results = list(client.messages.batches.results(batch.id))
    assert [r.custom_id for r in results] == ["r0", "r1", "r2", "r3"]
    assert [r.result.type for r in results] == ["errored", "succeeded", "succeeded", "succeeded"]
    succeeded = [r.result.message.usage for r in results if r.result.type == "succeeded"]
    reported = sum(u.input_tokens + u.output_tokens for u in succeeded)
    # "hello there": 2 words, 3 for the message, 3 for the reply; 5 out.
    assert reported == 3 * (8 + 5)
    # The client fetched the results from the gateway, which read them from the provider with its own key.
    fetched = proxy.stats()["requests"][-1]
    assert fetched["path"] == f"/v1/messages/batches/{batch.id}/results"
    assert fetched["headers"]["x-api-key"] != proxy.env.secret
    usage = pqg.usage(user)
    assert counter(usage, "batch") == (reported, 0) and usage.jobs == []
    [commit] = commits_of(pqg, user, batch.id)
    meta = commit.metadata or {}
    assert (commit.event, commit.quantity, meta["job_kind"], meta["usage"]) == (
        "anthropic.batches", reported, "message_batch", "reported")


# Videos.

def video_user(proxy: ProxyEnv, fresh_user: Callable[..., str]) -> str:
    """A new user with at most 3 videos in flight (`videos`) and their seconds counted (`seconds`)."""
    user = fresh_user(USER_PREFIX)
    subscribe(proxy.env, user, [
        {"id": "videos", "unit": "concurrent", "quota": 3, "measure": {"metadata": "calls"},
         "matches": [{"event": "openai.videos"}]},
        {"id": "seconds", "unit": "count", "quota": 1000, "measure": {"metadata": "video_seconds"},
         "matches": [{"event": "openai.videos"}]}])
    return user


@SORA_DEPRECATED
def test_a_fourth_video_waits_for_one_of_three_in_flight_and_a_failed_one_costs_nothing(
        proxy: ProxyEnv, pqg: QuotaGateway, fresh_user: Callable[..., str]) -> None:
    user = video_user(proxy, fresh_user)
    client = pqg.openai(user)  # retries left on: a denial is not retried

    def video(sim: str = "reads=1") -> openai.types.Video:
        return client.videos.create(model="sora-2", prompt="a cat", seconds="8", size="720x1280",
                                    extra_headers={"x-sim": sim})

    videos = [video() for _ in range(3)]
    assert [v.status for v in videos] == ["queued"] * 3
    with pytest.raises(openai.RateLimitError) as denied:
        video()
    assert denied.value.response.headers["x-quota-denied-by"] == "videos"
    assert denied.value.response.headers["x-should-retry"] == "false"
    assert proxy.stats()["paths"]["/v1/videos"] == 3, "the fourth never reached the provider"
    usage = pqg.usage(user)
    assert (counter(usage, "videos"), counter(usage, "seconds")) == ((0, 3), (0, 24))
    assert [(j.id, j.kind, j.model, j.held) for j in usage.jobs] == [
        (v.id, "video", "sora-2", {"video_seconds": 8}) for v in videos]

    # One completes: its 8 seconds count, and it is in flight no more.
    done = client.videos.retrieve(videos[0].id)
    assert (done.status, done.progress, done.seconds) == ("completed", 100, "8")
    usage = pqg.usage(user)
    assert (counter(usage, "videos"), counter(usage, "seconds")) == ((0, 2), (8, 16))
    assert [j.id for j in usage.jobs] == [v.id for v in videos[1:]]
    assert client.videos.download_content(videos[0].id).content[4:8] == b"ftyp"

    # A fourth may go now; it fails, and costs nothing.
    failing = video("reads=1, end=failed")
    assert counter(pqg.usage(user), "videos") == (0, 3)
    assert client.videos.retrieve(failing.id).status == "failed"
    usage = pqg.usage(user)
    assert (counter(usage, "videos"), counter(usage, "seconds")) == ((0, 2), (8, 16)), "a failed video costs nothing"
    assert [j.id for j in usage.jobs] == [v.id for v in videos[1:]]
    assert [c.quantity for c in commits_of(pqg, user, videos[0].id)] == [8] and commits_of(pqg, user, failing.id) == []

    for v in videos[1:]:
        assert client.videos.retrieve(v.id).status == "completed"
    usage = pqg.usage(user)
    assert (counter(usage, "videos"), counter(usage, "seconds")) == ((0, 0), (24, 0)) and usage.jobs == []


@SORA_DEPRECATED
@pytest.mark.parametrize("keyed", [False, True], ids=["own-retry", "idempotency-key"])
def test_a_video_whose_first_try_the_provider_fails_is_made_by_the_clients_retry_once_and_held_once(
        proxy: ProxyEnv, pqg: QuotaGateway, fresh_user: Callable[..., str], keyed: bool) -> None:
    user = video_user(proxy, fresh_user)
    sent: List[Tuple[Optional[str], Optional[str]]] = []

    def seen(request: Any) -> None:
        sent.append((request.headers.get("idempotency-key"), request.headers.get("content-type")))

    # The official openai client sends no Idempotency-Key of its own; one its caller gives goes
    # with each try. Each try draws the form anew, with a new boundary.
    headers = {"x-sim": "fail_first=1, reads=3", **({"Idempotency-Key": f"video-{uuid.uuid4()}"} if keyed else {})}
    with openai.DefaultHttpxClient(event_hooks={"request": [seen]}) as http:
        client = pqg.openai(user, max_retries=1, http_client=http)
        video = client.videos.create(model="sora-2", prompt="a cat", seconds="8", size="720x1280",
                                     extra_headers=headers)
        assert client.videos.retrieve(video.id).status == "in_progress"
    [(key, first), (again, second), _] = sent
    assert (key, again) == (headers.get("Idempotency-Key"),) * 2 and first != second, sent
    stats = proxy.stats()
    assert stats["paths"]["/v1/videos"] == 2, "the provider failed the first try and made the second"
    assert [j for j, job in stats["jobs"].items() if job["kind"] == "video"] == [video.id], "one video"
    usage = pqg.usage(user)
    assert (counter(usage, "videos"), counter(usage, "seconds")) == ((0, 1), (0, 8)), "held once"
    assert [j.id for j in usage.jobs] == [video.id]


@SORA_DEPRECATED
def test_a_remix_is_a_new_video_held_as_the_one_it_remixes_and_only_its_owner_may_remix(
        proxy: ProxyEnv, pqg: QuotaGateway, fresh_user: Callable[..., str]) -> None:
    user, other = video_user(proxy, fresh_user), video_user(proxy, fresh_user)
    client = pqg.openai(user)
    original = client.videos.create(model="sora-2", prompt="a cat", seconds="12", size="1280x720",
                                    extra_headers={"x-sim": "reads=1"})
    assert client.videos.retrieve(original.id).status == "completed"
    remix = client.videos.remix(original.id, prompt="a dog instead", extra_headers={"x-sim": "reads=1"})
    assert (remix.status, remix.remixed_from_video_id, remix.seconds, remix.size) == (
        "queued", original.id, "12", "1280x720")
    # Held at the seconds of the video it remixes (the body names only a prompt), in flight.
    usage = pqg.usage(user)
    assert (counter(usage, "videos"), counter(usage, "seconds")) == ((0, 1), (12, 12))
    assert [(j.id, j.kind, j.held) for j in usage.jobs] == [(remix.id, "video", {"video_seconds": 12})]
    # Another user may not remix it, nor learn that it exists: the provider never asked.
    remixes = proxy.stats()["paths"].get(f"/v1/videos/{original.id}/remix", 0)
    with pytest.raises(openai.NotFoundError):
        pqg.openai(other).videos.remix(original.id, prompt="mine now")
    assert proxy.stats()["paths"].get(f"/v1/videos/{original.id}/remix", 0) == remixes == 1
    # The remix is its owner's, and settles as any video does.
    assert client.videos.retrieve(remix.id).status == "completed"
    usage = pqg.usage(user)
    assert (counter(usage, "videos"), counter(usage, "seconds")) == ((0, 0), (24, 0)) and usage.jobs == []
    assert [c.quantity for c in commits_of(pqg, user, remix.id)] == [12]
    with pytest.raises(openai.NotFoundError):
        pqg.openai(other).videos.retrieve(remix.id)


# Memory.

def rss_kb(pid: int) -> int:
    for text in Path(f"/proc/{pid}/status").read_text().splitlines():
        if text.startswith("VmRSS:"):
            return int(text.split()[1])
    raise AssertionError("no VmRSS")


def steady_rss_kb(pid: int) -> int:
    """The node's resident memory once it holds still: a second without moving by 256 kB,
    within 30 s."""
    samples = [rss_kb(pid)]
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        time.sleep(0.2)
        samples = (samples + [rss_kb(pid)])[-6:]
        if len(samples) == 6 and max(samples) - min(samples) < 256:
            return samples[-1]
    raise AssertionError(f"the node's memory never held still: {samples}")


LARGE_LINES = 100_000


@pytest.mark.memory
def test_a_hundred_megabyte_batch_file_is_priced_as_it_streams_without_the_nodes_memory_growing(
        proxy: ProxyEnv, pqg: QuotaGateway, fresh_user: Callable[..., str]) -> None:
    user = batch_user(proxy, fresh_user, tokens=1_000_000_000)
    client = pqg.openai(user, max_retries=0, timeout=300)
    # About 1 KB a line: 226 words of text in each.
    words = " ".join(f"w{i % 97}" for i in range(226))
    with tempfile.TemporaryFile() as file:
        for i in range(LARGE_LINES):
            file.write((json.dumps(line(i, words), separators=(",", ":")) + "\n").encode())
        size = file.tell()
        file.seek(0)
        assert 100_000_000 <= size <= 110_000_000
        # A line alone, for its worst case; the node warmed up by an upload first.
        one = client.files.create(file=("one.jsonl", (json.dumps(line(0, words)) + "\n").encode()), purpose="batch")
        pid = proxy.gateway.process.pid
        before = steady_rss_kb(pid)
        peak = [before]
        done = threading.Event()

        def watch() -> None:
            while not done.is_set():
                peak[0] = max(peak[0], rss_kb(pid))
                time.sleep(0.05)

        watcher = threading.Thread(target=watch)
        watcher.start()
        started = time.monotonic()
        try:
            uploaded = client.files.create(file=("large.jsonl", file), purpose="batch")
        finally:
            seconds = time.monotonic() - started
            done.set()
            watcher.join()
        after = rss_kb(pid)
    print(f"\n{size} bytes in {LARGE_LINES} lines uploaded in {seconds:.1f} s; the node's RSS "
          f"{before} kB before, {peak[0]} kB at its peak, {after} kB after")
    assert uploaded.bytes == size
    assert proxy.stats()["requests"][-1]["body"]["file"] == {"filename": "large.jsonl", "bytes": size}
    assert max(peak[0], after) - before < 16 * 1024, f"the node's memory grew {peak[0] - before} kB for {size} bytes"

    # Every line was priced: a batch of the file holds a hundred thousand times one line's worst case.
    single = submit(client, one.id, "reads=100")
    [job] = pqg.usage(user).jobs
    large = submit(client, uploaded.id, "reads=100")
    usage = pqg.usage(user)
    assert [j.id for j in usage.jobs] == [single.id, large.id]
    assert usage.jobs[1].held["output_tokens"] == LARGE_LINES * MAX_TOKENS
    assert usage.jobs[1].held["input_tokens"] == LARGE_LINES * job.held["input_tokens"]
    assert counter(usage, "batch") == (0, (LARGE_LINES + 1) * tokens_held(job))
    for batch in (single, large):
        client.batches.cancel(batch.id)
        assert client.batches.retrieve(batch.id).status == "cancelled"
    assert counter(pqg.usage(user), "batch") == (0, 0)
