"""The Redis floor of a governed proxied call, for scripts/bench-proxy-load's A/B mode: the
commands the call's scripts run, captured once per build with MONITOR on the bench's Redis
during one proxied call (Redis 7 shows each command a script runs as `[0 lua]`, right after the
script's own line), then replayed with nothing decided against a fresh redis-server: as one
EVALSHA per captured script, each running that script's commands with the captured arguments,
and as a plain pipeline of the same commands (no script at all), so the cost of Lua itself
shows. Redis's CPU per call is its process's utime+stime (/proc/<pid>/stat) over the replay.

Every replayed call runs on the same keys, as the captured call did: the bench's load spreads its
calls over 100 users who each already have their keys, so a governed call updates keys that
exist; renaming them per call would make every replayed call a new user's first one, creating
its keys, which the load does not do. The hold's id is the captured one too, so each replayed
call overwrites its record and its place in the open and ended sets where a governed call adds
its own. The replay is pipelined without a bound on depth (`redis-cli --pipe`, its bytes
written to a file first), so Redis reads many calls a read: a floor, not a call's cost as the
gateway's connections bring it.
"""

import hashlib
import os
import re
import subprocess
import time
from typing import Callable, Dict, List, Optional, Tuple

# What the replay itself asks its Redis besides the replayed commands, left out of the counts.
OWN_COMMANDS = ("script|load", "config|resetstat", "info", "ping", "echo")
LINE = re.compile(r"^\d+\.\d+ \[\d+ ([^\]]+)\] (.*)$")
ESCAPES = {"n": b"\n", "r": b"\r", "t": b"\t", "a": b"\a", "b": b"\b", '"': b'"', "\\": b"\\"}

Command = List[bytes]


class Captured:
    """One call's scripts, each the commands it ran."""

    def __init__(self, scripts: List[List[Command]]):
        self.scripts = scripts

    def describe(self) -> str:
        sizes = " and ".join(str(len(s)) for s in self.scripts)
        return f"{len(self.scripts)} scripts of {sizes} commands"


def arguments(text: str) -> Command:
    """A MONITOR line's quoted arguments, unescaped as Redis escaped them (sdscatrepr)."""
    args: Command = []
    i = 0
    while i < len(text):
        if text[i] != '"':
            i += 1
            continue
        out, i = bytearray(), i + 1
        while text[i] != '"':
            if text[i] == "\\" and text[i + 1] == "x":
                out.append(int(text[i + 2:i + 4], 16))
                i += 4
            elif text[i] == "\\":
                out += ESCAPES.get(text[i + 1], text[i + 1].encode())
                i += 2
            else:
                out += text[i].encode("latin-1")
                i += 1
        args.append(bytes(out))
        i += 1
    return args


def parse(lines: List[str]) -> Captured:
    """The scripts of a MONITOR window: each a run of `lua` lines, split by any other line."""
    scripts: List[List[Command]] = []
    run: Optional[List[Command]] = None
    for line in lines:
        m = LINE.match(line)
        if not m or m.group(1) != "lua":
            run = None
            continue
        if run is None:
            run = []
            scripts.append(run)
        run.append(arguments(m.group(2)))
    return Captured(scripts)


def capture(redis_port: int, one_call: Callable[[], None], work: str, expected: int = 2) -> Captured:
    """MONITOR on the bench's Redis around one call, until `expected` scripts have run or 5 s."""
    path = os.path.join(work, "monitor.txt")
    with open(path, "w") as out:
        mon = subprocess.Popen(["redis-cli", "-p", str(redis_port), "MONITOR"], stdout=out, stderr=subprocess.DEVNULL)
    try:
        deadline = time.time() + 5
        while time.time() < deadline and not open(path).read().startswith("OK"):
            time.sleep(0.02)
        one_call()
        # The commit may run after the answer has left: wait for it, bounded.
        while time.time() < deadline and len(parse(open(path).read().splitlines()).scripts) < expected:
            time.sleep(0.05)
        time.sleep(0.2)
    finally:
        mon.terminate()
        mon.wait(timeout=10)
    return parse(open(path).read().splitlines())


def lua_string(arg: bytes) -> str:
    """A Lua string literal of any bytes: printable ASCII as is, the rest as `\\ddd`."""
    return '"' + "".join(chr(b) if 32 <= b < 127 and b not in (34, 92) else f"\\{b:03d}" for b in arg) + '"'


def lua_body(commands: List[Command]) -> str:
    return "\n".join("redis.call(" + ", ".join(lua_string(a) for a in c) + ")" for c in commands) + "\nreturn 0\n"


def resp(args: Command) -> bytes:
    return b"*%d\r\n" % len(args) + b"".join(b"$%d\r\n%s\r\n" % (len(a), a) for a in args)


def ticks(pid: int) -> int:
    with open(f"/proc/{pid}/stat") as f:
        v = f.read().rsplit(")", 1)[1].split()
    return int(v[11]) + int(v[12])


def commandstats(port: int) -> Dict[str, int]:
    out = subprocess.run(["redis-cli", "-p", str(port), "INFO", "commandstats"], capture_output=True, text=True).stdout
    return {m.group(1): int(m.group(2)) for m in re.finditer(r"^cmdstat_(\S+?):calls=(\d+)", out, re.M)}


class Replay:
    """Where a replay runs: a work folder, the core of Redis and its client, the started
    processes' list (ended on exit by the caller), a free port finder."""

    def __init__(self, work: str, core: str, procs: list, free_port: Callable[[], int]):
        self.work, self.core, self.procs, self.free_port = work, core, procs, free_port

    def fresh_redis(self) -> Tuple[subprocess.Popen, int]:
        port = self.free_port()
        p = subprocess.Popen(["taskset", "-c", self.core, "redis-server", "--port", str(port), "--bind", "127.0.0.1",
                              "--dir", self.work, "--save", "", "--appendonly", "no", "--daemonize", "no"],
                             stdout=open(os.path.join(self.work, "replay-redis.log"), "w"), stderr=subprocess.STDOUT)
        self.procs.append(p)
        for _ in range(200):
            if subprocess.run(["redis-cli", "-p", str(port), "PING"], capture_output=True).returncode == 0:
                return p, port
            time.sleep(0.05)
        raise SystemExit("bench-proxy-load: the replay's redis-server did not start")

    def run(self, captured: Captured, calls: int, as_eval: bool) -> dict:
        """`calls` replayed calls on a fresh Redis: its CPU per call (µs), its commands per call
        (INFO commandstats, a script's own included) and the replies that were errors."""
        proc, port = self.fresh_redis()
        try:
            if as_eval:
                one = b""
                for commands in captured.scripts:
                    body = lua_body(commands).encode()
                    sha = subprocess.run(["redis-cli", "-p", str(port), "-x", "SCRIPT", "LOAD"], input=body,
                                         capture_output=True, check=True).stdout.decode().strip()
                    assert sha == hashlib.sha1(body).hexdigest(), sha
                    one += resp([b"EVALSHA", sha.encode(), b"0"])
            else:
                one = b"".join(resp(c) for s in captured.scripts for c in s)
            return self.measure(port, proc.pid, one, calls)
        finally:
            proc.terminate()
            proc.wait(timeout=30)

    def measure(self, port: int, pid: int, one: bytes, calls: int) -> dict:
        payload = os.path.join(self.work, "replay.resp")
        with open(payload, "wb") as f:
            for start in range(0, calls, 500):
                f.write(one * min(500, calls - start))
        subprocess.run(["redis-cli", "-p", str(port), "CONFIG", "RESETSTAT"], capture_output=True, check=True)
        hz, t0 = os.sysconf("SC_CLK_TCK"), ticks(pid)
        with open(payload, "rb") as f:
            out = subprocess.run(["taskset", "-c", self.core, "redis-cli", "-p", str(port), "--pipe", "--pipe-timeout", "60"],
                                 stdin=f, capture_output=True, text=True, timeout=300).stdout
        used = ticks(pid) - t0
        os.remove(payload)
        m = re.search(r"errors: (\d+), replies: (\d+)", out)
        if not m:
            raise SystemExit(f"bench-proxy-load: the replay gave no count: {out[-300:]}")
        stats = commandstats(port)
        replayed = sum(v for k, v in stats.items() if k not in OWN_COMMANDS)
        return {"redis_us": used / hz * 1e6 / calls, "commands": replayed / calls, "errors": int(m.group(1))}
