// Writes retried only where a repeat does no harm: adjustments, grants and webhook creation
// carry an Idempotency-Key (the same on each retry), so an attempt that ran but whose answer
// was lost acts once; rotating a secret and sending a test take none and are not retried once
// they may have arrived.
import assert from "node:assert/strict";
import { test } from "node:test";
import { createClient } from "quota-gateway";
import { call, countPlan, freshUser, putPlan, useGateway } from "./harness.mjs";
import { html, standIn } from "./proxy.mjs";

const env = useGateway();

/** The first request runs at the gateway, but its answer is lost (the connection drops). */
const loseFirstAnswer = (n) => (n === 0 ? { dropAfter: true } : {});

test("an adjustment whose answer was lost is retried with the same key and applied once", async () => {
  const user = freshUser();
  await putPlan(countPlan(`plan_${user}`, 10));
  await call("PUT", `/v1/users/${user}/subscription`, { planId: `plan_${user}` });
  await call("POST", "/v1/track", { userId: user, event: "e", quantity: 5 });
  const proxy = await standIn(env.baseUrl, loseFirstAnswer);
  try {
    const qg = createClient({ apiKey: env.secret, baseUrl: proxy.url });
    const adjusted = await qg.adjust(user, { groupId: "g", amount: -2, reason: "refund two renders" });
    assert.equal(proxy.seen.length, 2, "the lost answer was retried");
    assert.ok(proxy.seen[0].key && proxy.seen[0].key === proxy.seen[1].key, "with one Idempotency-Key");
    assert.equal(adjusted.counter.used, 3);
    assert.equal((await call("GET", `/v1/users/${user}/adjustments`)).data.length, 1, "applied once");
    assert.equal((await call("GET", `/v1/users/${user}/usage`)).counters[0].used, 3);
  } finally {
    await proxy.close();
  }
});

test("a webhook endpoint whose creation answer was lost is retried with the same key and made once", async () => {
  const proxy = await standIn(env.baseUrl, loseFirstAnswer);
  const url = `http://127.0.0.1:9/hooks/${freshUser()}`;
  try {
    const qg = createClient({ apiKey: env.secret, baseUrl: proxy.url });
    const made = await qg.createWebhook({ url, description: "made once" });
    assert.equal(proxy.seen.length, 2);
    assert.ok(proxy.seen[0].key && proxy.seen[0].key === proxy.seen[1].key);
    const endpoints = (await call("GET", "/v1/webhooks")).data.filter((w) => w.url === url);
    assert.deepEqual(endpoints.map((w) => w.id), [made.id], "one endpoint, the one answered");
  } finally {
    await proxy.close();
  }
});

test("rotating a secret and sending a test are not retried once they may have arrived", async () => {
  for (const behave of [() => ({ dropAfter: true }), () => html(502), () => ({ delayMs: 3_000 })]) {
    // An endpoint of its own each time: the gateway limits rotations per endpoint.
    const hook = await call("POST", "/v1/webhooks", { url: `http://127.0.0.1:9/hooks/${freshUser()}` });
    const proxy = await standIn(env.baseUrl, behave);
    try {
      const qg = createClient({ apiKey: env.secret, baseUrl: proxy.url, timeoutMs: 2_000, maxRetries: 3 });
      await assert.rejects(qg.rotateWebhookSecret(hook.id), (err) => err.code === "backend_unavailable");
      await assert.rejects(qg.testWebhook(hook.id), (err) => err.code === "backend_unavailable");
      assert.deepEqual(proxy.seen.map((s) => s.path.split("/").pop()), ["rotate-secret", "test"], "one attempt each");
    } finally {
      await proxy.close();
    }
  }
});

test("a write that cannot be deduplicated is still retried when its connection was refused", async () => {
  const hook = await call("POST", "/v1/webhooks", { url: `http://127.0.0.1:9/hooks/${freshUser()}` });
  let calls = 0;
  const refusedOnce = (url, init) => {
    if (calls++ === 0) return Promise.reject(Object.assign(new TypeError("fetch failed"), { cause: { code: "ECONNREFUSED" } }));
    return fetch(url, init);
  };
  const qg = createClient({ apiKey: env.secret, baseUrl: env.baseUrl, fetch: refusedOnce });
  assert.match((await qg.rotateWebhookSecret(hook.id)).secret, /^whsec_/);
  assert.equal(calls, 2, "a refused connection cannot have run it");
});

test("every counting write carries an Idempotency-Key; each logical call its own", async () => {
  const user = freshUser();
  await putPlan(countPlan(`plan_${user}`, 10));
  const proxy = await standIn(env.baseUrl);
  try {
    const qg = createClient({ apiKey: env.secret, baseUrl: proxy.url });
    await qg.upsertSubscription({ userId: user, planId: `plan_${user}` });
    const held = await qg.reserve(user, "e");
    await qg.commit(held.reservationId);
    await qg.track(user, "e");
    await qg.adjust(user, { groupId: "g", amount: 1, reason: "goodwill" });
    const granted = await qg.grant(user, { balance: "credits", amount: 1 });
    await qg.voidGrant(user, granted.grantId);
    const hook = await qg.createWebhook({ url: `http://127.0.0.1:9/hooks/${user}` });
    await qg.deleteWebhook(hook.id);
    const keyed = proxy.seen.filter((s) => s.key).map((s) => s.path.replace(/\/v1\/(users|reservations)\/[^/]+/, "/v1/$1/:id"));
    assert.deepEqual(keyed, ["/v1/reserve", "/v1/reservations/:id/commit", "/v1/track", "/v1/users/:id/adjustments", "/v1/users/:id/grants", "/v1/webhooks"]);
    assert.equal(new Set(proxy.keys().filter(Boolean)).size, 6);
  } finally {
    await proxy.close();
  }
});
