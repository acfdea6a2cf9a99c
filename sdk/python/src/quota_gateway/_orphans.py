"""Reserves and run starts that may have run although their answer never came.

Such a hold (or a run's whole budget) would keep quota until it expires. The gateway keeps the
first answer of an Idempotency-Key, so sending the same request again with the same key and
body, once the gateway answers again, reads the reservation or run it made (or makes one, if
the first attempt never arrived), which is then released or closed. A hold past its ttl has
expired by itself and is dropped. Thread-safe: one sync client serves many threads.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any, Dict, List, Mapping, Optional

from ._calls import decision, release
from ._core import Call
from ._run_calls import RUNS_PATH, close, started

# Bounds on memory and on the time a drain may add to the call that triggers it.
MAX_KEPT = 256
PER_DRAIN = 8
DRAIN_SECONDS = 2.0
MAX_TRIES = 3


@dataclass
class Orphan:
    key: str
    # The route it was sent to: "/v1/reserve", or "/v1/runs" for a run's start.
    path: str
    body: Dict[str, Any]
    since: float
    ttl: float
    tries: int = 0


class Orphans:
    def __init__(self) -> None:
        self._items: Dict[str, Orphan] = {}
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._items)

    def add(self, key: str, path: str, body: Dict[str, Any], ttl: float, now: float) -> None:
        with self._lock:
            if len(self._items) >= MAX_KEPT:
                oldest = min(self._items.values(), key=lambda o: o.since)
                del self._items[oldest.key]
            self._items[key] = Orphan(key, path, body, now, ttl)

    def due(self, now: float) -> List[Orphan]:
        """The next few to release; those whose hold has expired by now are forgotten."""
        with self._lock:
            for o in [o for o in self._items.values() if o.since + o.ttl <= now]:
                del self._items[o.key]
            return sorted(self._items.values(), key=lambda o: o.since)[:PER_DRAIN]

    def settled(self, key: str) -> None:
        with self._lock:
            self._items.pop(key, None)

    def failed(self, key: str) -> None:
        with self._lock:
            o = self._items.get(key)
            if o is not None:
                o.tries += 1
                if o.tries >= MAX_TRIES:
                    del self._items[key]


def replay(orphan: Orphan) -> Call[Optional[str]]:
    """The same request again, with its key, to read the id of what it made (None when it was
    refused); one short attempt."""
    def parse(data: Any, headers: Mapping[str, str]) -> Optional[str]:
        if orphan.path == RUNS_PATH:
            return started(data, headers).run_id
        return decision(data, headers).reservation_id
    return Call("POST", orphan.path, parse, orphan.body, idempotency_key=orphan.key,
                overrides={"timeout": 1.0, "attempt_timeout": 1.0, "max_retries": 0})


def undo(orphan: Orphan, found: str) -> Call[Any]:
    """What gives back what it made: the run closed, or the reservation released."""
    return close(found) if orphan.path == RUNS_PATH else release(found)
