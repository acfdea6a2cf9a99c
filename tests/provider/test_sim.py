"""The provider simulator, checked from outside as a proxy would see it: the command line, every
path as JSON and as a stream, the x-sim directives, the key check, the read-back, and the jobs
(files, batches, message batches, videos), also as the official clients drive them; and, through
test_clouds.py, the clouds (Azure OpenAI, Bedrock, Vertex AI) as their official clients drive them.

    python3 tests/provider/test_sim.py      (or: python3 -m unittest discover tests/provider)

The official clients' tests run in this interpreter when it has `openai` and `anthropic`, else
in $SIM_SDK_PYTHON or target/py-sdk-venv when there is one, else are skipped.
"""

from __future__ import annotations

import base64
import hashlib
import http.client
import io
import json
import os
import socket
import struct
import subprocess
import sys
import tempfile
import time
import unittest
import warnings
from datetime import datetime
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

    def test_a_stored_response_is_read_back_and_its_conversation_counts_in_a_continuation(self) -> None:
        first = call("/v1/responses", {"model": "gpt-4o-mini", "input": "hello"}, sim="input=100,output=7").json()
        stored = call(f"/v1/responses/{first['id']}")
        self.assertEqual(stored.status, 200, stored.raw)
        self.assertEqual(stored.json()["usage"]["input_tokens"] + stored.json()["usage"]["output_tokens"], 107)
        alone = call("/v1/responses", {"model": "gpt-4o-mini", "input": "and?"}).json()["usage"]["input_tokens"]
        next_ = call("/v1/responses", {"model": "gpt-4o-mini", "input": "and?", "previous_response_id": first["id"]})
        self.assertEqual(next_.json()["usage"]["input_tokens"], alone + 107)
        self.assertEqual(call("/v1/responses/resp_unknown").status, 404)
        unknown = call("/v1/responses", {"model": "gpt-4o-mini", "input": "x", "previous_response_id": "resp_x"})
        self.assertEqual(unknown.status, 404)

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

    def test_a_cached_content_reports_its_size_and_counts_it_in_the_prompt(self) -> None:
        made = call("/v1beta/cachedContents", {"model": "models/gemini-2.5-flash", "contents": []},
                    sim="input=900")
        self.assertEqual(made.status, 200, made.raw)
        name = made.json()["name"]
        read = call(f"/v1beta/{name}")
        self.assertEqual(read.json()["usageMetadata"], {"totalTokenCount": 900})
        got = call(FLASH + ":generateContent", {**GENERATE, "cachedContent": name}).json()["usageMetadata"]
        self.assertEqual(got["cachedContentTokenCount"], 900)
        self.assertEqual(call("/v1beta/cachedContents/nothing").status, 404)

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
        unknown = call(f"{FLASH}:noSuchMethod", GENERATE)
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

    def test_fail_first_fails_a_calls_first_tries_with_nothing_made_then_lets_it_through(self) -> None:
        video = [("model", None, b"sora-2"), ("prompt", None, b"a cat"), ("seconds", None, b"4")]
        first = form("/v1/videos", video, sim="fail_first=2")
        self.assertEqual((first.status, first.json()["error"]["type"]), (500, "server_error"))
        self.assertEqual(form("/v1/videos", video, sim="fail_first=2").status, 500)
        made = form("/v1/videos", video, sim="fail_first=2")
        self.assertEqual(made.status, 200, made.raw)
        self.assertEqual(list(stats()["jobs"]), [made.json()["id"]])
        # Counted apart: another header's call, another path's, another provider's shape.
        self.assertEqual(call("/v1/chat/completions", CHAT, sim="fail_first=1").status, 500)
        self.assertEqual(call("/v1/chat/completions", CHAT, sim="fail_first=1").status, 200)
        self.assertEqual(call("/v1/chat/completions", CHAT, sim="fail_first=1, output=2").status, 500)
        claude = call("/v1/messages", MESSAGES, sim="fail_first=1")
        self.assertEqual((claude.status, claude.json()["error"]["type"]), (500, "api_error"))
        # A reset starts every count again.
        reset()
        self.assertEqual(call("/v1/chat/completions", CHAT, sim="fail_first=1").status, 500)

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


# ---------------------------------------------------------------------------------------------
# Jobs: files, batches, message batches, videos.


def form(path: str, parts: List[Tuple[str, Optional[str], bytes]], sim: str = "",
         headers: Optional[Dict[str, str]] = None) -> Answer:
    """A multipart upload of (name, filename or None for a field, bytes), in the order given."""
    body = b""
    for name, filename, data in parts:
        disposition = f'form-data; name="{name}"' + (f'; filename="{filename}"' if filename else "")
        body += f"--b0und\r\nContent-Disposition: {disposition}\r\n\r\n".encode() + data + b"\r\n"
    body += b"--b0und--\r\n"
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    sent = {**OPENAI_AUTH, "Content-Type": "multipart/form-data; boundary=b0und", **(headers or {})}
    if sim:
        sent["x-sim"] = sim
    conn.request("POST", path, body, sent)
    response = conn.getresponse()
    answer = Answer(response.status, {k.lower(): v for k, v in response.getheaders()}, response.read())
    conn.close()
    return answer


def stored(data: bytes, purpose: str = "batch", filename: str = "input.jsonl") -> str:
    answer = form("/v1/files", [("purpose", None, purpose.encode()), ("file", filename, data)])
    assert answer.status == 200, answer.raw
    found: str = answer.json()["id"]
    return found


def jsonl(lines: List[Any]) -> bytes:
    return b"".join(json.dumps(line).encode() + b"\n" for line in lines)


def chat_lines(n: int, model: str = "gpt-4o-mini", url: str = "/v1/chat/completions") -> List[Dict[str, Any]]:
    return [{"custom_id": f"r{i}", "method": "POST", "url": url,
             "body": {**CHAT, "model": model}} for i in range(n)]


def batch(lines: List[Any], sim: str = "", endpoint: str = "/v1/chat/completions",
          metadata: Optional[Dict[str, str]] = None) -> Dict[str, Any]:
    body: Dict[str, Any] = {"input_file_id": stored(jsonl(lines)), "endpoint": endpoint, "completion_window": "24h"}
    if metadata is not None:
        body["metadata"] = metadata
    answer = call("/v1/batches", body, sim=sim)
    assert answer.status == 200, answer.raw
    found: Dict[str, Any] = answer.json()
    return found


def read(path: str) -> Any:
    answer = call(path)
    assert answer.status == 200, answer.raw
    return answer.json()


def content(fid: str) -> List[Any]:
    answer = call(f"/v1/files/{fid}/content")
    assert answer.status == 200, answer.raw
    return [json.loads(line) for line in answer.raw.splitlines()]


def peak_memory(pid: int) -> Optional[int]:
    """A process's peak resident set in kB, where /proc tells it."""
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


class Files(Base):
    def test_an_upload_is_stored_read_back_and_deleted_whatever_the_order_of_its_parts(self) -> None:
        data = b"line one\r\n--b0un, nearly the boundary\r\n\x00\xff" * 3
        answer = form("/v1/files", [("file", "notes.bin", data), ("purpose", None, b"user_data")])
        self.assertEqual(answer.status, 200, answer.raw)
        made = answer.json()
        self.assertTrue(made["id"].startswith("file-"))
        self.assertEqual({k: v for k, v in made.items() if k not in ("id", "created_at")},
                         {"object": "file", "bytes": len(data), "filename": "notes.bin", "purpose": "user_data",
                          "status": "processed", "expires_at": None, "status_details": None})
        self.assertEqual(read(f"/v1/files/{made['id']}"), made)
        got = call(f"/v1/files/{made['id']}/content")
        self.assertEqual((got.status, got.headers["content-type"], got.raw), (200, "application/octet-stream", data))
        self.assertIn(made["id"], [f["id"] for f in read("/v1/files?purpose=user_data")["data"]])
        self.assertEqual(call(f"/v1/files/{made['id']}", method="DELETE").json(),
                         {"id": made["id"], "object": "file", "deleted": True})
        for gone in (call(f"/v1/files/{made['id']}"), call(f"/v1/files/{made['id']}/content")):
            self.assertEqual((gone.status, gone.json()), (404, {"error": {
                "message": f"No such File object: {made['id']}", "type": "invalid_request_error", "param": "id",
                "code": None}}))
        self.assertEqual(stats()["requests"][0]["body"], {"purpose": "user_data",
                                                          "file": {"filename": "notes.bin", "bytes": len(data)}})

    def test_a_name_given_twice_in_a_form_is_read_at_its_last_part_as_pythons_parsers_read_it(self) -> None:
        video = form("/v1/videos", [("model", None, b"sora-2"), ("prompt", None, b"a cat"), ("seconds", None, b"4"),
                                    ("model", None, b"sora-2-pro"), ("seconds", None, b"12")])
        self.assertEqual(video.status, 200, video.raw)
        self.assertEqual((video.json()["model"], video.json()["seconds"]), ("sora-2-pro", "12"))
        audio = form("/v1/audio/transcriptions", [("model", None, b"whisper-1"), ("file", "a.wav", wav(1)),
                                                  ("file", "b.wav", wav(6))])
        self.assertEqual(audio.json()["usage"], {"type": "duration", "seconds": 6})
        self.assertEqual(stats()["requests"][-1]["body"]["file"], {"filename": "b.wav", "bytes": len(wav(6))})
        # A field and a file of one name: the later part is the one read, whichever it is.
        upload = form("/v1/files", [("purpose", None, b"batch"), ("file", "a.jsonl", b"first"),
                                    ("purpose", None, b"user_data"), ("file", "b.bin", b"second")])
        made = upload.json()
        self.assertEqual((made["filename"], made["bytes"], made["purpose"]), ("b.bin", 6, "user_data"), upload.raw)
        self.assertEqual(call(f"/v1/files/{made['id']}/content").raw, b"second")
        shadowed = form("/v1/audio/transcriptions", [("model", None, b"whisper-1"), ("model", "m.txt", b"whisper-1"),
                                                     ("file", "a.wav", wav(2))])
        self.assertEqual((shadowed.status, shadowed.json()["error"]["param"]), (400, "model"), shadowed.raw)
        # A part named two ways in its headers is read at the last name of its last Content-Disposition,
        # as Starlette over python-multipart reads it.
        named = form("/v1/videos", [("prompt", None, b"a cat"), ('note"; name="seconds', None, b"12"),
                                    ('note"\r\nContent-Disposition: form-data; name="size', None, b"1280x720")])
        self.assertEqual((named.status, named.json()["seconds"], named.json()["size"]), (200, "12", "1280x720"),
                         named.raw)

    def test_an_upload_missing_a_part_or_with_a_wrong_purpose_is_refused_naming_it(self) -> None:
        before = read("/v1/files?limit=1")["data"]
        wrong: List[Tuple[List[Tuple[str, Optional[str], bytes]], str]] = [
            ([("file", "a.jsonl", b"{}")], "purpose"), ([("purpose", None, b"batch")], "file"),
            ([("purpose", None, b"homework"), ("file", "a.jsonl", b"{}")], "purpose")]
        for parts, param in wrong:
            answer = form("/v1/files", parts)
            self.assertEqual((answer.status, answer.json()["error"]["param"]), (400, param), answer.raw)
        self.assertEqual(read("/v1/files?limit=1")["data"][:1], before, "nothing stored")

    def test_a_large_upload_goes_to_disk_as_it_streams_and_comes_back_the_same(self) -> None:
        block = bytes(range(256)) * 4096  # 1 MiB
        size = 32 * len(block)
        head = (b'--b0und\r\nContent-Disposition: form-data; name="purpose"\r\n\r\nbatch\r\n'
                b'--b0und\r\nContent-Disposition: form-data; name="file"; filename="big.bin"\r\n\r\n')
        tail = b"\r\n--b0und--\r\n"
        assert process is not None
        began = peak_memory(process.pid)
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        conn.request("POST", "/v1/files", iter([head] + [block] * 32 + [tail]),
                     {**OPENAI_AUTH, "Content-Type": "multipart/form-data; boundary=b0und",
                      "Content-Length": str(len(head) + size + len(tail))})
        made = json.loads(conn.getresponse().read())
        self.assertEqual(made["bytes"], size)
        conn.request("GET", f"/v1/files/{made['id']}/content", headers=OPENAI_AUTH)
        response = conn.getresponse()
        self.assertEqual(response.getheader("content-length"), str(size))
        digest, left = hashlib.sha256(), size
        while left:
            data = response.read(min(left, 1 << 20))
            digest.update(data)
            left -= len(data)
        conn.close()
        self.assertEqual(digest.digest(), hashlib.sha256(block * 32).digest())
        peak = peak_memory(process.pid)
        if peak is not None and began is not None:
            # The upload is 32 MiB: the simulator never held it, nor its bytes when it sent them back.
            self.assertLess(peak - began, 16 * 1024, "the rise of the peak resident set, in kB")

    def test_a_cut_download_sends_half_the_promised_bytes(self) -> None:
        fid = stored(b"0123456789" * 10)
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        conn.request("GET", f"/v1/files/{fid}/content", headers={**OPENAI_AUTH, "x-sim": "cut=1"})
        with self.assertRaises(http.client.IncompleteRead) as caught:
            conn.getresponse().read()
        conn.close()
        self.assertEqual(len(caught.exception.partial), 50)

    def test_the_files_are_closed_when_the_server_shuts_down(self) -> None:
        sys.path.insert(0, os.path.dirname(SIM))
        import sim  # noqa: E402 -- the module in this process, to see its store

        server = sim.serve()
        conn = http.client.HTTPConnection("127.0.0.1", server.server_address[1], timeout=10)
        conn.request("POST", "/v1/files", b'--b\r\nContent-Disposition: form-data; name="purpose"\r\n\r\nbatch\r\n'
                     b'--b\r\nContent-Disposition: form-data; name="file"; filename="x"\r\n\r\n{}\r\n--b--\r\n',
                     {"Content-Type": "multipart/form-data; boundary=b"})
        self.assertEqual(conn.getresponse().read().count(b'"bytes":2'), 1)
        conn.close()
        held = server.store.listed_files()
        self.assertEqual(len(held), 1)
        # Unlinked from the start: nothing in the temporary directory names it, even now.
        self.assertEqual([n for n in os.listdir(tempfile.gettempdir()) if n.startswith("provider-sim-")], [])
        server.shutdown()
        server.server_close()
        self.assertTrue(held[0].handle.closed)


class Batches(Base):
    def test_a_batch_moves_along_by_its_reads_and_answers_each_line_as_the_call_itself(self) -> None:
        made = batch(chat_lines(3), sim="reads=3, output=2")
        self.assertTrue(made["id"].startswith("batch_"))
        self.assertEqual((made["status"], made["request_counts"], made["expires_at"] - made["created_at"]),
                         ("validating", {"total": 0, "completed": 0, "failed": 0}, 86400))
        self.assertEqual(made["usage"]["total_tokens"], 0)
        for key in ("output_file_id", "error_file_id", "in_progress_at", "completed_at", "errors", "metadata"):
            self.assertIsNone(made[key], key)
        path = f"/v1/batches/{made['id']}"
        first = call(path)
        self.assertEqual((first.json()["status"], first.json()["request_counts"]["total"]), ("in_progress", 3))
        self.assertEqual(first.headers["openai-poll-after-ms"], "10")
        second = read(path)
        self.assertEqual((second["status"], second["request_counts"]), ("finalizing", {"total": 3, "completed": 3,
                                                                                       "failed": 0}))
        self.assertIsNone(second["output_file_id"])
        last = call(path)
        self.assertNotIn("openai-poll-after-ms", last.headers)
        done = last.json()
        self.assertEqual(done["status"], "completed")
        self.assertIsNone(done["error_file_id"])
        self.assertTrue(done["in_progress_at"] <= done["finalizing_at"] <= done["completed_at"])
        self.assertEqual(read(path)["status"], "completed", "final from then on")
        single = call("/v1/chat/completions", CHAT, sim="output=2").json()
        lines = content(done["output_file_id"])
        self.assertEqual([line["custom_id"] for line in lines], ["r0", "r1", "r2"])
        for line in lines:
            self.assertTrue(line["id"].startswith("batch_req_"))
            self.assertIsNone(line["error"])
            self.assertEqual(line["response"]["status_code"], 200)
            self.assertTrue(line["response"]["request_id"].startswith("req_"))
            body = line["response"]["body"]
            self.assertEqual((body["object"], body["choices"][0]["message"]["content"], body["usage"]),
                             ("chat.completion", "tok0 tok1", single["usage"]))
        self.assertEqual(done["usage"], {"input_tokens": 30, "input_tokens_details": {"cached_tokens": 0},
                                         "output_tokens": 6, "output_tokens_details": {"reasoning_tokens": 0},
                                         "total_tokens": 36})
        self.assertEqual(read(f"/v1/files/{done['output_file_id']}")["purpose"], "batch_output")
        s = stats()
        self.assertEqual(s["jobs"][made["id"]], {"kind": "batch", "status": "completed", "reads": 4})
        self.assertEqual(s["usage"]["input_tokens"], 10, "a job's lines are not calls: only the single one counts")

    def test_failures_and_a_models_status_go_to_the_error_file_and_usage_none_leaves_the_sum_to_the_reader(
            self) -> None:
        lines = chat_lines(3) + chat_lines(1, model="gpt-4o")
        lines[3]["custom_id"] = "big"
        made = batch(lines, sim="failures=1, status=503@gpt-4o, usage=none, reads=1")
        self.assertNotIn("usage", made)
        done = read(f"/v1/batches/{made['id']}")
        self.assertNotIn("usage", done)
        self.assertEqual((done["status"], done["request_counts"]), ("completed", {"total": 4, "completed": 2,
                                                                                  "failed": 2}))
        errors = content(done["error_file_id"])
        self.assertEqual([(e["custom_id"], e["response"]["status_code"], e["error"]) for e in errors],
                         [("r0", 400, None), ("big", 503, None)])
        self.assertEqual(set(errors[0]["response"]["body"]["error"]), {"message", "type", "param", "code"})
        self.assertEqual(errors[1]["response"]["body"]["error"]["type"], "server_error")
        answered = content(done["output_file_id"])
        self.assertEqual([a["custom_id"] for a in answered], ["r1", "r2"])
        self.assertEqual(sum(a["response"]["body"]["usage"]["total_tokens"] for a in answered), 30)

    def test_responses_and_embeddings_lines_report_their_own_usage_summed(self) -> None:
        lines = [{"custom_id": f"q{i}", "method": "POST", "url": "/v1/responses",
                  "body": {"model": "gpt-4o-mini", "input": "hello there"}} for i in range(2)]
        done = read(f"/v1/batches/{batch(lines, 'cached=2, reasoning=1, reads=1', '/v1/responses')['id']}")
        self.assertEqual(done["usage"], {"input_tokens": 16, "input_tokens_details": {"cached_tokens": 4},
                                         "output_tokens": 12, "output_tokens_details": {"reasoning_tokens": 2},
                                         "total_tokens": 28})
        self.assertEqual(content(done["output_file_id"])[0]["response"]["body"]["object"], "response")
        lines = [{"custom_id": "e", "method": "POST", "url": "/v1/embeddings",
                  "body": {"model": "text-embedding-3-small", "input": ["a b c", "d"]}}]
        done = read(f"/v1/batches/{batch(lines, 'reads=1', '/v1/embeddings')['id']}")
        self.assertEqual((done["usage"]["input_tokens"], done["usage"]["output_tokens"]), (4, 0))

    def test_end_expired_answers_the_first_half_and_expires_the_rest(self) -> None:
        made = batch(chat_lines(5), sim="end=expired")
        self.assertEqual(read(f"/v1/batches/{made['id']}")["status"], "in_progress")
        done = read(f"/v1/batches/{made['id']}")
        self.assertEqual((done["status"], done["request_counts"]), ("expired", {"total": 5, "completed": 2,
                                                                                "failed": 3}))
        self.assertIsNotNone(done["expired_at"])
        self.assertIsNone(done["completed_at"])
        self.assertEqual(done["usage"]["input_tokens"], 20)
        self.assertEqual([a["custom_id"] for a in content(done["output_file_id"])], ["r0", "r1"])
        expired = content(done["error_file_id"])
        self.assertEqual([e["custom_id"] for e in expired], ["r2", "r3", "r4"])
        self.assertEqual(expired[0]["response"], None)
        self.assertEqual(expired[0]["error"], {"code": "batch_expired", "message": "This request could not be "
                                               "executed before the completion window expired."})

    def test_end_failed_fails_it_with_errors_and_nothing_answered(self) -> None:
        made = batch(chat_lines(2), sim="end=failed, reads=3")
        self.assertEqual([read(f"/v1/batches/{made['id']}")["status"] for _ in range(2)], ["validating"] * 2)
        done = read(f"/v1/batches/{made['id']}")
        self.assertEqual(done["status"], "failed")
        self.assertEqual(done["errors"]["object"], "list")
        self.assertEqual(set(done["errors"]["data"][0]), {"code", "message", "line", "param"})
        self.assertEqual((done["output_file_id"], done["error_file_id"], done["usage"]["total_tokens"]),
                         (None, None, 0))
        self.assertIsNotNone(done["failed_at"])

    def test_a_wrong_line_fails_the_batch_naming_each_line(self) -> None:
        good = chat_lines(1)[0]
        raw = jsonl([good]) + b"{not json\n\n" + jsonl([{**good, "url": "/v1/embeddings"}, {"custom_id": "x"}])
        fid = stored(raw)
        made = call("/v1/batches", {"input_file_id": fid, "endpoint": "/v1/chat/completions",
                                    "completion_window": "24h"}, sim="reads=1").json()
        done = read(f"/v1/batches/{made['id']}")
        self.assertEqual(done["status"], "failed")
        self.assertEqual([(e["code"], e["line"], e["param"]) for e in done["errors"]["data"]],
                         [("invalid_json_line", 2, None), ("mismatched_endpoint", 4, "url"),
                          ("missing_required_parameter", 5, "method")])
        empty = call("/v1/batches", {"input_file_id": stored(b"\n"), "endpoint": "/v1/chat/completions",
                                     "completion_window": "24h"}, sim="reads=1").json()
        self.assertEqual(read(f"/v1/batches/{empty['id']}")["errors"]["data"][0]["code"], "empty_file")

    def test_a_cancel_shows_cancelling_then_cancelled_at_the_next_read(self) -> None:
        made = batch(chat_lines(2), sim="reads=5")
        cancelling = call(f"/v1/batches/{made['id']}/cancel", {})
        self.assertEqual((cancelling.status, cancelling.json()["status"]), (200, "cancelling"))
        self.assertIsNotNone(cancelling.json()["cancelling_at"])
        done = read(f"/v1/batches/{made['id']}")
        self.assertEqual((done["status"], done["request_counts"], done["output_file_id"]),
                         ("cancelled", {"total": 2, "completed": 0, "failed": 0}, None))
        self.assertEqual(done["usage"]["total_tokens"], 0)
        again = call(f"/v1/batches/{made['id']}/cancel", {})
        self.assertEqual((again.status, again.json()["error"]["message"]),
                         (409, "Cannot cancel a batch with status 'cancelled'."))
        told = batch(chat_lines(1), sim="end=cancelled, reads=3")
        self.assertEqual([read(f"/v1/batches/{told['id']}")["status"] for _ in range(4)],
                         ["in_progress", "cancelling", "cancelled", "cancelled"])
        self.assertEqual(stats()["jobs"][made["id"]], {"kind": "batch", "status": "cancelled", "reads": 1})

    def test_a_create_is_checked_and_steered_as_any_call(self) -> None:
        fid = stored(jsonl(chat_lines(1)))
        ask = {"input_file_id": fid, "endpoint": "/v1/chat/completions", "completion_window": "24h"}
        for body, param in [({**ask, "input_file_id": "file-none"}, "input_file_id"),
                            ({**ask, "input_file_id": stored(b"{}", "user_data")}, "input_file_id"),
                            ({**ask, "endpoint": "/v1/images/generations"}, "endpoint"),
                            ({**ask, "completion_window": "1h"}, "completion_window"),
                            ({k: v for k, v in ask.items() if k != "endpoint"}, "endpoint")]:
            answer = call("/v1/batches", body)
            self.assertEqual((answer.status, answer.json()["error"]["param"]), (400, param), answer.raw)
        for sim, status in [("status=503", 503), ("end=later", 400), ("reads=0", 400), ("failures=-1", 400)]:
            self.assertEqual(call("/v1/batches", ask, sim=sim).status, status, sim)
        began = time.monotonic()
        self.assertEqual(call("/v1/batches", {**ask, "metadata": {"k": "v"}}, sim="stall=100").json()["metadata"],
                         {"k": "v"})
        self.assertGreaterEqual(time.monotonic() - began, 0.1)
        self.assertEqual(len(stats()["jobs"]), 1, "only the last one was made")

    def test_the_list_is_newest_first_and_pages_and_an_unknown_batch_is_a_404(self) -> None:
        ids = [batch(chat_lines(1))["id"] for _ in range(3)]
        listed = read("/v1/batches?limit=2")
        self.assertEqual(([b["id"] for b in listed["data"]], listed["has_more"], listed["object"]),
                         (ids[::-1][:2], True, "list"))
        self.assertEqual((listed["first_id"], listed["last_id"]), (ids[2], ids[1]))
        rest = read(f"/v1/batches?limit=1&after={listed['last_id']}")
        self.assertEqual([b["id"] for b in rest["data"]], [ids[0]])
        self.assertEqual(stats()["jobs"][ids[0]]["reads"], 0, "a list reads no job")
        missing = call("/v1/batches/batch_nope")
        self.assertEqual((missing.status, missing.json()["error"]["code"]), (404, None))
        self.assertEqual(call("/v1/batches/batch_nope/cancel", {}).status, 404)


MESSAGE: Any = {"model": "claude-sonnet-4-5", "max_tokens": 100, "messages": [{"role": "user", "content": "say hello"}]}


def message_batch(requests: List[Any], sim: str = "") -> Dict[str, Any]:
    answer = call("/v1/messages/batches", {"requests": requests}, sim=sim)
    assert answer.status == 200, answer.raw
    found: Dict[str, Any] = answer.json()
    return found


def requests(n: int) -> List[Dict[str, Any]]:
    return [{"custom_id": f"c{i}", "params": MESSAGE} for i in range(n)]


def results(batch_id: str) -> List[Any]:
    answer = call(f"/v1/messages/batches/{batch_id}/results")
    assert answer.status == 200, answer.raw
    assert answer.headers["content-type"] == "application/binary", answer.headers
    return [json.loads(line) for line in answer.raw.splitlines()]


class MessageBatches(Base):
    def test_a_batch_ends_by_its_reads_and_its_results_are_at_the_absolute_url_it_names(self) -> None:
        asked = requests(3)
        asked[2] = {"custom_id": "no-max", "params": {k: v for k, v in MESSAGE.items() if k != "max_tokens"}}
        answer = call("/v1/messages/batches", {"requests": asked}, sim="reads=3, output=2, failures=1")
        self.assertTrue(answer.headers["request-id"].startswith("req_"))
        made = answer.json()
        self.assertTrue(made["id"].startswith("msgbatch_"))
        self.assertEqual({k: made[k] for k in ("type", "processing_status", "request_counts", "ended_at",
                                               "cancel_initiated_at", "archived_at", "results_url")},
                         {"type": "message_batch", "processing_status": "in_progress",
                          "request_counts": {"processing": 3, "succeeded": 0, "errored": 0, "canceled": 0,
                                             "expired": 0},
                          "ended_at": None, "cancel_initiated_at": None, "archived_at": None, "results_url": None})
        created = datetime.fromisoformat(made["created_at"].replace("Z", "+00:00"))
        expires = datetime.fromisoformat(made["expires_at"].replace("Z", "+00:00"))
        self.assertEqual((expires - created).total_seconds(), 86400)
        path = f"/v1/messages/batches/{made['id']}"
        self.assertEqual([read(path)["processing_status"] for _ in range(2)], ["in_progress"] * 2)
        early = call(f"{path}/results")
        self.assertEqual((early.status, early.json()["error"]["type"]), (400, "invalid_request_error"))
        ended = call(path, headers={"Host": "gateway.test:8080"}).json()
        self.assertEqual(ended["processing_status"], "ended")
        self.assertEqual(ended["results_url"], f"http://gateway.test:8080{path}/results")
        self.assertEqual(ended["request_counts"], {"processing": 0, "succeeded": 1, "errored": 2, "canceled": 0,
                                                   "expired": 0})
        self.assertIsNotNone(ended["ended_at"])
        got = results(made["id"])
        self.assertEqual([(r["custom_id"], r["result"]["type"]) for r in got],
                         [("c0", "errored"), ("c1", "succeeded"), ("no-max", "errored")])
        self.assertEqual(got[0]["result"]["error"]["type"], "error")
        self.assertEqual(got[0]["result"]["error"]["error"]["type"], "invalid_request_error")
        self.assertEqual(got[2]["result"]["error"]["error"]["message"], "max_tokens: Field required")
        message = got[1]["result"]["message"]
        single = call("/v1/messages", MESSAGE, sim="output=2").json()
        self.assertEqual((message["type"], message["content"], message["usage"]),
                         ("message", single["content"], single["usage"]))
        self.assertEqual(stats()["jobs"][made["id"]], {"kind": "message_batch", "status": "ended", "reads": 3})

    def test_end_expired_expires_the_second_half_and_a_cancel_cancels_the_rest(self) -> None:
        made = message_batch(requests(4), sim="end=expired, reads=1")
        self.assertEqual(read(f"/v1/messages/batches/{made['id']}")["request_counts"],
                         {"processing": 0, "succeeded": 2, "errored": 0, "canceled": 0, "expired": 2})
        self.assertEqual([r["result"]["type"] for r in results(made["id"])], ["succeeded"] * 2 + ["expired"] * 2)
        made = message_batch(requests(2), sim="reads=9")
        canceling = call(f"/v1/messages/batches/{made['id']}/cancel", {}).json()
        self.assertEqual(canceling["processing_status"], "canceling")
        self.assertIsNotNone(canceling["cancel_initiated_at"])
        ended = read(f"/v1/messages/batches/{made['id']}")
        self.assertEqual((ended["processing_status"], ended["request_counts"]["canceled"]), ("ended", 2))
        self.assertEqual(results(made["id"])[0]["result"], {"type": "canceled"})
        late = call(f"/v1/messages/batches/{made['id']}/cancel", {})
        self.assertEqual((late.status, late.json()["error"]["type"]), (400, "invalid_request_error"))
        told = message_batch(requests(1), sim="end=cancelled, reads=3")
        shown = [read(f"/v1/messages/batches/{told['id']}") for _ in range(3)]
        self.assertEqual([b["processing_status"] for b in shown], ["canceling", "canceling", "ended"])
        self.assertIsNotNone(shown[0]["cancel_initiated_at"])

    def test_a_batch_is_deleted_once_ended_and_listed_newest_first(self) -> None:
        ids = [message_batch(requests(1), sim="reads=1")["id"] for _ in range(3)]
        early = call(f"/v1/messages/batches/{ids[0]}", method="DELETE")
        self.assertEqual((early.status, early.json()["error"]["type"]), (400, "invalid_request_error"))
        listed = read("/v1/messages/batches?limit=2")
        self.assertEqual(([b["id"] for b in listed["data"]], listed["has_more"], listed["first_id"], listed["last_id"]),
                         (ids[::-1][:2], True, ids[2], ids[1]))
        self.assertNotIn("object", listed)
        self.assertEqual([b["id"] for b in read(f"/v1/messages/batches?after_id={ids[1]}&limit=1")["data"]], [ids[0]])
        self.assertEqual([b["id"] for b in read(f"/v1/messages/batches?before_id={ids[0]}&limit=1")["data"]], [ids[1]])
        read(f"/v1/messages/batches/{ids[0]}")
        deleted = call(f"/v1/messages/batches/{ids[0]}", method="DELETE")
        self.assertEqual(deleted.json(), {"id": ids[0], "type": "message_batch_deleted"})
        gone = call(f"/v1/messages/batches/{ids[0]}")
        self.assertEqual((gone.status, gone.json()["type"], gone.json()["error"]["type"]),
                         (404, "error", "not_found_error"))

    def test_a_create_is_checked_as_anthropic_checks_it(self) -> None:
        for body in [{"requests": requests(1) * 2}, {"requests": [{"custom_id": "a b", "params": MESSAGE}]},
                     {"requests": [{"custom_id": "a"}]}, {"requests": []}, {"other": 1}, [1]]:
            answer = call("/v1/messages/batches", body)
            self.assertEqual((answer.status, answer.json()["error"]["type"]), (400, "invalid_request_error"), body)
        broken = call("/v1/messages/batches", headers={"Content-Type": "application/json"}, method="POST")
        self.assertEqual(broken.status, 400)
        self.assertEqual(call("/v1/messages/batches", {"requests": requests(1)}, sim="end=failed").status, 400)
        self.assertEqual(call("/v1/messages/batches", {"requests": requests(1)}, sim="status=529").status, 529)
        self.assertEqual(stats()["jobs"], {}, "none was made")

    def test_a_large_batch_is_read_a_request_at_a_time(self) -> None:
        many = [{"custom_id": f"c{i}", "params": {**MESSAGE, "system": "x " * 300}} for i in range(2000)]
        made = message_batch(many, sim="reads=1, output=1")
        self.assertEqual(made["request_counts"]["processing"], 2000)
        self.assertEqual(stats()["requests"][0]["body"], {"requests": 2000}, "larger than 1 MiB: counted, not kept")
        self.assertEqual(read(f"/v1/messages/batches/{made['id']}")["request_counts"]["succeeded"], 2000)
        got = results(made["id"])
        self.assertEqual([r["custom_id"] for r in got], [f"c{i}" for i in range(2000)])
        small = message_batch(requests(1))
        self.assertEqual(stats()["requests"][-1]["body"], {"requests": requests(1)})
        self.assertTrue(small["id"])


class Videos(Base):
    def test_a_multipart_create_moves_along_to_its_content(self) -> None:
        answer = form("/v1/videos", [("model", None, b"sora-2-pro"), ("prompt", None, b"a red cat"),
                                     ("seconds", None, b"8"), ("size", None, b"1280x720"),
                                     ("input_reference", "ref.png", b"\x89PNG" + bytes(100))], sim="reads=2")
        self.assertEqual(answer.status, 200, answer.raw)
        made = answer.json()
        self.assertTrue(made["id"].startswith("video_"))
        self.assertEqual({k: v for k, v in made.items() if k not in ("id", "created_at")},
                         {"object": "video", "model": "sora-2-pro", "status": "queued", "progress": 0, "seconds": "8",
                          "size": "1280x720", "completed_at": None, "expires_at": None, "error": None,
                          "remixed_from_video_id": None, "prompt": "a red cat"})
        self.assertEqual(stats()["requests"][0]["body"]["input_reference"], {"filename": "ref.png", "bytes": 104})
        path = f"/v1/videos/{made['id']}"
        self.assertEqual(call(f"{path}/content").status, 400)
        running = call(path)
        self.assertEqual((running.json()["status"], running.json()["progress"]), ("in_progress", 50))
        self.assertEqual(running.headers["openai-poll-after-ms"], "10")
        done = read(path)
        self.assertEqual((done["status"], done["progress"]), ("completed", 100))
        self.assertIsNotNone(done["completed_at"])
        video = call(f"{path}/content")
        self.assertEqual((video.status, video.headers["content-type"], video.raw[4:8]), (200, "video/mp4", b"ftyp"))
        self.assertEqual(call(f"{path}/content?variant=thumbnail").json()["error"]["param"], "variant")
        self.assertEqual(call(path, method="DELETE").json(), {"id": made["id"], "object": "video.deleted",
                                                              "deleted": True})
        self.assertEqual(call(path).status, 404)
        self.assertEqual(stats()["jobs"][made["id"]], {"kind": "video", "status": "deleted", "reads": 2})

    def test_a_json_create_takes_the_defaults_and_checks_each_value(self) -> None:
        made = call("/v1/videos", {"prompt": "a dog"}).json()
        self.assertEqual((made["model"], made["seconds"], made["size"]), ("sora-2", "4", "720x1280"))
        for body, param in [({"prompt": "x", "seconds": "5"}, "seconds"), ({"prompt": "x", "size": "1x1"}, "size"),
                            ({"seconds": "4"}, "prompt")]:
            answer = call("/v1/videos", body)
            self.assertEqual((answer.status, answer.json()["error"]["param"]), (400, param), answer.raw)
        self.assertEqual(call("/v1/videos", {"prompt": "x"}, sim="end=expired").status, 400)
        failed = call("/v1/videos", {"prompt": "x"}, sim="end=failed, reads=1").json()
        shown = read(f"/v1/videos/{failed['id']}")
        self.assertEqual((shown["status"], shown["error"]["code"]), ("failed", "video_generation_failed"))
        self.assertEqual(call(f"/v1/videos/{failed['id']}/content").status, 400)
        listed = read("/v1/videos?limit=2")
        self.assertEqual(([v["id"] for v in listed["data"]], listed["object"]), ([failed["id"], made["id"]], "list"))
        oldest_first = [v["id"] for v in read("/v1/videos?order=asc&limit=100")["data"]]
        self.assertLess(oldest_first.index(made["id"]), oldest_first.index(failed["id"]))

    def test_a_video_made_otherwise_reports_what_was_made_and_is_listed_so(self) -> None:
        made = call("/v1/videos", {"prompt": "a cat", "model": "sora-2-pro", "seconds": "8", "size": "1024x1792"},
                    sim="made=sora-2/720x1280/4, reads=1").json()
        shown = read(f"/v1/videos/{made['id']}")
        self.assertEqual((shown["status"], shown["model"], shown["size"], shown["seconds"]),
                         ("completed", "sora-2", "720x1280", "4"))
        kept = call("/v1/videos", {"prompt": "a cat", "seconds": "8"}, sim="made=//12").json()
        self.assertEqual((kept["model"], kept["size"], kept["seconds"]), ("sora-2", "720x1280", "12"))
        listed = [v for v in read("/v1/videos?limit=100")["data"] if v["id"] == made["id"]]
        self.assertEqual(listed[0]["model"], "sora-2")
        self.assertEqual(call("/v1/videos", {"prompt": "x"}, sim="made=sora-2").status, 400)

    def test_a_jobs_reads_wait_as_its_create_asked_and_its_list_does_not(self) -> None:
        made = call("/v1/videos", {"prompt": "a cat"}, sim="read_stall=300, reads=1").json()
        started = time.monotonic()
        self.assertEqual(read("/v1/videos?limit=1")["data"][0]["id"], made["id"])
        listed = time.monotonic() - started
        self.assertEqual(read(f"/v1/videos/{made['id']}")["status"], "completed")
        self.assertGreater(time.monotonic() - started - listed, 0.25)

    def test_a_batchs_metadata_is_kept_and_listed(self) -> None:
        marked = batch(chat_lines(1), metadata={"quota_gateway_hold": "res_1"})
        listed = read("/v1/batches?limit=100")["data"]
        self.assertEqual([b["metadata"] for b in listed if b["id"] == marked["id"]], [{"quota_gateway_hold": "res_1"}])



# ---------------------------------------------------------------------------------------------
# The jobs driven by the official clients, as the gateway's tests drive them: here when this
# interpreter has them, else in one that has (the Python SDK's virtualenv, or $SIM_SDK_PYTHON).

try:
    import anthropic
    import openai
except ImportError:
    anthropic = openai = None  # type: ignore[assignment]


def sdk_python() -> Optional[str]:
    """An interpreter with the official clients: $SIM_SDK_PYTHON, else the virtualenv that
    sdk/python/run-tests makes (target/py-sdk-venv)."""
    given = os.environ.get("SIM_SDK_PYTHON")
    if given:
        return given
    repo = os.path.dirname(os.path.dirname(os.path.dirname(SIM)))
    venv = os.path.join(repo, "target", "py-sdk-venv", "bin", "python")
    return venv if os.access(venv, os.X_OK) else None


@unittest.skipIf(openai is None or anthropic is None, "the official clients are not importable here")
class Clients(Base):
    def setUp(self) -> None:
        super().setUp()
        # The client marks its video methods deprecated (the Sora API's end is announced).
        warnings.simplefilter("ignore", DeprecationWarning)
        self.openai = openai.OpenAI(api_key=KEY, base_url=f"http://127.0.0.1:{port}/v1", max_retries=0)
        self.anthropic = anthropic.Anthropic(api_key=KEY, base_url=f"http://127.0.0.1:{port}", max_retries=0)

    def test_openai_files_and_a_batch_polled_to_its_end(self) -> None:
        client = self.openai
        data = jsonl(chat_lines(3))
        uploaded = client.files.create(file=("input.jsonl", io.BytesIO(data)), purpose="batch")
        self.assertEqual((uploaded.bytes, uploaded.purpose, uploaded.status), (len(data), "batch", "processed"))
        self.assertEqual(client.files.content(uploaded.id).content, data)
        made = client.batches.create(input_file_id=uploaded.id, endpoint="/v1/chat/completions",
                                     completion_window="24h", metadata={"run": "one"},
                                     extra_headers={"x-sim": "failures=1, reads=3"})
        self.assertEqual((made.status, made.metadata), ("validating", {"run": "one"}))
        seen, found = [], made
        while found.status not in ("completed", "failed", "expired", "cancelled"):
            found = client.batches.retrieve(made.id)
            seen.append(found.status)
        self.assertEqual(seen, ["in_progress", "finalizing", "completed"])
        assert found.request_counts is not None and found.usage is not None
        self.assertEqual((found.request_counts.total, found.request_counts.completed, found.request_counts.failed),
                         (3, 2, 1))
        answered = [json.loads(line) for line in client.files.content(found.output_file_id or "").text.splitlines()]
        self.assertEqual(sum(a["response"]["body"]["usage"]["total_tokens"] for a in answered),
                         found.usage.total_tokens)
        failed = client.files.content(found.error_file_id or "").text.splitlines()
        self.assertEqual(json.loads(failed[0])["response"]["status_code"], 400)
        self.assertEqual(stats()["jobs"][made.id]["reads"], 3)
        self.assertIn(made.id, [b.id for b in client.batches.list(limit=5).data])
        other = client.batches.create(input_file_id=uploaded.id, endpoint="/v1/chat/completions",
                                      completion_window="24h", extra_headers={"x-sim": "reads=5"})
        self.assertEqual(client.batches.cancel(other.id).status, "cancelling")
        self.assertEqual(client.batches.retrieve(other.id).status, "cancelled")
        with self.assertRaises(openai.ConflictError):
            client.batches.cancel(other.id)
        self.assertTrue(client.files.delete(uploaded.id).deleted)
        with self.assertRaises(openai.NotFoundError):
            client.files.retrieve(uploaded.id)
        with self.assertRaises(openai.BadRequestError) as caught:
            client.batches.create(input_file_id=uploaded.id, endpoint="/v1/chat/completions", completion_window="24h")
        self.assertEqual(caught.exception.param, "input_file_id")

    def test_openai_videos_created_as_a_form_polled_and_downloaded(self) -> None:
        client = self.openai
        reference = ("ref.png", io.BytesIO(b"\x89PNG" + bytes(60)), "image/png")
        video = client.videos.create_and_poll(prompt="a red cat", seconds="8", size="1280x720",
                                              input_reference=reference, extra_headers={"x-sim": "reads=3"})
        self.assertEqual((video.status, video.progress, video.seconds, video.size), ("completed", 100, "8", "1280x720"))
        made = stats()["requests"][0]
        self.assertTrue(made["headers"]["content-type"].startswith("multipart/form-data"))
        self.assertEqual(made["body"]["input_reference"], {"filename": "ref.png", "bytes": 64})
        self.assertEqual(stats()["jobs"][video.id]["reads"], 3)
        self.assertEqual(client.videos.download_content(video.id).content[4:8], b"ftyp")
        failed = client.videos.create_and_poll(prompt="a dog", extra_headers={"x-sim": "end=failed"})
        assert failed.error is not None
        self.assertEqual((failed.status, failed.error.code), ("failed", "video_generation_failed"))
        self.assertEqual([v.id for v in client.videos.list(limit=2).data], [failed.id, video.id])
        with self.assertRaises(openai.BadRequestError) as caught:
            client.videos.create(prompt="a cat", seconds="5")  # type: ignore[arg-type]
        self.assertEqual(caught.exception.param, "seconds")
        self.assertTrue(client.videos.delete(video.id).deleted)
        with self.assertRaises(openai.NotFoundError):
            client.videos.retrieve(video.id)

    def test_anthropic_message_batches_polled_their_results_streamed_cancelled_deleted(self) -> None:
        client = self.anthropic
        made = client.messages.batches.create(requests=[{"custom_id": f"c{i}", "params": MESSAGE} for i in range(4)],
                                              extra_headers={"x-sim": "end=expired, failures=1, output=3"})
        self.assertEqual(made.processing_status, "in_progress")
        found = made
        while found.processing_status != "ended":
            found = client.messages.batches.retrieve(made.id)
        counts = found.request_counts
        self.assertEqual((counts.processing, counts.succeeded, counts.errored, counts.canceled, counts.expired),
                         (0, 1, 1, 0, 2))
        got = list(client.messages.batches.results(made.id))
        self.assertEqual([(r.custom_id, r.result.type) for r in got],
                         [("c0", "errored"), ("c1", "succeeded"), ("c2", "expired"), ("c3", "expired")])
        self.assertEqual(got[1].result.message.usage.output_tokens, 3)  # type: ignore[union-attr]
        self.assertEqual(got[0].result.error.error.type, "invalid_request_error")  # type: ignore[union-attr]
        self.assertEqual(stats()["jobs"][made.id]["reads"], 3, "two to its end, one more by results()")
        other = client.messages.batches.create(requests=[{"custom_id": "only", "params": MESSAGE}],
                                               extra_headers={"x-sim": "reads=9"})
        self.assertEqual(client.messages.batches.cancel(other.id).processing_status, "canceling")
        self.assertEqual(client.messages.batches.retrieve(other.id).processing_status, "ended")
        self.assertEqual([r.result.type for r in client.messages.batches.results(other.id)], ["canceled"])
        with self.assertRaises(anthropic.BadRequestError):
            client.messages.batches.cancel(other.id)
        self.assertEqual([b.id for b in client.messages.batches.list(limit=2).data], [other.id, made.id])
        self.assertEqual(client.messages.batches.delete(made.id).type, "message_batch_deleted")
        with self.assertRaises(anthropic.NotFoundError):
            client.messages.batches.retrieve(made.id)


class ClientsElsewhere(unittest.TestCase):
    def test_the_official_clients_in_an_interpreter_that_has_them(self) -> None:
        if openai is not None and anthropic is not None:
            self.skipTest("this interpreter has them: Clients runs here")
        python = sdk_python()
        if python is None:
            self.skipTest("no interpreter with openai and anthropic (set SIM_SDK_PYTHON, or make target/py-sdk-venv)")
        run = subprocess.run([python, os.path.abspath(__file__), "Clients"], capture_output=True, text=True,
                             timeout=120)
        self.assertEqual(run.returncode, 0, run.stderr[-4000:])
        self.assertNotIn("skipped", run.stderr, f"{python} has not both clients")


class CloudsWithTheStandardLibrary(unittest.TestCase):
    def test_the_simulator_starts_without_site_packages_and_a_signed_bedrock_call_says_botocore_is_needed(self) -> None:
        sim = subprocess.Popen([sys.executable, "-S", SIM, "--aws-key", "AKID:SECRET"], stdout=subprocess.PIPE, text=True)
        try:
            assert sim.stdout is not None
            at = int(sim.stdout.readline().strip().rsplit(":", 1)[1])
            now = time.gmtime()
            signed = {"Authorization": f"AWS4-HMAC-SHA256 Credential=AKID/{time.strftime('%Y%m%d', now)}/us-east-1/"
                                       "bedrock/aws4_request, SignedHeaders=host;x-amz-date, Signature=00",
                      "x-amz-date": time.strftime("%Y%m%dT%H%M%SZ", now), "Content-Type": "application/json"}
            connection = http.client.HTTPConnection("127.0.0.1", at, timeout=10)
            connection.request("POST", "/model/anthropic.claude-x/converse", b'{"messages": []}', signed)
            answer = connection.getresponse()
            self.assertEqual(answer.status, 500)
            self.assertTrue((answer.getheader("x-amzn-ErrorType") or "").startswith("InternalServerException:"))
            self.assertIn("botocore", json.loads(answer.read())["message"])
            connection.close()
        finally:
            sim.terminate()
            sim.wait(5)
            if sim.stdout is not None:
                sim.stdout.close()


class CloudsElsewhere(unittest.TestCase):
    """test_clouds.py (Azure OpenAI, Bedrock, Vertex AI and the rest of Google's and OpenAI's
    surface, through their official clients), test_realtime.py and test_live.py in an
    interpreter that has those clients."""

    def test_the_clouds_through_their_official_clients(self) -> None:
        wanted = "import anthropic, boto3, google.genai, openai"
        here = subprocess.run([sys.executable, "-c", wanted], capture_output=True, timeout=60).returncode == 0
        python = sys.executable if here else sdk_python()
        if python is None or (not here and subprocess.run([python, "-c", wanted], capture_output=True,
                                                          timeout=60).returncode != 0):
            self.skipTest("no interpreter with openai, anthropic, boto3 and google-genai (set SIM_SDK_PYTHON, "
                          "or make target/py-sdk-venv)")
        # The clouds, then the realtime protocols (OpenAI's Realtime API, Gemini's Live API).
        for name in ("test_clouds.py", "test_realtime.py", "test_live.py"):
            with self.subTest(name):
                run = subprocess.run([python, os.path.join(os.path.dirname(SIM), name)], capture_output=True,
                                     text=True, timeout=300)
                self.assertEqual(run.returncode, 0, run.stderr[-4000:])
                self.assertNotIn("skipped", run.stderr, f"{python} ran none of {name}'s checks")


if __name__ == "__main__":
    unittest.main()
