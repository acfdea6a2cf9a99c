"""The pricing lab against the real gateway, with both clients: a user's recorded demand, its
denial included, replayed against a candidate quota; the report, its CSV, a bound refused by
name; and how `simulate` ends a simulation that failed or outlives its deadline (the reads
answered by a loopback stand-in, as a 10-minute run cannot be waited for) and outlasts a read
the gateway did not answer."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any, AsyncIterator, Callable, Dict, List, Optional

import pytest
from both import Both
from conftest import Env
from standin import Action, Answer, Forward, Seen, StandIn

from quota_gateway import (AsyncQuotaGateway, ChangeCount, QuotaGateway, QuotaGatewayError, Simulation,
                           SimulationProgress)


def images_plan(plan_id: str, quota: int) -> Dict[str, Any]:
    """The freemium plan: `quota` images, counted by the group `images`."""
    return {"id": plan_id, "periodType": "lifetime",
            "groups": [{"id": "images", "unit": "count", "quota": quota, "matches": [{"event": "image.render"}]}]}


@dataclass
class Recorded:
    plan_id: str
    heavy: str
    light: str


@pytest.fixture
async def recorded(client: Both, env: Env, fresh_user: Callable[..., str]) -> Recorded:
    """A plan of 2 images with two users on it, one of whom asked for 3 (the third denied)."""
    plan_id = f"plan_{fresh_user('lab')}"
    env.call("PUT", f"/v1/plans/{plan_id}", images_plan(plan_id, 2))
    heavy, light = fresh_user("heavy"), fresh_user("light")
    for user in (heavy, light):
        await client.upsert_subscription(user, plan_id)
    allowed = []
    for _ in range(3):
        hold = await client.reserve(heavy, "image.render")
        allowed.append(hold.allowed)
        if hold.allowed:
            await client.commit(hold.reservation_id)
    assert allowed == [True, True, False]
    return Recorded(plan_id, heavy, light)


async def test_simulate_replays_recorded_demand_and_a_third_image_admits_the_denied_one(
        client: Both, recorded: Recorded) -> None:
    seen: List[SimulationProgress] = []
    # `to` past now: the gateway's own now is its estimate of Redis time, which may be a few
    # milliseconds behind the time of the denial just written, and would leave it out.
    done = await client.simulate(images_plan(f"{recorded.plan_id}_3", 3), {"plan_id": recorded.plan_id},
                                 to=datetime.now(timezone.utc) + timedelta(minutes=1), poll_interval=0.05,
                                 on_progress=seen.append)
    assert isinstance(done, Simulation) and done.status == "done" and done.finished_at
    assert (done.candidate_plan_id, done.cohort) == (f"{recorded.plan_id}_3", {"planId": recorded.plan_id})
    report = done.report
    assert report is not None
    assert report.fidelity == 1, "the baseline reproduces every recorded decision"
    assert report.users == 2
    assert report.newly_admitted == ChangeCount(decisions=1, users=1)
    assert report.newly_denied == ChangeCount(decisions=0, users=0)
    assert report.rows[0].user_id == recorded.heavy, "the most affected user comes first"
    assert seen and seen[-1] == SimulationProgress(2, 2, done.progress.entries), "on_progress saw the end"

    assert (await client.simulation(done.id)).report == report, "the result is kept"
    lines = (await client.simulation_csv(done.id)).strip().split("\n")
    assert lines[0].startswith("userId,recorded,"), lines
    assert len(lines) == 3, "a header and a row per user"
    assert lines[1].startswith(f"{recorded.heavy},3,3,0,1,"), lines


async def test_the_ledger_records_the_denial_and_the_holds_ends_a_simulation_replays(
        client: Both, recorded: Recorded) -> None:
    entries = (await client.list_usage_events(user_id=recorded.heavy)).data
    assert [e.kind for e in entries] == ["commit", "commit", "denied"]
    assert entries[2].denied_by == ["images"]
    assert entries[0].held_since and entries[0].reserved == 1, "a commit says when its hold was made, and what it held"


async def test_a_stored_plan_is_a_candidate_and_a_range_over_92_days_is_refused_naming_it(
        client: Both, recorded: Recorded) -> None:
    cohort = {"user_ids": [recorded.heavy, recorded.light]}
    started = await client.start_simulation({"plan_id": recorded.plan_id}, cohort)
    assert re.fullmatch(r"sim_[0-9a-f]{32}", started.id) and started.candidate_plan_id == recorded.plan_id
    assert started.cohort == {"userIds": [recorded.heavy, recorded.light]}

    with pytest.raises(QuotaGatewayError) as bound:
        await client.start_simulation({"plan_id": recorded.plan_id}, cohort,
                                      from_="2026-01-01T00:00:00Z", to="2026-05-01T00:00:00Z")
    err = bound.value
    assert (err.status, err.code, err.field, err.unavailable) == (422, "simulation_bound", "range", False)
    with pytest.raises(QuotaGatewayError) as missing:
        await client.simulation("sim_" + "0" * 32)
    assert (missing.value.status, missing.value.code) == (404, "simulation_not_found")


@pytest.fixture(params=["sync", "async"])
async def through(request: pytest.FixtureRequest, env: Env) -> AsyncIterator[Callable[..., Both]]:
    """Clients of the kind under test in front of a stand-in; closed afterwards."""
    made: List[Any] = []

    def build(base_url: str, **options: Any) -> Both:
        cls = QuotaGateway if request.param == "sync" else AsyncQuotaGateway
        made.append(cls(env.secret, base_url=base_url, **options))
        return Both(made[-1])

    yield build
    for c in made:
        if isinstance(c, AsyncQuotaGateway):
            await c.aclose()
        else:
            c.close()


def reads_answered(status: str, error: Optional[Dict[str, str]] = None) -> Callable[[int, Seen], Action]:
    """Lets the start through to the gateway, and answers every read of the simulation as
    `status` (with `error`), as the gateway would answer it."""
    def behave(_n: int, seen: Seen) -> Action:
        if seen.method == "POST":
            return Forward()
        at = "2026-11-24T00:00:00Z"
        body = {"id": seen.path.rsplit("/", 1)[-1], "status": status, "createdAt": at,
                "finishedAt": None if status == "running" else at, "candidatePlanId": "plan_lab",
                "cohort": {"planId": "plan_lab"}, "from": at, "to": at,
                "progress": {"users": 2, "usersDone": 1, "entries": 3}, "error": error, "report": None}
        return Answer(200, json.dumps(body).encode(), {"Content-Type": "application/json"})
    return behave


@pytest.fixture
def lab_plan(env: Env, fresh_user: Callable[..., str]) -> str:
    """A plan of 2 images with a user on it, put outside the client under test."""
    plan_id = f"plan_{fresh_user('lab')}"
    env.call("PUT", f"/v1/plans/{plan_id}", images_plan(plan_id, 2))
    env.call("PUT", f"/v1/users/{fresh_user()}/subscription", {"planId": plan_id})
    return plan_id


async def test_simulate_raises_simulation_failed_naming_the_bound(
        through: Callable[..., Both], env: Env, lab_plan: str) -> None:
    failed_by = reads_answered("failed", {"bound": "wallTime", "detail": "ran past 10 minutes"})
    with StandIn(env.base_url, failed_by) as proxy:
        client = through(proxy.url)
        with pytest.raises(QuotaGatewayError) as failed:
            await client.simulate({"plan_id": lab_plan}, {"plan_id": lab_plan}, poll_interval=0.01)
    err = failed.value
    assert (err.code, err.field, err.unavailable) == ("simulation_failed", "wallTime", False)
    assert "ran past 10 minutes" in err.detail


async def test_simulate_raises_simulation_timeout_naming_the_simulation_when_it_still_runs(
        through: Callable[..., Both], env: Env, lab_plan: str) -> None:
    seen: List[SimulationProgress] = []
    with StandIn(env.base_url, reads_answered("running")) as proxy:
        client = through(proxy.url)
        with pytest.raises(QuotaGatewayError) as late:
            # (A deadline of seconds, not tenths: on a busy machine the start alone may take
            # a few tenths, and the reads must still fit after it.)
            await client.simulate({"plan_id": lab_plan}, {"plan_id": lab_plan}, poll_interval=0.05, timeout=2.0,
                                  on_progress=seen.append)
        reads = [s for s in proxy.seen if s.method == "GET"]
    # The start's answer and every read's are told; only the last read may be cut by the
    # deadline itself (its time is bounded by what is left), and so go untold.
    told = len(seen)
    assert len(reads) >= 2 and len(reads) <= told <= len(reads) + 1, "it polled until the deadline, telling each answer"
    assert late.value.code == "simulation_timeout"
    assert re.search(r"sim_[0-9a-f]{32}", late.value.detail)


async def test_simulate_reads_again_at_the_next_poll_after_a_read_the_gateway_did_not_answer(
        through: Callable[..., Both], env: Env, lab_plan: str) -> None:
    reads: List[Seen] = []

    def behave(_n: int, seen: Seen) -> Action:
        if seen.method == "GET":
            reads.append(seen)
            if len(reads) == 1:
                return Answer(503, b"<html><body>503</body></html>", {"Content-Type": "text/html"})
        return Forward()

    with StandIn(env.base_url, behave) as proxy:
        client = through(proxy.url, max_retries=0)
        done = await client.simulate({"plan_id": lab_plan}, {"plan_id": lab_plan}, poll_interval=0.02)
    assert done.status == "done" and len(reads) >= 2, "the read after the proxy's 503 found it"
