"""A loopback HTTP stand-in in front of the gateway: forwards each request (optionally holding
the answer back), or answers for it as a failing proxy would, and records what it saw."""

from __future__ import annotations

import http.client
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Callable, Dict, List, Optional, Union
from urllib.parse import urlsplit

MAX_DELAY = 5.0


@dataclass(frozen=True)
class Forward:
    """Send it on to the gateway, and hold its answer back `delay` seconds; with `drop`, close
    the connection instead of answering (the call ran, its answer is lost)."""

    delay: float = 0.0
    drop: bool = False


@dataclass(frozen=True)
class Answer:
    status: int
    body: bytes = b""
    headers: Dict[str, str] = field(default_factory=dict)


Action = Union[Forward, Answer]


@dataclass(frozen=True)
class Seen:
    method: str
    path: str
    headers: Dict[str, str]
    body: bytes


class StandIn:
    def __init__(self, upstream: Optional[str], behave: Callable[[int, Seen], Action]) -> None:
        self.seen: List[Seen] = []
        # When each request arrived (time.monotonic), in the order of `seen`.
        self.times: List[float] = []
        self.behave = behave
        target = urlsplit(upstream) if upstream else None
        lock = threading.Lock()
        stand_in = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *_args: object) -> None:
                pass

            def _any(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                seen = Seen(self.command, self.path, {k.lower(): v for k, v in self.headers.items()},
                            self.rfile.read(length) if length else b"")
                with lock:
                    n = len(stand_in.seen)
                    stand_in.seen.append(seen)
                    stand_in.times.append(time.monotonic())
                action = stand_in.behave(n, seen)
                try:
                    if isinstance(action, Answer):
                        self._send(action.status, action.headers, action.body)
                        return
                    assert target is not None and target.hostname and target.port
                    upstream = http.client.HTTPConnection(target.hostname, target.port, timeout=10)
                    headers = {k: v for k, v in seen.headers.items() if k not in ("host", "connection")}
                    upstream.request(seen.method, seen.path, body=seen.body or None, headers=headers)
                    reply = upstream.getresponse()
                    body = reply.read()
                    upstream.close()
                    time.sleep(min(action.delay, MAX_DELAY))
                    if action.drop:
                        self.close_connection = True
                        return
                    passed = {k: v for k, v in reply.getheaders()
                              if k.lower() not in ("content-length", "connection", "transfer-encoding")}
                    self._send(reply.status, passed, body)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up on this attempt

            def _send(self, status: int, headers: Dict[str, str], body: bytes) -> None:
                self.send_response(status)
                for k, v in headers.items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(body)))
                self.send_header("Connection", "close")
                self.end_headers()
                self.wfile.write(body)

            do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = _any

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def keys(self) -> List[Optional[str]]:
        return [s.headers.get("idempotency-key") for s in self.seen]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def __enter__(self) -> StandIn:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()
