"""Starts what the tests need, on loopback only: a private redis-server (with
QG_TEST_TOPOLOGY=cluster, a 3-master Redis Cluster instead), the gateway binary built from this
repository (target/debug by default, QG_BIN to choose), the provider simulator
(tests/provider/sim.py) for the proxy's tests, and a TLS front for the clients that call only
over HTTPS."""

from __future__ import annotations

import asyncio
import os
import select
import shutil
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Dict, List, Optional, Sequence, Set, Tuple

import httpx

REPO = Path(__file__).resolve().parents[3]
BINARY = Path(os.environ.get("QG_BIN") or REPO / "target" / "debug" / "quota-gateway")
SIMULATOR = REPO / "tests" / "provider" / "sim.py"
# The same switch as the Rust suite's: the gateway's Redis code differs between the two modes.
CLUSTER = os.environ.get("QG_TEST_TOPOLOGY") == "cluster"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def until(what: str, check: Callable[[], bool], seconds: float = 20.0) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if check():
                return
        except (OSError, httpx.HTTPError):
            pass
        time.sleep(0.05)
    raise RuntimeError(f"{what} did not come up within {seconds} s")


@dataclass
class Redis:
    url: str  # a cluster's seeds, comma-separated, as QG_REDIS_URL takes them
    processes: List[subprocess.Popen[bytes]]
    directory: str

    def stop(self) -> None:
        for process in self.processes:
            process.kill()
        for process in self.processes:
            process.wait(timeout=10)
        shutil.rmtree(self.directory, ignore_errors=True)


def _command(port: int, *args: str) -> bytes:
    """One inline command to the server on `port` and the start of its reply."""
    with socket.create_connection(("127.0.0.1", port), timeout=1) as s:
        s.sendall(" ".join(args).encode() + b"\r\n")
        return s.recv(4096)


def _redis_server(port: int, directory: str, *extra: str) -> subprocess.Popen[bytes]:
    process = subprocess.Popen(
        ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--dir", directory,
         "--save", "", "--appendonly", "no", "--maxmemory-policy", "noeviction", *extra],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def pong() -> bool:
        if process.poll() is not None:
            raise RuntimeError(f"redis-server on port {port} exited with {process.returncode}")
        return _command(port, "PING").startswith(b"+PONG")

    until("redis-server", pong)
    return process


def free_cluster_ports(count: int) -> List[int]:
    """Distinct free ports each with its cluster bus port (10,000 above, by Redis's rule, so it
    must stay below 65536) free too: the system's ephemeral range reaches past 55535."""
    ports: List[int] = []
    while len(ports) < count:
        port = free_port()
        if port > 55535 or port in ports:
            continue
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port + 10000))
            except OSError:
                continue
        ports.append(port)
    return ports


def start_redis() -> Redis:
    """A standalone redis-server, or with QG_TEST_TOPOLOGY=cluster a 3-master cluster."""
    directory = tempfile.mkdtemp(prefix="qg-py-redis-")
    processes: List[subprocess.Popen[bytes]] = []
    redis = Redis("", processes, directory)
    try:
        if not CLUSTER:
            port = free_port()
            processes.append(_redis_server(port, directory))
            redis.url = f"redis://127.0.0.1:{port}"
            return redis
        ports = free_cluster_ports(3)
        for port in ports:
            # The nodes share the directory, so each keeps its cluster state in a file of its own.
            processes.append(_redis_server(port, directory, "--cluster-enabled", "yes",
                                           "--cluster-config-file", f"{directory}/nodes-{port}.conf"))
        made = subprocess.run(["redis-cli", "--cluster", "create", *[f"127.0.0.1:{p}" for p in ports],
                               "--cluster-replicas", "0", "--cluster-yes"], capture_output=True)
        if made.returncode != 0:
            raise RuntimeError(f"redis-cli --cluster create failed: {(made.stdout + made.stderr).decode()[-2000:]}")
        # Slots are assigned at once, but each node says ok only once it has heard of the others.
        for port in ports:
            until(f"the cluster node on {port}", lambda: b"cluster_state:ok" in _command(port, "CLUSTER", "INFO"))
        redis.url = ",".join(f"redis://127.0.0.1:{p}" for p in ports)
        return redis
    except BaseException:
        redis.stop()
        raise


@dataclass
class Gateway:
    base_url: str
    root_token: str
    process: subprocess.Popen[bytes]
    log: Path

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)


def start_gateway(redis_url: str, log_dir: Path, ready: bool = True,
                  extra_env: Optional[Dict[str, str]] = None) -> Gateway:
    if not BINARY.exists():
        raise RuntimeError(f"no gateway binary at {BINARY}: build it (cargo build) or set QG_BIN")
    port = free_port()
    root = f"py-sdk-root-{port}"
    # In a cluster run every gateway is in cluster mode, even one pointed at a Redis that is not there.
    mode = {"QG_REDIS_MODE": "cluster"} if CLUSTER else {}
    env = dict(os.environ, **mode, QG_LISTEN=f"127.0.0.1:{port}", QG_REDIS_URL=redis_url, QG_ROOT_TOKEN=root,
               QG_LOG_FORMAT="json", RUST_LOG="warn", QG_DRAIN_MS="0",
               # The tests' webhook receivers listen on loopback over plain http.
               QG_WEBHOOK_ALLOW_HTTP="true", QG_WEBHOOK_ALLOW_PRIVATE="true",
               QG_WEBHOOK_RETRY_SCALE="0.001")
    # Beside other suites (scripts/test), Redis may be silent longer than the node's 250 ms for
    # want of a core: the Rust suites' allowance, unless a test names its own.
    allowance = os.environ.get("QG_TEST_COMMAND_TIMEOUT_MS")
    if allowance and "QG_COMMAND_TIMEOUT_MS" not in os.environ:
        env["QG_COMMAND_TIMEOUT_MS"] = allowance
    env.update(extra_env or {})
    log = log_dir / f"gateway-{port}.log"
    with open(log, "wb") as out:
        process = subprocess.Popen([str(BINARY)], env=env, stdout=out, stderr=subprocess.STDOUT)
    base_url = f"http://127.0.0.1:{port}"
    path = "/readyz" if ready else "/livez"
    try:
        until("the gateway", lambda: httpx.get(base_url + path, timeout=1).status_code == 200)
    except RuntimeError:
        process.kill()
        raise RuntimeError(f"the gateway did not start: {log.read_text()[-2000:]}") from None
    return Gateway(base_url, root, process, log)


@dataclass
class Simulator:
    """The provider simulator in a process of its own, so the tests' load does not share its
    interpreter."""

    base_url: str
    process: subprocess.Popen[bytes]

    def stats(self) -> Dict[str, object]:
        found: Dict[str, object] = httpx.get(self.base_url + "/_sim/stats", timeout=10).json()
        return found

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)


def start_simulator(key: str, log_dir: Path, extra: Sequence[str] = ()) -> Simulator:
    """The simulator on a free loopback port, requiring `key` of its callers; `extra`, more of
    its arguments (its clouds' settings)."""
    log = log_dir / "simulator.log"
    with open(log, "wb") as errors:
        process = subprocess.Popen([sys.executable, str(SIMULATOR), "--port", "0", "--key", key, *extra],
                                   stdout=subprocess.PIPE, stderr=errors)
    assert process.stdout is not None
    # Its one line says where it listens (written at once, flushed); a simulator that dies
    # first ends the read with "", one that hangs is given up on.
    readable, _, _ = select.select([process.stdout], [], [], 20)
    line = process.stdout.readline().decode().strip() if readable else ""
    if not line.startswith("listening 127.0.0.1:"):
        process.kill()
        process.wait(timeout=10)
        raise RuntimeError(f"the simulator did not start: {line!r} {log.read_text()[-2000:]}")
    sim = Simulator("http://" + line.split()[1], process)
    until("the simulator", lambda: httpx.get(sim.base_url + "/_sim/stats", timeout=1).status_code == 200)
    return sim


def admin(base_url: str, token: str, method: str, path: str, body: Optional[object] = None) -> object:
    res = httpx.request(method, base_url + path, json=body, timeout=10,
                        headers={"Authorization": f"Bearer {token}"})
    if res.status_code >= 300:
        raise RuntimeError(f"{method} {path}: {res.status_code} {res.text}")
    return res.json() if res.content else None


def self_signed_certificate(directory: Path) -> Tuple[Path, Path]:
    """A certificate for 127.0.0.1 (its subjectAltName, which clients check) and its key, made by
    the `openssl` CLI: (certificate, key)."""
    cert, key = directory / "tls.crt", directory / "tls.key"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out", str(cert),
                    "-days", "1", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"],
                   check=True, capture_output=True, timeout=60)
    return cert, key


# How long a TLS front waits for a client's handshake or for its target to accept, at most, and
# how much of a connection it holds at a time in each direction.
FRONT_WAIT_SECONDS = 10.0
FRONT_CHUNK = 64 * 1024


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """One direction of a relayed connection, a chunk at a time at the receiver's pace, until the
    sender closes or either side fails."""
    try:
        while True:
            chunk = await reader.read(FRONT_CHUNK)
            if not chunk:
                return
            writer.write(chunk)
            await writer.drain()
    except OSError:  # a reset, a broken pipe, a TLS error (ssl.SSLError is one)
        return


class TlsFront:
    """TLS on a loopback port in front of a plain-HTTP one, as a load balancer terminates it for
    the gateway: each connection's bytes relayed both ways unread, and both of its sides closed
    when either ends (HTTP/1.1 never half-closes). Its event loop runs on a daemon thread."""

    def __init__(self, target_port: int, cert: Path, key: Path) -> None:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(cert, key)
        self._target = target_port
        self._relays: Set[asyncio.Task[None]] = set()
        self._open: Set[asyncio.StreamWriter] = set()
        self._loop = asyncio.new_event_loop()
        self._server = self._loop.run_until_complete(asyncio.start_server(
            self._relay, "127.0.0.1", 0, ssl=context, ssl_handshake_timeout=FRONT_WAIT_SECONDS))
        self.port: int = self._server.sockets[0].getsockname()[1]
        self._thread = threading.Thread(target=self._loop.run_forever, name=f"tls-front-{self.port}", daemon=True)
        self._thread.start()

    async def _relay(self, client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter) -> None:
        me = asyncio.current_task()
        assert me is not None
        self._relays.add(me)
        self._open.add(client_writer)
        writers = [client_writer]
        try:
            target_reader, target_writer = await asyncio.wait_for(
                asyncio.open_connection("127.0.0.1", self._target), FRONT_WAIT_SECONDS)
            writers.append(target_writer)
            self._open.add(target_writer)
            ways = [asyncio.ensure_future(_pipe(client_reader, target_writer)),
                    asyncio.ensure_future(_pipe(target_reader, client_writer))]
            await asyncio.wait(ways, return_when=asyncio.FIRST_COMPLETED)
            for way in ways:
                way.cancel()
            await asyncio.gather(*ways, return_exceptions=True)
        except (OSError, asyncio.TimeoutError):
            pass  # the target refused or did not accept in time: the client sees its connection closed
        finally:
            for writer in writers:
                writer.close()
                self._open.discard(writer)
            self._relays.discard(me)

    def close(self) -> None:
        """Stops listening, closes every relayed connection (each relay then ends on its own), and
        stops the thread."""
        async def stop() -> None:
            self._server.close()
            for writer in list(self._open):
                writer.close()
            relays = list(self._relays)
            if relays:
                await asyncio.wait(relays, timeout=FRONT_WAIT_SECONDS)

        try:
            asyncio.run_coroutine_threadsafe(stop(), self._loop).result(timeout=2 * FRONT_WAIT_SECONDS)
        finally:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout=FRONT_WAIT_SECONDS)
            if not self._thread.is_alive():
                self._loop.close()
