// Plans stored, read, listed and deleted through the client, as the README's blocks store theirs.
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
