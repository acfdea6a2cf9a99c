"""The pricing lab's answers: a simulation replays a cohort's recorded demand (admitted and
denied reserves, tracks, adjustments) against a candidate plan and against the plans the users
are on (the baseline), and reports what the candidate would change.

Shares of a quota are fractions (1 is 100 %); amounts of credits and cents are numbers with up
to three decimals; times are RFC 3339 strings as the gateway writes them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Dict, List, Optional, Union

__all__ = [
    "ChangeCount", "GroupPeak", "Percentiles", "Simulation", "SimulationFailure", "SimulationProgress",
    "SimulationReport", "SimulationTotals", "UserRow", "UserScenario",
]

Amount = Union[int, float]


@dataclass(frozen=True)
class SimulationProgress:
    """The cohort's users, those replayed so far, and the ledger entries read so far."""

    users: int
    users_done: int
    entries: int


@dataclass(frozen=True)
class SimulationFailure:
    """Why a simulation failed: the `bound` it passed ("wallTime": 10 minutes), or None for a
    failure to read."""

    bound: Optional[str]
    detail: str


@dataclass(frozen=True)
class SimulationTotals:
    """What one plan did with the cohort's demand: decisions `admitted` and `denied`,
    `estimated` (denials it admitted, counted at their requested quantity), per threshold
    ("50", "80", "100" % of a group's quota) the users whose peak reached it (`crossed`), the
    credits balance groups burned and the cents groups of unit cents counted."""

    admitted: int
    denied: int
    estimated: int
    crossed: Dict[str, int]
    credits: Amount
    cents: Amount


@dataclass(frozen=True)
class ChangeCount:
    """Decisions the candidate decided otherwise, and the users they were of."""

    decisions: int
    users: int


@dataclass(frozen=True)
class Percentiles:
    """Shares of a quota (1 is 100 %) at which the users' peaks stand."""

    p50: float
    p90: float
    p99: float
    max: float


@dataclass(frozen=True)
class GroupPeak:
    group_id: str
    baseline: Percentiles
    candidate: Percentiles


@dataclass(frozen=True)
class UserScenario:
    """What one plan did with one user's demand: the thresholds (50, 80, 100) the user's peak
    share reached (`crossed`) and, per group, that peak (`peak_share`)."""

    admitted: int
    denied: int
    estimated: int
    crossed: List[int]
    peak_share: Dict[str, float]
    credits: Amount
    cents: Amount


@dataclass(frozen=True)
class UserRow:
    """One user: decisions the ledger `recorded` (admitted holds and denials) and those the
    baseline `reproduced`, and those the candidate decided otherwise."""

    user_id: str
    recorded: int
    reproduced: int
    newly_denied: int
    newly_admitted: int
    baseline: UserScenario
    candidate: UserScenario


@dataclass(frozen=True)
class SimulationReport:
    """`fidelity` is the share of recorded decisions the baseline replay reproduced (1 when
    none): how far the rest can be trusted. `credits_difference` and `cents_difference` are the
    candidate's minus the baseline's; `rows` come most affected first (newly denied, then newly
    admitted, then by user id)."""

    fidelity: float
    users: int
    entries: int
    recorded_decisions: int
    reproduced_decisions: int
    baseline: SimulationTotals
    candidate: SimulationTotals
    newly_denied: ChangeCount
    newly_admitted: ChangeCount
    credits_difference: Amount
    cents_difference: Amount
    peak_share: List[GroupPeak]
    rows: List[UserRow]


@dataclass(frozen=True)
class Simulation:
    """A simulation, kept a day: its `progress` while `status` is "running", then its `report`
    ("done") or its `error` ("failed"). `candidate_plan_id` is the candidate document's id, or
    "candidate" when it had none, `candidate` the document as it was tried; `cohort` is
    `{"planId": ...}` or `{"userIds": [...]}` as sent; `from_` and `to` the span replayed."""

    id: str
    status: str
    created_at: str
    finished_at: Optional[str]
    candidate_plan_id: str
    cohort: Dict[str, Any]
    from_: str
    to: str
    progress: SimulationProgress
    error: Optional[SimulationFailure]
    report: Optional[SimulationReport]
    # The candidate plan document as it was tried.
    candidate: Optional[Dict[str, Any]] = None
