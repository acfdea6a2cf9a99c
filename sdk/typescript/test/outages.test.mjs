// A gateway behind a failing load balancer: pages instead of answers, answers that never come.
// Retries on 429, 502, 503 and 504 whatever the body, honouring Retry-After; one deadline per
// call; the fail mode's answer when the failures last; a reserve that may have run without an
// answer released by its key once the gateway answers again.
import assert from "node:assert/strict";
import { test } from "node:test";
import { createClient } from "quota-gateway";
import { countPlan, freshUser, putPlan, useGateway, call } from "./harness.mjs";
import { html, standIn } from "./proxy.mjs";

const env = useGateway();

async function subscribed(quota) {
  const user = freshUser();
  await putPlan(countPlan(`plan_${user}`, quota));
  await call("PUT", `/v1/users/${user}/subscription`, { planId: `plan_${user}` });
  return user;
}
const counter = async (user) => (await call("GET", `/v1/users/${user}/usage`)).counters[0];

test("a load balancer's 502, 504 and 429 pages are retried whatever the body, after Retry-After, and the reserve counts once", async () => {
  const user = await subscribed(5);
  const script = [html(502), html(504), html(429, { "retry-after": "1" })];
  const proxy = await standIn(env.baseUrl, (n) => script[n] ?? {});
  try {
    const qg = createClient({ apiKey: env.secret, baseUrl: proxy.url, maxRetries: 3, timeoutMs: 5_000 });
    const decision = await qg.reserve(user, "e");
    assert.equal(decision.allowed, true, JSON.stringify(decision));
    assert.equal(proxy.seen.length, 4, "three pages, then the gateway's answer");
    assert.equal(new Set(proxy.keys()).size, 1, "one Idempotency-Key on every attempt");
    assert.ok(proxy.seen[3].at - proxy.seen[2].at >= 900, "the 429's Retry-After: 1 was waited for");
    assert.equal((await counter(user)).reserved, 1);
  } finally {
    await proxy.close();
  }
});

test("pages that last answer by the fail mode: closed denies, open allows, other calls throw", async () => {
  const user = await subscribed(5);
  const proxy = await standIn(env.baseUrl, () => html(502));
  try {
    const closed = createClient({ apiKey: env.secret, baseUrl: proxy.url, maxRetries: 2, timeoutMs: 3_000 });
    const denied = await closed.reserve(user, "e");
    assert.deepEqual([denied.allowed, denied.reasons, denied.unchecked, denied.counters], [false, ["backend_unavailable"], true, []]);
    assert.equal(proxy.seen.length, 3, "one call and two retries");
    const open = createClient({ apiKey: env.secret, baseUrl: proxy.url, maxRetries: 0, failMode: "open" });
    const allowed = await open.reserve(user, "e");
    assert.deepEqual([allowed.allowed, allowed.reservationId, allowed.unchecked], [true, "", true]);
    assert.equal((await open.canUse(user, "e")).allowed, true);
    await assert.rejects(closed.track(user, "e"), (err) => err.code === "backend_unavailable" && err.status === 502);
  } finally {
    await proxy.close();
  }
});

test("a 500 page is not retried, and reserve and canUse answer it by the fail mode instead of throwing http_500", async () => {
  const proxy = await standIn(env.baseUrl, () => html(500));
  try {
    const qg = createClient({ apiKey: env.secret, baseUrl: proxy.url, maxRetries: 3 });
    const denied = await qg.reserve(freshUser(), "e");
    assert.deepEqual([denied.allowed, denied.reasons], [false, ["backend_unavailable"]]);
    assert.equal(proxy.seen.length, 1, "a 500 is not one of the statuses retried");
    assert.deepEqual((await qg.canUse(freshUser(), "e")).reasons, ["backend_unavailable"]);
    await assert.rejects(qg.usage("u"), (err) => err.code === "http_500" && err.status === 500 && err.unavailable);
  } finally {
    await proxy.close();
  }
});

test("a Retry-After past the deadline ends the call at once instead of waiting for it", async () => {
  const proxy = await standIn(env.baseUrl, () => html(503, { "retry-after": "30" }));
  try {
    const qg = createClient({ apiKey: env.secret, baseUrl: proxy.url, maxRetries: 5, timeoutMs: 2_000 });
    assert.deepEqual((await qg.reserve(freshUser(), "e")).reasons, ["backend_unavailable"]);
    assert.equal(proxy.seen.length, 1, "no wait of 30 s within a deadline of 2 s, so no second attempt");
  } finally {
    await proxy.close();
  }
});

test("with default settings, canUse against a gateway that never answers denies within its one deadline", async () => {
  // 15.2 s before: three attempts of 5 s each.
  const proxy = await standIn(env.baseUrl, () => ({ delayMs: 20_000 }));
  try {
    const qg = createClient({ apiKey: env.secret, baseUrl: proxy.url });
    const started = Date.now();
    const check = await qg.canUse(freshUser(), "e");
    const took = Date.now() - started;
    assert.deepEqual([check.allowed, check.reasons], [false, ["backend_unavailable"]]);
    assert.ok(took < 7_000, `the default deadline is a few seconds (took ${took} ms)`);
    assert.ok(proxy.seen.length >= 2, "a hung attempt leaves time for another");
  } finally {
    await proxy.close();
  }
});

test("a reserve that ran but whose answers never came is released by its key once the gateway answers again", async () => {
  const user = await subscribed(5);
  let failing = "slow";
  const proxy = await standIn(env.baseUrl, (_n, seen) => {
    if (seen.path !== "/v1/reserve" || !failing) return {};
    return failing === "slow" ? { delayMs: 5_000 } : { dropAfter: true };
  });
  try {
    const qg = createClient({ apiKey: env.secret, baseUrl: proxy.url, timeoutMs: 1_500, attemptTimeoutMs: 600, maxRetries: 2 });
    const late = await qg.reserve(user, "e");
    assert.deepEqual([late.allowed, late.reasons], [false, ["backend_unavailable"]]);
    failing = "dropped";
    const dropped = await qg.reserve(user, "e");
    assert.deepEqual([dropped.allowed, dropped.reasons], [false, ["backend_unavailable"]]);
    assert.equal((await counter(user)).reserved, 2, "the gateway did hold both");
    assert.equal(qg.pendingReleases, 2);
    failing = null;
    await qg.usage(user); // the gateway answers again: the release starts in the background
    await qg.releasePending();
    assert.equal(qg.pendingReleases, 0);
    assert.equal((await counter(user)).reserved, 0, "both released by their idempotency keys");
  } finally {
    await proxy.close();
  }
});

test("a reserve whose key the caller chose is the caller's to repeat: it is not released behind its back", async () => {
  const user = await subscribed(5);
  let slow = true;
  const proxy = await standIn(env.baseUrl, () => (slow ? { delayMs: 3_000 } : {}));
  try {
    const qg = createClient({ apiKey: env.secret, baseUrl: proxy.url, timeoutMs: 800, maxRetries: 0 });
    const key = `mine-${user}`;
    assert.equal((await qg.reserve(user, "e", 1, undefined, { idempotencyKey: key })).allowed, false);
    assert.equal(qg.pendingReleases, 0);
    slow = false;
    const again = await qg.reserve(user, "e", 1, undefined, { idempotencyKey: key });
    assert.equal(again.allowed, true, "the repeat answers the reservation the first attempt made");
    assert.equal((await qg.commit(again.reservationId)).status, "committed");
  } finally {
    await proxy.close();
  }
});
