"""The README's invoicing recipe, run as written against a ledger that holds an entry of every
kind: it reports exactly what the counters counted, because it sums only the entries whose
`changes_usage` is True. And an entry from a gateway that did not say `changesUsage` is read
from its kind."""

from __future__ import annotations

import re
import subprocess
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Callable, Dict, List

from conftest import Env

from quota_gateway import Allowed, QuotaGateway, UsageEvent
from quota_gateway import _calls

SDK = Path(__file__).resolve().parents[1]
README = SDK / "README.md"
KINDS = {"commit", "late_commit", "track", "adjustment", "grant", "grant_void", "grant_expired", "debt_settled",
         "run_close", "denied", "release", "expiry"}
USAGE = {"commit", "late_commit", "track", "adjustment"}


def recipe() -> str:
    """The Python block of the README's ledger section that defines `usage_by_model`."""
    section = README.read_text().split("## The usage ledger", 1)[1].split("\n## ", 1)[0]
    [code] = [b for b in re.findall(r"```python\n(.*?)```", section, re.S) if "def usage_by_model" in b]
    return code


def ledger_plan(plan_id: str) -> Dict[str, Any]:
    """Renders counted and paid in credits (a flux-pro render 10, any other 1), and tokens."""
    return {"id": plan_id, "periodType": "month", "groups": [
        {"id": "renders", "unit": "count", "quota": 100, "matches": [{"event": "image.render"}]},
        {"id": "credits", "balance": "credits", "matches": [
            {"event": "image.render", "metadata": {"model": "flux-pro"}, "measure": {"rate": 10}},
            {"event": "image.render"}]},
        {"id": "tokens", "unit": "tokens", "quota": 100_000, "matches": [{"event": "llm.*"}]},
    ]}


def every_kind(qg: QuotaGateway, env: Env, user: str) -> List[UsageEvent]:
    """Writes an entry of every kind into the user's ledger, and answers the ledger."""
    env.call("PUT", f"/v1/plans/plan_{user}", ledger_plan(f"plan_{user}"))
    env.call("PUT", f"/v1/users/{user}/subscription", {"planId": f"plan_{user}"})
    qg.grant(user, "credits", 10)                                             # grant
    render = qg.reserve(user, "image.render", 1, {"model": "flux-pro"})
    assert isinstance(render, Allowed)
    qg.commit(render.reservation_id, 3)                                       # commit: 30 credits, 20 of them debt
    assert qg.grant(user, "credits", 50).debt_paid == 20                      # debt_settled
    qg.void_grant(user, qg.grant(user, "credits", 20).grant_id)               # grant_void
    soon = time.monotonic() + 1.6
    qg.grant(user, "credits", 5, expires_at=datetime.now(timezone.utc) + timedelta(seconds=1.5))   # grant_expired
    late = qg.reserve(user, "llm.tokens", 500, {"model": "large"}, ttl_seconds=1)
    lapsed = qg.reserve(user, "llm.tokens", 200, {"model": "small"}, ttl_seconds=1)   # expiry
    assert isinstance(late, Allowed) and lapsed.allowed
    released = qg.reserve(user, "image.render", 1, {"model": "schnell"})
    assert isinstance(released, Allowed)
    qg.release(released.reservation_id)                                       # release
    assert not qg.reserve(user, "image.render", 1000, {"model": "flux-pro"}).allowed   # denied
    qg.track(user, "llm.tokens", 300, {"model": "small"})                     # track
    qg.adjust(user, "tokens", -50, "refund")                                  # adjustment
    with qg.with_run(user, "llm.agent", 1000, {"model": "large"}) as run:     # run_close
        step = run.reserve("llm.tokens", 400, {"model": "large"}, action_id="think")
        assert isinstance(step, Allowed)
        run.commit(step.reservation_id, 250)
    time.sleep(max(0.0, soon - time.monotonic()))
    assert qg.commit(late.reservation_id).late                                # late_commit
    qg.track(user, "llm.tokens", 1, {"model": "small"})
    qg.balances(user)
    entries: List[UsageEvent] = []
    for _ in range(50):   # breakage and a hold's expiry are written by the user's next calls
        entries = qg.list_usage_events(user_id=user, limit=500).data
        if KINDS <= {e.kind for e in entries}:
            return entries
        qg.balances(user)
        time.sleep(0.1)
    raise AssertionError(f"kinds missing from the ledger: {KINDS - {e.kind for e in entries}}")


def test_the_readmes_invoicing_recipe_reports_what_the_counters_counted(
        qg: QuotaGateway, env: Env, fresh_user: Callable[..., str]) -> None:
    user = fresh_user("ledger")
    since = (datetime.now(timezone.utc) - timedelta(minutes=1)).isoformat()
    entries = every_kind(qg, env, user)
    assert {e.kind for e in entries} == KINDS
    assert all(e.changes_usage == (e.kind in USAGE) for e in entries), [(e.kind, e.changes_usage) for e in entries]
    asked = [e for e in entries if not e.changes_usage and e.quantity]
    assert {e.kind for e in asked} >= {"denied", "release", "expiry"}, "what a sum of every quantity would count"

    scope: Dict[str, Any] = {"qg": qg}
    exec(compile(recipe(), str(README), "exec"), scope)   # as written, its example call included
    used = scope["usage_by_model"](qg, user, since)

    assert used == {"renders": {"flux-pro": 3}, "credits": {"flux-pro": 30},
                    "tokens": {"large": 750, "small": 301, "other": -50}}
    counters = qg.usage(user).counters
    assert {c.group_id: c.used for c in counters} == {group: sum(by_model.values()) for group, by_model in used.items()}


def test_the_readmes_invoicing_recipe_passes_mypy_strict(tmp_path: Path) -> None:
    source = tmp_path / "recipe.py"
    source.write_text(recipe().replace("\nprint(", "\nqg = QuotaGateway()\nprint(", 1))
    # The SDK's own configuration and cache (run-tests has just filled it): a cache of its own
    # would read the SDK and its dependencies afresh, most of a minute.
    done = subprocess.run([sys.executable, "-m", "mypy", "--strict", "--config-file", str(SDK / "pyproject.toml"),
                           str(source)], cwd=SDK, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr


def test_an_entry_without_changes_usage_is_read_from_its_kind() -> None:
    def entry(kind: str, **more: Any) -> Dict[str, Any]:
        return {"id": f"{kind}:1", "kind": kind, "time": "2026-11-01T00:00:00.000Z", "userId": "u", **more}

    page = _calls.usage_events({"data": [entry(k) for k in sorted(KINDS)], "nextCursor": None}, {})
    assert {e.kind: e.changes_usage for e in page.data} == {k: k in USAGE for k in KINDS}
    said = _calls.usage_events({"data": [entry("commit", changesUsage=False)], "nextCursor": "c"}, {})
    assert (said.data[0].changes_usage, said.next_cursor) == (False, "c"), "the gateway's word stands"
