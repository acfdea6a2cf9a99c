// Runs through the client against a real gateway: a run holds a budget from the user's quota,
// its steps draw on it (denied, not thrown, when the run is out of budget, steps, attempts or
// fallbacks), and its close counts what the steps committed and gives the rest back; withRun
// closes the run whatever fn does; a denied start holds nothing; a start is sent with one
// Idempotency-Key across its retries, one whose answer was lost is closed in the background,
// and a gateway that gives no answer is met by the fail mode.
import assert from "node:assert/strict";
import { test } from "node:test";
import { createClient, QuotaGatewayError } from "quota-gateway";
import { countPlan, freshUser, putPlan, useGateway } from "./harness.mjs";
import { standIn } from "./proxy.mjs";

const env = useGateway();
const client = (extra = {}) => createClient({ apiKey: env.secret, baseUrl: env.baseUrl, ...extra });

/** A user of its own on a plan of one count group `g` of `quota` that every event matches. */
async function subscribed(quota = 100) {
  const user = freshUser("run");
  await putPlan(countPlan(`plan_${user}`, quota));
  await client().upsertSubscription({ userId: user, planId: `plan_${user}` });
  return user;
}

/** Starts a run that must be admitted. */
async function started(qg, user, quantity, opts) {
  const run = await qg.startRun(user, "agent.task", quantity, undefined, opts);
  assert.equal(run.allowed, true, `the start was denied: ${JSON.stringify(run.reasons)}`);
  return run;
}

const counter = async (qg, user) => {
  const [g] = (await qg.usage(user)).counters;
  return { used: g.used, reserved: g.reserved };
};

test("a run holds its budget; two steps draw on it; close counts what they committed and gives the rest back", async () => {
  const qg = client();
  const user = await subscribed();
  const run = await started(qg, user, 10, { limits: { steps: 5 }, ttlSeconds: 120 });
  assert.match(run.id, /\S/);
  assert.deepEqual([run.userId, run.unchecked, run.decision.runId, run.decision.reasons], [user, false, run.id, []]);
  assert.ok(Date.parse(run.decision.expiresAt) > Date.now());
  assert.deepEqual(await counter(qg, user), { used: 0, reserved: 10 }, "held as a reserve of the run's event");

  const plan = await run.reserve("llm.tokens", 3, { model: "a" }, { actionId: "plan" });
  assert.equal(plan.allowed, true);
  assert.deepEqual(plan.run, { runId: run.id, remaining: { g: 7 }, steps: 1, fallbacks: 0 });
  const act = await run.reserve("llm.tokens", 4, undefined, { actionId: "act", ttlSeconds: 30 });
  assert.deepEqual([act.allowed, act.run.remaining, act.run.steps], [true, { g: 3 }, 2]);
  assert.deepEqual(await counter(qg, user), { used: 0, reserved: 10 }, "steps draw on the run, not on the user");

  await qg.commit(plan.reservationId, { quantity: 2 });
  await qg.release(act.reservationId);
  const open = await run.get();
  assert.equal(open.state, "open");
  assert.deepEqual([open.runId, open.userId, open.event, open.parentRunId, open.endedAt], [run.id, user, "agent.task", null, null]);
  assert.deepEqual(open.limits, { steps: 5, attemptsPerAction: null, fallbacks: null, fallbackShare: null, maxFallbackSpend: null });
  assert.deepEqual([open.steps, open.fallbacks, open.attempts, open.children], [2, 0, { plan: 1, act: 1 }, []]);
  assert.deepEqual(open.groups.map((g) => [g.groupId, g.budget, g.used, g.open, g.remaining, g.fallbackSpent]), [["g", 10, 2, 0, 8, 0]]);
  const extended = await run.extend(300);
  assert.equal(extended.runId, run.id);
  assert.ok(Date.parse(extended.expiresAt) > Date.parse(run.decision.expiresAt));

  const closed = await run.close();
  assert.equal(closed.state, "closed");
  assert.ok(closed.endedAt);
  assert.deepEqual(closed.groups.map((g) => [g.budget, g.used, g.open, g.remaining]), [[10, 2, 0, 8]]);
  assert.deepEqual(await counter(qg, user), { used: 2, reserved: 0 }, "the committed 2 count; the other 8 went back");
  const again = await qg.closeRun(run.id);
  assert.deepEqual([again.state, again.endedAt], ["closed", closed.endedAt], "a repeat answers the closed run");
  assert.deepEqual(await counter(qg, user), { used: 2, reserved: 0 }, "and counts nothing twice");

  const listed = await qg.listRuns(user);
  assert.deepEqual([listed.data.map((r) => [r.runId, r.state]), listed.nextCursor], [[[run.id, "closed"]], null]);
  assert.equal((await qg.getRun(run.id)).state, "closed");
  await assert.rejects(run.extend(60), (err) => err instanceof QuotaGatewayError && err.code === "run_ended" && err.status === 410);
  await assert.rejects(qg.getRun("run_nope"), (err) => err.code === "run_not_found" && err.status === 404);
  await assert.rejects(qg.closeRun("run_nope"), (err) => err.code === "run_not_found" && err.status === 404);

  const after = await run.reserve("llm.tokens", 1);
  assert.deepEqual([after.allowed, after.reasons, after.reservationId], [false, ["run_ended"], null]);
});

test("a step's ledger entries name its run, action and kind; the close writes a run_close entry", async () => {
  const qg = client();
  const user = await subscribed();
  const run = await started(qg, user, 10);
  const step = await run.reserve("llm.tokens", 3, undefined, { actionId: "plan" });
  await qg.commit(step.reservationId, { quantity: 2 });
  await run.track("tool.call", 1, undefined, { actionId: "search", kind: "retry" });
  await qg.track(user, "other", 1);
  await run.close();
  const { data } = await qg.listUsageEvents({ userId: user });
  assert.deepEqual(data.filter((e) => e.kind !== "run_close").map((e) => [e.kind, e.event, e.runId ?? null, e.actionId ?? null, e.stepKind ?? null]), [
    ["commit", "llm.tokens", run.id, "plan", "primary"],
    ["track", "tool.call", run.id, "search", "retry"],
    ["track", "other", null, null, null],
  ]);
  // A close is no step: its entry names no run (a child's names its parent) and has no usage of its own.
  const closes = data.filter((e) => e.kind === "run_close");
  assert.deepEqual(closes.map((e) => [e.event, e.groups, e.runId, e.stepKind]), [["agent.task", [], null, null]]);
});

test("a step is denied with run_budget_exhausted when the run is out, though the user is not; a track step counts regardless", async () => {
  const qg = client();
  const user = await subscribed(100);
  const run = await started(qg, user, 5);
  const first = await run.reserve("llm.tokens", 3);
  assert.equal(first.allowed, true);
  const denied = await run.reserve("llm.tokens", 3);
  assert.deepEqual([denied.allowed, denied.reasons, denied.deniedBy, denied.reservationId], [false, ["run_budget_exhausted"], ["g"], null]);
  assert.equal(denied.denials[0].reason, "run_budget_exhausted");
  assert.equal((await qg.reserve(user, "llm.tokens", 3)).allowed, true, "the user's own quota has room");

  const tracked = await run.track("llm.tokens", 4, { model: "a" }, { actionId: "late" });
  assert.equal(tracked.run.runId, run.id);
  assert.equal(tracked.run.remaining.g, 0, "a track is never denied: the usage happened");
  await qg.commit(first.reservationId);
  const closed = await run.close();
  assert.equal(closed.groups[0].used, 7, "3 committed and 4 tracked");
});

test("limits.attemptsPerAction bounds one action's steps; another action has its own", async () => {
  const qg = client();
  const user = await subscribed();
  const run = await started(qg, user, 10, { limits: { attemptsPerAction: 2 } });
  const tries = [];
  for (const kind of ["primary", "retry", "retry"]) {
    const step = await run.reserve("llm.tokens", 1, undefined, { actionId: "summarize", kind });
    if (step.allowed) await qg.release(step.reservationId);
    tries.push(step);
  }
  assert.deepEqual(tries.map((s) => s.allowed), [true, true, false]);
  assert.deepEqual(tries[2].reasons, ["action_attempts_exhausted"]);
  assert.equal((await run.reserve("llm.tokens", 1, undefined, { actionId: "answer" })).allowed, true);
  const view = await run.get();
  assert.deepEqual([view.limits.attemptsPerAction, view.attempts.summarize, view.attempts.answer], [2, 2, 1]);
  await run.close();
});

test("limits.fallbacks bounds the fallback steps", async () => {
  const qg = client();
  const user = await subscribed();
  const run = await started(qg, user, 10, { limits: { fallbacks: 1 } });
  const fallback = await run.reserve("llm.tokens", 1, { model: "small" }, { actionId: "a", kind: "fallback" });
  assert.deepEqual([fallback.allowed, fallback.run.fallbacks], [true, 1]);
  const more = await run.reserve("llm.tokens", 1, { model: "small" }, { actionId: "b", kind: "fallback" });
  assert.deepEqual([more.allowed, more.reasons], [false, ["fallback_budget_exhausted"]]);
  assert.equal((await run.reserve("llm.tokens", 1, undefined, { actionId: "b" })).allowed, true, "a primary step still goes");
  await run.close();
});

test("a child run is carved from its parent's remaining budget", async () => {
  const qg = client();
  const user = await subscribed();
  const parent = await started(qg, user, 10);
  const child = await parent.startChild("agent.subtask", 4);
  assert.equal(child.allowed, true);
  const view = await child.get();
  assert.deepEqual([view.parentRunId, view.groups[0].budget], [parent.id, 4]);
  assert.deepEqual((await parent.get()).children, [child.id]);
  const tooBig = await parent.startChild("agent.subtask", 7);
  assert.deepEqual([tooBig.allowed, tooBig.runId, tooBig.reasons], [false, null, ["run_budget_exhausted"]]);
  await child.close();
  await parent.close();
  assert.deepEqual(await counter(qg, user), { used: 0, reserved: 0 });
});

test("withRun closes the run when fn returns, throws, or is aborted", async () => {
  const qg = client();
  const user = await subscribed();
  const done = await qg.withRun(user, "agent.task", 10, { task: "t1" }, async (run) => {
    const step = await run.reserve("llm.tokens", 4);
    await qg.commit(step.reservationId, { quantity: 3 });
    return "answer";
  }, { limits: { steps: 3 } });
  assert.equal(done.allowed, true);
  assert.deepEqual([done.value, done.run.state, done.run.groups[0].used, done.decision.runId], ["answer", "closed", 3, done.run.runId]);

  let id;
  await assert.rejects(qg.withRun(user, "agent.task", 10, undefined, async (run) => {
    id = run.id;
    await run.reserve("llm.tokens", 4); // left open: the close releases it
    throw new Error("agent crashed");
  }), /agent crashed/);
  assert.equal((await qg.getRun(id)).state, "closed");

  const stop = new AbortController();
  await assert.rejects(qg.withRun(user, "agent.task", 10, undefined, async (run) => {
    id = run.id;
    stop.abort();
    await run.reserve("llm.tokens", 1, undefined, { signal: stop.signal });
  }, { signal: stop.signal }), (err) => err instanceof QuotaGatewayError && err.code === "aborted");
  assert.equal((await qg.getRun(id)).state, "closed", "closed though the caller's signal aborted");
  assert.deepEqual(await counter(qg, user), { used: 3, reserved: 0 });
});

test("a denied start holds nothing, is answered rather than thrown, and withRun does not call fn", async () => {
  const qg = client();
  const user = await subscribed(5);
  const denied = await qg.startRun(user, "agent.task", 10);
  assert.deepEqual([denied.allowed, denied.runId, denied.expiresAt, denied.reasons, denied.deniedBy, denied.unchecked], [false, null, null, ["limit_reached"], ["g"], false]);
  assert.deepEqual(denied.denials, [{ subjectId: user, groupId: "g", reason: "limit_reached" }]);
  const viaWith = await qg.withRun(user, "agent.task", 10, undefined, () => assert.fail("not called"));
  assert.deepEqual([viaWith.allowed, viaWith.decision.reasons], [false, ["limit_reached"]]);
  assert.deepEqual((await qg.listRuns(user)).data, []);
  assert.deepEqual(await counter(qg, user), { used: 0, reserved: 0 });
  await assert.rejects(qg.startRun(user, "agent.task", 1, undefined, { limits: { fallbackShare: 2 } }),
    (err) => err instanceof QuotaGatewayError && err.code === "invalid_request" && err.field === "limits.fallbackShare");
});

test("a start whose answer was lost is retried with one Idempotency-Key and makes one run; a close is retried", async () => {
  const user = await subscribed();
  // The first request runs at the gateway, but its answer is lost; so is the close's (the third).
  const proxy = await standIn(env.baseUrl, (n) => (n === 0 || n === 2 ? { dropAfter: true } : {}));
  try {
    const qg = client({ baseUrl: proxy.url });
    const run = await started(qg, user, 2);
    assert.equal(proxy.seen.length, 2, "the lost answer was retried");
    assert.ok(proxy.seen[0].key && proxy.seen[0].key === proxy.seen[1].key, "with one Idempotency-Key");
    const closed = await run.close();
    assert.equal(closed.state, "closed");
    const close = `/v1/runs/${encodeURIComponent(run.id)}/close`;
    assert.deepEqual(proxy.seen.slice(2).map((s) => [s.path, s.key]), [[close, null], [close, null]], "repeat-safe: retried, with no key");
    assert.deepEqual((await client().listRuns(user)).data.map((r) => r.runId), [run.id], "one run");
  } finally {
    await proxy.close();
  }
});

test("a start that may have run unanswered is closed in the background", async () => {
  const user = await subscribed();
  const proxy = await standIn(env.baseUrl, (n) => (n === 0 ? { dropAfter: true } : {}));
  try {
    const qg = client({ baseUrl: proxy.url, maxRetries: 0 });
    const lost = await qg.startRun(user, "agent.task", 6);
    assert.deepEqual([lost.allowed, lost.unchecked, lost.reasons], [false, true, ["backend_unavailable"]]);
    assert.equal(qg.pendingReleases, 1);
    await qg.releasePending();
    assert.equal(qg.pendingReleases, 0);
    assert.deepEqual((await client().listRuns(user)).data.map((r) => r.state), ["closed"]);
    assert.deepEqual(await counter(client(), user), { used: 0, reserved: 0 });
  } finally {
    await proxy.close();
  }
});

test("with no answer, failMode closed denies a start; open runs it unchecked, its steps plain calls", async () => {
  const gone = { baseUrl: "http://127.0.0.1:9", maxRetries: 0, timeoutMs: 500 };
  const closed = await client({ ...gone }).startRun("u", "agent.task");
  assert.deepEqual([closed.allowed, closed.runId, closed.unchecked, closed.reasons], [false, null, true, ["backend_unavailable"]]);

  const qg = client({ ...gone, failMode: "open" });
  const done = await qg.withRun("u", "agent.task", 1, undefined, async (run) => {
    assert.deepEqual([run.id, run.unchecked, run.decision.reasons], ["", true, ["backend_unavailable"]]);
    const step = await run.reserve("llm.tokens", 1, undefined, { actionId: "a" });
    assert.deepEqual([step.allowed, step.reservationId, step.unchecked, step.run], [true, "", true, null]);
    assert.deepEqual(await run.extend(60), { runId: "", expiresAt: "" });
    return "ran";
  });
  assert.deepEqual([done.allowed, done.value, done.run.state, done.run.groups], [true, "ran", "unchecked", []]);
});
