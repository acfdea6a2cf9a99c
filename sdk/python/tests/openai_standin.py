"""A loopback stand-in for OpenAI's API, speaking its wire format faithfully enough for the real
`openai` client: chat completions (`POST /v1/chat/completions`) as JSON or as a server-sent
event stream, whose usage chunk (no choices) comes only when `stream_options.include_usage`
is set, and the Responses API (`POST /v1/responses`) as JSON or as its event stream, ending in
`response.completed` with the usage. Usage counts the prompt as OpenAI does, near enough: a
token per four characters of every text, plus 3 per message and 3 for the reply.

The reply is "Hello!" in three tokens ("Hel", "lo", "!"), for each of `n` choices, cut at the
request's maximum (`finish_reason` "length"). The model's name picks a behaviour:

- `broken`: the stream (or the JSON) is cut off midway, as a dropped connection would;
- `slow`: 0.2 s between the stream's events, 1 s before a JSON answer;
- `error-<status>`: that status with OpenAI's error body;
- `overrun`: usage reports 5,000 completion tokens, more than any maximum asked;
- `long-<k>`: a reply of k tokens (at most the request's maximum).
"""

from __future__ import annotations

import json
import math
import re
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Dict, Iterator, List, Optional, Tuple

WORDS = ["Hel", "lo", "!"]
SLOW_SECONDS = 0.2
OVERRUN_TOKENS = 5_000
ERROR_KINDS = {400: ("invalid_request_error", "invalid_value"), 401: ("invalid_request_error", "invalid_api_key"),
               429: ("rate_limit_error", "rate_limit_exceeded"), 500: ("server_error", "server_error"),
               503: ("server_error", "service_unavailable")}


def tokens(text: str) -> int:
    return math.ceil(len(text) / 4)


def texts(value: Any) -> Iterator[str]:
    """The texts of a message's content (a string, or parts), or of an input item."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, list):
        for part in value:
            yield from texts(part)
    elif isinstance(value, dict):
        for key in ("text", "content", "arguments", "output"):
            if key in value:
                yield from texts(value[key])


def prompt_tokens(body: Dict[str, Any]) -> int:
    if "messages" in body:
        items: List[Any] = list(body["messages"])
    else:
        given = body.get("input")
        items = [given] if isinstance(given, str) else list(given or [])
        if body.get("instructions"):
            items.append(body["instructions"])
    count = 3 + sum(3 + sum(tokens(t) for t in texts(item)) for item in items)
    if body.get("tools"):
        count += tokens(json.dumps(body["tools"]))
    return count


def reply(body: Dict[str, Any]) -> Tuple[List[str], str]:
    """The reply's tokens and why it ended."""
    model = str(body.get("model", ""))
    found = re.fullmatch(r"long-(\d+)", model)
    words = [f"w{i} " for i in range(int(found.group(1)))] if found else list(WORDS)
    limit = body.get("max_completion_tokens") or body.get("max_tokens") or body.get("max_output_tokens")
    if isinstance(limit, int) and limit < len(words):
        return words[:limit], "length"
    return words, "stop"


class OpenAIStandIn:
    def __init__(self) -> None:
        self.requests: List[Dict[str, Any]] = []
        # Streams whose every event was written (a client that hung up stops a stream).
        self.finished_streams = 0
        stand_in = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *_args: object) -> None:
                pass

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)))
                stand_in.requests.append(body)
                model = str(body.get("model", ""))
                failing = re.fullmatch(r"error-(\d+)", model)
                try:
                    if failing:
                        self._error(int(failing.group(1)))
                    elif self.path.endswith("/chat/completions"):
                        self._chat(body, model)
                    elif self.path.endswith("/responses"):
                        self._responses(body, model)
                    else:
                        self._error(404)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client hung up: the provider stops

            def _error(self, status: int) -> None:
                kind, code = ERROR_KINDS.get(status, ("invalid_request_error", None))
                data = json.dumps({"error": {"message": f"the stand-in answers {status}", "type": kind,
                                             "param": None, "code": code}}).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.send_header("Connection", "close")
                self.end_headers()
                self.wfile.write(data)

            def _usage(self, body: Dict[str, Any], completion: int, responses: bool) -> Dict[str, Any]:
                prompt = prompt_tokens(body)
                if responses:
                    return {"input_tokens": prompt, "output_tokens": completion, "total_tokens": prompt + completion,
                            "input_tokens_details": {"cached_tokens": 0},
                            "output_tokens_details": {"reasoning_tokens": 0}}
                return {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion,
                        "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
                        "completion_tokens_details": {"reasoning_tokens": 0, "audio_tokens": 0,
                                                      "accepted_prediction_tokens": 0,
                                                      "rejected_prediction_tokens": 0}}

            def _chat(self, body: Dict[str, Any], model: str) -> None:
                words, finish = reply(body)
                n = int(body.get("n") or 1)
                completion = OVERRUN_TOKENS if model == "overrun" else len(words) * n
                usage = self._usage(body, completion, responses=False)
                if not body.get("stream"):
                    choices = [{"index": i, "finish_reason": finish, "logprobs": None,
                                "message": {"role": "assistant", "content": "".join(words), "refusal": None}}
                               for i in range(n)]
                    self._json({"id": "chatcmpl-1", "object": "chat.completion", "created": 1, "model": model,
                                "choices": choices, "usage": usage, "system_fingerprint": "fp_standin"}, model)
                    return

                def chunk(choices: List[Dict[str, Any]], with_usage: Any = None) -> Dict[str, Any]:
                    found = {"id": "chatcmpl-1", "object": "chat.completion.chunk", "created": 1, "model": model,
                             "system_fingerprint": "fp_standin", "choices": choices}
                    if include:
                        found["usage"] = with_usage
                    return found

                include = bool((body.get("stream_options") or {}).get("include_usage"))
                events = [chunk([{"index": i, "delta": {"role": "assistant", "content": ""}, "finish_reason": None}
                                 for i in range(n)])]
                events += [chunk([{"index": i, "delta": {"content": w}, "finish_reason": None}])
                           for w in words for i in range(n)]
                events.append(chunk([{"index": i, "delta": {}, "finish_reason": finish} for i in range(n)]))
                if include:
                    events.append(chunk([], usage))
                self._stream([(None, e) for e in events], model, done=True)

            def _responses(self, body: Dict[str, Any], model: str) -> None:
                words, finish = reply(body)
                completion = OVERRUN_TOKENS if model == "overrun" else len(words)
                text = "".join(words)
                part = {"type": "output_text", "text": text, "annotations": [], "logprobs": []}
                item = {"type": "message", "id": "msg_1", "status": "completed", "role": "assistant",
                        "content": [part]}
                status = "completed" if finish == "stop" else "incomplete"
                done = {"id": "resp_1", "object": "response", "created_at": 1, "status": status, "model": model,
                        "output": [item], "parallel_tool_calls": True, "tool_choice": "auto", "tools": [],
                        "error": None, "instructions": body.get("instructions"), "metadata": {},
                        "incomplete_details": None if status == "completed" else {"reason": "max_output_tokens"},
                        "max_output_tokens": body.get("max_output_tokens"), "temperature": 1.0, "top_p": 1.0,
                        "text": {"format": {"type": "text"}}, "truncation": "disabled",
                        "usage": self._usage(body, completion, responses=True)}
                if not body.get("stream"):
                    self._json(done, model)
                    return
                running = {**done, "status": "in_progress", "output": [], "usage": None}
                started = {**item, "status": "in_progress", "content": []}
                events: List[Tuple[Optional[str], Dict[str, Any]]] = [
                    ("response.created", {"response": running}),
                    ("response.in_progress", {"response": running}),
                    ("response.output_item.added", {"output_index": 0, "item": started}),
                    ("response.content_part.added", {"item_id": "msg_1", "output_index": 0, "content_index": 0,
                                                     "part": {**part, "text": ""}}),
                ]
                events += [("response.output_text.delta", {"item_id": "msg_1", "output_index": 0,
                                                           "content_index": 0, "delta": w, "logprobs": []})
                           for w in words]
                events += [
                    ("response.output_text.done", {"item_id": "msg_1", "output_index": 0, "content_index": 0,
                                                   "text": text, "logprobs": []}),
                    ("response.content_part.done", {"item_id": "msg_1", "output_index": 0, "content_index": 0,
                                                    "part": part}),
                    ("response.output_item.done", {"output_index": 0, "item": item}),
                    (f"response.{status}", {"response": done}),
                ]
                numbered = [(name, {"type": name, "sequence_number": i, **data})
                            for i, (name, data) in enumerate(events)]
                self._stream(numbered, model, done=False)

            def _json(self, answer: Dict[str, Any], model: str) -> None:
                if model == "slow":
                    time.sleep(5 * SLOW_SECONDS)
                data = json.dumps(answer).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.send_header("Connection", "close")
                self.end_headers()
                # A broken answer: its length promised, half of it sent.
                self.wfile.write(data[: len(data) // 2] if model == "broken" else data)
                self.wfile.flush()
                self.close_connection = True

            def _stream(self, events: List[Tuple[Optional[str], Dict[str, Any]]], model: str, done: bool) -> None:
                """Server-sent events, one chunk of the chunked body each; `broken` hangs up
                midway, without the body's last chunk."""
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream; charset=utf-8")
                self.send_header("Transfer-Encoding", "chunked")
                self.send_header("Connection", "close")
                self.end_headers()
                self.close_connection = True
                frames = [(f"event: {name}\n" if name else "") + f"data: {json.dumps(data)}\n\n"
                          for name, data in events]
                if done:
                    frames.append("data: [DONE]\n\n")
                if model == "broken":
                    frames = frames[: len(frames) // 2]
                for frame in frames:
                    if model == "slow":
                        time.sleep(SLOW_SECONDS)
                    data = frame.encode()
                    self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
                    self.wfile.flush()
                if model == "broken":
                    return
                self.wfile.write(b"0\r\n\r\n")
                self.wfile.flush()
                stand_in.finished_streams += 1

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/v1"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
