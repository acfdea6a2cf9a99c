"""Writes that may have run, or must still run, although their answer never came.

Two kinds, both sent again once the gateway answers again (after the next call that got an
answer), by the same key:

- "undo": a reserve or a run's start whose answer was lost (a timeout, a dropped connection,
  a 5xx, a cancelled task). Its hold (or a run's whole budget) would keep quota until it
  expires. The gateway keeps the first answer of an Idempotency-Key, so the same request with
  the same key and body reads the reservation or run it made (or makes it, if the first attempt
  never arrived), which is then released or closed. One past its ttl has expired by itself and
  is dropped.
- "resend": a commit or release that settled a hold and got no answer. A commit carries usage
  the provider was paid for, so it is kept (a day) and sent again as it was: its
  Idempotency-Key makes a commit that had in fact run answer as the first time, never count
  twice. A release is kept until its hold would have expired anyway.

Thread-safe: one sync client serves many threads. Each drop of a commit is logged.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from typing import Any, Dict, List, Literal, Mapping, Optional

from ._calls import decision, release
from ._core import Call
from ._run_calls import RUNS_PATH, close, started
from .errors import QuotaGatewayError

log = logging.getLogger("quota_gateway")

# Bounds on memory and on the time a drain may add to the call that triggers it.
MAX_KEPT = 256
PER_DRAIN = 8
DRAIN_SECONDS = 2.0
MAX_TRIES = 3
# A commit is worth more tries: each is made only after another call got an answer.
MAX_RESEND_TRIES = 10
# How long a commit that got no answer is kept to be sent again (a late commit still counts).
KEEP_COMMIT_SECONDS = 86_400.0

Kind = Literal["undo", "resend"]


@dataclass
class Orphan:
    key: str
    # The route it was sent to: "/v1/reserve", "/v1/runs" for a run's start, or a
    # reservation's commit or release.
    path: str
    body: Any
    since: float
    ttl: float
    kind: Kind = "undo"
    # The Idempotency-Key it is sent with (None for a release, which needs none).
    idempotency_key: Optional[str] = None
    tries: int = 0

    @property
    def is_commit(self) -> bool:
        return self.kind == "resend" and self.path.endswith("/commit")


class Orphans:
    def __init__(self) -> None:
        self._items: Dict[str, Orphan] = {}
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._items)

    def count(self, commits: bool) -> int:
        """The kept commits, or every other kept write (reserves to release, releases)."""
        with self._lock:
            return sum(1 for o in self._items.values() if o.is_commit == commits)

    def add(self, call: Call[Any], ttl: float, now: float, kind: Kind = "undo") -> None:
        key = call.idempotency_key or call.path
        with self._lock:
            if key not in self._items and len(self._items) >= MAX_KEPT:
                # Make room by dropping the oldest, a commit last: it carries paid usage.
                oldest = min(self._items.values(), key=lambda o: (o.is_commit, o.since))
                self._drop(oldest, "too many writes are waiting to be sent again")
            self._items[key] = Orphan(key, call.path, call.body, now, ttl, kind, call.idempotency_key)

    def due(self, now: float) -> List[Orphan]:
        """The next few to send again; those past their ttl are dropped."""
        with self._lock:
            for o in [o for o in self._items.values() if o.since + o.ttl <= now]:
                self._drop(o, "kept past its time")
            return sorted(self._items.values(), key=lambda o: o.since)[:PER_DRAIN]

    def done(self, orphan: Orphan, error: Optional[QuotaGatewayError] = None) -> None:
        """The outcome of sending it again: sent (no error), to try again later (the gateway gave
        no answer), or refused (any other error), which ends it too."""
        with self._lock:
            if error is not None and error.unavailable:
                orphan.tries += 1
                if orphan.tries >= (MAX_RESEND_TRIES if orphan.kind == "resend" else MAX_TRIES):
                    self._drop(orphan, f"no answer after {orphan.tries} tries ({error})")
                return
            self._items.pop(orphan.key, None)
        if orphan.is_commit:
            if error is None:
                log.info("quota_gateway: the kept commit %s is counted now", orphan.path)
            else:
                log.warning("quota_gateway: the gateway refused the kept commit %s (%s); its usage is not counted",
                            orphan.path, error)

    def _drop(self, orphan: Orphan, why: str) -> None:
        """Forgets one (the lock held); a commit's usage is then lost, which is logged."""
        self._items.pop(orphan.key, None)
        if orphan.is_commit:
            log.error("quota_gateway: the commit %s was dropped, %s: its usage is not counted (body %s)",
                      orphan.path, why, orphan.body)


def replay(orphan: Orphan) -> Call[Optional[str]]:
    """The same request again, with its key: for a reserve or run start, to read the id of what
    it made (None when it was refused); a commit or release, simply again. One short attempt."""
    def parse(data: Any, headers: Mapping[str, str]) -> Optional[str]:
        if orphan.kind == "resend":
            return None
        if orphan.path == RUNS_PATH:
            return started(data, headers).run_id
        return decision(data, headers).reservation_id
    return Call("POST", orphan.path, parse, orphan.body, idempotency_key=orphan.idempotency_key,
                overrides={"timeout": 1.0, "attempt_timeout": 1.0, "max_retries": 0})


def undo(orphan: Orphan, found: str) -> Call[Any]:
    """What gives back what it made: the run closed, or the reservation released."""
    return close(found) if orphan.path == RUNS_PATH else release(found)
