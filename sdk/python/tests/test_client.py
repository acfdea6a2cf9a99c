"""Every method of both clients against the real gateway."""

from __future__ import annotations

import inspect
from pathlib import Path
from datetime import datetime, timedelta, timezone
from typing import Callable, List, Optional

import pytest
from both import Both
from conftest import Env, count_plan

import httpx

from quota_gateway import Allowed, AsyncQuotaGateway, Denied, QuotaGateway, QuotaGatewayError
from quota_gateway.types import Plan, PlanGroup, UsageEvent


def public(cls: type) -> dict[str, inspect.Signature]:
    return {name: inspect.signature(f) for name, f in inspect.getmembers(cls, inspect.isfunction)
            if not name.startswith("_") and name not in ("close", "aclose")}


def test_both_clients_have_the_same_methods_and_parameters() -> None:
    sync, aio = public(QuotaGateway), public(AsyncQuotaGateway)
    assert sorted(sync) == sorted(aio)
    for name in sync:
        assert list(sync[name].parameters) == list(aio[name].parameters), name
        for p in sync[name].parameters.values():
            assert aio[name].parameters[p.name].default == p.default, (name, p.name)
        # Context managers, and the provider clients the proxy helpers build without a call.
        made_at_once = name in ("reservation", "with_run", "openai", "anthropic", "gemini", "azure_openai",
                                "bedrock_runtime", "anthropic_bedrock", "vertex_gemini", "anthropic_vertex")
        assert inspect.iscoroutinefunction(getattr(AsyncQuotaGateway, name)) == (not made_at_once), name


async def test_reserve_commit_release_extend_track_and_reads(client: Both, subscribed: Callable[..., str]) -> None:
    user = subscribed(5)
    held = await client.reserve(user, "e", 2, {"model": "m"}, ttl_seconds=30, idempotency_key=f"k-{user}-{client.kind}")
    assert isinstance(held, Allowed) and held.reservation_id
    assert held.rate_limit and held.rate_limit_policy, "the gateway's RateLimit headers ride along"
    assert held.counters[0].reserved == 2
    again = await client.reserve(user, "e", 2, {"model": "m"}, ttl_seconds=30, idempotency_key=f"k-{user}-{client.kind}")
    assert again.reservation_id == held.reservation_id, "a repeated key answers the first answer"
    info = await client.get_reservation(held.reservation_id)
    assert (info.status, info.user_id, info.holds[0].amount) == ("held", user, 2)
    extended = await client.extend(held.reservation_id, 120)
    assert extended.expires_at > (held.expires_at or "")
    committed = await client.commit(held.reservation_id, 1.5, {"model": "m2"})
    assert (committed.status, committed.counters[0].used) == ("committed", 1.5)
    second = await client.reserve(user, "e")
    assert isinstance(second, Allowed)
    released = await client.release(second.reservation_id)
    assert released.status == "released"
    assert (await client.release(second.reservation_id)).status == "released", "a repeat answers the same"
    with pytest.raises(QuotaGatewayError) as ended:
        await client.commit(second.reservation_id)
    assert (ended.value.code, ended.value.status) == ("reservation_released", 409)
    tracked = await client.track(user, "e", 3)
    assert tracked.counters[0].used == 4.5 and tracked.over_quota == []
    denied = await client.reserve(user, "e", 1)
    assert isinstance(denied, Denied) and denied.reservation_id is None
    assert denied.reasons == ["limit_reached"] and denied.denied_by == ["g"]
    assert denied.retry_after is not None and denied.retry_after > 0
    check = await client.can_use(user, "e", 0.5)
    assert check.allowed and check.counters[0].remaining == 0.5
    usage = await client.usage(user)
    assert (usage.user_id, usage.counters[0].used, usage.counters[0].reserved) == (user, 4.5, 0)


async def test_subscriptions_overrides_blocks_and_adjustments(client: Both, env: Env, fresh_user: Callable[..., str]) -> None:
    user, parent = fresh_user(), fresh_user("team")
    env.call("PUT", "/v1/plans/plan_subs", count_plan("plan_subs", 10))
    env.call("PUT", f"/v1/users/{parent}/subscription", {"planId": "plan_subs"})
    start = datetime.now(timezone.utc) - timedelta(days=1)
    sub = await client.upsert_subscription(user, "plan_subs", started_at=start, parent_id=parent,
                                           overrides={"g": {"quota": 20}})
    assert (sub.plan_id, sub.parent_id, sub.overrides["g"].quota) == ("plan_subs", parent, 20)
    kept = await client.upsert_subscription(user, "plan_subs")
    assert kept.parent_id == parent, "a parent left out is kept"
    removed = await client.upsert_subscription(user, "plan_subs", parent_id=None)
    assert removed.parent_id is None
    assert (await client.get_subscription(user)).plan_id == "plan_subs"
    until = datetime.now(timezone.utc) + timedelta(days=1)
    overridden = await client.set_override(user, "g", 1, expires_at=until)
    assert overridden.overrides["g"].quota == 1 and overridden.overrides["g"].expires_at
    assert (await client.remove_override(user, "g")).overrides == {}
    blocked = await client.block(user, "chargeback")
    assert (blocked.status, blocked.reason) == ("blocked", "chargeback")
    assert (await client.reserve(user, "e")).reasons == ["user_blocked"]
    assert (await client.unblock(user)).status == "active"
    await client.track(user, "e", 4)
    adjusted = await client.adjust(user, "g", -3, "refund")
    assert (adjusted.applied, adjusted.counter.used) == (-3, 1)
    assert [a.reason for a in (await client.list_adjustments(user)).data] == ["refund"]
    page = await client.list_users(plan_id="plan_subs", limit=100)
    assert user in [u.user_id for u in page.data]
    ended = await client.delete_subscription(user)
    assert ended.user_id == user
    with pytest.raises(QuotaGatewayError) as missing:
        await client.get_subscription(user)
    assert (missing.value.code, missing.value.status) == ("subscription_not_found", 404)


async def test_plans(client: Both, fresh_user: Callable[..., str]) -> None:
    pid = f"plan_{fresh_user()}"
    stored = await client.put_plan(Plan([PlanGroup("g", "tokens", 100, [{"event": "llm.*"}])], id=pid,
                                         period_type="day"))
    assert stored.version == 1 and stored.groups[0].unit == "tokens"
    again = await client.put_plan(count_plan(pid, 7))
    assert again.version == 2 and (await client.get_plan(pid)).groups[0].quota == 7
    plans = await client.list_plans()
    assert pid in [p.id for p in plans.data] and plans.next_cursor is None, "every plan in one page"
    with pytest.raises(QuotaGatewayError) as invalid:
        await client.put_plan({"groups": [{"id": "g", "unit": "nope", "quota": 1, "matches": []}]}, plan_id=pid)
    assert invalid.value.code == "invalid_plan" and invalid.value.problems
    await client.delete_plan(pid)
    with pytest.raises(QuotaGatewayError) as gone:
        await client.get_plan(pid)
    assert gone.value.code == "plan_not_found" and gone.value.request_id


async def test_plans_name_owners_and_list_plans_finds_an_owners_plans(client: Both,
                                                                       fresh_user: Callable[..., str]) -> None:
    run = fresh_user()
    team, person = f"growth {run}", f"Dana (marketing) {run}"  # spaces and parentheses: sent encoded
    owned = Plan([PlanGroup("renders", "count", 2, [{"event": "render"}]),
                  PlanGroup("launches", "count", 1, [{"event": "campaign.launch"}], mode="approval", owner=person,
                            review_every="week")],
                 id=f"plan_owned_{run}", period_type="month", owner=team, review_every="month")
    stored = await client.put_plan(owned)
    assert (stored.owner, stored.review_every, stored.groups[1].owner, stored.groups[1].review_every) == (
        team, "month", person, "week")
    assert stored.groups[0].owner is None, "stored as written: the plan's owner applies to it"
    assert stored == owned and await client.get_plan(owned.id or "") == owned, "a plan read back is the plan put"
    free = await client.put_plan(count_plan(f"plan_free_{run}", 1))

    async def ids(owner: str) -> List[Optional[str]]:
        return [p.id for p in (await client.list_plans(owner=owner)).data]

    assert await ids(team) == [owned.id], "the plan's owner"
    assert await ids(person) == [owned.id], "a group's owner"
    assert await ids(f"nobody {run}") == []
    assert free.id in [p.id for p in (await client.list_plans()).data], "without owner, every plan"
    for bad in ("", "x" * 129):
        with pytest.raises(QuotaGatewayError) as refused:
            await client.list_plans(owner=bad)
        assert (refused.value.code, refused.value.status, refused.value.field) == ("invalid_request", 400, "owner")

    with pytest.raises(QuotaGatewayError) as invalid:
        await client.put_plan({"periodType": "month", "owner": "x" * 129, "groups": [
            {"id": "g", "unit": "count", "quota": 1, "reviewEvery": "fortnight", "matches": [{"event": "*"}]}]},
            plan_id=f"plan_bad_{run}")
    assert invalid.value.code == "invalid_plan"
    assert [p["field"] for p in invalid.value.problems] == ["owner", "groups[0].reviewEvery"]
    for plan_id in (owned.id, free.id):
        await client.delete_plan(plan_id or "")


async def test_a_rolling_group_admits_its_quota_in_any_span_of_its_window(client: Both,
                                                                          fresh_user: Callable[..., str]) -> None:
    user = fresh_user("roll")
    pid = f"plan_{user}"
    burst = {"id": "burst", "unit": "count", "quota": 5, "period": {"type": "rolling", "seconds": 2},
             "matches": [{"event": "render"}]}
    stored = await client.put_plan({"id": pid, "periodType": "month", "groups": [
        burst, {"id": "monthly", "unit": "count", "quota": 1000, "matches": [{"event": "render"}]}]})
    assert stored.groups[0].period == {"type": "rolling", "seconds": 2}, "stored as written"
    await client.upsert_subscription(user, pid)

    # Back to back, well inside the window: nothing waits for it to roll.
    decisions = [await client.reserve(user, "render") for _ in range(6)]
    assert [d.allowed for d in decisions] == [True] * 5 + [False]
    denied = decisions[5]
    assert isinstance(denied, Denied)
    assert (denied.reasons, denied.denied_by) == (["limit_reached"], ["burst"])
    # The window and at most one sub-window of it, in whole seconds rounded up.
    assert denied.retry_after is not None and 1 <= denied.retry_after <= 3, denied.retry_after
    assert '"burst";q=5;w=2,' in (denied.rate_limit_policy or ""), "the policy states the window's own length"
    counters = {c.group_id: c for c in denied.counters}
    assert (counters["burst"].reserved, counters["burst"].remaining, counters["monthly"].reserved) == (5, 0, 5)
    assert (counters["burst"].rolling_seconds, counters["monthly"].rolling_seconds) == (2, None)
    assert counters["burst"].resets_at and datetime.fromisoformat(counters["burst"].resets_at.replace(
        "Z", "+00:00")) > datetime.now(timezone.utc), "when what it counts now has rolled out"

    [entry] = [e for e in (await client.list_usage_events(user_id=user)).data if e.kind == "denied"]
    assert entry.denied_by == ["burst"]
    assert entry.decided_at and datetime.fromisoformat(entry.decided_at.replace("Z", "+00:00")), entry.decided_at

    # A rolling period names its length; the refusal names the field.
    with pytest.raises(QuotaGatewayError) as invalid:
        await client.put_plan({"periodType": "month", "groups": [{**burst, "period": {"type": "rolling"}}]},
                              plan_id=f"plan_bad_{user}")
    assert (invalid.value.code, invalid.value.status) == ("invalid_plan", 400)
    assert [p["field"] for p in invalid.value.problems] == ["groups[0].period.seconds"]
    for d in decisions[:5]:
        assert isinstance(d, Allowed)
        await client.release(d.reservation_id)
    await client.delete_subscription(user)
    await client.delete_plan(pid)


async def test_usage_ledger_and_daily_rollups(client: Both, subscribed: Callable[..., str]) -> None:
    user = subscribed(100)
    await client.track(user, "e", 2, {"model": "m"})
    held = await client.reserve(user, "e", 3)
    assert held.allowed
    await client.commit(held.reservation_id)
    page = await client.list_usage_events(user_id=user, from_=datetime.now(timezone.utc) - timedelta(hours=1), limit=10)
    assert [(e.kind, e.groups[0].amount, e.changes_usage) for e in page.data] == [("track", 2, True), ("commit", 3, True)]
    assert page.data[0].metadata == {"model": "m"}
    today = datetime.now(timezone.utc).date()
    daily = await client.daily_usage(user, from_=today, to=today)
    assert [d.date for d in daily.days] == [today.isoformat()]
    assert daily.days[0].groups[0].used == 5 and daily.days[0].groups[0].reserves_admitted == 1


async def test_a_reservation_and_its_commits_entry_say_what_it_was_for_and_which_key_made_it(
        client: Both, env: Env, subscribed: Callable[..., str]) -> None:
    user = subscribed(10)
    started = datetime.now(timezone.utc) - timedelta(seconds=1)
    held = await client.reserve(user, "image.render", 2, {"model": "flux-pro", "steps": 30})
    assert isinstance(held, Allowed)
    await client.commit(held.reservation_id)   # no actual amount: the reserved one is committed
    view = await client.get_reservation(held.reservation_id)
    assert (view.status, view.event, view.quantity, view.metadata) == (
        "committed", "image.render", 2, {"model": "flux-pro", "steps": 30})
    # A commit's own metadata goes on top of the reservation's, its quantity instead of the reserved one.
    llm = await client.reserve(user, "llm.tokens", 4, {"model": "a"})
    assert isinstance(llm, Allowed)
    await client.commit(llm.reservation_id, 1.5, {"model": "b", "finish": "stop"})
    asked = await client.get_reservation(llm.reservation_id)
    assert (asked.quantity, asked.metadata) == (4, {"model": "a"}), "the reservation keeps what was reserved"
    bare = await client.reserve(user, "e")
    assert isinstance(bare, Allowed)
    plain = await client.get_reservation(bare.reservation_id)
    assert (plain.quantity, plain.metadata) == (1, None), "None when the reserve had no metadata"
    await client.release(bare.reservation_id)
    await client.track(user, "e", 1, {"source": "cron"})
    page = await client.list_usage_events(user_id=user, from_=started)
    assert [e.kind for e in page.data] == ["commit", "commit", "release", "track"], "a release is an entry, with no usage"
    usage = [e for e in page.data if e.kind != "release"]
    assert [(e.id, e.kind, e.event, e.quantity, e.metadata, e.key_id, e.member_id) for e in usage] == [
        (f"commit:{held.reservation_id}", "commit", "image.render", 2, {"model": "flux-pro", "steps": 30},
         env.secret_key_id, None),
        (f"commit:{llm.reservation_id}", "commit", "llm.tokens", 1.5, {"model": "b", "finish": "stop"},
         env.secret_key_id, None),
        (usage[2].id, "track", "e", 1, {"source": "cron"}, env.secret_key_id, None),
    ]
    release = page.data[2]
    assert (release.id, release.event, release.groups, release.reserved) == (
        f"release:{bare.reservation_id}", "e", [], 1)
    assert release.held_since, "an entry that ends a hold says when it was made"
    assert page.next_cursor is None


async def test_a_teams_ledger_names_each_entrys_member_and_member_id_reads_one_members(
        client: Both, env: Env, fresh_user: Callable[..., str]) -> None:
    team, alice, bob = fresh_user("team"), fresh_user("alice"), fresh_user("bob")
    await client.put_plan(count_plan(f"plan_{team}_pool", 100))
    await client.put_plan(count_plan(f"plan_{team}_seat", 10))
    await client.upsert_subscription(team, f"plan_{team}_pool")
    for member in (alice, bob):
        sub = await client.upsert_subscription(member, f"plan_{team}_seat", parent_id=team)
        assert sub.parent_id == team
    started = datetime.now(timezone.utc) - timedelta(seconds=1)
    held = await client.reserve(alice, "render", 3, {"model": "flux"})
    assert isinstance(held, Allowed)
    await client.commit(held.reservation_id)
    await client.track(bob, "render", 2)
    await client.track(alice, "render", 1)

    own = await client.list_usage_events(user_id=alice, from_=started)
    assert [(e.user_id, e.member_id) for e in own.data] == [(alice, None), (alice, None)], "None in a member's own"
    pooled = await client.list_usage_events(user_id=team, from_=started)
    assert [(e.user_id, e.member_id, e.quantity) for e in pooled.data] == [
        (team, alice, 3), (team, bob, 2), (team, alice, 1)]
    hers = await client.list_usage_events(user_id=team, member_id=alice, from_=started)
    assert [(e.user_id, e.member_id, e.kind, e.metadata, e.key_id) for e in hers.data] == [
        (team, alice, "commit", {"model": "flux"}, env.secret_key_id),
        (team, alice, "track", None, env.secret_key_id),
    ]
    assert [e.id for e in hers.data] == [e.id for e in own.data], "a team's entry has its member's entry's id"
    one = await client.list_usage_events(user_id=team, member_id=alice, limit=1)
    rest = await client.list_usage_events(user_id=team, member_id=alice, cursor=one.next_cursor)
    assert [e.id for e in one.data + rest.data] == [e.id for e in own.data], "pages of one member's entries"
    assert rest.next_cursor is None
    with pytest.raises(QuotaGatewayError) as alone:
        await client.list_usage_events(member_id=alice)
    assert (alone.value.code, alone.value.status, alone.value.field) == ("invalid_request", 400, "memberId")

    # Project-wide, a page may be short and still name next_cursor: following it finds every entry.
    everyone: list[UsageEvent] = []
    cursor: Optional[str] = None
    while True:
        page = await client.list_usage_events(from_=started, limit=2, cursor=cursor)
        assert len(page.data) <= 2
        everyone += page.data
        cursor = page.next_cursor
        if cursor is None:
            break
    ours = [e for e in everyone if e.user_id in (team, alice, bob)]
    assert len(ours) == 6, "the members' three entries and the team's three"
    assert [e.member_id for e in ours if e.user_id == team] == [alice, bob, alice]


async def test_errors_name_their_code_field_and_request_id(client: Both) -> None:
    with pytest.raises(QuotaGatewayError) as bad:
        await client.track("u", "not an event!")
    e = bad.value
    assert (e.code, e.status, e.field) == ("invalid_request", 400, "event") and e.request_id
    with pytest.raises(QuotaGatewayError) as missing:
        await client.get_reservation("r_nobody.nothing")
    assert missing.value.code == "reservation_not_found"


async def test_a_browser_reads_its_users_usage_with_a_publishable_key_and_a_user_token(
        client: Both, env: Env, subscribed: Callable[..., str]) -> None:
    user, other = subscribed(5), subscribed(5)
    minted = await client.create_user_token(user, 60)
    assert minted.token and minted.expires_at
    kwargs = {"base_url": env.base_url, "user_token": minted.token}
    if client.kind == "sync":
        browser: Both = Both(QuotaGateway(env.publishable, **kwargs))
    else:
        browser = Both(AsyncQuotaGateway(env.publishable, **kwargs))
    assert (await browser.usage(user)).counters[0].quota == 5
    with pytest.raises(QuotaGatewayError) as forbidden:
        await browser.usage(other)
    assert forbidden.value.status == 403
    with pytest.raises(QuotaGatewayError) as secret_only:
        await browser.track(user, "e")
    assert secret_only.value.status in (401, 403)


async def test_user_keys_are_minted_listed_without_their_secret_and_revoked_once(
        client: Both, fresh_user: Callable[..., str]) -> None:
    user = fresh_user()
    made = await client.create_user_key(user, label="phone")
    assert made.key and made.key.startswith("qg_uk_") and made.key.endswith(made.hint[-4:])
    assert (made.user_id, made.label, made.expires_at) == (user, "phone", None)
    until = datetime(2099, 1, 2, 3, 4, 5, tzinfo=timezone.utc)
    expiring = await client.create_user_key(user, expires_at=until)
    assert expiring.expires_at is not None and expiring.expires_at.startswith("2099-01-02T03:04:05")
    listed = await client.list_user_keys(user)
    assert sorted(k.id for k in listed.data) == sorted([made.id, expiring.id]) and listed.next_cursor is None
    assert all(k.key is None for k in listed.data), "the secret part is shown once"
    assert await client.revoke_user_key(made.id) is None
    assert [k.id for k in (await client.list_user_keys(user)).data] == [expiring.id]
    with pytest.raises(QuotaGatewayError) as gone:
        await client.revoke_user_key(made.id)
    assert (gone.value.status, gone.value.code) == (404, "key_not_found")
    with pytest.raises(QuotaGatewayError) as bad:
        await client.create_user_key("")
    assert (bad.value.status, bad.value.field) == (400, "userId")


def test_the_callers_own_http_client_is_used_and_left_open(env: Env, subscribed: Callable[..., str]) -> None:
    sent: list[str] = []
    with httpx.Client(event_hooks={"request": [lambda r: sent.append(r.url.path)]}) as http:
        with QuotaGateway(env.secret, base_url=env.base_url, http_client=http) as qg:
            assert qg.usage(subscribed(1)).counters[0].quota == 1
        assert sent[-1].endswith("/usage") and not http.is_closed


def test_every_method_is_exercised_by_a_scenario_that_runs_on_both_clients() -> None:
    # The scenarios of these files take the `client` fixture, which runs each on both clients.
    here = Path(__file__).parent
    sources = "".join((here / name).read_text() for name in ("test_client.py", "test_webhooks.py",
                                                             "test_credits.py", "test_approvals.py",
                                                             "test_runs.py", "test_simulations.py",
                                                             "test_prices.py", "test_outcomes.py",
                                                             "test_alternatives.py"))
    # The context managers, and the provider clients the proxy helpers build (test_proxy.py,
    # test_proxy_azure.py, test_proxy_bedrock.py and test_proxy_vertex.py run those through the proxy
    # from both clients).
    missing = [name for name in public(QuotaGateway) if f"client.{name}(" not in sources
               and name not in ("reservation", "with_run", "openai", "anthropic", "gemini", "azure_openai",
                                "bedrock_runtime", "anthropic_bedrock", "vertex_gemini", "anthropic_vertex")]
    assert missing == []
