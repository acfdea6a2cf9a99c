// Plans stored, read, listed and deleted through the client, as the README's blocks store theirs;
// a plan's and a group's owner and review, and the plans an owner owns; a rolling window's group.
import assert from "node:assert/strict";
import { test } from "node:test";
import { createClient } from "quota-gateway";
import { freshUser, useGateway } from "./harness.mjs";

const env = useGateway();

test("putPlan stores a plan (a new version each time), getPlan and listPlans read it, deletePlan removes one no user is on", async () => {
  const qg = createClient({ apiKey: env.secret, baseUrl: env.baseUrl });
  const id = `plan_${freshUser()}`;
  const doc = { id, periodType: "month", groups: [{ id: "renders", unit: "count", quota: 10, matches: [{ event: "image.render" }] }] };
  const first = await qg.putPlan(doc);
  assert.equal(first.id, id);
  const second = await qg.putPlan({ ...doc, groups: [{ ...doc.groups[0], quota: 20 }] });
  assert.equal(second.version, first.version + 1);
  const read = await qg.getPlan(id);
  assert.deepEqual([read.version, read.groups[0].quota], [second.version, 20]);
  assert.ok((await qg.listPlans()).data.some((p) => p.id === id));
  assert.equal((await qg.putPlan(read)).groups[0].quota, 20, "a plan read back is stored as it was");

  const user = freshUser();
  await qg.upsertSubscription({ userId: user, planId: id });
  assert.equal((await qg.reserve(user, "image.render")).counters[0].remaining, 19);
  await assert.rejects(qg.deletePlan(id), (err) => err.code === "plan_in_use" && err.status === 409);
  await qg.deleteSubscription(user);
  await qg.deletePlan(id);
  await assert.rejects(qg.getPlan(id), (err) => err.code === "plan_not_found" && err.status === 404);
  await assert.rejects(qg.putPlan({ id, groups: [{ id: "g", unit: "count", matches: [] }] }), (err) => err.code === "invalid_plan" && err.status === 400);
});

test("a plan and its groups name an owner and a review; listPlans({ owner }) finds the plans they own", async () => {
  const qg = createClient({ apiKey: env.secret, baseUrl: env.baseUrl });
  const run = freshUser();
  const team = `growth ${run}`; // a space and a group's owner with parentheses: sent percent-encoded
  const person = `Dana (marketing) ${run}`;
  const owned = { id: `plan_owned_${run}`, periodType: "month", owner: team, reviewEvery: "month", groups: [
    { id: "renders", unit: "count", quota: 2, matches: [{ event: "render" }] },
    { id: "launches", unit: "count", quota: 1, mode: "approval", owner: person, reviewEvery: "week", matches: [{ event: "campaign.launch" }] },
  ] };
  const stored = await qg.putPlan(owned);
  assert.deepEqual([stored.owner, stored.reviewEvery, stored.groups[1].owner, stored.groups[1].reviewEvery], [team, "month", person, "week"]);
  assert.equal(stored.groups[0].owner, undefined, "a group without its own owner is stored as written: the plan's applies");
  const free = await qg.putPlan({ id: `plan_free_${run}`, periodType: "month", groups: [{ id: "g", unit: "count", quota: 1, matches: [{ event: "*" }] }] });
  assert.equal(free.owner, undefined);

  const ids = async (owner) => (await qg.listPlans({ owner, timeoutMs: 5000 })).data.map((p) => p.id);
  assert.deepEqual(await ids(team), [owned.id], "the plan's owner");
  assert.deepEqual(await ids(person), [owned.id], "a group's owner");
  assert.deepEqual(await ids(`nobody ${run}`), []);
  assert.ok((await qg.listPlans()).data.some((p) => p.id === free.id), "without owner, every plan");
  await assert.rejects(qg.listPlans({ owner: "" }), (err) => err.code === "invalid_request" && err.status === 400 && err.field === "owner");
  await assert.rejects(qg.listPlans({ owner: "x".repeat(129) }), (err) => err.code === "invalid_request" && err.field === "owner");

  const bad = { ...owned, owner: "x".repeat(129), groups: [{ ...owned.groups[0], reviewEvery: "fortnight" }, owned.groups[1]] };
  // The detail names each field at fault.
  await assert.rejects(qg.putPlan(bad), (err) => err.code === "invalid_plan"
    && /[:;] owner: must be 1 to 128 bytes/.test(err.detail) && err.detail.includes('groups[0].reviewEvery: must be "day", "week" or "month"'));
  await qg.deletePlan(owned.id);
  await qg.deletePlan(free.id);
});

test("a rolling group admits its quota in any span of its window: the next is denied with a retryAfter, and the ledger says when", async () => {
  const qg = createClient({ apiKey: env.secret, baseUrl: env.baseUrl });
  const user = freshUser("roll");
  const id = `plan_${user}`;
  const groups = [
    { id: "burst", unit: "count", quota: 5, period: { type: "rolling", seconds: 2 }, matches: [{ event: "render" }] },
    { id: "monthly", unit: "count", quota: 1000, matches: [{ event: "render" }] },
  ];
  const stored = await qg.putPlan({ id, periodType: "month", groups });
  assert.deepEqual(stored.groups[0].period, { type: "rolling", seconds: 2 }, "stored as written");
  await qg.upsertSubscription({ userId: user, planId: id });

  // Back to back, well inside the window: nothing waits for it to roll.
  const decisions = [];
  for (let i = 0; i < 6; i++) decisions.push(await qg.reserve(user, "render"));
  assert.deepEqual(decisions.map((d) => d.allowed), [true, true, true, true, true, false]);
  const denied = decisions[5];
  assert.deepEqual([denied.reasons, denied.deniedBy], [["limit_reached"], ["burst"]]);
  // The window and at most one sub-window of it, in whole seconds rounded up.
  assert.ok(denied.retryAfter >= 1 && denied.retryAfter <= 3, `retryAfter ${denied.retryAfter}`);
  assert.match(denied.rateLimitPolicy, /"burst";q=5;w=2\b/, "the policy states the window's own length");
  const burst = denied.counters.find((c) => c.groupId === "burst");
  assert.deepEqual([burst.reserved, burst.remaining, burst.rollingSeconds], [5, 0, 2]);
  assert.ok(Date.parse(burst.resetsAt) > Date.now(), "resetsAt: when what it counts now has rolled out");
  assert.equal(denied.counters.find((c) => c.groupId === "monthly").reserved, 5, "the monthly group held the five, not the sixth");

  const entry = (await qg.listUsageEvents({ userId: user })).data.find((e) => e.kind === "denied");
  assert.deepEqual(entry?.deniedBy, ["burst"]);
  assert.ok(!Number.isNaN(Date.parse(entry.decidedAt)), `decidedAt ${entry.decidedAt}`);

  // A rolling period names its length; the refusal names the field.
  const bare = { id: `plan_bad_${user}`, periodType: "month", groups: [{ ...groups[0], period: { type: "rolling" } }] };
  await assert.rejects(qg.putPlan(bare), (err) => err.code === "invalid_plan" && err.status === 400
    && err.detail.includes("groups[0].period.seconds"));
  for (const d of decisions.slice(0, 5)) await qg.release(d.reservationId);
  await qg.deleteSubscription(user);
  await qg.deletePlan(id);
});
