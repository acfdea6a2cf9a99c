#!/usr/bin/env python3
"""The proxy's cost, measured side by side in one run: the same client sends the same chat
call to the provider simulator directly and through the gateway, alternating, one at a time on
kept-alive connections, and reports the latency of each (median and p99) and what the gateway
adds; likewise the time to a stream's first event, and a Realtime API response's to its first
audio frame (a WebSocket session each way, opened once). Then it opens `--streams` streams
through the gateway at once and reads the gateway's resident memory while all are open; and
likewise with realtime sessions open.
Standard library only (the WebSocket's client side written here, RFC 6455); loopback only;
every loop bounded in count and time."""

import argparse
import base64
import hashlib
import http.client
import json
import os
import socket
import statistics
import struct
import subprocess
import threading
import time
import urllib.parse
from typing import Callable, Dict, List, Tuple

CHAT = {"model": "gpt-4o-mini", "max_tokens": 16,
        "messages": [{"role": "user", "content": "Say hello to the world in five words"}]}
# The same call in Gemini's shape; its stream is asked for as server-sent events, as Google's
# clients ask for it.
GENERATE = {"contents": [{"role": "user", "parts": [{"text": "Say hello to the world in five words"}]}],
            "generationConfig": {"maxOutputTokens": 16}}
GEMINI_PATH = "/v1beta/models/gemini-2.0-flash"
# And in Bedrock's Converse shape, the model id percent-encoded as AWS's clients write it.
CONVERSE = {"messages": [{"role": "user", "content": [{"text": "Say hello to the world in five words"}]}],
            "inferenceConfig": {"maxTokens": 16}}
BEDROCK_PATH = "/model/anthropic.claude-haiku-4-5-20251001-v1%3A0"
# And Gemini on Vertex AI, at a project's location.
VERTEX_PATH = "/v1beta1/projects/bench/locations/us-central1/publishers/google/models/gemini-2.0-flash"


class Shape:
    """One wire format's call: its path, whole or streamed, and its body."""

    def __init__(self, path: str, stream_path: str, body: dict, stream_field: bool, long: dict):
        self.path, self.stream_path, self.body, self.stream_field = path, stream_path, body, stream_field
        self.long = long

    def request(self, stream: bool, long: bool = False) -> Tuple[str, bytes]:
        """The call; `long` lets a stream run to 60 tokens, so it stays open while memory is read."""
        body = dict(self.body, **self.long) if long else self.body
        body = dict(body, stream=True) if stream and self.stream_field else body
        return (self.stream_path if stream else self.path), json.dumps(body).encode()


OPENAI = Shape("/v1/chat/completions", "/v1/chat/completions", CHAT, True, {"max_tokens": 60})
GEMINI = Shape(GEMINI_PATH + ":generateContent", GEMINI_PATH + ":streamGenerateContent?alt=sse", GENERATE, False,
               {"generationConfig": {"maxOutputTokens": 60}})
BEDROCK = Shape(BEDROCK_PATH + "/converse", BEDROCK_PATH + "/converse-stream", CONVERSE, False,
                {"inferenceConfig": {"maxTokens": 60}})
VERTEX = Shape(VERTEX_PATH + ":generateContent", VERTEX_PATH + ":streamGenerateContent?alt=sse", GENERATE, False,
               {"generationConfig": {"maxOutputTokens": 60}})


# A realtime turn: a user's text message, then a response asked for in audio.
REALTIME_PATH = "/v1/realtime?model=gpt-realtime"
REALTIME_ITEM = {"type": "conversation.item.create",
                 "item": {"type": "message", "role": "user",
                          "content": [{"type": "input_text", "text": "Say hello to the world in five words"}]}}
REALTIME_RESPONSE = {"type": "response.create", "response": {"output_modalities": ["audio"]}}
# Realtime sessions open at once for the memory reading, at most.
REALTIME_SESSIONS = 200
# The error of a `response.create` while a response is active.
BUSY = "conversation_already_has_active_response"
WS_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
# Bounds on what one read may take: frames to a message, events to the one awaited, a message's bytes.
WS_FRAMES, WS_EVENTS, WS_BYTES = 1000, 10000, 16 << 20


def minted_token(port: int, pem: str) -> str:
    """An access token of the simulator's, for the direct calls: the JWT-bearer grant, its RS256
    signature made by `openssl`, as the gateway makes its own."""
    def b64(raw: bytes) -> str:
        return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()
    now = int(time.time())
    claims = {"iss": "bench@quota-gateway.iam.gserviceaccount.com", "aud": f"http://127.0.0.1:{port}/token",
              "scope": "https://www.googleapis.com/auth/cloud-platform", "iat": now, "exp": now + 3600}
    signed = b64(json.dumps({"alg": "RS256", "typ": "JWT"}).encode()) + "." + b64(json.dumps(claims).encode())
    signature = subprocess.run(["openssl", "dgst", "-sha256", "-sign", pem], input=signed.encode(),
                               capture_output=True, check=True, timeout=30).stdout
    form = urllib.parse.urlencode({"grant_type": "urn:ietf:params:oauth:grant-type:jwt-bearer",
                                   "assertion": signed + "." + b64(signature)})
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    c.request("POST", "/token", body=form, headers={"Content-Type": "application/x-www-form-urlencoded"})
    answer = c.getresponse()
    if answer.status != 200:
        raise SystemExit(f"proxy-bench: the simulator minted no token ({answer.status})")
    return json.loads(answer.read())["access_token"]


def percentile(values: List[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


class Target:
    """One kept-alive connection to a host, and the path prefix and headers of its calls."""

    def __init__(self, port: int, prefix: str, headers: Dict[str, str]):
        self.port, self.prefix, self.headers = port, prefix, headers
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)

    def call(self, path: str, body: bytes, first_byte: bool) -> float:
        started = time.perf_counter()
        self.conn.request("POST", self.prefix + path, body=body, headers=self.headers)
        res = self.conn.getresponse()
        if first_byte:
            res.read1(1)
            took = time.perf_counter() - started
            res.read()
        else:
            res.read()
            took = time.perf_counter() - started
        if res.status != 200:
            raise SystemExit(f"proxy-bench: {self.prefix or 'direct'} answered {res.status}")
        return took


def side_by_side(direct: Target, proxied: Target, shape: Shape, calls: int, stream: bool) -> Tuple[List[float], List[float]]:
    path, raw = shape.request(stream)
    for _ in range(min(200, calls)):
        direct.call(path, raw, stream)
        proxied.call(path, raw, stream)
    a, b = [], []
    for i in range(calls):
        # Alternating, and which goes first alternating too: neither gets a warmer moment.
        if i % 2 == 0:
            a.append(direct.call(path, raw, stream))
            b.append(proxied.call(path, raw, stream))
        else:
            b.append(proxied.call(path, raw, stream))
            a.append(direct.call(path, raw, stream))
    return a, b


class WebSocket:
    """The client side of RFC 6455, as much as a realtime session needs: the opening handshake,
    masked text frames out, unmasked frames in (fragments joined, pings answered), the close."""

    def __init__(self, port: int, path: str, headers: Dict[str, str], timeout: float = 30):
        key = base64.b64encode(os.urandom(16)).decode()
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        head = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
        self.sock.sendall((f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n"
                           f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
                           f"{head}\r\n").encode())
        data = b""
        while b"\r\n\r\n" not in data and len(data) < 65536:
            more = self.sock.recv(65536)
            if not more:
                break
            data += more
        answer, _, rest = data.partition(b"\r\n\r\n")
        lines = answer.decode("latin-1").split("\r\n")
        fields = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
        accept = base64.b64encode(hashlib.sha1((key + WS_GUID).encode()).digest()).decode()
        if not lines[0].startswith("HTTP/1.1 101 ") or fields.get("sec-websocket-accept") != accept:
            self.sock.close()
            raise SystemExit(f"proxy-bench: {path} on port {port} did not open a WebSocket: {lines[0]!r} "
                             f"{rest[:300]!r}")
        self.held = bytearray(rest)

    def frame(self, op: int, payload: bytes) -> None:
        size = len(payload)
        if size < 126:
            head = struct.pack(">BB", 0x80 | op, 0x80 | size)
        elif size < 1 << 16:
            head = struct.pack(">BBH", 0x80 | op, 0x80 | 126, size)
        else:
            head = struct.pack(">BBQ", 0x80 | op, 0x80 | 127, size)
        mask = os.urandom(4)
        repeated = (mask * (size // 4 + 1))[:size]
        masked = (int.from_bytes(payload, "little") ^ int.from_bytes(repeated, "little")).to_bytes(size, "little")
        self.sock.sendall(head + mask + masked)

    def send(self, event: dict) -> None:
        self.frame(0x1, json.dumps(event).encode())

    def need(self, size: int) -> bytes:
        while len(self.held) < size:
            more = self.sock.recv(max(65536, size - len(self.held)))
            if not more:
                raise ConnectionError("the connection ended")
            self.held += more
        found = bytes(self.held[:size])
        del self.held[:size]
        return found

    def recv(self) -> dict:
        """The next message, read as one JSON event; a close frame is a ConnectionError."""
        message = bytearray()
        for _ in range(WS_FRAMES):
            first, second = self.need(2)
            if second & 0x80:
                raise SystemExit("proxy-bench: a server's WebSocket frame came masked")
            size = second & 0x7F
            if size == 126:
                size = struct.unpack(">H", self.need(2))[0]
            elif size == 127:
                size = struct.unpack(">Q", self.need(8))[0]
            if size + len(message) > WS_BYTES:
                raise SystemExit(f"proxy-bench: a WebSocket message over {WS_BYTES} bytes")
            payload, op = self.need(size), first & 0x0F
            if op == 0x9:
                self.frame(0xA, payload)
            elif op == 0x8:
                code = struct.unpack(">H", payload[:2])[0] if len(payload) >= 2 else None
                raise ConnectionError(f"closed by the server ({code}: {payload[2:].decode(errors='replace')})")
            elif op != 0xA:
                message += payload
                if first & 0x80:
                    return json.loads(message)
        raise SystemExit(f"proxy-bench: a WebSocket message of over {WS_FRAMES} frames")

    def until(self, kind: str, deadline: float, busy: bool = False) -> dict:
        """Reads events up to the first of type `kind`; an `error` event ends the benchmark, but
        with `busy` the one saying a response is still active is answered."""
        for _ in range(WS_EVENTS):
            event = self.recv()
            if event.get("type") == kind:
                return event
            if busy and (event.get("error") or {}).get("code") == BUSY:
                return event
            if event.get("type") == "error":
                raise SystemExit(f"proxy-bench: a realtime error while awaiting {kind}: {event.get('error')}")
            if time.monotonic() > deadline:
                break
        raise SystemExit(f"proxy-bench: no {kind} in time")

    def close_begin(self) -> None:
        try:
            self.frame(0x8, struct.pack(">H", 1000))
        except OSError:
            pass

    def close_end(self, deadline: float) -> None:
        """Reads to the server's close frame (or the connection's end), at most until `deadline`."""
        try:
            for _ in range(WS_EVENTS):
                self.sock.settimeout(max(0.01, deadline - time.monotonic()))
                self.recv()
        except (OSError, ConnectionError, ValueError):
            pass
        finally:
            self.sock.close()


def realtime_session(port: int, path: str, headers: Dict[str, str], deadline: float) -> WebSocket:
    ws = WebSocket(port, path, headers)
    ws.until("session.created", deadline)
    return ws


def first_audio(ws: WebSocket, deadline: float) -> float:
    """One turn: the user's message (not timed), then the time from `response.create` sent to the
    first `response.output_audio.delta` read; the response read to its `response.done`."""
    ws.send(REALTIME_ITEM)
    ws.until("conversation.item.done", deadline)
    for _ in range(100):
        started = time.perf_counter()
        ws.send(REALTIME_RESPONSE)
        if ws.until("response.output_audio.delta", deadline, busy=True)["type"] == "error":
            # The simulator writes a response's `response.done` a moment before it counts the
            # response ended: a `response.create` right after may find it still active. Asked
            # again, timed afresh (the gateway gives the refused one's hold back).
            time.sleep(0.001)
            continue
        took = time.perf_counter() - started
        ws.until("response.done", deadline)
        return took
    raise SystemExit("proxy-bench: the simulator kept a realtime response active past its response.done")


def realtime_side_by_side(direct_port: int, direct_headers: Dict[str, str], proxied_port: int,
                          proxied_headers: Dict[str, str], calls: int) -> Tuple[List[float], List[float]]:
    """As `side_by_side`, a response at a time on one session each way, opened once."""
    deadline = time.monotonic() + 900
    direct = realtime_session(direct_port, REALTIME_PATH, direct_headers, deadline)
    proxied = realtime_session(proxied_port, "/proxy/openai" + REALTIME_PATH, proxied_headers, deadline)
    for _ in range(min(200, calls)):
        first_audio(direct, deadline)
        first_audio(proxied, deadline)
    a, b = [], []
    for i in range(calls):
        if i % 2 == 0:
            a.append(first_audio(direct, deadline))
            b.append(first_audio(proxied, deadline))
        else:
            b.append(first_audio(proxied, deadline))
            a.append(first_audio(direct, deadline))
    for ws in (direct, proxied):
        ws.close_begin()
        ws.close_end(time.monotonic() + 5)
    return a, b


def rss_kib(pid: int) -> int:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise SystemExit("proxy-bench: no VmRSS")


def open_streams(port: int, upstream: str, shape: Shape, headers: Dict[str, str], count: int, pid: int,
                 sim_stats: Callable[[], dict]) -> Tuple[int, int, int]:
    """Opens `count` slow streams at once; answers the gateway's RSS before, with all open,
    and the most streams the simulator saw open at once."""
    path, body = shape.request(True, long=True)
    head = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
    request = (f"POST /proxy/{upstream}{path} HTTP/1.1\r\nHost: 127.0.0.1\r\n{head}"
               f"x-sim: output=60,delay=150\r\nContent-Length: {len(body)}\r\n\r\n").encode() + body
    before = rss_kib(pid)
    opened = threading.Barrier(count + 1, timeout=120)
    done: List[bool] = []

    def one() -> None:
        s = socket.create_connection(("127.0.0.1", port), timeout=60)
        try:
            s.sendall(request)
            first = s.recv(4096)
            opened.wait()
            while first:
                first = s.recv(65536)
            done.append(True)
        finally:
            s.close()

    threads = [threading.Thread(target=one, daemon=True) for _ in range(count)]
    for t in threads:
        t.start()
    opened.wait()
    peak_rss, peak_open = 0, 0
    for _ in range(10):
        peak_rss = max(peak_rss, rss_kib(pid))
        peak_open = max(peak_open, int(sim_stats()["open"]))
        time.sleep(0.3)
    for t in threads:
        t.join(timeout=120)
    if len(done) != count:
        raise SystemExit(f"proxy-bench: only {len(done)} of {count} streams ended")
    return before, peak_rss, peak_open


def open_sessions(port: int, headers: Dict[str, str], count: int, pid: int,
                  sim_stats: Callable[[], dict]) -> Tuple[int, int, int]:
    """Opens `count` realtime sessions through the gateway, one after another, each to its
    `session.created`, and keeps all open; answers the gateway's RSS before, with all open, and
    the most sessions the simulator saw open at once. Then closes them all."""
    deadline = time.monotonic() + 300
    before = rss_kib(pid)
    sessions: List[WebSocket] = []
    try:
        for _ in range(count):
            sessions.append(realtime_session(port, "/proxy/openai" + REALTIME_PATH, headers, deadline))
        peak_rss, peak_open = 0, 0
        for _ in range(10):
            peak_rss = max(peak_rss, rss_kib(pid))
            peak_open = max(peak_open, int(sim_stats()["open"]))
            time.sleep(0.3)
    finally:
        for ws in sessions:
            ws.close_begin()
        ends = time.monotonic() + 30
        for ws in sessions:
            ws.close_end(ends)
    # Every session ended at the simulator too (bounded), so what comes after starts settled.
    for _ in range(100):
        if int(sim_stats()["open"]) == 0:
            break
        time.sleep(0.1)
    return before, peak_rss, peak_open


def realtime_plan(port: int, key: str, user: str) -> None:
    """A plan for the realtime user, as a real one would have: each response held against a
    token budget and a cost group, and each session against a count of open sessions."""
    headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
    responses = [{"event": "openai.realtime_response"}]
    plan = {"periodType": "month", "groups": [
        {"id": "tokens", "unit": "tokens", "quota": 1000000000000, "matches": responses},
        {"id": "cents", "unit": "cents", "quota": 1000000000,
         "measure": {"weights": {"input_tokens": 0.00015, "output_tokens": 0.0006}}, "matches": responses},
        {"id": "sessions", "unit": "concurrent", "quota": 1000000, "matches": [{"event": "openai.realtime"}]}]}
    for path, body in (("/v1/plans/plan_bench_realtime", plan),
                       (f"/v1/users/{user}/subscription", {"planId": "plan_bench_realtime"})):
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        c.request("PUT", path, body=json.dumps(body), headers=headers)
        answer = c.getresponse()
        if answer.status >= 300:
            raise SystemExit(f"proxy-bench: PUT {path} answered {answer.status}: {answer.read()[:300]!r}")
        answer.read()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sim-port", type=int, required=True)
    ap.add_argument("--gateway-port", type=int, required=True)
    ap.add_argument("--gateway-pid", type=int, required=True)
    ap.add_argument("--key", required=True)
    ap.add_argument("--provider-key", required=True)
    ap.add_argument("--vertex-key", required=True, help="the service account's PEM, for the direct calls' token")
    ap.add_argument("--calls", type=int, default=2000)
    ap.add_argument("--streams", type=int, default=1000)
    args = ap.parse_args()
    sim_headers = {"Authorization": f"Bearer {args.provider_key}", "Content-Type": "application/json"}
    gw_headers = {"Authorization": f"Bearer {args.key}", "Content-Type": "application/json", "X-Quota-User": "bench"}
    # Google's clients send their key as x-goog-api-key, to the provider and to the gateway alike.
    sim_gemini = {"x-goog-api-key": args.provider_key, "Content-Type": "application/json"}
    gw_gemini = {"x-goog-api-key": args.key, "Content-Type": "application/json", "X-Quota-User": "bench"}
    # Bedrock's clients send a Bedrock API key as a bearer token, to the provider and to the gateway alike.
    sim_bedrock, gw_bedrock = sim_headers, gw_headers
    # Vertex AI's clients send an access token: Google's to Vertex, the gateway's key to the gateway.
    sim_vertex = {"Authorization": f"Bearer {minted_token(args.sim_port, args.vertex_key)}",
                  "Content-Type": "application/json"}

    def stats() -> dict:
        c = http.client.HTTPConnection("127.0.0.1", args.sim_port, timeout=10)
        c.request("GET", "/_sim/stats")
        return json.loads(c.getresponse().read())

    rows = []
    cases = (("non-streaming call, whole answer", OPENAI, False, "openai", sim_headers, gw_headers),
             ("streaming call, first event", OPENAI, True, "openai", sim_headers, gw_headers),
             ("Gemini `generateContent`, whole answer", GEMINI, False, "gemini", sim_gemini, gw_gemini),
             ("Gemini `streamGenerateContent`, first event", GEMINI, True, "gemini", sim_gemini, gw_gemini),
             ("Bedrock `converse`, whole answer", BEDROCK, False, "bedrock", sim_bedrock, gw_bedrock),
             ("Bedrock `converse-stream`, first event", BEDROCK, True, "bedrock", sim_bedrock, gw_bedrock),
             ("Vertex AI `generateContent`, whole answer", VERTEX, False, "vertex", sim_vertex, gw_headers),
             ("Vertex AI `streamGenerateContent`, first event", VERTEX, True, "vertex", sim_vertex, gw_headers))
    for name, shape, stream, upstream, direct_headers, proxied_headers in cases:
        direct = Target(args.sim_port, "", direct_headers)
        proxied = Target(args.gateway_port, "/proxy/" + upstream, proxied_headers)
        a, b = side_by_side(direct, proxied, shape, args.calls, stream)
        med_a, med_b = statistics.median(a) * 1000, statistics.median(b) * 1000
        p99_a, p99_b = percentile(a, 99) * 1000, percentile(b, 99) * 1000
        rows.append(f"| {name} | {med_a:.2f} / {p99_a:.2f} | {med_b:.2f} / {p99_b:.2f} | "
                    f"**+{med_b - med_a:.2f}** / **+{p99_b - p99_a:.2f}** |")
    # The Realtime API: a WebSocket session each way, its user on a plan of its own.
    realtime_plan(args.gateway_port, args.key, "bench-realtime")
    gw_realtime = {"Authorization": f"Bearer {args.key}", "X-Quota-User": "bench-realtime"}
    a, b = realtime_side_by_side(args.sim_port, {"Authorization": f"Bearer {args.provider_key}"},
                                 args.gateway_port, gw_realtime, args.calls)
    med_a, med_b = statistics.median(a) * 1000, statistics.median(b) * 1000
    p99_a, p99_b = percentile(a, 99) * 1000, percentile(b, 99) * 1000
    rows.append(f"| Realtime response, first audio frame | {med_a:.2f} / {p99_a:.2f} | {med_b:.2f} / {p99_b:.2f} | "
                f"**+{med_b - med_a:.2f}** / **+{p99_b - p99_a:.2f}** |")
    memory = []
    sets = (("OpenAI", "openai", OPENAI, gw_headers), ("Gemini", "gemini", GEMINI, gw_gemini),
            ("Bedrock", "bedrock", BEDROCK, gw_bedrock))
    for label, upstream, shape, headers in sets:
        # Each set ends before the next opens, so the second starts from the first's settled state.
        memory.append((label, *open_streams(args.gateway_port, upstream, shape, headers, args.streams,
                                            args.gateway_pid, stats)))
    sessions = max(1, min(REALTIME_SESSIONS, args.streams))
    realtime_memory = open_sessions(args.gateway_port, gw_realtime, sessions, args.gateway_pid, stats)
    print(f"Side by side in one run, {args.calls} calls each way after 200 of warm-up, one at a time on a kept-alive "
          "connection, against the provider simulator on loopback (milliseconds, median / p99):\n")
    print("| | direct | through the gateway | the gateway adds |\n|---|---|---|---|")
    print("\n".join(rows))
    for label, before, peak, peak_open in memory:
        print(f"\nMemory, {label} streams: the gateway's resident set was {before / 1024:.1f} MiB before and at most "
              f"{peak / 1024:.1f} MiB with {peak_open} of {args.streams} streams open at once (the simulator's count): "
              f"{(peak - before) / max(1, args.streams):.0f} KiB a stream.")
    before, peak, peak_open = realtime_memory
    print(f"\nMemory, realtime sessions: the gateway's resident set was {before / 1024:.1f} MiB before and at most "
          f"{peak / 1024:.1f} MiB with {peak_open} of {sessions} sessions open at once (the simulator's count), each "
          f"after its `session.created`: {(peak - before) / sessions:.0f} KiB a session.")


if __name__ == "__main__":
    main()
