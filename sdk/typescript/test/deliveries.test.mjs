// Webhooks end to end: an endpoint made with the client, a real delivery from the gateway to a
// receiver on loopback, verified with verifyWebhook; a threshold crossing arrives as an event.
import { test } from "node:test";
import assert from "node:assert/strict";
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
  return { url, received, wait, close: () => server.close() };
}

test("a delivery verifies with verifyWebhook, and a crossing arrives as an event", async () => {
  const qg = createClient({ apiKey: env.secret, baseUrl: env.baseUrl });
  const hooks = await receiver();
  const hook = await qg.createWebhook({ url: hooks.url, description: "sdk test" });
  assert.match(hook.secret, /^whsec_/);
  assert.equal((await qg.listWebhooks()).data[0].secret, undefined, "shown only once");

  await qg.testWebhook(hook.id);
  const [first] = await hooks.wait(1);
  const event = await verifyWebhook(hook.secret, first.headers, first.body);
  assert.equal(event.type, "webhook.test");
  await assert.rejects(verifyWebhook(hook.secret, first.headers, first.body + " "), (e) => e.code === "webhook_invalid");

  await putPlan({ id: "plan_alerts", periodType: "month", alerts: [100],
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
  const deliveries = await qg.listWebhookDeliveries(hook.id);
  assert.ok(deliveries.data.every((d) => d.state === "succeeded"));
  assert.equal((await qg.disableWebhook(hook.id)).enabled, false);
  await assert.rejects(qg.testWebhook(hook.id), (e) => e.code === "webhook_disabled" && e.status === 409);
  assert.equal((await qg.enableWebhook(hook.id)).enabled, true);
  await qg.deleteWebhook(hook.id);
  hooks.close();
});
