"""One function per route: the `Call` that does it, shared by both clients.

Routes and bodies follow the gateway's OpenAPI document (`GET /openapi.json`). Reserve, track,
commit, adjust, grant and webhook creation carry an Idempotency-Key (the gateway answers a
repeat with the first answer); release, extend and a grant's void take none but repeat
harmlessly; a secret's rotation, a test event and a delivery's retry would act twice, and an
approval's approve or decline takes no key (a repeat is 409 `approval_decided`, not the first
answer), so they are retried only when the request cannot have arrived.
"""

from __future__ import annotations

import math
import uuid
import warnings
from dataclasses import replace
from datetime import date, datetime, timezone
from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence, Type, TypeVar, Union
from urllib.parse import quote

from . import types as t
from ._core import Call
from ._load import dump, load
from .decision import Allowed, Check, Decision, Denied
from .errors import QuotaGatewayError, RefundEventWarning

T = TypeVar("T")
Metadata = Mapping[str, Any]
When = Union[str, datetime]
DEFAULT_TTL_SECONDS = 60.0


def seg(value: str) -> str:
    if not value:
        raise ValueError("an id in a path must not be empty")
    return quote(value, safe="")


def instant(value: When) -> str:
    """RFC 3339; a naive datetime is taken as UTC."""
    if isinstance(value, str):
        return value
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    return value.astimezone(timezone.utc).isoformat().replace("+00:00", "Z")


def new_key() -> str:
    return str(uuid.uuid4())


def one(cls: Type[T]) -> Callable[[Any, Mapping[str, str]], T]:
    return lambda data, _headers: load(cls, data)


def page(cls: Type[T]) -> Callable[[Any, Mapping[str, str]], t.Page[T]]:
    """A list in the envelope every list answers: `{data, nextCursor}`."""
    return lambda data, _headers: t.Page([load(cls, item) for item in data["data"]], data.get("nextCursor"))


# The kinds of ledger entries that change usage, for entries of a gateway that did not say so
# itself (`changesUsage` came later than these kinds).
USAGE_KINDS = frozenset({"commit", "late_commit", "track", "adjustment"})


def usage_event(item: Any) -> t.UsageEvent:
    extra = {} if "changesUsage" in item else {"changes_usage": item.get("kind") in USAGE_KINDS}
    return load(t.UsageEvent, item, **extra)


def usage_events(data: Any, _headers: Mapping[str, str]) -> t.UsageEventPage:
    return t.Page([usage_event(item) for item in data["data"]], data.get("nextCursor"))


def nothing(_data: Any, _headers: Mapping[str, str]) -> None:
    return None


def header_fields(headers: Mapping[str, str]) -> Dict[str, Any]:
    """The gateway's rate limit headers, as the answer's fields."""
    after = headers.get("retry-after", "")
    return {"rate_limit": headers.get("ratelimit"), "rate_limit_policy": headers.get("ratelimit-policy"),
            "retry_after": int(after) if after.isdigit() else None}


def decision(data: Any, headers: Mapping[str, str]) -> Decision:
    if data["allowed"]:
        if not isinstance(data.get("reservationId"), str):
            raise TypeError("an admitted reserve without a reservationId")
        return load(Allowed, data, **header_fields(headers))
    return load(Denied, data, **header_fields(headers))


def check(data: Any, headers: Mapping[str, str]) -> Check:
    return load(Check, data, **header_fields(headers))


def failed_decision(fail_mode: str) -> Callable[[QuotaGatewayError], Decision]:
    def fallback(err: QuotaGatewayError) -> Decision:
        if fail_mode == "open":
            return Allowed("", None, [], ["backend_unavailable"], [], [], unchecked=True)
        # The gateway's (or a proxy's) Retry-After, when its last answer had one.
        after = None if err.retry_after is None else int(math.ceil(err.retry_after))
        return Denied(["backend_unavailable"], [], [], [], retry_after=after, unchecked=True)
    return fallback


def failed_check(fail_mode: str) -> Callable[[QuotaGatewayError], Check]:
    def fallback(_err: QuotaGatewayError) -> Check:
        return Check(fail_mode == "open", ["backend_unavailable"], [], [], [], unchecked=True)
    return fallback


def event(user_id: str, name: str, quantity: float, metadata: Optional[Metadata]) -> Dict[str, Any]:
    body: Dict[str, Any] = {"userId": user_id, "event": name, "quantity": quantity}
    if metadata:
        body["metadata"] = dict(metadata)
    return body


def fit_fields(fit: Optional[str], min_fit: Optional[float]) -> Dict[str, Any]:
    """A reserve's (or check's) `fit` and `minFit`, when given."""
    fields: Dict[str, Any] = {}
    if fit is not None:
        fields["fit"] = fit
    if min_fit is not None:
        fields["minFit"] = min_fit
    return fields


def reserve(fail_mode: str, user_id: str, name: str, quantity: float, metadata: Optional[Metadata],
            ttl_seconds: Optional[int], idempotency_key: Optional[str],
            step: Optional[Mapping[str, Any]] = None, fit: Optional[str] = None,
            min_fit: Optional[float] = None) -> Call[Decision]:
    """`step`: the fields that make it a step of a run (`runId`, `actionId`, `kind`); `fit` and
    `min_fit`: whether a hold that does not fit whole takes what is left."""
    body = {**event(user_id, name, quantity, metadata), **(step or {}), **fit_fields(fit, min_fit)}
    if ttl_seconds is not None:
        body["ttlSeconds"] = ttl_seconds
    # A key the caller chose is the caller's to repeat, and the reservation it finds the
    # caller's to use: only a reserve keyed here is released behind the caller's back.
    orphan_ttl = None if idempotency_key else float(ttl_seconds or DEFAULT_TTL_SECONDS)
    return Call("POST", "/v1/reserve", decision, body, idempotency_key=idempotency_key or new_key(),
                fallback=failed_decision(fail_mode), orphan_ttl=orphan_ttl)


def failed_first(fail_mode: str) -> Callable[[QuotaGatewayError], Decision]:
    """The fail mode's answer to a reserve of alternatives: the first, unchecked, or a denial."""
    failed = failed_decision(fail_mode)

    def fallback(err: QuotaGatewayError) -> Decision:
        answer = failed(err)
        return replace(answer, chosen=0) if isinstance(answer, Allowed) else answer
    return fallback


def reserve_first(fail_mode: str, user_id: str, alternatives: Sequence[Mapping[str, Any]],
                  ttl_seconds: Optional[int], idempotency_key: Optional[str],
                  step: Optional[Mapping[str, Any]] = None, fit: Optional[str] = None,
                  min_fit: Optional[float] = None) -> Call[Decision]:
    """A reserve of `alternatives` (each `{event, quantity?, metadata?}`): the first that every
    matched group admits is held. Kept, retried and failed as `reserve` is."""
    asked = []
    for a in alternatives:
        one_event: Dict[str, Any] = {"event": a["event"]}
        if a.get("quantity") is not None:
            one_event["quantity"] = a["quantity"]
        if a.get("metadata"):
            one_event["metadata"] = dict(a["metadata"])
        asked.append(one_event)
    body: Dict[str, Any] = {"userId": user_id, "alternatives": asked, **(step or {}), **fit_fields(fit, min_fit)}
    if ttl_seconds is not None:
        body["ttlSeconds"] = ttl_seconds
    orphan_ttl = None if idempotency_key else float(ttl_seconds or DEFAULT_TTL_SECONDS)
    # A reserve's answer, with `chosen` and `alternatives`.
    return Call("POST", "/v1/reserve", decision, body, idempotency_key=idempotency_key or new_key(),
                fallback=failed_first(fail_mode), orphan_ttl=orphan_ttl)


def can_use(fail_mode: str, user_id: str, name: str, quantity: float, metadata: Optional[Metadata],
            fit: Optional[str] = None, min_fit: Optional[float] = None) -> Call[Check]:
    body = {**event(user_id, name, quantity, metadata), **fit_fields(fit, min_fit)}
    return Call("POST", "/v1/check", check, body, fallback=failed_check(fail_mode))


def said(outcome: Optional[str]) -> Dict[str, Any]:
    """A body's `outcome`, when one was said. `outcome=""` is sent, not dropped: the gateway
    refuses it naming `outcome`, where dropping it would say nothing."""
    return {} if outcome is None else {"outcome": outcome}


def commit(reservation_id: str, quantity: Optional[float], metadata: Optional[Metadata],
           idempotency_key: Optional[str], outcome: Optional[str] = None) -> Call[t.CommitAnswer]:
    body: Dict[str, Any] = said(outcome)
    if quantity is not None:
        body["quantity"] = quantity
    if metadata:
        body["metadata"] = dict(metadata)
    local = None
    if reservation_id == "":
        local = lambda: t.CommitAnswer("", "unchecked", False, [], [])  # noqa: E731
    return Call("POST", f"/v1/reservations/{seg(reservation_id) if reservation_id else ''}/commit",
                one(t.CommitAnswer), body, idempotency_key=idempotency_key or new_key(), local=local)


def release(reservation_id: str) -> Call[t.ReleaseAnswer]:
    # No Idempotency-Key: the gateway answers a repeated release as the first.
    local = (lambda: t.ReleaseAnswer("", "unchecked", [])) if reservation_id == "" else None
    path = f"/v1/reservations/{seg(reservation_id) if reservation_id else ''}/release"
    return Call("POST", path, one(t.ReleaseAnswer), {}, local=local)


def extend(reservation_id: str, ttl_seconds: int) -> Call[t.ExtendAnswer]:
    local = (lambda: t.ExtendAnswer("", "")) if reservation_id == "" else None
    path = f"/v1/reservations/{seg(reservation_id) if reservation_id else ''}/extend"
    return Call("POST", path, one(t.ExtendAnswer), {"ttlSeconds": ttl_seconds}, local=local)


def set_outcome(reservation_id: str, outcome: str) -> Call[t.OutcomeAnswer]:
    # No Idempotency-Key: said again, it changes nothing.
    local = (lambda: t.OutcomeAnswer("", outcome, None)) if reservation_id == "" else None
    path = f"/v1/reservations/{seg(reservation_id) if reservation_id else ''}/outcome"
    return Call("POST", path, one(t.OutcomeAnswer), {"outcome": outcome}, local=local)


def get_reservation(reservation_id: str) -> Call[t.Reservation]:
    return Call("GET", f"/v1/reservations/{seg(reservation_id)}", one(t.Reservation))


_warned_refund = False


def warn_refund(name: str) -> None:
    """`@vevee/sdk` code refunds with a `.refund` event; here a track only ever adds. Said once
    per process; Python's warning filters (`-W`, `PYTHONWARNINGS`) silence it in production."""
    global _warned_refund
    if _warned_refund or not name.endswith(".refund"):
        return
    _warned_refund = True
    warnings.warn(
        f"quota_gateway: track({name!r}) counts usage like any other event: it never refunds. "
        "Reserve an upper bound and commit the amount really used (commit(reservation_id, quantity)), "
        "or correct a counter with adjust().", RefundEventWarning, stacklevel=4)


def track(user_id: str, name: str, quantity: float, metadata: Optional[Metadata],
          idempotency_key: Optional[str], step: Optional[Mapping[str, Any]] = None,
          outcome: Optional[str] = None) -> Call[t.TrackAnswer]:
    warn_refund(name)
    body = {**event(user_id, name, quantity, metadata), **(step or {}), **said(outcome)}
    return Call("POST", "/v1/track", one(t.TrackAnswer), body, idempotency_key=idempotency_key or new_key())


def usage(user_id: str) -> Call[t.Usage]:
    return Call("GET", f"/v1/users/{seg(user_id)}/usage", one(t.Usage))


def daily_usage(user_id: str, from_: Union[str, date, None], to: Union[str, date, None]) -> Call[t.DailyUsage]:
    query = {k: v if isinstance(v, str) else v.isoformat() for k, v in (("from", from_), ("to", to)) if v}
    return Call("GET", f"/v1/users/{seg(user_id)}/daily-usage", one(t.DailyUsage), query=query)


def list_usage_events(user_id: Optional[str], member_id: Optional[str], from_: Optional[When],
                      to: Optional[When], cursor: Optional[str], limit: Optional[int]) -> Call[t.UsageEventPage]:
    query = {"userId": user_id, "memberId": member_id, "from": instant(from_) if from_ else None,
             "to": instant(to) if to else None, "cursor": cursor, "limit": str(limit) if limit else None}
    return Call("GET", "/v1/usage-events", usage_events, query={k: v for k, v in query.items() if v})


def list_users(cursor: Optional[str], limit: Optional[int], plan_id: Optional[str],
               status: Optional[str], parent_id: Optional[str]) -> Call[t.UserPage]:
    query = {"cursor": cursor, "limit": str(limit) if limit else None, "planId": plan_id,
             "status": status, "parentId": parent_id}
    return Call("GET", "/v1/users", page(t.UserInfo), query={k: v for k, v in query.items() if v})


def override_body(override: Mapping[str, Any]) -> Dict[str, Any]:
    body: Dict[str, Any] = {"quota": override["quota"]}
    expires = override.get("expires_at", override.get("expiresAt"))
    if expires is not None:
        body["expiresAt"] = instant(expires)
    return body


def subscription_path(user_id: str) -> str:
    return f"/v1/users/{seg(user_id)}/subscription"


def upsert_subscription(user_id: str, plan_id: str, started_at: Optional[When],
                        overrides: Optional[Mapping[str, Mapping[str, Any]]],
                        parent_id: Any, keep: Any) -> Call[t.Subscription]:
    body: Dict[str, Any] = {"planId": plan_id}
    if started_at is not None:
        body["startedAt"] = instant(started_at)
    if overrides is not None:
        body["overrides"] = {group: override_body(o) for group, o in overrides.items()}
    if parent_id is not keep:
        body["parentId"] = parent_id
    return Call("PUT", subscription_path(user_id), one(t.Subscription), body)


def user_call(method: str, user_id: str, tail: str, body: Any = None) -> Call[t.Subscription]:
    return Call(method, f"/v1/users/{seg(user_id)}{tail}", one(t.Subscription), body)


def override_call(method: str, user_id: str, group_id: str, body: Any, value: Optional[str]) -> Call[t.Subscription]:
    """A group's override, or with `value` one value's of a per-value group (the subscription
    keeps it as `<group_id>~<value>`). `value=""` is sent, not dropped: the gateway refuses it
    naming `value`, where dropping it would change the whole group's override instead."""
    return Call(method, f"/v1/users/{seg(user_id)}/overrides/{seg(group_id)}", one(t.Subscription), body,
                query={"value": value} if value is not None else None)


def set_override(user_id: str, group_id: str, quota: float, expires_at: Optional[When],
                 value: Optional[str]) -> Call[t.Subscription]:
    body = override_body({"quota": quota, "expires_at": expires_at})
    return override_call("PUT", user_id, group_id, body, value)


def remove_override(user_id: str, group_id: str, value: Optional[str]) -> Call[t.Subscription]:
    return override_call("DELETE", user_id, group_id, None, value)


def adjust(user_id: str, group_id: str, amount: float, reason: str,
           idempotency_key: Optional[str]) -> Call[t.AdjustmentAnswer]:
    body = {"groupId": group_id, "amount": amount, "reason": reason}
    return Call("POST", f"/v1/users/{seg(user_id)}/adjustments", one(t.AdjustmentAnswer), body,
                idempotency_key=idempotency_key or new_key())


def grant(user_id: str, balance: str, amount: float, priority: Optional[int], category: Optional[str],
          effective_at: Optional[When], expires_at: Optional[When], cost_basis: Optional[float],
          source: Optional[str], metadata: Optional[Metadata],
          idempotency_key: Optional[str]) -> Call[t.GrantMade]:
    # Always keyed: a retried grant (or a payment's webhook delivered twice, with the
    # payment's id as the key) grants once; the gateway answers a repeat with the first grant.
    body: Dict[str, Any] = {"balance": balance, "amount": amount}
    optional = {"priority": priority, "category": category,
                "effectiveAt": instant(effective_at) if effective_at is not None else None,
                "expiresAt": instant(expires_at) if expires_at is not None else None,
                "costBasis": cost_basis, "source": source,
                "metadata": dict(metadata) if metadata is not None else None}
    body.update({k: v for k, v in optional.items() if v is not None})
    return Call("POST", f"/v1/users/{seg(user_id)}/grants", one(t.GrantMade), body,
                idempotency_key=idempotency_key or new_key())


def list_grants(user_id: str, balance: Optional[str]) -> Call[t.Page[t.Grant]]:
    return Call("GET", f"/v1/users/{seg(user_id)}/grants", page(t.Grant),
                query={"balance": balance} if balance else None)


def void_grant(user_id: str, grant_id: str) -> Call[t.Grant]:
    # A repeat answers the voided grant: replayable without a key.
    return Call("POST", f"/v1/users/{seg(user_id)}/grants/{seg(grant_id)}/void", one(t.Grant), {})


def balances(user_id: str) -> Call[t.Page[t.Balance]]:
    return Call("GET", f"/v1/users/{seg(user_id)}/balances", page(t.Balance))


def balances_summary(balance: Optional[str], user_id: Optional[str], from_: Optional[When],
                     to: Optional[When]) -> Call[t.CreditSummary]:
    query = {"balance": balance, "userId": user_id,
             "from": instant(from_) if from_ is not None else None,
             "to": instant(to) if to is not None else None}
    return Call("GET", "/v1/balances/summary", one(t.CreditSummary),
                query={k: v for k, v in query.items() if v is not None} or None)


def list_adjustments(user_id: str) -> Call[t.Page[t.Adjustment]]:
    return Call("GET", f"/v1/users/{seg(user_id)}/adjustments", page(t.Adjustment))


def create_user_token(user_id: str, ttl_seconds: Optional[int]) -> Call[t.UserToken]:
    body: Dict[str, Any] = {"userId": user_id}
    if ttl_seconds is not None:
        body["ttlSeconds"] = ttl_seconds
    return Call("POST", "/v1/user-tokens", one(t.UserToken), body)


def put_plan(plan: Union[t.Plan, Mapping[str, Any]], plan_id: Optional[str]) -> Call[t.Plan]:
    doc = dump(plan)
    doc.pop("version", None)
    pid = plan_id or doc.get("id")
    if not pid:
        raise ValueError("the plan needs an id (in the plan, or plan_id=)")
    return Call("PUT", f"/v1/plans/{seg(pid)}", one(t.Plan), doc)


def plan_call(method: str, plan_id: str) -> Call[t.Plan]:
    return Call(method, f"/v1/plans/{seg(plan_id)}", one(t.Plan))


def delete_plan(plan_id: str) -> Call[None]:
    return Call("DELETE", f"/v1/plans/{seg(plan_id)}", nothing)


def list_plans(owner: Optional[str]) -> Call[t.Page[t.Plan]]:
    """Every plan, or with `owner` those where it owns the plan or a group. `owner=""` is sent,
    not dropped: the gateway refuses it naming `owner`, where dropping it would list every plan."""
    return Call("GET", "/v1/plans", page(t.Plan), query={"owner": owner} if owner is not None else None)


def list_approvals(status: Optional[str], user_id: Optional[str], cursor: Optional[str],
                   limit: Optional[int]) -> Call[t.ApprovalPage]:
    query = {"status": status, "userId": user_id, "cursor": cursor,
             "limit": str(limit) if limit is not None else None}
    return Call("GET", "/v1/approvals", page(t.Approval),
                query={k: v for k, v in query.items() if v is not None} or None)


def get_approval(approval_id: str) -> Call[t.Approval]:
    return Call("GET", f"/v1/approvals/{seg(approval_id)}", one(t.Approval))


def approve(approval_id: str, quota: float, expires_at: Optional[When]) -> Call[t.Approval]:
    body: Dict[str, Any] = {"quota": quota}
    if expires_at is not None:
        body["expiresAt"] = instant(expires_at)
    # The route takes no Idempotency-Key: an attempt that ran but lost its answer would make
    # the retry a 409 approval_decided for the caller's own decision. Retried only when it
    # cannot have arrived; after backend_unavailable, get_approval says whether it was decided.
    return Call("POST", f"/v1/approvals/{seg(approval_id)}/approve", one(t.Approval), body,
                replayable=False)


def decline(approval_id: str, reason: str) -> Call[t.Approval]:
    # Not replayable, for the same reason as approve.
    return Call("POST", f"/v1/approvals/{seg(approval_id)}/decline", one(t.Approval),
                {"reason": reason}, replayable=False)
