"""Gemini's Files API and batches of a file's requests through the gateway, with Google's own
client (`google-genai`) against the provider simulator: a resumable upload started with the
gateway's key and sent in chunks to the gateway's own URL for it (no key), a JSONL file's lines
priced as they pass (whichever chunk a line spans), a file that is its uploader's alone, and a
batch of its requests held at their worst case at the batch's model and settled from its
results file."""

from __future__ import annotations

import io
import json
from typing import Any, Callable, Dict, List

import httpx
import pytest
from conftest import ProxyEnv
from google.genai import _api_client, errors, types
from spent import spent
from test_proxy import ledger, settled

from quota_gateway import QuotaGateway

FLASH = "gemini-2.5-flash"
USER_PREFIX = "gf"


def jsonl(requests: List[Dict[str, Any]]) -> io.BytesIO:
    lines = [json.dumps({"key": f"r{i}", "request": r}) for i, r in enumerate(requests)]
    return io.BytesIO(("\n".join(lines) + "\n").encode())


def hello(words: str, max_tokens: Any = None) -> Dict[str, Any]:
    request: Dict[str, Any] = {"contents": [{"role": "user", "parts": [{"text": words}]}]}
    if max_tokens is not None:
        request["generationConfig"] = {"maxOutputTokens": max_tokens}
    return request


REQUESTS = [hello("Say hello to the quota gateway", 10), hello("Say hi", 5), hello("Tell a short story")]
JSONL = {"mime_type": "jsonl", "display_name": "requests"}


def test_a_file_uploaded_in_chunks_is_its_uploaders_and_a_batch_of_it_holds_what_the_same_requests_inlined_would(
        proxy: ProxyEnv, pqg: QuotaGateway, user_on: Callable[..., str], fresh_user: Callable[..., str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    user = user_on()
    client = pqg.gemini(user)
    # Chunks of 64 bytes: every line spans chunks, each its own request to the gateway's URL.
    monkeypatch.setattr(_api_client, "CHUNK_SIZE", 64)
    uploaded = client.files.upload(file=jsonl(REQUESTS), config=JSONL)
    assert uploaded.name and uploaded.name.startswith("files/") and uploaded.state == types.FileState.ACTIVE
    starts = [r for r in proxy.stats()["requests"] if r["path"] == "/upload/v1beta/files"]
    assert len(starts) > 5, "the file went in many chunks"
    # The chunks carried no key (the gateway's URL stood for it), and the provider only its own.
    assert all("x-goog-api-key" not in r["headers"] for r in starts[1:])
    # The file is the uploader's: read and listed for them, for nobody else.
    assert client.files.get(name=uploaded.name).name == uploaded.name
    assert [f.name for f in client.files.list()] == [uploaded.name]
    stranger = pqg.gemini(fresh_user(USER_PREFIX))
    with pytest.raises(errors.ClientError) as other:
        stranger.files.get(name=uploaded.name)
    assert other.value.code == 403
    assert list(stranger.files.list()) == []
    with pytest.raises(errors.ClientError):
        stranger.batches.create(model=FLASH, src=uploaded.name)
    # Its batch is held at what the same requests inlined are held at, the unnamed maximum at
    # the model's own.
    inlined_user = user_on()
    inlined = {"batch": {"inputConfig": {"requests": {"requests": [{"request": r} for r in REQUESTS]}}}}
    made = httpx.post(f"{proxy.base_url}/proxy/gemini/v1beta/models/{FLASH}:batchGenerateContent", json=inlined,
                      headers={"x-goog-api-key": proxy.env.secret, "X-Quota-User": inlined_user}, timeout=10)
    assert made.status_code == 200, made.text
    batch = client.batches.create(model=FLASH, src=uploaded.name, config=types.CreateBatchJobConfig(
        http_options=types.HttpOptions(headers={"x-sim": "reads=2"})))
    assert batch.name
    assert spent(proxy.env, user)[1] == spent(proxy.env, inlined_user)[1] > 0
    # Settled from its results file, which its owner (alone) downloads.
    while (seen := client.batches.get(name=batch.name)).state != types.JobState.JOB_STATE_SUCCEEDED:
        assert seen.state in (types.JobState.JOB_STATE_PENDING, types.JobState.JOB_STATE_RUNNING)
    assert seen.dest and seen.dest.file_name
    results = client.files.download(file=seen.dest.file_name)
    lines = [json.loads(line) for line in results.decode().splitlines()]
    assert [line["key"] for line in lines] == ["r0", "r1", "r2"]
    billed = sum(line["response"]["usageMetadata"]["totalTokenCount"] for line in lines)
    assert settled(proxy.env, user) == (billed, 0)
    (entry,) = ledger(pqg, user, "commit")
    assert (entry.event, (entry.metadata or {})["job_kind"]) == ("gemini.batches", "gemini_batch")
    with pytest.raises(errors.ClientError):
        stranger.files.download(file=seen.dest.file_name)
    # Deleted, it leaves its owner's list.
    client.files.delete(name=uploaded.name)
    assert [f.name for f in client.files.list()] == [seen.dest.file_name]


def test_a_line_the_gateway_cannot_price_refuses_the_upload_and_the_provider_never_has_the_file(
        proxy: ProxyEnv, pqg: QuotaGateway, user_on: Callable[..., str], monkeypatch: pytest.MonkeyPatch) -> None:
    user = user_on()
    client = pqg.gemini(user)
    monkeypatch.setattr(_api_client, "CHUNK_SIZE", 100)
    bad = [hello("fine", 5), {"contents": "not a list", "generationConfig": {"maxOutputTokens": -1}}, hello("fine")]
    with pytest.raises(errors.ClientError) as refused:
        client.files.upload(file=jsonl(bad), config=JSONL)
    assert refused.value.code == 400 and "line 2" in str(refused.value)
    finals = [r for r in proxy.stats()["requests"]
              if r["path"] == "/upload/v1beta/files" and "finalize" in r["headers"].get("x-goog-upload-command", "")]
    assert finals == []
    assert list(client.files.list()) == []
    assert spent(proxy.env, user) == (0, 0)


def test_any_other_file_passes_through_whole_and_a_chunk_without_its_session_is_refused(
        proxy: ProxyEnv, pqg: QuotaGateway, user_on: Callable[..., str]) -> None:
    user = user_on()
    client = pqg.gemini(user)
    picture = client.files.upload(file=io.BytesIO(b"\x89PNG" + bytes(5000)), config={"mime_type": "image/png"})
    assert picture.size_bytes == 5004 and picture.mime_type == "image/png"
    assert [f.name for f in client.files.list()] == [picture.name]
    # A batch of a file that is not a batch's requests is refused, naming the field.
    with pytest.raises(errors.ClientError) as refused:
        client.batches.create(model=FLASH, src=picture.name)
    assert refused.value.code == 400 and "fileName" in str(refused.value)
    # The gateway's upload URL is the session: one it never made is refused, naming it.
    answer = httpx.post(proxy.base_url + "/proxy/gemini/upload/v1beta/files?upload_id=default.00ff",
                        headers={"X-Goog-Upload-Command": "upload, finalize", "X-Goog-Upload-Offset": "0"},
                        content=b"x", timeout=10)
    assert answer.status_code == 400 and "upload_id" in answer.text
    assert spent(proxy.env, user) == (0, 0)
