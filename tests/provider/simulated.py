"""The provider simulator as its own tests run it: a process on free loopback ports (`--port 0`,
and the TLS port when `--tls-cert` is given), its read-back and its controls."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.error
import urllib.request
from typing import Any, Dict, Optional, Tuple

SIM = os.path.join(os.path.dirname(os.path.abspath(__file__)), "sim.py")


class Sim:
    """A simulator process and its ports."""

    def __init__(self, *args: str) -> None:
        self.process = subprocess.Popen([sys.executable, SIM, "--port", "0", *args], stdout=subprocess.PIPE, text=True)
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        assert line.startswith("listening 127.0.0.1:"), line
        self.port = int(line.strip().rsplit(":", 1)[1])
        self.tls_port = 0
        if "--tls-cert" in args:
            line = self.process.stdout.readline()
            assert line.startswith("listening-tls 127.0.0.1:"), line
            self.tls_port = int(line.strip().rsplit(":", 1)[1])
        self.base = f"http://127.0.0.1:{self.port}"

    def stats(self) -> Dict[str, Any]:
        with urllib.request.urlopen(self.base + "/_sim/stats", timeout=10) as answer:
            return json.loads(answer.read())

    def usage(self) -> Dict[str, int]:
        return self.stats()["usage"]

    def reset(self) -> None:
        urllib.request.urlopen(urllib.request.Request(self.base + "/_sim/reset", method="POST"), timeout=10).close()

    def control(self, path: str) -> None:
        """A POST of an empty object to one of the simulator's controls (`/_sim/...`)."""
        urllib.request.urlopen(urllib.request.Request(self.base + path, data=b"{}", method="POST"), timeout=10).close()

    def call(self, path: str, body: Any, headers: Optional[Dict[str, str]] = None) -> Tuple[int, Dict[str, str], bytes]:
        request = urllib.request.Request(self.base + path, data=json.dumps(body).encode(), method="POST",
                                         headers={"Content-Type": "application/json", **(headers or {})})
        try:
            with urllib.request.urlopen(request, timeout=10) as answer:
                return answer.status, dict(answer.headers), answer.read()
        except urllib.error.HTTPError as error:
            return error.code, dict(error.headers), error.read()

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(5)
        if self.process.stdout is not None:
            self.process.stdout.close()
