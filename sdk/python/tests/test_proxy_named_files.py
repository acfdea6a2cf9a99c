"""Files a call names by id, through the gateway with the official `openai` and `google-genai`
clients against the provider simulator (which, as the providers do, reads any file of its
account to whoever names it): a call may name only files its user uploaded through the
gateway. Another user's file, or one the gateway never saw, is refused before the hold,
naming the field, and the provider never sees the call."""

from __future__ import annotations

import io
import json
import re
from typing import Callable, List

import httpx
import openai
import pytest
from conftest import ProxyEnv
from google.genai import errors, types
from spent import spent

from quota_gateway import QuotaGateway

USER_PREFIX = "nf"
GPT = "gpt-4o-mini"
FLASH = "gemini-2.5-flash"
PDF = b"%PDF-1.4\n" + bytes(2000)


def calls(proxy: ProxyEnv, path: str) -> List[dict]:
    return [r for r in proxy.stats()["requests"] if r["path"] == path]


def read(file_id: str) -> List[dict]:
    return [{"role": "user", "content": [{"type": "text", "text": "Sum it up"},
                                         {"type": "file", "file": {"file_id": file_id}}]}]


def test_a_chat_or_a_response_may_name_only_files_its_user_uploaded_here(
        proxy: ProxyEnv, pqg: QuotaGateway, user_on: Callable[..., str]) -> None:
    owner, stranger = user_on(), user_on()
    mine = pqg.openai(owner, max_retries=0)
    uploaded = mine.files.create(file=("notes.pdf", PDF), purpose="user_data")
    # Its uploader reads it in a chat and in a response.
    answer = mine.chat.completions.create(model=GPT, messages=read(uploaded.id), max_completion_tokens=5)
    assert answer.choices[0].message.content
    mine.responses.create(model=GPT, max_output_tokens=5, input=[{"role": "user", "content": [
        {"type": "input_text", "text": "Sum it up"}, {"type": "input_file", "file_id": uploaded.id}]}])
    seen = len(calls(proxy, "/v1/chat/completions")), len(calls(proxy, "/v1/responses"))
    # Another user names it: refused, naming the field; nothing held, the provider never asked.
    theirs = pqg.openai(stranger, max_retries=0)
    with pytest.raises(openai.BadRequestError) as chat:
        theirs.chat.completions.create(model=GPT, messages=read(uploaded.id), max_completion_tokens=5)
    assert chat.value.param == "messages[0].content[1].file.file_id", chat.value.body
    with pytest.raises(openai.BadRequestError) as response:
        theirs.responses.create(model=GPT, max_output_tokens=5, input=[{"role": "user", "content": [
            {"type": "input_text", "text": "Sum it up"}, {"type": "input_file", "file_id": uploaded.id}]}])
    assert response.value.param == "input[0].content[1].file_id"
    # So is a code interpreter given it, and a file the gateway never saw, even by its owner.
    with pytest.raises(openai.BadRequestError) as tool:
        theirs.responses.create(model=GPT, max_output_tokens=5, input="Plot it", tools=[
            {"type": "code_interpreter", "container": {"type": "auto", "file_ids": [uploaded.id]}}])
    assert tool.value.param == "tools[0].container.file_ids[0]"
    with pytest.raises(openai.BadRequestError) as unknown:
        mine.chat.completions.create(model=GPT, messages=read("file-notuploadedhere"), max_completion_tokens=5)
    assert unknown.value.param == "messages[0].content[1].file.file_id"
    assert (len(calls(proxy, "/v1/chat/completions")), len(calls(proxy, "/v1/responses"))) == seen
    assert spent(proxy.env, stranger) == (0, 0)


def test_a_gemini_call_may_name_only_files_its_user_uploaded_here(
        proxy: ProxyEnv, pqg: QuotaGateway, user_on: Callable[..., str]) -> None:
    # (A file by URI is held at the model's context window, a million tokens.)
    owner, stranger = user_on(quota=5_000_000), user_on(quota=5_000_000)
    mine = pqg.gemini(owner)
    picture = mine.files.upload(file=io.BytesIO(b"\x89PNG" + bytes(3000)), config={"mime_type": "image/png"})
    assert picture.uri and picture.name
    part = types.Part.from_uri(file_uri=picture.uri, mime_type="image/png")
    said = mine.models.generate_content(model=FLASH, contents=["What is in it?", part],
                                        config=types.GenerateContentConfig(max_output_tokens=5))
    assert said.text
    generate = f"/v1beta/models/{FLASH}:generateContent"
    seen = len(calls(proxy, generate))
    theirs = pqg.gemini(stranger)
    # By its URL, or by its name: refused, naming the field.
    for named in (part, types.Part.from_uri(file_uri=picture.name, mime_type="image/png")):
        with pytest.raises(errors.ClientError) as refused:
            theirs.models.generate_content(model=FLASH, contents=["What is in it?", named],
                                           config=types.GenerateContentConfig(max_output_tokens=5))
        # (The field as the client spelled it: google-genai writes `file_uri` in `fileData`.)
        assert refused.value.code == 400 and re.search(r"contents\[0\]\.parts\[1\]\.fileData\.file_?[uU]ri: is not a file",
                                                       str(refused.value))
    # A cache made of it is a read of it too.
    with pytest.raises(errors.ClientError) as cached:
        theirs.caches.create(model=FLASH, config=types.CreateCachedContentConfig(
            contents=[types.Content(role="user", parts=[part])]))
    assert cached.value.code == 400 and re.search(r"fileData\.file_?[uU]ri: is not a file", str(cached.value))
    assert len(calls(proxy, generate)) == seen
    assert spent(proxy.env, stranger) == (0, 0)


def test_a_batch_may_name_only_files_its_submitter_uploaded_here(
        proxy: ProxyEnv, pqg: QuotaGateway, user_on: Callable[..., str]) -> None:
    owner, stranger = user_on(quota=10_000_000), user_on(quota=10_000_000)
    notes = pqg.openai(owner, max_retries=0).files.create(file=("notes.pdf", PDF), purpose="user_data")
    line = {"custom_id": "a", "method": "POST", "url": "/v1/chat/completions",
            "body": {"model": GPT, "messages": read(notes.id), "max_completion_tokens": 5}}
    lines = (json.dumps(line) + "\n").encode()

    def batch(user: str) -> openai.types.Batch:
        client = pqg.openai(user, max_retries=0)
        made = client.files.create(file=("batch.jsonl", lines), purpose="batch")
        return client.batches.create(input_file_id=made.id, endpoint="/v1/chat/completions", completion_window="24h",
                                     extra_headers={"x-sim": "reads=100"})

    # The owner's batch of its own file is taken; a stranger's file of the same lines is not.
    assert batch(owner).status == "validating"
    with pytest.raises(openai.BadRequestError) as refused:
        batch(stranger)
    assert refused.value.param == "input_file_id" and notes.id in refused.value.message
    assert spent(proxy.env, stranger) == (0, 0)
    # Gemini's inlined requests likewise, naming the request's field.
    # (Kept: google-genai's client closes its connections once it is dropped.)
    gemini = pqg.gemini(owner)
    picture = gemini.files.upload(file=io.BytesIO(b"\x89PNG" + bytes(300)), config={"mime_type": "image/png"})
    request = {"contents": [{"role": "user", "parts": [{"text": "What is it?"},
                                                       {"fileData": {"fileUri": picture.uri, "mimeType": "image/png"}}]}],
               "generationConfig": {"maxOutputTokens": 5}}
    inlined = {"batch": {"inputConfig": {"requests": {"requests": [{"request": request}]}}}}
    made = httpx.post(f"{proxy.base_url}/proxy/gemini/v1beta/models/{FLASH}:batchGenerateContent", json=inlined,
                      headers={"x-goog-api-key": proxy.env.secret, "X-Quota-User": stranger}, timeout=10)
    assert made.status_code == 400, made.text
    assert "batch.inputConfig.requests.requests[0].request.contents[0].parts[1].fileData.fileUri" in made.text
    # And the lines of a batch's file.
    theirs = pqg.gemini(stranger)
    their_lines = theirs.files.upload(file=io.BytesIO((json.dumps({"key": "a", "request": request}) + "\n").encode()),
                                      config={"mime_type": "jsonl"})
    with pytest.raises(errors.ClientError) as of_file:
        theirs.batches.create(model=FLASH, src=their_lines.name)
    assert of_file.value.code == 400 and "batch.inputConfig.fileName" in str(of_file.value)
    assert picture.name.removeprefix("files/") in str(of_file.value)
    mine = httpx.post(f"{proxy.base_url}/proxy/gemini/v1beta/models/{FLASH}:batchGenerateContent", json=inlined,
                      headers={"x-goog-api-key": proxy.env.secret, "X-Quota-User": owner}, timeout=10)
    assert mine.status_code == 200, mine.text
    assert spent(proxy.env, stranger) == (0, 0)


def test_a_stored_response_or_a_cache_is_continued_only_by_the_user_who_made_it(
        proxy: ProxyEnv, pqg: QuotaGateway, user_on: Callable[..., str]) -> None:
    owner, stranger = user_on(quota=10_000_000), user_on(quota=10_000_000)
    mine, theirs = pqg.openai(owner, max_retries=0), pqg.openai(stranger, max_retries=0)
    first = mine.responses.create(model=GPT, input="Remember the number 7", max_output_tokens=5)
    # Streamed, its id comes in its first event: recorded before that event reaches the caller.
    with mine.responses.stream(model=GPT, input="And 8", max_output_tokens=5, previous_response_id=first.id) as stream:
        streamed = stream.get_final_response()
    assert mine.responses.create(model=GPT, input="Which?", max_output_tokens=5,
                                 previous_response_id=streamed.id).output_text
    seen = len(calls(proxy, "/v1/responses"))
    for made in (first.id, streamed.id):
        with pytest.raises(openai.BadRequestError) as refused:
            theirs.responses.create(model=GPT, input="Which?", max_output_tokens=5, previous_response_id=made)
        assert refused.value.param == "previous_response_id" and "response this user made" in refused.value.message
    assert len(calls(proxy, "/v1/responses")) == seen
    # A Gemini cache likewise.
    gemini, other = pqg.gemini(owner), pqg.gemini(stranger)
    cache = gemini.caches.create(model=FLASH, config=types.CreateCachedContentConfig(
        contents=[types.Content(role="user", parts=[types.Part(text="A long document " * 50)])]))
    assert cache.name and cache.name.startswith("cachedContents/")
    config = types.GenerateContentConfig(cached_content=cache.name, max_output_tokens=5)
    assert gemini.models.generate_content(model=FLASH, contents="Sum it up", config=config).text
    with pytest.raises(errors.ClientError) as cached:
        other.models.generate_content(model=FLASH, contents="Sum it up", config=config)
    assert cached.value.code == 400 and re.search(r"cached_?[cC]ontent: is not a cache this user made", str(cached.value))
    assert spent(proxy.env, stranger) == (0, 0)
