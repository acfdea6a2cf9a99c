// What calls' outputs came to, through the client against a real gateway: said by a commit, a
// track, a run's close or later (`setOutcome`), counted per counter and day, and divided into
// usage as the cost per accepted output; said again it changes nothing, a new word moves the
// count; a reservation not committed, an unknown one and a word the gateway refuses throw.
import assert from "node:assert/strict";
import { test } from "node:test";
import { createClient, QuotaGatewayError } from "quota-gateway";
import { freshUser, putPlan, useGateway } from "./harness.mjs";

const env = useGateway();
const client = (extra = {}) => createClient({ apiKey: env.secret, baseUrl: env.baseUrl, ...extra });

/** A user of its own on a plan whose `spend` group counts renders and tasks in cents. */
async function subscribed(qg, parentId) {
  const user = freshUser("out");
  await putPlan({ id: `plan_${user}`, periodType: "month", groups: [
    { id: "spend", unit: "cents", quota: 10_000, matches: [{ event: "image.render" }, { event: "agent.task" }] }] });
  await qg.upsertSubscription({ userId: user, planId: `plan_${user}`, ...(parentId ? { parentId } : {}) });
  return user;
}

/** Reserves 10 cents of a render, which must be admitted. */
async function render(qg, user) {
  const hold = await qg.reserve(user, "image.render", 10);
  assert.equal(hold.allowed, true);
  return hold.reservationId;
}

const spend = async (qg, user) => (await qg.usage(user)).counters.find((c) => c.groupId === "spend");

/** The error `promise` rejects with, which must be the client's. */
async function thrown(promise) {
  const err = await promise.then(() => assert.fail("it did not throw"), (e) => e);
  assert.ok(err instanceof QuotaGatewayError, String(err));
  return err;
}

test("four renders of 10 cents, two accepted: 20 cents an accepted render, in usage and in the day's rollup", async () => {
  const qg = client();
  const user = await subscribed(qg);
  const first = await render(qg, user);
  assert.equal((await qg.commit(first, { outcome: "accepted" })).status, "committed");
  const second = await render(qg, user);
  await qg.commit(second);
  await qg.track(user, "image.render", 10, undefined, { outcome: "rejected" });
  const fourth = await qg.withReservation(user, "image.render", 10, undefined, ({ report }) => report({ outcome: "failed" }));
  assert.equal(fourth.allowed, true);
  const before = await spend(qg, user);
  assert.deepEqual([before.used, before.outcomes, before.costPerAccepted], [40, { accepted: 1, rejected: 1, failed: 1 }, 40]);

  // The second render is judged later: kept.
  assert.deepEqual(await qg.setOutcome(second, "accepted"), { reservationId: second, outcome: "accepted", previous: null });
  const after = await spend(qg, user);
  assert.deepEqual([after.used, after.outcomes, after.costPerAccepted], [40, { accepted: 2, rejected: 1, failed: 1 }, 20]);
  const [today] = (await qg.dailyUsage(user)).days.slice(-1);
  const day = today.groups.find((g) => g.groupId === "spend");
  assert.deepEqual([day.used, day.outcomes, day.costPerAccepted], [40, { accepted: 2, rejected: 1, failed: 1 }, 20]);
});

test("setOutcome replaces the word said before and moves the count; said again nothing changes", async () => {
  const qg = client();
  const user = await subscribed(qg);
  const id = await render(qg, user);
  await qg.commit(id, { outcome: "rejected" });
  assert.deepEqual(await qg.setOutcome(id, "accepted"), { reservationId: id, outcome: "accepted", previous: "rejected" });
  assert.deepEqual(await qg.setOutcome(id, "accepted"), { reservationId: id, outcome: "accepted", previous: "accepted" });
  const counter = await spend(qg, user);
  assert.deepEqual([counter.outcomes, counter.costPerAccepted], [{ accepted: 1 }, 10], "counted once, under its last word");

  const entries = (await qg.listUsageEvents({ userId: user })).data;
  const commit = entries.find((e) => e.kind === "commit");
  assert.deepEqual([commit.outcome, commit.previousOutcome], ["rejected", undefined]);
  const said = entries.filter((e) => e.kind === "outcome");
  assert.equal(said.length, 1, "said again, nothing is written");
  assert.deepEqual([said[0].outcome, said[0].previousOutcome, said[0].changesUsage], ["accepted", "rejected", false]);
  assert.deepEqual(said[0].groups.map((g) => g.amount), [0]);
});

test("a held reservation is not committed, an unknown one not found: each throws its code", async () => {
  const qg = client();
  const user = await subscribed(qg);
  const held = await render(qg, user);
  const early = await thrown(qg.setOutcome(held, "accepted"));
  assert.deepEqual([early.code, early.status, early.unavailable], ["reservation_not_committed", 409, false]);
  await qg.release(held);
  assert.equal((await thrown(qg.setOutcome(held, "accepted"))).code, "reservation_not_committed", "a released hold produced nothing");
  const unknown = await thrown(qg.setOutcome(held.replace(/.$/, (c) => (c === "0" ? "1" : "0")), "accepted"));
  assert.deepEqual([unknown.code, unknown.status], ["reservation_not_found", 404]);
  assert.deepEqual((await spend(qg, user)).outcomes, undefined);
});

test("a word the gateway refuses is invalid_request naming outcome, on every call that says one", async () => {
  const qg = client();
  const user = await subscribed(qg);
  const id = await render(qg, user);
  for (const call of [
    () => qg.commit(id, { outcome: "Accepted!" }),
    () => qg.track(user, "image.render", 1, undefined, { outcome: "x".repeat(33) }),
    () => qg.setOutcome(id, ""),
  ]) {
    const err = await thrown(call());
    assert.deepEqual([err.code, err.status, err.field], ["invalid_request", 400, "outcome"]);
  }
  assert.equal((await qg.getReservation(id)).status, "held", "a refused commit committed nothing");
  const counter = await spend(qg, user);
  assert.deepEqual([counter.used, counter.outcomes], [0, undefined]);
});

test("a run's close says its outcome: withRun decides it from what fn returned", async () => {
  const qg = client();
  const user = await subscribed(qg);
  const done = await qg.withRun(user, "agent.task", 30, undefined, async (run) => {
    const step = await run.reserve("image.render", 10);
    await qg.commit(step.reservationId);
    return "kept";
  }, { outcome: (value) => (value === "kept" ? "accepted" : "rejected") });
  assert.deepEqual([done.allowed, done.run.state], [true, "closed"]);
  const run = await qg.startRun(user, "agent.task", 30);
  await run.close({ outcome: "abandoned" });
  const closes = (await qg.listUsageEvents({ userId: user })).data.filter((e) => e.kind === "run_close");
  assert.deepEqual(closes.map((e) => e.outcome), ["accepted", "abandoned"]);
  const counter = await spend(qg, user);
  assert.deepEqual([counter.used, counter.outcomes, counter.costPerAccepted], [10, { accepted: 1, abandoned: 1 }, 10]);
});

test("a team's usage counts its members' outcomes", async () => {
  const qg = client();
  const team = await subscribed(qg);
  const member = await subscribed(qg, team);
  const id = await render(qg, member);
  await qg.commit(id, { outcome: "accepted" });
  await qg.track(member, "image.render", 10, undefined, { outcome: "rejected" });
  const usage = await qg.usage(member);
  const pooled = usage.parents.find((p) => p.subjectId === team).counters.find((c) => c.groupId === "spend");
  assert.deepEqual([pooled.used, pooled.outcomes, pooled.costPerAccepted], [20, { accepted: 1, rejected: 1 }, 20]);
});

test("an unchecked reservation's outcome is answered by the client, as its commit is", async () => {
  const qg = client({ baseUrl: "http://127.0.0.1:1", failMode: "open", timeoutMs: 500, maxRetries: 0 });
  const hold = await qg.reserve("someone", "image.render", 10);
  assert.deepEqual([hold.allowed, hold.unchecked, hold.reservationId], [true, true, ""]);
  assert.deepEqual(await qg.setOutcome("", "accepted"), { reservationId: "", outcome: "accepted", previous: null });
});
