// Every example runs against a real gateway and does what it says.
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { createHmac, randomBytes } from "node:crypto";
import { readdirSync, readFileSync } from "node:fs";
import { test } from "node:test";
import { promisify } from "node:util";
import { createClient } from "quota-gateway";
import { main as freemium } from "../examples/freemium-fallback.mjs";
import { main as images } from "../examples/image-renders.mjs";
import { main as llm } from "../examples/llm-tokens.mjs";
import { main as rateCard } from "../examples/rate-card.mjs";
import { main as headers } from "../examples/rate-limit-headers.mjs";
import { main as streaming } from "../examples/streaming-job.mjs";
import { main as stripe } from "../examples/stripe-credits.mjs";
import { freshUser, useGateway } from "./harness.mjs";

const env = useGateway();
const run = (main) => main({ baseUrl: env.baseUrl, apiKey: env.secret, userId: freshUser() });

test("image renders fall back to the standard model once the premium sub-quota is spent", async () => {
  const { rendered, counters } = await run(images);
  assert.deepEqual(rendered, ["flux-pro", "flux-pro", "flux-pro", "flux-schnell", "flux-schnell"]);
  assert.deepEqual(counters, [["renders", 5, 95], ["premium", 3, 0]]);
});

test("freemium falls back from model A to model B", async () => {
  assert.deepEqual((await run(freemium)).models, ["a", "a", "b", "b"]);
});

test("an LLM call reserved at 4,000 tokens commits the 1,213 it used", async () => {
  const result = await run(llm);
  assert.deepEqual([result.allowed, result.used, result.remaining], [true, 1213, 8787]);
});

test("rate-limit headers come from the reservation's counters", async () => {
  const h = await run(headers);
  assert.match(h["RateLimit-Policy"], /^"per_minute";q=10;w=60, "per_month";q=1000;w=\d+$/);
  assert.match(h.RateLimit, /^"per_minute";r=9;t=\d+, "per_month";r=999;t=\d+$/);
});

test("a streaming job extends its hold while it runs and commits the seconds it took", async () => {
  const result = await run(streaming);
  assert.equal(result.extensions, 3);
  assert.deepEqual(result.counters.slots, { used: 0, reserved: 0 });
  assert.ok(result.counters.gpu.used > 0 && result.counters.gpu.used < 5, JSON.stringify(result));
});

test("a rate card prices GPT-4o by its tokens and Flux by the render from one balance, until it runs out", async () => {
  const result = await run(rateCard);
  assert.deepEqual(result.chat, { held: 2.6, charged: 1.398 }, "1,200 + 1,000 tokens held; 1,187 + 402 charged");
  assert.equal(result.renders, 9);
  assert.deepEqual(result.refused, { reasons: ["insufficient_balance"], remaining: 8.602 });
  assert.deepEqual(result.balance, { available: 8.602, held: 0, debt: 0 });
});

test("a Stripe Checkout credit pack is granted once however often its webhook comes; a bad signature gets 400", async () => {
  const endpointSecret = `whsec_${randomBytes(24).toString("base64")}`;
  const userId = freshUser();
  const server = await stripe({ baseUrl: env.baseUrl, apiKey: env.secret, endpointSecret, port: 0 });
  const qg = createClient({ apiKey: env.secret, baseUrl: env.baseUrl });
  // Stripe's scheme, written out here apart from the example's check of it.
  const sign = (body, { secret = endpointSecret, t = Math.floor(Date.now() / 1000) } = {}) =>
    `t=${t},v1=${createHmac("sha256", secret).update(`${t}.${body}`).digest("hex")}`;
  const post = (body, signature) => fetch(server.url, {
    method: "POST", body, headers: { "Content-Type": "application/json", ...(signature ? { "Stripe-Signature": signature } : {}) },
  });
  const session = (id, paymentStatus) => ({
    id, object: "checkout.session", mode: "payment", client_reference_id: userId, amount_total: 1000, currency: "usd",
    payment_status: paymentStatus, metadata: { credits: "500" },
  });
  const event = (type, object) => JSON.stringify({ id: `evt_${randomBytes(8).toString("hex")}`, object: "event", type, data: { object } }, null, 2);
  try {
    const paid = event("checkout.session.completed", session(`cs_test_${userId}`, "paid"));
    for (let i = 0; i < 2; i++) {
      const res = await post(paid, sign(paid)); // Stripe delivers at least once
      assert.equal(res.status, 200);
    }
    let { data: grants } = await qg.listGrants(userId);
    assert.equal(grants.length, 1, "one grant for two deliveries");
    assert.deepEqual([grants[0].amount, grants[0].source, grants[0].costBasis, grants[0].metadata], [500, "purchase", 2, { session: `cs_test_${userId}` }]);

    const stale = Math.floor(Date.now() / 1000) - 301;
    const other = event("checkout.session.completed", session(`cs_test_other_${userId}`, "paid"));
    for (const [body, signature] of [
      [other, sign(other, { secret: "whsec_wrong" })],
      [other.replace("500", "50000"), sign(other)], // the body changed after signing
      [other, sign(other, { t: stale })],
      [other, sign(other).replace(/^t=\d+/, "t=")],
      [other, undefined],
    ]) {
      assert.equal((await post(body, signature)).status, 400, signature);
    }
    assert.equal((await post(other, `${sign(other, { secret: "whsec_old" })},${sign(other).split(",")[1]}`)).status, 200, "any v1 may match");

    // A bank debit completes unpaid, and is granted when its payment succeeds.
    const pending = session(`cs_test_debit_${userId}`, "unpaid");
    const completed = event("checkout.session.completed", pending);
    assert.equal((await post(completed, sign(completed))).status, 200);
    const succeeded = event("checkout.session.async_payment_succeeded", { ...pending, payment_status: "paid" });
    assert.equal((await post(succeeded, sign(succeeded))).status, 200);
    ({ data: grants } = await qg.listGrants(userId));
    assert.equal(grants.length, 3);
    assert.equal((await qg.balances(userId)).data[0].available, 1500);
  } finally {
    await server.close();
  }
});

test("the examples' plans and users are their own: none shares an id with the README's walk-through or another example", async () => {
  const dir = new URL("../examples/", import.meta.url);
  const planIds = readdirSync(dir).filter((f) => f.endsWith(".mjs"))
    .flatMap((f) => [...readFileSync(new URL(f, dir), "utf8").matchAll(/\bid: "([^"]+)", (?:name: "[^"]*", )?periodType:/g)].map((m) => m[1]));
  assert.equal(planIds.length, 7, planIds.join(", "));
  assert.ok(planIds.every((id) => id.startsWith("ex_plan_")), planIds.join(", "));
  assert.equal(new Set(planIds).size, planIds.length, "one plan per example");

  // Run by hand, as the README says: its user is its own too.
  const { stdout } = await promisify(execFile)(process.execPath, ["examples/llm-tokens.mjs"], {
    cwd: new URL("..", import.meta.url), env: { ...process.env, QUOTA_GATEWAY_URL: env.baseUrl, QUOTA_GATEWAY_KEY: env.secret, USER_ID: "" }, // USER_ID empty: the example's own
  });
  assert.equal(JSON.parse(stdout).used, 1213);
  const qg = createClient({ apiKey: env.secret, baseUrl: env.baseUrl });
  assert.equal((await qg.usage("ex_llm-tokens")).planId, "ex_plan_llm");
});
