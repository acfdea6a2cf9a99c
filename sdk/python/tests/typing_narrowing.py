"""Checked by mypy --strict in run-tests (not a pytest module): `allowed` narrows a decision,
so a reservation id is a str exactly where the reserve was admitted."""

from __future__ import annotations

from quota_gateway import AsyncQuotaGateway, QuotaExceeded, QuotaGateway


def admitted_id(qg: QuotaGateway) -> str:
    decision = qg.reserve("u", "e")
    if not decision.allowed:
        raise QuotaExceeded(decision)
    return decision.reservation_id


async def denied_has_none(aqg: AsyncQuotaGateway) -> None:
    decision = await aqg.reserve("u", "e")
    if not decision.allowed:
        assert decision.reservation_id is None
