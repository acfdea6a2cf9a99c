"""scripts/soak: two gateway nodes and one Redis (AOF, appendfsync always) on loopback, a mixed
load at 70 % of the capacity measured at the start, faults on a schedule, then every invariant
checked from the client's log of each answered call. Exits 1 on any violation.

Phases:
1. Start Redis, two nodes and a webhook receiver; a key, the plans, 240 calibration users
   (and their teams) and a webhook endpoint for alerts.
2. Capacity: 15 s of the same mix (without the flows whose length a TTL sets) in a closed loop
   of 128 concurrent flows and no think time: the requests answered per second are what this
   machine, two nodes, an fsync per write and this client sustain. (`scripts/bench` measures a
   single node without persistence against wrk; this topology's ceiling is lower and is
   measured here, each run, on the machine it runs on.)
3. The soak: flows arrive at a rate that keeps the answered requests at 70 % of that capacity
   (open loop; every 5 s, outside faults, the rate moves towards the target by at most 15 %, and
   down when over 1 % of the answers needed a retry; at most 3,000 flows in flight, beyond
   which arrivals are counted as shed) on users sized to the
   rate, for --minutes. Faults every 5
   minutes (the whole run when shorter): the receiver down for 60 s from 10 % of the cycle,
   SIGKILL of node 2 and its restart at 20 %, CLIENT PAUSE 2000 at 40 %, SIGKILL of Redis and its
   restart at 55 %.
4. Drain: arrivals stop, flows finish (at most 10 minutes), every TTL runs out, the receiver is up.
5. Checks (check.py, first tried on made-up logs by selftest.py): hard quotas never exceeded; no denial caused by a hold past its TTL; every
   acknowledged commit and track in the ledger (pages and export) and the counters; ledger sums
   equal to the counters and to usage; nothing reserved after every TTL; each alert delivered
   exactly once by webhook id; node 1's RSS flat after warm-up (node 1 is never killed).
"""

import argparse
import asyncio
import json
import os
import random
import secrets
import shutil
import sys
import time
from collections import defaultdict

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import check  # noqa: E402
import selftest  # noqa: E402
from client import Gateway, Redis, Unanswered  # noqa: E402
from load import MIX, TIMED, Load, Log, milli, ms  # noqa: E402
from plans import PLANS, population, users_for  # noqa: E402
from procs import Proc, free_port, gateway_env, redis_argv, rss_kb, wait_until  # noqa: E402

CAPACITY_SECONDS = 15
CAPACITY_FLOWS = 128
LOAD_SHARE = 0.70
MAX_IN_FLIGHT = 3000
CALIBRATION_USERS = 240
RETENTION_S = 600  # ended reservations and Idempotency-Keys kept 10 minutes (default: a day)
FAULT_CYCLE_S = 300
RECEIVER_DOWN_S = 60
DRAIN_LIMIT_S = 600
ALERT_WAIT_S = 240
SNAPSHOT_EVERY_S = 60
RSS_EVERY_S = 5


def say(*args):
    print("soak:", *args, flush=True)


class Soak:
    def __init__(self, args):
        self.args = args
        self.minutes = args.minutes
        self.work = args.work
        self.faults = defaultdict(int)
        self.fault_log = []
        self.rss = []  # (time, KB) of node 1
        self.redis_memory = []
        self.snapshots = {}  # (S, G, P) -> (time read, milli)
        self.subjects = []
        self.plan_of, self.team_of = {}, {}
        self.inflight = set()
        self.flow_errors = []
        self.stop = False
        self.flow_rate = 0.0
        self.fault_until = 0.0

    # ---- processes -------------------------------------------------------------------------

    async def start(self):
        os.makedirs(self.work, exist_ok=True)
        self.redis_port = free_port()
        self.ports = [free_port(), free_port()]
        self.receiver_port = free_port()
        self.root = "soak-root-" + secrets.token_hex(16)
        self.redis = Proc("redis", redis_argv(self.redis_port, self.work), dict(os.environ), f"{self.work}/redis.log")
        await self.redis.start()
        self.admin = Redis(self.redis_port)
        self.reader = Redis(self.redis_port)
        await wait_until(lambda: self.admin.command("PING"), 30, "redis")
        self.nodes = []
        for i, port in enumerate(self.ports):
            env = gateway_env(port, self.redis_port, self.root, RETENTION_S)
            node = Proc(f"node{i + 1}", [self.args.bin], env, f"{self.work}/node{i + 1}.log")
            await node.start()
            self.nodes.append(node)
        for node, port in zip(self.nodes, self.ports):
            await self.wait_ready(port)
        root = Gateway(self.ports, self.root)
        a = await root.call("POST", "/v1/projects/default/keys", {"kind": "secret", "label": "soak"})
        self.key = a.json()["key"]
        root.close()
        self.gw = Gateway(self.ports, self.key)
        for plan_id, plan in PLANS.items():
            await self.ok("PUT", f"/v1/plans/{plan_id}", plan)
        url = f"http://127.0.0.1:{self.receiver_port}/hook"
        hook = await self.ok("POST", "/v1/webhooks", {"url": url, "events": ["quota.threshold_crossed", "quota.limit_reached"]})
        self.receiver_log = f"{self.work}/webhooks.jsonl"
        here = os.path.dirname(os.path.abspath(__file__))
        self.receiver = Proc("receiver", [sys.executable, f"{here}/receiver.py", str(self.receiver_port), hook["secret"], self.receiver_log],
                             dict(os.environ), f"{self.work}/receiver.out")
        await self.start_receiver()

    async def wait_ready(self, port, limit_s=60):
        probe = Gateway([port], "")

        async def ready():
            try:
                a = await probe.call("GET", "/readyz", deadline_s=1)
                return a.status == 200
            except Unanswered:
                return False

        try:
            return await wait_until(ready, limit_s, f"gateway on {port}")
        finally:
            probe.close()

    async def start_receiver(self):
        await self.receiver.start()

        async def listening():
            _, w = await asyncio.open_connection("127.0.0.1", self.receiver_port)
            w.close()
            return True

        await wait_until(listening, 10, "webhook receiver")

    async def ok(self, method, path, body=None):
        a = await self.gw.call(method, path, body)
        if a.status not in (200, 201):
            raise RuntimeError(f"{method} {path}: {a.status} {a.body[:300]!r}")
        return a.json()

    async def populate(self, prefix, n_users):
        users, teams = population(prefix, n_users)
        sem = asyncio.Semaphore(32)

        async def put(subject, body):
            async with sem:
                await self.ok("PUT", f"/v1/users/{subject}/subscription", body)

        await asyncio.gather(*(put(t, {"planId": "plan_team"}) for t in teams))
        await asyncio.gather(*(put(u, {"planId": "plan_member", **({"parentId": t} if t else {})}) for u, t in users))
        for t in teams:
            self.plan_of[t] = "plan_team"
            self.subjects.append(t)
        for u, t in users:
            self.plan_of[u], self.team_of[u] = "plan_member", t
            self.subjects.append(u)
        return [u for u, _ in users]

    async def close(self):
        for p in [self.receiver, *self.nodes, self.redis]:
            await p.stop()

    # ---- load ------------------------------------------------------------------------------

    def spawn(self, load, kind, user):
        task = asyncio.ensure_future(load.flow(kind, user))
        self.inflight.add(task)
        task.add_done_callback(self.flow_done)

    def flow_done(self, task):
        self.inflight.discard(task)
        if not task.cancelled() and task.exception() is not None:
            self.flow_errors.append(repr(task.exception()))

    async def capacity(self, load, users):
        kinds = [k for k in MIX if k not in TIMED]
        weights = [MIX[k] for k in kinds]
        rng = random.Random(self.args.seed + 1)
        until = time.time() + CAPACITY_SECONDS
        stats = self.gw.stats
        before = stats["answers"]
        load.think = False
        flows = 0

        async def loop():
            nonlocal flows
            while time.time() < until:  # bounded by the clock
                await load.flow(rng.choices(kinds, weights)[0], rng.choice(users))
                flows += 1

        start = time.time()
        await asyncio.gather(*(loop() for _ in range(CAPACITY_FLOWS)))
        took = time.time() - start
        load.think = True
        answered = stats["answers"] - before
        return answered / took, answered / max(1, flows)

    async def arrivals(self, load, users, until):
        kinds, weights = list(MIX), list(MIX.values())
        rng = random.Random(self.args.seed + 2)
        tick, due, next_t = 0.02, 0.0, time.time()
        while time.time() < until and not self.stop:  # bounded by the clock
            due += self.flow_rate * tick
            n, due = int(due), due - int(due)
            for _ in range(n):
                if len(self.inflight) >= MAX_IN_FLIGHT:
                    load.log.count("shed")
                    continue
                self.spawn(load, rng.choices(kinds, weights)[0], rng.choice(users))
            next_t += tick
            await asyncio.sleep(max(0.0, next_t - time.time()))

    async def control(self, target, until):
        """Keeps the answered requests near `target` without overloading: every 5 s, unless a
        fault ran in the last 10 s, the flow rate moves by the square root of target / measured
        (at most 15 % a step) while under 1 % of the answers needed a retry, and down by 15 %
        when more did (the gateway or Redis is saturated, by this load or by the machine's other
        work)."""
        stats = self.gw.stats

        def troubles():
            return stats["retried_status"] + stats["no_answer"] + stats["odd"]

        last_t, last_n, last_bad = time.time(), stats["answers"], troubles()
        self.achieved = []
        while time.time() < until and not self.stop:  # bounded by the clock
            await asyncio.sleep(5)
            now, n, bad = time.time(), stats["answers"], troubles()
            measured = (n - last_n) / (now - last_t)
            retried = bad - last_bad
            last_t, last_n, last_bad = now, n, bad
            self.achieved.append(measured)
            if now <= self.fault_until + 10 or measured <= 0:
                continue
            if retried > 0.01 * measured * 5:
                step = 0.85
            else:
                step = min(1.15, max(0.85, (target / measured) ** 0.5))
            self.flow_rate = min(target / 1.2, max(target / 5, self.flow_rate * step))

    # ---- faults ----------------------------------------------------------------------------

    def schedule(self, total_s):
        cycle = min(FAULT_CYCLE_S, total_s)
        plan = []
        for start in range(0, int(total_s), int(cycle)):
            for frac, kind in ((0.10, "receiver_down"), (0.20, "kill_node"), (0.40, "client_pause"), (0.55, "kill_redis")):
                t = start + frac * cycle
                limit = total_s - RECEIVER_DOWN_S - 15 if kind == "receiver_down" else total_s - 20
                if t <= limit:
                    plan.append((t, kind))
        return sorted(plan)

    async def faults_run(self, t0, total_s):
        tasks = []
        for at, kind in self.schedule(total_s):
            await asyncio.sleep(max(0.0, t0 + at - time.time()))
            if self.stop:
                break
            if kind == "receiver_down":
                tasks.append(asyncio.ensure_future(self.receiver_down()))
            else:
                await getattr(self, kind)()
        await asyncio.gather(*tasks)

    def busy(self, seconds):
        self.fault_until = max(self.fault_until, time.time() + seconds)

    def noted(self, kind, detail):
        self.faults[kind] += 1
        self.fault_log.append((time.time(), kind, detail))
        say(f"fault: {kind} {detail}")

    async def kill_node(self):
        node = self.nodes[1]
        self.busy(5)
        await node.kill()
        await asyncio.sleep(1.0)
        await node.start()
        took = await self.wait_ready(self.ports[1])
        self.noted("kill_node", f"node2 SIGKILL, restarted, ready {took + 1.0:.1f} s after the kill")

    async def kill_redis(self):
        self.fault_until = time.time() + 600  # until Redis answers again, however long it loads
        await self.redis.kill()
        self.admin.close()
        self.reader.close()
        start = time.time()
        await self.redis.start()

        async def loaded():
            return (await self.admin.command("PING", timeout_s=2)) == "PONG"

        await wait_until(loaded, 300, "redis after SIGKILL")
        took = time.time() - start
        self.fault_until = time.time() + 5
        self.noted("kill_redis", f"SIGKILL, restarted, answering after {took:.1f} s (AOF replayed)")

    async def client_pause(self):
        self.busy(3)
        await self.admin.command("CLIENT", "PAUSE", "2000", "ALL")
        self.noted("client_pause", "CLIENT PAUSE 2000 ALL")

    async def receiver_down(self):
        await self.receiver.kill()
        self.noted("receiver_down", f"webhook receiver SIGKILL, down {RECEIVER_DOWN_S} s")
        await asyncio.sleep(RECEIVER_DOWN_S)
        await self.start_receiver()

    # ---- samplers --------------------------------------------------------------------------

    async def sample_rss(self, until):
        while time.time() < until and not self.stop:
            kb = rss_kb(self.nodes[0].pid)
            if kb:
                self.rss.append((time.time(), kb))
            await asyncio.sleep(RSS_EVERY_S)

    async def sample_counters(self, until):
        while time.time() < until and not self.stop:
            await asyncio.sleep(SNAPSHOT_EVERY_S)
            await self.snapshot()

    async def snapshot(self):
        """Every subject's counters as Redis holds them (read only; `:u` fields, used)."""
        for s in list(self.subjects):
            t = time.time()
            try:
                flat = await self.reader.command("HGETALL", f"qg:{{default:{s}}}:ctr")
            except Exception:
                continue  # Redis down: the next snapshot reads it
            for i in range(0, len(flat or []), 2):
                field, value = flat[i], flat[i + 1]
                if not field.endswith(":u"):
                    continue
                group, _, period = field[:-2].rpartition("@")
                p = None if period == "life" else int(period)
                self.snapshots[(s, group, p)] = (t, int(value))
        try:
            mem = await self.reader.command("INFO", "memory")
            used = next(int(line.split(":")[1]) for line in mem.splitlines() if line.startswith("used_memory:"))
            self.redis_memory.append((time.time(), used))
        except Exception:
            pass

    # ---- the run ---------------------------------------------------------------------------

    async def run(self):
        t_setup = time.time()
        await self.start()
        log = Log(f"{self.work}/calls.jsonl")
        load = Load(self.gw, log, self.args.seed)
        cal_users = await self.populate("c", CALIBRATION_USERS)
        say(f"setup: Redis on {self.redis_port}, nodes on {self.ports}, receiver on {self.receiver_port}, "
            f"work dir {self.work} ({time.time() - t_setup:.1f} s)")

        if self.args.rate:
            capacity, per_flow = self.args.rate / LOAD_SHARE, 2.2
            say(f"capacity given: {capacity:.0f} requests/s")
        else:
            capacity, per_flow = await self.capacity(load, cal_users)
            say(f"capacity: {capacity:.0f} requests/s answered ({per_flow:.2f} a flow), "
                f"{CAPACITY_FLOWS} flows in a closed loop for {CAPACITY_SECONDS} s")
        target = capacity * LOAD_SHARE
        # The soak's flows make more calls than the capacity run's (whose users are mostly
        # denied by then): start at 2.2 a flow and let the controller find the rate.
        flows_per_s = target / 2.2
        self.flow_rate = flows_per_s
        n_users = users_for(flows_per_s)
        users = cal_users + await self.populate("s", n_users)
        say(f"load: {target:.0f} requests/s ({LOAD_SHARE:.0%}), {flows_per_s:.0f} flows/s on {len(users)} users "
            f"and {sum(1 for s in self.plan_of.values() if s == 'plan_team')} teams, for {self.minutes} min")

        total_s = self.minutes * 60
        t0 = time.time()
        self.soak_start = t0
        stats0 = dict(self.gw.stats)
        samplers = [asyncio.ensure_future(self.sample_rss(t0 + total_s + DRAIN_LIMIT_S + 120)),
                    asyncio.ensure_future(self.sample_counters(t0 + total_s + DRAIN_LIMIT_S))]
        faults = asyncio.ensure_future(self.faults_run(t0, total_s))
        progress = asyncio.ensure_future(self.progress(log, t0, total_s))
        control = asyncio.ensure_future(self.control(target, t0 + total_s))
        await self.arrivals(load, users, t0 + total_s)
        soak_s = time.time() - t0
        answered = self.gw.stats["answers"] - stats0["answers"]
        control.cancel()
        await faults
        progress.cancel()
        say(f"load done after {soak_s:.0f} s; draining {len(self.inflight)} flows in flight")

        # Drain: bounded; a flow still running after DRAIN_LIMIT_S is cancelled (its calls are
        # then unanswered and logged as such).
        if self.inflight:
            done, pending = await asyncio.wait(list(self.inflight), timeout=DRAIN_LIMIT_S)
            for task in pending:
                task.cancel()
            if pending:
                log.count("flows_cancelled_at_drain", len(pending))
        log.close()
        if not self.receiver.alive():
            await self.start_receiver()
        await asyncio.sleep(32)  # the longest TTL (30 s) of any hold, and then some
        self.stop = True
        for s in samplers:
            s.cancel()
        await self.snapshot()
        return log, capacity, target, answered / soak_s

    async def progress(self, log, t0, total_s):
        while True:  # cancelled when the load ends
            await asyncio.sleep(60)
            c = log.counts
            say(f"{(time.time() - t0) / 60:.0f}/{total_s / 60:.0f} min: {self.gw.stats['attempts']} attempts, "
                f"{self.achieved[-1] if self.achieved else 0:.0f} answers/s, {self.flow_rate:.0f} flows/s, "
                f"{c.get('reserve', 0)} reserves, {c.get('commit', 0)} commits, {c.get('track', 0)} tracks, "
                f"{len(self.inflight)} flows in flight, {c.get('unexpected', 0)} unexpected answers, "
                f"node1 RSS {self.rss[-1][1] / 1024 if self.rss else 0:.1f} MB")

    # ---- reading back ----------------------------------------------------------------------

    async def read_ledger(self):
        """Every subject's ledger a page at a time."""
        got = LedgerView()
        sem = asyncio.Semaphore(8)

        async def one(s):
            async with sem:
                cursor = None
                for _ in range(100_000):  # bounded: pages of 1,000
                    q = f"/v1/usage-events?userId={s}&limit=1000" + (f"&cursor={cursor}" if cursor else "")
                    a = await self.gw.call("GET", q)
                    if a.status != 200:
                        raise RuntimeError(f"GET {q}: {a.status} {a.body[:200]!r}")
                    page = a.json()
                    for entry in page["data"]:
                        got.add(entry)
                    cursor = page.get("nextCursor")
                    if not cursor:
                        return

        await asyncio.gather(*(one(s) for s in self.subjects))
        return got

    async def ledger_entries(self, s):
        entries, cursor = [], None
        for _ in range(100_000):  # bounded: pages of 1,000
            q = f"/v1/usage-events?userId={s}&limit=1000" + (f"&cursor={cursor}" if cursor else "")
            page = (await self.gw.call("GET", q)).json()
            entries.extend(page["data"])
            cursor = page.get("nextCursor")
            if not cursor:
                break
        return entries

    async def export(self):
        out = f"{self.work}/export.ndjson"
        proc = await asyncio.create_subprocess_exec(
            self.args.bin, "export", "--format", "ndjson", "--out", out,
            "--url", f"http://127.0.0.1:{self.ports[0]}", "--key", self.key,
            stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE)
        _, err = await asyncio.wait_for(proc.communicate(), 900)
        if proc.returncode != 0:
            raise RuntimeError(f"quota-gateway export failed: {err.decode()[-500:]}")
        got = LedgerView()
        with open(out) as f:
            for line in f:
                got.add(json.loads(line))
        os.remove(out)
        return got

    async def usage_answers(self):
        answers = {}
        sem = asyncio.Semaphore(16)

        async def one(s):
            async with sem:
                a = await self.gw.call("GET", f"/v1/users/{s}/usage")
                if a.status == 200:
                    answers[s] = a.json()

        await asyncio.gather(*(one(s) for s in self.subjects))
        return answers

    async def wait_alerts(self, want):
        """Until every expected alert came (at most ALERT_WAIT_S), then 10 s more for extras."""
        start = time.time()
        while time.time() - start < ALERT_WAIT_S:
            by_alert, _, _ = check.received_alerts(self.receiver_log)
            if all(by_alert.get(k) for k in want):
                break
            await asyncio.sleep(2)
        await asyncio.sleep(10)
        return time.time() - start


class LedgerView:
    """A ledger read back: a digest per subject and sums per group and period."""

    def __init__(self):
        self.digest = check.Digest()
        self.sums = defaultdict(int)
        self.entries = 0

    def add(self, e):
        self.entries += 1
        s, entry_id = e["userId"], check.norm_entry_id(e["id"])
        for g in e["groups"]:
            p, amount = ms(g["periodStart"]), milli(g["amount"])
            self.digest.add(s, (s, entry_id, g["groupId"], p, amount))
            self.sums[(s, g["groupId"], p)] += amount


async def main():
    ap = argparse.ArgumentParser(description="Soak the gateway under faults and check its invariants.")
    ap.add_argument("--minutes", type=float, default=10)
    ap.add_argument("--bin", required=True)
    ap.add_argument("--work", required=True)
    ap.add_argument("--seed", type=int, default=int(time.time()))
    ap.add_argument("--rate", type=float, help="requests/s to run at, instead of 70 %% of a measured capacity")
    args = ap.parse_args()
    blind = selftest.run()
    if blind:
        say("the checks fail their own self-test:", *blind)
        return 2
    soak = Soak(args)
    started = time.time()
    try:
        log, capacity, target, achieved = await soak.run()
        say("reading back: ledger pages, export, usage, webhooks")
        t = time.time()
        pages = await soak.read_ledger()
        export = await soak.export()
        usage = await soak.usage_answers()
        say(f"read {pages.entries} ledger entries through pages and {export.entries} through the export in {time.time() - t:.0f} s")
        facts = check.Facts(f"{args.work}/calls.jsonl", soak.plan_of, soak.team_of)
        for e in soak.flow_errors:
            facts.violate("soak flow crashed", e)
        check.check_ledger(facts, pages, export)
        for subject in facts.ledger_mismatch[:5]:
            want = check.expected_rows(f"{args.work}/calls.jsonl", subject)
            have = check.ledger_rows(await soak.ledger_entries(subject))
            facts.notes.append(f"ledger of {subject}: {check.row_differences(want, have)}")
        unobserved = check.check_counters(facts, pages.sums, soak.snapshots)
        check.check_usage(facts, usage, pages.sums)
        check.check_quotas(facts)
        want = check.expected_alerts(facts, pages.sums)
        waited = await soak.wait_alerts(want)
        by_alert, deliveries, unsigned = check.received_alerts(soak.receiver_log)
        check.check_alerts(facts, want, by_alert, unsigned)
        total_s = args.minutes * 60
        warm = min(600, max(60, 0.2 * total_s))
        window = min(300, max(20, 0.1 * total_s))
        memory = check.check_memory(facts, soak.rss, soak.soak_start + warm, min(FAULT_CYCLE_S, total_s), window)
    except Exception:
        import traceback

        traceback.print_exc()
        say(f"the soak itself failed (not a verdict on the gateway); logs kept in {args.work}")
        return 2
    finally:
        await soak.close()
    report(args, soak, log, facts, capacity, target, achieved, deliveries, len(want), waited, memory, warm, unobserved,
           time.time() - started)
    failed = sum(len(v) for v in facts.violations.values())
    if failed:
        say(f"FAILED: {failed} violations; logs kept in {args.work}")
        return 1
    shutil.rmtree(args.work, ignore_errors=True)
    return 0


def report(args, soak, log, facts, capacity, target, achieved, deliveries, alerts, waited, memory, warm, unobserved, took):
    c = log.counts
    print()
    print(f"soak: {args.minutes:g} min, two nodes, Redis with appendfsync always, seed {args.seed}; {took / 60:.1f} min in all")
    print(f"capacity {capacity:.0f} requests/s; target {target:.0f} (70 %); achieved {achieved:.0f} over the soak")
    print("requests by kind:")
    for k in ("reserve", "commit", "release", "track", "read_reservation", "repeat_reserve", "repeat_commit",
              "repeat_track", "reuse_reserve", "reuse_commit", "reuse_track"):
        print(f"  {k:<18} {c.get(k, 0):>10,}")
    print(f"  reserves admitted {c.get('reserve_allowed', 0):,}, denied {c.get('reserve_denied', 0):,}; "
          f"commits late {c.get('commit_late', 0):,}; releases answered after their hold's TTL "
          f"{c.get('release_after_expiry', 0):,}; flows shed {c.get('shed', 0):,}")
    st = soak.gw.stats
    print(f"  attempts {st['attempts']:,}: no answer {st['no_answer']:,}, retried after 429/502/503/504 {st['retried_status']:,}; "
          f"answered after the first 60 s deadline {c.get('answered_after_first_deadline', 0):,}")
    print(f"  webhook deliveries received {deliveries:,} for {alerts:,} expected alerts (waited {waited:.0f} s at the end)")
    print("faults injected: " + ", ".join(f"{k} {v}" for k, v in sorted(soak.faults.items())))
    if memory:
        base, final, peak = memory
        print(f"node1 RSS: at most {base / 1024:.1f} MB in the first fault cycle after {warm:.0f} s of warm-up, "
              f"{final / 1024:.1f} MB at the end (median of the last {min(300, max(20, 0.1 * args.minutes * 60)):.0f} s), peak {peak / 1024:.1f} MB")
    if soak.redis_memory:
        print(f"Redis used_memory: {soak.redis_memory[0][1] / 2**20:.0f} MB first snapshot, {soak.redis_memory[-1][1] / 2**20:.0f} MB last")
    print("invariants checked:")
    for k, v in sorted(facts.checked.items()):
        print(f"  {k}: {v:,}")
    if unobserved:
        print(f"  (counters not read after their last change, left unchecked: {unobserved:,})")
    if facts.uncertain:
        print(f"  (subjects left out of exact checks after an unanswered call: {len(facts.uncertain)})")
    n = sum(len(v) for v in facts.violations.values())
    print(f"violations: {n}")
    for kind, items in sorted(facts.violations.items()):
        print(f"  {kind}: {len(items)}")
        for item in items[:10]:
            print(f"    {item[:2000]}")
    for note in facts.notes:
        print(f"  detail: {note}")


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
