// The README's invoicing recipe, run as written against a ledger that holds an entry of every
// kind: it reports exactly what the counters counted, because it sums only the entries whose
// `changesUsage` is true.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";
import { createClient } from "quota-gateway";
import ts from "typescript";
import { call, freshUser, putPlan, useGateway } from "./harness.mjs";

const env = useGateway();
const KINDS = ["adjustment", "commit", "debt_settled", "denied", "expiry", "grant", "grant_expired", "grant_void", "late_commit", "release", "run_close", "track"];
const USAGE = ["commit", "late_commit", "track", "adjustment"];
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** The ```ts block of the README's ledger section that defines `usageByModel`, as a function of `qg` answering it. */
function recipe() {
  const readme = readFileSync(new URL("../README.md", import.meta.url), "utf8");
  const section = readme.split("\n## The usage ledger\n")[1].split("\n## ")[0];
  const [code] = [...section.matchAll(/```ts\n([\s\S]*?)```/g)].map((m) => m[1]).filter((c) => c.includes("async function usageByModel"));
  assert.ok(code, "the README's ledger section defines usageByModel");
  const { outputText } = ts.transpileModule(code, { compilerOptions: { target: ts.ScriptTarget.ES2022, module: ts.ModuleKind.ESNext } });
  const AsyncFunction = (async () => {}).constructor;
  return new AsyncFunction("qg", `${outputText.replace(/^export \{\};$/m, "")}\nreturn usageByModel;`);
}

/** Writes an entry of every kind into the user's ledger, and answers the ledger. */
async function everyKind(qg, user) {
  await putPlan({ id: `plan_${user}`, periodType: "month", groups: [
    { id: "renders", unit: "count", quota: 100, matches: [{ event: "image.render" }] },
    { id: "credits", balance: "credits", matches: [
      { event: "image.render", metadata: { model: "flux-pro" }, measure: { rate: 10 } }, { event: "image.render" }] },
    { id: "tokens", unit: "tokens", quota: 100_000, matches: [{ event: "llm.*" }] },
  ] });
  await call("PUT", `/v1/users/${user}/subscription`, { planId: `plan_${user}` });
  await qg.grant(user, { balance: "credits", amount: 10 }); // grant
  const render = await qg.reserve(user, "image.render", 1, { model: "flux-pro" });
  await qg.commit(render.reservationId, { quantity: 3 }); // commit: 30 credits, 20 of them debt
  assert.equal((await qg.grant(user, { balance: "credits", amount: 50 })).debtPaid, 20); // debt_settled
  await qg.voidGrant(user, (await qg.grant(user, { balance: "credits", amount: 20 })).grantId); // grant_void
  const soon = Date.now() + 1600;
  await qg.grant(user, { balance: "credits", amount: 5, expiresAt: new Date(Date.now() + 1500) }); // grant_expired
  const late = await qg.reserve(user, "llm.tokens", 500, { model: "large" }, { ttlSeconds: 1 });
  const lapsed = await qg.reserve(user, "llm.tokens", 200, { model: "small" }, { ttlSeconds: 1 }); // expiry
  assert.deepEqual([late.allowed, lapsed.allowed], [true, true]);
  const released = await qg.reserve(user, "image.render", 1, { model: "schnell" });
  await qg.release(released.reservationId); // release
  assert.equal((await qg.reserve(user, "image.render", 1000, { model: "flux-pro" })).allowed, false); // denied
  await qg.track(user, "llm.tokens", 300, { model: "small" }); // track
  await qg.adjust(user, { groupId: "tokens", amount: -50, reason: "refund" }); // adjustment
  const ran = await qg.withRun(user, "llm.agent", 1000, { model: "large" }, async (run) => { // run_close
    const step = await run.reserve("llm.tokens", 400, { model: "large" }, { actionId: "think" });
    assert.equal(step.allowed, true);
    await qg.commit(step.reservationId, { quantity: 250 });
  });
  assert.equal(ran.allowed, true);
  await sleep(Math.max(0, soon - Date.now()));
  assert.equal((await qg.commit(late.reservationId)).late, true); // late_commit
  await qg.track(user, "llm.tokens", 1, { model: "small" });
  let entries = [];
  for (let i = 0; i < 50; i++) { // breakage and a hold's expiry are written by the user's next calls
    await qg.balances(user);
    entries = (await qg.listUsageEvents({ userId: user, limit: 500 })).data;
    if (KINDS.every((k) => entries.some((e) => e.kind === k))) return entries;
    await sleep(100);
  }
  assert.fail(`kinds missing from the ledger: ${KINDS.filter((k) => !entries.some((e) => e.kind === k))}`);
}

test("the README's invoicing recipe reports what the counters counted", async () => {
  const qg = createClient({ apiKey: env.secret, baseUrl: env.baseUrl });
  const user = freshUser("ledger");
  const since = new Date(Date.now() - 60_000).toISOString();
  const entries = await everyKind(qg, user);
  assert.deepEqual([...new Set(entries.map((e) => e.kind))].sort(), KINDS);
  assert.deepEqual(entries.filter((e) => e.changesUsage !== USAGE.includes(e.kind)), [], "changesUsage is the kind's");
  const asked = new Set(entries.filter((e) => !e.changesUsage && e.quantity).map((e) => e.kind));
  assert.ok(["denied", "release", "expiry"].every((k) => asked.has(k)), "what a sum of every quantity would count");

  const usageByModel = await recipe()(qg); // as written, its example call included
  const used = await usageByModel(qg, user, since);
  assert.deepEqual(used, { renders: { "flux-pro": 3 }, credits: { "flux-pro": 30 }, tokens: { large: 750, small: 301, other: -50 } });
  const { counters } = await qg.usage(user);
  const summed = Object.fromEntries(Object.entries(used).map(([group, byModel]) => [group, Object.values(byModel).reduce((a, b) => a + b, 0)]));
  assert.deepEqual(Object.fromEntries(counters.map((c) => [c.groupId, c.used])), summed);
});
