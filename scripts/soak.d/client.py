"""HTTP/1.1 and RESP clients for the soak, on asyncio streams from the standard library.

`Gateway.call` is what the load uses: it tries one node, then the other, on anything that is
not an answer (a refused or reset connection, a timeout, 502, 503, 504, 429), reusing the
request as it was (the same Idempotency-Key), until one node answers or the call's deadline
passes. It reports every attempt, so the log knows which calls may have run more than once.
"""

import asyncio
import json
import time

RETRY_STATUSES = (429, 502, 503, 504)
# Retried as well, with the same request, but reported: the contract has no 500 for a backend
# that is down or busy (that is 503), so the soak logs each as a violation, and retries so that
# the call's effect is still known in the end.
ODD_STATUSES = (500,)
IDLE_S = 3.0  # a pooled connection idle this long is dropped (the gateway closes them at 5 s)


class NoAnswer(Exception):
    """The connection failed or timed out before a whole answer came."""


class Unanswered(Exception):
    """No node answered within the call's deadline."""

    def __init__(self, first_send, attempts):
        super().__init__(f"no answer after {attempts} attempts")
        self.first_send = first_send
        self.attempts = attempts


class Answer:
    __slots__ = ("status", "body", "first_send", "last_send", "ack", "attempts", "failed_sends", "node", "odd")

    def json(self):
        return json.loads(self.body) if self.body else None


class Node:
    """A pool of keep-alive connections to one gateway node."""

    def __init__(self, name, port, timeout_s):
        self.name, self.port, self.timeout_s = name, port, timeout_s
        self.idle = []

    async def request(self, method, path, body, headers):
        try:
            return await asyncio.wait_for(self._request(method, path, body, headers), self.timeout_s)
        except (OSError, asyncio.IncompleteReadError, asyncio.TimeoutError, ValueError, IndexError) as e:
            raise NoAnswer(repr(e)) from None

    async def _request(self, method, path, body, headers):
        conn = None
        now = time.monotonic()
        while self.idle and conn is None:  # bounded by the pool's size
            reader, writer, used = self.idle.pop()
            if now - used < IDLE_S:
                conn = (reader, writer)
            else:
                writer.close()
        if conn is None:
            conn = await asyncio.open_connection("127.0.0.1", self.port)
        reader, writer = conn
        ok = False
        try:
            head = [f"{method} {path} HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-length: {len(body)}\r\n"]
            if body:
                head.append("content-type: application/json\r\n")
            for name, value in headers:
                head.append(f"{name}: {value}\r\n")
            head.append("\r\n")
            writer.write("".join(head).encode() + body)
            status_line = await reader.readline()
            if not status_line:
                raise NoAnswer("connection closed")
            status = int(status_line.split()[1])
            length, chunked, close = 0, False, False
            while True:
                line = await reader.readline()
                if line in (b"\r\n", b""):
                    break
                name, _, value = line.partition(b":")
                name = name.strip().lower()
                if name == b"content-length":
                    length = int(value)
                elif name == b"transfer-encoding" and b"chunked" in value.lower():
                    chunked = True
                elif name == b"connection" and b"close" in value.lower():
                    close = True
            if chunked:
                parts = []
                while True:
                    size = int((await reader.readline()).split(b";")[0], 16)
                    if size == 0:
                        await reader.readline()
                        break
                    parts.append(await reader.readexactly(size))
                    await reader.readexactly(2)
                data = b"".join(parts)
            else:
                data = await reader.readexactly(length) if length else b""
            ok = not close
            return status, data
        finally:
            if ok:
                self.idle.append((reader, writer, time.monotonic()))
            else:
                writer.close()

    def close(self):
        for _, writer, _ in self.idle:
            writer.close()
        self.idle.clear()


class Gateway:
    """Both nodes behind one call, as a load balancer that retries elsewhere would be."""

    def __init__(self, ports, key, timeout_s=5.0, deadline_s=60.0):
        self.nodes = [Node(f"node{i + 1}", port, timeout_s) for i, port in enumerate(ports)]
        self.auth = ("authorization", f"Bearer {key}")
        self.deadline_s = deadline_s
        self.turn = 0
        self.stats = {"attempts": 0, "no_answer": 0, "retried_status": 0, "answers": 0, "odd": 0}

    async def call(self, method, path, body=None, key=None, headers=(), deadline_s=None, node=None):
        data = b"" if body is None else json.dumps(body, separators=(",", ":")).encode()
        hdrs = [self.auth, *headers]
        if key is not None:
            hdrs.append(("idempotency-key", key))
        if node is None:
            self.turn += 1
            node = self.turn % len(self.nodes)
        first_send = time.time()
        end = first_send + (deadline_s or self.deadline_s)
        failed_sends, odd = [], []
        pause = 0.05
        attempts = 0
        # Bounded: every pass waits at least `pause` and the loop ends at the deadline.
        while True:
            attempts += 1
            self.stats["attempts"] += 1
            target = self.nodes[node % len(self.nodes)]
            sent = time.time()
            try:
                status, payload = await target.request(method, path, data, hdrs)
            except NoAnswer:
                self.stats["no_answer"] += 1
                status = None
            if status is not None and status not in RETRY_STATUSES and status not in ODD_STATUSES:
                self.stats["answers"] += 1
                answer = Answer()
                answer.status, answer.body, answer.node = status, payload, target.name
                answer.first_send, answer.last_send, answer.ack = first_send, sent, time.time()
                answer.attempts, answer.failed_sends, answer.odd = attempts, failed_sends, odd
                return answer
            if status in ODD_STATUSES:
                self.stats["odd"] += 1
                odd.append((status, payload[:500].decode("utf-8", "replace")))
            elif status is not None:
                self.stats["retried_status"] += 1
            # The attempt may still have run (a timeout, a 503 after a slow Redis), or half run
            # (a node killed between a parent's levels): remembered for the checks.
            failed_sends.append(sent)
            node += 1
            if time.time() + pause > end:
                raise Unanswered(first_send, attempts)
            await asyncio.sleep(pause)
            pause = min(1.0, pause * 2)

    def close(self):
        for node in self.nodes:
            node.close()


class Redis:
    """Enough RESP for the soak's reads and its CLIENT PAUSE: one connection, one command at a time."""

    def __init__(self, port):
        self.port, self.conn, self.lock = port, None, asyncio.Lock()

    async def command(self, *args, timeout_s=10.0):
        async with self.lock:
            try:
                return await asyncio.wait_for(self._command(args), timeout_s)
            except BaseException:
                self.close()
                raise

    async def _command(self, args):
        if self.conn is None:
            self.conn = await asyncio.open_connection("127.0.0.1", self.port)
        reader, writer = self.conn
        out = [f"*{len(args)}\r\n".encode()]
        for a in args:
            b = a if isinstance(a, bytes) else str(a).encode()
            out.append(b"$%d\r\n%s\r\n" % (len(b), b))
        writer.write(b"".join(out))
        return await self._read(reader)

    async def _read(self, reader):
        line = await reader.readline()
        if not line:
            raise ConnectionError("redis closed the connection")
        kind, rest = line[:1], line[1:-2]
        if kind == b"+":
            return rest.decode()
        if kind == b"-":
            raise RuntimeError(rest.decode())
        if kind == b":":
            return int(rest)
        if kind == b"$":
            n = int(rest)
            if n < 0:
                return None
            data = await reader.readexactly(n + 2)
            return data[:-2].decode()
        if kind == b"*":
            n = int(rest)
            return None if n < 0 else [await self._read(reader) for _ in range(n)]
        raise RuntimeError(f"unexpected RESP reply {line!r}")

    def close(self):
        if self.conn is not None:
            self.conn[1].close()
            self.conn = None
