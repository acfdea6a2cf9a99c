"""Starts what the tests need, on loopback only: a private redis-server (with
QG_TEST_TOPOLOGY=cluster, a 3-master Redis Cluster instead), the gateway binary built from this
repository (target/debug by default, QG_BIN to choose), and the provider simulator
(tests/provider/sim.py) for the proxy's tests."""

from __future__ import annotations

import os
import select
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Dict, List, Optional, Sequence

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
