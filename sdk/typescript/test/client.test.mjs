// Every method of the client against a real gateway and Redis.
import assert from "node:assert/strict";
import { test } from "node:test";
import { createClient, QuotaGatewayError } from "quota-gateway";
import { countPlan, freshUser, putPlan, useGateway } from "./harness.mjs";

const env = useGateway();
const client = () => createClient({ apiKey: env.secret, baseUrl: env.baseUrl });

test("reserve, commit, release, extend and getReservation follow a reservation's life", async () => {
  await putPlan(countPlan("plan_life", 3));
  const qg = client();
  const user = freshUser();
  await qg.upsertSubscription({ userId: user, planId: "plan_life" });
  const first = await qg.reserve(user, "render", 1, { model: "a" }, { ttlSeconds: 30 });
  assert.equal(first.allowed, true);
  assert.equal(first.counters[0].reserved, 1);
  const extended = await qg.extend(first.reservationId, 60);
  assert.equal(extended.reservationId, first.reservationId);
  const read = await qg.getReservation(first.reservationId);
  assert.equal(read.status, "held");
  const committed = await qg.commit(first.reservationId, { quantity: 2 });
  assert.equal(committed.status, "committed");
  assert.equal(committed.counters[0].used, 2);
  const second = await qg.reserve(user, "render");
  const released = await qg.release(second.reservationId);
  assert.equal(released.status, "released");
  const denied = await qg.reserve(user, "render", 2);
  assert.deepEqual([denied.allowed, denied.reasons, denied.deniedBy, denied.reservationId], [false, ["limit_reached"], ["g"], null]);
});

test("canUse answers like reserve and holds nothing; track counts past the quota", async () => {
  await putPlan(countPlan("plan_track", 1));
  const qg = client();
  const user = freshUser();
  await qg.upsertSubscription({ userId: user, planId: "plan_track", startedAt: new Date(Date.now() - 60_000) });
  assert.equal((await qg.canUse(user, "e")).allowed, true);
  assert.equal((await qg.usage(user)).counters[0].reserved, 0);
  const tracked = await qg.track(user, "e", 3);
  assert.deepEqual(tracked.overQuota, ["g"]);
  assert.equal((await qg.canUse(user, "e")).allowed, false);
});

test("subscriptions, overrides, blocking, adjustments and user tokens", async () => {
  await putPlan(countPlan("plan_admin", 2));
  const qg = client();
  const user = freshUser();
  const sub = await qg.upsertSubscription({ userId: user, planId: "plan_admin" });
  assert.equal(sub.planId, "plan_admin");
  assert.equal((await qg.getSubscription(user)).status, "active");
  assert.equal((await qg.setOverride(user, "g", { quota: 5 })).overrides.g.quota, 5);
  assert.deepEqual((await qg.removeOverride(user, "g")).overrides, {});
  assert.equal((await qg.block(user, "abuse")).status, "blocked");
  assert.deepEqual((await qg.reserve(user, "e")).reasons, ["user_blocked"]);
  assert.equal((await qg.unblock(user)).status, "active");
  await qg.track(user, "e", 2);
  const adjusted = await qg.adjust(user, { groupId: "g", amount: -1, reason: "refund" });
  assert.equal(adjusted.counter.used, 1);
  const ledger = await qg.listUsageEvents({ userId: user, limit: 1 });
  assert.equal(ledger.data[0].kind, "track");
  const rest = await qg.listUsageEvents({ userId: user, cursor: ledger.nextCursor, from: new Date(0) });
  assert.deepEqual(rest.data.map((e) => e.kind), ["adjustment"]);
  const daily = await qg.dailyUsage(user);
  assert.equal(daily.days.length, 30);
  assert.equal(daily.days[29].groups.find((g) => g.groupId === "g").used, 1, "tracked 2, refunded 1, today");
  const range = await qg.dailyUsage(user, { from: "2026-01-30", to: "2026-02-01" });
  assert.deepEqual(range.days.map((d) => d.date), ["2026-01-30", "2026-01-31", "2026-02-01"]);
  const token = await qg.createUserToken(user, 60);
  assert.match(token.token, /^qg_ut_/);
  assert.equal((await qg.deleteSubscription(user)).planId, null);
});

test("a member's reserve draws on its team's pool, and a denial names the pool's subject", async () => {
  await putPlan(countPlan("plan_seat", 5));
  await putPlan(countPlan("plan_pool", 1));
  const qg = client();
  const [team, member] = [freshUser("team"), freshUser("member")];
  await qg.upsertSubscription({ userId: team, planId: "plan_pool" });
  assert.equal((await qg.upsertSubscription({ userId: member, planId: "plan_seat", parentId: team })).parentId, team);
  const held = await qg.reserve(member, "e");
  assert.deepEqual(held.counters.map((c) => [c.subjectId, c.reserved]), [[member, 1], [team, 1]]);
  const denied = await qg.reserve(member, "e");
  assert.deepEqual(denied.denials, [{ subjectId: team, groupId: "g", reason: "limit_reached" }]);
  const usage = await qg.usage(member);
  assert.deepEqual(usage.parents.map((p) => [p.subjectId, p.counters[0].reserved]), [[team, 1]]);
  await qg.commit(held.reservationId);
  assert.equal((await qg.usage(team)).counters[0].used, 1);
  assert.equal((await qg.upsertSubscription({ userId: member, planId: "plan_seat", parentId: null })).parentId, null);
  assert.equal((await qg.reserve(member, "e")).allowed, true);
});

test("4xx answers become QuotaGatewayError with code, status, detail, field and requestId", async () => {
  const qg = client();
  await assert.rejects(qg.commit("r_nope.nope"), (err) => {
    assert.ok(err instanceof QuotaGatewayError);
    assert.equal(err.code, "reservation_not_found");
    assert.equal(err.status, 404);
    assert.ok(err.requestId);
    return true;
  });
  await assert.rejects(qg.track("", "e"), (err) => err.code === "invalid_request" && err.field === "userId" && err.status === 400);
  const wrong = createClient({ apiKey: "qg_sk_not_a_key", baseUrl: env.baseUrl });
  await assert.rejects(wrong.usage("x"), (err) => err.status === 401 && err.code === "unauthorized");
});

test("withReservation commits what fn reports, and releases when fn throws", async () => {
  await putPlan(countPlan("plan_with", 10));
  const qg = client();
  const user = freshUser();
  await qg.upsertSubscription({ userId: user, planId: "plan_with" });
  const done = await qg.withReservation(user, "llm", 4, undefined, async ({ report }) => {
    report({ quantity: 3 });
    return "answer";
  });
  assert.equal(done.allowed, true);
  assert.equal(done.value, "answer");
  assert.equal(done.commit.counters[0].used, 3);
  await assert.rejects(qg.withReservation(user, "llm", 4, undefined, () => { throw new Error("provider down"); }), /provider down/);
  const usage = await qg.usage(user);
  assert.deepEqual([usage.counters[0].used, usage.counters[0].reserved], [3, 0]);
  const denied = await qg.withReservation(user, "llm", 100, undefined, () => assert.fail("not called"));
  assert.equal(denied.allowed, false);
});

test("20 parallel reserves against a quota of 1 admit exactly one", async () => {
  await putPlan(countPlan("plan_one", 1));
  const qg = client();
  const user = freshUser();
  await qg.upsertSubscription({ userId: user, planId: "plan_one" });
  const answers = await Promise.all(Array.from({ length: 20 }, () => qg.reserve(user, "e")));
  assert.equal(answers.filter((a) => a.allowed).length, 1);
});

test("a browser reads its own user's usage with the publishable key and a user token", async () => {
  await putPlan(countPlan("plan_browser", 2));
  const server = client();
  const [alice, bob] = [freshUser("alice"), freshUser("bob")];
  await server.upsertSubscription({ userId: alice, planId: "plan_browser" });
  const { token } = await server.createUserToken(alice);
  const browser = createClient({ apiKey: env.publishable, baseUrl: env.baseUrl, userToken: token });
  assert.equal((await browser.usage(alice)).planId, "plan_browser");
  await assert.rejects(browser.usage(bob), (err) => err.status === 403);
  await assert.rejects(browser.track(alice, "e"), (err) => err.status === 403);
});
