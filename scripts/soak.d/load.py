"""The soak's traffic: flows of calls an AI app makes, each call logged with its answer.

A flow is one piece of work on one user: reserve, do the work, then commit (below or above
what was held), release, let the hold expire, or commit after expiry; or one track. Some
calls are repeated with their Idempotency-Key (same body: the first answer again; another
body: 422). Every call goes through `client.Gateway.call`, which retries on the other node, so
a call ends answered or, after its deadlines, unanswered (logged, and a violation).

The log is JSON lines, one per answered call, written as the answer arrives:
  R  reserve   user event amount ttl key first_send ack last_failed allowed rid expires_ms counters denials
  C  commit    rid amount key first_send ack last_failed late
  L  release   rid first_send ack last_failed status
  T  track     user event amount key first_send ack last_failed counters
  X  read of a reservation past its expiry: rid time status
  I  repeat of a keyed call: what ok detail rid user last_failed
  E  an answer no contract allows: what status body detail rid user
  U  a call no node answered: what detail user rid
Amounts are milli-units; counters are [subject, group, periodStart ms or null, mode, quota milli].
"""

import asyncio
import base64
import json
import random
import time

from client import Unanswered

# Flow kinds and their weights in the mix (per 100 flows).
MIX = {
    "commit_below": 30,
    "commit_above": 10,
    "release": 15,
    "expire": 6,
    "late_commit": 2,
    "track": 22,
    "track_llm": 15,
}
# Kinds whose length is set by a TTL; the closed-loop capacity measurement leaves them out.
TIMED = ("expire", "late_commit")
REPEAT_SHARE = 0.08  # keyed calls sent again with the same key and body
REUSE_SHARE = 0.01  # keyed calls sent again with the same key and another body (422)
SECOND_DEADLINE_S = 300  # after a first deadline of 60 s: a call unanswered for 6 minutes is a violation


def milli(units):
    return round(units * 1000)


def units(amount_milli):
    return amount_milli // 1000 if amount_milli % 1000 == 0 else amount_milli / 1000


def ms(rfc3339):
    """RFC 3339 UTC with milliseconds (as the gateway writes them) to Unix ms."""
    if rfc3339 is None:
        return None
    import datetime

    t = datetime.datetime.strptime(rfc3339, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=datetime.timezone.utc)
    return round(t.timestamp() * 1000)


def b64(user):
    return base64.urlsafe_b64encode(user.encode()).decode().rstrip("=")


def compact_counters(counters):
    return [[c["subjectId"], c["groupId"], ms(c["periodStart"]), c["mode"], milli(c["quota"])] for c in counters]


class Log:
    def __init__(self, path):
        self.file = open(path, "a", buffering=1 << 20)
        self.counts = {}

    def write(self, record):
        self.file.write(json.dumps(record, separators=(",", ":")) + "\n")

    def count(self, what, n=1):
        self.counts[what] = self.counts.get(what, 0) + n

    def close(self):
        self.file.close()


class Load:
    def __init__(self, gateway, log, seed):
        self.gw, self.log = gateway, log
        self.rng = random.Random(seed)
        self.serial = 0
        self.think = True  # the work between reserve and commit; off while measuring capacity

    def key(self, what):
        self.serial += 1
        return f"soak-{what}-{self.serial}-{self.rng.getrandbits(48):012x}"

    async def call(self, what, method, path, body=None, key=None, user=None, rid=None, **kw):
        """One call answered, or None after logging it unanswered (with its user or reservation)."""
        self.log.count(what)
        try:
            answer = await self.gw.call(method, path, body, key, **kw)
        except Unanswered:
            answer = None
        if answer is None:
            try:
                # Everything was tried for a minute; try once more, longer, before calling it lost.
                answer = await self.gw.call(method, path, body, key, deadline_s=SECOND_DEADLINE_S, **kw)
                self.log.count("answered_after_first_deadline")
            except Unanswered as e:
                self.log.write(["U", what, f"{method} {path} {json.dumps(body)} after {e.attempts} attempts", user, rid])
                self.log.count("unanswered")
                return None
        if answer.odd:
            status, text = answer.odd[0]
            self.log.write(["E", what, status, text,
                            f"{method} {path}: {len(answer.odd)} such answers, retried with the same request", rid, user])
            self.log.count("unexpected")
        return answer

    def unexpected(self, what, answer, detail="", rid=None, user=None):
        self.log.write(["E", what, answer.status, answer.body.decode("utf-8", "replace")[:500], detail, rid, user])
        self.log.count("unexpected")

    @staticmethod
    def last_failed(answer):
        return max(answer.failed_sends) if answer.failed_sends else 0

    async def flow(self, kind, user):
        if kind == "track":
            await self.track(user, "image.render", 1000)
        elif kind == "track_llm":
            await self.track(user, "llm.tokens", self.rng.randrange(50_000, 3_000_000))
        else:
            await self.reserved(kind, user)

    async def work(self):
        if self.think:
            await asyncio.sleep(self.rng.uniform(0.0, 0.15))

    async def reserved(self, kind, user):
        rng = self.rng
        image = rng.random() < 0.5 and kind != "commit_above"
        event = "image.render" if image else "llm.tokens"
        amount = 1000 if image else rng.randrange(1000, 4000) * 1000
        ttl = {"expire": rng.choice((1, 2)), "late_commit": 1}.get(kind, 30)
        r = await self.reserve(user, event, amount, ttl)
        if r is None or not r["allowed"]:
            return
        rid = r["reservationId"]
        expires_s = ms(r["expiresAt"]) / 1000
        if kind == "commit_below":
            await self.work()
            # Images commit as reserved (no body); tokens commit what the call used, less.
            actual = None if image else rng.randrange(1, amount // 1000) * 1000 + rng.randrange(0, 1000)
            await self.commit(rid, actual)
        elif kind == "commit_above":
            await self.work()
            await self.commit(rid, amount + rng.randrange(1, amount // 1000 * 2) * 1000)
        elif kind == "release":
            await self.work()
            await self.release(rid, expires_s=expires_s)
        elif kind == "expire":
            # Never committed: at its expiry plus a second the reservation must read as expired.
            await asyncio.sleep(max(0.0, expires_s + 1.0 - time.time()))
            await self.read_expired(rid)
            if rng.random() < 0.4:
                await self.release(rid, expect="expired")
        elif kind == "late_commit":
            await asyncio.sleep(max(0.0, expires_s + 0.3 - time.time()))
            await self.commit(rid, None, expect_late=True)

    async def reserve(self, user, event, amount, ttl):
        body = {"userId": user, "event": event, "quantity": units(amount), "ttlSeconds": ttl}
        key = self.key("r")
        a = await self.call("reserve", "POST", "/v1/reserve", body, key, user=user)
        if a is None:
            return None
        if a.status != 200:
            self.unexpected("reserve", a, json.dumps(body), user=user)
            return None
        d = a.json()
        self.log.count("reserve_allowed" if d["allowed"] else "reserve_denied")
        self.log.write(["R", user, event, amount, ttl, key, a.first_send, a.ack, self.last_failed(a),
                        d["allowed"], d["reservationId"], ms(d["expiresAt"]),
                        compact_counters(d["counters"]), [[x["subjectId"], x["groupId"]] for x in d.get("denials", [])]])
        await self.maybe_repeat("reserve", "/v1/reserve", body, key, d, user=user)
        return d

    async def commit(self, rid, actual, expect_late=False):
        body = None if actual is None else {"quantity": units(actual)}
        key = self.key("c")
        path = f"/v1/reservations/{rid}/commit"
        a = await self.call("commit", "POST", path, body, key, rid=rid)
        if a is None:
            return
        if a.status != 200:
            self.unexpected("commit", a, rid, rid=rid)
            return
        d = a.json()
        if d.get("status") != "committed" or (expect_late and not d.get("late")):
            self.unexpected("commit", a, f"{rid}: expected committed{' and late' if expect_late else ''}", rid=rid)
        self.log.count("commit_late" if d.get("late") else "commit_in_time")
        self.log.write(["C", rid, actual, key, a.first_send, a.ack, self.last_failed(a), bool(d.get("late"))])
        await self.maybe_repeat("commit", path, body, key, d, rid=rid)

    async def release(self, rid, expect="released", expires_s=None):
        a = await self.call("release", "POST", f"/v1/reservations/{rid}/release", rid=rid)
        if a is None:
            return
        d = a.json() if a.status == 200 else {}
        self.log.write(["L", rid, a.first_send, a.ack, self.last_failed(a), d.get("status")])
        # A release retried through a fault can reach the gateway after the hold's TTL: answered
        # after `expiresAt`, "expired" is the contract's answer (the hold went back at expiry).
        late = expires_s is not None and a.ack >= expires_s
        if late and d.get("status") == "expired":
            self.log.count("release_after_expiry")
            return
        if a.status != 200 or d.get("status") != expect:
            self.unexpected("release", a, f"{rid}: expected {expect}", rid=rid)

    async def read_expired(self, rid):
        a = await self.call("read_reservation", "GET", f"/v1/reservations/{rid}", rid=rid)
        if a is None:
            return
        status = a.json().get("status") if a.status == 200 else None
        self.log.write(["X", rid, time.time(), status])
        if status != "expired":
            self.unexpected("read_reservation", a, f"{rid}: expected expired a second after its expiry", rid=rid)

    async def track(self, user, event, amount):
        body = {"userId": user, "event": event, "quantity": units(amount)}
        key = self.key("t")
        a = await self.call("track", "POST", "/v1/track", body, key, user=user)
        if a is None:
            return
        if a.status != 200:
            self.unexpected("track", a, json.dumps(body), user=user)
            return
        d = a.json()
        self.log.write(["T", user, event, amount, key, a.first_send, a.ack, self.last_failed(a),
                        compact_counters(d["counters"])])
        await self.maybe_repeat("track", "/v1/track", body, key, d, user=user)

    async def maybe_repeat(self, what, path, body, key, first, user=None, rid=None):
        """Sends a keyed call again: the same body must answer the first answer, counting nothing
        again; another body must be refused with 422 idempotency_key_reused."""
        roll = self.rng.random()
        if roll < REPEAT_SHARE:
            a = await self.call(f"repeat_{what}", "POST", path, body, key, user=user, rid=rid)
            if a is None:
                return
            same = a.status == 200 and a.json() == first
            detail = "" if same else f"{key}: {a.status} {a.body.decode('utf-8', 'replace')[:3000]} first {json.dumps(first, separators=(',', ':'))[:3000]}"
            self.log.write(["I", what, same, detail, rid or first.get("reservationId"), user, self.last_failed(a)])
            self.log.count("repeats_same" if same else "repeats_different")
        elif roll < REPEAT_SHARE + REUSE_SHARE:
            other = dict(body or {})
            other["quantity"] = units(milli(other.get("quantity", 1)) + 1000)
            a = await self.call(f"reuse_{what}", "POST", path, other, key, user=user, rid=rid)
            if a is None:
                return
            ok = a.status == 422 and (a.json() or {}).get("code") == "idempotency_key_reused"
            self.log.write(["I", f"reuse_{what}", ok, "" if ok else f"{key}: {a.status} {a.body[:300]!r}",
                            rid or first.get("reservationId"), user, self.last_failed(a)])
