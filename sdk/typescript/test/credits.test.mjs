// Credits through the client against a real gateway: grants made, listed, voided and read as
// balances; a grant granted once however often it is sent; reserves held on a balance group,
// denied with insufficient_balance, committed past the balance into debt that the next grant
// pays; and a bad grant answered as the client's error with its field.
import assert from "node:assert/strict";
import { test } from "node:test";
import { createClient, isBalanceCounter, QuotaGatewayError } from "quota-gateway";
import { call, freshUser, putPlan, useGateway } from "./harness.mjs";
import { standIn } from "./proxy.mjs";

const env = useGateway();
const client = () => createClient({ apiKey: env.secret, baseUrl: env.baseUrl });

/** A plan with one balance group: flux-pro renders at 10 credits each, anything else at 1 a unit. */
const creditPlan = (id, extra = {}) => ({
  id, periodType: "month",
  groups: [{
    id: "credits", balance: "credits", ...extra,
    matches: [{ event: "image.render", metadata: { model: "flux-pro" }, measure: { rate: 10 } }, { event: "*" }],
  }],
});

/** A user of its own on `plan`. */
async function subscribed(plan) {
  await putPlan(plan);
  const user = freshUser("credit");
  await client().upsertSubscription({ userId: user, planId: plan.id });
  return user;
}

test("grant, listGrants, voidGrant and balances follow a balance's grants in burn order", async () => {
  const user = await subscribed(creditPlan("plan_credit_life"));
  const qg = client();
  const expires = new Date(Date.now() + 30 * 86_400_000);
  const paid = await qg.grant(user, { balance: "credits", amount: 100, source: "purchase", costBasis: 2, metadata: { invoice: "in_1" } });
  assert.match(paid.grantId, /^g_/);
  assert.deepEqual(
    [paid.balance, paid.amount, paid.remaining, paid.held, paid.consumed, paid.priority, paid.category, paid.status, paid.source, paid.costBasis, paid.debtPaid],
    ["credits", 100, 100, 0, 0, 50, "paid", "active", "purchase", 2, 0],
  );
  assert.deepEqual(paid.metadata, { invoice: "in_1" });
  // A Date is sent as RFC 3339; a lower priority burns first.
  const promo = await qg.grant(user, { balance: "credits", amount: 20, priority: 10, category: "promotional", expiresAt: expires, source: "promotion" });
  assert.deepEqual([promo.category, promo.priority, promo.expiresAt], ["promotional", 10, expires.toISOString()]);
  const later = await qg.grant(user, { balance: "credits", amount: 5, effectiveAt: "2099-01-01T00:00:00Z" });
  assert.equal(later.status, "scheduled");

  const listed = await qg.listGrants(user);
  assert.deepEqual(listed.data.map((g) => g.grantId), [promo.grantId, paid.grantId, later.grantId], "burn order: priority first");
  assert.equal(listed.data[1].debtPaid, undefined, "a listed grant has no debtPaid");
  assert.equal((await qg.listGrants(user, { balance: "credits" })).data.length, 3);
  assert.deepEqual((await qg.listGrants(user, { balance: "other" })).data, []);

  // A flux-pro render holds 10 credits, from the promotional grant first.
  const held = await qg.reserve(user, "image.render", 1, { model: "flux-pro" });
  assert.equal(held.allowed, true);
  const voided = await qg.voidGrant(user, promo.grantId);
  assert.deepEqual([voided.status, voided.remaining, voided.held, voided.voided], ["active", 0, 10, 10], "what it holds is voided when given back");
  await qg.release(held.reservationId);
  const again = await qg.voidGrant(user, promo.grantId);
  assert.deepEqual([again.status, again.voided], ["voided", 20], "a repeat answers the voided grant");

  const { data: balances, nextCursor } = await qg.balances(user);
  assert.deepEqual([balances.length, nextCursor], [1, null], "every balance in one page");
  const [credits] = balances;
  assert.deepEqual([credits.balance, credits.available, credits.held, credits.debt, credits.soonestExpiry], ["credits", 100, 0, 0, null]);
  assert.deepEqual(credits.grants.map((g) => [g.grantId, g.status]), [[promo.grantId, "voided"], [paid.grantId, "active"], [later.grantId, "scheduled"]]);

  await assert.rejects(qg.voidGrant(freshUser("other"), paid.grantId), (err) => err.code === "grant_not_found", "another user's grant");
  await assert.rejects(qg.voidGrant(user, "g_nope"), (err) => {
    assert.ok(err instanceof QuotaGatewayError);
    assert.deepEqual([err.code, err.status], ["grant_not_found", 404]);
    return true;
  });
  assert.deepEqual((await qg.balances(freshUser("nobody"))).data, [], "a user without a plan or grants has none");
});

test("a grant repeated with its payment's key grants once; the key with another body is refused", async () => {
  const user = await subscribed(creditPlan("plan_credit_once"));
  const qg = client();
  const payment = `pi_${user}`;
  const first = await qg.grant(user, { balance: "credits", amount: 50, source: "purchase" }, { idempotencyKey: payment });
  const repeat = await qg.grant(user, { balance: "credits", amount: 50, source: "purchase" }, { idempotencyKey: payment });
  assert.equal(repeat.grantId, first.grantId, "the repeat answers the first grant");
  assert.equal((await qg.listGrants(user)).data.length, 1);
  assert.equal((await qg.balances(user)).data[0].available, 50);
  await assert.rejects(qg.grant(user, { balance: "credits", amount: 500 }, { idempotencyKey: payment }),
    (err) => err.code === "idempotency_key_reused" && err.status === 422);
  // Without a key of the caller's, each call is its own grant.
  await qg.grant(user, { balance: "credits", amount: 1 });
  await qg.grant(user, { balance: "credits", amount: 1 });
  assert.equal((await qg.balances(user)).data[0].available, 52);
});

test("a grant or a void whose answer was lost is retried, and acts once", async () => {
  const user = await subscribed(creditPlan("plan_credit_lost"));
  // The first attempt of each call runs at the gateway, but its answer is lost.
  const proxy = await standIn(env.baseUrl, (n) => (n === 0 || n === 2 ? { dropAfter: true } : {}));
  try {
    const qg = createClient({ apiKey: env.secret, baseUrl: proxy.url });
    const made = await qg.grant(user, { balance: "credits", amount: 30 });
    assert.equal(proxy.seen.length, 2, "the lost answer was retried");
    assert.ok(proxy.seen[0].key && proxy.seen[0].key === proxy.seen[1].key, "with one Idempotency-Key");
    const { data: grants } = await call("GET", `/v1/users/${user}/grants`);
    assert.deepEqual(grants.map((g) => [g.grantId, g.amount]), [[made.grantId, 30]], "granted once");
    const voided = await qg.voidGrant(user, made.grantId);
    assert.equal(proxy.seen.length, 4, "a void sets a state: retried");
    assert.deepEqual([voided.status, voided.voided], ["voided", 30]);
    assert.equal((await call("GET", `/v1/users/${user}/balances`)).data[0].available, 0);
  } finally {
    await proxy.close();
  }
});

test("a reserve the balance cannot cover is denied with insufficient_balance; the counter says the balance", async () => {
  const user = await subscribed(creditPlan("plan_credit_short"));
  const qg = client();
  const expires = new Date(Date.now() + 7 * 86_400_000);
  await qg.grant(user, { balance: "credits", amount: 15, expiresAt: expires });

  const held = await qg.reserve(user, "image.render", 1, { model: "flux-pro" });
  assert.equal(held.allowed, true);
  const counter = held.counters.find(isBalanceCounter);
  assert.ok(counter, "the balance group's counter");
  assert.deepEqual(
    [counter.groupId, counter.balance, counter.remaining, counter.reserved, counter.debt, counter.exceeded, counter.soonestExpiry],
    ["credits", "credits", 5, 10, 0, false, { amount: 5, at: expires.toISOString() }],
  );

  const denied = await qg.reserve(user, "image.render", 1, { model: "flux-pro" });
  assert.deepEqual([denied.allowed, denied.reasons, denied.deniedBy, denied.reservationId], [false, ["insufficient_balance"], ["credits"], null]);
  assert.deepEqual(denied.denials, [{ subjectId: user, groupId: "credits", reason: "insufficient_balance" }]);
  const still = denied.counters.find(isBalanceCounter);
  assert.deepEqual([still.remaining, still.reserved, still.debt], [5, 10, 0], "a denial holds nothing");
  const check = await qg.canUse(user, "image.render", 1, { model: "flux-pro" });
  assert.deepEqual([check.allowed, check.reasons], [false, ["insufficient_balance"]]);
  // Another model is priced by the group's own measure: 1 credit a unit.
  assert.equal((await qg.canUse(user, "image.render", 5, { model: "flux-schnell" })).allowed, true);

  const released = await qg.release(held.reservationId);
  const back = released.counters.find(isBalanceCounter);
  assert.deepEqual([back.remaining, back.reserved], [15, 0]);
  assert.equal(isBalanceCounter({ ...back, balance: null }), false);
});

test("a commit above the balance runs into debt, and the next grant pays it first (debtPaid)", async () => {
  const user = await subscribed(creditPlan("plan_credit_debt"));
  const qg = client();
  await qg.grant(user, { balance: "credits", amount: 25 });
  const held = await qg.reserve(user, "image.render", 2, { model: "flux-pro" }); // 20 credits
  assert.equal(held.allowed, true);
  const committed = await qg.commit(held.reservationId, { quantity: 3 }); // 30 credits: never denied after the fact
  assert.equal(committed.status, "committed");
  const owed = committed.counters.find(isBalanceCounter);
  assert.deepEqual([owed.remaining, owed.reserved, owed.debt, owed.exceeded], [0, 0, 5, true]);
  assert.deepEqual(committed.overQuota, ["credits"]);
  assert.deepEqual((await qg.reserve(user, "e")).reasons, ["insufficient_balance"], "nothing to spend while in debt");

  const topUp = await qg.grant(user, { balance: "credits", amount: 10 });
  assert.deepEqual([topUp.debtPaid, topUp.remaining, topUp.consumed], [5, 5, 5]);
  const [credits] = (await qg.balances(user)).data;
  assert.deepEqual([credits.available, credits.debt], [5, 0]);
  const tracked = await qg.track(user, "e", 2);
  const paid = tracked.counters.find(isBalanceCounter);
  assert.deepEqual([paid.remaining, paid.debt, paid.exceeded], [3, 0, false]);
});

test("a balance group's overdraft lets reserves go that far below zero", async () => {
  const user = await subscribed(creditPlan("plan_credit_overdraft", { overdraft: 8 }));
  const qg = client();
  await qg.grant(user, { balance: "credits", amount: 5 });
  const held = await qg.reserve(user, "image.render", 1, { model: "flux-pro" }); // 10 of 5 + 8
  assert.equal(held.allowed, true);
  assert.deepEqual((await qg.reserve(user, "e", 4)).reasons, ["insufficient_balance"], "5 + 8 - 10 = 3 left");
  const committed = await qg.commit(held.reservationId);
  assert.equal(committed.counters.find(isBalanceCounter).debt, 5);
});

test("a bad grant is the client's error with the field at fault", async () => {
  const user = await subscribed(creditPlan("plan_credit_bad"));
  const qg = client();
  const cases = [
    [{ balance: "credits", amount: 0 }, "amount"],
    [{ balance: "credits", amount: 1.2345 }, "amount"],
    [{ balance: "credits", amount: 1, priority: 101 }, "priority"],
    [{ balance: "credits", amount: 1, category: "gift" }, "category"],
    [{ balance: "credits", amount: 1, expiresAt: "next week" }, "expiresAt"],
    [{ balance: "credits", amount: 1, effectiveAt: "2030-01-02T00:00:00Z", expiresAt: "2030-01-01T00:00:00Z" }, "expiresAt"],
    [{ balance: "credits", amount: 1, source: "" }, "source"],
    [{ balance: "not a name", amount: 1 }, "balance"],
  ];
  for (const [body, field] of cases) {
    await assert.rejects(qg.grant(user, body), (err) => {
      assert.ok(err instanceof QuotaGatewayError, JSON.stringify(body));
      assert.deepEqual([err.code, err.status, err.field, err.unavailable], ["invalid_request", 400, field, false], JSON.stringify(body));
      assert.ok(err.requestId && err.detail.startsWith(`${field}:`), err.detail);
      return true;
    });
  }
  assert.deepEqual((await qg.listGrants(user)).data, [], "nothing was granted");
});

test("balancesSummary adds up the ledger's credits, paid and promotional apart, with revenue", async () => {
  const user = await subscribed(creditPlan("plan_credit_summary"));
  const qg = client();
  await qg.grant(user, { balance: "credits", amount: 10, category: "promotional" });
  await qg.grant(user, { balance: "credits", amount: 100, costBasis: 2 });
  for (let i = 0; i < 2; i++) {
    const held = await qg.reserve(user, "image.render", 1, { model: "flux-pro" });
    await qg.commit(held.reservationId);
  }
  const summary = await qg.balancesSummary({ balance: "credits", userId: user, from: new Date(Date.now() - 3_600_000) });
  assert.deepEqual([summary.promotional.granted, summary.promotional.burned], [10, 10]);
  assert.deepEqual([summary.paid.granted, summary.paid.burned, summary.paid.outstanding, summary.paid.revenueCents], [100, 10, 90, 20]);
  assert.equal(summary.truncated, false);
});
