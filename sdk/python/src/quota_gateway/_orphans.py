"""Reserves that may have run although their answer never came.

Such a hold would keep quota until it expires. The gateway keeps the first answer of an
Idempotency-Key, so sending the same reserve again with the same key and body, once the
gateway answers again, reads the reservation id it made (or makes one, if the first attempt
never arrived), which is then released. A hold past its ttl has expired by itself and is
dropped. Thread-safe: one sync client serves many threads.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any, Dict, List

# Bounds on memory and on the time a drain may add to the call that triggers it.
MAX_KEPT = 256
PER_DRAIN = 8
DRAIN_SECONDS = 2.0
MAX_TRIES = 3


@dataclass
class Orphan:
    key: str
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

    def add(self, key: str, body: Dict[str, Any], ttl: float, now: float) -> None:
        with self._lock:
            if len(self._items) >= MAX_KEPT:
                oldest = min(self._items.values(), key=lambda o: o.since)
                del self._items[oldest.key]
            self._items[key] = Orphan(key, body, now, ttl)

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
