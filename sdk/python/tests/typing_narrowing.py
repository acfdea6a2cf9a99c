"""Checked by mypy --strict in run-tests (not a pytest module): `allowed` narrows a decision,
so a reservation id is a str exactly where the reserve was admitted, and a run's id where
the start was; an outage's exception, literal reasons and a settlement are typed; the proxy
helpers answer the providers' own client types; a clamped hold's grant, a denial's model, the
catalog and prices are typed; a webhook event's `type` narrows its `data`, which names the
budget's owner and scope; a plan's and an approval's owner and review are typed; outcomes, the
cost per accepted output and the proxy's reservation id are typed; so is when a ledger entry's
call was decided."""

from __future__ import annotations

from typing import Dict, List, Optional

import anthropic
import openai

from quota_gateway import (Approval, AsyncQuotaGateway, CatalogEntry, FailMode, Fit, Granted, Outcome, OutcomeAnswer,
                           Price, PriceSourceKind, QuotaExceeded, QuotaGateway, QuotaUnavailable, Reason, ReviewEvery,
                           Scope, Settled, UserKey, WebhookEvent, async_anthropic_client, openai_client,
                           proxy_reservation_id, verify_webhook)
from quota_gateway.openai import QuotaOpenAI, settlement


def admitted_id(qg: QuotaGateway) -> str:
    decision = qg.reserve("u", "e")
    if not decision.allowed:
        raise QuotaExceeded(decision)
    return decision.reservation_id


async def denied_has_none(aqg: AsyncQuotaGateway) -> None:
    decision = await aqg.reserve("u", "e")
    if not decision.allowed:
        assert decision.reservation_id is None


def admitted_run(qg: QuotaGateway) -> str:
    run = qg.start_run("u", "agent.run", 1000, limits={"attempts_per_action": 2, "fallbacks": 1})
    if not run.allowed:
        raise QuotaExceeded(run.decision)
    step = run.reserve("llm.chat", 100, action_id="think-1", kind="fallback")
    if step.allowed and step.run is not None:
        run.commit(step.reservation_id, 80)
    return run.id


async def denied_run_has_no_id(aqg: AsyncQuotaGateway) -> None:
    run = await aqg.start_run("u", "agent.run")
    if not run.allowed:
        assert run.id is None and run.reasons
        return
    async with aqg.with_run("u", "agent.run", parent_run_id=run.id) as child:
        await child.track("tool.search", action_id="search-1")
    assert (await run.close()).state in ("closed", "expired")


def outage_or_quota(qg: QuotaGateway) -> Optional[int]:
    """An outage is a `QuotaExceeded` with a `retry_after` always set; reasons are literals."""
    try:
        with qg.reservation("u", "llm.tokens", 100) as r:
            r.commit(40)
    except QuotaUnavailable as down:
        after: int = down.retry_after
        return after
    except QuotaExceeded as denied:
        reasons: List[Reason] = denied.reasons
        return 0 if "limit_reached" in reasons else None
    settled: Optional[Settled] = r.settled
    return None if settled is None else len(settled.over_quota)


def paid_answer(guarded: QuotaOpenAI) -> float:
    answer = guarded.chat.completions.create(quota_user="u", model="m", messages=[])
    found = settlement(answer)
    return 0.0 if found is None or found.quantity is None else found.quantity


def open_mode() -> FailMode:
    return QuotaGateway("k", fail_mode="open").fail_mode


def proxied(qg: QuotaGateway, aqg: AsyncQuotaGateway) -> int:
    sync_client: openai.OpenAI = qg.openai("u", metadata={"feature": "chat"}, max_retries=0)
    async_client: anthropic.AsyncAnthropic = aqg.anthropic("u", run="run_1", action="a", kind="retry")
    retries: int = sync_client.max_retries + async_client.max_retries
    return retries


async def from_a_user_key(aqg: AsyncQuotaGateway) -> Optional[str]:
    made: UserKey = await aqg.create_user_key("u", label="phone")
    assert made.key is not None
    for_the_device: openai.OpenAI = openai_client(aqg.base_url, made.key)
    also: anthropic.AsyncAnthropic = async_anthropic_client(aqg.base_url, made.key)
    listed = await aqg.list_user_keys("u")
    await aqg.revoke_user_key(made.id)
    key: str = for_the_device.api_key or also.api_key or ""
    return key or (listed.data[0].expires_at if listed.data else None)


def granted_output(qg: QuotaGateway, fit: Fit = "clamp") -> Optional[int]:
    """The most output to ask for: a clamped hold's grant, else all that was asked."""
    decision = qg.reserve("u", "llm.call", 6000, {"model": "gpt-4.1", "output_tokens": 4000}, fit=fit, min_fit=256)
    if not decision.allowed:
        assert decision.granted is None
        reasons: List[Reason] = decision.reasons
        unpriced: List[Optional[str]] = [d.model for d in decision.denials if d.reason == "unpriced_model"]
        return None if reasons or unpriced else 0
    granted: Optional[Granted] = decision.granted
    if granted is None:
        return 4000
    return granted.output_tokens


async def prices(aqg: AsyncQuotaGateway) -> float:
    entry: Optional[CatalogEntry] = (await aqg.catalog()).find("gpt-4.1")
    made: Price = await aqg.set_price("my-fine-tune", 3, 12, cached_input_per_million=0.3)
    listed: List[Price] = (await aqg.prices()).data
    await aqg.delete_price(made.model)
    events = await aqg.list_usage_events(user_id="u")
    sources: List[PriceSourceKind] = [g.price.source for e in events.data for g in e.groups if g.price is not None]
    return (0.0 if entry is None else entry.output_per_million) + len(listed) + len(sources)


def alert_line(secret: str, headers: Dict[str, str], body: bytes) -> str:
    """Whom to tell, and what about: every quota, balance and approval event says both."""
    event: WebhookEvent = verify_webhook(secret, headers, body)
    if event["type"] == "webhook.test":
        return event["data"]["webhookId"]
    scope: Scope = event["data"]["scope"]
    owner: Optional[str] = event["data"]["owner"]
    review: Optional[ReviewEvery] = event["data"]["reviewEvery"]
    where = f"{scope['subject']} {scope['groupId']} {scope.get('value', '')} until {scope['resetsAt'] or 'never'}"
    if event["type"] == "quota.threshold_crossed" or event["type"] == "quota.limit_reached":
        threshold: Optional[int] = event["data"]["threshold"]
        return f"{owner}: {where} at {threshold}% ({review})"
    if event["type"] == "quota.approval_requested" or event["type"] == "quota.approval_decided":
        return f"{owner}: {event['data']['approvalId']} {event['data']['status']} {where}"
    return f"{owner}: {event['data']['balance']} {event['data']['available']} left"


def owners(qg: QuotaGateway, owner: str) -> List[Optional[ReviewEvery]]:
    approval: Approval = qg.get_approval("apr_1")
    mine = qg.list_plans(owner=owner).data
    return [approval.review_every, *[p.review_every for p in mine], *[g.review_every for p in mine for g in p.groups]]



async def accepted_cost(aqg: AsyncQuotaGateway, said: Outcome) -> Optional[float]:
    """What an accepted output costs: said by the commit, or later by the proxy's reservation."""
    async with aqg.reservation("u", "image.render", 10) as r:
        r.commit(outcome=said)
    raw = aqg.openai("u").chat.completions.with_raw_response.create(model="m", messages=[])
    rid: Optional[str] = proxy_reservation_id(await raw)
    if rid is not None:
        answer: OutcomeAnswer = await aqg.set_outcome(rid, "accepted")
        previous: Optional[str] = answer.previous
        assert previous != answer.outcome
    counter = (await aqg.usage("u")).counters[0]
    accepted: int = counter.outcomes.get("accepted", 0)
    day = (await aqg.daily_usage("u")).days[0].groups[0]
    entry = (await aqg.list_usage_events(user_id="u")).data[0]
    replaced: Optional[str] = entry.previous_outcome
    return None if not accepted or replaced else counter.cost_per_accepted or day.cost_per_accepted


def decided(qg: QuotaGateway) -> List[Optional[str]]:
    """When each entry's call was decided, which chose its windows (None where none was kept)."""
    return [e.decided_at for e in qg.list_usage_events(user_id="u").data]
