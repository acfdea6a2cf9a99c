// The Vercel AI SDK (`ai`) through the gateway's proxy, with its Google provider
// (`@ai-sdk/google`, Gemini's API) and its OpenAI provider (`@ai-sdk/openai`, chat completions),
// each made as the book's page on the AI SDK makes it (a base URL, the project's secret key, and
// `X-Quota-User`), against the provider simulator: `generateText` and `streamText` each settle
// exactly what the provider reported and answer the caller that same usage, and a denial is the
// AI SDK's `APICallError` (statusCode 429), asked once, the provider never called.
import assert from "node:assert/strict";
import { test } from "node:test";
import { createGoogleGenerativeAI } from "@ai-sdk/google";
import { createOpenAI } from "@ai-sdk/openai";
import { APICallError, embed, embedMany, generateText, streamText } from "ai";
import { createClient } from "quota-gateway";
import { freshUser, putPlan } from "./harness.mjs";
import { counter, PROVIDER_KEY, settledAt, useProxyGateway } from "./proxy-fixture.mjs";

const FLASH = "gemini-2.5-flash";
const MINI = "gpt-4o-mini";
const PROMPT = "Say hello to the quota gateway";

let sim;
const env = useProxyGateway((started) => {
  sim = started;
});

const textCalls = [{ event: "gemini.generate" }, { event: "openai.chat" }];
let qg;
let plans;

/**
 * The client and the plans, made by the first test that asks (node:test on Node 20 starts a
 * file's root-level `before` hooks without waiting for the harness's gateway).
 */
function ready() {
  plans ??= (async () => {
    qg = createClient({ baseUrl: env.baseUrl, apiKey: env.secret });
    // Every token of a text call (input + output, thoughts among the output) counts.
    await putPlan({ id: "vercel", periodType: "month", groups: [{ id: "tokens", unit: "tokens", quota: 1_000_000, matches: textCalls }] });
    // Less than any call's worst case: every call is denied before the provider sees it.
    await putPlan({ id: "vercel-tiny", periodType: "month", groups: [{ id: "tokens", unit: "tokens", quota: 10, matches: textCalls }] });
    // Embeddings' input tokens.
    await putPlan({ id: "vercel-embed", periodType: "month", groups: [{ id: "tokens", unit: "tokens", quota: 1_000_000, matches: [{ event: "gemini.embed" }] }] });
  })();
  return plans;
}

async function subscribed(planId = "vercel") {
  await ready();
  const userId = freshUser("vc");
  await qg.upsertSubscription({ userId, planId });
  return userId;
}

/** The user's `tokens` counter as `{used, reserved}`. */
const tokens = (userId) => counter(qg, userId, "tokens");
/** Waits until the `tokens` counter is `used` with nothing reserved; answers what it last read. */
const settled = (userId, used) => settledAt(qg, userId, "tokens", used);

/** The user's commit entries in the ledger, oldest first. */
async function commits(userId) {
  const page = await qg.listUsageEvents({ userId });
  return page.data.filter((e) => e.kind === "commit");
}

/** What the simulator reported since its last reset: `{input, output}` tokens (thoughts within the output). */
async function reported() {
  const { usage } = await sim.stats();
  return { input: usage.input_tokens, output: usage.output_tokens };
}

/** A fetch that counts the requests the AI SDK sends. */
function counting() {
  const counted = { sent: 0 };
  counted.fetch = (url, init) => {
    counted.sent++;
    return fetch(url, init);
  };
  return counted;
}

// As the book makes them: the gateway's base URL for the upstream, the project's secret key, the user.
const googleFor = (userId, extra = {}) =>
  createGoogleGenerativeAI({
    baseURL: `${env.baseUrl}/proxy/gemini/v1beta`,
    apiKey: env.secret,
    headers: { "X-Quota-User": encodeURIComponent(userId) },
    ...extra,
  });
const openaiFor = (userId, extra = {}) =>
  createOpenAI({
    baseURL: `${env.baseUrl}/proxy/openai/v1`,
    apiKey: env.secret,
    headers: { "X-Quota-User": encodeURIComponent(userId) },
    ...extra,
  });

/** The provider never saw the caller's key or a quota header, and got its own key. */
async function keptFromProvider(keyHeader, expected) {
  const { requests } = await sim.stats();
  assert.ok(requests.length > 0);
  for (const request of requests) {
    assert.equal(request.headers[keyHeader], expected);
    assert.ok(!JSON.stringify(request).includes(env.secret), "the caller's key never reaches the provider");
    assert.ok(!Object.keys(request.headers).some((h) => h.startsWith("x-quota-")), JSON.stringify(request.headers));
  }
  return requests;
}

test("Google's provider: generateText and streamText settle what the provider reported, and answer it", async () => {
  await sim.reset();
  const userId = await subscribed();
  const google = googleFor(userId);
  // Thinking asked for: the provider reports 6 tokens of text and 4 of thoughts, both output.
  const providerOptions = { google: { thinkingConfig: { thinkingBudget: 64 } } };

  const answer = await generateText({
    model: google(FLASH), prompt: PROMPT, maxOutputTokens: 50, maxRetries: 0, providerOptions,
    headers: { "x-sim": "output=6, reasoning=4" },
  });
  assert.equal(answer.text, "tok0 tok1 tok2 tok3 tok4 tok5");
  let sent = await reported();
  assert.deepEqual([sent.output, answer.usage.outputTokens, answer.usage.outputTokenDetails.reasoningTokens], [10, 10, 4]);
  assert.equal(answer.usage.inputTokens, sent.input);
  assert.equal(answer.usage.totalTokens, sent.input + sent.output);
  const first = sent.input + sent.output;
  assert.deepEqual(await settled(userId, first), { used: first, reserved: 0 });

  const stream = streamText({
    model: google(FLASH), prompt: PROMPT, maxOutputTokens: 50, maxRetries: 0, providerOptions,
    headers: { "x-sim": "output=3, reasoning=2" },
    onError: ({ error }) => assert.fail(String(error)),
  });
  let text = "";
  for await (const piece of stream.textStream) text += piece;
  assert.equal(text, "tok0 tok1 tok2");
  const usage = await stream.usage;
  sent = await reported();
  assert.deepEqual([usage.outputTokens, usage.outputTokenDetails.reasoningTokens], [5, 2]);
  assert.equal(first + usage.inputTokens + usage.outputTokens, sent.input + sent.output);
  const total = sent.input + sent.output;
  assert.deepEqual(await settled(userId, total), { used: total, reserved: 0 });

  const requests = await keptFromProvider("x-goog-api-key", PROVIDER_KEY);
  assert.deepEqual(requests.map((r) => [r.path, r.query]), [
    [`/v1beta/models/${FLASH}:generateContent`, ""],
    [`/v1beta/models/${FLASH}:streamGenerateContent`, "alt=sse"],
  ]);
  assert.equal(requests[1].body.generationConfig.maxOutputTokens, 50);

  const entries = await commits(userId);
  assert.deepEqual(entries.map((e) => [e.event, e.quantity, e.metadata.stream, e.metadata.usage]), [
    ["gemini.generate", first, false, "reported"],
    ["gemini.generate", total - first, true, "reported"],
  ]);
  assert.deepEqual(
    [entries[1].metadata.input_tokens, entries[1].metadata.output_tokens, entries[1].metadata.reasoning_tokens, entries[1].metadata.model],
    [usage.inputTokens, 5, 2, FLASH],
  );
});

test("Google's provider: embed and embedMany are charged the tokens Google counts for them", async () => {
  await sim.reset();
  const userId = await subscribed("vercel-embed");
  const model = googleFor(userId).textEmbeddingModel("gemini-embedding-001");
  const one = await embed({ model, value: PROMPT, maxRetries: 0 });
  assert.equal(one.embedding.length, 8);
  const many = await embedMany({ model, values: ["first text", "and the second"], maxRetries: 0 });
  assert.equal(many.embeddings.length, 2);
  // What Google bills: countTokens of the same contents, each text a content of its own.
  const count = async (...texts) => {
    const response = await fetch(`${sim.url}/v1beta/models/gemini-embedding-001:countTokens`, {
      method: "POST",
      headers: { "x-goog-api-key": PROVIDER_KEY, "Content-Type": "application/json" },
      body: JSON.stringify({ contents: texts.map((text) => ({ role: "user", parts: [{ text }] })) }),
    });
    return (await response.json()).totalTokens;
  };
  const counted = [await count(PROMPT), await count("first text", "and the second")];
  const entries = await commits(userId);
  assert.deepEqual(entries.map((e) => [e.event, e.metadata.input_tokens, e.metadata.output_tokens, e.metadata.usage]), [
    ["gemini.embed", counted[0], 0, "reported"],
    ["gemini.embed", counted[1], 0, "reported"],
  ]);
  const total = counted[0] + counted[1];
  assert.deepEqual(await settled(userId, total), { used: total, reserved: 0 });
});

test("Google's provider: a denial is APICallError 429 in Google's shape, asked once, the provider never called", async () => {
  await sim.reset();
  const userId = await subscribed("vercel-tiny");
  const counted = counting();
  const google = googleFor(userId, { fetch: counted.fetch });

  const err = await generateText({ model: google(FLASH), prompt: PROMPT, maxOutputTokens: 50, maxRetries: 0 })
    .then(() => assert.fail("the call was allowed"), (e) => e);
  assert.ok(APICallError.isInstance(err), String(err));
  assert.equal(err.statusCode, 429);
  assert.equal(err.isRetryable, true, "the AI SDK would retry a 429 but for maxRetries: 0");
  assert.match(err.message, /more than its whole quota of 10: lower generationConfig\.maxOutputTokens/);
  const body = JSON.parse(err.responseBody);
  assert.deepEqual([body.error.code, body.error.status], [429, "RESOURCE_EXHAUSTED"]);
  assert.deepEqual(
    [err.responseHeaders["x-quota-reasons"], err.responseHeaders["x-quota-denied-by"], err.responseHeaders["x-quota-code"]],
    ["limit_reached", "tokens", "insufficient_quota"],
  );

  // streamText does not throw: the denial ends the stream, through onError.
  const errors = [];
  const stream = streamText({ model: google(FLASH), prompt: PROMPT, maxOutputTokens: 50, maxRetries: 0, onError: ({ error }) => errors.push(error) });
  let text = "";
  for await (const piece of stream.textStream) text += piece;
  assert.equal(text, "");
  assert.equal(errors.length, 1);
  assert.ok(APICallError.isInstance(errors[0]) && errors[0].statusCode === 429, String(errors[0]));

  assert.equal(counted.sent, 2, "one request each: not retried");
  assert.equal((await sim.stats()).calls, 0);
  assert.deepEqual(await tokens(userId), { used: 0, reserved: 0 });
});

test("OpenAI's provider: generateText and streamText (which asks for its stream's usage) settle what the provider reported", async () => {
  await sim.reset();
  const userId = await subscribed();
  const openai = openaiFor(userId);

  const answer = await generateText({
    model: openai.chat(MINI), prompt: PROMPT, maxOutputTokens: 50, maxRetries: 0, headers: { "x-sim": "output=4" },
  });
  assert.equal(answer.text, "tok0 tok1 tok2 tok3");
  let sent = await reported();
  assert.deepEqual([answer.usage.inputTokens, answer.usage.outputTokens], [sent.input, 4]);
  const first = sent.input + sent.output;
  assert.deepEqual(await settled(userId, first), { used: first, reserved: 0 });

  const stream = streamText({
    model: openai.chat(MINI), prompt: PROMPT, maxOutputTokens: 50, maxRetries: 0, headers: { "x-sim": "output=5" },
    onError: ({ error }) => assert.fail(String(error)),
  });
  let text = "";
  for await (const piece of stream.textStream) text += piece;
  assert.equal(text, "tok0 tok1 tok2 tok3 tok4");
  const usage = await stream.usage;
  sent = await reported();
  // The provider's usage chunk reached the AI SDK, which asked for it.
  assert.equal(usage.outputTokens, 5);
  assert.equal(first + usage.inputTokens + usage.outputTokens, sent.input + sent.output);
  const total = sent.input + sent.output;
  assert.deepEqual(await settled(userId, total), { used: total, reserved: 0 });

  const requests = await keptFromProvider("authorization", `Bearer ${PROVIDER_KEY}`);
  assert.deepEqual(requests.map((r) => r.path), ["/v1/chat/completions", "/v1/chat/completions"]);
  assert.equal(requests[0].body.max_tokens, 50);
  assert.equal(requests[1].body.stream, true);
  assert.deepEqual(requests[1].body.stream_options, { include_usage: true }, "the AI SDK asks for the stream's usage itself");

  const entries = await commits(userId);
  assert.deepEqual(entries.map((e) => [e.event, e.quantity, e.metadata.stream, e.metadata.usage, e.metadata.output_tokens]), [
    ["openai.chat", first, false, "reported", 4],
    ["openai.chat", total - first, true, "reported", 5],
  ]);
});

test("OpenAI's provider: a denial is APICallError 429 (insufficient_quota), asked once, the provider never called", async () => {
  await sim.reset();
  const userId = await subscribed("vercel-tiny");
  const counted = counting();
  const openai = openaiFor(userId, { fetch: counted.fetch });

  const err = await generateText({ model: openai.chat(MINI), prompt: PROMPT, maxOutputTokens: 50, maxRetries: 0 })
    .then(() => assert.fail("the call was allowed"), (e) => e);
  assert.ok(APICallError.isInstance(err), String(err));
  assert.equal(err.statusCode, 429);
  assert.match(err.message, /more than its whole quota of 10/);
  assert.equal(JSON.parse(err.responseBody).error.code, "insufficient_quota");
  assert.deepEqual([err.responseHeaders["x-quota-code"], err.responseHeaders["x-should-retry"]], ["insufficient_quota", "false"]);

  const errors = [];
  const stream = streamText({ model: openai.chat(MINI), prompt: PROMPT, maxOutputTokens: 50, maxRetries: 0, onError: ({ error }) => errors.push(error) });
  let text = "";
  for await (const piece of stream.textStream) text += piece;
  assert.equal(text, "");
  assert.equal(errors.length, 1);
  assert.ok(APICallError.isInstance(errors[0]) && errors[0].statusCode === 429, String(errors[0]));

  assert.equal(counted.sent, 2, "one request each: not retried");
  assert.equal((await sim.stats()).calls, 0);
  assert.deepEqual(await tokens(userId), { used: 0, reserved: 0 });
});
