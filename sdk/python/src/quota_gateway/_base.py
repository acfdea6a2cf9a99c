"""What the sync and the async client share: options, and how one attempt's outcome is read."""

from __future__ import annotations

import logging
import os
import time
from typing import Any, Optional, Set, TypeVar

import httpx

from ._core import Attempts, Call, Config, Step
from ._orphans import Orphans
from .decision import Decision
from .params import FailMode

log = logging.getLogger("quota_gateway")

T = TypeVar("T")
DEFAULT_URL = "http://127.0.0.1:8080"


class _Keep:
    """`parent_id` left out: the subscription keeps its parent (None removes it)."""

    def __repr__(self) -> str:
        return "KEEP"


KEEP: Any = _Keep()


def config(api_key: Optional[str], base_url: Optional[str], timeout: float,
           attempt_timeout: Optional[float], max_retries: int, fail_mode: FailMode,
           user_token: Optional[str]) -> Config:
    key = api_key or os.environ.get("QUOTA_GATEWAY_KEY")
    if not key:
        raise ValueError("an api_key is needed (or the QUOTA_GATEWAY_KEY environment variable)")
    if fail_mode not in ("closed", "open"):
        raise ValueError('fail_mode is "closed" or "open"')
    if timeout <= 0 or max_retries < 0:
        raise ValueError("timeout must be positive and max_retries at least 0")
    url = (base_url or os.environ.get("QUOTA_GATEWAY_URL") or DEFAULT_URL).rstrip("/")
    # A hung attempt gives up in time for about two more.
    per_attempt = attempt_timeout if attempt_timeout is not None else timeout * 0.4
    return Config(url, key, user_token, timeout, min(per_attempt, timeout), max_retries)


def outcome(attempts: Attempts[T], response: Optional[httpx.Response],
            error: Optional[BaseException], now: float) -> Step[T]:
    """The step after one attempt: its answer, or the transport error that took its place."""
    if response is not None:
        return attempts.on_answer(response.status_code, response.headers, response.content, now)
    # Refused or unresolvable before any byte left: the gateway cannot have run it.
    sent = not isinstance(error, (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout,
                                  httpx.UnsupportedProtocol))
    kind = type(error).__name__
    return attempts.on_failure(sent, f"no answer from the gateway ({kind}: {error})", now)


def left_over(commits: int) -> None:
    """Says, at a client's close, that kept commits could not be sent: their usage is lost."""
    if commits:
        log.error("quota_gateway: the client closes with %d commit(s) the gateway never answered: "
                  "their usage is not counted", commits)


# The event names a client remembers having warned about, at most.
MAX_WARNED_EVENTS = 1_000


class Shared:
    """State both clients keep: options, fail mode, and the writes left to send again."""

    def __init__(self, api_key: Optional[str], base_url: Optional[str], timeout: float,
                 attempt_timeout: Optional[float], max_retries: int, fail_mode: FailMode,
                 user_token: Optional[str]) -> None:
        self._config = config(api_key, base_url, timeout, attempt_timeout, max_retries, fail_mode,
                              user_token)
        self._fail_mode: FailMode = fail_mode
        self._orphans = Orphans()
        self._warned_events: Set[str] = set()

    @property
    def base_url(self) -> str:
        return self._config.base_url

    @property
    def fail_mode(self) -> FailMode:
        return self._fail_mode

    @property
    def pending_releases(self) -> int:
        """Reserves that may have run without an answer, and releases that got none, not yet
        sent again."""
        return self._orphans.count(commits=False)

    @property
    def pending_commits(self) -> int:
        """Commits of the integrations (and of `reservation(...)`) that got no answer, kept to
        be sent again once the gateway answers."""
        return self._orphans.count(commits=True)

    def _keep(self, call: Call[Any], attempts: Attempts[Any]) -> None:
        """Remembers a write whose answer never came, to send it again later."""
        if attempts.orphaned and call.idempotency_key and call.orphan_ttl:
            self._orphans.add(call, call.orphan_ttl, time.monotonic())
        elif attempts.kept and call.keep_ttl:
            self._orphans.add(call, call.keep_ttl, time.monotonic(), kind="resend")

    def _noticed(self, decision: Decision, event: str, run_id: Optional[str]) -> Decision:
        """Warns, once per client and event name, of a reserve allowed without any counter: no
        group of the user's plan matched the event, so nothing will be counted."""
        if (decision.allowed and not decision.counters and not decision.unchecked and run_id is None
                and event not in self._warned_events and len(self._warned_events) < MAX_WARNED_EVENTS):
            self._warned_events.add(event)
            log.warning("quota_gateway: a reserve of %r was allowed with no counter: no group of the user's plan "
                        "matches that event, so it counts nothing (check the plan's matches, or set its "
                        "unmatched to \"deny\")", event)
        return decision
