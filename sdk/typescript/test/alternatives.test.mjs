// reserveFirst: the first of several events that every matched group admits, held at once.
import assert from "node:assert/strict";
import { test } from "node:test";
import { createClient, MAX_ALTERNATIVES, QuotaGatewayError } from "quota-gateway";
import { freshUser, putPlan, useGateway } from "./harness.mjs";

const env = useGateway();
const client = (options = {}) => createClient({ apiKey: env.secret, baseUrl: env.baseUrl, ...options });

/** Model A's calls, 1 a month; Model B's, 2. */
const models = {
  id: "plan_models_ts", periodType: "month",
  groups: [
    { id: "model-a", unit: "count", quota: 1, matches: [{ event: "llm.a" }] },
    { id: "model-b", unit: "count", quota: 2, matches: [{ event: "llm.b" }] },
  ],
};
const aThenB = [{ event: "llm.a", metadata: { model: "a" } }, { event: "llm.b", quantity: 1 }];

test("reserveFirst holds A while it has room, then B, and says why A was passed over", async () => {
  await putPlan(models);
  const qg = client();
  const user = freshUser();
  await qg.upsertSubscription({ userId: user, planId: models.id });
  const first = await qg.reserveFirst(user, aThenB);
  assert.deepEqual([first.allowed, first.chosen, first.alternatives], [true, 0, []]);
  await qg.commit(first.reservationId);
  const second = await qg.reserveFirst(user, aThenB, { ttlSeconds: 30 });
  assert.deepEqual([second.allowed, second.chosen], [true, 1]);
  assert.equal(second.counters[0].groupId, "model-b");
  const [passed] = second.alternatives;
  assert.deepEqual([passed.index, passed.event, passed.reasons, passed.deniedBy], [0, "llm.a", ["limit_reached"], ["model-a"]]);
  assert.equal(passed.counters[0].remaining, 0);
  await qg.release(second.reservationId);
});

test("a denial of every alternative says each one's reasons, and bad alternatives are refused by their place", async () => {
  await putPlan(models);
  const qg = client();
  const user = freshUser();
  await qg.upsertSubscription({ userId: user, planId: models.id });
  await qg.track(user, "llm.a");
  await qg.track(user, "llm.b", 2);
  const none = await qg.reserveFirst(user, aThenB);
  assert.deepEqual([none.allowed, none.chosen, none.reservationId], [false, null, null]);
  assert.deepEqual(none.deniedBy, ["model-a", "model-b"]);
  assert.deepEqual(none.alternatives.map((a) => [a.index, a.reasons]), [[0, ["limit_reached"]], [1, ["limit_reached"]]]);
  assert.ok(none.retryAfter > 0);
  for (const [alternatives, field] of [
    [Array.from({ length: MAX_ALTERNATIVES + 1 }, () => ({ event: "llm.a" })), "alternatives"],
    [[{ event: "llm.a" }, { event: "not an event" }], "alternatives[1].event"],
  ]) {
    const err = await qg.reserveFirst(user, alternatives).catch((e) => e);
    assert.ok(err instanceof QuotaGatewayError);
    assert.deepEqual([err.code, err.field], ["invalid_request", field]);
  }
});

test("one Idempotency-Key answers the first choice again; an unanswered call is the fail mode's", async () => {
  await putPlan(models);
  const qg = client();
  const user = freshUser();
  await qg.upsertSubscription({ userId: user, planId: models.id });
  await qg.track(user, "llm.a");
  const first = await qg.reserveFirst(user, aThenB, { idempotencyKey: "fallback-1" });
  const again = await qg.reserveFirst(user, aThenB, { idempotencyKey: "fallback-1" });
  assert.deepEqual([again.chosen, again.reservationId], [1, first.reservationId]);
  assert.equal((await qg.usage(user)).counters.find((c) => c.groupId === "model-b").reserved, 1);
  const gone = "http://127.0.0.1:1";
  const open = await client({ baseUrl: gone, maxRetries: 0, failMode: "open" }).reserveFirst(user, aThenB);
  assert.deepEqual([open.allowed, open.unchecked, open.chosen, open.reservationId], [true, true, 0, ""]);
  const closed = await client({ baseUrl: gone, maxRetries: 0 }).reserveFirst(user, aThenB);
  assert.deepEqual([closed.allowed, closed.chosen, closed.reasons], [false, null, ["backend_unavailable"]]);
});
