"""Webhook signatures checked against the `standardwebhooks` package both ways, and real
deliveries from the gateway to a receiver on loopback, through every webhook method; every
quota, balance and approval event arrives with the keys its typed dict declares, naming its
owner and its scope."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import time
from datetime import datetime, timezone
from typing import Any, Callable, Dict, List, Set, Tuple

import pytest
from standardwebhooks.webhooks import Webhook
from both import Both
from standin import Answer, StandIn

from quota_gateway import (ApprovalEventData, CreditEventData, Denied, QuotaEventData, QuotaGatewayError, Scope,
                           WebhookEvent, sign_webhook, verify_webhook)

SECRET = "whsec_" + base64.b64encode(os.urandom(24)).decode()
BODY = json.dumps({"type": "quota.threshold_crossed", "data": {"userId": "alice", "threshold": 80}})


def test_what_standardwebhooks_signs_we_verify() -> None:
    now = int(time.time())
    signature = Webhook(SECRET).sign("msg_1", datetime.fromtimestamp(now, tz=timezone.utc), BODY)
    headers = {"Webhook-Id": "msg_1", "Webhook-Timestamp": str(now), "Webhook-Signature": f"v1,bogus= {signature}"}
    assert verify_webhook(SECRET, headers, BODY)["data"]["userId"] == "alice"
    assert verify_webhook(SECRET, headers, BODY.encode())["type"] == "quota.threshold_crossed"


def test_what_we_sign_standardwebhooks_verifies() -> None:
    now = int(time.time())
    headers = {"webhook-id": "msg_2", "webhook-timestamp": str(now),
               "webhook-signature": sign_webhook(SECRET, "msg_2", now, BODY)}
    assert Webhook(SECRET).verify(BODY, headers)["data"]["threshold"] == 80


@pytest.mark.parametrize("tamper", [
    lambda h, b: (h, b + " "),
    lambda h, b: ({**h, "webhook-id": "msg_other"}, b),
    lambda h, b: ({**h, "webhook-timestamp": str(int(h["webhook-timestamp"]) - 301)}, b),
    lambda h, b: ({**h, "webhook-timestamp": str(int(h["webhook-timestamp"]) + 301)}, b),
    lambda h, b: ({k: v for k, v in h.items() if k != "webhook-signature"}, b),
    lambda h, b: ({**h, "webhook-signature": "v2," + h["webhook-signature"][3:]}, b),
])
def test_anything_else_is_refused(tamper: Callable[[Dict[str, str], str], Any]) -> None:
    now = int(time.time())
    headers = {"webhook-id": "msg_3", "webhook-timestamp": str(now),
               "webhook-signature": sign_webhook(SECRET, "msg_3", now, BODY)}
    bad_headers, bad_body = tamper(headers, BODY)
    with pytest.raises(QuotaGatewayError) as refused:
        verify_webhook(SECRET, bad_headers, bad_body)
    assert (refused.value.code, refused.value.status) == ("webhook_invalid", 400)


def test_a_timestamp_within_five_minutes_passes() -> None:
    sent = int(time.time()) - 290
    headers = {"webhook-id": "m", "webhook-timestamp": str(sent),
               "webhook-signature": sign_webhook(SECRET, "m", sent, BODY)}
    assert verify_webhook(SECRET, headers, BODY)


async def wait_for(received: List[Any], n: int) -> List[Any]:
    for _ in range(400):
        if len(received) >= n:
            break
        await asyncio.sleep(0.025)
    return received


async def test_real_deliveries_verify_and_every_webhook_method_works(client: Both) -> None:
    with StandIn(None, lambda _n, _s: Answer(200)) as receiver:
        hook = await client.create_webhook(receiver.url + "/hook", events=["quota.limit_reached"], description="py sdk")
        assert hook.secret and hook.secret.startswith("whsec_")
        assert [h.secret for h in (await client.list_webhooks()).data if h.id == hook.id] == [None], "shown only once"
        assert (await client.get_webhook(hook.id)).description == "py sdk"
        delivery_id = await client.test_webhook(hook.id)
        first = (await wait_for(receiver.seen, 1))[0]
        event = verify_webhook(hook.secret, first.headers, first.body)
        assert event["type"] == "webhook.test"
        deliveries = await client.list_webhook_deliveries(hook.id, limit=10)
        assert delivery_id in [d.id for d in deliveries.data] and deliveries.next_cursor is None
        assert await client.retry_webhook_delivery(hook.id, delivery_id) == delivery_id
        await wait_for(receiver.seen, 2)
        rotated = await client.rotate_webhook_secret(hook.id)
        assert rotated.startswith("whsec_") and rotated != hook.secret
        assert not (await client.disable_webhook(hook.id)).enabled
        with pytest.raises(QuotaGatewayError) as disabled:
            await client.test_webhook(hook.id)
        assert (disabled.value.code, disabled.value.status) == ("webhook_disabled", 409)
        assert (await client.enable_webhook(hook.id)).enabled
        await client.delete_webhook(hook.id)
        with pytest.raises(QuotaGatewayError) as gone:
            await client.get_webhook(hook.id)
        assert gone.value.code == "webhook_not_found"


def declared(typed: Any) -> Set[str]:
    """Every key a typed dict declares, those it may lack too."""
    return set(typed.__required_keys__) | set(typed.__optional_keys__)


async def test_every_event_names_its_owner_and_scope_with_the_keys_its_typed_dict_declares(
        client: Both, fresh_user: Callable[..., str]) -> None:
    user = fresh_user("owned")
    plan_id = f"plan_{user}"
    await client.put_plan({"id": plan_id, "periodType": "month", "owner": "billing", "reviewEvery": "month",
                           "alerts": [100], "groups": [
        {"id": "renders", "unit": "count", "quota": 1, "matches": [{"event": "render"}]},
        {"id": "launches", "unit": "count", "quota": 1, "mode": "approval", "per": "model",
         "owner": "Dana (marketing)", "reviewEvery": "week", "matches": [{"event": "launch"}]},
        {"id": "credits", "balance": "credits", "lowBalance": [5], "matches": [{"event": "spend"}]}]})
    await client.upsert_subscription(user, plan_id)
    with StandIn(None, lambda _n, _s: Answer(200)) as receiver:
        hook = await client.create_webhook(receiver.url + "/hook")
        assert hook.secret
        await asyncio.sleep(0.8)  # every node learns of the endpoint
        await client.track(user, "render")  # 100 %
        assert isinstance(await client.reserve(user, "render"), Denied)  # the limit reached
        await client.grant(user, "credits", 10)
        await client.track(user, "spend", 6)  # 4 left: at or under 5
        await client.track(user, "spend", 4)  # none left
        assert (await client.reserve(user, "launch", 1, {"model": "flux"})).allowed
        denied = await client.reserve(user, "launch", 1, {"model": "flux"})
        approval_id = denied.denials[0].approval_id
        assert approval_id and (await client.approve(approval_id, 3)).status == "approved"

        # By type and group: the launches' denial is their limit reached too.
        events: Dict[Tuple[str, str], Any] = {}
        for _ in range(400):
            for seen in receiver.seen:
                event: WebhookEvent = verify_webhook(hook.secret, seen.headers, seen.body)
                if event["type"] != "webhook.test" and event["data"]["userId"] == user:
                    events[(event["type"], event["data"]["groupId"])] = event["data"]
            if len(events) == 7:
                break
            await asyncio.sleep(0.025)
        await client.delete_webhook(hook.id)

    shapes = {("quota.threshold_crossed", "renders"): QuotaEventData, ("quota.limit_reached", "renders"): QuotaEventData,
              ("quota.limit_reached", "launches"): QuotaEventData,
              ("credits.low_balance", "credits"): CreditEventData, ("credits.depleted", "credits"): CreditEventData,
              ("quota.approval_requested", "launches"): ApprovalEventData,
              ("quota.approval_decided", "launches"): ApprovalEventData}
    assert sorted(events) == sorted(shapes), "one event of each"
    for (kind, group), typed in shapes.items():
        # Only a per-value group's event names a value: the renders' do not.
        absent = {"value"} if group == "renders" else set()
        assert set(events[(kind, group)]) == declared(typed) - absent, kind
    by_type = {kind: data for (kind, group), data in events.items() if group != "launches" or "approval" in kind}

    renders: Scope = {"subject": user, "planId": plan_id, "groupId": "renders",
                      "periodStart": by_type["quota.limit_reached"]["periodStart"],
                      "resetsAt": by_type["quota.limit_reached"]["resetsAt"]}
    for kind in ("quota.threshold_crossed", "quota.limit_reached"):
        # The plan's owner, as the group names none of its own.
        assert (by_type[kind]["owner"], by_type[kind]["reviewEvery"], by_type[kind]["scope"]) == (
            "billing", "month", renders), kind
    assert renders["resetsAt"], "a monthly counter's period"
    credits: Scope = {"subject": user, "planId": plan_id, "groupId": "credits", "periodStart": None, "resetsAt": None}
    for kind in ("credits.low_balance", "credits.depleted"):
        assert (by_type[kind]["owner"], by_type[kind]["scope"]) == ("billing", credits), "a balance has no period"
    for kind in ("quota.approval_requested", "quota.approval_decided"):
        data = by_type[kind]
        # The group's own owner and review win; a per-value group's scope names the value.
        assert (data["owner"], data["reviewEvery"]) == ("Dana (marketing)", "week"), kind
        assert data["scope"] == {"subject": user, "planId": plan_id, "groupId": "launches", "value": "flux",
                                 "periodStart": data["periodStart"], "resetsAt": data["resetsAt"]}, kind
        assert set(data["scope"]) == declared(Scope)
