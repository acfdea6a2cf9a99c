"""What the sync and the async client share: options, and how one attempt's outcome is read."""

from __future__ import annotations

import os
from typing import Any, Optional, TypeVar

import httpx

from ._core import Attempts, Config, Step
from ._orphans import Orphans

T = TypeVar("T")
DEFAULT_URL = "http://127.0.0.1:8080"


class _Keep:
    """`parent_id` left out: the subscription keeps its parent (None removes it)."""

    def __repr__(self) -> str:
        return "KEEP"


KEEP: Any = _Keep()


def config(api_key: Optional[str], base_url: Optional[str], timeout: float,
           attempt_timeout: Optional[float], max_retries: int, fail_mode: str,
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


class Shared:
    """State both clients keep: options, fail mode and the reserves left to release."""

    def __init__(self, api_key: Optional[str], base_url: Optional[str], timeout: float,
                 attempt_timeout: Optional[float], max_retries: int, fail_mode: str,
                 user_token: Optional[str]) -> None:
        self._config = config(api_key, base_url, timeout, attempt_timeout, max_retries, fail_mode,
                              user_token)
        self._fail_mode = fail_mode
        self._orphans = Orphans()

    @property
    def base_url(self) -> str:
        return self._config.base_url

    @property
    def fail_mode(self) -> str:
        return self._fail_mode

    @property
    def pending_releases(self) -> int:
        """Reserves that may have run without an answer, not yet released."""
        return len(self._orphans)
