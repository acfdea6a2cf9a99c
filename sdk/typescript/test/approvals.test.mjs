// Approval gates and per-value counters through the client against a real gateway: an approval
// group's denial names its request, which listApprovals and getApproval find with whom to ask
// (the group's owner, else the plan's); approve raises
// the quota, decline keeps the group hard, and deciding twice is approval_decided; approve and
// decline are not retried once they may have arrived (the gateway takes no key for them); a
// per-value group's counters name their value, and past 64 values it denies too_many_values; an
// override of one value's quota (setOverride and removeOverride with value); a per-value
// approval group opens one request per value, each decided on its own.
import assert from "node:assert/strict";
import { test } from "node:test";
import { createClient, QuotaGatewayError } from "quota-gateway";
import { freshUser, putPlan, useGateway } from "./harness.mjs";
import { html, standIn } from "./proxy.mjs";

const env = useGateway();
const client = () => createClient({ apiKey: env.secret, baseUrl: env.baseUrl });

/**
 * A user of its own on a plan of two approval groups of quota 2: `gate` counts `launch`, `other`
 * counts `post`; `gate` has an owner of its own, `other` the plan's.
 */
async function gated(qg) {
  const user = freshUser("gate");
  await putPlan({
    id: `plan_${user}`, periodType: "month", owner: "growth-team", reviewEvery: "month",
    groups: [
      { id: "gate", unit: "count", quota: 2, mode: "approval", owner: "Dana (marketing)", reviewEvery: "week", matches: [{ event: "launch" }] },
      { id: "other", unit: "count", quota: 2, mode: "approval", matches: [{ event: "post" }] },
    ],
  });
  await qg.upsertSubscription({ userId: user, planId: `plan_${user}` });
  return user;
}

/** Reserves `event` until the group denies; the denial, with the holds admitted before it. */
async function denyOnce(qg, user, event = "launch") {
  const held = [await qg.reserve(user, event), await qg.reserve(user, event)];
  assert.deepEqual(held.map((d) => d.allowed), [true, true]);
  return qg.reserve(user, event);
}

/**
 * The request a denial names: the denial that opens it answers once the project's list has
 * it, so it is found at once.
 */
async function opened(qg, user, event = "launch") {
  const { approvalId } = (await denyOnce(qg, user, event)).denials[0];
  assert.equal((await qg.getApproval(approvalId)).status, "pending");
  return approvalId;
}

/** The requests `query` lists, once `want` are (a decision is listed a moment after it). */
async function listed(qg, query, want) {
  for (let i = 0; i < 100; i++) {
    const page = await qg.listApprovals(query);
    if (page.data.length >= want) return page;
    await new Promise((r) => setTimeout(r, 50));
  }
  assert.fail(`${want} approval requests were never listed for ${JSON.stringify(query)}`);
}

test("a denial names its request; listApprovals and getApproval find it; approve raises the quota once", async () => {
  const qg = client();
  const user = await gated(qg);
  const denied = await denyOnce(qg, user);
  assert.deepEqual([denied.allowed, denied.reasons, denied.deniedBy], [false, ["approval_pending"], ["gate"]]);
  const [denial] = denied.denials;
  assert.deepEqual([denial.subjectId, denial.groupId, denial.reason], [user, "gate", "approval_pending"]);
  assert.match(denial.approvalId, /^apr_/);
  const check = await qg.canUse(user, "launch");
  assert.deepEqual([check.allowed, check.reasons], [false, ["approval_pending"]]);

  const { data: approvals, nextCursor } = await listed(qg, { status: "pending", userId: user }, 1);
  assert.equal(nextCursor, null);
  assert.deepEqual(approvals.map((a) => a.approvalId), [denial.approvalId], "one request, however many denials");
  const request = await qg.getApproval(denial.approvalId);
  assert.deepEqual(
    [request.userId, request.groupId, request.status, request.event, request.amount, request.used, request.reserved, request.quota],
    [user, "gate", "pending", "launch", 1, 0, 2, 2],
  );
  assert.equal(request.value, null, "a group without per names no value");
  // Whom to ask: the group's own owner and review, over the plan's.
  assert.deepEqual([request.planId, request.owner, request.reviewEvery], [`plan_${user}`, "Dana (marketing)", "week"]);

  const approved = await qg.approve(denial.approvalId, { quota: 5 });
  assert.deepEqual([approved.status, approved.approvedQuota, approved.expiresAt], ["approved", 5, request.resetsAt]);
  assert.ok(approved.decidedAt, "when it was decided");
  assert.deepEqual([approved.planId, approved.owner, approved.reviewEvery], [request.planId, request.owner, request.reviewEvery]);
  // Two holds already: three more fit, then the group is hard (no second request).
  const after = [];
  for (let i = 0; i < 4; i++) after.push(await qg.reserve(user, "launch"));
  assert.deepEqual(after.map((d) => d.allowed), [true, true, true, false]);
  assert.deepEqual(after[3].reasons, ["limit_reached"]);
  assert.equal(after[3].denials[0].approvalId, undefined, "only an approval_pending denial names a request");
  assert.deepEqual((await qg.listApprovals({ status: "pending", userId: user })).data, []);
  assert.deepEqual((await qg.listApprovals({ status: "approved", userId: user })).data.map((a) => a.approvalId), [denial.approvalId]);

  for (const again of [() => qg.approve(denial.approvalId, { quota: 9 }), () => qg.decline(denial.approvalId, { reason: "too late" })]) {
    await assert.rejects(again(), (err) => {
      assert.ok(err instanceof QuotaGatewayError);
      assert.deepEqual([err.code, err.status, err.unavailable], ["approval_decided", 409, false]);
      return true;
    });
  }
  assert.equal((await qg.getApproval(denial.approvalId)).approvedQuota, 5, "the first decision stands");
});

test("a declined request keeps the group hard; an unknown request is approval_not_found", async () => {
  const qg = client();
  const user = await gated(qg);
  const approvalId = await opened(qg, user);
  const declined = await qg.decline(approvalId, { reason: "over budget this month" });
  assert.deepEqual([declined.status, declined.reason, declined.approvedQuota ?? null], ["declined", "over budget this month", null]);
  const denied = await qg.reserve(user, "launch");
  assert.deepEqual([denied.allowed, denied.reasons], [false, ["limit_reached"]]);
  await assert.rejects(qg.approve(approvalId, { quota: 10 }), (err) => err.code === "approval_decided");
  assert.deepEqual((await qg.listApprovals({ status: "declined", userId: user })).data.map((a) => a.approvalId), [approvalId]);

  for (const call of [() => qg.getApproval("apr_nope"), () => qg.approve("apr_nope", { quota: 1 }), () => qg.decline("apr_nope", { reason: "x" })]) {
    await assert.rejects(call(), (err) => err.code === "approval_not_found" && err.status === 404);
  }
  await assert.rejects(qg.decline(approvalId, { reason: "" }), (err) => err.code === "invalid_request" && err.field === "reason");
});

test("listApprovals pages the queue oldest first; approve takes expiresAt as a Date", async () => {
  const qg = client();
  const user = await gated(qg);
  const first = await opened(qg, user, "launch");
  const second = await opened(qg, user, "post");
  // One request a page, across the project's queue: follow nextCursor until it is null.
  const seen = [];
  let cursor;
  do {
    const page = await qg.listApprovals({ limit: 1, cursor });
    assert.ok(page.data.length <= 1);
    seen.push(...page.data.map((a) => a.approvalId));
    cursor = page.nextCursor ?? undefined;
  } while (cursor);
  assert.deepEqual(seen.filter((id) => id === first || id === second), [first, second]);
  assert.equal(new Set(seen).size, seen.length, "no request twice");
  const [gate, other] = [await qg.getApproval(first), await qg.getApproval(second)];
  assert.deepEqual([gate.owner, gate.reviewEvery, other.owner, other.reviewEvery], ["Dana (marketing)", "week", "growth-team", "month"],
    "a group without an owner of its own has the plan's");

  const end = new Date(Date.now() + 3_600_000);
  end.setMilliseconds(0);
  const approved = await qg.approve(second, { quota: 3, expiresAt: end });
  assert.equal(Date.parse(approved.expiresAt), end.getTime());
  await assert.rejects(qg.listApprovals({ status: "maybe" }), (err) => err.code === "invalid_request" && err.field === "status");
});

test("approve and decline are not retried once they may have arrived", async () => {
  const setup = client();
  // The answer lost after the gateway decided; a proxy's 502; an answer held past the deadline.
  for (const [behave, decided] of [[() => ({ dropAfter: true }), true], [() => html(502), false], [() => ({ delayMs: 3_000 }), true]]) {
    const user = await gated(setup);
    const approvalId = await opened(setup, user);
    const proxy = await standIn(env.baseUrl, behave);
    try {
      const qg = createClient({ apiKey: env.secret, baseUrl: proxy.url, timeoutMs: 2_000, maxRetries: 3 });
      await assert.rejects(qg.approve(approvalId, { quota: 5 }), (err) => err.code === "backend_unavailable");
      await assert.rejects(qg.decline(approvalId, { reason: "no" }), (err) => err.code === "backend_unavailable");
      assert.deepEqual(proxy.seen.map((s) => s.path.split("/").pop()), ["approve", "decline"], "one attempt each");
      assert.ok(proxy.seen.every((s) => s.key === null), "no Idempotency-Key: the gateway would not honour one");
    } finally {
      await proxy.close();
    }
    // What the caller learns after such a failure: whether the request was decided.
    assert.equal((await setup.getApproval(approvalId)).status, decided ? "approved" : "pending");
  }
});

test("a per-value group's counters name their value; past 64 values it denies too_many_values", async () => {
  const qg = client();
  await putPlan({
    id: "plan_per_model", periodType: "month",
    groups: [{ id: "per_model", unit: "count", quota: 1, per: "model", matches: [{ event: "image.render" }] }],
  });
  const user = freshUser("model");
  await qg.upsertSubscription({ userId: user, planId: "plan_per_model" });
  const a = await qg.reserve(user, "image.render", 1, { model: "flux-pro" });
  assert.deepEqual(a.counters.map((c) => [c.groupId, c.value, c.used + c.reserved]), [["per_model", "flux-pro", 1]]);
  const b = await qg.reserve(user, "image.render", 1, { model: "sdxl" });
  assert.deepEqual([b.allowed, b.counters[0].value], [true, "sdxl"], "another value has its own counter");
  const again = await qg.reserve(user, "image.render", 1, { model: "flux-pro" });
  assert.deepEqual([again.allowed, again.reasons, again.deniedBy, again.counters[0].value], [false, ["limit_reached"], ["per_model"], "flux-pro"]);
  const committed = await qg.commit(a.reservationId);
  assert.equal(committed.counters[0].value, "flux-pro");
  const usage = await qg.usage(user);
  assert.deepEqual(usage.counters.map((c) => c.value).sort(), ["flux-pro", "sdxl"], "usage lists the values counted");

  // 62 more values make 64; a 65th is denied, holding nothing.
  const more = await Promise.all(Array.from({ length: 62 }, (_, i) => qg.reserve(user, "image.render", 1, { model: `m${i}` })));
  assert.ok(more.every((d) => d.allowed));
  const tooMany = await qg.reserve(user, "image.render", 1, { model: "one-too-many" });
  assert.deepEqual([tooMany.allowed, tooMany.reasons, tooMany.deniedBy], [false, ["too_many_values"], ["per_model"]]);
  assert.deepEqual(tooMany.denials.map((d) => d.reason), ["too_many_values"]);
  await assert.rejects(qg.reserve(user, "image.render", 1, {}), (err) => err.code === "invalid_request" && err.field === "metadata.model");
});

test("setOverride and removeOverride with value change one value's quota of a per-value group", async () => {
  const qg = client();
  const user = freshUser("valueq");
  await putPlan({
    id: `plan_${user}`, periodType: "month",
    groups: [
      { id: "premium", unit: "count", quota: 5, per: "model", matches: [{ event: "image.render" }] },
      { id: "renders", unit: "count", quota: 100, matches: [{ event: "image.render" }] },
    ],
  });
  await qg.upsertSubscription({ userId: user, planId: `plan_${user}` });
  const quotas = async () => Object.fromEntries((await qg.usage(user)).counters.filter((c) => c.groupId === "premium").map((c) => [c.value, c.quota]));

  const set = await qg.setOverride(user, "premium", { quota: 7, value: "sdxl" });
  assert.deepEqual(Object.fromEntries(Object.entries(set.overrides).map(([k, o]) => [k, o.quota])), { "premium~sdxl": 7 }, "the value's, not the group's");
  // A reserve of each model makes both counters, so usage lists both.
  for (const model of ["sdxl", "flux-pro"]) assert.equal((await qg.reserve(user, "image.render", 1, { model })).allowed, true);
  assert.deepEqual(await quotas(), { sdxl: 7, "flux-pro": 5 });

  assert.deepEqual((await qg.removeOverride(user, "premium", { value: "sdxl" })).overrides, {});
  assert.deepEqual(await quotas(), { sdxl: 5, "flux-pro": 5 });

  await assert.rejects(qg.setOverride(user, "renders", { quota: 3, value: "sdxl" }), (err) => {
    assert.ok(err instanceof QuotaGatewayError);
    assert.deepEqual([err.code, err.status, err.field], ["invalid_request", 400, "value"]);
    assert.match(err.detail, /does not count per value/);
    return true;
  });
  // An empty value is sent for the gateway to refuse, never dropped into the group's override.
  await assert.rejects(qg.removeOverride(user, "premium", { value: "" }), (err) => err.code === "invalid_request" && err.field === "value");
});

test("a per-value approval group opens one request per value, each approved or declined on its own", async () => {
  const qg = client();
  const user = freshUser("pvgate");
  await putPlan({
    id: `plan_${user}`, periodType: "month",
    groups: [{ id: "premium", unit: "count", quota: 1, mode: "approval", per: "model", matches: [{ event: "render" }] }],
  });
  await qg.upsertSubscription({ userId: user, planId: `plan_${user}` });
  const ids = {};
  for (const model of ["flux", "sdxl"]) {
    assert.equal((await qg.reserve(user, "render", 1, { model })).allowed, true);
    // Parallel denials of one value name one request, that value's.
    const denied = await Promise.all(Array.from({ length: 6 }, () => qg.reserve(user, "render", 1, { model })));
    assert.deepEqual([...new Set(denied.map((d) => d.reasons.join()))], ["approval_pending"]);
    const named = [...new Set(denied.map((d) => d.denials[0].approvalId))];
    assert.equal(named.length, 1, `one request for ${model}: ${named}`);
    ids[model] = named[0];
  }
  assert.notEqual(ids.flux, ids.sdxl);
  const { data: pending } = await listed(qg, { status: "pending", userId: user }, 2);
  assert.deepEqual(pending.map((a) => [a.value, a.approvalId]).sort(), [["flux", ids.flux], ["sdxl", ids.sdxl]]);
  assert.equal((await qg.getApproval(ids.sdxl)).value, "sdxl");

  const approved = await qg.approve(ids.flux, { quota: 3 });
  assert.deepEqual([approved.status, approved.value, approved.approvedQuota], ["approved", "flux", 3]);
  const declined = await qg.decline(ids.sdxl, { reason: "not on this plan" });
  assert.deepEqual([declined.status, declined.value, declined.reason], ["declined", "sdxl", "not on this plan"]);
  assert.deepEqual(Object.keys((await qg.getSubscription(user)).overrides), ["premium~flux"], "the approval is the value's override");

  // flux holds one and has room for two more; sdxl stays at its quota.
  const flux = await Promise.all(Array.from({ length: 4 }, () => qg.reserve(user, "render", 1, { model: "flux" })));
  assert.equal(flux.filter((d) => d.allowed).length, 2);
  assert.deepEqual([...new Set(flux.filter((d) => !d.allowed).map((d) => d.reasons.join()))], ["limit_reached"]);
  const sdxl = await qg.reserve(user, "render", 1, { model: "sdxl" });
  assert.deepEqual([sdxl.allowed, sdxl.reasons, sdxl.counters[0].value], [false, ["limit_reached"], "sdxl"]);
  assert.deepEqual((await qg.listApprovals({ status: "pending", userId: user })).data, []);
});
