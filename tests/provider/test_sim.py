"""The provider simulator, checked from outside as a proxy would see it: the command line, every
path as JSON and as a stream, the x-sim directives, the key check and the read-back.

    python3 tests/provider/test_sim.py      (or: python3 -m unittest discover tests/provider)
"""

from __future__ import annotations

import base64
import http.client
import json
import os
import socket
import struct
import subprocess
import sys
import time
import unittest
from typing import Any, Dict, List, Optional, Tuple

SIM = os.path.join(os.path.dirname(os.path.abspath(__file__)), "sim.py")
KEY = "sk-provider-secret"
OPENAI_AUTH = {"Authorization": f"Bearer {KEY}"}
ANTHROPIC_AUTH = {"x-api-key": KEY, "anthropic-version": "2023-06-01"}
GEMINI_AUTH = {"x-goog-api-key": KEY}
CHAT = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "say hello to me"}]}
MESSAGES = {"model": "claude-sonnet-4-5", "max_tokens": 100,
            "messages": [{"role": "user", "content": "say hello to me"}]}
GENERATE = {"contents": [{"role": "user", "parts": [{"text": "say hello to me"}]}]}
FLASH = "/v1beta/models/gemini-2.5-flash"
# The audio counts of a read-back that reported none.
NO_AUDIO = {"audio_seconds": 0, "input_characters": 0, "audio_input_tokens": 0, "audio_output_tokens": 0}

process: Optional["subprocess.Popen[str]"] = None
port = 0


def setUpModule() -> None:
    global process, port
    process = subprocess.Popen([sys.executable, SIM, "--port", "0", "--key", KEY],
                               stdout=subprocess.PIPE, text=True)
    assert process.stdout is not None
    line = process.stdout.readline()
    assert line.startswith("listening 127.0.0.1:"), line
    port = int(line.strip().rsplit(":", 1)[1])


def tearDownModule() -> None:
    if process is not None:
        process.terminate()
        process.wait(5)
        if process.stdout is not None:
            process.stdout.close()


class Answer:
    def __init__(self, status: int, headers: Dict[str, str], raw: bytes) -> None:
        self.status, self.headers, self.raw = status, headers, raw

    def json(self) -> Any:
        return json.loads(self.raw)

    def events(self) -> List[Tuple[Optional[str], str]]:
        """Server-sent events as (event name, data)."""
        found = []
        for block in self.raw.decode().split("\n\n"):
            if not block.strip():
                continue
            name, data = None, []
            for line in block.split("\n"):
                if line.startswith("event: "):
                    name = line[len("event: "):]
                elif line.startswith("data: "):
                    data.append(line[len("data: "):])
            found.append((name, "\n".join(data)))
        return found

    def datas(self) -> List[Any]:
        return [json.loads(d) for _, d in self.events() if d != "[DONE]"]

    def sse_chunks(self) -> List[Any]:
        """Gemini's server-sent events: each `data: {...}` ends in CRLF CRLF."""
        text = self.raw.decode()
        assert text.endswith("\r\n\r\n"), text[-20:]
        blocks = text.split("\r\n\r\n")[:-1]
        assert all(b.startswith("data: ") for b in blocks), blocks
        return [json.loads(b[len("data: "):]) for b in blocks]


def call(path: str, body: Any = None, sim: str = "", headers: Optional[Dict[str, Optional[str]]] = None,
         method: Optional[str] = None, conn: Optional[http.client.HTTPConnection] = None) -> Answer:
    own = conn is None
    conn = conn or http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    gemini = path.startswith("/v1beta/") or ":" in path
    wanted: Dict[str, Optional[str]] = dict(ANTHROPIC_AUTH if path.startswith("/v1/messages")
                                            else GEMINI_AUTH if gemini else OPENAI_AUTH)
    wanted.update(headers or {})
    sent = {k: v for k, v in wanted.items() if v is not None}  # None: leave that header out
    if sim:
        sent["x-sim"] = sim
    data = None if body is None else json.dumps(body).encode()
    if data is not None:
        sent["Content-Type"] = "application/json"
    conn.request(method or ("GET" if body is None else "POST"), path, data, sent)
    response = conn.getresponse()
    raw = response.read()
    answer = Answer(response.status, {k.lower(): v for k, v in response.getheaders()}, raw)
    if own:
        conn.close()
    return answer


def stats() -> Dict[str, Any]:
    found: Dict[str, Any] = call("/_sim/stats").json()
    return found


def reset() -> None:
    assert call("/_sim/reset", {}).status == 200


class Base(unittest.TestCase):
    def setUp(self) -> None:
        reset()


class OpenAIChat(Base):
    def test_json_answers_n_choices_cut_at_the_maximum_with_usage(self) -> None:
        answer = call("/v1/chat/completions", {**CHAT, "n": 2, "max_tokens": 3})
        self.assertEqual(answer.status, 200)
        self.assertTrue(answer.headers["x-request-id"].startswith("req_"))
        body = answer.json()
        self.assertEqual(body["object"], "chat.completion")
        self.assertTrue(body["id"].startswith("chatcmpl-"))
        self.assertEqual([c["index"] for c in body["choices"]], [0, 1])
        for choice in body["choices"]:
            self.assertEqual(choice["message"]["content"], "tok0 tok1 tok2")
            self.assertEqual(choice["finish_reason"], "length")
        # 4 words + 3 for the message + 3 for the reply; 3 tokens for each of 2 choices.
        self.assertEqual(body["usage"]["prompt_tokens"], 10)
        self.assertEqual(body["usage"]["completion_tokens"], 6)
        self.assertEqual(body["usage"]["total_tokens"], 16)
        self.assertEqual(stats()["usage"]["input_tokens"], 10)

    def test_default_output_is_five_and_stops(self) -> None:
        body = call("/v1/chat/completions", {**CHAT, "max_completion_tokens": 5}).json()
        self.assertEqual(body["choices"][0]["message"]["content"], "tok0 tok1 tok2 tok3 tok4")
        self.assertEqual(body["choices"][0]["finish_reason"], "stop")

    def test_stream_with_include_usage_ends_in_a_usage_chunk_then_done(self) -> None:
        answer = call("/v1/chat/completions", {**CHAT, "stream": True, "n": 2,
                                               "stream_options": {"include_usage": True}})
        self.assertEqual(answer.status, 200)
        self.assertTrue(answer.headers["content-type"].startswith("text/event-stream"))
        self.assertEqual(answer.headers["transfer-encoding"], "chunked")
        events = answer.events()
        self.assertEqual(events[-1], (None, "[DONE]"))
        chunks = answer.datas()
        self.assertTrue(all(c["object"] == "chat.completion.chunk" for c in chunks))
        self.assertEqual(len({c["id"] for c in chunks}), 1)
        self.assertTrue(all(c["usage"] is None for c in chunks[:-1]))
        last = chunks[-1]
        self.assertEqual(last["choices"], [])
        self.assertEqual(last["usage"]["completion_tokens"], 10)
        self.assertEqual(chunks[0]["choices"][0]["delta"]["role"], "assistant")
        for i in (0, 1):
            text = "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks[:-1]
                           if c["choices"] and c["choices"][0]["index"] == i)
            self.assertEqual(text, "tok0 tok1 tok2 tok3 tok4")
        finishes = [c["choices"][0]["finish_reason"] for c in chunks[:-1] if c["choices"][0]["finish_reason"]]
        self.assertEqual(finishes, ["stop", "stop"])
        s = stats()
        self.assertEqual(s["streams"], {"completed": 1, "broken": 0, "cut": 0})
        self.assertEqual(s["usage"]["output_tokens"], 10)

    def test_stream_without_include_usage_has_no_usage_at_all(self) -> None:
        chunks = call("/v1/chat/completions", {**CHAT, "stream": True}).datas()
        self.assertTrue(all("usage" not in c for c in chunks))
        self.assertEqual(stats()["usage"]["output_tokens"], 0, "no usage sent, none counted")
        self.assertEqual(stats()["streams"]["completed"], 1)

    def test_overrides_appear_in_openais_own_fields(self) -> None:
        usage = call("/v1/chat/completions", {**CHAT, "max_tokens": 10},
                     sim="input=40, cached=30, reasoning=4, output=3, cache_write=2").json()["usage"]
        self.assertEqual(usage["prompt_tokens"], 40)
        self.assertEqual(usage["prompt_tokens_details"]["cached_tokens"], 30)
        self.assertEqual(usage["prompt_tokens_details"]["cache_write_tokens"], 2)
        self.assertEqual(usage["completion_tokens_details"]["reasoning_tokens"], 4)
        self.assertEqual(usage["completion_tokens"], 7, "reasoning is billed within the output")
        self.assertEqual(stats()["usage"], {"input_tokens": 40, "output_tokens": 7, "cached_input_tokens": 30,
                                            "cache_write_tokens": 2, "reasoning_tokens": 4, "images": 0, **NO_AUDIO})

    def test_the_maximum_bounds_reasoning_and_text_together(self) -> None:
        body = call("/v1/chat/completions", {**CHAT, "max_tokens": 6}, sim="reasoning=4,output=5").json()
        self.assertEqual(body["usage"]["completion_tokens"], 6)
        self.assertEqual(body["choices"][0]["message"]["content"], "tok0 tok1")
        self.assertEqual(body["choices"][0]["finish_reason"], "length")

    def test_every_text_counts_tools_and_parts_included(self) -> None:
        tools = [{"type": "function", "function": {"name": "weather", "description": "the weather in a city"}}]
        body = {"model": "m", "tools": tools, "messages": [
            {"role": "system", "content": "be brief"},
            {"role": "user", "content": [{"type": "text", "text": "one two"},
                                         {"type": "image_url", "image_url": {"url": "data:x"}}]}]}
        usage = call("/v1/chat/completions", body).json()["usage"]
        tool_words = len(json.dumps(tools, separators=(",", ":")).split())
        self.assertEqual(usage["prompt_tokens"], 2 + 2 + 2 * 3 + 3 + tool_words)


class OpenAIResponses(Base):
    def test_json_response_with_usage(self) -> None:
        answer = call("/v1/responses", {"model": "gpt-4o-mini", "input": "hello there", "instructions": "be kind"},
                      sim="cached=1,reasoning=2")
        body = answer.json()
        self.assertEqual(body["object"], "response")
        self.assertTrue(body["id"].startswith("resp_"))
        self.assertEqual(body["status"], "completed")
        self.assertEqual(body["output"][0]["content"][0]["text"], "tok0 tok1 tok2 tok3 tok4")
        self.assertEqual(body["usage"], {"input_tokens": 2 + 3 + 2 + 3, "input_tokens_details": {"cached_tokens": 1},
                                         "output_tokens": 7, "output_tokens_details": {"reasoning_tokens": 2},
                                         "total_tokens": 17})

    def test_stream_events_in_order_numbered_ending_with_completed(self) -> None:
        answer = call("/v1/responses", {"model": "m", "input": [{"role": "user", "content": "hi"}], "stream": True},
                      sim="output=2")
        names = [name for name, _ in answer.events()]
        self.assertEqual(names, ["response.created", "response.in_progress", "response.output_item.added",
                                 "response.content_part.added", "response.output_text.delta",
                                 "response.output_text.delta", "response.output_text.done",
                                 "response.content_part.done", "response.output_item.done", "response.completed"])
        datas = answer.datas()
        self.assertEqual([d["type"] for d in datas], names)
        self.assertEqual([d["sequence_number"] for d in datas], list(range(len(datas))))
        self.assertEqual(datas[-1]["response"]["usage"]["output_tokens"], 2)
        self.assertEqual(datas[-1]["response"]["usage"]["input_tokens"], 1 + 3 + 3)
        self.assertIsNone(datas[0]["response"]["usage"])
        self.assertEqual(stats()["usage"]["output_tokens"], 2)

    def test_max_output_tokens_makes_it_incomplete(self) -> None:
        answer = call("/v1/responses", {"model": "m", "input": "hi", "stream": True, "max_output_tokens": 3})
        last = answer.datas()[-1]
        self.assertEqual(last["type"], "response.incomplete")
        self.assertEqual(last["response"]["incomplete_details"], {"reason": "max_output_tokens"})
        self.assertEqual(last["response"]["usage"]["output_tokens"], 3)


class OpenAIOthers(Base):
    def test_embeddings_one_per_input_as_floats_or_base64(self) -> None:
        body = call("/v1/embeddings", {"model": "text-embedding-3-small", "input": ["a b c", "d", [1, 2, 3, 4]]}).json()
        self.assertEqual(body["object"], "list")
        self.assertEqual([e["index"] for e in body["data"]], [0, 1, 2])
        self.assertEqual(len(body["data"][0]["embedding"]), 8)
        self.assertEqual(body["usage"], {"prompt_tokens": 8, "total_tokens": 8})
        encoded = call("/v1/embeddings", {"model": "m", "input": [5, 6], "encoding_format": "base64",
                                          "dimensions": 4}).json()
        self.assertEqual(len(encoded["data"]), 1, "a token array is one input")
        floats = struct.unpack("<4f", base64.b64decode(encoded["data"][0]["embedding"]))
        self.assertEqual(len(floats), 4)
        self.assertEqual(stats()["usage"]["input_tokens"], 10)

    def test_images_answer_n_small_pngs_with_usage(self) -> None:
        body = call("/v1/images/generations", {"model": "gpt-image-1", "prompt": "a red cat", "n": 2}).json()
        self.assertEqual(len(body["data"]), 2)
        png = base64.b64decode(body["data"][0]["b64_json"])
        self.assertTrue(png.startswith(b"\x89PNG\r\n\x1a\n"))
        self.assertEqual(body["usage"]["input_tokens"], 3)
        self.assertEqual(body["usage"]["output_tokens"], 10)
        self.assertEqual(body["usage"]["total_tokens"], 13)
        self.assertEqual(stats()["usage"]["images"], 2)
        none = call("/v1/images/generations", {"prompt": "x"}, sim="usage=none").json()
        self.assertNotIn("usage", none)
        self.assertEqual(stats()["usage"]["images"], 3)
        self.assertEqual(stats()["usage"]["input_tokens"], 3)

    def test_models_in_either_providers_shape(self) -> None:
        openai = call("/v1/models", headers={}).json()
        self.assertEqual(openai["object"], "list")
        self.assertEqual(openai["data"][0]["object"], "model")
        anthropic = call("/v1/models", headers={"Authorization": None, **ANTHROPIC_AUTH}).json()
        self.assertEqual(anthropic["data"][0]["type"], "model")
        self.assertIn("has_more", anthropic)


class Anthropic(Base):
    def test_json_message_with_usage(self) -> None:
        answer = call("/v1/messages", {**MESSAGES, "system": "be brief"}, sim="cache_write=2,cached=3")
        self.assertTrue(answer.headers["request-id"].startswith("req_"))
        body = answer.json()
        self.assertEqual(body["type"], "message")
        self.assertTrue(body["id"].startswith("msg_"))
        self.assertEqual(body["content"], [{"type": "text", "text": "tok0 tok1 tok2 tok3 tok4"}])
        self.assertEqual(body["stop_reason"], "end_turn")
        usage = body["usage"]
        # 4 + 2 words + 3 + 3 = 12 in all, of which 3 read from and 2 written to the cache.
        self.assertEqual((usage["input_tokens"], usage["cache_read_input_tokens"],
                          usage["cache_creation_input_tokens"], usage["output_tokens"]), (7, 3, 2, 5))
        self.assertEqual(stats()["usage"], {"input_tokens": 7, "output_tokens": 5, "cached_input_tokens": 3,
                                            "cache_write_tokens": 2, "reasoning_tokens": 0, "images": 0, **NO_AUDIO})

    def test_max_tokens_is_required_and_honoured(self) -> None:
        missing = call("/v1/messages", {k: v for k, v in MESSAGES.items() if k != "max_tokens"})
        self.assertEqual(missing.status, 400)
        self.assertEqual(missing.json()["error"]["type"], "invalid_request_error")
        body = call("/v1/messages", {**MESSAGES, "max_tokens": 2}).json()
        self.assertEqual(body["stop_reason"], "max_tokens")
        self.assertEqual(body["usage"]["output_tokens"], 2)

    def test_stream_events_in_order_with_cumulative_usage(self) -> None:
        answer = call("/v1/messages", {**MESSAGES, "stream": True})
        names = [name for name, _ in answer.events()]
        self.assertEqual(names, ["message_start", "content_block_start", "ping"] + ["content_block_delta"] * 5
                         + ["content_block_stop", "message_delta", "message_stop"])
        datas = answer.datas()
        self.assertEqual([d["type"] for d in datas], names)
        start = datas[0]["message"]
        self.assertEqual((start["usage"]["input_tokens"], start["usage"]["output_tokens"]), (10, 1))
        self.assertEqual("".join(d["delta"]["text"] for d in datas if d["type"] == "content_block_delta"),
                         "tok0 tok1 tok2 tok3 tok4")
        delta = datas[-2]
        self.assertEqual(delta["delta"]["stop_reason"], "end_turn")
        self.assertEqual((delta["usage"]["output_tokens"], delta["usage"]["input_tokens"]), (5, 10))
        s = stats()
        self.assertEqual((s["usage"]["input_tokens"], s["usage"]["output_tokens"]), (10, 5))
        self.assertEqual(s["streams"]["completed"], 1)

    def test_several_message_deltas_rise_to_the_final_count(self) -> None:
        datas = call("/v1/messages", {**MESSAGES, "stream": True}, sim="deltas=3,output=9,reasoning=3").datas()
        deltas = [d for d in datas if d["type"] == "message_delta"]
        self.assertEqual([d["usage"]["output_tokens"] for d in deltas], [4, 8, 12])
        self.assertEqual([d["delta"]["stop_reason"] for d in deltas], [None, None, "end_turn"])
        self.assertEqual(deltas[-1]["usage"]["output_tokens_details"], {"thinking_tokens": 3})
        s = stats()["usage"]
        self.assertEqual((s["output_tokens"], s["reasoning_tokens"]), (12, 3), "counted once, not summed")

    def test_usage_none_reports_nothing(self) -> None:
        datas = call("/v1/messages", {**MESSAGES, "stream": True}, sim="usage=none").datas()
        self.assertNotIn("usage", datas[0]["message"])
        self.assertTrue(all("usage" not in d for d in datas[1:]))
        self.assertNotIn("usage", call("/v1/messages", MESSAGES, sim="usage=none").json())
        self.assertEqual(stats()["usage"]["input_tokens"], 0)

    def test_count_tokens_matches_the_messages_input(self) -> None:
        body = {k: v for k, v in MESSAGES.items() if k != "max_tokens"}
        self.assertEqual(call("/v1/messages/count_tokens", body).json(), {"input_tokens": 10})
        self.assertEqual(call("/v1/messages/count_tokens", body, sim="input=77").json(), {"input_tokens": 77})


class Gemini(Base):
    def test_generate_content_answers_under_v1beta_and_v1_with_usage(self) -> None:
        body = {**GENERATE, "systemInstruction": {"parts": [{"text": "be brief"}]}}
        for path in (f"{FLASH}:generateContent", "/v1/models/gemini-2.5-pro:generateContent"):
            answer = call(path, body)
            self.assertEqual(answer.status, 200, answer.raw)
            self.assertNotIn("x-request-id", answer.headers, "Google names no request id in its headers")
            got = answer.json()
            self.assertEqual(got["candidates"], [{"content": {"parts": [{"text": "tok0 tok1 tok2 tok3 tok4"}],
                                                              "role": "model"}, "finishReason": "STOP", "index": 0}])
            # 4 words + 3 for the content + 2 for the system instruction + 3 for the reply.
            self.assertEqual(got["usageMetadata"], {"promptTokenCount": 12, "candidatesTokenCount": 5,
                                                    "totalTokenCount": 17,
                                                    "promptTokensDetails": [{"modality": "TEXT", "tokenCount": 12}]})
            self.assertEqual(got["modelVersion"], path.split("/")[-1].split(":")[0])
            self.assertTrue(got["responseId"])
        s = stats()
        self.assertEqual((s["usage"]["input_tokens"], s["usage"]["output_tokens"]), (24, 10))
        self.assertEqual(s["calls"], 2)

    def test_candidates_and_the_maximum_are_honoured(self) -> None:
        got = call(f"{FLASH}:generateContent",
                   {**GENERATE, "generationConfig": {"candidateCount": 2, "maxOutputTokens": 3}}).json()
        self.assertEqual([c["index"] for c in got["candidates"]], [0, 1])
        for c in got["candidates"]:
            self.assertEqual((c["content"]["parts"][0]["text"], c["finishReason"]), ("tok0 tok1 tok2", "MAX_TOKENS"))
        self.assertEqual(got["usageMetadata"]["candidatesTokenCount"], 6)

    def test_thoughts_come_with_a_thinking_budget_or_a_directive_and_count_as_output(self) -> None:
        thinking = {**GENERATE, "generationConfig": {"thinkingConfig": {"thinkingBudget": 1024}}}
        usage = call(f"{FLASH}:generateContent", thinking).json()["usageMetadata"]
        self.assertEqual((usage["thoughtsTokenCount"], usage["candidatesTokenCount"], usage["totalTokenCount"]),
                         (4, 5, 10 + 5 + 4))
        self.assertNotIn("thoughtsTokenCount", call(f"{FLASH}:generateContent", GENERATE).json()["usageMetadata"])
        bounded = call(f"{FLASH}:generateContent", {**GENERATE, "generationConfig": {"maxOutputTokens": 6}},
                       sim="reasoning=4").json()
        self.assertEqual((bounded["usageMetadata"]["thoughtsTokenCount"],
                          bounded["usageMetadata"]["candidatesTokenCount"]), (4, 2), "one maximum bounds both")
        self.assertEqual(bounded["candidates"][0]["finishReason"], "MAX_TOKENS")
        s = stats()["usage"]
        self.assertEqual((s["output_tokens"], s["reasoning_tokens"]), (9 + 5 + 6, 4 + 4))

    def test_fields_are_read_by_their_json_or_their_proto_names_as_google_reads_them(self) -> None:
        body = {"contents": GENERATE["contents"], "system_instruction": {"parts": [{"text": "be brief"}]},
                "generation_config": {"candidate_count": 2, "max_output_tokens": 3,
                                      "thinking_config": {"thinking_budget": 1}}}
        got = call(f"{FLASH}:generateContent", body).json()
        self.assertEqual(len(got["candidates"]), 2)
        self.assertEqual((got["usageMetadata"]["promptTokenCount"], got["usageMetadata"]["thoughtsTokenCount"],
                          got["usageMetadata"]["candidatesTokenCount"]), (12, 1, 4))

    def test_cached_content_and_tool_use_prompts_are_reported_in_googles_fields(self) -> None:
        usage = call(f"{FLASH}:generateContent", {**GENERATE, "cachedContent": "cachedContents/abc"}).json()["usageMetadata"]
        # The cached content's 32 tokens are within the prompt (4 words + 3 + 3).
        self.assertEqual((usage["promptTokenCount"], usage["cachedContentTokenCount"]), (10 + 32, 32))
        usage = call(f"{FLASH}:generateContent", GENERATE, sim="cached=3, tool_prompt=5").json()["usageMetadata"]
        self.assertEqual((usage["promptTokenCount"], usage["cachedContentTokenCount"],
                          usage["toolUsePromptTokenCount"], usage["totalTokenCount"]), (10, 3, 5, 10 + 5 + 5))
        s = stats()["usage"]
        self.assertEqual((s["input_tokens"], s["cached_input_tokens"]), (42 + 15, 35))

    def test_every_text_counts_tools_and_function_parts_included(self) -> None:
        tools = [{"functionDeclarations": [{"name": "weather", "description": "the weather in a city"}]}]
        call_part = {"functionCall": {"name": "weather", "args": {"city": "Paris"}}}
        body = {"tools": tools, "contents": [
            {"role": "user", "parts": [{"text": "one two"}, {"inlineData": {"mimeType": "image/png", "data": "AAAA"}}]},
            {"role": "model", "parts": [call_part]}]}
        usage = call(f"{FLASH}:generateContent", body).json()["usageMetadata"]
        compact = lambda v: len(json.dumps(v, separators=(",", ":")).split())  # noqa: E731
        self.assertEqual(usage["promptTokenCount"], 2 + 2 * 3 + compact(call_part["functionCall"]) + compact(tools) + 3)

    def test_a_sse_stream_carries_running_totals_and_ends_with_the_finish(self) -> None:
        answer = call(f"{FLASH}:streamGenerateContent?alt=sse",
                      {**GENERATE, "generationConfig": {"candidateCount": 2, "thinkingConfig": {"thinkingBudget": 2}}},
                      sim="output=3")
        self.assertEqual(answer.status, 200)
        self.assertTrue(answer.headers["content-type"].startswith("text/event-stream"))
        chunks = answer.sse_chunks()
        self.assertEqual(len(chunks), 3)
        for k, chunk in enumerate(chunks):
            self.assertEqual([c["content"]["parts"][0]["text"] for c in chunk["candidates"]], [("" if k == 0 else " ") + f"tok{k}"] * 2)
            usage = chunk["usageMetadata"]
            self.assertEqual((usage["promptTokenCount"], usage["candidatesTokenCount"], usage["thoughtsTokenCount"],
                              usage["totalTokenCount"]), (10, 2 * (k + 1), 2, 10 + 2 * (k + 1) + 2))
        self.assertEqual([c.get("finishReason") for ch in chunks for c in ch["candidates"]], [None] * 4 + ["STOP"] * 2)
        s = stats()
        self.assertEqual(s["streams"]["completed"], 1)
        self.assertEqual((s["usage"]["input_tokens"], s["usage"]["output_tokens"], s["usage"]["reasoning_tokens"]),
                         (10, 8, 2), "the last running total, not the sum of the chunks")

    def test_without_alt_sse_a_stream_is_one_json_array_written_element_by_element(self) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        conn.request("POST", f"{FLASH}:streamGenerateContent", json.dumps(GENERATE),
                     {**GEMINI_AUTH, "x-sim": "output=3, pause=5000", "Content-Type": "application/json"})
        response = conn.getresponse()
        self.assertEqual(response.status, 200)
        self.assertTrue(response.getheader("content-type", "").startswith("application/json"))
        first = response.read1()
        while first.count(b"}") < first.count(b"{") or not first.endswith(b"}"):
            first += response.read1()
        # Two elements came at once; the third waits for the release.
        s = stats()
        self.assertEqual((s["open"], s["streams"]["completed"]), (1, 0))
        self.assertEqual(s["usage"]["output_tokens"], 2)
        self.assertEqual(call("/_sim/release", {}).status, 200)
        raw = first + response.read()
        conn.close()
        self.assertTrue(raw.startswith(b"[{") and raw.endswith(b"}]"), raw)
        self.assertEqual(raw.count(b",\r\n{"), 2)
        chunks = json.loads(raw)
        self.assertEqual([c["usageMetadata"]["candidatesTokenCount"] for c in chunks], [1, 2, 3])
        self.assertEqual(chunks[-1]["candidates"][0]["finishReason"], "STOP")
        self.assertEqual(stats()["streams"]["completed"], 1)

    def test_usage_apart_ends_in_a_chunk_of_usage_alone_and_usage_none_has_none(self) -> None:
        chunks = call(f"{FLASH}:streamGenerateContent?alt=sse", GENERATE, sim="usage=apart, output=2, reasoning=1").sse_chunks()
        self.assertEqual(len(chunks), 3)
        self.assertEqual(chunks[1]["candidates"][0]["finishReason"], "STOP")
        self.assertEqual([c["usageMetadata"] for c in chunks[:2]],
                         [{"promptTokenCount": 10, "totalTokenCount": 10,
                           "promptTokensDetails": [{"modality": "TEXT", "tokenCount": 10}]}] * 2)
        self.assertNotIn("candidates", chunks[2])
        self.assertEqual((chunks[2]["usageMetadata"]["candidatesTokenCount"],
                          chunks[2]["usageMetadata"]["thoughtsTokenCount"]), (2, 1))
        self.assertEqual(stats()["usage"]["output_tokens"], 3)
        bare = call(f"{FLASH}:streamGenerateContent?alt=sse", GENERATE, sim="usage=none").sse_chunks()
        self.assertTrue(all("usageMetadata" not in c for c in bare))
        self.assertNotIn("usageMetadata", call(f"{FLASH}:generateContent", GENERATE, sim="usage=none").json())
        self.assertEqual(stats()["usage"]["input_tokens"], 10)

    def test_a_cut_array_stays_open_without_its_finish(self) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        conn.request("POST", f"{FLASH}:streamGenerateContent", json.dumps(GENERATE),
                     {**GEMINI_AUTH, "x-sim": "cut=2"})
        with self.assertRaises(http.client.IncompleteRead) as caught:
            conn.getresponse().read()
        conn.close()
        text = caught.exception.partial.decode()
        self.assertTrue(text.startswith("[{") and text.endswith("}"), text)
        self.assertEqual(text.count('"text"'), 2)
        self.assertNotIn("finishReason", text)
        self.assertEqual(stats()["streams"]["cut"], 1)

    def test_count_tokens_matches_the_prompt_and_models_are_listed_in_googles_shape(self) -> None:
        self.assertEqual(call(f"{FLASH}:countTokens", GENERATE).json(), {"totalTokens": 10})
        wrapped = {"generateContentRequest": {"model": "models/gemini-2.5-flash", **GENERATE}}
        self.assertEqual(call(f"{FLASH}:countTokens", wrapped).json(), {"totalTokens": 10})
        listed = call("/v1beta/models").json()
        self.assertIn("models/gemini-2.5-flash", [m["name"] for m in listed["models"]])
        self.assertIn("generateContent", listed["models"][0]["supportedGenerationMethods"])
        # Under v1, Google's key tells its model list from OpenAI's.
        one = call("/v1/models/gemini-2.5-pro", headers={"Authorization": None, **GEMINI_AUTH})
        self.assertEqual(one.json()["name"], "models/gemini-2.5-pro")
        missing = call("/v1beta/models/gemini-0")
        self.assertEqual((missing.status, missing.json()["error"]["status"]), (404, "NOT_FOUND"))
        unknown = call(f"{FLASH}:embedContent", GENERATE)
        self.assertEqual((unknown.status, unknown.json()["error"]["code"]), (404, 404))

    def test_the_key_is_googles_header_or_query_and_errors_are_in_googles_shape(self) -> None:
        path = f"{FLASH}:generateContent"
        self.assertEqual(call(f"{path}?key={KEY}", GENERATE, headers={"x-goog-api-key": None}).status, 200)
        none = call(path, GENERATE, headers={"x-goog-api-key": None})
        self.assertEqual((none.status, none.json()["error"]["status"]), (403, "PERMISSION_DENIED"))
        wrong = call(f"{path}?key=qg_sk_caller", GENERATE)
        self.assertEqual((wrong.status, wrong.json()["error"]["status"]), (400, "INVALID_ARGUMENT"))
        bearer = call(path, GENERATE, headers={"Authorization": "Bearer qg_sk_caller"})
        self.assertEqual((bearer.status, bearer.json()["error"]["status"]), (401, "UNAUTHENTICATED"))
        limited = call(path, GENERATE, sim="status=429")
        self.assertEqual(limited.json(), {"error": {"code": 429, "message": "the simulator answers 429 as x-sim asks",
                                                    "status": "RESOURCE_EXHAUSTED"}})
        self.assertEqual(call(path, {"contents": []}).json()["error"]["status"], "INVALID_ARGUMENT")
        seen = stats()["requests"]
        self.assertEqual((seen[0]["query"], seen[2]["query"]), (f"key={KEY}", "key=qg_sk_caller"))
        self.assertEqual(seen[3]["headers"]["authorization"], "Bearer qg_sk_caller")
        self.assertEqual(seen[0]["raw"], json.dumps(GENERATE))


def wav(seconds: int, rate: int = 16_000) -> bytes:
    """`seconds` of 16-bit mono silence."""
    data = bytes(seconds * rate * 2)
    return (b"RIFF" + struct.pack("<I", 36 + len(data)) + b"WAVEfmt " + struct.pack("<IHHIIHH", 16, 1, 1, rate, rate * 2, 2, 16)
            + b"data" + struct.pack("<I", len(data)) + data)


def upload(path: str, fields: Dict[str, str], file: bytes, sim: str = "") -> Answer:
    """A multipart upload, the fields before the file, as the official clients send it."""
    body = b""
    for name, value in fields.items():
        body += f'--b0und\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode()
    body += b'--b0und\r\nContent-Disposition: form-data; name="file"; filename="a.wav"\r\n\r\n' + file + b"\r\n--b0und--\r\n"
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    headers = {**OPENAI_AUTH, "Content-Type": "multipart/form-data; boundary=b0und", **({"x-sim": sim} if sim else {})}
    conn.request("POST", path, body, headers)
    response = conn.getresponse()
    answer = Answer(response.status, {k.lower(): v for k, v in response.getheaders()}, response.read())
    conn.close()
    return answer


class Audio(Base):
    def test_whisper_reports_the_seconds_it_decoded_and_gpt_4o_transcribe_tokens(self) -> None:
        whisper = upload("/v1/audio/transcriptions", {"model": "whisper-1"}, wav(3)).json()
        self.assertEqual(whisper["usage"], {"type": "duration", "seconds": 3})
        tokens = upload("/v1/audio/transcriptions", {"model": "gpt-4o-transcribe", "prompt": "two words"}, wav(2)).json()
        self.assertEqual((tokens["usage"]["input_tokens"], tokens["usage"]["input_token_details"]["audio_tokens"],
                          tokens["usage"]["output_tokens"]), (22, 20, 5))
        self.assertEqual(stats()["usage"]["audio_seconds"], 3)
        self.assertEqual(stats()["usage"]["audio_input_tokens"], 20)
        seen = stats()["requests"][-1]["body"]
        self.assertEqual((seen["model"], seen["file"]["bytes"]), ("gpt-4o-transcribe", len(wav(2))))

    def test_a_streamed_transcription_ends_in_its_done_event_and_text_has_no_usage(self) -> None:
        events = upload("/v1/audio/transcriptions", {"model": "gpt-4o-mini-transcribe", "stream": "true"},
                        wav(1)).datas()
        self.assertEqual([e["type"] for e in events][-2:], ["transcript.text.delta", "transcript.text.done"])
        self.assertEqual(events[-1]["usage"]["input_token_details"]["audio_tokens"], 10)
        text = upload("/v1/audio/transcriptions", {"model": "whisper-1", "response_format": "text"}, wav(1))
        self.assertEqual((text.headers["content-type"].split(";")[0], text.raw), ("text/plain", b"tok0 tok1 tok2 tok3 tok4"))
        translated = upload("/v1/audio/translations", {"model": "whisper-1"}, wav(1)).json()
        self.assertNotIn("usage", translated)
        self.assertEqual(stats()["usage"]["audio_seconds"], 0, "text and translations report nothing")

    def test_audio_it_cannot_decode_is_refused_unless_its_length_is_given(self) -> None:
        self.assertEqual(upload("/v1/audio/transcriptions", {"model": "whisper-1"}, b"OggS" + bytes(100)).status, 400)
        given = upload("/v1/audio/transcriptions", {"model": "whisper-1"}, b"OggS" + bytes(100), sim="seconds=7")
        self.assertEqual(given.json()["usage"]["seconds"], 7)

    def test_speech_is_audio_bytes_or_events_ending_in_their_usage(self) -> None:
        raw = call("/v1/audio/speech", {"model": "tts-1", "input": "hello there", "voice": "alloy"})
        self.assertEqual((raw.status, raw.headers["content-type"]), (200, "audio/mpeg"))
        self.assertEqual(len(raw.raw), 11 * 417)
        events = call("/v1/audio/speech", {"model": "gpt-4o-mini-tts", "input": "hello there", "voice": "alloy",
                                           "stream_format": "sse"}, sim="output=3").datas()
        self.assertEqual([e["type"] for e in events], ["speech.audio.delta"] * 3 + ["speech.audio.done"])
        self.assertEqual(events[-1]["usage"], {"input_tokens": 2, "output_tokens": 3, "total_tokens": 5})
        refused = call("/v1/audio/speech", {"model": "tts-1", "input": "hi", "voice": "alloy", "stream_format": "sse"})
        self.assertEqual(refused.status, 400)


class Errors(Base):
    def test_status_in_each_providers_shape(self) -> None:
        openai = call("/v1/chat/completions", CHAT, sim="status=429")
        self.assertEqual(openai.status, 429)
        self.assertIn("x-request-id", openai.headers)
        self.assertEqual(set(openai.json()["error"]), {"message", "type", "param", "code"})
        for status, kind in [(400, "invalid_request_error"), (401, "authentication_error"),
                             (403, "permission_error"), (404, "not_found_error"), (429, "rate_limit_error"),
                             (500, "api_error"), (529, "overloaded_error")]:
            answer = call("/v1/messages", {**MESSAGES, "stream": True}, sim=f"status={status}")
            self.assertEqual(answer.status, status)
            self.assertEqual(answer.json()["type"], "error")
            self.assertEqual(answer.json()["error"]["type"], kind)
        s = stats()
        self.assertEqual(s["calls"], 8)
        self.assertEqual(s["streams"], {"completed": 0, "broken": 0, "cut": 0})

    def test_a_directive_for_a_model_applies_to_that_model_alone(self) -> None:
        sim = "status=503@gpt-4o, output=2@gpt-4o-mini"
        self.assertEqual(call("/v1/chat/completions", {**CHAT, "model": "gpt-4o"}, sim=sim).status, 503)
        other = call("/v1/chat/completions", CHAT, sim=sim)
        self.assertEqual(other.status, 200)
        self.assertEqual(other.json()["usage"]["completion_tokens"], 2)

    def test_a_context_too_long_in_each_providers_words(self) -> None:
        openai = call("/v1/chat/completions", CHAT, sim="context=1")
        self.assertEqual((openai.status, openai.json()["error"]["code"]), (400, "context_length_exceeded"))
        claude = call("/v1/messages", MESSAGES, sim="context=1")
        self.assertEqual((claude.status, claude.json()["error"]["type"]), (400, "invalid_request_error"))
        self.assertTrue(claude.json()["error"]["message"].startswith("prompt is too long"))

    def test_an_unknown_directive_or_path_fails_loudly(self) -> None:
        answer = call("/v1/chat/completions", CHAT, sim="output=2, outptu=3")
        self.assertEqual(answer.status, 400)
        self.assertIn("outptu", answer.json()["error"]["message"])
        self.assertEqual(call("/v1/chat/completions", CHAT, sim="stall=soon").status, 400)
        self.assertEqual(call("/v1/nothing", {}).status, 404)
        self.assertEqual(call("/v1/messages", MESSAGES, sim="usage=some").json()["error"]["type"],
                         "invalid_request_error")

    def test_the_key_is_checked_per_provider(self) -> None:
        wrong = call("/v1/chat/completions", CHAT, headers={"Authorization": "Bearer sk-caller"})
        self.assertEqual(wrong.status, 401)
        self.assertEqual(wrong.json()["error"]["code"], "invalid_api_key")
        missing = call("/v1/messages", MESSAGES, headers={"x-api-key": "sk-caller"})
        self.assertEqual(missing.status, 401)
        self.assertEqual(missing.json()["error"]["type"], "authentication_error")
        # Anthropic also takes the key as a bearer token, but every credential sent must be it.
        bearer = {"x-api-key": None, "Authorization": f"Bearer {KEY}", "anthropic-version": "2023-06-01"}
        self.assertEqual(call("/v1/messages", MESSAGES, headers=bearer).status, 200)
        self.assertEqual(call("/v1/messages", MESSAGES, headers={"Authorization": "Bearer sk-caller"}).status, 401)
        self.assertEqual(call("/v1/chat/completions", CHAT, headers={"Authorization": None, "x-api-key": KEY}).status,
                         401, "OpenAI takes only the bearer token")
        seen = stats()["requests"]
        self.assertEqual(seen[0]["headers"]["authorization"], "Bearer sk-caller")
        self.assertEqual(seen[1]["headers"]["x-api-key"], "sk-caller")


class Steering(Base):
    def test_stall_waits_before_the_status_line(self) -> None:
        began = time.monotonic()
        self.assertEqual(call("/v1/chat/completions", CHAT, sim="stall=300").status, 200)
        self.assertGreaterEqual(time.monotonic() - began, 0.3)

    def test_delay_spaces_the_stream_events(self) -> None:
        began = time.monotonic()
        call("/v1/chat/completions", {**CHAT, "stream": True}, sim="delay=40,output=3")
        # role, three deltas, the finish and [DONE]: five gaps.
        self.assertGreaterEqual(time.monotonic() - began, 0.2)

    def test_cut_stream_ends_after_k_deltas_without_usage_or_end(self) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        conn.request("POST", "/v1/chat/completions",
                     json.dumps({**CHAT, "stream": True, "stream_options": {"include_usage": True}}),
                     {**OPENAI_AUTH, "x-sim": "cut=2"})
        response = conn.getresponse()
        with self.assertRaises(http.client.IncompleteRead) as caught:
            response.read()
        conn.close()
        text = caught.exception.partial.decode()
        self.assertIn('"tok0"', text)
        self.assertIn('" tok1"', text)
        self.assertNotIn("tok2", text)
        self.assertNotIn('"finish_reason":"stop"', text)
        self.assertNotIn("[DONE]", text)
        s = stats()
        self.assertEqual(s["streams"], {"completed": 0, "broken": 0, "cut": 1})
        self.assertEqual(s["usage"]["input_tokens"], 0)

    def test_cut_zero_sends_no_delta(self) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        conn.request("POST", "/v1/responses", json.dumps({"model": "m", "input": "hi", "stream": True}),
                     {**OPENAI_AUTH, "x-sim": "cut=0"})
        with self.assertRaises(http.client.IncompleteRead) as caught:
            conn.getresponse().read()
        conn.close()
        self.assertIn("response.content_part.added", caught.exception.partial.decode())
        self.assertNotIn("output_text.delta", caught.exception.partial.decode())

    def test_a_cut_larger_than_the_reply_still_cuts_before_the_end(self) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        conn.request("POST", "/v1/messages", json.dumps({**MESSAGES, "stream": True}), {**ANTHROPIC_AUTH, "x-sim": "cut=50"})
        with self.assertRaises(http.client.IncompleteRead) as caught:
            conn.getresponse().read()
        conn.close()
        self.assertNotIn("message_delta", caught.exception.partial.decode())
        self.assertEqual(caught.exception.partial.decode().count("content_block_delta"), 10)  # name and type

    def test_cut_json_sends_half_the_promised_body(self) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        conn.request("POST", "/v1/responses", json.dumps({"model": "m", "input": "hi"}), {**OPENAI_AUTH, "x-sim": "cut=1"})
        response = conn.getresponse()
        self.assertEqual(response.status, 200)
        with self.assertRaises(http.client.IncompleteRead):
            response.read()
        conn.close()
        self.assertEqual(stats()["usage"]["input_tokens"], 0)

    def test_a_client_that_hangs_up_breaks_the_stream(self) -> None:
        sock = socket.create_connection(("127.0.0.1", port))
        body = json.dumps({**MESSAGES, "stream": True}).encode()
        sock.sendall(b"POST /v1/messages HTTP/1.1\r\nHost: x\r\nx-api-key: " + KEY.encode()
                     + b"\r\nx-sim: delay=30,output=200\r\nContent-Length: " + str(len(body)).encode()
                     + b"\r\n\r\n" + body)
        received = b""
        while b"message_start" not in received:
            received += sock.recv(4096)
        self.assertEqual(stats()["open"], 1)
        sock.close()
        deadline = time.monotonic() + 5
        while stats()["streams"]["broken"] == 0 and time.monotonic() < deadline:
            time.sleep(0.05)
        s = stats()
        self.assertEqual((s["streams"]["broken"], s["open"]), (1, 0))

    def test_keep_alive_serves_several_calls_on_one_connection(self) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        first = call("/v1/chat/completions", {**CHAT, "stream": True}, conn=conn)
        second = call("/v1/messages", MESSAGES, conn=conn)
        third = call("/v1/chat/completions", CHAT, sim="status=500", conn=conn)
        conn.close()
        self.assertEqual((first.status, second.status, third.status), (200, 200, 500))

    def test_a_chunked_request_body_is_read(self) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        data = json.dumps(CHAT).encode()
        conn.request("POST", "/v1/chat/completions", iter([data[:10], data[10:]]),
                     {**OPENAI_AUTH, "Content-Type": "application/json"}, encode_chunked=True)
        response = conn.getresponse()
        self.assertEqual(response.status, 200)
        self.assertEqual(json.loads(response.read())["usage"]["prompt_tokens"], 10)
        conn.close()

    def test_stats_keep_what_was_sent_and_reset_clears_it(self) -> None:
        call("/v1/chat/completions", CHAT, headers={"X-Trace": "abc"})
        call("/v1/messages", MESSAGES)
        s = stats()
        self.assertEqual(s["calls"], 2)
        self.assertEqual(s["paths"], {"/v1/chat/completions": 1, "/v1/messages": 1})
        self.assertEqual(s["requests"][0]["path"], "/v1/chat/completions")
        self.assertEqual(s["requests"][0]["headers"]["x-trace"], "abc")
        self.assertEqual(s["requests"][0]["body"], CHAT)
        reset()
        s = stats()
        self.assertEqual((s["calls"], s["paths"], s["requests"], s["usage"]["input_tokens"]), (0, {}, [], 0))


if __name__ == "__main__":
    unittest.main()
