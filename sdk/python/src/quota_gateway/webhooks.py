"""Standard Webhooks signatures: `webhook-signature` holds one or more space-separated
`v1,<base64 HMAC-SHA256 of "id.timestamp.body">`, keyed by the secret `whsec_<base64 key>`;
a timestamp more than five minutes away is refused, so a captured delivery cannot be replayed.

The events as they arrive, as typed dicts with the wire's camelCase keys (`verify_webhook`
answers the parsed body as it is): annotate its answer as `WebhookEvent`, and
`event["type"] == "quota.threshold_crossed"` types `event["data"]` as `QuotaEventData`.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import time
from typing import Any, Literal, Mapping, Optional, TypedDict, Union

from .errors import QuotaGatewayError
from .params import ApprovalStatus
from .types import Amount, ReviewEvery

TOLERANCE_SECONDS = 5 * 60


# Keys a dict may lack are declared in a subclass with total=False (NotRequired needs 3.11).

class _ScopeKeys(TypedDict):
    subject: str
    planId: Optional[str]
    groupId: str
    periodStart: Optional[str]
    resetsAt: Optional[str]


class Scope(_ScopeKeys, total=False):
    """What an event is about, the same in every quota, balance and approval event: the user
    (`subject`), the plan (None when the user is on none), the group, a per-value group's
    `value` (absent on other groups), and the period (both None for a lifetime group and for a
    balance, whose grants run until they expire)."""

    value: str


class _QuotaEventKeys(TypedDict):
    projectId: str
    userId: str
    planId: Optional[str]
    groupId: str
    label: str
    unit: str
    threshold: Optional[int]
    quota: Amount
    used: Amount
    periodStart: Optional[str]
    resetsAt: Optional[str]
    owner: Optional[str]
    reviewEvery: Optional[ReviewEvery]
    scope: Scope


class QuotaEventData(_QuotaEventKeys, total=False):
    """`data` of `quota.threshold_crossed` and `quota.limit_reached`: `threshold` the percent
    crossed (None for a limit reached), `used` when it fired (open holds for a `concurrent`
    group); `owner` and `review_every` who answers for the group (its own, else its plan's, as
    the plan is now; None when not named) and how often they review it; `value` a per-value
    group's (absent on other groups)."""

    value: str


class CreditEventData(TypedDict):
    """`data` of `credits.low_balance` and `credits.depleted`: the `lowBalance` amount reached
    (`threshold`, 0 when depleted) and what could be spent when it fired (`available`), with
    the owner and scope as on a quota event (the scope's period None)."""

    projectId: str
    userId: str
    planId: Optional[str]
    groupId: str
    balance: str
    threshold: Amount
    available: Amount
    owner: Optional[str]
    reviewEvery: Optional[ReviewEvery]
    scope: Scope


class _ApprovalEventKeys(TypedDict):
    approvalId: str
    projectId: str
    userId: str
    planId: Optional[str]
    groupId: str
    label: str
    status: ApprovalStatus
    event: str
    amount: Amount
    used: Amount
    reserved: Amount
    quota: Amount
    periodStart: Optional[str]
    resetsAt: Optional[str]
    requestedAt: str
    decidedAt: Optional[str]
    approvedQuota: Optional[Amount]
    expiresAt: Optional[str]
    reason: Optional[str]
    decidedBy: Optional[str]
    owner: Optional[str]
    reviewEvery: Optional[ReviewEvery]
    scope: Scope


class ApprovalEventData(_ApprovalEventKeys, total=False):
    """`data` of `quota.approval_requested` and `quota.approval_decided`: the request as
    `get_approval` answers it (in the wire's names), with the project, the group's `label`,
    and the owner and scope as on a quota event; `value` a per-value group's."""

    value: str


class WebhookTestData(TypedDict):
    projectId: str
    webhookId: str


class QuotaEvent(TypedDict):
    type: Literal["quota.threshold_crossed", "quota.limit_reached"]
    timestamp: str
    data: QuotaEventData


class CreditEvent(TypedDict):
    type: Literal["credits.low_balance", "credits.depleted"]
    timestamp: str
    data: CreditEventData


class ApprovalEvent(TypedDict):
    # Not narrowed by status: a request decided before its event went out is sent as decided.
    type: Literal["quota.approval_requested", "quota.approval_decided"]
    timestamp: str
    data: ApprovalEventData


class WebhookTestEvent(TypedDict):
    type: Literal["webhook.test"]
    timestamp: str
    data: WebhookTestData


# A verified delivery's event, told apart by `type`.
WebhookEvent = Union[QuotaEvent, CreditEvent, ApprovalEvent, WebhookTestEvent]


def _invalid(detail: str) -> QuotaGatewayError:
    return QuotaGatewayError("webhook_invalid", 400, detail)


def _header(headers: Mapping[str, Any], name: str) -> Optional[str]:
    value = headers.get(name)
    if value is None:
        # A plain dict may keep the sender's capitalisation.
        value = next((v for k, v in headers.items() if k.lower() == name), None)
    if isinstance(value, bytes):
        value = value.decode("latin-1")
    return value if isinstance(value, str) else None


def sign_webhook(secret: str, msg_id: str, timestamp: Union[int, str], body: Union[str, bytes]) -> str:
    """The `webhook-signature` value for a delivery (for tests and for relaying)."""
    try:
        key = base64.b64decode(secret[len("whsec_"):] if secret.startswith("whsec_") else secret)
    except (binascii.Error, ValueError) as err:
        raise _invalid("the secret is not whsec_ followed by base64") from err
    payload = body.encode() if isinstance(body, str) else body
    mac = hmac.new(key, f"{msg_id}.{timestamp}.".encode() + payload, hashlib.sha256).digest()
    return "v1," + base64.b64encode(mac).decode()


def verify_webhook(secret: str, headers: Mapping[str, Any], body: Union[str, bytes],
                   *, now: Optional[float] = None) -> Any:
    """The event of a verified delivery (its JSON body, parsed); raises `QuotaGatewayError`
    with code `webhook_invalid` for anything else. Pass the body exactly as received."""
    msg_id = _header(headers, "webhook-id")
    stamp = _header(headers, "webhook-timestamp")
    signatures = _header(headers, "webhook-signature")
    if not msg_id or not stamp or not signatures:
        raise _invalid("webhook-id, webhook-timestamp and webhook-signature are required")
    if not stamp.isdigit():
        raise _invalid("webhook-timestamp is not a number of seconds")
    if abs((time.time() if now is None else now) - int(stamp)) > TOLERANCE_SECONDS:
        raise _invalid("the timestamp is not within five minutes")
    expected = sign_webhook(secret, msg_id, stamp, body).split(",", 1)[1]
    for candidate in signatures.split():
        version, _, signature = candidate.partition(",")
        if version == "v1" and hmac.compare_digest(signature.encode(), expected.encode()):
            return json.loads(body)
    raise _invalid("no signature matches")
