"""The simulator's Gemini Live API (clouds/live.py): `BidiGenerateContent` sessions driven by the
official client, `google.genai.Client(api_key=...).aio.live.connect(...)`, their usage checked
against the README's rules and the read-back; and the socket itself with the `websockets` client
(JSON in binary frames, the key in the query, a protocol fault closing 1007).

    target/py-sdk-venv/bin/python tests/provider/test_live.py

google-genai always connects with `wss://` (it swaps the base URL's scheme), so the simulator runs
with a TLS listener beside the plain one (`--tls-cert`, `--tls-key`: a self-signed certificate for
127.0.0.1 made by the `openssl` CLI), and the client trusts that certificate through
`http_options.async_client_args["ssl"]`, which it hands to its WebSocket connect. The read-back is
read over the plain port. Skipped in an interpreter without `google-genai` and `websockets`.
"""

from __future__ import annotations

import asyncio
import base64
import http.client
import json
import math
import os
import ssl
import struct
import subprocess
import sys
import tempfile
import time
import unittest
from typing import Any, AsyncIterator, Dict, List, Optional, Tuple

try:
    import websockets
    from google import genai
    from google.genai import errors as genai_errors
    from google.genai import types
    from websockets.sync.client import connect as ws_connect
except ImportError:
    genai = genai_errors = types = websockets = ws_connect = None  # type: ignore[assignment]

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from simulated import Sim  # noqa: E402
KEY = "gemini-live-secret"
MODEL = "gemini-live-2.5-flash-preview"
ROUTE = "/ws/google.ai.generativelanguage.v1beta.GenerativeService.BidiGenerateContent"
WAIT = 10.0
RATE = 16000  # the input audio's: PCM16 mono, as Gemini takes it

work = tempfile.TemporaryDirectory(prefix="sim-live-")
sim: Optional[Sim] = None
port = tls_port = 0
context: Optional[ssl.SSLContext] = None


def setUpModule() -> None:
    global sim, port, tls_port, context
    if genai is None:
        return
    cert, key = os.path.join(work.name, "tls.crt"), os.path.join(work.name, "tls.key")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", cert,
                    "-days", "1", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"],
                   check=True, capture_output=True, timeout=60)
    context = ssl.create_default_context(cafile=cert)
    sim = Sim("--key", KEY, "--tls-cert", cert, "--tls-key", key)
    port, tls_port = sim.port, sim.tls_port


def tearDownModule() -> None:
    if sim is not None:
        sim.stop()
    work.cleanup()


def base() -> str:
    return f"http://127.0.0.1:{port}"


def stats() -> Dict[str, Any]:
    assert sim is not None
    return sim.stats()


def control(path: str) -> None:
    assert sim is not None
    sim.control(path)


def live_jobs() -> Dict[str, Dict[str, Any]]:
    return {jid: job for jid, job in stats()["jobs"].items() if job["kind"] == "live"}


def sessions(count: int = 1, closed: bool = True) -> List[Dict[str, Any]]:
    """The live sessions in the read-back (in the order they opened), once there are `count` and,
    with `closed`, once the simulator has seen each end."""
    deadline = time.monotonic() + WAIT
    while True:
        found = list(live_jobs().values())
        if len(found) >= count and (not closed or not any(job["open"] for job in found)):
            return found
        if time.monotonic() > deadline:
            raise AssertionError(f"{count} live session(s) not {'closed' if closed else 'recorded'}: {found}")
        time.sleep(0.02)


def pcm(ms: int, loud: bool, rate: int = RATE) -> bytes:
    """PCM16 mono: a 440 Hz tone at amplitude 3000, or silence."""
    count = rate * ms // 1000
    if not loud:
        return bytes(2 * count)
    return struct.pack(f"<{count}h", *(int(3000 * math.sin(2 * math.pi * 440 * i / rate)) for i in range(count)))


def chunks(*spans: Tuple[int, bool]) -> List[bytes]:
    """The spans' audio in 100 ms pieces."""
    audio = b"".join(pcm(ms, loud) for ms, loud in spans)
    step = RATE * 2 // 10
    return [audio[at:at + step] for at in range(0, len(audio), step)]


def usage(prompt_text: int, prompt_audio: int, text_out: int, audio_out: int, cached: int = 0) -> Dict[str, Any]:
    """A turn's usageMetadata as the README's rules make it (Google's JSON: zeros left out)."""
    prompt, made = prompt_text + prompt_audio, text_out + audio_out
    found: Dict[str, Any] = {"promptTokenCount": prompt}
    if cached:
        found["cachedContentTokenCount"] = cached
    if made:
        found["responseTokenCount"] = made
    found["totalTokenCount"] = prompt + made
    given = [{"modality": m, "tokenCount": n} for m, n in (("TEXT", prompt_text), ("AUDIO", prompt_audio)) if n]
    if given:
        found["promptTokensDetails"] = given
    if cached:
        found["cacheTokensDetails"] = [{"modality": "TEXT", "tokenCount": cached}]
    if made:
        found["responseTokensDetails"] = [{"modality": m, "tokenCount": n}
                                          for m, n in (("TEXT", text_out), ("AUDIO", audio_out)) if n]
    return found


def wire(message: Any) -> Dict[str, Any]:
    """A received message's usageMetadata back in Google's JSON names (as the client parsed it)."""
    found: Dict[str, Any] = message.usage_metadata.model_dump(mode="json", by_alias=True, exclude_none=True)
    return found


def user(text: str) -> Dict[str, Any]:
    return {"role": "user", "parts": [{"text": text}]}


@unittest.skipIf(genai is None, "needs google-genai and websockets (target/py-sdk-venv)")
class Client(unittest.IsolatedAsyncioTestCase):
    """Through the official client, as an application would drive a session."""

    def setUp(self) -> None:
        control("/_sim/reset")

    async def asyncSetUp(self) -> None:
        # The test case runs its loop in debug mode, which reports each blocking read-back as slow.
        asyncio.get_running_loop().slow_callback_duration = 5.0

    async def asyncTearDown(self) -> None:
        # Each session's end seen before the next test's reset, so none of it counts there.
        deadline = time.monotonic() + WAIT
        while any(job["open"] for job in live_jobs().values()) and time.monotonic() < deadline:
            await asyncio.sleep(0.02)

    def connect(self, config: Any, sim: str = "", key: str = KEY) -> Any:
        client = genai.Client(api_key=key, http_options={
            "base_url": f"https://127.0.0.1:{tls_port}", "async_client_args": {"ssl": context},
            "headers": {"x-sim": sim} if sim else {}})
        return client.aio.live.connect(model=MODEL, config=config)

    async def turn(self, session: Any) -> List[Any]:
        """The messages of one turn, up to its turnComplete."""
        async def gather() -> List[Any]:
            return [message async for message in session.receive()]
        return await asyncio.wait_for(gather(), WAIT)

    async def speak(self, session: Any, *spans: Tuple[int, bool]) -> None:
        for piece in chunks(*spans):
            await session.send_realtime_input(audio=types.Blob(data=piece, mime_type=f"audio/pcm;rate={RATE}"))

    def texts(self, messages: List[Any]) -> List[str]:
        return [part.text for m in messages if m.server_content and m.server_content.model_turn
                for part in m.server_content.model_turn.parts if part.text is not None]

    async def test_a_text_turn_answered_word_by_word_then_a_second_weighs_the_whole_conversation(self) -> None:
        config = {"response_modalities": ["TEXT"], "system_instruction": "answer briefly please"}
        async with self.connect(config) as session:
            self.assertIsNotNone(session.setup_complete)
            await session.send_client_content(turns=user("hello there my friend"))
            first = await self.turn(session)
            self.assertEqual(self.texts(first), [("" if i == 0 else " ") + f"tok{i}" for i in range(20)])
            self.assertEqual([m.server_content.generation_complete for m in first[-2:]], [True, None])
            self.assertTrue(first[-1].server_content.turn_complete)
            self.assertTrue(all(m.usage_metadata is None for m in first[:-1]))
            # The system instruction's 3 words and the turn's 4; the default 20 out.
            self.assertEqual(wire(first[-1]), usage(7, 0, 20, 0))

            await session.send_client_content(turns=user("and once more"))
            second = await self.turn(session)
            # Everything before (3 + 4 + 20) and this turn's 3.
            self.assertEqual(wire(second[-1]), usage(30, 0, 20, 0))
        [job] = sessions()
        self.assertEqual((job["kind"], job["status"], job["open"], job["model"]), ("live", "closed", False, MODEL))
        self.assertEqual(job["close"], {"by": "client", "code": 1000, "reason": ""})
        self.assertEqual(job["headers"]["x-goog-api-key"], KEY)
        setup = job["messages"][0]
        self.assertEqual((setup["type"], setup["setup"]["model"], setup["setup"]["generationConfig"]),
                         ("setup", f"models/{MODEL}", {"responseModalities": ["TEXT"]}))
        self.assertEqual(setup["setup"]["systemInstruction"]["parts"], [{"text": "answer briefly please"}])
        self.assertEqual(job["messages"][1:], [{"type": "clientContent", "turnComplete": True}] * 2)
        self.assertEqual(job["turns"], [{"interrupted": False, "usageMetadata": usage(7, 0, 20, 0)},
                                        {"interrupted": False, "usageMetadata": usage(30, 0, 20, 0)}])
        read = stats()
        self.assertEqual((read["usage"]["input_tokens"], read["usage"]["output_tokens"]), (37, 40))
        self.assertEqual((read["streams"]["completed"], read["open"]), (1, 0))
        self.assertEqual(read["paths"], {ROUTE: 1})

    async def test_an_audio_turn_by_automatic_activity_detection_answered_in_audio(self) -> None:
        config = {"response_modalities": ["AUDIO"], "input_audio_transcription": {},
                  "output_audio_transcription": {}}
        async with self.connect(config, "output=12") as session:
            # 300 ms of silence, a second of speech, 700 ms of silence: the turn ends 500 ms after
            # the speech, at 1800 ms; its audio is the speech's second (25 tokens).
            await self.speak(session, (300, False), (1000, True), (700, False))
            first = await self.turn(session)
            contents = [m.server_content for m in first]
            self.assertEqual(contents[0].input_transcription.text, "heard0")
            audio = [part.inline_data for c in contents if c.model_turn for part in c.model_turn.parts]
            self.assertEqual([a.mime_type for a in audio], ["audio/pcm;rate=24000"] * 3)
            # 40 ms a token at 24 kHz: 1920 bytes; 5 tokens a message.
            self.assertEqual([len(a.data) for a in audio], [9600, 9600, 3840])
            self.assertEqual("".join(c.output_transcription.text for c in contents if c.output_transcription),
                             "tok0 tok1 tok2")
            self.assertTrue(contents[-2].generation_complete and contents[-1].turn_complete)
            self.assertEqual(wire(first[-1]), usage(0, 25, 0, 12))

            # The 200 ms of silence left over are no one's; 1040 ms of speech are 26 tokens.
            await self.speak(session, (1040, True), (500, False))
            second = await self.turn(session)
            self.assertEqual(wire(second[-1]), usage(0, 25 + 12 + 26, 0, 12))

            await session.send_client_content(turns=user("what did I say"))
            third = await self.turn(session)
            self.assertIsNone(third[0].server_content.input_transcription)  # no audio in that turn
            self.assertEqual(wire(third[-1]), usage(4, 75, 0, 12))
        [job] = sessions()
        heard = [m for m in job["messages"] if m["type"] == "realtimeInput.audio"]
        self.assertEqual(heard[0], {"type": "realtimeInput.audio", "bytes": 3200})
        self.assertEqual(sum(m["bytes"] for m in heard), 2 * RATE * 3540 // 1000)
        self.assertEqual([t["usageMetadata"]["totalTokenCount"] for t in job["turns"]], [37, 75, 91])
        read = stats()["usage"]
        self.assertEqual((read["input_tokens"], read["audio_input_tokens"], read["output_tokens"],
                          read["audio_output_tokens"]), (25 + 63 + 79, 25 + 63 + 75, 36, 36))

    async def test_without_automatic_detection_activity_start_and_end_make_the_turn(self) -> None:
        config = {"response_modalities": ["TEXT"],
                  "realtime_input_config": {"automatic_activity_detection": {"disabled": True}}}
        async with self.connect(config, "output=3") as session:
            await self.speak(session, (500, True))  # outside any activity: no one's, and no answer
            await session.send_realtime_input(activity_start=types.ActivityStart())
            await self.speak(session, (700, False), (600, True), (700, False))  # all of it counts
            await session.send_realtime_input(activity_end=types.ActivityEnd())
            answered = await self.turn(session)
            self.assertEqual(self.texts(answered), ["tok0", " tok1", " tok2"])
            self.assertEqual(wire(answered[-1]), usage(0, 50, 3, 0))
        [job] = sessions()
        kinds = [m["type"] for m in job["messages"]]
        self.assertEqual((kinds[0], kinds[6], kinds[-1]), ("setup", "realtimeInput.activityStart",
                                                           "realtimeInput.activityEnd"))
        self.assertEqual(job["messages"][0]["setup"]["realtimeInputConfig"],
                         {"automatic_activity_detection": {"disabled": True}})

        # An activity without audio: turnComplete with an empty usage, then 1007 (as Google does).
        async with self.connect(config) as session:
            await session.send_realtime_input(activity_start=types.ActivityStart())
            await session.send_realtime_input(activity_end=types.ActivityEnd())
            received = session.receive()
            ended = await asyncio.wait_for(received.__anext__(), WAIT)
            self.assertTrue(ended.server_content.turn_complete)
            self.assertEqual(ended.usage_metadata.model_dump(exclude_none=True), {})
            with self.assertRaises(genai_errors.APIError) as caught:
                await asyncio.wait_for(session.receive().__anext__(), WAIT)  # the turn's receive ended
            self.assertEqual(caught.exception.code, 1007)
            self.assertIn("Precondition check failed.", str(caught.exception))

        # With detection on, the client's own activity signals are refused: closed 1007.
        async with self.connect({"response_modalities": ["TEXT"]}) as session:
            await session.send_realtime_input(activity_start=types.ActivityStart())
            with self.assertRaises(genai_errors.APIError) as caught:
                await self.turn(session)
            self.assertEqual(caught.exception.code, 1007)
            self.assertIn("automatic activity detection", str(caught.exception))
        closes = [job["close"] for job in sessions(3)]
        self.assertEqual([(c["by"], c["code"]) for c in closes], [("client", 1000), ("server", 1007),
                                                                  ("server", 1007)])

    async def test_max_output_tokens_cuts_the_output_text_and_audio(self) -> None:
        async with self.connect({"response_modalities": ["TEXT"], "max_output_tokens": 7}, "output=30") as session:
            await session.send_client_content(turns=user("count"))
            answered = await self.turn(session)
            self.assertEqual("".join(self.texts(answered)), " ".join(f"tok{i}" for i in range(7)))
            self.assertEqual(wire(answered[-1]), usage(1, 0, 7, 0))
        async with self.connect({"response_modalities": ["AUDIO"], "max_output_tokens": 7}) as session:
            await session.send_client_content(turns=user("count"))
            answered = await self.turn(session)
            sizes = [len(part.inline_data.data) for m in answered if m.server_content.model_turn
                     for part in m.server_content.model_turn.parts]
            self.assertEqual(sizes, [5 * 1920, 2 * 1920])
            self.assertEqual(wire(answered[-1]), usage(1, 0, 0, 7))
        self.assertEqual([job["messages"][0]["setup"]["generationConfig"]["maxOutputTokens"]
                          for job in sessions(2)], [7, 7])

    async def test_a_wrong_key_is_refused_before_the_upgrade_in_googles_shape(self) -> None:
        with self.assertRaises(websockets.exceptions.InvalidStatus) as caught:
            async with self.connect({"response_modalities": ["TEXT"]}, key="not-the-key"):
                pass
        answer = caught.exception.response
        self.assertEqual(answer.status_code, 400)
        self.assertEqual(json.loads(answer.body), {"error": {"code": 400, "status": "INVALID_ARGUMENT",
                                                             "message": "API key not valid. Please pass a valid "
                                                                        "API key."}})
        # No key at all is 403, a bearer token that is not the key 401 (on the plain port, by hand).
        upgrade = {"Upgrade": "websocket", "Connection": "Upgrade", "Sec-WebSocket-Version": "13",
                   "Sec-WebSocket-Key": base64.b64encode(os.urandom(16)).decode()}
        for extra, status, name in (({}, 403, "PERMISSION_DENIED"),
                                    ({"Authorization": "Bearer nope", "x-goog-api-key": KEY}, 401,
                                     "UNAUTHENTICATED")):
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=WAIT)
            connection.request("GET", ROUTE, headers={**upgrade, **extra})
            refused = connection.getresponse()
            self.assertEqual((refused.status, json.loads(refused.read())["error"]["status"]), (status, name))
            connection.close()
        self.assertEqual(live_jobs(), {})
        self.assertEqual(stats()["paths"], {ROUTE: 3})

    async def test_close_after_a_turn_sends_go_away_then_closes_1011(self) -> None:
        async with self.connect({"response_modalities": ["TEXT"]}, "output=2,close=1") as session:
            await session.send_client_content(turns=user("hello"))
            answered = await self.turn(session)
            self.assertEqual(wire(answered[-1]), usage(1, 0, 2, 0))
            received = session.receive()
            going = await asyncio.wait_for(received.__anext__(), WAIT)
            self.assertEqual(going.go_away.time_left, "0s")
            with self.assertRaises(genai_errors.APIError) as caught:
                await asyncio.wait_for(received.__anext__(), WAIT)
            self.assertEqual(caught.exception.code, 1011)
        [job] = sessions()
        self.assertEqual((job["close"]["by"], job["close"]["code"]), ("server", 1011))
        self.assertIn("close=1", job["close"]["reason"])

    async def test_a_tool_call_waits_for_its_response_which_joins_the_prompt(self) -> None:
        config = {"response_modalities": ["TEXT"],
                  "tools": [{"function_declarations": [{"name": "turn_on_the_lights"}]}]}
        async with self.connect(config, "output=2,calls=1") as session:
            await session.send_client_content(turns=user("lights please"))
            received = session.receive()
            called = await asyncio.wait_for(received.__anext__(), WAIT)
            [call] = called.tool_call.function_calls
            self.assertEqual((call.name, call.args), ("turn_on_the_lights", {}))
            await session.send_tool_response(function_responses=types.FunctionResponse(
                id=call.id, name=call.name, response={"result": "ok"}))
            rest = await asyncio.wait_for(self.collect(received), WAIT)
            self.assertEqual(self.texts(rest), ["tok0", " tok1"])
            # The tools' JSON (1 word), the turn's 2, the function response's JSON (1).
            self.assertEqual(wire(rest[-1]), usage(4, 0, 2, 0))
        [job] = sessions()
        self.assertEqual(job["messages"][-1], {"type": "toolResponse", "ids": [call.id]})

    async def test_speech_interrupts_a_response_which_reports_what_it_sent(self) -> None:
        async with self.connect({"response_modalities": ["TEXT"]}, "output=4,pause=10000") as session:
            await session.send_client_content(turns=user("hello"))
            received = session.receive()
            sent = [await asyncio.wait_for(received.__anext__(), WAIT) for _ in range(4)]
            self.assertEqual(self.texts(sent), ["tok0", " tok1", " tok2", " tok3"])
            # The response waits (pause=) before its end; speech barges in.
            await self.speak(session, (200, True))
            rest = await asyncio.wait_for(self.collect(received), WAIT)
            self.assertEqual([(m.server_content.interrupted, m.server_content.turn_complete) for m in rest],
                             [(True, None), (None, True)])
            self.assertEqual(wire(rest[-1]), usage(1, 0, 4, 0))
            await self.speak(session, (500, False))
            received = session.receive()
            answered = [await asyncio.wait_for(received.__anext__(), WAIT) for _ in range(4)]
            await asyncio.sleep(0.2)  # the response at its pause, waiting for the release
            control("/_sim/release")
            answered += await asyncio.wait_for(self.collect(received), WAIT)
            # The interrupted turn's 1 + 4 words, then 200 ms of speech.
            self.assertEqual(wire(answered[-1]), usage(5, 5, 4, 0))
        [job] = sessions()
        self.assertEqual([t["interrupted"] for t in job["turns"]], [True, False])

    async def collect(self, received: AsyncIterator[Any]) -> List[Any]:
        return [message async for message in received]


@unittest.skipIf(genai is None, "needs google-genai and websockets (target/py-sdk-venv)")
class Socket(unittest.TestCase):
    """The socket by hand (the `websockets` client, plain ws): frames, the key in the query."""

    def setUp(self) -> None:
        control("/_sim/reset")

    def url(self, path: str = ROUTE) -> str:
        return f"ws://127.0.0.1:{port}{path}?key={KEY}"

    def test_json_comes_in_binary_frames_and_either_kind_is_taken(self) -> None:
        # A base URL ending in `/` makes the client ask for `//ws/...`: the same path.
        with ws_connect(self.url("/" + ROUTE), additional_headers={"x-sim": "output=2"}) as ws:
            ws.send(json.dumps({"setup": {"model": f"models/{MODEL}",
                                          "generationConfig": {"responseModalities": ["TEXT"]}}}))
            self.assertEqual(ws.recv(WAIT), b'{"setupComplete":{}}')
            ws.send(json.dumps({"clientContent": {"turns": [user("one two three")], "turnComplete": True}}).encode())
            messages = [json.loads(ws.recv(WAIT)) for _ in range(4)]
            self.assertEqual(messages[:3], [{"serverContent": {"modelTurn": {"parts": [{"text": "tok0"}]}}},
                                            {"serverContent": {"modelTurn": {"parts": [{"text": " tok1"}]}}},
                                            {"serverContent": {"generationComplete": True}}])
            self.assertEqual(messages[3], {"serverContent": {"turnComplete": True},
                                           "usageMetadata": usage(3, 0, 2, 0)})
        [job] = sessions()
        self.assertEqual((job["model"], job["close"]["code"]), (MODEL, 1000))
        self.assertEqual([m["type"] for m in job["messages"]], ["setup", "clientContent"])
        self.assertEqual(stats()["paths"], {ROUTE: 1})

    def test_a_message_google_would_not_take_closes_the_session_with_googles_code_and_reason(self) -> None:
        setup = {"model": f"models/{MODEL}"}
        for sent, code, reason in (
                ({"realtimeInput": {"audioStreamEnd": True}}, 1007, "Request contains an invalid argument."),
                ("not json", 1007, "Invalid JSON payload received."),
                ({"setup": setup, "nonsense": {}}, 1007, 'Unknown name "nonsense"'),
                ({"setup": {**setup, "bogusField": 1}}, 1007,
                 "Invalid JSON payload received. Unknown name \"bogusField\" at 'setup': Cannot find field."),
                ({"setup": {"model": MODEL}}, 1008, f"{MODEL} is not found for API version v1beta"),
                ({"setup": {**setup, "sessionResumption": {"handle": "h"}}}, 1008,
                 "BidiGenerateContent session not found")):
            with ws_connect(self.url()) as ws:
                ws.send(sent if isinstance(sent, str) else json.dumps(sent))
                with self.assertRaises(websockets.exceptions.ConnectionClosedError) as caught:
                    ws.recv(WAIT)
                closed = caught.exception.rcvd
                assert closed is not None
                self.assertEqual(closed.code, code)
                self.assertIn(reason, closed.reason)
        found = sessions(6)
        self.assertEqual([job["messages"][0]["type"] for job in found],
                         ["realtimeInput.audioStreamEnd", None, "nonsense", "setup", "setup", "setup"])
        self.assertEqual({(job["close"]["by"], job["close"]["code"]) for job in found},
                         {("server", 1007), ("server", 1008)})

    def test_usage_apart_and_cached_and_a_cut(self) -> None:
        setup = json.dumps({"setup": {"model": f"models/{MODEL}",
                                      "generationConfig": {"responseModalities": ["TEXT"]}}})
        turn = json.dumps({"clientContent": {"turns": [user("one two three")], "turnComplete": True}})
        with ws_connect(self.url(), additional_headers={"x-sim": "output=2,usage=apart,cached=2"}) as ws:
            ws.send(setup)
            ws.recv(WAIT)
            ws.send(turn)
            messages = [json.loads(ws.recv(WAIT)) for _ in range(5)]
            self.assertEqual(messages[2:], [{"serverContent": {}, "usageMetadata": usage(3, 0, 2, 0, cached=2)},
                                            {"serverContent": {"generationComplete": True}},
                                            {"serverContent": {"turnComplete": True}, "usageMetadata": {}}])
        self.assertEqual(sessions()[0]["turns"], [{"interrupted": False, "usageMetadata": usage(3, 0, 2, 0, cached=2)}])
        self.assertEqual(stats()["usage"]["cached_input_tokens"], 2)
        control("/_sim/reset")
        with ws_connect(self.url(), additional_headers={"x-sim": "output=5,cut=2"}) as ws:
            ws.send(setup)
            ws.recv(WAIT)
            ws.send(turn)
            self.assertEqual([json.loads(ws.recv(WAIT))["serverContent"]["modelTurn"] for _ in range(2)],
                             [{"parts": [{"text": "tok0"}]}, {"parts": [{"text": " tok1"}]}])
            with self.assertRaises(websockets.exceptions.ConnectionClosedError) as caught:
                ws.recv(WAIT)
            self.assertIsNone(caught.exception.rcvd)  # no close frame
        [job] = sessions()
        self.assertEqual((job["close"], job["turns"]), ({"by": "server", "code": 1006, "reason": "cut"}, []))
        read = stats()
        self.assertEqual((read["streams"]["cut"], read["usage"]["input_tokens"]), (1, 0))


if __name__ == "__main__":
    unittest.main()
