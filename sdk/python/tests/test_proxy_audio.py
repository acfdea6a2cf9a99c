"""Audio through the gateway's proxy with the official `openai` client, against the provider
simulator: transcriptions held at the most their file's bytes can carry and settled at the usage
reported, uploads streamed through without the node's memory growing, parallel calls against a
budget, speech settled from its events or at the audio it delivered. What was held and charged is
read from the gateway's ledger; what the provider did, from the simulator."""

from __future__ import annotations

import asyncio
import math
import struct
import tempfile
import threading
import time
from pathlib import Path
from typing import Any, Callable, Dict

import httpx
import openai
import pytest
from conftest import ProxyEnv
from spent import entries, settled

from quota_gateway import AsyncQuotaGateway, QuotaGateway

USER_PREFIX = "pa"
# The gateway's bound on audio no header states the length of: 750 bytes a second (Opus at its
# lowest bitrate), rounded up.
BYTES_PER_SECOND = 750
# Audio tokens a second, as the gateway holds them and the simulator reports them.
AUDIO_TOKENS_PER_SECOND = 10


def wav(seconds: int, rate: int = 8_000) -> bytes:
    """`seconds` of 16-bit mono silence: a header, then the samples."""
    data = bytes(seconds * rate * 2)
    return wav_header(len(data), rate) + data


def wav_header(data_bytes: int, rate: int = 8_000) -> bytes:
    return (b"RIFF" + struct.pack("<I", 36 + data_bytes) + b"WAVEfmt "
            + struct.pack("<IHHIIHH", 16, 1, 1, rate, rate * 2, 2, 16) + b"data" + struct.pack("<I", data_bytes))


def mp3(seconds: int) -> bytes:
    """MPEG-1 layer III frames at 128 kbit/s and 44.1 kHz (417 bytes each, no padding), as many
    as make `seconds` at that bitrate: 16,000 bytes a second."""
    frame = b"\xff\xfb\x90\x00" + bytes(413)
    whole = frame * math.ceil(seconds * 16_000 / len(frame))
    return whole[: seconds * 16_000]


def audio_user(user_on: Callable[..., str], count: str, quota: float = 1_000_000) -> str:
    """A user whose one group counts `count` of each call."""
    return user_on(quota, {"metadata": count})


def last_commit(proxy: ProxyEnv, user: str) -> Dict[str, Any]:
    settled(proxy.env, user)
    found = entries(proxy.env, user)
    assert found, "the call was committed"
    return found[-1]


def amount(commit: Dict[str, Any]) -> float:
    """What the commit counted in the user's one group."""
    return float(commit["groups"][0]["amount"])


def rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS")


def steady_rss_kb(pid: int) -> int:
    """The node's resident memory once it holds still (a node loads its tokenizers in the
    background after it starts): a second without moving by 256 kB, within 30 s."""
    samples = [rss_kb(pid)]
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        time.sleep(0.2)
        samples = (samples + [rss_kb(pid)])[-6:]
        if len(samples) == 6 and max(samples) - min(samples) < 256:
            return samples[-1]
    raise AssertionError(f"the node's memory never held still: {samples}")


# Transcriptions.

def test_a_wav_and_an_mp3_are_held_at_their_length_and_settled_at_the_seconds_reported(
        proxy: ProxyEnv, pqg: QuotaGateway, user_on: Callable[..., str]) -> None:
    user = audio_user(user_on, "audio_seconds")
    client = pqg.openai(user, max_retries=0)
    # A PCM WAV is held at its exact length; an MP3 (whose frames could each say another
    # bitrate) at the larger of its header's length and its size at the lowest bitrate.
    for name, file, seconds, held in (("a.wav", wav(3), 3, 3),
                                      ("b.mp3", mp3(5), 5, math.ceil(len(mp3(5)) / BYTES_PER_SECOND))):
        text = client.audio.transcriptions.create(model="whisper-1", file=(name, file))
        assert text.text == "tok0 tok1 tok2 tok3 tok4"
        commit = last_commit(proxy, user)
        assert commit["reserved"] == held, f"{name} is held at the most its bytes can carry"
        assert commit["quantity"] == seconds
        meta = commit["metadata"]
        assert (meta["operation"], meta["model"], meta["usage"]) == ("transcriptions", "whisper-1", "reported")
        assert meta["audio_seconds"] == seconds
    assert proxy.stats()["usage"]["audio_seconds"] == 8
    sent = proxy.stats()["requests"][-1]["body"]
    assert sent["file"] == {"filename": "b.mp3", "bytes": len(mp3(5))}, "the provider got the whole file"


def test_a_token_priced_transcription_settles_its_tokens_and_keeps_the_seconds_read(
        proxy: ProxyEnv, pqg: QuotaGateway, user_on: Callable[..., str]) -> None:
    user = audio_user(user_on, "audio_input_tokens")
    client = pqg.openai(user, max_retries=0)
    client.audio.transcriptions.create(model="gpt-4o-transcribe", file=("a.wav", wav(4)), prompt="two words")
    commit = last_commit(proxy, user)
    assert commit["reserved"] == 4, "held at the seconds its data carries"
    assert amount(commit) == 4 * AUDIO_TOKENS_PER_SECOND
    meta = commit["metadata"]
    assert (meta["audio_input_tokens"], meta["input_tokens"], meta["output_tokens"]) == (40, 42, 5)
    assert (meta["audio_seconds"], meta["usage"]) == (4, "reported"), "the seconds are those read of its data"


def test_a_streamed_transcription_settles_at_its_done_events_usage(
        proxy: ProxyEnv, pqg: QuotaGateway, user_on: Callable[..., str]) -> None:
    user = audio_user(user_on, "output_tokens")
    client = pqg.openai(user, max_retries=0)
    stream = client.audio.transcriptions.create(model="gpt-4o-mini-transcribe", file=("a.wav", wav(2)), stream=True,
                                                extra_headers={"x-sim": "output=7"})
    events = [event.type for event in stream]
    assert events == ["transcript.text.delta"] * 7 + ["transcript.text.done"]
    commit = last_commit(proxy, user)
    assert (amount(commit), commit["metadata"]["usage"]) == (7, "reported")
    assert commit["metadata"]["audio_input_tokens"] == 20


def test_a_transcript_as_text_has_no_usage_and_settles_at_its_hold_marked_estimated(
        proxy: ProxyEnv, pqg: QuotaGateway, user_on: Callable[..., str]) -> None:
    user = audio_user(user_on, "audio_seconds")
    client = pqg.openai(user, max_retries=0)
    text = client.audio.transcriptions.create(model="whisper-1", file=("a.wav", wav(6)), response_format="srt")
    assert "tok0" in str(text)
    commit = last_commit(proxy, user)
    assert (commit["quantity"], commit["metadata"]["usage"]) == (6, "estimated")
    translated = client.audio.translations.create(model="whisper-1", file=("a.wav", wav(2)))
    assert translated.text.startswith("tok0")
    commit = last_commit(proxy, user)
    assert (commit["metadata"]["operation"], commit["quantity"], commit["metadata"]["usage"]) == (
        "translations", 2, "estimated")


def test_audio_whose_length_no_header_states_is_held_at_the_bound_of_its_size(
        proxy: ProxyEnv, pqg: QuotaGateway, user_on: Callable[..., str]) -> None:
    user = audio_user(user_on, "audio_seconds")
    client = pqg.openai(user, max_retries=0)
    ogg = b"OggS" + bytes(30_000)
    client.audio.transcriptions.create(model="whisper-1", file=("a.ogg", ogg), extra_headers={"x-sim": "seconds=12"})
    commit = last_commit(proxy, user)
    # Its size bounds it: the file's bytes (with at most the closing boundary after them) at
    # 750 bytes a second.
    assert math.ceil(len(ogg) / BYTES_PER_SECOND) <= commit["reserved"] <= math.ceil((len(ogg) + 64) / BYTES_PER_SECOND)
    assert (commit["quantity"], commit["metadata"]["usage"]) == (12, "reported")


@pytest.mark.memory
def test_a_two_hundred_megabyte_upload_streams_through_without_the_nodes_memory_growing(
        proxy: ProxyEnv, pqg: QuotaGateway, user_on: Callable[..., str]) -> None:
    user = audio_user(user_on, "audio_seconds", quota=10_000_000)
    client = pqg.openai(user, max_retries=0, timeout=120)
    size = 200 << 20
    with tempfile.TemporaryFile() as file:
        # A sparse file: a WAV header, then silence the file system never writes.
        file.write(wav_header(size))
        file.truncate(44 + size)
        file.seek(0)
        # A first upload of some megabytes takes the pages the upload path's buffers use (the
        # node's allocator commits memory 4 MiB at a time): what is measured is whether memory
        # grows with an upload's size.
        client.audio.transcriptions.create(model="whisper-1", file=("warm.wav", wav(600)))
        pid = proxy.gateway.process.pid
        before = steady_rss_kb(pid)
        peak = [before]
        done = threading.Event()

        def watch() -> None:
            while not done.is_set():
                peak[0] = max(peak[0], rss_kb(pid))
                time.sleep(0.02)

        watcher = threading.Thread(target=watch)
        watcher.start()
        try:
            client.audio.transcriptions.create(model="whisper-1", file=("big.wav", file))
        finally:
            done.set()
            watcher.join()
    seconds = math.ceil(size / 16_000)
    commit = last_commit(proxy, user)
    assert (commit["reserved"], commit["quantity"]) == (seconds, seconds)
    assert proxy.stats()["requests"][-1]["body"]["file"]["bytes"] == 44 + size
    grew_kb = peak[0] - before
    assert grew_kb < 4 * 1024, f"the node's memory grew {grew_kb} kB for a 200 MB upload"


async def test_parallel_transcriptions_against_a_budget_admit_exactly_what_fits(
        proxy: ProxyEnv, user_on: Callable[..., str]) -> None:
    user = audio_user(user_on, "audio_seconds", quota=100)
    file = wav(10)
    async with AsyncQuotaGateway(proxy.env.secret, base_url=proxy.base_url) as aqg:
        client = aqg.openai(user)
        gate = asyncio.Semaphore(8)

        async def one() -> str:
            async with gate:
                try:
                    await client.audio.transcriptions.create(model="whisper-1", file=("a.wav", file))
                    return "admitted"
                except openai.RateLimitError:
                    return "denied"

        outcomes = await asyncio.wait_for(asyncio.gather(*(one() for _ in range(24))), 60)
        await client.close()
    assert (outcomes.count("admitted"), outcomes.count("denied")) == (10, 14)
    assert proxy.stats()["paths"].get("/v1/audio/transcriptions") == 10, "a denied call never reaches the provider"
    used, reserved = settled(proxy.env, user)
    assert (used, reserved) == (100, 0)


# Speech.

def test_speech_streamed_as_events_settles_at_its_done_events_usage(
        proxy: ProxyEnv, pqg: QuotaGateway, user_on: Callable[..., str]) -> None:
    user = audio_user(user_on, "audio_output_tokens")
    client = pqg.openai(user, max_retries=0)
    with client.audio.speech.with_streaming_response.create(
            model="gpt-4o-mini-tts", voice="alloy", input="Say hello to the quota gateway", stream_format="sse",
            extra_headers={"x-sim": "output=9"}) as response:
        lines = [line for line in response.iter_lines() if line.startswith("data: ")]
    assert len(lines) == 10 and '"speech.audio.done"' in lines[-1]
    commit = last_commit(proxy, user)
    assert (amount(commit), commit["metadata"]["usage"]) == (9, "reported")
    meta = commit["metadata"]
    assert (meta["input_characters"], meta["input_tokens"], meta["output_tokens"]) == (30, 6, 9)


def test_speech_answered_as_audio_bytes_settles_at_its_characters_and_the_audio_delivered_marked_estimated(
        proxy: ProxyEnv, pqg: QuotaGateway, user_on: Callable[..., str]) -> None:
    user = audio_user(user_on, "input_characters")
    client = pqg.openai(user, max_retries=0)
    spoken = "hello there"
    with client.audio.speech.with_streaming_response.create(model="tts-1", voice="alloy", input=spoken) as response:
        assert response.headers["content-type"] == "audio/mpeg"
        audio = b"".join(response.iter_bytes())
    assert len(audio) == len(spoken) * 417, "the audio reached the caller whole"
    commit = last_commit(proxy, user)
    assert (commit["quantity"], commit["metadata"]["usage"]) == (len(spoken), "estimated")
    assert commit["reserved"] == len(spoken)
    # 11 frames of 26 ms: 287 ms of audio, at 1,250 audio tokens a minute.
    assert (commit["metadata"]["output_tokens"], commit["metadata"]["audio_output_tokens"]) == (6, 6)


def test_a_priced_budget_holds_audio_at_its_models_price(
        proxy: ProxyEnv, pqg: QuotaGateway, user_on: Callable[..., str]) -> None:
    # whisper-1 at $0.006 a minute: a minute is 0.6 cents; tts-1 at $15 per million characters.
    user = user_on(100)
    proxy.env.call("PUT", f"/v1/plans/plan_{user}", {"id": f"plan_{user}", "periodType": "month", "groups": [
        {"id": "g", "unit": "cents", "quota": 100, "measure": {"price": "catalog"}, "matches": [{"event": "*"}]}]})
    client = pqg.openai(user, max_retries=0)
    client.audio.transcriptions.create(model="whisper-1", file=("a.wav", wav(60)))
    assert settled(proxy.env, user) == (0.6, 0)
    client.audio.speech.create(model="tts-1", voice="alloy", input="x" * 1000).read()
    assert settled(proxy.env, user) == (2.1, 0)


def test_a_body_that_is_not_an_upload_or_names_no_model_is_refused_before_the_provider(
        proxy: ProxyEnv, user_on: Callable[..., str]) -> None:
    user = audio_user(user_on, "audio_seconds")
    url = proxy.base_url + "/proxy/openai/v1/audio/transcriptions"
    headers = {"Authorization": f"Bearer {proxy.env.secret}", "X-Quota-User": user}
    as_json = httpx.post(url, headers=headers, json={"model": "whisper-1"}, timeout=10)
    assert as_json.status_code == 400 and "multipart/form-data" in as_json.json()["error"]["message"]
    nameless = httpx.post(url, headers=headers, files={"file": ("a.wav", wav(1))}, timeout=10)
    assert nameless.status_code == 400 and nameless.json()["error"]["param"] == "model"
    no_file = httpx.post(url, headers=headers, data={"model": "whisper-1"}, files={"other": ("a", b"x")}, timeout=10)
    assert no_file.status_code == 400 and no_file.json()["error"]["param"] == "file"
    assert proxy.stats()["calls"] == 0


def test_a_large_upload_denied_before_its_end_is_answered_in_the_providers_words(
        proxy: ProxyEnv, pqg: QuotaGateway, user_on: Callable[..., str]) -> None:
    user = audio_user(user_on, "audio_seconds", quota=10)
    client = pqg.openai(user, max_retries=0)
    # 20 minutes at 8 kHz: 19 MB, denied on its header while the rest is still being sent.
    with pytest.raises(openai.RateLimitError):
        client.audio.transcriptions.create(model="whisper-1", file=("long.wav", wav(1200)))
    assert proxy.stats()["calls"] == 0
    text = client.audio.transcriptions.create(model="whisper-1", file=("short.wav", wav(2)))
    assert text.text.startswith("tok0"), "the connection serves the next call"


def test_an_upload_repeated_with_its_idempotency_key_is_one_call_whatever_its_boundary(
        proxy: ProxyEnv, user_on: Callable[..., str]) -> None:
    user = audio_user(user_on, "audio_seconds")
    url = proxy.base_url + "/proxy/openai/v1/audio/transcriptions"
    headers = {"Authorization": f"Bearer {proxy.env.secret}", "X-Quota-User": user, "Idempotency-Key": f"k-{user}"}
    first = httpx.post(url, headers=headers, data={"model": "whisper-1"}, files={"file": ("a.wav", wav(2))}, timeout=10)
    assert first.status_code == 200
    # httpx draws a new boundary for each body: the same parts are the same call.
    again = httpx.post(url, headers=headers, data={"model": "whisper-1"}, files={"file": ("a.wav", wav(2))}, timeout=10)
    assert (again.status_code, again.json()["error"]["code"]) == (409, "idempotency_key_settled")
    assert proxy.stats()["paths"].get("/v1/audio/transcriptions") == 1


def test_a_file_sent_before_its_model_as_curl_sends_it_is_held_the_same(
        proxy: ProxyEnv, user_on: Callable[..., str]) -> None:
    user = audio_user(user_on, "audio_seconds")
    body = (b'--b0und\r\nContent-Disposition: form-data; name="file"; filename="a.wav"\r\n'
            b"Content-Type: audio/wav\r\n\r\n" + wav(3)
            + b'\r\n--b0und\r\nContent-Disposition: form-data; name="model"\r\n\r\nwhisper-1\r\n--b0und--\r\n')
    answer = httpx.post(proxy.base_url + "/proxy/openai/v1/audio/transcriptions", content=body, timeout=10,
                        headers={"Authorization": f"Bearer {proxy.env.secret}", "X-Quota-User": user,
                                 "Content-Type": "multipart/form-data; boundary=b0und"})
    assert answer.json()["usage"] == {"type": "duration", "seconds": 3}
    commit = last_commit(proxy, user)
    assert (commit["reserved"], commit["quantity"]) == (3, 3)
