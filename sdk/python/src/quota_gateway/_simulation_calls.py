"""The pricing lab's routes as `Call`s, and `simulate`'s polling without I/O, shared by both
clients.

A start takes no Idempotency-Key and a repeat starts a second simulation, which takes one of
the node's two slots: it is retried only when the request cannot have arrived. Reads repeat
harmlessly. `Polling` decides after each answer of `simulate` whether it is done, has failed,
or waits and reads again, within one deadline for the whole; the clients only send and sleep.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any, Callable, Dict, Mapping, Optional, Union

from . import types as t
from ._calls import When, instant, one, seg
from ._core import Call, Done, Fail
from ._load import camel, dump
from .errors import QuotaGatewayError
from .simulations import Simulation, SimulationProgress

SIMULATIONS_PATH = "/v1/simulations"
DEFAULT_POLL_SECONDS = 1.0
# The gateway ends a simulation that runs longer as failed (bound "wallTime").
DEFAULT_SIMULATE_SECONDS = 600.0

Candidate = Union[t.Plan, Mapping[str, Any]]
OnProgress = Callable[[SimulationProgress], None]


def candidate_body(candidate: Candidate) -> Dict[str, Any]:
    """A plan document (a `Plan`, or a dict as `put_plan` takes it), or `{"plan_id": ...}` (or
    `{"planId": ...}`) naming a stored plan."""
    if isinstance(candidate, Mapping) and len(candidate) == 1 and camel(next(iter(candidate))) == "planId":
        return {"planId": next(iter(candidate.values()))}
    doc = dict(dump(candidate))
    if isinstance(candidate, t.Plan):
        doc.pop("version", None)
    return doc


def start(candidate: Candidate, cohort: Mapping[str, Any], from_: Optional[When],
          to: Optional[When]) -> Call[Simulation]:
    body: Dict[str, Any] = {
        "candidate": candidate_body(candidate),
        # {"plan_id": ...} or {"user_ids": [...]}, or their wire names.
        "cohort": {camel(k): list(v) if camel(k) == "userIds" else v for k, v in cohort.items()},
    }
    if from_ is not None:
        body["from"] = instant(from_)
    if to is not None:
        body["to"] = instant(to)
    return Call("POST", SIMULATIONS_PATH, one(Simulation), body, replayable=False)


def get(simulation_id: str) -> Call[Simulation]:
    return Call("GET", f"{SIMULATIONS_PATH}/{seg(simulation_id)}", one(Simulation))


def _text(data: Any, _headers: Mapping[str, str]) -> str:
    return str(data)


def csv(simulation_id: str) -> Call[str]:
    return Call("GET", f"{SIMULATIONS_PATH}/{seg(simulation_id)}", _text, accept="text/csv")


@dataclass(frozen=True)
class Wait:
    """Sleep `delay` seconds, then send `polling.read(now)`."""

    delay: float


class Polling:
    """The course of one `simulate`: its start and reads, each bounded by what is left of its
    deadline, and after each answer the next step."""

    def __init__(self, call_timeout: float, poll_interval: float, timeout: float,
                 on_progress: Optional[OnProgress], now: float) -> None:
        if poll_interval <= 0 or timeout <= 0:
            raise ValueError("poll_interval and timeout must be positive")
        self.call_timeout = call_timeout
        self.poll_interval = poll_interval
        self.deadline = now + timeout
        self.on_progress = on_progress
        self.last: Optional[Simulation] = None

    def bounded(self, call: Call[Simulation], now: float) -> Call[Simulation]:
        """The call, given no more time than is left."""
        left = max(0.001, min(self.call_timeout, self.deadline - now))
        return replace(call, overrides={**call.overrides, "timeout": left})

    def read(self, now: float) -> Union[Call[Simulation], Fail]:
        assert self.last is not None, "read after an answer"
        if now >= self.deadline:
            return Fail(timed_out(self.last))
        return self.bounded(get(self.last.id), now)

    def on_answer(self, simulation: Simulation, now: float) -> Union[Done[Simulation], Wait, Fail]:
        self.last = simulation
        if self.on_progress is not None:
            self.on_progress(simulation.progress)
        if simulation.status != "running":
            return ended(simulation)
        return self._wait(now)

    def on_error(self, error: QuotaGatewayError, now: float) -> Union[Done[Simulation], Wait, Fail]:
        """A read that failed: a simulation outlives the gateway's moment of unavailability, so
        such a read is tried again at the next poll; any other error ends `simulate`."""
        if not error.unavailable or self.last is None:
            return Fail(error)
        return self._wait(now)

    def _wait(self, now: float) -> Union[Wait, Fail]:
        left = self.deadline - now
        if left <= 0:
            assert self.last is not None
            return Fail(timed_out(self.last))
        return Wait(min(self.poll_interval, left))


def ended(simulation: Simulation) -> Union[Done[Simulation], Fail]:
    if simulation.status == "done":
        return Done(simulation)
    why = simulation.error
    detail = why.detail if why is not None else "no reason given"
    return Fail(QuotaGatewayError("simulation_failed", 200, f"simulation {simulation.id} failed: {detail}",
                                  field=why.bound if why is not None else None))


def timed_out(simulation: Simulation) -> QuotaGatewayError:
    p = simulation.progress
    return QuotaGatewayError(
        "simulation_timeout", 200,
        f"simulation {simulation.id} still running ({p.users_done} of {p.users} users) at the deadline; "
        "read it with simulation(id)")
