"""The two exceptions of the package, and its one warning.

Every failure of a call is a `QuotaGatewayError`; a denial is an answer, not an error, except
in `reservation(...)`, which raises `QuotaExceeded` so a `with` block never runs unpaid.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, List, Optional

if TYPE_CHECKING:
    from .types import Counter, Denied


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

    @property
    def unavailable(self) -> bool:
        """True when the gateway gave no decision: no answer, a proxy's, 429 or a 5xx."""
        return (self.code == "backend_unavailable" or self.status == 0 or self.status == 429
                or self.status >= 500)

    def __repr__(self) -> str:
        return f"QuotaGatewayError(code={self.code!r}, status={self.status}, detail={self.detail!r})"


class QuotaExceeded(Exception):
    """A reserve was denied (by a quota, a block, or a gateway that could not decide)."""

    def __init__(self, decision: Denied) -> None:
        super().__init__("quota exceeded: " + ", ".join(decision.reasons))
        self.decision = decision
        self.reasons: List[str] = list(decision.reasons)
        self.denied_by: List[str] = list(decision.denied_by)
        self.counters: List[Counter] = list(decision.counters)
        self.retry_after: Optional[int] = decision.retry_after


class RefundEventWarning(UserWarning):
    """A `track` of an event ending in `.refund`: code written for `@vevee/sdk` refunds so, but
    here a track only ever adds. Reserve a bound and commit the actual amount instead."""
