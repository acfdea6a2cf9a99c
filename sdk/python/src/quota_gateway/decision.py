"""What `reserve` and `can_use` answer.

`reserve` answers `Allowed` or `Denied`, told apart by `allowed`, so a type checker knows that
`reservation_id` is a string exactly when `allowed` is true. The gateway's `RateLimit`,
`RateLimit-Policy` and `Retry-After` headers ride along, to be passed on to your own callers.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Dict, List, Literal, Optional, Union

# Why a reserve was denied: a quota (`limit_reached`), a balance (`insufficient_balance`), an
# approval waiting for a person, a per-value group full of values, a block, no plan, an event no
# group matches on a plan that denies those (`unmatched: "deny"`), a priced group with no price
# for the call's model (`unpriced_model`), a team's group whose room is leased to its members'
# slices for now (`parent_capacity_leased`, back by Retry-After); a run's step for its run's limits;
# `backend_unavailable` when the gateway gave no decision (the client's fail mode).
Reason = Literal[
    "limit_reached", "insufficient_balance", "approval_pending", "too_many_values", "user_blocked",
    "no_subscription", "unmatched_event", "unpriced_model", "run_budget_exhausted", "run_steps_exhausted",
    "action_attempts_exhausted", "fallback_budget_exhausted", "run_ended", "run_too_deep",
    "parent_capacity_leased", "backend_unavailable",
]


@dataclass(frozen=True)
class SoonestExpiry:
    """The credits of a balance that expire first (`amount`), and when (`at`, RFC 3339)."""

    amount: Union[int, float]
    at: str


@dataclass(frozen=True)
class RunProgress:
    """Where a run stands after one of its steps (the `run` of a step's answer): per group the
    run holds, what is `remaining` of its budget; `steps` so far (this one included) and
    `fallbacks` so far."""

    run_id: str
    remaining: Dict[str, Union[int, float]]
    steps: int
    fallbacks: int


@dataclass(frozen=True)
class Counter:
    """One group's counter for `subject_id` (the user, or a parent whose budget it shares).

    A balance group's counter (in the answers of reserve, can_use, commit, release and track)
    also has `balance` (the balance's name), `debt` (burned beyond every grant, paid first by
    the next grant) and `soonest_expiry` (None when nothing remaining expires); its
    `remaining` is what can be spent now, `reserved` what open reservations hold, and
    `exceeded` is true while it is in debt. On other counters those three are None.

    A per-value group's counter (`"per": "<metadata key>"`, one counter per distinct value of
    that key) has `value`, the value it counts; None on other groups' counters.

    A team's counter in `usage` has `leased` while it has capacity leased to its members'
    slices that they have neither used nor hold (their use is in `used` and `reserved` as it
    happens; `count` and `remaining` count it); None otherwise.

    In `usage`, `outcomes` counts what the period's outputs came to, per outcome said
    (`{"accepted": 2, "rejected": 1}`; empty when none was), and `cost_per_accepted` is `used`
    divided by the accepted ones, in the group's unit (rounded down to 0.001; None until one
    was accepted). A team's counters count their members' outcomes too. `fallback_used` is
    what attempts after the first of an original action (a routed proxy call's next targets)
    committed in the period (None when none did, and in other answers).

    A rolling window's counter has `rolling_seconds`, its length (its `period_start` is its
    oldest sub-window's start, `resets_at` when all it counts now has rolled out); None on
    calendar periods.
    """

    subject_id: str
    group_id: str
    label: str
    unit: str
    mode: str
    quota: Union[int, float]
    used: Union[int, float]
    reserved: Union[int, float]
    count: Union[int, float]
    remaining: Union[int, float]
    period_start: Optional[str]
    resets_at: Optional[str]
    exceeded: bool
    balance: Optional[str] = None
    debt: Optional[Union[int, float]] = None
    soonest_expiry: Optional[SoonestExpiry] = None
    value: Optional[str] = None
    leased: Optional[Union[int, float]] = None
    outcomes: Dict[str, int] = field(default_factory=dict)
    cost_per_accepted: Optional[Union[int, float]] = None
    rolling_seconds: Optional[int] = None
    fallback_used: Optional[Union[int, float]] = None


@dataclass(frozen=True)
class Denial:
    """What denied: a group of `subject_id` (`reason` "limit_reached", "insufficient_balance"
    for a balance group whose grants and overdraft cannot cover the amount, "approval_pending"
    for an approval group whose request waits for a person, "too_many_values" for a per-value
    group that has counted as many distinct values this period as it may), or, with `group_id`
    None, a level that denied before any counter (a blocked parent: "user_blocked").

    A step of a run (a reserve with `run_id`) may also be denied with "run_budget_exhausted"
    (the run's budget of `group_id` is spent), "run_steps_exhausted", "action_attempts_exhausted",
    "fallback_budget_exhausted" (with `group_id` when the group's fallback share is spent) or
    "run_ended" (the run is closed, expired or unknown).

    A priced group (`"measure": {"price": ...}`) denies "unpriced_model" when neither the
    project (`set_price`) nor the catalog prices the call's model: `model` names it.

    `approval_id` names the pending approval request of an "approval_pending" denial (see
    `get_approval`, `approve`, `decline`); None on every other denial. `model` is None on every
    denial but an "unpriced_model" one."""

    subject_id: str
    group_id: Optional[str]
    reason: Reason = "limit_reached"
    approval_id: Optional[str] = None
    model: Optional[str] = None


@dataclass(frozen=True)
class Granted:
    """What a reserve whose hold did not fit whole was granted, when a group (or the reserve's
    `fit="clamp"`) let it take what was left: its `quantity` (what is held), and
    `output_tokens`, the most output to ask the provider for, when the event's metadata named
    `output_tokens` (None otherwise). Call the provider for no more than this."""

    quantity: Union[int, float]
    output_tokens: Optional[int] = None


@dataclass(frozen=True)
class Passed:
    """An alternative `reserve_first` passed over: its `index` (in the order asked) and `event`,
    and its denial as a reserve of it alone says it (`reasons`, `denied_by`, `denials`,
    `counters`)."""

    index: int
    event: str
    reasons: List[Reason]
    denied_by: List[str]
    denials: List[Denial]
    counters: List[Counter]


@dataclass(frozen=True)
class Allowed:
    """An admitted reserve: commit or release `reservation_id` when the work is done.

    `unchecked` is true when the gateway gave no answer and `fail_mode="open"` let the call
    through: `reservation_id` is then empty, and commit, release and extend of it do nothing.
    `run` says where the run stands after a step (a reserve with `run_id`); None otherwise.
    `granted` is set when a hold did not fit whole and took what was left (`fit="clamp"`, or a
    group's own `"fit": "clamp"`): what the call may spend, which is what is held; None when it
    was granted all it asked.

    From `reserve_first`: `chosen` is the index of the alternative held (the first, unchecked,
    when `fail_mode="open"` let an unanswered call through), `alternatives` each one passed over
    before it; None and empty from `reserve`.
    """

    reservation_id: str
    expires_at: Optional[str]
    counters: List[Counter]
    reasons: List[Reason]
    denied_by: List[str]
    denials: List[Denial]
    rate_limit: Optional[str] = None
    rate_limit_policy: Optional[str] = None
    retry_after: Optional[int] = None
    unchecked: bool = False
    run: Optional[RunProgress] = None
    granted: Optional[Granted] = None
    chosen: Optional[int] = None
    alternatives: List[Passed] = field(default_factory=list)
    allowed: Literal[True] = True


@dataclass(frozen=True)
class Denied:
    """A refused reserve: `reasons` (`limit_reached`, `insufficient_balance`, `approval_pending`,
    `too_many_values`, `user_blocked`, `no_subscription`, `unmatched_event`, `unpriced_model`,
    `parent_capacity_leased`, `backend_unavailable`; a run's step also `run_budget_exhausted`, `run_steps_exhausted`,
    `action_attempts_exhausted`, `fallback_budget_exhausted`, `run_ended`) and the groups that
    refused it (`denied_by`, `denials`; an `approval_pending` denial names its request's
    `approval_id`, an `unpriced_model` one its `model`). `run` says where the run stands when a
    step was denied. `granted` is always None, as `reservation_id` is.

    From `reserve_first`, when no alternative fit: every one's reasons, groups and counters, and
    `alternatives` lists each one's denial (`chosen` is None)."""

    reasons: List[Reason]
    denied_by: List[str]
    denials: List[Denial]
    counters: List[Counter]
    rate_limit: Optional[str] = None
    rate_limit_policy: Optional[str] = None
    retry_after: Optional[int] = None
    unchecked: bool = False
    run: Optional[RunProgress] = None
    alternatives: List[Passed] = field(default_factory=list)
    chosen: None = None
    reservation_id: None = None
    expires_at: None = None
    granted: None = None
    allowed: Literal[False] = False


Decision = Union[Allowed, Denied]


@dataclass(frozen=True)
class Check:
    """What `reserve` would answer now (from `can_use`); nothing is held. `granted` is what a
    clamping reserve would be granted, when it would not fit whole."""

    allowed: bool
    reasons: List[Reason]
    denied_by: List[str]
    denials: List[Denial]
    counters: List[Counter]
    rate_limit: Optional[str] = None
    rate_limit_policy: Optional[str] = None
    retry_after: Optional[int] = None
    unchecked: bool = False
    granted: Optional[Granted] = None
