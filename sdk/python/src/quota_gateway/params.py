"""What the methods take, where a dict is the natural shape."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal, Mapping, TypedDict, Union

# Metadata of an event: string keys, JSON values (the gateway bounds their number and size).
Metadata = Mapping[str, Any]
# An instant: an RFC 3339 string, or a datetime (a naive one is taken as UTC).
When = Union[str, datetime]
# A grant's category: which credits burn first at equal priority and expiry (promotional), and
# which are revenue (paid).
GrantCategory = Literal["paid", "promotional"]
# Where an approval request stands: waiting for a person, or decided either way.
ApprovalStatus = Literal["pending", "approved", "declined"]
# What `reserve`, `can_use` and `start_run` answer when the gateway gives no decision: a denial
# (reason "backend_unavailable"), or an unchecked admission.
FailMode = Literal["closed", "open"]
# How a reserve's holds may fit: "clamp", a hold that does not fit whole takes what is left of
# its hard group (at least `min_fit`) and the decision says what was `granted`; "whole", it is
# denied. Left out, each group's own `fit` ("whole" by default).
Fit = Literal["clamp", "whole"]
# What a call's output came to: "accepted", "rejected", "failed", or a word of the app's own
# (`[a-z0-9_.-]{1,32}`; another is refused `invalid_request` naming `outcome`). A counter keeps
# at most 16 distinct words; later new ones count as "other".
Outcome = str


class _OverrideQuota(TypedDict):
    quota: float


class OverrideParams(_OverrideQuota, total=False):
    """A per-user quota for one group, until `expires_at` when given."""

    expires_at: When
# What a step of a run is to its action: the first attempt, a retry of it, or a fallback (another
# model or tool for the same action), which the run's `fallbacks` and `fallback_share` bound.
StepKind = Literal["primary", "retry", "fallback"]


class RunLimitsParams(TypedDict, total=False):
    """A run's limits as a dict (or pass a `RunLimits`); each one left out is no limit."""

    steps: int
    attempts_per_action: int
    fallbacks: int
    fallback_share: float
    max_fallback_spend: float


class _AlternativeEvent(TypedDict):
    event: str


class AlternativeParams(_AlternativeEvent, total=False):
    """One alternative of `reserve_first`: an event, its quantity (default 1) and its metadata."""

    quantity: float
    metadata: Metadata
