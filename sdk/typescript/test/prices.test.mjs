// Prices and fit through the client against a real gateway: the model catalog; the project's
// own prices set, listed, read and removed (a removed one read again is a typed
// price_not_found); a cents group priced by the catalog with a markup, whose reserve and commit
// count the catalog's price times the counts times the markup, and whose ledger says where each
// price came from; an unpriced model denied (and its track refused); holds that clamp, with what
// they were granted; and a provider call made within withReservation with its maximum output
// lowered to what a clamped reserve granted.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";
import { createClient, limitOutput, QuotaGatewayError } from "quota-gateway";
import ts from "typescript";
import { freshUser, putPlan, useGateway } from "./harness.mjs";

const env = useGateway();
const client = () => createClient({ apiKey: env.secret, baseUrl: env.baseUrl });

/** A user of its own on `plan`. */
async function subscribed(plan) {
  await putPlan(plan);
  const user = freshUser("price");
  await client().upsertSubscription({ userId: user, planId: plan.id });
  return user;
}

/** A plan with one cents group that prices `llm.*` calls by their model. */
const pricedPlan = (id, measure, extra = {}) => ({
  id, periodType: "month",
  groups: [{ id: "spend", unit: "cents", quota: 1000, measure, ...extra, matches: [{ event: "llm.*" }] }],
});

/**
 * What the gateway counts, in cents: the counts times the prices (USD per million tokens) times
 * the markup, rounded up once to a thousandth of a cent; worked out exactly, in integers.
 */
function cents(price, counts, markup) {
  const micro = (usd) => BigInt(Math.round(usd * 1e6));
  const femtoUsd = BigInt(counts.input * 1000) * micro(price.inputPerMillion) + BigInt(counts.output * 1000) * micro(price.outputPerMillion);
  const product = femtoUsd * micro(markup); // 10^-16 thousandths of a cent
  const scale = 10n ** 16n;
  return Number((product + scale - 1n) / scale) / 1000;
}

test("catalog answers its version and every model with its prices, limits and source", async () => {
  const catalog = await client().catalog();
  assert.equal(typeof catalog.version, "string");
  assert.ok(catalog.version.length > 0);
  assert.ok(catalog.models.length > 10);
  const model = catalog.models.find((m) => m.model === "gpt-4.1");
  assert.ok(model, "the catalog lists gpt-4.1");
  assert.equal(model.provider, "openai");
  assert.ok(model.inputPerMillion > 0 && model.outputPerMillion > model.inputPerMillion);
  assert.ok(Array.isArray(model.aliases));
  assert.ok(model.contextWindow > 0 && model.maxOutputTokens > 0);
  assert.match(model.asOf, /^\d{4}-\d{2}-\d{2}$/);
  assert.match(model.source, /^https:\/\//);
  for (const m of catalog.models) assert.ok(["openai", "anthropic", "google", "mistral", "bedrock"].includes(m.provider), m.model);
});

test("setPrice, prices, price and deletePrice; a removed price reads as price_not_found", async () => {
  const qg = client();
  const model = `acme/fine-tune:${freshUser("v")}`; // a slash and a colon: one path segment
  const set = await qg.setPrice(model, { inputPerMillion: 1.25, outputPerMillion: 5, cachedInputPerMillion: 0.125, perImage: { "hd/1024x1024": 0.08 } });
  assert.deepEqual(
    [set.model, set.inputPerMillion, set.outputPerMillion, set.cachedInputPerMillion, set.perImage, set.catalog],
    [model, 1.25, 5, 0.125, { "hd/1024x1024": 0.08 }, null],
  );
  assert.ok(!Number.isNaN(Date.parse(set.updatedAt)));

  // Beside a catalog model's own price, the catalog's for comparison.
  const catalog = (await qg.catalog()).models.find((m) => m.model === "gpt-4.1-mini");
  const mini = await qg.setPrice("gpt-4.1-mini", { inputPerMillion: 0.3, outputPerMillion: 1.2 });
  assert.deepEqual([mini.catalog.inputPerMillion, mini.catalog.outputPerMillion], [catalog.inputPerMillion, catalog.outputPerMillion]);

  const listed = await qg.prices();
  assert.equal(listed.nextCursor, null);
  assert.deepEqual(listed.data.map((p) => p.model).filter((m) => m === model || m === "gpt-4.1-mini").sort(), ["gpt-4.1-mini", model].sort());
  const read = await qg.price(model);
  assert.deepEqual(read, set);

  const updated = await qg.setPrice(model, { inputPerMillion: 2, outputPerMillion: 6 });
  assert.deepEqual([updated.inputPerMillion, updated.outputPerMillion, updated.cachedInputPerMillion, updated.perImage], [2, 6, undefined, undefined]);

  assert.equal(await qg.deletePrice(model), undefined);
  await qg.deletePrice("gpt-4.1-mini");
  for (const attempt of [() => qg.price(model), () => qg.deletePrice(model)]) {
    await assert.rejects(attempt, (err) => {
      assert.ok(err instanceof QuotaGatewayError);
      assert.deepEqual([err.code, err.status, err.unavailable], ["price_not_found", 404, false]);
      return true;
    });
  }
  assert.ok(!(await qg.prices()).data.some((p) => p.model === model));

  await assert.rejects(qg.setPrice(model, { inputPerMillion: -1, outputPerMillion: 1 }), (err) => {
    assert.deepEqual([err.code, err.status, err.field], ["invalid_request", 400, "inputPerMillion"]);
    return true;
  });
});

test("a long-context tier prices a call past its threshold whole at the tier; batch prices are kept", async () => {
  const qg = client();
  const pro = (await qg.catalog()).models.find((m) => m.model === "gemini-2.5-pro");
  assert.deepEqual([pro.longContext.overInputTokens, pro.longContext.inputPerMillion, pro.longContext.outputPerMillion], [200000, 2.5, 15]);
  assert.ok(pro.batch.inputPerMillion < pro.inputPerMillion);
  const model = `acme/long:${freshUser("v")}`;
  const longContext = { overInputTokens: 200000, inputPerMillion: 2.5, cachedInputPerMillion: 0.25, outputPerMillion: 15 };
  const batch = { inputPerMillion: 0.625, outputPerMillion: 5 };
  try {
    const set = await qg.setPrice(model, { inputPerMillion: 1.25, outputPerMillion: 10, longContext, batch });
    assert.deepEqual([set.longContext, set.batch], [longContext, batch]);
    assert.deepEqual(await qg.price(model), set);
    const user = await subscribed(pricedPlan("plan_priced_tier", { price: "catalog" }));
    // At the threshold, the base prices; one token past it, every token at the tier's.
    const at = await qg.track(user, "llm.chat", 1, { model, input_tokens: 200000, output_tokens: 1000 });
    assert.equal(at.counters[0].used, cents({ inputPerMillion: 1.25, outputPerMillion: 10 }, { input: 200000, output: 1000 }, 1));
    const over = await qg.track(user, "llm.chat", 1, { model, input_tokens: 200001, output_tokens: 1000 });
    const milli = (cents) => Math.round(cents * 1000);
    assert.equal(milli(over.counters[0].used - at.counters[0].used), milli(cents(longContext, { input: 200001, output: 1000 }, 1)));
    await assert.rejects(qg.setPrice(model, { inputPerMillion: 1, outputPerMillion: 1, longContext: { ...longContext, overInputTokens: 0 } }), (err) => {
      assert.deepEqual([err.code, err.field], ["invalid_request", "longContext.overInputTokens"]);
      return true;
    });
  } finally {
    await qg.deletePrice(model);
  }
});

test("a cents group priced by the catalog counts the catalog's price times the counts times the markup", async () => {
  const qg = client();
  const user = await subscribed(pricedPlan("plan_priced_catalog", { price: "catalog", markup: 1.2 }));
  const catalog = await qg.catalog();
  const price = catalog.models.find((m) => m.model === "gpt-4.1");

  const hold = await qg.reserve(user, "llm.chat", 1, { model: "gpt-4.1", input_tokens: 1000, output_tokens: 500 });
  assert.equal(hold.allowed, true);
  assert.equal(hold.granted, null, "held whole");
  assert.equal(hold.counters[0].reserved, cents(price, { input: 1000, output: 500 }, 1.2));

  const used = cents(price, { input: 1234, output: 567 }, 1.2);
  const committed = await qg.commit(hold.reservationId, { metadata: { input_tokens: 1234, output_tokens: 567 } });
  assert.deepEqual([committed.counters[0].used, committed.counters[0].reserved], [used, 0]);

  // The ledger says which price counted it: the catalog's, with its version.
  const [entry] = (await qg.listUsageEvents({ userId: user })).data.filter((e) => e.kind === "commit");
  assert.deepEqual(entry.groups.map((g) => [g.groupId, g.amount, g.price]), [["spend", used, { source: "catalog", catalogVersion: catalog.version, model: "gpt-4.1" }]]);

  // The project's own price beats the catalog's, and the ledger says so.
  const model = `acme/tuned-${freshUser("m")}`;
  await qg.setPrice(model, { inputPerMillion: 3, outputPerMillion: 9 });
  try {
    const tuned = await qg.reserve(user, "llm.chat", 1, { model, input_tokens: 100, output_tokens: 100 });
    assert.equal(tuned.allowed, true);
    const done = await qg.commit(tuned.reservationId);
    assert.equal(done.counters[0].used, used + cents({ inputPerMillion: 3, outputPerMillion: 9 }, { input: 100, output: 100 }, 1.2));
    const last = (await qg.listUsageEvents({ userId: user })).data.filter((e) => e.kind === "commit").at(-1);
    assert.deepEqual(last.groups[0].price, { source: "override", model });
  } finally {
    await qg.deletePrice(model);
  }
});

test("a model no price covers is denied unpriced_model, the denial naming it; its track is refused", async () => {
  const qg = client();
  const user = await subscribed(pricedPlan("plan_priced_unpriced", { price: "catalog" }));
  const model = "no-such-model-7";
  const denied = await qg.reserve(user, "llm.chat", 1, { model, input_tokens: 10, output_tokens: 10 });
  assert.deepEqual([denied.allowed, denied.reasons, denied.deniedBy, denied.reservationId, denied.granted], [false, ["unpriced_model"], ["spend"], null, null]);
  assert.deepEqual(denied.denials, [{ subjectId: user, groupId: "spend", reason: "unpriced_model", model }]);
  assert.deepEqual((await qg.canUse(user, "llm.chat", 1, { model })).reasons, ["unpriced_model"]);
  await assert.rejects(qg.track(user, "llm.chat", 1, { model, input_tokens: 10, output_tokens: 10 }), (err) => {
    assert.ok(err instanceof QuotaGatewayError);
    assert.deepEqual([err.code, err.status, err.unavailable], ["unpriced_model", 422, false]);
    return true;
  });
  assert.equal((await qg.usage(user)).counters[0].used, 0, "nothing was counted");
  // Priced by the project, the same call is admitted.
  await qg.setPrice(model, { inputPerMillion: 1, outputPerMillion: 1 });
  try {
    assert.equal((await qg.reserve(user, "llm.chat", 1, { model, input_tokens: 10, output_tokens: 10 })).allowed, true);
  } finally {
    await qg.deletePrice(model);
  }
});

test("a clamping group grants what is left: 10 of 15, then 5 of 10", async () => {
  const qg = client();
  const user = await subscribed({ id: "plan_clamp", periodType: "month", groups: [{ id: "g", unit: "count", quota: 15, fit: "clamp", matches: [{ event: "*" }] }] });
  const first = await qg.reserve(user, "render", 10);
  assert.deepEqual([first.allowed, first.granted], [true, null]);
  const second = await qg.reserve(user, "render", 10);
  assert.equal(second.allowed, true);
  assert.deepEqual(second.granted, { quantity: 5, outputTokens: null });
  assert.deepEqual([second.counters[0].reserved, second.counters[0].remaining], [15, 0]);
  const third = await qg.reserve(user, "render", 10);
  assert.deepEqual([third.allowed, third.reasons, third.granted], [false, ["limit_reached"], null]);
  await qg.release(second.reservationId);
  // minFit: less than 6 left is denied; a reserve's fit: "whole" clamps nothing.
  assert.deepEqual((await qg.reserve(user, "render", 10, undefined, { minFit: 6 })).reasons, ["limit_reached"]);
  assert.deepEqual((await qg.reserve(user, "render", 10, undefined, { fit: "whole" })).reasons, ["limit_reached"]);
  const check = await qg.canUse(user, "render", 10);
  assert.deepEqual([check.allowed, check.granted], [true, { quantity: 5, outputTokens: null }]);
  await assert.rejects(qg.reserve(user, "render", 10, undefined, { fit: "whole", minFit: 2 }), (err) => err.code === "invalid_request" && err.field === "minFit");
});

test("a reserve's fit: clamp lets a hard group clamp that does not by itself", async () => {
  const qg = client();
  const user = await subscribed({ id: "plan_whole", periodType: "month", groups: [{ id: "g", unit: "count", quota: 15, matches: [{ event: "*" }] }] });
  await qg.reserve(user, "render", 10);
  assert.deepEqual((await qg.reserve(user, "render", 10)).reasons, ["limit_reached"]);
  const clamped = await qg.reserve(user, "render", 10, undefined, { fit: "clamp", minFit: 5 });
  assert.deepEqual([clamped.allowed, clamped.granted], [true, { quantity: 5, outputTokens: null }]);
});

test("withReservation hands a clamped reserve's output tokens to the provider call, its maximum lowered", async () => {
  const qg = client();
  const user = await subscribed(pricedPlan("plan_priced_clamp", { price: "catalog" }, { quota: 1 }));
  const price = (await qg.catalog()).models.find((m) => m.model === "gpt-4.1");
  const asked = [];
  /** Stands in for the provider: answers no more output than the request's maximum. */
  const create = async (request) => {
    asked.push(request);
    return { usage: { prompt_tokens: 1000, completion_tokens: Math.min(request.max_completion_tokens, 400) } };
  };
  const request = { model: "gpt-4.1", messages: [{ role: "user", content: "hi" }], max_completion_tokens: 4000 };
  const done = await qg.withReservation(user, "llm.chat", 1, { model: "gpt-4.1", input_tokens: 1000, output_tokens: 4000 },
    async ({ granted, limitOutput, report }) => {
      const answer = await create(limitOutput(request));
      report({ metadata: { input_tokens: answer.usage.prompt_tokens, output_tokens: answer.usage.completion_tokens } });
      return granted;
    }, { fit: "clamp", minFit: 100 });
  assert.equal(done.allowed, true);
  // The most output whose price, beside the input's, fits in the 1 cent the group has.
  const granted = done.value;
  assert.ok(granted.outputTokens >= 100 && granted.outputTokens < 4000, JSON.stringify(granted));
  assert.ok(cents(price, { input: 1000, output: granted.outputTokens }, 1) <= 1);
  assert.ok(cents(price, { input: 1000, output: granted.outputTokens + 1 }, 1) > 1);
  assert.deepEqual(done.decision.granted, granted);
  assert.equal(asked[0].max_completion_tokens, granted.outputTokens, "the provider was asked for no more than was granted");
  assert.equal(request.max_completion_tokens, 4000, "the caller's request is left as it was");
  assert.equal(done.commit.counters[0].used, cents(price, { input: 1000, output: 400 }, 1));
});

test("limitOutput lowers each maximum the request names, shares it among n choices, and leaves a whole hold's request alone", () => {
  const clamped = { granted: { quantity: 1, outputTokens: 900 } };
  assert.deepEqual(limitOutput(clamped, { max_tokens: 4000 }), { max_tokens: 900 });
  assert.deepEqual(limitOutput(clamped, { max_tokens: 500 }), { max_tokens: 500 }, "never raised");
  assert.deepEqual(limitOutput(clamped, { max_completion_tokens: 4000, n: 2 }), { max_completion_tokens: 450, n: 2 });
  assert.deepEqual(limitOutput(clamped, { max_output_tokens: 4000 }), { max_output_tokens: 900 });
  assert.deepEqual(limitOutput(clamped, { model: "m" }), { model: "m", max_tokens: 900 });
  assert.deepEqual(limitOutput(clamped, { model: "m" }, "max_completion_tokens"), { model: "m", max_completion_tokens: 900 });
  assert.deepEqual(limitOutput({ granted: { quantity: 1, outputTokens: 1 } }, { max_tokens: 10, n: 4 }), { max_tokens: 1, n: 4 });
  const request = { max_tokens: 4000 };
  assert.equal(limitOutput({ granted: null }, request), request);
  assert.equal(limitOutput({ granted: { quantity: 5, outputTokens: null } }, request), request);
});

/** The ```ts blocks of the README's prices section. */
function readmeBlocks() {
  const readme = readFileSync(new URL("../README.md", import.meta.url), "utf8");
  const section = readme.split("\n## Prices, the catalog and fit\n")[1].split("\n## ")[0];
  return [...section.matchAll(/```ts\n([\s\S]*?)```/g)].map((m) => m[1]);
}

/** TypeScript as the JavaScript an async function of `names` runs. */
function asFunction(code, names, tail = "") {
  const { outputText } = ts.transpileModule(code, { compilerOptions: { target: ts.ScriptTarget.ES2022, module: ts.ModuleKind.ESNext } });
  const AsyncFunction = (async () => {}).constructor;
  return new AsyncFunction(...names, `${outputText.replace(/^export \{\};$/m, "")}\n${tail}`);
}

test("the README's catalog and price calls run as written", async () => {
  const [code] = readmeBlocks().filter((c) => c.includes("qg.catalog()"));
  assert.ok(code, "the README's prices section reads the catalog");
  const qg = client();
  const { gpt, prices } = await asFunction(code, ["qg"], "return { gpt, prices };")(qg);
  assert.equal(gpt.model, "gpt-4.1");
  assert.ok(prices.some((p) => p.model === "ft:gpt-4.1:acme:support"), "listed while it was set");
  await assert.rejects(qg.price("ft:gpt-4.1:acme:support"), (err) => err.code === "price_not_found");
});

test("the README's fit recipe asks the provider for what the user's cents cover", async () => {
  const [code] = readmeBlocks().filter((c) => c.includes("async function chat"));
  assert.ok(code, "the README's prices section defines chat");
  const chat = await asFunction(code, [], "return chat;")();
  const qg = client();
  const user = await subscribed(pricedPlan("plan_readme_fit", { price: "catalog", markup: 1.2 }, { quota: 5 }));
  const asked = [];
  const openai = { chat: { completions: { create: async (request) => {
    asked.push(request.max_completion_tokens);
    const used = Math.min(request.max_completion_tokens, 300);
    return { choices: [{ message: { content: `${used} tokens` } }], usage: { prompt_tokens: 1200, completion_tokens: used } };
  } } } };
  const messages = [{ role: "user", content: "hi" }];
  // 5 cents at cost plus 20 %: whole answers while they fit, then shorter ones, then none once
  // less than 200 tokens of answer are left.
  const answers = [];
  for (let i = 0; i < 30 && answers.at(-1) !== null; i++) answers.push(await chat(qg, openai, user, messages));
  assert.equal(answers.at(-1), null, "denied in the end");
  assert.ok(answers.slice(0, -1).every((a) => a === "300 tokens"));
  assert.equal(asked[0], 4000, "the budget covered the whole answer");
  assert.ok(asked.some((n) => n < 4000), `a shorter answer was asked for: ${asked}`);
  assert.ok(asked.every((n) => n >= 200), `never less than minFit: ${asked}`);
  const spent = (await qg.usage(user)).counters[0];
  assert.ok(spent.used <= 5 && spent.reserved === 0, JSON.stringify(spent));
});
