// Code written for @vevee/sdk refunds with a `.refund` event; here a track only ever adds, so
// the client says so once in development, and never in production.
import assert from "node:assert/strict";
import { test } from "node:test";
import { createClient } from "quota-gateway";
import { call, countPlan, freshUser, putPlan, useGateway, warnings } from "./harness.mjs";

const env = useGateway();

test("a track whose event ends in .refund warns once in development, never in production", async () => {
  const user = freshUser();
  await putPlan({ ...countPlan(`plan_${user}`, 10_000), groups: [{ id: "tokens", unit: "tokens", quota: 10_000, matches: [{ event: "llm.*" }] }] });
  await call("PUT", `/v1/users/${user}/subscription`, { planId: `plan_${user}` });
  const qg = createClient({ apiKey: env.secret, baseUrl: env.baseUrl });
  const mode = process.env.NODE_ENV;
  try {
    process.env.NODE_ENV = "production";
    assert.deepEqual(await warnings(() => qg.track(user, "llm.tokens.refund", 1)), []);
    delete process.env.NODE_ENV;
    const said = await warnings(async () => {
      await qg.track(user, "llm.tokens", 4000);
      await qg.track(user, "llm.tokens.refund", 2800);
      await qg.track(user, "llm.tokens.refund", 10);
    });
    assert.equal(said.length, 1, "once");
    assert.match(said[0], /llm\.tokens\.refund.*never refunds.*commit/);
  } finally {
    if (mode === undefined) delete process.env.NODE_ENV;
    else process.env.NODE_ENV = mode;
  }
  // What the warning is about: the "refund" matched llm.* and was counted on top.
  assert.equal((await call("GET", `/v1/users/${user}/usage`)).counters[0].used, 6811);
});
