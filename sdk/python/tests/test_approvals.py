"""Approval gates and per-value counters against the real gateway, on both clients: a denial
that opens an approval request (`approval_pending`, naming it), listing (each request naming
whom to ask), approving (the quota it raises) and declining it, deciding twice; counters and
ledger entries of a per-value group naming their value, and `too_many_values` past 64 values; an
override of one value's quota; a per-value approval group's request per value, each decided on
its own."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta, timezone
from typing import Awaitable, Callable, Dict, List, Optional

import pytest
from both import Both
from conftest import Env
from standin import Forward, Seen, StandIn

from quota_gateway import (Allowed, Approval, ApprovalPage, AsyncQuotaGateway, Denied, QuotaGateway,
                           QuotaGatewayError, _calls)
from quota_gateway.types import Plan, PlanGroup


def gated_plan(plan_id: str, quota: float) -> Plan:
    """Launches behind an approval, answered for by the group's own owner over the plan's."""
    return Plan([PlanGroup("launches", "count", quota, [{"event": "campaign.launch"}], mode="approval",
                           owner="Dana (marketing)", review_every="week")],
                id=plan_id, period_type="month", owner="growth-team", review_every="month")


def per_model_plan(plan_id: str, quota: float) -> Plan:
    return Plan([PlanGroup("renders", "count", quota, [{"event": "image.render"}], per="model")],
                id=plan_id, period_type="month")


async def on_plan(client: Both, user: str, plan: Plan) -> None:
    await client.put_plan(plan)
    await client.upsert_subscription(user, plan.id or "")


async def launches(client: Both, user: str, n: int) -> List[bool]:
    return [(await client.reserve(user, "campaign.launch")).allowed for _ in range(n)]


async def listed(client: Both, user: str, status: Optional[str] = None) -> Approval:
    """The user's request of `status`, following every page (a denial that found a request
    pending may answer a moment before the list has it, so this waits a little)."""
    for _ in range(100):
        cursor = None
        while True:
            page: ApprovalPage = await client.list_approvals(status=status, user_id=user, cursor=cursor, limit=100)
            if page.data:
                return page.data[0]
            cursor = page.next_cursor
            if cursor is None:
                break
        await asyncio.sleep(0.05)
    raise AssertionError(f"no {status or ''} approval request of {user} was listed")


async def pending_request(client: Both, user: str) -> str:
    """Two launches fit the quota of 2; the third is denied, opening one request."""
    assert await launches(client, user, 2) == [True, True]
    denied = await client.reserve(user, "campaign.launch")
    assert isinstance(denied, Denied)
    assert (denied.reasons, denied.denied_by) == (["approval_pending"], ["launches"])
    [denial] = denied.denials
    assert (denial.subject_id, denial.group_id, denial.reason) == (user, "launches", "approval_pending")
    assert denial.approval_id
    return denial.approval_id


async def test_an_approval_request_is_listed_approved_up_to_its_quota_and_decided_once(
        client: Both, fresh_user: Callable[..., str]) -> None:
    user = fresh_user("gate")
    await on_plan(client, user, gated_plan(f"plan_{user}", 2))
    approval_id = await pending_request(client, user)
    again = await client.reserve(user, "campaign.launch")
    assert [d.approval_id for d in again.denials] == [approval_id], "one request a period, however many denials"

    request = await listed(client, user, "pending")
    assert (request.approval_id, request.user_id, request.group_id, request.status) == (
        approval_id, user, "launches", "pending")
    assert request.value is None, "a group without per names no value"
    assert (request.plan_id, request.owner, request.review_every) == (f"plan_{user}", "Dana (marketing)", "week"), \
        "whom to ask: the group's owner over the plan's"
    assert (request.event, request.amount, request.used, request.reserved, request.quota) == (
        "campaign.launch", 1, 0, 2, 2)
    assert request.period_start and request.resets_at and request.requested_at
    assert (request.decided_at, request.approved_quota, request.reason, request.decided_by) == (None,) * 4
    assert await client.get_approval(approval_id) == request

    approved = await client.approve(approval_id, 5)
    assert (approved.status, approved.approved_quota, approved.expires_at) == ("approved", 5, request.resets_at)
    assert (approved.plan_id, approved.owner, approved.review_every) == (request.plan_id, request.owner,
                                                                          request.review_every)
    # decided_by is the deciding key's label: the tests' keys have none, so it stays None.
    assert approved.decided_at
    assert await launches(client, user, 4) == [True, True, True, False], "admitted up to 5 in total"
    over = await client.reserve(user, "campaign.launch")
    assert over.reasons == ["limit_reached"], "past the approved quota the group is hard, with no new request"
    assert (await client.get_approval(approval_id)).status == "approved"
    assert (await listed(client, user, "approved")).approval_id == approval_id

    with pytest.raises(QuotaGatewayError) as decided:
        await client.approve(approval_id, 9)
    assert (decided.value.code, decided.value.status) == ("approval_decided", 409)
    with pytest.raises(QuotaGatewayError) as also:
        await client.decline(approval_id, "too late")
    assert also.value.code == "approval_decided"


async def test_a_declined_request_keeps_the_group_hard(client: Both, fresh_user: Callable[..., str]) -> None:
    user = fresh_user("gate")
    await on_plan(client, user, gated_plan(f"plan_{user}", 2))
    approval_id = await pending_request(client, user)
    await listed(client, user, "pending")
    with pytest.raises(QuotaGatewayError) as bad:
        await client.decline(approval_id, " ")
    assert (bad.value.code, bad.value.status, bad.value.field) == ("invalid_request", 400, "reason")

    declined = await client.decline(approval_id, "campaign not reviewed")
    assert (declined.status, declined.reason, declined.approved_quota) == ("declined", "campaign not reviewed", None)
    assert (await client.reserve(user, "campaign.launch")).reasons == ["limit_reached"]
    assert (await listed(client, user, "declined")) == declined
    page = await client.list_approvals(status="pending", user_id=user, limit=500)
    assert all(a.approval_id != approval_id for a in page.data)


async def test_unknown_requests_and_a_bad_status_raise(client: Both) -> None:
    calls: List[Callable[[], Awaitable[Approval]]] = [
        lambda: client.get_approval("apr_nothing"), lambda: client.approve("apr_nothing", 3),
        lambda: client.decline("apr_nothing", "no")]
    for call in calls:
        with pytest.raises(QuotaGatewayError) as missing:
            await call()
        assert (missing.value.code, missing.value.status) == ("approval_not_found", 404)
    with pytest.raises(QuotaGatewayError) as bad:
        await client.list_approvals(status="maybe")
    assert (bad.value.code, bad.value.field) == ("invalid_request", "status")


async def test_an_approve_whose_answer_was_lost_is_not_retried(
        client: Both, env: Env, fresh_user: Callable[..., str]) -> None:
    user = fresh_user("gate")
    await on_plan(client, user, gated_plan(f"plan_{user}", 2))
    approval_id = await pending_request(client, user)
    await listed(client, user, "pending")
    until = datetime.now(timezone.utc).replace(microsecond=0) + timedelta(hours=1)

    def lose_first_answer(n: int, _seen: Seen) -> Forward:
        return Forward(drop=n == 0)

    with StandIn(env.base_url, lose_first_answer) as proxy:
        kind = QuotaGateway if client.kind == "sync" else AsyncQuotaGateway
        proxied = kind(env.secret, base_url=proxy.url, max_retries=3)
        try:
            with pytest.raises(QuotaGatewayError) as lost:
                await Both(proxied).approve(approval_id, 4, expires_at=until)
        finally:
            if isinstance(proxied, QuotaGateway):
                proxied.close()
            else:
                await proxied.aclose()
    assert lost.value.unavailable and lost.value.code == "backend_unavailable"
    assert len(proxy.seen) == 1, "a decision that may have arrived is not sent again (it would be a 409)"
    assert proxy.keys() == [None], "the route takes no Idempotency-Key"
    decided = await client.get_approval(approval_id)
    assert (decided.status, decided.approved_quota) == ("approved", 4), "get_approval says it was decided"
    assert decided.expires_at and datetime.fromisoformat(decided.expires_at.replace("Z", "+00:00")) == until


async def test_a_per_value_group_counts_each_value_apart_and_names_it(
        client: Both, fresh_user: Callable[..., str]) -> None:
    user = fresh_user("pv")
    stored = await client.put_plan(per_model_plan(f"plan_{user}", 1))
    assert stored.groups[0].per == "model", "a fetched plan keeps per, so putting it back keeps it"
    await client.upsert_subscription(user, f"plan_{user}")

    flux = await client.reserve(user, "image.render", 1, {"model": "flux-pro"})
    assert isinstance(flux, Allowed) and [c.value for c in flux.counters] == ["flux-pro"]
    sdxl = await client.reserve(user, "image.render", 1, {"model": "sdxl"})
    assert isinstance(sdxl, Allowed) and sdxl.counters[0].value == "sdxl", "a value of its own, its own quota"
    denied = await client.reserve(user, "image.render", 1, {"model": "flux-pro"})
    assert (denied.reasons, denied.counters[0].value, denied.denials[0].approval_id) == (
        ["limit_reached"], "flux-pro", None)
    committed = await client.commit(flux.reservation_id)
    assert [(c.value, c.used) for c in committed.counters] == [("flux-pro", 1)]
    counters = sorted((c.value or "", c.used, c.reserved) for c in (await client.usage(user)).counters)
    assert counters == [("flux-pro", 1, 0), ("sdxl", 0, 1)]
    entries = (await client.list_usage_events(user_id=user)).data
    assert [(g.group_id, g.value) for e in entries for g in e.groups] == [("renders", "flux-pro")]


async def test_a_per_value_approval_group_opens_and_decides_one_request_per_value(
        client: Both, fresh_user: Callable[..., str]) -> None:
    user = fresh_user("pvgate")
    await on_plan(client, user, Plan(
        [PlanGroup("premium", "count", 1, [{"event": "image.render"}], mode="approval", per="model")],
        id=f"plan_{user}", period_type="month"))
    ids: Dict[str, str] = {}
    for model in ("flux", "sdxl"):
        assert (await client.reserve(user, "image.render", 1, {"model": model})).allowed
        denials = [await client.reserve(user, "image.render", 1, {"model": model}) for _ in range(3)]
        assert {tuple(d.reasons) for d in denials} == {("approval_pending",)}
        named = {d.denials[0].approval_id for d in denials}
        assert len(named) == 1, f"one request for {model}: {named}"
        ids[model] = named.pop() or ""
    assert ids["flux"] != ids["sdxl"]
    for _ in range(100):
        pending = (await client.list_approvals(status="pending", user_id=user)).data
        if len(pending) >= 2:
            break
        await asyncio.sleep(0.05)
    assert sorted((a.value or "", a.approval_id) for a in pending) == [("flux", ids["flux"]), ("sdxl", ids["sdxl"])]
    assert (await client.get_approval(ids["sdxl"])).value == "sdxl"

    approved = await client.approve(ids["flux"], 3)
    assert (approved.status, approved.value, approved.approved_quota) == ("approved", "flux", 3)
    declined = await client.decline(ids["sdxl"], "not on this plan")
    assert (declined.status, declined.value, declined.reason) == ("declined", "sdxl", "not on this plan")
    sub = await client.get_subscription(user)
    assert list(sub.overrides) == ["premium~flux"], "the approval is the value's override"

    # flux holds one and has room for two more; sdxl stays at its quota.
    flux = [await client.reserve(user, "image.render", 1, {"model": "flux"}) for _ in range(3)]
    assert [d.allowed for d in flux] == [True, True, False]
    assert flux[2].reasons == ["limit_reached"]
    sdxl = await client.reserve(user, "image.render", 1, {"model": "sdxl"})
    assert (sdxl.allowed, sdxl.reasons, sdxl.counters[0].value) == (False, ["limit_reached"], "sdxl")
    assert (await client.list_approvals(status="pending", user_id=user)).data == []


async def test_a_65th_value_in_a_period_is_denied_for_too_many_values(
        client: Both, fresh_user: Callable[..., str]) -> None:
    user = fresh_user("pv")
    await on_plan(client, user, per_model_plan(f"plan_{user}", 10))
    for i in range(64):
        assert (await client.reserve(user, "image.render", 1, {"model": f"m{i}"})).allowed, i
    denied = await client.reserve(user, "image.render", 1, {"model": "m64"})
    assert (denied.reasons, [d.reason for d in denied.denials]) == (["too_many_values"], ["too_many_values"])
    assert (await client.reserve(user, "image.render", 1, {"model": "m0"})).allowed, "a counted value counts on"


async def test_a_value_override_sets_one_values_quota_until_it_is_removed(
        client: Both, fresh_user: Callable[..., str]) -> None:
    user = fresh_user("pv")
    plan = Plan([PlanGroup("premium", "count", 5, [{"event": "image.render"}], per="model"),
                 PlanGroup("renders", "count", 100, [{"event": "image.render"}])],
                id=f"plan_{user}", period_type="month")
    await on_plan(client, user, plan)

    async def quotas() -> Dict[Optional[str], float]:
        return {c.value: c.quota for c in (await client.usage(user)).counters if c.group_id == "premium"}

    sub = await client.set_override(user, "premium", 7, value="sdxl")
    assert {k: o.quota for k, o in sub.overrides.items()} == {"premium~sdxl": 7}, "the value's, not the group's"
    for model in ("sdxl", "flux-pro"):
        # A reserve of each makes both counters, so usage lists both.
        assert (await client.reserve(user, "image.render", 1, {"model": model})).allowed
    assert await quotas() == {"sdxl": 7, "flux-pro": 5}

    assert (await client.remove_override(user, "premium", value="sdxl")).overrides == {}
    assert await quotas() == {"sdxl": 5, "flux-pro": 5}

    with pytest.raises(QuotaGatewayError) as err:
        await client.set_override(user, "renders", 3, value="sdxl")
    assert (err.value.code, err.value.status, err.value.field) == ("invalid_request", 400, "value")
    assert "does not count per value" in err.value.detail
    with pytest.raises(QuotaGatewayError) as err:
        await client.remove_override(user, "premium", value="")
    assert (err.value.code, err.value.field) == ("invalid_request", "value"), "sent, never dropped"


def test_a_value_override_is_sent_as_the_value_query() -> None:
    put = _calls.set_override("u 1", "premium", 7, None, "a b")
    assert (put.method, put.path, put.query, put.body) == (
        "PUT", "/v1/users/u%201/overrides/premium", {"value": "a b"}, {"quota": 7})
    delete = _calls.remove_override("u", "premium", "sdxl")
    assert (delete.method, delete.query, delete.body) == ("DELETE", {"value": "sdxl"}, None)
    assert _calls.set_override("u", "g", 1, None, None).query is None
    assert _calls.remove_override("u", "g", None).query is None
    # Sent, for the gateway to refuse: dropped, it would change the whole group's override.
    assert _calls.remove_override("u", "g", "").query == {"value": ""}


def test_approve_and_decline_take_no_key_and_are_not_replayable() -> None:
    approve = _calls.approve("apr/1", 5, datetime(2027, 1, 1, 12))
    assert (approve.method, approve.path, approve.body) == (
        "POST", "/v1/approvals/apr%2F1/approve", {"quota": 5, "expiresAt": "2027-01-01T12:00:00Z"})
    assert _calls.approve("a", 2.5, None).body == {"quota": 2.5}
    decline = _calls.decline("a", "no budget")
    assert (decline.path, decline.body) == ("/v1/approvals/a/decline", {"reason": "no budget"})
    for call in (approve, decline):
        assert call.idempotency_key is None and not call.replayable
    assert _calls.list_approvals(None, None, None, None).query is None
    assert _calls.list_approvals("pending", "u 1", "c", 0).query == {
        "status": "pending", "userId": "u 1", "cursor": "c", "limit": "0"}
