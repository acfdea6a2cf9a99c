// A caller's AbortSignal ends a call as an abort (never retried, never an outage); the open
// fail mode runs the work of withReservation; rateLimitHeaders answers any decision, the fail
// mode's included.
import assert from "node:assert/strict";
import { test } from "node:test";
import { createClient, rateLimitHeaders } from "quota-gateway";
import { freePort } from "../scripts/gateway.mjs";
import { call, countPlan, freshUser, putPlan, useGateway } from "./harness.mjs";
import { html, standIn } from "./proxy.mjs";

const env = useGateway();

async function subscribed(quota) {
  const user = freshUser();
  await putPlan(countPlan(`plan_${user}`, quota));
  await call("PUT", `/v1/users/${user}/subscription`, { planId: `plan_${user}` });
  return user;
}
const counter = async (user) => (await call("GET", `/v1/users/${user}/usage`)).counters[0];
const abortedError = (err) => err.code === "aborted" && err.status === 0 && !err.unavailable;

test("an aborted call is reported as an abort: not retried, not answered as an outage", async () => {
  const user = await subscribed(5);
  const proxy = await standIn(env.baseUrl, () => ({ delayMs: 5_000 }));
  try {
    const qg = createClient({ apiKey: env.secret, baseUrl: proxy.url, maxRetries: 3, timeoutMs: 10_000 });
    const reserve = qg.reserve(user, "e", 1, undefined, { signal: AbortSignal.timeout(300) });
    await assert.rejects(reserve, abortedError, "a reserve is not denied for it either");
    await assert.rejects(qg.track(user, "e", 1, undefined, { signal: AbortSignal.timeout(300) }), abortedError);
    await assert.rejects(qg.usage(user, { signal: AbortSignal.timeout(300) }), abortedError);
    assert.equal(proxy.seen.length, 3, "one attempt each");
    const before = new AbortController();
    before.abort();
    await assert.rejects(qg.canUse(user, "e", 1, undefined, { signal: before.signal }), abortedError);
    assert.equal(proxy.seen.length, 3, "an aborted signal sends nothing");
  } finally {
    await proxy.close();
  }
});

test("an abort ends a wait between attempts too", async () => {
  const proxy = await standIn(env.baseUrl, () => html(503, { "retry-after": "4" }));
  try {
    const qg = createClient({ apiKey: env.secret, baseUrl: proxy.url, maxRetries: 3, timeoutMs: 10_000 });
    const started = Date.now();
    await assert.rejects(qg.usage("u", { signal: AbortSignal.timeout(300) }), abortedError);
    assert.equal(proxy.seen.length, 1);
    assert.ok(Date.now() - started < 4_000, "the abort did not wait for Retry-After");
  } finally {
    await proxy.close();
  }
});

test("a reserve aborted after it was sent is released by its key once the gateway answers again", async () => {
  const user = await subscribed(5);
  let slow = true;
  const proxy = await standIn(env.baseUrl, () => (slow ? { delayMs: 3_000 } : {}));
  try {
    const qg = createClient({ apiKey: env.secret, baseUrl: proxy.url });
    await assert.rejects(qg.reserve(user, "e", 1, undefined, { signal: AbortSignal.timeout(300) }), abortedError);
    assert.equal((await counter(user)).reserved, 1);
    assert.equal(qg.pendingReleases, 1);
    slow = false;
    await qg.usage(user);
    await qg.releasePending();
    assert.equal((await counter(user)).reserved, 0);
  } finally {
    await proxy.close();
  }
});

test("with failMode open, withReservation runs the work when the gateway gives no decision", async () => {
  const nowhere = `http://127.0.0.1:${await freePort()}`;
  const open = createClient({ apiKey: env.secret, baseUrl: nowhere, failMode: "open", timeoutMs: 500 });
  let ran = null;
  const done = await open.withReservation("u", "llm.tokens", 4000, undefined, ({ reservationId, decision, report }) => {
    ran = { reservationId, unchecked: decision.unchecked };
    report({ quantity: 1200 });
    return "answer";
  });
  assert.deepEqual(ran, { reservationId: "", unchecked: true });
  assert.equal(done.allowed, true);
  assert.equal(done.value, "answer");
  assert.equal(done.commit.status, "unchecked", "nothing to commit: the gateway never held it");
  assert.equal(done.decision.unchecked, true);
  const closed = createClient({ apiKey: env.secret, baseUrl: nowhere, timeoutMs: 500 });
  const denied = await closed.withReservation("u", "llm.tokens", 4000, undefined, () => assert.fail("not run when closed"));
  assert.deepEqual([denied.allowed, denied.decision.reasons], [false, ["backend_unavailable"]]);
});

test("rateLimitHeaders passes the gateway's headers on, and answers a decision with no counters", async () => {
  const user = await subscribed(1);
  const qg = createClient({ apiKey: env.secret, baseUrl: env.baseUrl });
  const allowed = await qg.reserve(user, "e");
  const headers = rateLimitHeaders(allowed);
  assert.match(headers["RateLimit-Policy"], /^"g";q=1;w=\d+$/);
  assert.match(headers.RateLimit, /^"g";r=0;t=\d+$/);
  assert.equal(headers["Retry-After"], undefined);
  const denied = await qg.reserve(user, "e");
  assert.ok(Number(rateLimitHeaders(denied)["Retry-After"]) > 0, "until the month resets");
  const made = rateLimitHeaders({ ...denied, rateLimit: null, rateLimitPolicy: null });
  assert.equal(made["RateLimit-Policy"], headers["RateLimit-Policy"], "made from the counters as the gateway makes them");
  const nowhere = createClient({ apiKey: env.secret, baseUrl: `http://127.0.0.1:${await freePort()}`, timeoutMs: 300 });
  const unchecked = await nowhere.reserve(user, "e");
  assert.deepEqual(unchecked.counters, []);
  assert.deepEqual(rateLimitHeaders(unchecked), { "Retry-After": "1" });
});
