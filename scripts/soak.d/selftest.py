"""The checks judged on small made-up logs, so that a soak cannot pass because a check went
blind: each case must give exactly the violations it names. soak.py runs this first."""

import json
import os
import tempfile

import check

G = [["u", "g", 0, "hard", 2000]]  # one hard group, quota 2 units, period start 0


def reserve(rid, send, ack, allowed=True, amount=1000, denials=()):
    return ["R", "u", "e", amount, 30, f"k-{rid}", send, ack, 0, allowed, rid if allowed else None,
            100_000, G, [list(d) for d in denials]]


def facts_of(records):
    with tempfile.NamedTemporaryFile("w", suffix=".jsonl", delete=False) as f:
        for r in records:
            f.write(json.dumps(r) + "\n")
    try:
        return check.Facts(f.name, {"u": "plan_member"}, {"u": None})
    finally:
        os.remove(f.name)


def quota_violations(records):
    facts = facts_of(records)
    check.check_quotas(facts)
    return sorted(facts.violations)


CASES = [
    # Two holds fill the quota; a third admitted while both are held is one too many.
    ("over-admission", [reserve("r1", 0, 1), reserve("r2", 2, 3), reserve("r3", 3.5, 4)],
     ["hard quota exceeded"]),
    # The same, but r1 was committed (1 unit used) and r2 released first: r3 fits.
    ("admission after a release", [reserve("r1", 0, 1), ["C", "r1", None, "k", 1.5, 1.6, 0, False],
                                   reserve("r2", 2, 3), ["L", "r2", 3.1, 3.2, 0, "released"],
                                   reserve("r3", 3.5, 4)], []),
    # A commit above the hold (3 units) leaves the group over quota: a later admission is too many.
    ("admission over a commit above the hold", [reserve("r1", 0, 1), ["C", "r1", 3000, "k", 1.5, 1.6, 0, False],
                                                reserve("r2", 2, 3)], ["hard quota exceeded"]),
    # Nothing held and nothing used, yet denied: a phantom hold.
    ("denial with room", [reserve("r1", 0, 1), ["L", "r1", 1.5, 1.6, 0, "released"],
                          reserve("d1", 2, 2.1, allowed=False, denials=[("u", "g")])],
     ["denied by a hold past its TTL (or another hold no call made)"]),
    # Denied while two holds are live: justified.
    ("denial when full", [reserve("r1", 0, 1), reserve("r2", 0, 1),
                          reserve("d1", 2, 2.1, allowed=False, denials=[("u", "g")])], []),
]


def run():
    failures = []
    for name, records, want in CASES:
        got = quota_violations(records)
        if got != want:
            failures.append(f"{name}: expected {want}, got {got}")
    # The ledger check sees a row that differs only in its amount.
    facts = facts_of([reserve("r1", 0, 1), ["C", "r1", 500, "k", 1.5, 1.6, 0, False]])
    ledger = type("Ledger", (), {})()
    ledger.digest, ledger.sums = check.Digest(), {("u", "g", 0): 600}
    ledger.digest.add("u", ("u", "commit:r1", "g", 0, 600))
    check.check_ledger(facts, ledger, ledger)
    if sorted(facts.violations) != ["ledger differs from the acknowledged commits and tracks", "ledger sum differs"]:
        failures.append(f"ledger amount: got {sorted(facts.violations)}")
    # A team's row of a member's track is named after the member, as the member's row is.
    g = [["u", "g", 0, "soft", 2000], ["t", "tg", 0, "soft", 2000]]
    facts = facts_of([["T", "u", "e", 1000, "k1", 0, 1, 0, g]])
    digest = check.hashlib.sha256(b"k1").hexdigest()
    ledger = type("Ledger", (), {})()
    ledger.digest, ledger.sums = check.Digest(), {("u", "g", 0): 1000, ("t", "tg", 0): 1000}
    ledger.digest.add("u", ("u", f"track:{check.b64('u')}.{digest}", "g", 0, 1000))
    ledger.digest.add("t", ("t", f"track:{check.b64('u')}.{digest}", "tg", 0, 1000))
    check.check_ledger(facts, ledger, ledger)
    if facts.violations:
        failures.append(f"a parent's track row: got {sorted(facts.violations)}")
    return failures


if __name__ == "__main__":
    problems = run()
    print("\n".join(problems) or "ok")
