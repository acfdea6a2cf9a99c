"""The simulator's Realtime API (clouds/realtime.py): a WebSocket session driven by the official
client, `openai.AsyncOpenAI(...).realtime.connect(model=...)`, its usage checked against the
README's rules and the read-back; and the WebSocket itself over a raw socket (the handshake,
fragments, ping, close codes).

    target/py-sdk-venv/bin/python tests/provider/test_realtime.py

The raw-socket checks need only the standard library; those through the client are skipped in an
interpreter without `openai` and `websockets`.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import http.client
import json
import math
import os
import socket
import struct
import sys
import time
import unittest
from typing import Any, Dict, List, Optional, Tuple

try:
    import openai
    import websockets
    from websockets.asyncio.client import connect as ws_connect
except ImportError:  # the raw-socket checks still run
    openai = websockets = ws_connect = None  # type: ignore[assignment, misc]

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from simulated import Sim  # noqa: E402
KEY = "sk-realtime-secret"
MODEL = "gpt-realtime"
GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
# Azure OpenAI: a deployment and the model it serves, the Entra ID token taken as a bearer token.
DEPLOYMENT = "voice-prod"
ENTRA = "entra-realtime-token"
AZURE_VERSION = "2025-04-01-preview"
WAIT = 10.0

sim: Optional[Sim] = None
port = 0


def setUpModule() -> None:
    global sim, port
    sim = Sim("--key", KEY, "--azure-deployments", f"{DEPLOYMENT}={MODEL}", "--azure-entra-token", ENTRA)
    port = sim.port


def tearDownModule() -> None:
    if sim is not None:
        sim.stop()


def base() -> str:
    return f"http://127.0.0.1:{port}"


def stats() -> Dict[str, Any]:
    assert sim is not None
    return sim.stats()


def control(path: str) -> None:
    assert sim is not None
    sim.control(path)


def reset() -> None:
    control("/_sim/reset")


def release() -> None:
    control("/_sim/release")


def session_record(sid: str, closed: bool = False) -> Dict[str, Any]:
    """The session in the read-back; with `closed`, once the simulator has seen it end."""
    deadline = time.monotonic() + WAIT
    while True:
        found = stats()["jobs"].get(sid)
        if found is not None and (not closed or not found["open"]):
            return found
        if time.monotonic() > deadline:
            raise AssertionError(f"session {sid} not {'closed' if closed else 'recorded'}: {found}")
        time.sleep(0.02)


def pcm(ms: int, loud: bool) -> bytes:
    """PCM16 mono at 24 kHz: a 440 Hz tone at amplitude 3000, or silence."""
    count = 24 * ms
    if not loud:
        return bytes(2 * count)
    return struct.pack(f"<{count}h", *(int(3000 * math.sin(2 * math.pi * 440 * i / 24000)) for i in range(count)))


def chunks(*spans: Tuple[int, bool]) -> List[str]:
    """The spans' audio in 100 ms appends, base64."""
    audio = b"".join(pcm(ms, loud) for ms, loud in spans)
    step = 24 * 2 * 100
    return [base64.b64encode(audio[at:at + step]).decode() for at in range(0, len(audio), step)]


def usage_of(event: Any) -> Dict[str, Any]:
    found: Dict[str, Any] = event.response.usage.to_dict()
    return found


def expected_usage(text_in: int, audio_in: int, cached_text: int, cached_audio: int, text_out: int,
                   audio_out: int) -> Dict[str, Any]:
    """A response.done usage as the README's rules make it."""
    given, made = text_in + audio_in, text_out + audio_out
    return {"total_tokens": given + made, "input_tokens": given, "output_tokens": made,
            "input_token_details": {"text_tokens": text_in, "audio_tokens": audio_in, "image_tokens": 0,
                                    "cached_tokens": cached_text + cached_audio,
                                    "cached_tokens_details": {"text_tokens": cached_text, "audio_tokens": cached_audio,
                                                              "image_tokens": 0}},
            "output_token_details": {"text_tokens": text_out, "audio_tokens": audio_out}}


USER_TEXT = {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "hello there my friend"}]}


@unittest.skipIf(openai is None, "needs openai and websockets (target/py-sdk-venv)")
class Client(unittest.IsolatedAsyncioTestCase):
    """Through the official client, as an application would drive the session."""

    def setUp(self) -> None:
        reset()
        self.client = openai.AsyncOpenAI(base_url=base() + "/v1", api_key=KEY, max_retries=0)

    async def asyncSetUp(self) -> None:
        # The test case runs its loop in debug mode, which reports each blocking read-back as slow.
        asyncio.get_running_loop().slow_callback_duration = 5.0
        self.sessions: List[str] = []

    async def asyncTearDown(self) -> None:
        # Each session's end counted before the next test's reset, so none of it counts there.
        for sid in self.sessions:
            session_record(sid, closed=True)

    def connect(self, sim: str = "") -> Any:
        return self.client.realtime.connect(model=MODEL, extra_headers={"x-sim": sim} if sim else {})

    async def until(self, conn: Any, kind: str) -> List[Any]:
        """The events up to and including the first of `kind`."""
        found = []
        while True:
            event = await asyncio.wait_for(conn.recv(), WAIT)
            found.append(event)
            if event.type == kind:
                return found

    async def opened(self, conn: Any) -> str:
        created = await asyncio.wait_for(conn.recv(), WAIT)
        self.assertEqual(created.type, "session.created")
        sid: str = created.session.id
        self.sessions.append(sid)
        return sid

    async def test_session_created_whole_then_an_update_merged_and_answered_whole(self) -> None:
        async with self.connect() as conn:
            created = await asyncio.wait_for(conn.recv(), WAIT)
            session = created.session.to_dict()
            self.assertEqual((created.type, session["type"], session["model"], session["output_modalities"]),
                             ("session.created", "realtime", MODEL, ["audio"]))
            self.assertEqual(session["audio"]["input"]["format"], {"type": "audio/pcm", "rate": 24000})
            vad = session["audio"]["input"]["turn_detection"]
            self.assertEqual({k: vad[k] for k in ("type", "prefix_padding_ms", "silence_duration_ms", "create_response",
                                                  "interrupt_response")},
                             {"type": "server_vad", "prefix_padding_ms": 300, "silence_duration_ms": 500,
                              "create_response": True, "interrupt_response": True})
            self.assertIsInstance(vad["threshold"], float)
            self.assertEqual(session["audio"]["output"]["format"], {"type": "audio/pcm", "rate": 24000})
            self.assertTrue(session["audio"]["output"]["voice"])
            self.assertEqual((session["max_output_tokens"], session["tools"]), ("inf", []))
            self.assertTrue(session["instructions"] and session["id"].startswith("sess_"))

            await conn.session.update(session={"type": "realtime", "instructions": "be brief", "max_output_tokens": 100,
                                               "audio": {"input": {"turn_detection": None},
                                                         "output": {"voice": "cedar"}}})
            updated = (await self.until(conn, "session.updated"))[-1].session.to_dict()
            self.assertEqual((updated["instructions"], updated["max_output_tokens"], updated["id"]),
                             ("be brief", 100, session["id"]))
            self.assertIsNone(updated["audio"]["input"].get("turn_detection"))
            self.assertEqual(updated["audio"]["input"]["format"], session["audio"]["input"]["format"])
            self.assertEqual(updated["audio"]["output"], {**session["audio"]["output"], "voice": "cedar"})

            await conn.session.update(session={"instructions": "no type"})  # type: ignore[typeddict-item]
            refused = (await self.until(conn, "error"))[-1].error
            self.assertEqual((refused.code, refused.param), ("missing_required_parameter", "session.type"))
            await conn.session.update(session={"type": "realtime", "output_modalities": ["text", "audio"]})
            self.assertEqual((await self.until(conn, "error"))[-1].error.code, "invalid_value")
        found = session_record(session["id"], closed=True)
        self.assertEqual((found["kind"], found["model"], found["status"]), ("realtime", MODEL, "closed"))
        self.assertEqual(found["headers"]["authorization"], f"Bearer {KEY}")
        self.assertEqual(found["events"][0], {"type": "session.update", "session": {
            "type": "realtime", "instructions": "be brief", "max_output_tokens": 100,
            "audio": {"input": {"turn_detection": None}, "output": {"voice": "cedar"}}}})
        self.assertEqual(len(found["events"]), 3)
        self.assertEqual(found["close"], {"by": "client", "code": 1000, "reason": ""})
        read = stats()
        self.assertEqual((read["paths"], read["streams"]["completed"], read["open"]), ({"/v1/realtime": 1}, 1, 0))
        self.assertEqual(read["requests"][-1]["path"], "/v1/realtime")
        self.assertEqual(read["requests"][-1]["query"], f"model={MODEL}")

    async def test_text_turns_report_the_conversation_as_input_and_the_last_input_as_cached(self) -> None:
        async with self.connect() as conn:
            sid = await self.opened(conn)
            await conn.conversation.item.create(item=USER_TEXT)
            added, done = await self.until(conn, "conversation.item.done")
            self.assertEqual((added.type, added.previous_item_id), ("conversation.item.added", None))
            self.assertEqual(done.item.content[0].text, "hello there my friend")
            await conn.response.create(response={"output_modalities": ["text"], "metadata": {"turn": "1"}})
            first = await self.until(conn, "response.done")
            kinds = [e.type for e in first]
            self.assertEqual(kinds, ["response.created", "rate_limits.updated", "response.output_item.added",
                                     "conversation.item.added", "response.content_part.added"]
                             + ["response.output_text.delta"] * 20
                             + ["response.output_text.done", "response.content_part.done",
                                "response.output_item.done", "conversation.item.done", "response.done"])
            self.assertEqual(first[0].response.status, "in_progress")
            self.assertIsNone(first[0].response.usage)
            self.assertEqual(first[-1].response.status, "completed")
            self.assertEqual(first[-1].response.metadata, {"turn": "1"})
            text = "".join(e.delta for e in first if e.type == "response.output_text.delta")
            self.assertEqual(text, " ".join(f"tok{i}" for i in range(20)))
            self.assertEqual(first[-1].response.output[0].content[0].text, text)
            self.assertEqual(usage_of(first[-1]), expected_usage(4, 0, 0, 0, 20, 0))

            await conn.conversation.item.create(item={"type": "message", "role": "user",
                                                      "content": [{"type": "input_text", "text": "and again"}]})
            await self.until(conn, "conversation.item.done")
            await conn.response.create()
            second = await self.until(conn, "response.done")
            audio = b"".join(base64.b64decode(e.delta) for e in second if e.type == "response.output_audio.delta")
            transcript = [e.delta for e in second if e.type == "response.output_audio_transcript.delta"]
            self.assertEqual(len([e for e in second if e.type == "response.output_audio.delta"]), 4)
            self.assertEqual(len(audio), 16 * 20 * 48, "16 audio tokens of 20 ms of PCM16 at 24 kHz")
            self.assertEqual("".join(transcript), "tok0 tok1 tok2 tok3")
            self.assertEqual([e.type for e in second][-6:],
                             ["response.output_audio.done", "response.output_audio_transcript.done",
                              "response.content_part.done", "response.output_item.done", "conversation.item.done",
                              "response.done"])
            # The input: the first turn's 4 words, its 20 words of answer, these 2; cached: the first's input.
            self.assertEqual(usage_of(second[-1]), expected_usage(26, 0, 4, 0, 4, 16))
            self.assertEqual(second[-1].response.output[0].content[0].transcript, "tok0 tok1 tok2 tok3")
        found = session_record(sid, closed=True)
        self.assertEqual([r["usage"] for r in found["responses"]],
                         [expected_usage(4, 0, 0, 0, 20, 0), expected_usage(26, 0, 4, 0, 4, 16)])
        self.assertEqual([r["status"] for r in found["responses"]], ["completed", "completed"])
        self.assertEqual(found["events"][1], {"type": "response.create", "response": {
            "output_modalities": ["text"], "metadata": {"turn": "1"}}})
        self.assertEqual([e["type"] for e in found["events"]],
                         ["conversation.item.create", "response.create", "conversation.item.create", "response.create"])
        usage = stats()["usage"]
        self.assertEqual((usage["input_tokens"], usage["output_tokens"], usage["cached_input_tokens"],
                          usage["audio_input_tokens"], usage["audio_output_tokens"]), (30, 40, 4, 0, 16))

    async def test_an_audio_turn_in_100_ms_appends_is_ended_and_answered_by_server_vad(self) -> None:
        async with self.connect() as conn:
            sid = await self.opened(conn)
            for audio in chunks((300, False), (1000, True), (700, False)):
                await conn.input_audio_buffer.append(audio=audio)
            turn = await self.until(conn, "response.done")
            kinds = [e.type for e in turn]
            self.assertEqual(kinds[:6], ["input_audio_buffer.speech_started", "input_audio_buffer.speech_stopped",
                                         "input_audio_buffer.committed", "conversation.item.added",
                                         "conversation.item.done", "response.created"])
            started, stopped, committed, added = turn[:4]
            # Speech at 300 ms, less the 300 ms of padding; 500 ms of silence after it ends at 1300.
            self.assertEqual((started.audio_start_ms, stopped.audio_end_ms), (0, 1800))
            self.assertEqual({started.item_id, stopped.item_id, committed.item_id, added.item.id}, {started.item_id})
            self.assertIsNone(committed.previous_item_id)
            self.assertEqual((added.item.role, added.item.content[0].type), ("user", "input_audio"))
            # 1800 ms heard: 18 tokens of audio in; out, 20 tokens: 16 of audio, 4 of transcript.
            self.assertEqual(usage_of(turn[-1]), expected_usage(0, 18, 0, 0, 4, 16))
            answer = turn[-1].response.output[0].id

            # 200 ms of silence are left in the buffer: the next turn's audio starts there.
            for audio in chunks((1000, True), (600, False)):
                await conn.input_audio_buffer.append(audio=audio)
            turn = await self.until(conn, "response.done")
            self.assertEqual((turn[0].audio_start_ms, turn[1].audio_end_ms), (1800, 3500))
            self.assertEqual((turn[2].type, turn[2].previous_item_id), ("input_audio_buffer.committed", answer))
            # In: 18 + the answer's 16 audio and 4 text + 17; cached: the last response's input.
            self.assertEqual(usage_of(turn[-1]), expected_usage(4, 51, 0, 18, 4, 16))

            await conn.input_audio_buffer.append(audio=chunks((100, False))[0])
            await conn.input_audio_buffer.clear()
            self.assertEqual([e.type for e in await self.until(conn, "input_audio_buffer.cleared")],
                             ["input_audio_buffer.cleared"])
        found = session_record(sid, closed=True)
        appends = [e for e in found["events"] if e["type"] == "input_audio_buffer.append"]
        self.assertEqual([e["bytes"] for e in appends], [4800] * 37)
        usage = stats()["usage"]
        self.assertEqual((usage["audio_input_tokens"], usage["audio_output_tokens"], usage["cached_input_tokens"]),
                         (18 + 51, 32, 18))

    async def test_create_response_false_answers_no_turn_until_response_create_and_manual_turns(self) -> None:
        async with self.connect() as conn:
            sid = await self.opened(conn)
            await conn.session.update(session={"type": "realtime", "audio": {"input": {"turn_detection": {
                "type": "server_vad", "create_response": False}}}})
            vad = (await self.until(conn, "session.updated"))[-1].session.audio.input.turn_detection
            self.assertEqual((vad.create_response, vad.silence_duration_ms, vad.prefix_padding_ms), (False, 500, 300))
            for audio in chunks((300, False), (1000, True), (700, False)):
                await conn.input_audio_buffer.append(audio=audio)
            await conn.input_audio_buffer.clear()  # read in order: the turn's events all come before its answer
            seen = [e.type for e in await self.until(conn, "input_audio_buffer.cleared")]
            self.assertEqual(seen, ["input_audio_buffer.speech_started", "input_audio_buffer.speech_stopped",
                                    "input_audio_buffer.committed", "conversation.item.added",
                                    "conversation.item.done", "input_audio_buffer.cleared"])
            await conn.response.create()
            answered = await self.until(conn, "response.done")
            self.assertEqual(answered[0].type, "response.created")
            self.assertEqual(usage_of(answered[-1]), expected_usage(0, 18, 0, 0, 4, 16))

            # Manual turns: no VAD; a commit of under 100 ms is refused, one of 150 ms is 2 tokens.
            await conn.session.update(session={"type": "realtime", "audio": {"input": {"turn_detection": None}}})
            await self.until(conn, "session.updated")
            await conn.input_audio_buffer.append(audio=base64.b64encode(pcm(50, True)).decode())
            await conn.input_audio_buffer.commit(event_id="evt_commit_1")
            refused = (await self.until(conn, "error"))[-1]
            self.assertEqual((refused.error.code, refused.error.event_id),
                             ("input_audio_buffer_commit_empty", "evt_commit_1"))
            await conn.input_audio_buffer.append(audio=base64.b64encode(pcm(100, True)).decode())
            await conn.input_audio_buffer.commit()
            committed = await self.until(conn, "conversation.item.done")
            self.assertEqual([e.type for e in committed], ["input_audio_buffer.committed", "conversation.item.added",
                                                            "conversation.item.done"])
            await conn.response.create(response={"output_modalities": ["text"]})
            answered = await self.until(conn, "response.done")
            # 18 + the answer's 20 + 2 (150 ms, rounded up); cached: the last input, 18 of audio.
            self.assertEqual(usage_of(answered[-1]), expected_usage(4, 36, 0, 18, 20, 0))
        self.assertEqual(len(session_record(sid, closed=True)["responses"]), 2)

    async def test_max_output_tokens_cut_a_response_incomplete_the_responses_then_the_sessions(self) -> None:
        async with self.connect("output=30") as conn:
            await self.opened(conn)
            await conn.conversation.item.create(item=USER_TEXT)
            await conn.response.create(response={"max_output_tokens": 7})
            cut = (await self.until(conn, "response.done"))[-1].response
            self.assertEqual((cut.status, cut.status_details.type, cut.status_details.reason, cut.max_output_tokens),
                             ("incomplete", "incomplete", "max_output_tokens", 7))
            self.assertEqual(cut.output[0].status, "incomplete")
            self.assertEqual(cut.usage.to_dict()["output_token_details"], {"text_tokens": 1, "audio_tokens": 6})

            await conn.session.update(session={"type": "realtime", "max_output_tokens": 12})
            await self.until(conn, "session.updated")
            await conn.response.create(response={"output_modalities": ["text"]})
            cut = (await self.until(conn, "response.done"))[-1].response
            self.assertEqual((cut.status, cut.usage.output_tokens, cut.max_output_tokens), ("incomplete", 12, 12))
            await conn.response.create(response={"output_modalities": ["text"], "max_output_tokens": "inf"})
            whole = (await self.until(conn, "response.done"))[-1].response
            self.assertEqual((whole.status, whole.status_details, whole.usage.output_tokens), ("completed", None, 30))
            # 4 words, then 7 and 12 of earlier answers.
            self.assertEqual(whole.usage.input_tokens, 4 + 7 + 12)

    async def test_a_second_response_create_while_one_is_active_is_refused_and_a_cancel_ends_it(self) -> None:
        async with self.connect("pause=10000") as conn:
            sid = await self.opened(conn)
            await conn.conversation.item.create(item=USER_TEXT)
            await conn.response.create(event_id="evt_first")
            created = (await self.until(conn, "response.created"))[-1].response
            await conn.response.create(event_id="evt_second")
            refused = (await self.until(conn, "error"))[-1]
            self.assertEqual(refused.to_dict()["error"], {
                "type": "invalid_request_error", "code": "conversation_already_has_active_response",
                "message": refused.error.message, "param": None, "event_id": "evt_second"})
            self.assertIn(created.id, refused.error.message)
            self.assertTrue(refused.event_id.startswith("event_"))
            await conn.send_raw(json.dumps({"type": "response.nonsense", "event_id": "evt_odd"}))
            odd = (await self.until(conn, "error"))[-1].error
            self.assertEqual((odd.code, odd.event_id), ("invalid_event", "evt_odd"))

            await conn.response.cancel()
            ended = await self.until(conn, "response.done")
            done = ended[-1].response
            self.assertEqual((done.id, done.status, done.status_details.reason), (created.id, "cancelled",
                                                                                   "client_cancelled"))
            # Every delta was sent before the pause: the usage so far is all 20.
            self.assertEqual(usage_of(ended[-1]), expected_usage(4, 0, 0, 0, 4, 16))
            await conn.response.cancel(event_id="evt_late")
            late = (await self.until(conn, "error"))[-1].error
            self.assertEqual((late.code, late.event_id), ("response_cancel_not_active", "evt_late"))
        found = session_record(sid, closed=True)
        self.assertEqual([r["status"] for r in found["responses"]], ["cancelled"])
        self.assertEqual([e["type"] for e in found["events"]],
                         ["conversation.item.create", "response.create", "response.create", "response.nonsense",
                          "response.cancel", "response.cancel"])
        self.assertEqual(found["events"][2], {"type": "response.create", "event_id": "evt_second"})

    async def test_pause_holds_a_response_until_release(self) -> None:
        async with self.connect("pause=10000") as conn:
            await self.opened(conn)
            await conn.response.create(response={"output_modalities": ["text"]})
            before = await self.until(conn, "response.output_text.delta")
            self.assertEqual(before[0].type, "response.created")
            await asyncio.sleep(0.2)
            release()
            done = (await self.until(conn, "response.done"))[-1].response
            self.assertEqual((done.status, done.usage.input_tokens, done.usage.output_tokens), ("completed", 0, 20))

    async def test_a_wrong_key_fails_the_connect_with_a_401_before_any_upgrade(self) -> None:
        client = openai.AsyncOpenAI(base_url=base() + "/v1", api_key="sk-wrong", max_retries=0)
        with self.assertRaises(websockets.exceptions.InvalidStatus) as caught:
            async with client.realtime.connect(model=MODEL):
                pass
        answer = caught.exception.response
        self.assertEqual(answer.status_code, 401)
        self.assertEqual(json.loads(bytes(answer.body))["error"]["code"], "invalid_api_key")
        read = stats()
        self.assertEqual((read["paths"], read["jobs"], read["streams"]["completed"]), ({"/v1/realtime": 1}, {}, 0))

    async def test_the_browser_form_of_the_key_is_taken_and_realtime_echoed(self) -> None:
        url = f"ws://127.0.0.1:{port}/v1/realtime?model={MODEL}"
        offer: Any = ["realtime", f"openai-insecure-api-key.{KEY}"]
        async with ws_connect(url, subprotocols=offer) as ws:
            self.assertEqual(ws.subprotocol, "realtime")
            created = json.loads(await ws.recv())
            self.assertEqual(created["type"], "session.created")
            self.sessions.append(created["session"]["id"])
        wrong: Any = ["realtime", "openai-insecure-api-key.sk-wrong"]
        with self.assertRaises(websockets.exceptions.InvalidStatus) as caught:
            async with ws_connect(url, subprotocols=wrong):
                pass
        self.assertEqual(caught.exception.response.status_code, 401)

    async def test_close_directive_closes_with_1011_after_that_many_responses(self) -> None:
        from websockets.exceptions import ConnectionClosedError
        async with self.connect("close=1") as conn:
            sid = await self.opened(conn)
            await conn.response.create(response={"output_modalities": ["text"]})
            await self.until(conn, "response.done")
            with self.assertRaises(ConnectionClosedError) as caught:
                await asyncio.wait_for(conn.recv(), WAIT)
            assert caught.exception.rcvd is not None
            self.assertEqual(caught.exception.rcvd.code, 1011)
        found = session_record(sid, closed=True)
        self.assertEqual((found["close"]["by"], found["close"]["code"], len(found["responses"])), ("server", 1011, 1))

    async def test_cut_drops_the_connection_mid_response_without_usage(self) -> None:
        from websockets.exceptions import ConnectionClosedError
        async with self.connect("cut=3") as conn:
            sid = await self.opened(conn)
            await conn.response.create(response={"output_modalities": ["text"]})
            with self.assertRaises(ConnectionClosedError) as caught:
                await self.until(conn, "response.done")
            self.assertIsNone(caught.exception.rcvd, "no close frame: the connection just ended")
        found = session_record(sid, closed=True)
        self.assertEqual((found["responses"], found["close"]["code"]), ([], 1006))
        read = stats()
        self.assertEqual((read["streams"]["cut"], read["usage"]["output_tokens"]), (1, 0))


@unittest.skipIf(openai is None, "needs openai and websockets (target/py-sdk-venv)")
class Azure(unittest.IsolatedAsyncioTestCase):
    """Azure OpenAI's realtime paths, as `AsyncAzureOpenAI` (`/openai/realtime?api-version&deployment`)
    and OpenAI's own client on Azure's v1 (`/openai/v1/realtime?model=<deployment>`) connect: the
    session of `/v1/realtime`, as the deployment's model."""

    def setUp(self) -> None:
        reset()

    async def asyncSetUp(self) -> None:
        asyncio.get_running_loop().slow_callback_duration = 5.0

    async def turn(self, conn: Any) -> Tuple[str, Any, Any]:
        """session.created, then a text turn's response.done: (session id, the session, the response)."""
        created = await asyncio.wait_for(conn.recv(), WAIT)
        self.assertEqual(created.type, "session.created")
        await conn.conversation.item.create(item=USER_TEXT)
        await conn.response.create(response={"output_modalities": ["text"]})
        while True:
            event = await asyncio.wait_for(conn.recv(), WAIT)
            self.assertNotEqual(event.type, "error", event)
            if event.type == "response.done":
                return created.session.id, created.session, event

    async def test_a_deployments_session_is_the_realtime_session_of_its_model(self) -> None:
        # The resource key in `api-key`, the deployment and api-version in the query.
        client = openai.AsyncAzureOpenAI(azure_endpoint=base(), api_key=KEY, api_version=AZURE_VERSION,
                                         websocket_base_url=f"ws://127.0.0.1:{port}/openai", max_retries=0)
        async with client.realtime.connect(model=DEPLOYMENT, extra_headers={"x-sim": "output=6"}) as conn:
            sid, session, done = await self.turn(conn)
            self.assertEqual(session.model, MODEL, "the deployment's model")
            # The deployment's name is its model's too.
            await conn.session.update(session={"type": "realtime", "model": DEPLOYMENT, "instructions": "be brief"})
            self.assertEqual((await asyncio.wait_for(conn.recv(), WAIT)).type, "session.updated")
        self.assertEqual((done.response.status, usage_of(done)), ("completed", expected_usage(4, 0, 0, 0, 6, 0)))
        found = session_record(sid, closed=True)
        self.assertEqual((found["kind"], found["model"], found["deployment"]), ("realtime", MODEL, DEPLOYMENT))
        self.assertEqual(found["headers"]["api-key"], KEY)
        self.assertNotIn("authorization", found["headers"])
        self.assertEqual(found["responses"][0]["usage"], usage_of(done))
        read = stats()
        self.assertEqual((read["paths"], read["usage"]["output_tokens"]), ({"/openai/realtime": 1}, 6))
        query = read["requests"][-1]["query"]
        self.assertIn(f"api-version={AZURE_VERSION}", query)
        self.assertIn(f"deployment={DEPLOYMENT}", query)

        # Azure's v1 path, the deployment as the model, with an Entra ID token as the bearer token.
        reset()
        v1 = openai.AsyncOpenAI(base_url=base() + "/openai/v1", api_key=ENTRA, max_retries=0)
        async with v1.realtime.connect(model=DEPLOYMENT) as conn:
            sid, session, done = await self.turn(conn)
            self.assertEqual(session.model, MODEL)
        self.assertEqual(usage_of(done), expected_usage(4, 0, 0, 0, 20, 0))
        found = session_record(sid, closed=True)
        self.assertEqual((found["model"], found["headers"]["authorization"]), (MODEL, f"Bearer {ENTRA}"))
        read = stats()
        self.assertEqual((read["paths"], read["requests"][-1]["query"]), ({"/openai/v1/realtime": 1},
                                                                          f"model={DEPLOYMENT}"))

    async def test_an_unknown_deployment_or_a_wrong_key_is_refused_before_the_upgrade(self) -> None:
        client = openai.AsyncAzureOpenAI(azure_endpoint=base(), api_key=KEY, api_version=AZURE_VERSION,
                                         websocket_base_url=f"ws://127.0.0.1:{port}/openai", max_retries=0)
        with self.assertRaises(websockets.exceptions.InvalidStatus) as caught:
            async with client.realtime.connect(model="nowhere"):
                pass
        self.assertEqual(caught.exception.response.status_code, 404)
        self.assertEqual(json.loads(caught.exception.response.body)["error"]["code"], "DeploymentNotFound")

        def upgrade(path: str, **headers: str) -> Tuple[int, Dict[str, Any]]:
            sent = {"Upgrade": "websocket", "Connection": "Upgrade", "Sec-WebSocket-Version": "13",
                    "Sec-WebSocket-Key": base64.b64encode(os.urandom(16)).decode(), "api-key": KEY}
            sent.update(headers)
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=WAIT)
            conn.request("GET", path, headers={k: v for k, v in sent.items() if v})
            answer = conn.getresponse()
            found = (answer.status, json.loads(answer.read()))
            conn.close()
            return found

        old = f"/openai/realtime?api-version={AZURE_VERSION}&deployment="
        self.assertEqual(upgrade(old + "nowhere"), (404, {"error": {"code": "DeploymentNotFound", "message": (
            "The API deployment for this resource does not exist. If you created the deployment within the last 5 "
            "minutes, please wait a moment and try again.")}}))
        self.assertEqual(upgrade("/openai/v1/realtime?model=nowhere")[1]["error"]["code"], "DeploymentNotFound")
        # Azure requires the version off v1.
        self.assertEqual(upgrade(f"/openai/realtime?deployment={DEPLOYMENT}"),
                         (404, {"error": {"code": "404", "message": "Resource not found"}}))
        # Its key, never OpenAI's bearer: the resource key is not an Entra ID token.
        for wrong in ({"api-key": "sk-wrong"}, {"api-key": "", "Authorization": f"Bearer {KEY}"}, {"api-key": ""}):
            status, body = upgrade(old + DEPLOYMENT, **wrong)
            self.assertEqual((status, body["error"]["code"]), (401, "401"), wrong)
        self.assertEqual(upgrade(old + DEPLOYMENT, Upgrade="")[0], 426)
        self.assertEqual(upgrade("/openai/realtime?api-version=1")[0], 400)
        self.assertEqual(stats()["jobs"], {}, "no session opened")


class RawSocket(unittest.TestCase):
    """The WebSocket by hand: what the client library would hide."""

    def setUp(self) -> None:
        reset()

    def open(self, headers: Optional[Dict[str, str]] = None) -> Tuple[socket.socket, bytes, bytes]:
        """A connection after its handshake's answer: the socket, the answer's head, what came after it."""
        key = base64.b64encode(os.urandom(16)).decode()
        sent = {"Host": f"127.0.0.1:{port}", "Upgrade": "websocket", "Connection": "Upgrade",
                "Sec-WebSocket-Key": key, "Sec-WebSocket-Version": "13", "Authorization": f"Bearer {KEY}"}
        sent.update(headers or {})
        sock = socket.create_connection(("127.0.0.1", port), timeout=WAIT)
        lines = "".join(f"{k}: {v}\r\n" for k, v in sent.items() if v)
        sock.sendall(f"GET /v1/realtime?model={MODEL} HTTP/1.1\r\n{lines}\r\n".encode())
        data = b""
        while b"\r\n\r\n" not in data:
            more = sock.recv(65536)
            if not more:
                break
            data += more
        head, _, rest = data.partition(b"\r\n\r\n")
        self.key = key
        return sock, head, rest

    def send(self, sock: socket.socket, op: int, payload: bytes, fin: bool = True, masked: bool = True) -> None:
        size = len(payload)
        first = (0x80 if fin else 0) | op
        mask_bit = 0x80 if masked else 0
        if size < 126:
            head = struct.pack(">BB", first, mask_bit | size)
        elif size < 1 << 16:
            head = struct.pack(">BBH", first, mask_bit | 126, size)
        else:
            head = struct.pack(">BBQ", first, mask_bit | 127, size)
        if masked:
            key = os.urandom(4)
            payload = bytes(b ^ key[i % 4] for i, b in enumerate(payload))
            head += key
        sock.sendall(head + payload)

    def recv(self, sock: socket.socket, held: List[bytes]) -> Tuple[int, bytes]:
        """The next frame (opcode, payload): a server's frames are never masked nor fragmented here."""
        def need(size: int) -> bytes:
            while len(held[0]) < size:
                more = sock.recv(65536)
                if not more:
                    raise EOFError("the connection ended")
                held[0] += more
            found, held[0] = held[0][:size], held[0][size:]
            return found
        first, second = need(2)
        self.assertTrue(first & 0x80, "a server's frame is final")
        self.assertFalse(second & 0x80, "a server's frame is not masked")
        size = second & 0x7F
        if size == 126:
            size = struct.unpack(">H", need(2))[0]
        elif size == 127:
            size = struct.unpack(">Q", need(8))[0]
        return first & 0x0F, need(size)

    def test_handshake_fragments_with_a_ping_between_them_and_the_close_handshake(self) -> None:
        sock, head, rest = self.open()
        held = [rest]
        with sock:
            lines = head.decode().split("\r\n")
            self.assertEqual(lines[0], "HTTP/1.1 101 Switching Protocols")
            fields = {k.lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
            accept = base64.b64encode(hashlib.sha1((self.key + GUID).encode()).digest()).decode()
            self.assertEqual((fields["upgrade"].lower(), fields["connection"].lower(), fields["sec-websocket-accept"]),
                             ("websocket", "upgrade", accept))
            self.assertNotIn("sec-websocket-protocol", fields)
            op, payload = self.recv(sock, held)
            created = json.loads(payload)
            self.assertEqual((op, created["type"]), (1, "session.created"))

            update = json.dumps({"type": "session.update", "event_id": "evt_frag",
                                 "session": {"type": "realtime", "instructions": "fragmé " * 40}}).encode()
            third = len(update) // 3
            self.send(sock, 1, update[:third], fin=False)
            self.send(sock, 9, b"are you there")
            self.send(sock, 0, update[third:2 * third], fin=False)
            self.send(sock, 0, update[2 * third:])
            self.assertEqual(self.recv(sock, held), (10, b"are you there"))
            op, payload = self.recv(sock, held)
            updated = json.loads(payload)
            self.assertEqual((op, updated["type"], updated["session"]["instructions"]),
                             (1, "session.updated", "fragmé " * 40))
            self.send(sock, 2, json.dumps({"type": "input_audio_buffer.clear"}).encode())  # binary: JSON too
            self.assertEqual(json.loads(self.recv(sock, held)[1])["type"], "input_audio_buffer.cleared")

            self.send(sock, 8, struct.pack(">H", 1000) + b"bye")
            self.assertEqual(self.recv(sock, held), (8, struct.pack(">H", 1000)))
            self.assertEqual(sock.recv(10), b"", "the server closes the TCP connection after the handshake")
        found = session_record(created["session"]["id"], closed=True)
        self.assertEqual(found["events"][0]["session"]["instructions"], "fragmé " * 40)
        self.assertEqual(found["close"], {"by": "client", "code": 1000, "reason": "bye"})

    def test_protocol_faults_close_with_their_codes(self) -> None:
        for fault, code in (("unmasked", 1002), ("too big", 1009), ("continuation", 1002), ("not utf-8", 1007)):
            sock, head, rest = self.open()
            held = [rest]
            with sock:
                self.assertTrue(head.startswith(b"HTTP/1.1 101"))
                sid = json.loads(self.recv(sock, held)[1])["session"]["id"]
                if fault == "unmasked":
                    self.send(sock, 1, b'{"type": "input_audio_buffer.clear"}', masked=False)
                elif fault == "too big":
                    # Only the header: the bound is read there, before any of the 16 MiB + 1 arrive.
                    sock.sendall(struct.pack(">BBQ", 0x81, 0x80 | 127, (16 << 20) + 1) + os.urandom(4))
                elif fault == "continuation":
                    self.send(sock, 0, b"{}")
                else:
                    self.send(sock, 1, b'{"type": "\xff"}')
                op, payload = self.recv(sock, held)
                self.assertEqual((op, struct.unpack(">H", payload[:2])[0]), (8, code), fault)
            self.assertEqual(session_record(sid, closed=True)["close"]["code"], code)

    def test_a_message_of_16_mib_is_taken(self) -> None:
        sock, _head, rest = self.open()
        held = [rest]
        with sock:
            sid = json.loads(self.recv(sock, held)[1])["session"]["id"]
            padding = (16 << 20) - 200
            event = json.dumps({"type": "input_audio_buffer.append", "audio": ""})[:-1] + ", \"pad\": \"" + \
                "A" * padding + "\"}"
            data = event.encode()
            self.assertLessEqual(len(data), 16 << 20)
            key = os.urandom(4)
            masked = (int.from_bytes(data, "big") ^ int.from_bytes((key * (len(data) // 4 + 1))[:len(data)], "big"))
            sock.sendall(struct.pack(">BBQ", 0x81, 0x80 | 127, len(data)) + key + masked.to_bytes(len(data), "big"))
            self.send(sock, 9, b"still here")
            self.assertEqual(self.recv(sock, held), (10, b"still here"))
        self.assertEqual(session_record(sid, closed=True)["events"],
                         [{"type": "input_audio_buffer.append", "bytes": 0}])

    def test_refusals_before_the_upgrade_are_http_answers(self) -> None:
        def upgrade(**headers: str) -> Tuple[int, Dict[str, str], Dict[str, Any]]:
            sent = {"Upgrade": "websocket", "Connection": "Upgrade", "Sec-WebSocket-Version": "13",
                    "Sec-WebSocket-Key": base64.b64encode(os.urandom(16)).decode(), "Authorization": f"Bearer {KEY}"}
            sent.update(headers)
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=WAIT)
            conn.request("GET", f"/v1/realtime?model={MODEL}", headers={k: v for k, v in sent.items() if v})
            answer = conn.getresponse()
            found = (answer.status, {k.lower(): v for k, v in answer.getheaders()}, json.loads(answer.read()))
            conn.close()
            return found

        status, _, body = upgrade(Authorization="")
        self.assertEqual((status, body["error"]["code"]), (401, "invalid_api_key"))
        status, headers, _ = upgrade(**{"Sec-WebSocket-Version": "8"})
        self.assertEqual((status, headers["sec-websocket-version"]), (426, "13"))
        status, _, _ = upgrade(**{"x-sim": "status=503"})
        self.assertEqual(status, 503)
        status, _, body = upgrade(Upgrade="")
        self.assertEqual(status, 426)
        self.assertEqual(stats()["jobs"], {})

if __name__ == "__main__":
    unittest.main()
