"""The soak's invariants, judged from the client's log of every answered call against what the
gateway shows at the end (ledger pages, the export, counters in Redis, usage, webhooks).

Times are the client's (`time.time()`, the same clock Redis reads on this machine). A call's
effect happened somewhere between its first send and its answer, so each check uses only what
is certain at that point:

- Hard quotas (over-admission): when a reserve R was admitted, the group held at least the usage
  answered before R was sent, plus the holds answered before R was sent and not yet ended (no
  commit or release sent, not expired) when R's answer came. That plus R's amount must fit the
  quota.
- Holds past their TTL (phantom holds): when a reserve R was denied by a group, the group held
  at most every usage sent before R's answer, plus every hold that may have existed during R's
  call: a reserve's from its first send to its end (its commit or release answered, or its
  expiry), a denied reserve's while it ran, and, for any call that failed and was retried,
  until that attempt's TTL ran out. If R's amount fits under that bound, something the client
  never held (an expired hold, a leak) denied it.
"""

import bisect
import hashlib
import json
from collections import defaultdict

from load import b64, ms
from plans import thresholds

EPS = 0.005  # seconds: Redis TIME and time.time() read the same clock; this covers rounding to ms


def norm_entry_id(entry_id):
    """A ledger entry's id without an `@<...>` suffix (older gateways added one at a parent's
    level; since decision 0043 a parent's entry has its member's entry's id)."""
    return entry_id.split("@", 1)[0]


class Digest:
    """An order-free summary of a multiset of ledger rows per subject: count and a 64-bit sum."""

    def __init__(self):
        self.rows = defaultdict(lambda: [0, 0])

    def add(self, subject, row):
        h = int.from_bytes(hashlib.blake2b(repr(row).encode(), digest_size=8).digest(), "big")
        d = self.rows[subject]
        d[0] += 1
        d[1] = (d[1] + h) & 0xFFFFFFFFFFFFFFFF


class Res:
    __slots__ = ("user", "amount", "ttl", "key", "first_send", "ack", "last_failed", "expires",
                 "counters", "end_send", "end_ack", "end_last_failed", "end_kind", "actual", "late")


class Facts:
    """What the client log says happened."""

    def __init__(self, log_path, plan_of, team_of):
        self.plan_of = plan_of  # subject -> plan id
        self.team_of = team_of  # user -> team or None
        self.reserves = {}
        self.denied = []
        self.usage = defaultdict(list)  # (S, G, P) -> [(first_send, ack, amount)]
        self.expected = defaultdict(int)  # (S, G, P) -> milli
        self.last_ack = defaultdict(float)
        self.quota = {}  # (S, G) -> (mode, quota milli)
        self.digest = Digest()
        self.uncertain = set()
        # Reservations whose holds the client cannot be sure of: an answer outside the contract
        # concerned them, or a multi-level reserve of theirs (or a repeat of it) had an attempt
        # that got no answer, after which the gateway may have released the lower levels. They
        # count as possibly held (until their expiry), never as certainly held.
        self.unsure = set()
        self.denial_keys = set()  # (S, G, P) of every acknowledged denial
        self.violations = defaultdict(list)
        self.notes = []  # details of violations, printed with them
        self._interned = {}
        self.checked = defaultdict(int)
        self.records = defaultdict(int)
        self._read(log_path)

    def violate(self, kind, text):
        self.violations[kind].append(text)

    def _read(self, path):
        commits, releases = {}, {}
        with open(path) as f:
            for line in f:
                r = json.loads(line)
                kind = r[0]
                self.records[kind] += 1
                if kind == "R":
                    self._reserve(r)
                elif kind == "C":
                    commits[r[1]] = r
                elif kind == "L":
                    releases.setdefault(r[1], r)
                elif kind == "T":
                    self._track(r)
                elif kind == "I":
                    self.checked["idempotent repeats answered as the first"] += 1
                    if not r[2]:
                        self.violate("idempotent repeat answered otherwise", f"{r[1]}: {r[3]}")
                    if r[4] and (not r[2] or r[6]):
                        self.unsure.add(r[4])
                elif kind == "E":
                    self.violate("answers outside the contract", f"{r[1]} {r[2]} {r[4]} {r[3]}")
                    if r[5]:
                        self.unsure.add(r[5])
                elif kind == "U":
                    self.violate("calls no node answered within 6 minutes", f"{r[1]}: {r[2]}")
                    self._uncertain(r[3], r[4])
                elif kind == "X":
                    self.checked["reservations read as expired a second after their TTL"] += 1
        for rid, c in commits.items():
            res = self.reserves.get(rid)
            if res is None:
                self.violate("answers outside the contract", f"commit of unknown reservation {rid}")
                continue
            _, _, actual, key, first_send, ack, last_failed, late = c
            res.end_send, res.end_ack, res.end_last_failed, res.end_kind = first_send, ack, last_failed, "commit"
            res.actual, res.late = actual, late
            amount = res.amount if actual is None else actual
            prefix = "late_commit:" if late else "commit:"
            for s, g, p, mode, q in res.counters:
                self._usage(s, g, p, first_send, ack, amount)
                self.digest.add(s, (s, prefix + rid, g, p, amount))
        for rid, l in releases.items():
            res = self.reserves.get(rid)
            if res is None or res.end_kind == "commit":
                continue
            _, _, first_send, ack, last_failed, status = l
            if status == "released":
                res.end_send, res.end_ack, res.end_last_failed, res.end_kind = first_send, ack, last_failed, "release"

    def _uncertain(self, user, rid):
        # The unanswered call's user and team may hold or count anything: they are left out of
        # the exact comparisons (the unanswered call is itself a violation).
        res = self.reserves.get(rid) if rid else None
        if res is not None:
            user = res.user
        if user:
            self.uncertain.add(user)
            if self.team_of.get(user):
                self.uncertain.add(self.team_of[user])

    def _shared(self, counters):
        """Counters as a tuple of shared tuples: millions of reservations name a few thousand."""
        return tuple(self._interned.setdefault(t, t) for t in map(tuple, counters))

    def _reserve(self, r):
        _, user, event, amount, ttl, key, first_send, ack, last_failed, allowed, rid, expires_ms, counters, denials = r
        counters = self._shared(counters)
        for s, g, p, mode, q in counters:
            self.quota[(s, g)] = (mode, q)
        if allowed:
            res = Res()
            res.user, res.amount, res.ttl, res.key = user, amount, ttl, key
            res.first_send, res.ack, res.last_failed = first_send, ack, last_failed
            res.expires, res.counters = expires_ms / 1000, counters
            res.end_send = res.end_ack = res.end_kind = res.actual = None
            res.end_last_failed, res.late = 0, False
            self.reserves[rid] = res
            if last_failed and len({c[0] for c in counters}) > 1:
                self.unsure.add(rid)
        else:
            periods = {(s, g): p for s, g, p, _, _ in counters}
            named = []
            for s, g in denials:
                p = periods.get((s, g))
                self.denial_keys.add((s, g, p))
                named.append((s, g, p))
            self.denied.append((user, amount, ttl, first_send, ack, last_failed, counters, named))

    def _track(self, r):
        _, user, event, amount, key, first_send, ack, last_failed, counters = r
        counters = self._shared(counters)
        digest = hashlib.sha256(key.encode()).hexdigest()
        for s, g, p, mode, q in counters:
            self.quota[(s, g)] = (mode, q)
            self._usage(s, g, p, first_send, ack, amount)
            # Named after the user at every level: a parent's entry has its member's entry's id
            # (decision 0043), `track:<base64url(member)>.<key digest>`.
            self.digest.add(s, (s, f"track:{b64(user)}.{digest}", g, p, amount))

    def _usage(self, s, g, p, first_send, ack, amount):
        k = (s, g, p)
        self.usage[k].append((first_send, ack, amount))
        self.expected[k] += amount
        self.last_ack[k] = max(self.last_ack[k], ack)


def check_quotas(facts):
    """Over-admission and phantom holds, per hard group and period (see the module's header)."""
    holds = defaultdict(list)  # key -> [(ack, gone_def, amount)]   certain presence
    windows = defaultdict(list)  # key -> [(start, end, amount)]    possible presence
    admitted = defaultdict(list)  # key -> [(first_send, ack, amount)]
    for rid, res in facts.reserves.items():
        gone_def = res.expires - EPS
        if rid in facts.unsure:
            gone_def = res.ack  # never certainly held
        if res.end_send is not None:
            gone_def = min(gone_def, res.end_send)
        for s, g, p, mode, q in res.counters:
            if mode != "hard":
                continue
            # A parent's level is reserved by a script of its own after the user's, and may
            # expire up to that much later than the expiry the answer gave.
            expires = res.expires if s == res.user else res.ack + res.ttl
            if res.end_ack is not None:
                gone_pos = min(res.end_ack, expires) + EPS
            else:
                gone_pos = expires + EPS
            for failed in (res.last_failed, res.end_last_failed):
                if failed:
                    # An attempt that got no answer may have left holds (a node killed between
                    # levels) that only their expiry returns.
                    gone_pos = max(gone_pos, failed + res.ttl + EPS)
            if res.end_kind is not None and res.end_last_failed:
                gone_pos = max(gone_pos, res.end_ack + EPS)
            if rid in facts.unsure:
                gone_pos = max(gone_pos, expires + EPS)
            k = (s, g, p)
            if res.ack < gone_def:
                holds[k].append((res.ack, gone_def, res.amount))
            windows[k].append((res.first_send, gone_pos, res.amount))
            admitted[k].append((res.first_send, res.ack, res.amount))
    denied = defaultdict(list)
    for user, amount, ttl, first_send, ack, last_failed, counters, named in facts.denied:
        end = ack + EPS
        if last_failed:
            end = max(end, last_failed + ttl + EPS)
        for s, g, p, mode, q in counters:
            if mode == "hard":
                windows[(s, g, p)].append((first_send, end, amount))
        for s, g, p in named:
            denied[(s, g, p)].append((first_send, ack, amount, end))

    for k in set(admitted) | set(denied):
        s, g, p = k
        if s in facts.uncertain:
            continue
        mode, quota = facts.quota[(s, g)]
        usage = facts.usage.get(k, [])
        by_ack = sorted((u[1], u[2]) for u in usage)
        ack_times, ack_sums = prefix(by_ack)
        by_send = sorted((u[0], u[2]) for u in usage)
        send_times, send_sums = prefix(by_send)
        h = holds.get(k, [])
        h_by_ack = sorted(h)
        h_ack_times, h_ack_sums = prefix([(x[0], x[2]) for x in h_by_ack])
        h_gone_times, h_gone_sums = prefix(sorted((x[1], x[2]) for x in h))
        for first_send, ack, amount in admitted.get(k, []):
            facts.checked["admissions within their hard quota"] += 1
            used = sum_before(ack_times, ack_sums, first_send, inclusive=False)
            # Holds answered by R's send and not gone by R's answer.
            held = sum_before(h_ack_times, h_ack_sums, first_send, inclusive=True)
            gone_early = sum_before(h_gone_times, h_gone_sums, ack, inclusive=False)
            lo = bisect.bisect_right(h_ack_times, first_send)
            hi = bisect.bisect_left(h_ack_times, ack)
            inside = sum(x[2] for x in h_by_ack[lo:hi] if x[1] < ack)
            held -= gone_early - inside
            if used + held + amount > quota:
                facts.violate(
                    "hard quota exceeded",
                    f"{s}/{g} period {p}: admitted {amount} at {first_send:.3f}..{ack:.3f} over at least "
                    f"{used} used + {held} held, quota {quota} (milli-units)",
                )
        w = windows.get(k, [])
        w_start_times, w_start_sums = prefix(sorted((x[0], x[2]) for x in w))
        w_end_times, w_end_sums = prefix(sorted((x[1], x[2]) for x in w))
        for first_send, ack, amount, own_end in denied.get(k, []):
            facts.checked["denials explained by holds and usage that existed"] += 1
            used = sum_before(send_times, send_sums, ack, inclusive=False)
            held = sum_before(w_start_times, w_start_sums, ack, inclusive=False)
            held -= sum_before(w_end_times, w_end_sums, first_send, inclusive=True)
            held -= amount  # its own window
            if used + held + amount <= quota:
                facts.violate(
                    "denied by a hold past its TTL (or another hold no call made)",
                    f"{s}/{g} period {p}: denied {amount} at {first_send:.3f}..{ack:.3f} though at most "
                    f"{used} used + {held} held, quota {quota} (milli-units)",
                )


def prefix(pairs):
    times = [t for t, _ in pairs]
    sums = [0]
    for _, a in pairs:
        sums.append(sums[-1] + a)
    return times, sums


def sum_before(times, sums, t, inclusive):
    i = bisect.bisect_right(times, t) if inclusive else bisect.bisect_left(times, t)
    return sums[i]


def expected_rows(log_path, subject):
    """The ledger rows the client log implies for one subject (for a violation's detail)."""
    rows, res = defaultdict(int), {}
    with open(log_path) as f:
        for line in f:
            r = json.loads(line)
            if r[0] == "R" and r[9]:
                res[r[10]] = r
            elif r[0] == "C" and r[1] in res:
                rr = res[r[1]]
                amount = rr[3] if r[2] is None else r[2]
                for s, g, p, _, _ in rr[12]:
                    if s == subject:
                        rows[(("late_commit:" if r[7] else "commit:") + r[1], g, p, amount)] += 1
            elif r[0] == "T":
                digest = hashlib.sha256(r[4].encode()).hexdigest()
                for s, g, p, _, _ in r[8]:
                    if s == subject:
                        rows[(f"track:{b64(r[1])}.{digest}", g, p, r[3])] += 1
    return rows


def ledger_rows(entries):
    rows = defaultdict(int)
    for e in entries:
        for g in e["groups"]:
            rows[(norm_entry_id(e["id"]), g["groupId"], ms(g["periodStart"]), round(g["amount"] * 1000))] += 1
    return rows


def row_differences(want, have, limit=4):
    missing = [k for k in want if want[k] > have.get(k, 0)]
    extra = [k for k in have if have[k] > want.get(k, 0)]
    return f"not in the ledger {missing[:limit]}{'...' if len(missing) > limit else ''}; " \
           f"in the ledger only {extra[:limit]}{'...' if len(extra) > limit else ''}"


def check_ledger(facts, pages, export):
    """Every acknowledged commit and track is in the ledger, once, with its amounts: the same
    rows through the pages and the export; and the ledger's sums per group and period."""
    subjects = set(facts.digest.rows) | set(pages.digest.rows) | set(export.digest.rows)
    for s in sorted(subjects):
        if s in facts.uncertain:
            continue
        want = facts.digest.rows.get(s, [0, 0])
        for name, got in (("GET /v1/usage-events", pages), ("quota-gateway export", export)):
            facts.checked[f"subjects whose ledger ({name}) matches the acknowledged calls"] += 1
            have = got.digest.rows.get(s, [0, 0])
            if have != want:
                facts.violate(
                    "ledger differs from the acknowledged commits and tracks",
                    f"{s} through {name}: {have[0]} rows, client log {want[0]} (digest {have[1]:x} vs {want[1]:x})",
                )
    facts.ledger_mismatch = sorted({t.split(" through ")[0] for t in facts.violations.get(
        "ledger differs from the acknowledged commits and tracks", [])})
    facts.checked["ledger rows matched"] = sum(v[0] for s, v in facts.digest.rows.items() if s not in facts.uncertain)
    for k in set(facts.expected) | set(pages.sums):
        if k[0] in facts.uncertain:
            continue
        facts.checked["ledger sums per group and period equal to the acknowledged amounts"] += 1
        if facts.expected.get(k, 0) != pages.sums.get(k, 0):
            facts.violate("ledger sum differs", f"{k}: ledger {pages.sums.get(k, 0)}, acknowledged {facts.expected.get(k, 0)}")


def check_counters(facts, ledger_sums, snapshots):
    """The counters in Redis (read after the last answered change of each) equal the ledger."""
    unobserved = 0
    for k in set(facts.expected) | set(ledger_sums) | set(snapshots):
        s = k[0]
        if s in facts.uncertain:
            continue
        want = ledger_sums.get(k, 0)
        seen = snapshots.get(k)
        if seen is None:
            if want:
                unobserved += 1
            continue
        t, value = seen
        if t <= facts.last_ack.get(k, 0):
            unobserved += 1
            continue
        facts.checked["counters in Redis equal to the ledger's sums"] += 1
        if value != want:
            facts.violate("counter differs from the ledger", f"{k}: counter {value}, ledger {want}")
    return unobserved


def check_usage(facts, usage_answers, ledger_sums):
    """After every TTL has run out: nothing reserved anywhere, and each current period's used
    equal to the ledger."""
    for s, answer in usage_answers.items():
        counters = list(answer.get("counters", []))
        for parent in answer.get("parents") or []:
            counters.extend(parent.get("counters", []) if isinstance(parent, dict) else [])
        for c in counters:
            subject = c.get("subjectId", s)
            if subject != s:
                continue
            facts.checked["counters with no hold left past its TTL"] += 1
            if c["reserved"] != 0:
                facts.violate("hold left past its TTL", f"{s}/{c['groupId']}: reserved {c['reserved']} after every TTL ended")
            if s in facts.uncertain:
                continue
            k = (s, c["groupId"], ms(c["periodStart"]))
            facts.checked["usage answers equal to the ledger"] += 1
            if round(c["used"] * 1000) != ledger_sums.get(k, 0):
                facts.violate("usage differs from the ledger", f"{k}: usage {c['used']}, ledger {ledger_sums.get(k, 0)}")


def expected_alerts(facts, ledger_sums):
    """The threshold crossings and first denials the final usage implies, by
    (type, subject, group, period start ms, threshold)."""
    want = set()
    for (s, g, p), used in ledger_sums.items():
        plan = facts.plan_of.get(s)
        if plan is None or (s, g) not in facts.quota:
            continue
        quota = facts.quota[(s, g)][1]
        for t in thresholds(plan, g):
            if used * 100 >= t * quota:
                want.add(("quota.threshold_crossed", s, g, p, t))
    for s, g, p in facts.denial_keys:
        want.add(("quota.limit_reached", s, g, p, None))
    return want


def received_alerts(path):
    """Deliveries by alert: {(type, subject, group, period ms, threshold): {webhook ids}}, and
    how many deliveries came and how many were not signed right."""
    by_alert, deliveries, unsigned = defaultdict(set), 0, 0
    try:
        f = open(path)
    except OSError:
        return by_alert, 0, 0
    with f:
        for line in f:
            d = json.loads(line)
            deliveries += 1
            if not d["signed"]:
                unsigned += 1
            body = json.loads(d["body"])
            data = body["data"]
            key = (body["type"], data["userId"], data["groupId"], ms(data["periodStart"]), data["threshold"])
            by_alert[key].add(d["id"])
    return by_alert, deliveries, unsigned


def check_alerts(facts, want, by_alert, unsigned):
    if unsigned:
        facts.violate("webhook signature", f"{unsigned} deliveries did not verify")
    for key in sorted(want | set(by_alert), key=repr):
        if key[1] in facts.uncertain:
            continue
        facts.checked["alerts delivered exactly once (by webhook id)"] += 1
        ids = by_alert.get(key, set())
        if key in want and not ids:
            facts.violate("alert missing", repr(key))
        elif key not in want:
            facts.violate("alert extra", f"{key}: {sorted(ids)}")
        elif len(ids) > 1:
            facts.violate("alert delivered as more than one event", f"{key}: {sorted(ids)}")


def check_memory(facts, samples, warm_until, cycle_s, window_s):
    """The gateway's RSS after warm-up: the last window's median within 10 % + 4 MB of the
    highest RSS of the first fault cycle after warm-up. (Each cycle's outages pile up calls and
    connections, and the allocator keeps what they took: a step that the next cycles do not
    repeat is that, not a leak; growth that goes on is one.)"""
    after = [(t, kb) for t, kb in samples if t >= warm_until]
    if len(after) < 4:
        return None
    end = after[-1][0]
    first = [kb for t, kb in after if t < after[0][0] + cycle_s]
    last = sorted(kb for t, kb in after if t > end - window_s)
    base, final = max(first), last[len(last) // 2]
    facts.checked["gateway memory flat after warm-up"] += 1
    if final > base * 1.10 + 4096:
        facts.violate("gateway memory grew", f"RSS at most {base} KB in the first cycle after warm-up, median {final} KB at the end")
    return base, final, max(kb for _, kb in after)
