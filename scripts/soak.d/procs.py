"""The soak's processes: one redis-server (AOF, appendfsync always), two gateway nodes and the
webhook receiver, each on a loopback port, each started, killed with SIGKILL and started again
by its own pid. Nothing here touches a process the soak did not start.
"""

import asyncio
import os
import signal
import socket
import sys
import time


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def rss_kb(pid):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


class Proc:
    """One child process that can be killed and started again with the same arguments."""

    def __init__(self, name, argv, env, log_path):
        self.name, self.argv, self.env, self.log_path = name, argv, env, log_path
        self.proc = None
        self.starts = 0

    async def start(self):
        log = open(self.log_path, "ab")
        self.proc = await asyncio.create_subprocess_exec(
            *self.argv, env=self.env, stdin=asyncio.subprocess.DEVNULL, stdout=log, stderr=log
        )
        log.close()
        self.starts += 1

    @property
    def pid(self):
        return self.proc.pid if self.proc else None

    def alive(self):
        return self.proc is not None and self.proc.returncode is None

    async def kill(self):
        """SIGKILL, then reap (bounded: a killed process is gone within seconds)."""
        if self.alive():
            try:
                os.kill(self.proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            try:
                await asyncio.wait_for(self.proc.wait(), 10)
            except asyncio.TimeoutError:
                print(f"soak: {self.name} (pid {self.proc.pid}) did not die within 10 s", file=sys.stderr)

    async def stop(self):
        """SIGTERM, then SIGKILL after 10 s."""
        if self.alive():
            try:
                os.kill(self.proc.pid, signal.SIGTERM)
                await asyncio.wait_for(self.proc.wait(), 10)
            except (ProcessLookupError, asyncio.TimeoutError):
                await self.kill()


async def wait_until(probe, limit_s, what):
    """Polls `probe` (an async predicate) every 50 ms for at most `limit_s`; the seconds it took."""
    start = time.time()
    while time.time() - start < limit_s:
        try:
            if await probe():
                return time.time() - start
        except Exception:
            pass
        await asyncio.sleep(0.05)
    raise RuntimeError(f"{what} not ready within {limit_s} s")


def redis_argv(port, data_dir):
    return [
        "redis-server", "--port", str(port), "--bind", "127.0.0.1", "--dir", data_dir,
        "--save", "", "--appendonly", "yes", "--appendfsync", "always",
        "--maxmemory-policy", "noeviction", "--daemonize", "no",
    ]


def gateway_env(port, redis_port, root_token, retention_s):
    env = dict(os.environ)
    env.update({
        "QG_LISTEN": f"127.0.0.1:{port}",
        "QG_REDIS_URL": f"redis://127.0.0.1:{redis_port}",
        "QG_ROOT_TOKEN": root_token,
        # Stopped at the end of the run only: no drain to wait for.
        "QG_DRAIN_MS": "0",
        # The receiver is on loopback and speaks plain HTTP.
        "QG_WEBHOOK_ALLOW_HTTP": "true",
        "QG_WEBHOOK_ALLOW_PRIVATE": "true",
        # Retries after about 0.05 s, 3 s, 18 s, 72 s, 3 min, ...: a delivery that failed while
        # the receiver was down for a minute arrives within about half a minute of its return;
        # an endpoint is disabled only after 72 minutes of failing.
        "QG_WEBHOOK_RETRY_SCALE": "0.01",
        "QG_RETENTION_SECONDS": str(retention_s),
        "QG_LOG_FORMAT": "json",
        "RUST_LOG": "warn",
    })
    return env
