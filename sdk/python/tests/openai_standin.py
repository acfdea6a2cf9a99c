"""A loopback stand-in for the OpenAI chat completions API, speaking its wire format: a JSON
completion, or a server-sent event stream (with a usage chunk when asked for one). The model
`broken` cuts its stream off midway, as a dropped connection would."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Dict, List

USAGE = {"prompt_tokens": 10, "completion_tokens": 7, "total_tokens": 17}
WORDS = ["Hel", "lo", "!"]


def _chunk(model: str, choices: List[Dict[str, Any]], usage: Any = None) -> bytes:
    body = {"id": "chatcmpl-1", "object": "chat.completion.chunk", "created": 1, "model": model,
            "choices": choices, "usage": usage}
    return b"data: " + json.dumps(body).encode() + b"\n\n"


def _stream(model: str, include_usage: bool) -> bytes:
    events = [_chunk(model, [{"index": 0, "delta": {"role": "assistant", "content": w}, "finish_reason": None}])
              for w in WORDS]
    events.append(_chunk(model, [{"index": 0, "delta": {}, "finish_reason": "stop"}]))
    if include_usage:
        events.append(_chunk(model, [], USAGE))
    return b"".join(events) + b"data: [DONE]\n\n"


class OpenAIStandIn:
    def __init__(self) -> None:
        self.requests: List[Dict[str, Any]] = []
        stand_in = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *_args: object) -> None:
                pass

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)))
                stand_in.requests.append(body)
                model = body.get("model", "")
                if not body.get("stream"):
                    answer = {"id": "chatcmpl-1", "object": "chat.completion", "created": 1, "model": model,
                              "choices": [{"index": 0, "finish_reason": "stop",
                                           "message": {"role": "assistant", "content": "".join(WORDS)}}],
                              "usage": USAGE}
                    self._send("application/json", json.dumps(answer).encode())
                    return
                include = bool((body.get("stream_options") or {}).get("include_usage"))
                data = _stream(model, include)
                if model == "broken":
                    # Promise the whole stream, send a third of it, hang up.
                    self._send("text/event-stream", data[: len(data) // 3], length=len(data))
                    self.close_connection = True
                    return
                self._send("text/event-stream", data)

            def _send(self, kind: str, data: bytes, length: int = -1) -> None:
                self.send_response(200)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(data) if length < 0 else length))
                self.send_header("Connection", "close")
                self.end_headers()
                self.wfile.write(data)
                self.wfile.flush()

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/v1"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
