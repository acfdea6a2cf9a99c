"""The request logic without I/O, driven by the sync runner and the async one alike.

A `Call` says what to send and how to read the answer; `Attempts` turns each outcome of an
attempt (an answer, or a failure to get one) into the next step: done, fail, or wait and try
again. Both runners only send what it plans and sleep what it says, so they cannot drift.
"""

from __future__ import annotations

import email.utils
import json
import random
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, Generic, Mapping, Optional, TypeVar, Union
from urllib.parse import urlencode

from .errors import QuotaGatewayError

T = TypeVar("T")

USER_AGENT = "quota-gateway-python/0.2.0"
# Answers a proxy or the gateway gives while it cannot decide: retried, whatever the body.
RETRY_STATUSES = frozenset({429, 502, 503, 504})
# A gateway that never received the request cannot have run it.
NOT_RECEIVED_STATUSES = frozenset({429})


@dataclass(frozen=True)
class Config:
    base_url: str
    api_key: str
    user_token: Optional[str] = None
    # One deadline for the whole call, every retry included.
    timeout: float = 5.0
    # Each attempt gives up sooner, so a hung attempt leaves time for a retry.
    attempt_timeout: float = 2.0
    max_retries: int = 3
    backoff_base: float = 0.1
    backoff_cap: float = 2.0


@dataclass(frozen=True)
class Call(Generic[T]):
    method: str
    path: str
    parse: Callable[[Any, Mapping[str, str]], T]
    body: Any = None
    query: Optional[Mapping[str, str]] = None
    idempotency_key: Optional[str] = None
    # A repeat does no harm: the gateway deduplicates it (Idempotency-Key) or the route is
    # idempotent. Other writes are retried only when the request cannot have arrived.
    replayable: bool = True
    # The answer instead of an error when the gateway gave none (reserve's fail mode).
    fallback: Optional[Callable[[QuotaGatewayError], T]] = None
    # Answered without calling the gateway (a commit of an unchecked reservation).
    local: Optional[Callable[[], T]] = None
    # A reserve: if it may have run but no answer came, it is released later by its key.
    orphan_ttl: Optional[float] = None
    # A commit or release that settles a hold: if no answer came, it is sent again later, as
    # it was, for this many seconds.
    keep_ttl: Optional[float] = None
    # The media type asked for instead of JSON (a simulation's CSV): `parse` gets the text.
    accept: Optional[str] = None
    overrides: Dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class Request:
    method: str
    url: str
    headers: Dict[str, str]
    content: Optional[bytes]
    timeout: float


@dataclass(frozen=True)
class Done(Generic[T]):
    value: T


@dataclass(frozen=True)
class Retry:
    delay: float


@dataclass(frozen=True)
class Fail:
    error: QuotaGatewayError


Step = Union[Done[T], Retry, Fail]


def unavailable(detail: str, status: int = 0) -> QuotaGatewayError:
    return QuotaGatewayError("backend_unavailable", status, detail)


def retry_after(value: Optional[str], now_wall: float) -> Optional[float]:
    """`Retry-After` in seconds: a number, or an HTTP date."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        return max(0.0, email.utils.parsedate_to_datetime(value).timestamp() - now_wall)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None


def problem(status: int, headers: Mapping[str, str], content: bytes) -> QuotaGatewayError:
    """The error an answer stands for: its problem+json, else what its status says."""
    body: Any = None
    try:
        body = json.loads(content) if content else None
    except ValueError:
        body = None
    if not isinstance(body, dict) or not isinstance(body.get("code"), str):
        # A proxy's page (HTML, text, anything): the gateway did not answer.
        code = "backend_unavailable" if status in (502, 503, 504) else f"http_{status}"
        error = QuotaGatewayError(code, status, f"HTTP {status} without a problem+json body",
                                  request_id=headers.get("x-request-id"))
    else:
        field_name = body.get("field")
        problems = body.get("problems")
        error = QuotaGatewayError(
            body["code"],
            status,
            str(body.get("detail", "")),
            field=field_name if isinstance(field_name, str) else None,
            request_id=body.get("requestId") or headers.get("x-request-id"),
            problems=problems if isinstance(problems, list) else None,
        )
    error.retry_after = retry_after(headers.get("retry-after"), time.time())
    return error


class Attempts(Generic[T]):
    """The attempts of one call: what to send next, and what each outcome leads to."""

    def __init__(self, config: Config, call: Call[T], now: float,
                 rand: Callable[[], float] = random.random) -> None:
        self.config = config
        self.call = call
        self.deadline = now + call.overrides.get("timeout", config.timeout)
        self.max_retries = int(call.overrides.get("max_retries", config.max_retries))
        self.rand = rand
        self.attempt = 0
        # Some attempt reached the gateway, or may have, without an answer from it.
        self.uncertain = False
        self.succeeded = False
        self.last = unavailable("the gateway was not called")

    @property
    def orphaned(self) -> bool:
        """A reserve that may have run, whose answer never came."""
        return self.call.orphan_ttl is not None and self.uncertain and not self.succeeded

    @property
    def kept(self) -> bool:
        """A settling commit or release that got no answer: to be sent again."""
        return self.call.keep_ttl is not None and not self.succeeded and (self.uncertain or self.last.unavailable)

    def lost(self, in_flight: bool) -> None:
        """The call was interrupted (a cancelled task, KeyboardInterrupt): an attempt on its way
        may have arrived, and whatever answer came, the caller never gets it."""
        if in_flight:
            self.uncertain = True
        self.succeeded = False

    def request(self, now: float) -> Union[Request, Done[T], Fail]:
        remaining = self.deadline - now
        if remaining <= 0.001:
            return self._final(self.last)
        self.attempt += 1
        c = self.config
        headers = {"Authorization": f"Bearer {c.api_key}", "Accept": self.call.accept or "application/json",
                   "User-Agent": USER_AGENT}
        content = None
        if self.call.body is not None:
            headers["Content-Type"] = "application/json"
            content = json.dumps(self.call.body, separators=(",", ":")).encode()
        if self.call.idempotency_key:
            headers["Idempotency-Key"] = self.call.idempotency_key
        if c.user_token:
            headers["X-User-Token"] = c.user_token
        url = c.base_url + self.call.path
        if self.call.query:
            url += "?" + urlencode(self.call.query)
        timeout = min(self.call.overrides.get("attempt_timeout", c.attempt_timeout), remaining)
        return Request(self.call.method, url, headers, content, timeout)

    def on_failure(self, sent: bool, detail: str, now: float) -> Step[T]:
        """No answer: `sent` is false when the request cannot have left (connect refused)."""
        self.last = unavailable(detail)
        if sent:
            self.uncertain = True
        return self._again(now, None, safe=not sent)

    def on_answer(self, status: int, headers: Mapping[str, str], content: bytes,
                  now: float) -> Step[T]:
        lower = {k.lower(): v for k, v in headers.items()}
        if 200 <= status < 300:
            try:
                value = self.call.parse(self._body(status, lower, content), lower)
            except (ValueError, TypeError, KeyError) as err:
                # Not the gateway's answer (a proxy's 200 page) or not one we can read.
                self.uncertain = True
                self.last = unavailable(f"an answer that is not the gateway's: {err}", status)
                return self._fail(self.last)
            self.succeeded = True
            return Done(value)
        error = problem(status, lower, content)
        self.last = error
        if status in RETRY_STATUSES:
            if status not in NOT_RECEIVED_STATUSES:
                self.uncertain = True
            wait = retry_after(lower.get("retry-after"), time.time())
            return self._again(now, wait, safe=status in NOT_RECEIVED_STATUSES)
        if status >= 500:
            self.uncertain = True
        return self._fail(error)

    def _body(self, status: int, headers: Mapping[str, str], content: bytes) -> Any:
        """A success's body: JSON, or the text of the media type the call asked for; a ValueError
        when it is neither (not the gateway's answer)."""
        accept = self.call.accept
        if accept is None:
            return json.loads(content) if content and status != 204 else None
        if not headers.get("content-type", "").startswith(accept):
            raise ValueError(f"not {accept}")
        return content.decode("utf-8")

    def _again(self, now: float, wait: Optional[float], safe: bool) -> Step[T]:
        if not (safe or self.call.replayable) or self.attempt > self.max_retries:
            return self._fail(self.last)
        ceiling = min(self.config.backoff_cap, self.config.backoff_base * 2 ** (self.attempt - 1))
        delay = self.rand() * ceiling
        if wait is not None:
            delay = max(delay, wait)
        if now + delay >= self.deadline:
            return self._fail(self.last)
        return Retry(delay)

    def _fail(self, error: QuotaGatewayError) -> Step[T]:
        return self._final(error)

    def _final(self, error: QuotaGatewayError) -> Union[Done[T], Fail]:
        if self.call.fallback is not None and error.unavailable:
            return Done(self.call.fallback(error))
        return Fail(error)
