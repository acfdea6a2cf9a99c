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

test("a reservation and its commit's ledger entry say what it was for, and the key that made the call", async () => {
  await putPlan(countPlan("plan_attributed", 10));
  const qg = client();
  const user = freshUser();
  await qg.upsertSubscription({ userId: user, planId: "plan_attributed" });
  const started = new Date(Date.now() - 1_000);
  const held = await qg.reserve(user, "image.render", 2, { model: "flux-pro", steps: 30 });
  assert.equal(held.allowed, true);
  await qg.commit(held.reservationId); // no actual amount: the reserved one is committed
  const view = await qg.getReservation(held.reservationId);
  assert.deepEqual([view.status, view.event, view.quantity, view.metadata], ["committed", "image.render", 2, { model: "flux-pro", steps: 30 }]);
  // A commit's own metadata goes on top of the reservation's, its quantity instead of the reserved one.
  const llm = await qg.reserve(user, "llm.tokens", 4, { model: "a" });
  await qg.commit(llm.reservationId, { quantity: 1.5, metadata: { model: "b", finish: "stop" } });
  const asked = await qg.getReservation(llm.reservationId);
  assert.deepEqual([asked.quantity, asked.metadata], [4, { model: "a" }], "the reservation keeps what was reserved");
  const bare = await qg.reserve(user, "e");
  const plain = await qg.getReservation(bare.reservationId);
  assert.deepEqual([plain.quantity, plain.metadata], [1, null], "null when the reserve had no metadata");
  await qg.release(bare.reservationId);
  await qg.track(user, "e", 1, { source: "cron" });
  const page = await qg.listUsageEvents({ userId: user, from: started });
  assert.deepEqual(page.data.map((e) => e.kind), ["commit", "commit", "release", "track"], "a release is an entry too, with no usage");
  const usage = page.data.filter((e) => e.kind !== "release");
  assert.deepEqual(usage.map((e) => [e.id, e.kind, e.event, e.quantity, e.metadata, e.keyId, e.memberId]), [
    [`commit:${held.reservationId}`, "commit", "image.render", 2, { model: "flux-pro", steps: 30 }, env.secretKeyId, null],
    [`commit:${llm.reservationId}`, "commit", "llm.tokens", 1.5, { model: "b", finish: "stop" }, env.secretKeyId, null],
    [usage[2].id, "track", "e", 1, { source: "cron" }, env.secretKeyId, null],
  ]);
  const release = page.data[2];
  assert.deepEqual([release.id, release.event, release.groups, release.reserved], [`release:${bare.reservationId}`, "e", [], 1]);
  assert.ok(release.heldSince, "an entry that ends a hold says when it was made");
  assert.equal(page.nextCursor, null);
});

test("a team's ledger names the member of each entry, and memberId reads one member's", async () => {
  await putPlan(countPlan("plan_member_seat", 10));
  await putPlan(countPlan("plan_member_pool", 100));
  const qg = client();
  const [team, alice, bob] = [freshUser("team"), freshUser("alice"), freshUser("bob")];
  await qg.upsertSubscription({ userId: team, planId: "plan_member_pool" });
  for (const member of [alice, bob]) await qg.upsertSubscription({ userId: member, planId: "plan_member_seat", parentId: team });
  const started = new Date(Date.now() - 1_000);
  const held = await qg.reserve(alice, "render", 3, { model: "flux" });
  await qg.commit(held.reservationId);
  await qg.track(bob, "render", 2);
  await qg.track(alice, "render", 1);

  const own = await qg.listUsageEvents({ userId: alice, from: started });
  assert.deepEqual(own.data.map((e) => [e.userId, e.memberId]), [[alice, null], [alice, null]], "null in a member's own ledger");
  const pooled = await qg.listUsageEvents({ userId: team, from: started });
  assert.deepEqual(pooled.data.map((e) => [e.userId, e.memberId, e.quantity]), [[team, alice, 3], [team, bob, 2], [team, alice, 1]]);
  const hers = await qg.listUsageEvents({ userId: team, memberId: alice, from: started });
  assert.deepEqual(hers.data.map((e) => [e.userId, e.memberId, e.kind, e.metadata, e.keyId]), [
    [team, alice, "commit", { model: "flux" }, env.secretKeyId],
    [team, alice, "track", null, env.secretKeyId],
  ]);
  assert.deepEqual(hers.data.map((e) => e.id), own.data.map((e) => e.id), "a team's entry has its member's entry's id");
  const one = await qg.listUsageEvents({ userId: team, memberId: alice, limit: 1 });
  const rest = await qg.listUsageEvents({ userId: team, memberId: alice, cursor: one.nextCursor });
  assert.deepEqual([...one.data, ...rest.data].map((e) => e.id), own.data.map((e) => e.id), "pages of one member's entries");
  assert.equal(rest.nextCursor, null);
  await assert.rejects(qg.listUsageEvents({ memberId: alice }), (err) => err.code === "invalid_request" && err.field === "memberId" && err.status === 400);

  // Project-wide, a page may be short and still name nextCursor: following it finds every entry.
  const everyone = [];
  for (let cursor; ; ) {
    const p = await qg.listUsageEvents({ from: started, limit: 2, cursor });
    assert.ok(p.data.length <= 2);
    everyone.push(...p.data);
    if (!(cursor = p.nextCursor)) break;
  }
  const mine = everyone.filter((e) => [team, alice, bob].includes(e.userId));
  assert.equal(mine.length, 6, "the members' three entries and the team's three");
  assert.deepEqual(mine.filter((e) => e.userId === team).map((e) => e.memberId), [alice, bob, alice]);
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
