"""The one spend policy: how a hold settles once the work it paid for has ended, however it
ended. No I/O: `_settle.py` carries the settlement out, for the sync client and the async one.

- The provider reported its usage: commit that.
- The provider was called and its usage is unknown (a broken stream, a cancelled call, a
  timeout after the request was sent): commit the hold, never zero, since the provider may have
  spent all of it.
- The provider was never reached, or answered an error status: release.
- A `with` block that said what it used (`r.commit(n)`) and then raised: commit `n`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Dict, Iterator, Literal, Optional, Union

# Where the provider stands: not called (or it refused: an error status), or called.
Reach = Literal["not_called", "refused", "called"]

# Exceptions (the error or one of its causes) that say the request never left: the
# connection was refused, the name did not resolve, no connection was free.
NOT_SENT = frozenset({"ConnectError", "ConnectTimeout", "ConnectionRefusedError", "PoolTimeout",
                      "UnsupportedProtocol", "gaierror"})
# Words in an exception's name (or a cause's) that say a request may have been sent and its
# answer lost: a timeout while reading, a connection dropped mid-way.
LOST_ANSWER = ("Timeout", "Connection", "Protocol", "ReadError", "WriteError", "Incomplete", "Closed")


@dataclass(frozen=True)
class Commit:
    """Count `quantity`; `unknown` when it is the hold, for usage no one reported; with
    `outcome`, what the output came to, when the caller said."""

    quantity: float
    metadata: Dict[str, Any] = field(default_factory=dict)
    unknown: bool = False
    outcome: Optional[str] = None


@dataclass(frozen=True)
class Release:
    """Give the hold back: nothing was spent."""


Settlement = Union[Commit, Release]


def _chain(error: BaseException) -> Iterator[BaseException]:
    """The error and what caused it, at most 8 deep (a cycle ends it too)."""
    seen = 0
    current: Optional[BaseException] = error
    while current is not None and seen < 8:
        yield current
        seen += 1
        current = current.__cause__ or current.__context__


def _status(error: BaseException) -> Optional[int]:
    """The HTTP status the provider answered with, when the error carries one (the OpenAI and
    Anthropic clients' `status_code`, httpx's `response.status_code`)."""
    for candidate in (error, getattr(error, "response", None)):
        status = getattr(candidate, "status_code", None)
        if isinstance(status, int) and not isinstance(status, bool):
            return status
    return None


def reach_of(error: BaseException) -> Reach:
    """Where an exception raised by the provider's call leaves the provider.

    An interruption (`asyncio.CancelledError`, `KeyboardInterrupt`, a closed generator) may
    have come after the request left: called. An error status (4xx or 5xx) is a refusal. A
    refused connection never reached it. A timeout or a dropped connection may have been sent:
    called. Anything else (a bad argument, raised before any request) did not reach it.
    """
    if not isinstance(error, Exception):
        return "called"
    status = _status(error)
    if status is not None:
        return "refused" if status >= 400 else "called"
    names = [type(e).__name__ for e in _chain(error)]
    if any(name in NOT_SENT for name in names):
        return "not_called"
    if any(isinstance(e, (TimeoutError, ConnectionError)) for e in _chain(error)):
        return "called"
    if any(word in name for name in names for word in LOST_ANSWER):
        return "called"
    return "not_called"


class Spend:
    """What one held call has done so far, and how it settles, once.

    A caller tells it what happens (`answered`, `reported`, `failed`, `ran`) and asks
    `settle()` once the work has ended; every later `settle()` answers None.
    """

    def __init__(self, held: float, metadata: Optional[Dict[str, Any]] = None) -> None:
        self.held = held
        self.metadata: Dict[str, Any] = dict(metadata or {})
        self.reach: Reach = "not_called"
        self.used: Optional[float] = None
        # What the output came to, when the caller said: on the commit.
        self.outcome: Optional[str] = None
        self.done = False

    def answered(self) -> None:
        """The provider answered (a completion, or a stream's first bytes): it was called."""
        self.reach = "called"

    def reported(self, used: Optional[float], metadata: Optional[Dict[str, Any]] = None) -> None:
        """The usage the provider (or the caller) reported; None keeps the hold as the amount,
        the caller having said the work was done."""
        self.used = self.held if used is None else used
        if metadata:
            self.metadata.update(metadata)

    def failed(self, error: BaseException) -> None:
        """The call or its stream raised. Once answered, it stays called whatever follows."""
        if self.reach != "called":
            self.reach = reach_of(error)

    def settle(self) -> Optional[Settlement]:
        """The settlement, the first time; None after."""
        if self.done:
            return None
        self.done = True
        if self.used is not None:
            return Commit(self.used, self.metadata, outcome=self.outcome)
        if self.reach == "called":
            return Commit(self.held, self.metadata, unknown=True, outcome=self.outcome)
        return Release()
