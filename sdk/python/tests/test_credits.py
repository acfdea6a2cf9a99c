"""Credits against the real gateway, on both clients: grants, their burn order, voids and
balances; idempotent grants; reserves denied for `insufficient_balance`; debt, and the grant
that pays it; the error a bad grant raises; and a balance plan with every field of the plan
document, read and put back unchanged."""

from __future__ import annotations

import dataclasses
from datetime import datetime, timedelta, timezone
from typing import Any, Callable, Dict, List, Optional, Tuple

import pytest
from both import Both
from conftest import Env

from quota_gateway import Allowed, Counter, Denied, QuotaGatewayError, SoonestExpiry
from quota_gateway._load import camel
from quota_gateway.types import Allowance, Plan, PlanGroup, Rollover

PRICED: List[Dict[str, Any]] = [
    {"event": "image.render", "metadata": {"model": "flux-pro"}, "measure": {"rate": 10}},
    {"event": "image.render"},
]


def credit_plan(plan_id: str, overdraft: Optional[float] = None) -> Plan:
    """A quota of renders, and a balance of credits that a flux-pro render costs 10 of (any
    other render 1): a reserve holds both, all or nothing."""
    return Plan([PlanGroup("renders", "count", 100, [{"event": "image.render"}]),
                 PlanGroup("credits", None, None, PRICED, balance="credits", overdraft=overdraft)],
                id=plan_id, period_type="month")


async def on_credits(client: Both, user: str, overdraft: Optional[float] = None) -> None:
    await client.put_plan(credit_plan(f"plan_{user}", overdraft))
    await client.upsert_subscription(user, f"plan_{user}")


def group(counters: List[Counter], group_id: str) -> Counter:
    return next(c for c in counters if c.group_id == group_id)


def at(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


async def test_a_balance_plan_round_trips_through_the_plan_methods(client: Both, fresh_user: Callable[..., str]) -> None:
    pid = f"plan_{fresh_user()}"
    stored = await client.put_plan(credit_plan(pid, overdraft=50))
    credits = stored.groups[1]
    assert (credits.balance, credits.overdraft, credits.quota) == ("credits", 50, None)
    assert credits.matches[0]["measure"] == {"rate": 10}
    assert (await client.get_plan(pid)).groups == stored.groups, "a balance group without quota or unit reads back"


def every_field_plan(plan_id: str) -> Dict[str, Any]:
    """A plan that sets every field the gateway's plan document has: a quota group with all of
    its own, and a balance group with an allowance that rolls over and low-balance alerts."""
    return {
        "id": plan_id, "name": "Every field", "periodType": "month", "periodAnchor": "subscription_start",
        "unmatched": "deny", "alerts": [50, 100],
        "groups": [
            {"id": "renders", "label": "Renders", "unit": "count", "quota": 100, "per": "model", "mode": "soft",
             "period": {"type": "day", "every": 2, "anchor": "calendar"}, "measure": {"metadata": "images"},
             "onPlanChange": "reset", "alerts": [90], "matches": [{"event": "image.render"}]},
            {"id": "credits", "label": "Credits", "unit": "cents", "balance": "credits", "overdraft": 12.5,
             "allowance": {"amount": 1000, "rollover": {"max": 250.5}}, "lowBalance": [100, 10],
             "mode": "hard", "period": {"type": "month"}, "measure": {"weights": {"input": 0.5, "output": 2}},
             "onPlanChange": "carry", "matches": PRICED},
        ],
    }


def test_plan_dataclasses_have_every_field_of_the_gateways_plan_document(env: Env) -> None:
    # A field the gateway adds to its plan document and these dataclasses lack would be dropped
    # by every plan read and put back: held to the gateway's own OpenAPI document.
    schemas = env.call("GET", "/openapi.json")["components"]["schemas"]
    for cls, schema in ((Plan, "PlanDoc"), (PlanGroup, "GroupDoc"), (Allowance, "AllowanceDoc"),
                        (Rollover, "RolloverDoc")):
        ours = {camel(f.name) for f in dataclasses.fields(cls)}
        assert set(schemas[schema]["properties"]) <= ours, f"{cls.__name__} lacks fields of {schema}"


async def test_a_plan_with_every_field_reads_and_puts_back_unchanged(
        client: Both, env: Env, fresh_user: Callable[..., str]) -> None:
    pid = f"plan_{fresh_user()}"
    env.call("PUT", f"/v1/plans/{pid}", every_field_plan(pid))
    wire = env.call("GET", f"/v1/plans/{pid}")
    plan: Plan = await client.get_plan(pid)
    credits = plan.groups[1]
    assert (credits.balance, credits.overdraft, credits.low_balance) == ("credits", 12.5, [100, 10])
    assert credits.allowance == Allowance(1000, Rollover(250.5))
    assert credits.allowance.rollover and credits.allowance.rollover.max == 250.5
    assert (plan.groups[0].per, plan.groups[0].on_plan_change, plan.period_anchor) == ("model", "reset", "subscription_start")

    # The gateway keeps the version of a plan put back unchanged: a dropped field would be a new one.
    assert (await client.put_plan(plan)).version == wire["version"]
    again = env.call("GET", f"/v1/plans/{pid}")
    assert again == wire == {**every_field_plan(pid), "version": wire["version"]}, "no field dropped or changed"


async def test_grants_are_listed_in_burn_order_voided_and_summed_into_balances(
        client: Both, fresh_user: Callable[..., str]) -> None:
    user = fresh_user("credits")
    await on_credits(client, user)
    now = datetime.now(timezone.utc).replace(microsecond=0)
    paid = await client.grant(user, "credits", 100, source="purchase", cost_basis=1.5,
                              metadata={"order": "o_1"})
    promo = await client.grant(user, "credits", 20, priority=10, category="promotional",
                               expires_at=now + timedelta(days=30))
    later = await client.grant(user, "credits", 5, effective_at=now + timedelta(days=1))
    assert (paid.amount, paid.remaining, paid.priority, paid.category, paid.status) == (100, 100, 50, "paid", "active")
    assert (paid.cost_basis, paid.source, paid.metadata, paid.debt_paid) == (1.5, "purchase", {"order": "o_1"}, 0)
    assert (promo.category, promo.priority, promo.expires_at and at(promo.expires_at)) == (
        "promotional", 10, now + timedelta(days=30))
    assert (later.status, at(later.effective_at)) == ("scheduled", now + timedelta(days=1))

    page = await client.list_grants(user)
    listed = page.data
    assert [g.grant_id for g in listed] == [promo.grant_id, paid.grant_id, later.grant_id], "burn order"
    assert page.next_cursor is None, "every grant in one page"
    assert [g.grant_id for g in (await client.list_grants(user, "credits")).data] == [g.grant_id for g in listed]
    assert (await client.list_grants(user, "other")).data == []

    balances = await client.balances(user)
    [balance] = balances.data
    assert balances.next_cursor is None
    assert (balance.balance, balance.available, balance.held, balance.debt) == ("credits", 120, 0, 0), \
        "a scheduled grant does not count yet"
    assert isinstance(balance.soonest_expiry, SoonestExpiry) and balance.soonest_expiry.amount == 20
    assert at(balance.soonest_expiry.at) == now + timedelta(days=30), "the promotional grant expires first"
    assert [g.grant_id for g in balance.grants] == [g.grant_id for g in listed]

    voided = await client.void_grant(user, paid.grant_id)
    assert (voided.status, voided.voided, voided.remaining) == ("voided", 100, 0)
    assert await client.void_grant(user, paid.grant_id) == voided, "a repeat answers the voided grant"
    assert [b.available for b in (await client.balances(user)).data] == [20]
    with pytest.raises(QuotaGatewayError) as missing:
        await client.void_grant(user, "g_nothing")
    assert (missing.value.code, missing.value.status) == ("grant_not_found", 404)


async def test_a_repeated_grant_grants_once(client: Both, fresh_user: Callable[..., str]) -> None:
    user = fresh_user("credits")
    await on_credits(client, user)
    payment = f"pi_{user}"
    first = await client.grant(user, "credits", 50, source="purchase", idempotency_key=payment)
    again = await client.grant(user, "credits", 50, source="purchase", idempotency_key=payment)
    assert again == first, "the repeat answers the grant first made"
    assert [b.available for b in (await client.balances(user)).data] == [50]
    with pytest.raises(QuotaGatewayError) as reused:
        await client.grant(user, "credits", 60, idempotency_key=payment)
    assert (reused.value.code, reused.value.status) == ("idempotency_key_reused", 422)
    # Without a key of the caller's, each call is a grant of its own.
    await client.grant(user, "credits", 1)
    await client.grant(user, "credits", 1)
    assert [b.available for b in (await client.balances(user)).data] == [52]


async def test_a_reserve_the_balance_cannot_cover_is_denied_for_insufficient_balance(
        client: Both, fresh_user: Callable[..., str]) -> None:
    user = fresh_user("credits")
    await on_credits(client, user)
    expires = datetime.now(timezone.utc).replace(microsecond=0) + timedelta(days=10)
    await client.grant(user, "credits", 15, expires_at=expires)

    denied = await client.reserve(user, "image.render", 2, {"model": "flux-pro"})   # 20 credits
    assert isinstance(denied, Denied)
    assert (denied.reasons, denied.denied_by) == (["insufficient_balance"], ["credits"])
    assert [(d.subject_id, d.group_id, d.reason) for d in denied.denials] == [(user, "credits", "insufficient_balance")]
    credits, renders = group(denied.counters, "credits"), group(denied.counters, "renders")
    assert (credits.balance, credits.remaining, credits.reserved, credits.debt, credits.exceeded) == (
        "credits", 15, 0, 0, False)
    assert credits.soonest_expiry and credits.soonest_expiry.amount == 15 and at(credits.soonest_expiry.at) == expires
    assert (renders.balance, renders.debt, renders.soonest_expiry, renders.reserved) == (None, None, None, 0), \
        "a quota's counter has none of a balance's fields, and the denial held nothing of it"
    check = await client.can_use(user, "image.render", 2, {"model": "flux-pro"})
    assert (check.allowed, check.reasons) == (False, ["insufficient_balance"])

    held = await client.reserve(user, "image.render", 1, {"model": "flux-pro"})   # 10 credits
    assert isinstance(held, Allowed)
    assert (group(held.counters, "credits").remaining, group(held.counters, "credits").reserved) == (5, 10)
    assert [(b.available, b.held) for b in (await client.balances(user)).data] == [(5, 10)]
    released = await client.release(held.reservation_id)
    assert (group(released.counters, "credits").remaining, group(released.counters, "credits").reserved) == (15, 0)
    cheap = await client.reserve(user, "image.render", 5, {"model": "schnell"})   # 1 credit each
    assert isinstance(cheap, Allowed) and group(cheap.counters, "credits").reserved == 5


async def test_a_commit_above_the_balance_is_debt_which_the_next_grant_pays(
        client: Both, fresh_user: Callable[..., str]) -> None:
    user = fresh_user("credits")
    await on_credits(client, user)
    await client.grant(user, "credits", 25)
    held = await client.reserve(user, "image.render", 1, {"model": "flux-pro"})
    assert isinstance(held, Allowed)
    committed = await client.commit(held.reservation_id, 5)   # 50 credits: never denied after the fact
    credits = group(committed.counters, "credits")
    assert (committed.status, credits.debt, credits.remaining, credits.exceeded) == ("committed", 25, 0, True)
    assert "credits" in committed.over_quota
    assert [(b.available, b.debt) for b in (await client.balances(user)).data] == [(0, 25)]
    assert (await client.reserve(user, "image.render", 1)).reasons == ["insufficient_balance"]

    topped = await client.grant(user, "credits", 30)
    assert (topped.debt_paid, topped.remaining, topped.consumed) == (25, 5, 25)
    [balance] = (await client.balances(user)).data
    assert (balance.available, balance.debt) == (5, 0)
    tracked = await client.track(user, "image.render", 2)
    assert (group(tracked.counters, "credits").remaining, group(tracked.counters, "credits").debt) == (3, 0)


async def test_an_overdraft_lets_reserves_go_that_far_below_zero(client: Both, fresh_user: Callable[..., str]) -> None:
    user = fresh_user("credits")
    await on_credits(client, user, overdraft=50)
    first = await client.reserve(user, "image.render", 4, {"model": "flux-pro"})   # 40 of the 50
    assert first.allowed
    assert (await client.reserve(user, "image.render", 2, {"model": "flux-pro"})).reasons == ["insufficient_balance"]


async def test_a_bad_grant_raises_the_error_naming_its_field(client: Both, fresh_user: Callable[..., str]) -> None:
    user = fresh_user("credits")
    now = datetime.now(timezone.utc)
    cases: List[Tuple[Dict[str, Any], str]] = [
        ({"amount": 0}, "amount"),
        ({"priority": 101}, "priority"),
        ({"category": "free"}, "category"),
        ({"source": ""}, "source"),
        ({"effective_at": now + timedelta(days=2), "expires_at": now + timedelta(days=1)}, "expiresAt"),
        ({"balance": "no spaces"}, "balance"),
    ]
    for kwargs, field in cases:
        args = {"balance": "credits", "amount": 1, **kwargs}
        with pytest.raises(QuotaGatewayError) as bad:
            await client.grant(user, args.pop("balance"), args.pop("amount"), **args)
        assert (bad.value.code, bad.value.status, bad.value.field) == ("invalid_request", 400, field), kwargs
        assert bad.value.request_id


async def test_the_summary_adds_up_the_ledgers_credits_paid_and_promotional_apart(
        client: Both, fresh_user: Callable[..., str]) -> None:
    user = fresh_user("summary")
    await on_credits(client, user)
    await client.grant(user, "credits", 10, category="promotional")
    await client.grant(user, "credits", 100, cost_basis=2)
    for _ in range(2):
        held = await client.reserve(user, "image.render", 1, {"model": "flux-pro"})
        assert isinstance(held, Allowed)
        await client.commit(held.reservation_id)
    summary = await client.balances_summary(balance="credits", user_id=user,
                                            from_=datetime.now(timezone.utc) - timedelta(hours=1))
    assert (summary.promotional.granted, summary.promotional.burned) == (10, 10)
    assert (summary.paid.granted, summary.paid.burned, summary.paid.outstanding, summary.paid.revenue_cents) == (
        100, 10, 90, 20)
    assert (summary.balance, summary.truncated, summary.debt_added) == ("credits", False, 0)
