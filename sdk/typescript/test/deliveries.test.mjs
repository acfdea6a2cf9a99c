// Webhooks end to end: an endpoint made with the client, a real delivery from the gateway to a
// receiver on loopback, verified with verifyWebhook; a threshold crossing arrives as an event;
// a balance's and an approval request's events arrive with the fields their types declare (a
// per-value group's request, so its value too); every event names its owner and its scope.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { createServer } from "node:http";
import { createClient, verifyWebhook } from "quota-gateway";
import { useGateway, putPlan, freshUser } from "./harness.mjs";

const env = useGateway();

/** A receiver on loopback that keeps every request. */
async function receiver() {
  const received = [];
  const server = createServer((req, res) => {
    let body = "";
    req.on("data", (chunk) => (body += chunk));
    req.on("end", () => {
      received.push({ headers: req.headers, body });
      res.writeHead(200).end();
    });
  });
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  const url = `http://127.0.0.1:${server.address().port}/hook`;
  const wait = async (n) => {
    for (let i = 0; i < 400 && received.length < n; i++) await new Promise((r) => setTimeout(r, 25));
    return received;
  };
  // Kept-alive connections closed too, so a failed test does not hold the run open.
  const close = () => {
    server.closeAllConnections();
    server.close();
  };
  return { url, received, wait, close };
}

test("a delivery verifies with verifyWebhook, and a crossing arrives as an event naming its owner and scope", async (t) => {
  const qg = createClient({ apiKey: env.secret, baseUrl: env.baseUrl });
  const hooks = await receiver();
  t.after(hooks.close);
  const hook = await qg.createWebhook({ url: hooks.url, description: "sdk test" });
  assert.match(hook.secret, /^whsec_/);
  assert.equal((await qg.listWebhooks()).data[0].secret, undefined, "shown only once");

  await qg.testWebhook(hook.id);
  const [first] = await hooks.wait(1);
  const event = await verifyWebhook(hook.secret, first.headers, first.body);
  assert.equal(event.type, "webhook.test");
  await assert.rejects(verifyWebhook(hook.secret, first.headers, first.body + " "), (e) => e.code === "webhook_invalid");

  await putPlan({ id: "plan_alerts", periodType: "month", alerts: [100], owner: "growth-team", reviewEvery: "month",
    groups: [{ id: "g", unit: "count", quota: 2, matches: [{ event: "*" }] }] });
  const user = freshUser();
  await qg.upsertSubscription({ userId: user, planId: "plan_alerts" });
  await new Promise((r) => setTimeout(r, 800)); // every node learns of the endpoint
  await qg.track(user, "e", 2);
  const [, second] = await hooks.wait(2);
  const crossed = await verifyWebhook(hook.secret, second.headers, second.body);
  assert.equal(crossed.type, "quota.threshold_crossed");
  assert.equal(crossed.data.userId, user);
  assert.equal(crossed.data.threshold, 100);
  // The plan's owner, as its group names none; the scope repeats the counter's period.
  assert.deepEqual([crossed.data.owner, crossed.data.reviewEvery], ["growth-team", "month"]);
  const { periodStart, resetsAt } = crossed.data;
  assert.deepEqual(crossed.data.scope, { subject: user, planId: "plan_alerts", groupId: "g", periodStart, resetsAt });
  assert.match(resetsAt, /^\d{4}-\d\d-01T00:00:00/);
  const quotaFields = Object.keys(crossed.data).sort();
  assert.deepEqual(quotaFields, declared("QuotaEventData").filter((f) => f !== "value"), "a group without per sends no value");
  const deliveries = await qg.listWebhookDeliveries(hook.id);
  assert.ok(deliveries.data.every((d) => d.state === "succeeded"));
  assert.equal((await qg.disableWebhook(hook.id)).enabled, false);
  await assert.rejects(qg.testWebhook(hook.id), (e) => e.code === "webhook_disabled" && e.status === 409);
  assert.equal((await qg.enableWebhook(hook.id)).enabled, true);
  await qg.deleteWebhook(hook.id);
});

/** The fields `interface name` of src/types.ts declares, sorted. */
function declared(name) {
  const source = readFileSync(new URL("../src/types.ts", import.meta.url), "utf8");
  const body = source.match(new RegExp(`export interface ${name} \\{([\\s\\S]*?)\\n\\}`))?.[1];
  assert.ok(body, `src/types.ts declares ${name}`);
  return [...body.matchAll(/^ {2}(\w+)\??:/gm)].map((m) => m[1]).sort();
}

test("balance and approval events arrive with the fields WebhookEvent declares for them", async (t) => {
  const qg = createClient({ apiKey: env.secret, baseUrl: env.baseUrl });
  const hooks = await receiver();
  t.after(hooks.close);
  const types = ["credits.low_balance", "credits.depleted", "quota.approval_requested", "quota.approval_decided"];
  const hook = await qg.createWebhook({ url: hooks.url, events: types });
  const user = freshUser("events");
  await putPlan({ id: `plan_${user}`, periodType: "month", owner: "billing", groups: [
    { id: "launches", unit: "count", quota: 1, mode: "approval", per: "model", owner: "Dana (marketing)", reviewEvery: "week",
      matches: [{ event: "launch" }] },
    { id: "credits", balance: "credits", lowBalance: [5], matches: [{ event: "spend" }] },
  ] });
  await qg.upsertSubscription({ userId: user, planId: `plan_${user}` });
  await new Promise((r) => setTimeout(r, 800)); // every node learns of the endpoint
  await qg.grant(user, { balance: "credits", amount: 10 });
  await qg.track(user, "spend", 6); // 4 left: at or under 5
  await qg.track(user, "spend", 4); // none left
  assert.equal((await qg.reserve(user, "launch", 1, { model: "flux" })).allowed, true);
  const { approvalId } = (await qg.reserve(user, "launch", 1, { model: "flux" })).denials[0];
  // The denial that opened the request answered once the project's list had it: decidable at once.
  assert.equal((await qg.approve(approvalId, { quota: 3 })).status, "approved");

  const byType = {};
  for (const { headers, body } of await hooks.wait(4)) {
    const event = await verifyWebhook(hook.secret, headers, body);
    byType[event.type] = event.data;
  }
  assert.deepEqual(Object.keys(byType).sort(), [...types].sort(), "one event of each type");
  for (const type of types) {
    const shape = type.startsWith("credits.") ? "CreditEventData" : "ApprovalEventData";
    assert.deepEqual(Object.keys(byType[type]).sort(), declared(shape), `${type} sends what ${shape} declares`);
  }
  const low = byType["credits.low_balance"];
  assert.deepEqual([low.userId, low.groupId, low.balance, low.threshold, low.available], [user, "credits", "credits", 5, 4]);
  assert.deepEqual([byType["credits.depleted"].threshold, byType["credits.depleted"].available], [0, 0]);
  // A balance has no period; its group names no owner of its own, so the plan's, reviewed when not said.
  const balanceScope = { subject: user, planId: `plan_${user}`, groupId: "credits", periodStart: null, resetsAt: null };
  for (const type of ["credits.low_balance", "credits.depleted"]) {
    assert.deepEqual([byType[type].owner, byType[type].reviewEvery, byType[type].scope], ["billing", null, balanceScope], type);
  }
  const requested = byType["quota.approval_requested"];
  // Its status is not asserted: a request decided before its event went out is sent as decided.
  assert.deepEqual([requested.approvalId, requested.groupId, requested.value, requested.event, requested.quota], [approvalId, "launches", "flux", "launch", 1]);
  const approved = byType["quota.approval_decided"];
  assert.deepEqual([approved.approvalId, approved.value, approved.status, approved.approvedQuota, approved.reason], [approvalId, "flux", "approved", 3, null]);
  // The group's own owner and review win over the plan's; a per-value group's scope names the value.
  for (const data of [requested, approved]) {
    assert.deepEqual([data.owner, data.reviewEvery], ["Dana (marketing)", "week"]);
    assert.deepEqual(data.scope, { subject: user, planId: `plan_${user}`, groupId: "launches", value: "flux", periodStart: data.periodStart, resetsAt: data.resetsAt });
    assert.deepEqual(Object.keys(data.scope).sort(), declared("Scope"), "the scope sends what Scope declares");
  }
  const request = await qg.getApproval(approvalId);
  assert.deepEqual([request.planId, request.owner, request.reviewEvery], [`plan_${user}`, "Dana (marketing)", "week"], "the queue names whom to ask");
  await qg.deleteWebhook(hook.id);
});
