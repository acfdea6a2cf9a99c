"""The hold bounds what the provider may do, through the official `openai` and `google-genai`
clients against the provider simulator: a form naming a part twice refused, the provider never
having a whole request (the simulator, reading it as Python's form parsers do, takes the last);
audio held at what its bytes carry whatever its header claims; a call naming no maximum output
forwarded with the one it was held at, so the provider never makes more than the quota; and an
input the provider stores (a Gemini cache, an earlier response) held at its size as the provider
reads it. What was charged is read from the gateway; what the provider did, from the simulator."""

from __future__ import annotations

import struct
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Callable, Dict, List, Optional, Tuple

import httpx
import openai
import pytest
from conftest import SIM_SECRET, ProxyEnv
from google import genai
from google.genai import errors, types
from spent import entries, settled

from quota_gateway import QuotaGateway

USER_PREFIX = "pb"
FLASH = "gemini-2.5-flash"
# As many output tokens as the simulator is allowed to make: it stops at the request's maximum.
AS_MANY_AS_ALLOWED = "output=200000"
# The catalog's context window of gpt-4o-mini and Gemini 2.5 Flash: what an input of unknown size
# is held at.
GPT_4O_MINI_CONTEXT = 128_000
FLASH_CONTEXT = 1_048_576
# Their output limits, which a call naming no maximum is held at and forwarded with.
GPT_5_OUTPUT = 128_000
FLASH_OUTPUT = 65_536


def wav(claimed: int, seconds: int) -> bytes:
    """8 kHz 8-bit mono (8,000 bytes a second) whose header claims `claimed` seconds, carrying
    `seconds` of data."""
    return (b"RIFF" + struct.pack("<I", 36 + claimed * 8_000) + b"WAVEfmt "
            + struct.pack("<IHHIIHH", 16, 1, 1, 8_000, 8_000, 1, 8) + b"data" + struct.pack("<I", claimed * 8_000)
            + b"\x80" * (seconds * 8_000))


def parts(*given: Tuple[str, Optional[str], bytes]) -> Dict[str, Any]:
    """A multipart form of (name, filename or None for a field, bytes), in the order given."""
    return {"files": [(name, (filename, data)) for name, filename, data in given]}


def through_gateway(proxy: ProxyEnv, user: str, path: str, **form: Any) -> httpx.Response:
    return httpx.post(f"{proxy.base_url}/proxy/openai/{path}", timeout=30, **form,
                      headers={"Authorization": f"Bearer {proxy.env.secret}", "X-Quota-User": user})


def at_the_provider(proxy: ProxyEnv, path: str, **form: Any) -> httpx.Response:
    return httpx.post(f"{proxy.sim.base_url}/{path}", timeout=30, **form,
                      headers={"Authorization": f"Bearer {SIM_SECRET}"})


def at_the_provider_get(proxy: ProxyEnv, path: str) -> httpx.Response:
    return httpx.get(f"{proxy.sim.base_url}/{path}", timeout=30,
                     headers={"Authorization": f"Bearer {SIM_SECRET}"})


def refused_naming(answer: httpx.Response, name: str) -> None:
    assert answer.status_code == 400, answer.text
    error = answer.json()["error"]
    assert name in error["message"] and "twice" in error["message"], error


def last_request(proxy: ProxyEnv, path: str) -> Dict[str, Any]:
    """The last request the simulator read of `path`."""
    found: List[Dict[str, Any]] = [r for r in proxy.stats()["requests"] if r["path"] == path]
    assert found, f"the simulator was not asked for {path}"
    return found[-1]


# A form read one way.

def test_a_video_or_an_upload_naming_a_part_twice_is_refused_naming_it_which_the_provider_would_read_at_its_last(
        proxy: ProxyEnv, user_on: Callable[..., str]) -> None:
    user = user_on(1_000_000, {"metadata": "calls"})
    # The official clients send each field once; httpx sends the parts given, a field being a
    # part without a filename.
    video = parts(("model", None, b"sora-2"), ("prompt", None, b"a cat"), ("seconds", None, b"4"),
                  ("model", None, b"sora-2-pro"), ("seconds", None, b"12"))
    audio = parts(("model", None, b"whisper-1"), ("file", "a.wav", wav(1, 1)), ("file", "b.wav", wav(6, 6)))
    named = f"twice-{user}.jsonl"
    batch_file = parts(("purpose", None, b"batch"), ("file", named, b'{"custom_id": "a"}\n'),
                       ("purpose", None, b"user_data"))
    refused_naming(through_gateway(proxy, user, "v1/videos", **video), "model")
    # The second file comes after the first one's head, which the hold is made from: the upload
    # is cut off there (`upload_broken`), the provider never having a whole request.
    refused_naming(through_gateway(proxy, user, "v1/audio/transcriptions", **audio), "file")
    refused_naming(through_gateway(proxy, user, "v1/files", **batch_file), "purpose")
    # The video and the audio are refused before the provider is asked, or cut off on their way;
    # the file, streamed through as it is read, is cut off at the part named twice. The provider
    # never has any of them whole: no video, no transcription, no file.
    stats = proxy.stats()
    assert "/v1/videos" not in stats["paths"], stats["paths"]
    assert stats["usage"]["audio_seconds"] == 0, stats["usage"]
    stored = at_the_provider_get(proxy, "v1/files?limit=10000")
    assert [f for f in stored.json()["data"] if f["filename"] == named] == [], stored.text
    assert settled(proxy.env, user) == (0, 0) and entries(proxy.env, user) == [], "nothing held or charged"
    # What the gateway prevents: the provider reads the last of each name, a dearer video (12 s
    # of sora-2-pro) and a longer file than the first parts say.
    made = at_the_provider(proxy, "v1/videos", **video)
    assert made.status_code == 200, made.text
    assert (made.json()["model"], made.json()["seconds"]) == ("sora-2-pro", "12")
    heard = at_the_provider(proxy, "v1/audio/transcriptions", **audio)
    assert heard.json()["usage"] == {"type": "duration", "seconds": 6}
    stored = at_the_provider(proxy, "v1/files", **batch_file)
    assert stored.json()["purpose"] == "user_data"


# Audio at what its bytes carry.

def test_a_wav_whose_header_claims_one_second_over_ten_minutes_of_data_is_held_at_its_data(
        proxy: ProxyEnv, pqg: QuotaGateway, user_on: Callable[..., str]) -> None:
    user = user_on(100, {"metadata": "audio_seconds"})
    client = pqg.openai(user, max_retries=0)
    with pytest.raises(openai.RateLimitError):
        client.audio.transcriptions.create(model="whisper-1", file=("a.wav", wav(1, 600)))
    assert proxy.stats()["calls"] == 0, "refused before the provider"
    assert settled(proxy.env, user) == (0, 0) and entries(proxy.env, user) == [], "nothing charged"
    # An honest 50 s file fits, and is charged the 50 s the provider reports.
    text = client.audio.transcriptions.create(model="whisper-1", file=("b.wav", wav(50, 50)))
    assert text.text.startswith("tok0")
    assert settled(proxy.env, user) == (50, 0)


# The maximum travels with the call.

def test_calls_naming_no_maximum_are_forwarded_with_the_one_they_were_held_at_within_the_quota(
        proxy: ProxyEnv, pqg: QuotaGateway, user_on: Callable[..., str]) -> None:
    quota = 3_000
    steer = {"x-sim": AS_MANY_AS_ALLOWED}
    # gpt-5's output limit (128,000) and Gemini 2.5 Flash's (65,536) are past the quota: each
    # call is held at what is left, and the provider is told so in the format's own field.
    chat_user = user_on(quota, {"metadata": "output_tokens"})
    chat = pqg.openai(chat_user, max_retries=0).chat.completions.create(
        model="gpt-5", messages=[{"role": "user", "content": "write a long story"}], extra_headers=steer)
    assert chat.usage is not None and chat.usage.completion_tokens == quota
    assert last_request(proxy, "/v1/chat/completions")["body"]["max_completion_tokens"] == quota
    assert settled(proxy.env, chat_user) == (quota, 0)

    responses_user = user_on(quota, {"metadata": "output_tokens"})
    response = pqg.openai(responses_user, max_retries=0).responses.create(
        model="gpt-5", input="write a long story", extra_headers=steer)
    assert response.usage is not None and response.usage.output_tokens == quota
    assert last_request(proxy, "/v1/responses")["body"]["max_output_tokens"] == quota
    assert settled(proxy.env, responses_user) == (quota, 0)

    gemini_user = user_on(quota, {"metadata": "output_tokens"})
    google = pqg.gemini(gemini_user)
    answer = google.models.generate_content(
        model=FLASH, contents="write a long story",
        config=types.GenerateContentConfig(http_options=types.HttpOptions(headers=steer)))
    assert answer.usage_metadata is not None
    path = f"/v1beta/models/{FLASH}:generateContent"
    assert last_request(proxy, path)["body"]["generationConfig"]["maxOutputTokens"] == quota
    assert settled(proxy.env, gemini_user) == (quota, 0)
    assert proxy.stats()["usage"]["output_tokens"] == 3 * quota, "the provider made no more than was held"


def test_a_call_naming_no_maximum_within_a_large_quota_is_forwarded_with_its_models_output_limit(
        proxy: ProxyEnv, pqg: QuotaGateway, user_on: Callable[..., str]) -> None:
    user = user_on(10_000_000, {"metadata": "output_tokens"})
    client = pqg.openai(user, max_retries=0)
    client.chat.completions.create(model="gpt-5", messages=[{"role": "user", "content": "hi"}])
    assert last_request(proxy, "/v1/chat/completions")["body"]["max_completion_tokens"] == GPT_5_OUTPUT
    client.responses.create(model="gpt-5", input="hi")
    assert last_request(proxy, "/v1/responses")["body"]["max_output_tokens"] == GPT_5_OUTPUT
    google = pqg.gemini(user)
    google.models.generate_content(model=FLASH, contents="hi")
    sent = last_request(proxy, f"/v1beta/models/{FLASH}:generateContent")["body"]
    assert sent["generationConfig"]["maxOutputTokens"] == FLASH_OUTPUT
    # Each settled at what the provider made (5 tokens), not at its hold.
    assert settled(proxy.env, user) == (15, 0)


def test_four_parallel_calls_naming_no_maximum_never_pass_the_quota_together(
        patient_proxy: ProxyEnv, user_on: Callable[..., str]) -> None:
    # The node that waits longer for Redis: four holds at once on a busy machine.
    proxy = patient_proxy
    quota = 3_000
    user = user_on(quota, {"metadata": "output_tokens"})
    steer = {"x-sim": AS_MANY_AS_ALLOWED}
    start = threading.Barrier(4, timeout=30)

    def one(kind: int) -> str:
        with QuotaGateway(proxy.env.secret, base_url=proxy.base_url) as qg:
            start.wait()
            try:
                if kind == 0:
                    qg.openai(user, max_retries=0).chat.completions.create(
                        model="gpt-5", messages=[{"role": "user", "content": "go"}], extra_headers=steer)
                elif kind == 1:
                    qg.openai(user, max_retries=0).responses.create(model="gpt-5", input="go", extra_headers=steer)
                else:
                    google = qg.gemini(user)
                    google.models.generate_content(
                        model=FLASH, contents="go",
                        config=types.GenerateContentConfig(http_options=types.HttpOptions(headers=steer)))
                return "admitted"
            except openai.RateLimitError:
                return "denied"
            except errors.ClientError as err:
                assert err.code == 429, err
                return "denied"

    with ThreadPoolExecutor(4) as pool:
        outcomes = list(pool.map(one, [0, 1, 2, 0], timeout=120))
    assert "admitted" in outcomes, outcomes
    used, reserved = settled(proxy.env, user)
    assert reserved == 0 and used <= quota, (used, outcomes)
    made = proxy.stats()["usage"]["output_tokens"]
    assert made <= quota, f"the provider made {made} output tokens for a quota of {quota}: {outcomes}"


# Stored inputs at their size.

def cache_made(client: genai.Client, tokens: int) -> str:
    """A Gemini cached content of `tokens` tokens, made through the gateway by the client's user
    (a call may name only its user's own caches)."""
    made = client.caches.create(model=FLASH, config=types.CreateCachedContentConfig(
        contents=["a long document"], ttl="3600s",
        http_options=types.HttpOptions(headers={"x-sim": f"input={tokens}"})))
    assert made.name and made.usage_metadata is not None and made.usage_metadata.total_token_count == tokens
    return made.name


def held(proxy: ProxyEnv, user: str) -> float:
    """What the user's last call was held at."""
    settled(proxy.env, user)
    found: List[Dict[str, Any]] = entries(proxy.env, user)
    assert found, "the call was committed"
    return float(found[-1]["reserved"])


def test_a_gemini_cache_is_held_at_its_size_as_the_provider_reads_it(
        proxy: ProxyEnv, pqg: QuotaGateway, fresh_user: Callable[..., str]) -> None:
    # The input tokens of calls that read caches; their making is not counted here.
    user = fresh_user("pb")
    proxy.env.call("PUT", f"/v1/plans/plan_{user}", {"id": f"plan_{user}", "periodType": "month", "groups": [
        {"id": "g", "unit": "tokens", "quota": 100_000, "measure": {"metadata": "input_tokens"},
         "matches": [{"event": "gemini.generate"}]}]})
    proxy.env.call("PUT", f"/v1/users/{user}/subscription", {"planId": f"plan_{user}"})
    client = pqg.gemini(user)

    def generate(cache: str) -> types.GenerateContentResponse:
        return client.models.generate_content(model=FLASH, contents="go", config=types.GenerateContentConfig(
            cached_content=cache, max_output_tokens=100))

    with pytest.raises(errors.ClientError) as denied:
        generate(cache_made(client, 900_000))
    assert denied.value.code == 429
    assert proxy.stats()["paths"].get(f"/v1beta/models/{FLASH}:generateContent") is None
    answer = generate(cache_made(client, 1_000))
    assert answer.usage_metadata is not None and answer.usage_metadata.cached_content_token_count == 1_000
    reserved = held(proxy, user)
    assert 1_000 <= reserved < FLASH_CONTEXT // 100, "held at the cache's size, not the model's context window"


def test_a_continued_response_is_held_at_the_stored_ones_usage_where_the_context_window_would_not_fit(
        proxy: ProxyEnv, pqg: QuotaGateway, user_on: Callable[..., str]) -> None:
    user = user_on(100_000, {"metadata": "input_tokens"})
    client = pqg.openai(user, max_retries=0)
    # Stored responses made through the gateway by the user who continues them.
    stored = client.responses.create(model="gpt-4o-mini", input="hi", max_output_tokens=10,
                                     extra_headers={"x-sim": "input=5000, output=10"})
    continued = client.responses.create(model="gpt-4o-mini", previous_response_id=stored.id, input="and?",
                                        max_output_tokens=10)
    assert continued.status == "completed"
    reserved = held(proxy, user)
    assert 5_010 <= reserved < GPT_4O_MINI_CONTEXT * 0.1, "held at the stored response's input and output"
    # One whose size cannot be read (deleted at the provider since) is held at the model's
    # context window: past the quota.
    gone = client.responses.create(model="gpt-4o-mini", input="hi", max_output_tokens=10)
    provider = openai.OpenAI(api_key=SIM_SECRET, base_url=proxy.sim.base_url + "/v1", max_retries=0)
    provider.responses.delete(gone.id)
    with pytest.raises(openai.RateLimitError):
        client.responses.create(model="gpt-4o-mini", previous_response_id=gone.id, input="and?",
                                max_output_tokens=10)
    assert proxy.stats()["paths"]["/v1/responses"] == 3, "the two stored ones and the continuation that fit"
