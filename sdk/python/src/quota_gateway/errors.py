"""The exceptions of the package, and its one warning.

Every failure of a call is a `QuotaGatewayError`; a denial is an answer, not an error, except
in `reservation(...)` and the integrations, which raise `QuotaExceeded` so no work runs unpaid,
or `QuotaUnavailable` (a `QuotaExceeded`) when the gateway gave no decision at all.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, List, Optional

if TYPE_CHECKING:
    from .decision import Counter, Denied, Reason


class QuotaGatewayError(Exception):
    """An answer of the gateway that is not a success, or no answer at all.

    `code` is the gateway's stable snake_case code (RFC 9457 problem+json `code`), or
    `backend_unavailable` when the gateway could not be reached or a proxy answered for it
    (`status` 0 for no answer at all). `field` names the request field at fault for
    `invalid_request`; `request_id` is the one to quote in a bug report.
    """

    def __init__(
        self,
        code: str,
        status: int,
        detail: str,
        *,
        field: Optional[str] = None,
        request_id: Optional[str] = None,
        problems: Optional[List[Any]] = None,
    ) -> None:
        super().__init__(f"{code}: {detail}")
        self.code = code
        self.status = status
        self.detail = detail
        self.field = field
        self.request_id = request_id
        self.problems: List[Any] = problems or []
        # Seconds the answer's Retry-After asked to wait (a 429 or 503), when it had one.
        self.retry_after: Optional[float] = None

    @property
    def unavailable(self) -> bool:
        """True when the gateway gave no decision: no answer, a proxy's, 429 or a 5xx."""
        return (self.code == "backend_unavailable" or self.status == 0 or self.status == 429
                or self.status >= 500)

    def __repr__(self) -> str:
        return f"QuotaGatewayError(code={self.code!r}, status={self.status}, detail={self.detail!r})"


class QuotaExceeded(Exception):
    """A reserve was denied (by a quota, a block, or a gateway that could not decide)."""

    def __init__(self, decision: Denied, message: Optional[str] = None) -> None:
        super().__init__(message or "quota exceeded: " + ", ".join(decision.reasons))
        self.decision = decision
        self.reasons: List[Reason] = list(decision.reasons)
        self.denied_by: List[str] = list(decision.denied_by)
        self.counters: List[Counter] = list(decision.counters)
        self.retry_after: Optional[int] = decision.retry_after


# Seconds to wait before asking again when the gateway gave no decision and no Retry-After.
UNAVAILABLE_RETRY_AFTER = 1


class QuotaUnavailable(QuotaExceeded):
    """The gateway gave no decision (unreachable, timing out, a proxy's error page) and
    `fail_mode="closed"` denied: an outage, not the user's quota. Tell the user to try again
    in `retry_after` seconds, not to upgrade. A `QuotaExceeded`, so code that catches that
    still stops the unpaid work."""

    retry_after: int

    def __init__(self, decision: Denied) -> None:
        after = decision.retry_after if decision.retry_after is not None else UNAVAILABLE_RETRY_AFTER
        super().__init__(decision, f"quota gateway unavailable: no decision was made, so fail_mode=\"closed\" "
                                   f"denied; try again in {after} s")
        self.retry_after = after


def denial_error(decision: Denied) -> QuotaExceeded:
    """The exception for a denial: `QuotaUnavailable` when the gateway gave no decision, else
    `QuotaExceeded`."""
    if "backend_unavailable" in decision.reasons:
        return QuotaUnavailable(decision)
    return QuotaExceeded(decision)


class RefundEventWarning(UserWarning):
    """A `track` of an event ending in `.refund`: code written for `@vevee/sdk` refunds so, but
    here a track only ever adds. Reserve a bound and commit the actual amount instead."""
