"""The gateway's answers as dataclasses, named as its OpenAPI document names them.

Amounts are numbers of units with up to three decimals (int when whole); times are RFC 3339
strings as the gateway writes them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Dict, Generic, List, Literal, Optional, TypeVar, Union

from .decision import Allowed, Check, Counter, Decision, Denial, Denied, Granted, Reason, RunProgress, SoonestExpiry
from .params import ApprovalStatus, FailMode, Fit
from .simulations import (ChangeCount, GroupPeak, Percentiles, Simulation, SimulationFailure, SimulationProgress,
                          SimulationReport, SimulationTotals, UserRow, UserScenario)

__all__ = [
    "Allowed", "Check", "Counter", "Decision", "Denial", "Denied", "Granted",
    "CommitAnswer", "ReleaseAnswer", "ExtendAnswer", "OutcomeAnswer", "Hold", "Reservation", "TrackAnswer",
    "Period", "ParentUsage", "Usage", "OpenJob", "JobKind", "Override", "Subscription", "AdjustmentAnswer",
    "Page", "Adjustment", "UserInfo", "UserPage", "UsageGroup", "UsageEvent", "UsageEventPage",
    "DayGroup", "Day", "DailyUsage", "UserToken", "UserKey", "Webhook", "DeliveryTry", "WebhookDelivery",
    "PlanGroup", "Plan", "Allowance", "Rollover", "SoonestExpiry", "Grant", "GrantMade", "Balance",
    "Approval", "ApprovalPage", "CreditMove", "RunProgress", "RunLimits", "RunGroup", "Run",
    "RunStart", "RunExtended", "Catalog", "CatalogEntry", "PriceDoc", "Price", "PriceSource", "ChangeCount", "GroupPeak", "Percentiles", "Simulation", "SimulationFailure",
    "SimulationProgress", "SimulationReport", "SimulationTotals", "UserRow", "UserScenario",
    "FailMode", "Fit", "Reason", "Provider", "PriceSourceKind", "SettleStatus", "ReservationStatus", "UserStatus", "UsageStatus", "GrantStatus", "RunState",
    "ReviewEvery",
]

Amount = Union[int, float]
# How a commit or release left its reservation (a repeat answers its state as it is; a release
# after expiry "expired"); "unchecked" for one of a reserve fail_mode="open" let through.
SettleStatus = Literal["committed", "released", "expired", "unchecked"]
# Where a reservation stands.
ReservationStatus = Literal["held", "committed", "released", "expired"]
# A subscriber, blocked or not.
UserStatus = Literal["active", "blocked"]
# A user's usage: on a plan, blocked, or on no plan (`plan_id` None).
UsageStatus = Literal["active", "blocked", "no_subscription"]
# A grant: before its effective time, live, or how it ended.
GrantStatus = Literal["scheduled", "active", "voided", "expired", "depleted"]
# A run: open, closed, expired; "unchecked" for one fail_mode="open" let through.
RunState = Literal["open", "closed", "expired", "unchecked"]
# The providers the model catalog lists ("bedrock" for Amazon Bedrock's own model ids).
Provider = Literal["openai", "anthropic", "google", "mistral", "bedrock"]
# Where a priced group's amount came from: the project's own price (`set_price`), the catalog,
# the provider's reported cost, or no price at all (counted at zero by a group whose
# `unpriced` is "allow").
PriceSourceKind = Literal["override", "catalog", "provider", "unpriced"]
# How often a budget's owner reviews it (a plan's or a group's `review_every`).
ReviewEvery = Literal["day", "week", "month"]
# An async job submitted through the proxy: an OpenAI batch, an Anthropic message batch, an
# OpenAI video, a Gemini batch, or an open realtime session.
JobKind = Literal["batch", "message_batch", "video", "gemini_batch", "realtime_session"]
T = TypeVar("T")


@dataclass(frozen=True)
class Page(Generic[T]):
    """One page of a list, the shape every list of the gateway answers: `data`, and
    `next_cursor`, where the next page starts (pass it as `cursor=`), None on the last page.
    Lists answered whole (grants, balances, runs, adjustments, plans, webhooks, deliveries)
    are one page whose `next_cursor` is None."""

    data: List[T]
    next_cursor: Optional[str]


@dataclass(frozen=True)
class CommitAnswer:
    reservation_id: str
    status: SettleStatus
    late: bool
    counters: List[Counter]
    over_quota: List[str]


@dataclass(frozen=True)
class OutcomeAnswer:
    """`set_outcome`: the outcome now said, and the one it replaced (`previous`; None when none
    was, equal to `outcome` when it was said already and nothing changed)."""

    reservation_id: str
    outcome: str
    previous: Optional[str]


@dataclass(frozen=True)
class ReleaseAnswer:
    reservation_id: str
    status: SettleStatus
    counters: List[Counter]


@dataclass(frozen=True)
class ExtendAnswer:
    reservation_id: str
    expires_at: str


@dataclass(frozen=True)
class Hold:
    subject_id: str
    group_id: str
    amount: Amount
    committed: Optional[Amount]
    period_start: Optional[str]
    resets_at: Optional[str]


@dataclass(frozen=True)
class Reservation:
    """A reservation with its status and holds, and what it was for: `quantity` (None for
    reservations made before the gateway kept it) and `metadata` (None when the reserve had
    none)."""

    reservation_id: str
    user_id: str
    event: str
    quantity: Optional[Amount]
    metadata: Optional[Dict[str, Any]]
    status: ReservationStatus
    expires_at: str
    holds: List[Hold]


@dataclass(frozen=True)
class TrackAnswer:
    """`run` says where the run stands after a track step (a track with `run_id`)."""

    counters: List[Counter]
    over_quota: List[str]
    run: Optional[RunProgress] = None


@dataclass(frozen=True)
class Period:
    start: Optional[str]
    end: Optional[str]


@dataclass(frozen=True)
class ParentUsage:
    subject_id: str
    plan_id: Optional[str]
    status: UsageStatus
    period: Optional[Period]
    counters: List[Counter]


@dataclass(frozen=True)
class OpenJob:
    """An async job (a batch, a message batch, a video) the user submitted through the proxy
    and the gateway has not settled yet: `id` is the provider's, on `upstream`; `held` its
    worst case as held, in the proxy's counts (`{"input_tokens": 120, "output_tokens": 40}`,
    `{"video_seconds": 8}`), under the reservation `reservation_id`. `due_at` is when the job's
    window ends (past it, `overdue`: stuck at the provider), `hold_ends_at` when its hold
    expires (the gateway settles it before); `age_seconds` since `submitted_at`."""

    id: str
    upstream: str
    kind: JobKind
    model: str
    held: Dict[str, Any]
    reservation_id: str
    submitted_at: str
    due_at: str
    hold_ends_at: str
    age_seconds: int
    overdue: bool


@dataclass(frozen=True)
class Usage:
    """A user's counters in their current periods, the budgets of the parents it shares, and
    `jobs`, its open async jobs (oldest first; empty when none, and from a gateway that does
    not list them), each holding its worst case until the provider says it ended."""

    user_id: str
    plan_id: Optional[str]
    status: UsageStatus
    period: Optional[Period]
    counters: List[Counter]
    parent_id: Optional[str]
    parents: List[ParentUsage]
    jobs: List[OpenJob] = field(default_factory=list)


@dataclass(frozen=True)
class Override:
    quota: Amount
    expires_at: Optional[str]


@dataclass(frozen=True)
class Subscription:
    user_id: str
    plan_id: Optional[str]
    started_at: Optional[str]
    status: UserStatus
    reason: Optional[str]
    overrides: Dict[str, Override]
    parent_id: Optional[str]


@dataclass(frozen=True)
class AdjustmentAnswer:
    applied: Amount
    counter: Counter


@dataclass(frozen=True)
class Adjustment:
    at: str
    group_id: str
    period_start: Optional[str]
    amount: Amount
    applied: Amount
    before: Amount
    after: Amount
    reason: str


@dataclass(frozen=True)
class UserInfo:
    user_id: str
    plan_id: Optional[str]
    status: UserStatus
    parent_id: Optional[str]


UserPage = Page[UserInfo]


@dataclass(frozen=True)
class PriceSource:
    """Where a priced group's part of a ledger entry got its price: `source` ("override": the
    project's own price, "catalog", "provider": the provider's reported cost, "unpriced": no
    price, counted at zero), the `model` priced, and for a catalog price the catalog's
    `catalog_version` (None otherwise)."""

    source: PriceSourceKind
    model: str
    catalog_version: Optional[str] = None


@dataclass(frozen=True)
class UsageGroup:
    """One group's part of a ledger entry; `value` is a per-value group's value (None on
    other groups); `price` says where a priced group's (`"measure": {"price": ...}`) price came
    from (None on other groups)."""

    group_id: str
    unit: str
    period_start: Optional[str]
    amount: Amount
    value: Optional[str] = None
    price: Optional[PriceSource] = None


@dataclass(frozen=True)
class CreditMove:
    """Credits a ledger entry moved on one grant of a `balance` (`grant_id` None for debt):
    what a balance group (`group_id`) burned, or what a grant entry granted, voided or
    expired; `category` "paid" or "promotional" (None for an allowance's credits and debt),
    `cost_basis` in cents per credit."""

    group_id: Optional[str]
    balance: str
    grant_id: Optional[str]
    amount: Amount
    category: Optional[str]
    cost_basis: Optional[Amount]


@dataclass(frozen=True)
class UsageEvent:
    """One entry of the usage ledger. A commit's says the quantity committed (the reserved one
    when the commit gave none) and the reservation's metadata, the commit's own merged on top.
    `key_id` is the API key (or dashboard operator) that made the call, a "grant"'s included;
    None where no call of a key wrote the entry ("release", "expiry", "denied", the
    "grant_void", "grant_expired" and "debt_settled" a later call writes, an expired run's
    "run_close") and in entries written before the gateway kept it; `member_id`, in a parent's
    (team's) ledger, the member whose event it was (the entry has the member's entry's `id`),
    None in a member's own.

    `kind` is "commit", "late_commit", "track", "adjustment", "grant", "grant_void",
    "grant_expired", "debt_settled", "run_close" (a run's end: no usage of its own, its
    steps' entries counted it, but the `credits` it burned), or, with no usage, "denied" (a
    refused reserve: the first 100 of a user's UTC day), "release" or "expiry" (a hold's end
    without a commit), which the pricing lab replays, or "outcome" (what a committed call's
    output came to, said after its commit: its groups' amounts are 0). `outcome` is on the
    "commit", "track" and "run_close" entries that said one, and on an "outcome" entry with the
    `previous_outcome` it replaced (None when none was); None elsewhere. Entries of a run's
    steps carry `run_id`, `action_id` (None for a step that named none) and `step_kind`
    ("primary", "retry" or "fallback"); None on others.
    `credits` lists the credits the entry moved (empty when none). A "denied" entry names the
    groups that denied it (`denied_by`; empty on other entries). An entry that ends a hold
    ("commit", "late_commit", "release", "expiry") says when it was reserved (`held_since`)
    and what it reserved (`reserved`; a commit's `quantity` is the actual one), an "expiry"
    also when the hold went back (`held_until`; its `time` is when the gateway noticed); None
    where they do not apply, and on entries written before the gateway kept them.
    `decided_at` is the instant the gateway decided the call at, which chose its windows (a
    commit's, release's or expiry's: its reserve's); None on entries that have none, such as
    those written before the gateway kept it.

    `changes_usage` is True for the kinds whose `groups` are what the counters counted
    ("commit", "late_commit", "track", "adjustment") and False for every other ("grant",
    "grant_void", "grant_expired", "debt_settled", "run_close", "denied", "release",
    "expiry", "outcome"), whose `quantity` is what was asked or held, or none: sum only the
    entries where it is True."""

    id: str
    kind: str
    time: str
    user_id: str
    event: Optional[str]
    metadata: Optional[Dict[str, Any]]
    quantity: Optional[Amount]
    groups: List[UsageGroup]
    reason: Optional[str]
    key_id: Optional[str]
    member_id: Optional[str]
    credits: List[CreditMove] = field(default_factory=list)
    run_id: Optional[str] = None
    action_id: Optional[str] = None
    step_kind: Optional[str] = None
    denied_by: List[str] = field(default_factory=list)
    held_since: Optional[str] = None
    reserved: Optional[Amount] = None
    held_until: Optional[str] = None
    changes_usage: bool = False
    outcome: Optional[str] = None
    previous_outcome: Optional[str] = None
    decided_at: Optional[str] = None


# Follow `next_cursor` until it is None: a page of the ledger may hold fewer entries than
# `limit` and still name one.
UsageEventPage = Page[UsageEvent]


@dataclass(frozen=True)
class DayGroup:
    """One group's UTC day: `used`, reserves admitted and denied, releases, expiries, and as a
    counter's in `usage`, `outcomes` (empty when none was said that day) and
    `cost_per_accepted` (None when none was accepted)."""

    group_id: str
    used: Amount
    reserves_admitted: int
    reserves_denied: int
    releases: int
    expiries: int
    outcomes: Dict[str, int] = field(default_factory=dict)
    cost_per_accepted: Optional[Amount] = None


@dataclass(frozen=True)
class Day:
    date: str
    groups: List[DayGroup]


@dataclass(frozen=True)
class DailyUsage:
    user_id: str
    days: List[Day]


@dataclass(frozen=True)
class UserToken:
    token: str
    expires_at: str


@dataclass(frozen=True)
class UserKey:
    """A key one end user's app calls the provider with, through the proxy only, as that user.
    `key` (`qg_uk_…`) is in the answer that minted it, never again (None in a list); `hint` is
    its prefix and last four characters, to tell keys apart. `expires_at` None: it never
    expires (revoke it with `revoke_user_key`)."""

    id: str
    user_id: str
    label: str
    hint: str
    created_at: str
    expires_at: Optional[str]
    key: Optional[str] = None


@dataclass(frozen=True)
class Webhook:
    id: str
    url: str
    events: List[str]
    description: str
    enabled: bool
    disabled_reason: Optional[str]
    created_at: Optional[str]
    # Only in the answer that made the endpoint: `whsec_…`.
    secret: Optional[str]


@dataclass(frozen=True)
class DeliveryTry:
    at: Optional[str]
    status: Optional[int]
    error: str


@dataclass(frozen=True)
class WebhookDelivery:
    id: str
    event_id: str
    type: str
    state: str
    attempts: int
    created_at: Optional[str]
    tries: List[DeliveryTry]
    payload: Any
    # When the next attempt is due, while one is scheduled.
    next_attempt_at: Optional[str] = None


@dataclass(frozen=True)
class Rollover:
    """What is left of a period's allowance carries into the next period only, at most `max`."""

    max: Amount


@dataclass(frozen=True)
class Allowance:
    """A balance group's `amount` of credits each period, burned before any grant and ended
    with the period (but for what `rollover` carries)."""

    amount: Amount
    rollover: Optional[Rollover] = None


@dataclass(frozen=True)
class PlanGroup:
    """A group of a plan; `matches`, `period` and `measure` stay the documents they are.

    A balance group names a `balance` instead of a `quota` (its limit is the user's grants of
    that balance, and `overdraft` how far below zero its reserves may go); its `unit` is
    optional (`count`). Its `allowance` gives it credits each period, burned before any grant;
    `low_balance` lists amounts whose reaching from above sends `credits.low_balance` (and 0,
    `credits.depleted`). A match rule may price the event with its own measure:
    `{"event": "image.render", "metadata": {"model": "flux-pro"}, "measure": {"rate": 10}}`.

    `mode` "approval" denies like "hard", and its first denial of a user in a period opens an
    approval request (`list_approvals`). `per` names a metadata key: the group keeps one
    counter per distinct value of it (each with the group's quota), at most 64 a period.

    A cents group (or a balance group with `creditsPerDollar`) may price calls by their model:
    `"measure": {"price": "catalog", "markup": 1.2}` counts the call's metadata counts
    (`input_tokens`, `output_tokens`, `cached_input_tokens`, `cache_write_tokens`, `images`,
    `audio_input_tokens`, `audio_output_tokens`, `audio_seconds`, `input_characters`)
    at the price of its `model` (the project's `set_price`, else the catalog's) times the
    markup. `fit` "clamp" lets a hard group's hold that does not fit whole take what is left
    (at least `min_fit`, in output tokens when the event names `output_tokens`, else in its
    quantity); "whole" (default) denies it.

    `owner` (free text, 1 to 128 bytes: a team or a person who answers for the budget) and
    `review_every` ("day", "week" or "month") are the group's own instead of the plan's;
    every alert and approval request of the group carries them.

    `period` is the group's own window instead of the plan's, as the document writes it:
    `{"type": "rolling", "seconds": 60}` (1 to 86,400 seconds, on a `count` or `tokens` group,
    "hard" or "soft") admits at most the quota in any span of that many seconds ending now, and
    a denial by it says in `retry_after` the seconds until enough has rolled out.

    `max_fallback_spend` (in the group's unit) bounds what the proxy's fallback attempts after
    the first of one original call may hold and spend together in the group, for calls outside
    runs; past it the next attempt is refused (`fallback_budget_exhausted`).
    """

    id: str
    unit: Optional[str]
    quota: Optional[Amount]
    matches: List[Dict[str, Any]]
    label: Optional[str] = None
    mode: Optional[str] = None
    on_plan_change: Optional[str] = None
    period: Optional[Dict[str, Any]] = None
    measure: Optional[Dict[str, Any]] = None
    alerts: Optional[List[int]] = None
    balance: Optional[str] = None
    overdraft: Optional[Amount] = None
    per: Optional[str] = None
    allowance: Optional[Allowance] = None
    low_balance: Optional[List[Amount]] = None
    fit: Optional[Fit] = None
    min_fit: Optional[Amount] = None
    owner: Optional[str] = None
    review_every: Optional[ReviewEvery] = None
    max_fallback_spend: Optional[Amount] = None


@dataclass(frozen=True)
class Plan:
    """A plan document; `put_plan` takes one of these or the same as a JSON-like dict. Its
    `owner` and `review_every` apply to each group that names none of its own;
    `list_plans(owner=...)` finds the plans where an owner owns the plan or a group."""

    groups: List[PlanGroup]
    id: Optional[str] = None
    name: Optional[str] = None
    period_type: Optional[str] = None
    period_anchor: Optional[str] = None
    unmatched: Optional[str] = None
    alerts: Optional[List[int]] = None
    owner: Optional[str] = None
    review_every: Optional[ReviewEvery] = None
    # Set by the gateway; ignored when a fetched plan is put back.
    version: Optional[int] = field(default=None, compare=False)


@dataclass(frozen=True)
class Grant:
    """Credits granted to one of a user's balances, and where they went:
    `amount` = `remaining` + `held` + `consumed` + `expired` + `voided`.

    `category` is "paid" or "promotional"; `status` "scheduled" (before `effective_at`),
    "active", "depleted", "expired" or "voided"; `cost_basis` is what the customer paid per
    credit, in cents (None when not given).
    """

    grant_id: str
    balance: str
    amount: Amount
    remaining: Amount
    held: Amount
    consumed: Amount
    expired: Amount
    voided: Amount
    priority: int
    category: str
    status: GrantStatus
    effective_at: str
    expires_at: Optional[str]
    cost_basis: Optional[Amount]
    source: Optional[str]
    metadata: Optional[Dict[str, Any]]
    created_at: str


@dataclass(frozen=True)
class GrantMade(Grant):
    """What `grant` answers: the grant made (for a repeated Idempotency-Key, the one first
    made), and `debt_paid`, the balance's debt it paid first out of its amount."""

    debt_paid: Amount


@dataclass(frozen=True)
class CategoryTotals:
    """One category's credits over a summary's span: granted, burned (by commits, tracks and
    paying debt), voided, expired (breakage), outstanding (granted and none of those), and the
    revenue burned credits recognise at their grants' cost basis, in cents."""

    granted: Amount
    burned: Amount
    voided: Amount
    expired: Amount
    outstanding: Amount
    revenue_cents: Amount


@dataclass(frozen=True)
class CreditSummary:
    """What the ledger says of credits over a span: paid and promotional apart, what
    allowances covered, debt added and settled; `truncated` when the span held more entries
    than one summary reads."""

    balance: Optional[str]
    paid: CategoryTotals
    promotional: CategoryTotals
    allowance_burned: Amount
    debt_added: Amount
    debt_settled: Amount
    truncated: bool
    # Last, with defaults: the span as the gateway read it (None when open).
    from_: Optional[str] = None
    to: Optional[str] = None


@dataclass(frozen=True)
class Balance:
    """One of a user's balances: `available` now, `held` by open reservations, `debt`, the
    `soonest_expiry` (None when nothing remaining expires), and its grants in burn order."""

    balance: str
    available: Amount
    held: Amount
    debt: Amount
    soonest_expiry: Optional[SoonestExpiry]
    grants: List[Grant]


@dataclass(frozen=True)
class Approval:
    """An approval request: an approval group's first denial of a user in a period, then its
    decision.

    `status` is "pending", "approved" or "declined". `event` and `amount` are the denied
    reserve's; `used`, `reserved` and `quota` the counter when it was denied; `period_start`
    and `resets_at` the period it was asked in (None for a lifetime group). An approval sets
    `approved_quota` (the user's new quota of the group) until `expires_at`; a decline sets
    `reason`; either sets `decided_at` and `decided_by` (the key or operator, as the audit
    log names it).

    A per-value group (`"per": "model"`) opens one request per value, each approved or
    declined on its own: `value` names it (None on other groups). A request whose period ended
    undecided is closed as "declined", `reason` "its period ended before a decision", when it
    is listed or decided.

    Whom to ask: `plan_id` is the user's plan when the request was opened, `owner` the group's
    owner then (else the plan's) and `review_every` how often they review it; each None when
    not named.
    """

    approval_id: str
    user_id: str
    group_id: str
    value: Optional[str]
    status: ApprovalStatus
    period_start: Optional[str]
    resets_at: Optional[str]
    event: str
    amount: Amount
    used: Amount
    reserved: Amount
    quota: Amount
    requested_at: str
    decided_at: Optional[str]
    approved_quota: Optional[Amount]
    expires_at: Optional[str]
    reason: Optional[str]
    decided_by: Optional[str]
    plan_id: Optional[str] = None
    owner: Optional[str] = None
    review_every: Optional[ReviewEvery] = None


# Approval requests, oldest first (a queue); pass `cursor=page.next_cursor` for the next page
# until it is None.
ApprovalPage = Page[Approval]


@dataclass(frozen=True)
class RunLimits:
    """What a run allows its steps beyond its budget, each None for no limit: `steps` in all,
    `attempts_per_action` (attempts of one `action_id`: the first, its retries and fallbacks),
    `fallbacks` in all, `fallback_share` (0 to 1: the share of each group's budget that
    fallback steps may spend), and `max_fallback_spend` (what the attempts after the first of
    one action, a routed proxy call's next targets, may hold and spend together in each group
    the run holds, in the group's unit). `start_run(limits=...)` takes one of these or a dict."""

    steps: Optional[int] = None
    attempts_per_action: Optional[int] = None
    fallbacks: Optional[int] = None
    fallback_share: Optional[Amount] = None
    max_fallback_spend: Optional[Amount] = None


@dataclass(frozen=True)
class RunGroup:
    """One group a run holds: its `budget`, what its steps committed or tracked (`used`), what
    open steps hold (`open`), `remaining` = max(0, budget - used - open), and what fallback
    steps spent (`fallback_spent`)."""

    group_id: str
    unit: str
    budget: Amount
    used: Amount
    open: Amount
    remaining: Amount
    fallback_spent: Amount


@dataclass(frozen=True)
class Run:
    """A run: a budget held up front from a user's quotas and credits, from which its steps
    draw, and what they drew. `state` is "open", "closed" or "expired" ("unchecked" for the
    local answer about a run whose start the gateway never decided, see `fail_mode`);
    `attempts` counts the attempts of each `action_id`; `children` are the runs started
    under it (`parent_run_id`)."""

    run_id: str
    user_id: str
    event: str
    state: RunState
    created_at: Optional[str]
    expires_at: str
    ended_at: Optional[str]
    parent_run_id: Optional[str]
    limits: RunLimits
    steps: int
    fallbacks: int
    attempts: Dict[str, int]
    groups: List[RunGroup]
    children: List[str]


@dataclass(frozen=True)
class RunStart:
    """What starting a run answers: `allowed` with its `run_id` and `expires_at`, or refused
    (`run_id` None: no run exists) with the `reasons`, `denied_by` and `denials` of a reserve
    (and a step's reasons when it was a child run, a step of its parent). `unchecked` is true
    when the gateway gave no answer (see `fail_mode`)."""

    allowed: bool
    run_id: Optional[str]
    expires_at: Optional[str]
    reasons: List[Reason]
    denied_by: List[str]
    denials: List[Denial]
    counters: List[Counter]
    rate_limit: Optional[str] = None
    rate_limit_policy: Optional[str] = None
    retry_after: Optional[int] = None
    unchecked: bool = False
    run: Optional[RunProgress] = None


@dataclass(frozen=True)
class RunExtended:
    run_id: str
    expires_at: str


@dataclass(frozen=True)
class LongContextPrices:
    """A long-context tier: a call whose input tokens (cached and cache-write ones included) are
    more than `over_input_tokens` (a whole number, 1 to 100,000,000) is priced whole at these
    prices, USD per million tokens, as the providers bill it; a missing cached or cache-write
    price is the tier's input price. Gemini 2.5 Pro's: over 200,000 input tokens, $2.50 in,
    $0.25 cached, $15 out."""

    over_input_tokens: int
    input_per_million: Amount
    output_per_million: Amount
    cached_input_per_million: Optional[Amount] = None
    cache_write_per_million: Optional[Amount] = None


@dataclass(frozen=True)
class BatchPrices:
    """The provider's batch API's prices, USD per million input and output tokens (about half
    the standard ones); kept and shown, no call is priced by them yet."""

    input_per_million: Amount
    output_per_million: Amount


@dataclass(frozen=True)
class CatalogEntry:
    """One model of the gateway's catalog: its prices in USD per million tokens
    (`cached_input_per_million` and `cache_write_per_million` None where the input's price
    applies), `per_image` in USD per image by `"<quality>/<size>"` (None for models not priced
    by the image), its `context_window` and `max_output_tokens`, the names it also answers to
    (`aliases`), and where (`source`, a public page) and when (`as_of`, YYYY-MM-DD) the prices
    were read. Audio models have theirs: per million audio input and output tokens, per second
    or minute of input audio, per million characters spoken (None where not priced so);
    `long_context` is the tier of a model that charges more past a prompt's length, `batch` its
    batch prices, each None where it has none."""

    model: str
    provider: Provider
    aliases: List[str]
    input_per_million: Amount
    cached_input_per_million: Optional[Amount]
    cache_write_per_million: Optional[Amount]
    output_per_million: Amount
    per_image: Optional[Dict[str, Amount]]
    context_window: int
    max_output_tokens: int
    as_of: str
    source: str
    audio_input_per_million: Optional[Amount] = None
    audio_output_per_million: Optional[Amount] = None
    per_second: Optional[Amount] = None
    per_minute: Optional[Amount] = None
    per_million_characters: Optional[Amount] = None
    long_context: Optional[LongContextPrices] = None
    batch: Optional[BatchPrices] = None


@dataclass(frozen=True)
class Catalog:
    """The catalog the gateway prices by (`catalog()`): its `version` (the day it was compiled,
    or the loaded file's) and every model in it."""

    version: str
    models: List[CatalogEntry]

    def find(self, model: str) -> Optional[CatalogEntry]:
        """The entry of `model`, by its name or one of its aliases; None when it is not listed."""
        for entry in self.models:
            if entry.model == model or model in entry.aliases:
                return entry
        return None


@dataclass(frozen=True)
class PriceDoc:
    """A model's prices as written: USD per million input and output tokens
    (`input_per_million` prices cached and cache-write input too unless they are priced
    apart), per image by `"<quality>/<size>"`, for audio per million audio tokens, per second
    or minute of audio and per million characters, a long-context tier and batch prices, where
    priced so; at most 6 decimals."""

    input_per_million: Amount
    output_per_million: Amount
    cached_input_per_million: Optional[Amount] = None
    cache_write_per_million: Optional[Amount] = None
    per_image: Optional[Dict[str, Amount]] = None
    audio_input_per_million: Optional[Amount] = None
    audio_output_per_million: Optional[Amount] = None
    per_second: Optional[Amount] = None
    per_minute: Optional[Amount] = None
    per_million_characters: Optional[Amount] = None
    long_context: Optional[LongContextPrices] = None
    batch: Optional[BatchPrices] = None


@dataclass(frozen=True)
class Price:
    """A price the project set for a model (`set_price`), which beats the catalog's: its
    prices, `updated_at` (RFC 3339), and `catalog`, what the catalog prices the model at, for
    comparison (None when the catalog does not list it)."""

    model: str
    input_per_million: Amount
    output_per_million: Amount
    updated_at: str
    cached_input_per_million: Optional[Amount] = None
    cache_write_per_million: Optional[Amount] = None
    per_image: Optional[Dict[str, Amount]] = None
    audio_input_per_million: Optional[Amount] = None
    audio_output_per_million: Optional[Amount] = None
    per_second: Optional[Amount] = None
    per_minute: Optional[Amount] = None
    per_million_characters: Optional[Amount] = None
    long_context: Optional[LongContextPrices] = None
    batch: Optional[BatchPrices] = None
    catalog: Optional[PriceDoc] = None
