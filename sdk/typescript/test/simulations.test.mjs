// The pricing lab through the client against a real gateway: a user's recorded demand, its
// denial included, replayed against a candidate quota; the report, its CSV, a bound refused by
// name; and how simulate ends a simulation that failed or outlives its deadline (the gateway's
// answers to the reads stood in for by a loopback stand-in, as a 10-minute run cannot be waited
// for) and outlasts a read the gateway did not answer.
import assert from "node:assert/strict";
import { test } from "node:test";
import { createClient, QuotaGatewayError } from "quota-gateway";
import { freshUser, putPlan, useGateway } from "./harness.mjs";
import { html, standIn } from "./proxy.mjs";

const env = useGateway();
const client = (extra = {}) => createClient({ apiKey: env.secret, baseUrl: env.baseUrl, ...extra });

/** The freemium plan: 2 images (`quota`), counted by the group `images`. */
const imagesPlan = (id, quota) => ({
  id, periodType: "lifetime",
  groups: [{ id: "images", unit: "count", quota, matches: [{ event: "image.render" }] }],
});

/** A plan of 2 images with two users on it, one of whom asked for 3 (the third denied). */
async function recorded() {
  const qg = client();
  const planId = `plan_${freshUser("lab")}`;
  await putPlan(imagesPlan(planId, 2));
  const [heavy, light] = [freshUser("heavy"), freshUser("light")];
  for (const userId of [heavy, light]) await qg.upsertSubscription({ userId, planId });
  const allowed = [];
  for (let i = 0; i < 3; i++) {
    const hold = await qg.reserve(heavy, "image.render");
    allowed.push(hold.allowed);
    if (hold.allowed) await qg.commit(hold.reservationId);
  }
  assert.deepEqual(allowed, [true, true, false]);
  return { qg, planId, heavy, light };
}

test("simulate replays recorded demand against a candidate: a third image admits the denied one", async () => {
  const { qg, planId, heavy } = await recorded();
  const seen = [];
  // `to` past now: the gateway's own now is its estimate of Redis time, which may be a few
  // milliseconds behind the time of the denial just written, and would leave it out.
  const done = await qg.simulate(
    { candidate: imagesPlan(`${planId}_3`, 3), cohort: { planId }, to: new Date(Date.now() + 60_000) },
    { pollMs: 50, onProgress: (progress) => seen.push(progress) },
  );
  assert.equal(done.status, "done");
  assert.equal(done.candidatePlanId, `${planId}_3`);
  assert.deepEqual(done.cohort, { planId });
  assert.ok(done.finishedAt, "a done simulation says when it finished");
  const report = done.report;
  assert.equal(report.fidelity, 1, "the baseline reproduces every recorded decision");
  assert.equal(report.users, 2);
  assert.deepEqual(report.newlyAdmitted, { decisions: 1, users: 1 });
  assert.deepEqual(report.newlyDenied, { decisions: 0, users: 0 });
  assert.equal(report.rows[0].userId, heavy, "the most affected user comes first");
  assert.ok(seen.length >= 1, "onProgress was called");
  assert.deepEqual(seen.at(-1), { users: 2, usersDone: 2, entries: done.progress.entries }, "its last call saw the end");

  const again = await qg.simulation(done.id);
  assert.deepEqual(again.report, report, "the result is kept");
  const csv = await qg.simulationCsv(done.id);
  const lines = csv.trim().split("\n");
  assert.ok(lines[0].startsWith("userId,recorded,"), csv);
  assert.equal(lines.length, 3, "a header and a row per user");
  assert.ok(lines[1].startsWith(`${heavy},3,3,0,1,`), csv);
});

test("the ledger records the denial and the holds' ends that a simulation replays", async () => {
  const { qg, heavy } = await recorded();
  const { data } = await qg.listUsageEvents({ userId: heavy });
  const denied = data.find((e) => e.kind === "denied");
  assert.deepEqual(denied?.deniedBy, ["images"]);
  const commit = data.find((e) => e.kind === "commit");
  assert.ok(commit?.heldSince, "a commit says when its hold was made");
  assert.equal(commit?.reserved, 1);
});

test("a range over 92 days is refused with simulation_bound naming the range; an unknown id is not found", async () => {
  const { qg, planId } = await recorded();
  const err = await qg.startSimulation({
    candidate: { planId }, cohort: { planId }, from: new Date("2026-01-01T00:00:00Z"), to: "2026-05-01T00:00:00Z",
  }).catch((e) => e);
  assert.ok(err instanceof QuotaGatewayError, String(err));
  assert.deepEqual([err.status, err.code, err.field, err.unavailable], [422, "simulation_bound", "range", false]);

  const missing = await qg.simulation(`sim_${"0".repeat(32)}`).catch((e) => e);
  assert.deepEqual([missing.status, missing.code], [404, "simulation_not_found"]);
});

/** A stand-in that lets the start through to the gateway and answers every read with `answer(simulation)`. */
async function readsAnswered(answer) {
  let started;
  const proxy = await standIn(env.baseUrl, (_n, seen) => {
    if (seen.method === "POST") return {};
    return { status: 200, headers: { "content-type": "application/json" }, body: JSON.stringify(answer(started)) };
  });
  return {
    proxy,
    onProgress: (_progress, simulation) => { started ??= simulation; },
  };
}

test("simulate throws simulation_failed naming the bound when the simulation failed", async () => {
  const { planId } = await recorded();
  const { proxy, onProgress } = await readsAnswered((s) => ({
    ...s, status: "failed", finishedAt: s.createdAt, report: null, error: { bound: "wallTime", detail: "ran past 10 minutes" },
  }));
  try {
    const qg = client({ baseUrl: proxy.url });
    const err = await qg.simulate({ candidate: { planId }, cohort: { planId } }, { pollMs: 10, onProgress }).catch((e) => e);
    assert.ok(err instanceof QuotaGatewayError, String(err));
    assert.deepEqual([err.code, err.field, err.unavailable], ["simulation_failed", "wallTime", false]);
    assert.match(err.detail, /ran past 10 minutes/);
  } finally {
    await proxy.close();
  }
});

test("simulate throws simulation_timeout, naming the simulation, when it still runs at timeoutMs", async () => {
  const { planId } = await recorded();
  const { proxy, onProgress } = await readsAnswered((s) => ({ ...s, status: "running", report: null }));
  try {
    const qg = client({ baseUrl: proxy.url });
    const err = await qg.simulate({ candidate: { planId }, cohort: { planId } }, { pollMs: 20, timeoutMs: 300, onProgress }).catch((e) => e);
    assert.ok(err instanceof QuotaGatewayError, String(err));
    assert.equal(err.code, "simulation_timeout");
    assert.match(err.detail, /sim_[0-9a-f]{32}/);
    assert.ok(proxy.seen.filter((s) => s.method === "GET").length >= 2, "it polled until the deadline");
  } finally {
    await proxy.close();
  }
});

test("simulate reads again at the next poll after a read the gateway did not answer", async () => {
  const { planId } = await recorded();
  let reads = 0;
  const proxy = await standIn(env.baseUrl, (_n, seen) => (seen.method === "GET" && reads++ === 0 ? html(503) : {}));
  try {
    const qg = client({ baseUrl: proxy.url, maxRetries: 0 });
    const done = await qg.simulate({ candidate: { planId }, cohort: { planId } }, { pollMs: 20 });
    assert.equal(done.status, "done");
    assert.ok(reads >= 2, "the read after the proxy's 503 found it");
  } finally {
    await proxy.close();
  }
});
