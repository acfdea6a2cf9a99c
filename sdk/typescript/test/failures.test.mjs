// Behaviour under failure: retries only where safe, with one Idempotency-Key per call, one
// deadline per call with a shorter one per attempt, and fail-closed (or open) when the gateway
// cannot be reached. Failures through a stand-in load balancer: outages.test.mjs.
import assert from "node:assert/strict";
import { createServer, connect } from "node:net";
import { test } from "node:test";
import { createClient } from "quota-gateway";
import { freePort, startGateway } from "../scripts/gateway.mjs";
import { countPlan, freshUser, putPlan, useGateway } from "./harness.mjs";

const env = useGateway();

/** A fetch that records each request's method, path and Idempotency-Key. */
function recording() {
  const seen = [];
  const wrapped = (url, init) => {
    seen.push({ path: new URL(url).pathname, key: init.headers["Idempotency-Key"] });
    return fetch(url, init);
  };
  return { seen, fetch: wrapped };
}

/** A loopback TCP proxy to `target` that holds the first answer back for `delayMs`. */
async function slowFirstAnswer(target, delayMs) {
  const port = await freePort();
  let connections = 0;
  const server = createServer((client) => {
    const slow = connections++ === 0;
    const upstream = connect(target.port, target.hostname);
    client.pipe(upstream);
    upstream.on("data", (chunk) => (slow ? setTimeout(() => client.write(chunk), delayMs) : client.write(chunk)));
    upstream.on("end", () => client.end());
    client.on("error", () => upstream.destroy());
    upstream.on("error", () => client.destroy());
  });
  await new Promise((done) => server.listen(port, "127.0.0.1", done));
  return { url: `http://127.0.0.1:${port}`, close: () => server.close() };
}

test("a reserve whose answer timed out is retried with the same key and counts once", async () => {
  await putPlan(countPlan("plan_retry", 5));
  const user = freshUser();
  const admin = createClient({ apiKey: env.secret, baseUrl: env.baseUrl });
  await admin.upsertSubscription({ userId: user, planId: "plan_retry" });
  const proxy = await slowFirstAnswer(new URL(env.baseUrl), 1_500);
  const { seen, fetch } = recording();
  const qg = createClient({ apiKey: env.secret, baseUrl: proxy.url, timeoutMs: 4_000, attemptTimeoutMs: 500, maxRetries: 3, fetch });
  const decision = await qg.reserve(user, "e");
  proxy.close();
  assert.equal(decision.allowed, true);
  assert.ok(seen.length >= 2, "the timed-out attempt was retried");
  assert.equal(new Set(seen.map((s) => s.key)).size, 1, "every attempt carried the same Idempotency-Key");
  const usage = await admin.usage(user);
  assert.equal(usage.counters[0].reserved, 1, "the first attempt ran in Redis too, and counted once");
});

test("4xx answers are never retried; each call has its own key", async () => {
  const { seen, fetch } = recording();
  const qg = createClient({ apiKey: env.secret, baseUrl: env.baseUrl, fetch });
  await assert.rejects(qg.track("", "e"));
  assert.equal(seen.length, 1);
  await qg.track(freshUser(), "e").catch(() => undefined);
  await qg.track(freshUser(), "e").catch(() => undefined);
  assert.equal(new Set(seen.map((s) => s.key)).size, 3);
});

test("503 answers are retried, then fail closed by default and open on request", async () => {
  // A gateway whose Redis is gone answers 503 backend_unavailable.
  const gone = await startGateway(`redis://127.0.0.1:${await freePort()}`, { ready: false });
  try {
    const { seen, fetch } = recording();
    const closed = createClient({ apiKey: env.secret, baseUrl: gone.baseUrl, maxRetries: 2, fetch });
    const denied = await closed.reserve("u", "e");
    assert.deepEqual([denied.allowed, denied.reasons, denied.reservationId], [false, ["backend_unavailable"], null]);
    assert.equal(seen.length, 3, "one call and two retries");
    const open = createClient({ apiKey: env.secret, baseUrl: gone.baseUrl, maxRetries: 0, failMode: "open" });
    assert.equal((await open.canUse("u", "e")).allowed, true);
    await assert.rejects(closed.track("u", "e"), (err) => err.code === "backend_unavailable" && err.status === 503);
  } finally {
    gone.stop();
  }
});

test("an unreachable gateway fails closed within the timeout and never throws from reserve", async () => {
  const nowhere = `http://127.0.0.1:${await freePort()}`;
  const qg = createClient({ apiKey: env.secret, baseUrl: nowhere, maxRetries: 1, timeoutMs: 300 });
  const decision = await qg.reserve("u", "e");
  assert.deepEqual([decision.allowed, decision.reasons], [false, ["backend_unavailable"]]);
  assert.equal(qg.pendingReleases, 0, "a refused connection cannot have run it: nothing to release");
  await assert.rejects(qg.commit("r_x.y"), (err) => err.code === "backend_unavailable" && err.status === 0);
});
