// Google Vertex AI through the gateway's proxy with the clients people call it with: Anthropic's
// `AnthropicVertex` (rawPredict, streamRawPredict), built by `qg.anthropicVertex` and
// `anthropicVertexForUserKey`, and Google's `GoogleGenAI` with `vertexai: true`
// (generateContent, streamGenerateContent), built by `qg.vertexGemini` and
// `vertexGeminiForUserKey`, against the provider simulator speaking Vertex AI: it mints access
// tokens from the service account's key the gateway holds (a JWT-bearer grant, its signature
// checked) and refuses any Vertex call without one of its own tokens, unexpired. Neither client
// holds a Google credential. Each call is charged exactly what the simulator reported, streams
// included; parallel calls are admitted exactly as the budget holds their worst cases; a denial
// is the client's own error; the gateway renews its token under load without failing a call.
import assert from "node:assert/strict";
import { test } from "node:test";
import { AnthropicVertex } from "@anthropic-ai/vertex-sdk";
import { ApiError, GoogleGenAI } from "@google/genai";
import { anthropicVertexForUserKey, createClient, proxyBaseUrl, vertexGeminiForUserKey } from "quota-gateway";
import { onOutputTokens, settledAt, useProxyGateway } from "./proxy-fixture.mjs";
import { TOKEN_LIFETIME_S, VERTEX_PROJECT } from "./simulator.mjs";

// Vertex's name for Claude: the version after `@`, which the gateway prices as Anthropic's own name.
const CLAUDE = "claude-haiku-4-5@20251001";
const CLAUDE_PRICED_AS = "claude-haiku-4-5-20251001";
const FLASH = "gemini-2.5-flash";
const CLAUDE_REGION = "us-east5";
const GEMINI_LOCATION = "us-central1";
const HELLO = [{ role: "user", content: "Say hello to the quota gateway" }];
const PROMPT = "Say hello to the quota gateway";
// The tokens the simulator mints.
const MINTED = /^Bearer ya29\.sim-[0-9a-f]{32}$/;

let sim;
const env = useProxyGateway((started) => {
  sim = started;
});

let qg;

/** A new user on a plan of its own: one group of `quota` output tokens that every Vertex call matches. */
function subscribed(quota, event = "vertex.*") {
  qg ??= createClient({ baseUrl: env.baseUrl, apiKey: env.secret });
  return onOutputTokens(qg, "vx", quota, event);
}

/** Anthropic's Vertex client for the user, through the gateway. */
const claudeFor = (userId, options = {}) => qg.anthropicVertex(AnthropicVertex, userId, { projectId: VERTEX_PROJECT, region: CLAUDE_REGION, ...options });
/** Google's client on Vertex AI for the user, through the gateway. */
const geminiFor = (userId, options = {}) => qg.vertexGemini(GoogleGenAI, userId, { project: VERTEX_PROJECT, location: GEMINI_LOCATION, ...options });

/** The Vertex calls (not the token grants) the simulator received. */
async function vertexRequests() {
  return (await sim.stats()).requests.filter((r) => r.path.includes("/publishers/"));
}

/**
 * Every Vertex call the simulator saw carried one of its own tokens, and nothing of the caller's:
 * no key of the gateway's (the project's or a user's), no quota header, no Google API key.
 */
async function onlyTheGatewaysToken(...callerKeys) {
  const requests = await vertexRequests();
  for (const request of requests) {
    assert.match(request.headers.authorization ?? "", MINTED);
    assert.equal(request.headers["x-goog-api-key"], undefined);
    for (const key of [env.secret, ...callerKeys]) assert.ok(!JSON.stringify(request).includes(key), "the caller's key never reaches Vertex");
    assert.ok(!Object.keys(request.headers).some((h) => h.toLowerCase().startsWith("x-quota-")), JSON.stringify(request.headers));
  }
  return requests;
}

/** The user's committed ledger entries as `[event, model]`. */
async function commits(userId) {
  const page = await qg.listUsageEvents({ userId });
  return page.data.filter((e) => e.kind === "commit").map((e) => [e.event, e.metadata.model]);
}

test("AnthropicVertex, plain and streamed, by rawPredict and streamRawPredict: charged exactly what Vertex reported, with the gateway's token", async () => {
  await sim.reset();
  const userId = await subscribed(1000);
  const claude = claudeFor(userId, { metadata: { feature: "summary" } });
  assert.ok(claude instanceof AnthropicVertex);
  const message = await claude.messages.create({ model: CLAUDE, max_tokens: 50, messages: HELLO }, { headers: { "x-sim": "output=7" } });
  assert.equal(message.usage.output_tokens, 7);
  const streamed = await claude.messages.stream({ model: CLAUDE, max_tokens: 50, messages: HELLO }, { headers: { "x-sim": "output=12" } }).finalMessage();
  assert.equal(streamed.usage.output_tokens, 12);
  assert.equal((await sim.stats()).usage.output_tokens, 19);
  assert.deepEqual(await settledAt(qg, userId, "output", 19), { used: 19, reserved: 0 });
  const requests = await onlyTheGatewaysToken();
  const at = `/v1/projects/${VERTEX_PROJECT}/locations/${CLAUDE_REGION}/publishers/anthropic/models/${CLAUDE}`;
  assert.deepEqual(requests.map((r) => r.path), [`${at}:rawPredict`, `${at}:streamRawPredict`]);
  for (const { body } of requests) {
    // Vertex's own version, or (as this client sends) the dated one of Anthropic's API it speaks.
    assert.match(body.anthropic_version, /^(vertex-2023-10-16|\d{4}-\d{2}-\d{2})$/);
    assert.equal(body.model, undefined, "the model is the path's");
  }
  const page = await qg.listUsageEvents({ userId });
  const committed = page.data.filter((e) => e.kind === "commit");
  assert.deepEqual(committed.map((e) => [e.event, e.metadata.model, e.metadata.feature]),
    Array(2).fill(["vertex.messages", CLAUDE_PRICED_AS, "summary"]));
  assert.deepEqual(committed.map((e) => e.metadata.output_tokens).sort((a, b) => a - b), [7, 12]);
});

test("GoogleGenAI on Vertex AI, plain and streamed: charged exactly what Vertex reported, the project's path, the gateway's token", async () => {
  await sim.reset();
  const userId = await subscribed(1000);
  const gemini = geminiFor(userId, { metadata: { feature: "chat" } });
  assert.ok(gemini instanceof GoogleGenAI);
  assert.equal(gemini.vertexai, true);
  // The worst case is maxOutputTokens, which bounds thoughts and text together: 6 of text, 4 of thoughts.
  const config = { maxOutputTokens: 20, thinkingConfig: { thinkingBudget: 64 }, httpOptions: { headers: { "x-sim": "output=6, reasoning=4" } } };
  const answer = await gemini.models.generateContent({ model: FLASH, contents: PROMPT, config });
  assert.deepEqual([answer.usageMetadata.candidatesTokenCount, answer.usageMetadata.thoughtsTokenCount], [6, 4]);
  let last;
  let text = "";
  for await (const chunk of await gemini.models.generateContentStream({ model: FLASH, contents: PROMPT, config: { maxOutputTokens: 20, httpOptions: { headers: { "x-sim": "output=3" } } } })) {
    text += chunk.text ?? "";
    last = chunk.usageMetadata;
  }
  assert.equal(text, "tok0 tok1 tok2");
  const stats = await sim.stats();
  const charged = 10 + last.candidatesTokenCount + (last.thoughtsTokenCount ?? 0);
  assert.equal(stats.usage.output_tokens, charged);
  assert.deepEqual(await settledAt(qg, userId, "output", charged), { used: charged, reserved: 0 });
  const requests = await onlyTheGatewaysToken();
  const at = `/v1beta1/projects/${VERTEX_PROJECT}/locations/${GEMINI_LOCATION}/publishers/google/models/${FLASH}`;
  assert.deepEqual(requests.map((r) => r.path), [`${at}:generateContent`, `${at}:streamGenerateContent`]);
  const page = await qg.listUsageEvents({ userId });
  const committed = page.data.filter((e) => e.kind === "commit");
  assert.deepEqual(committed.map((e) => [e.event, e.metadata.model, e.metadata.feature]), Array(2).fill(["vertex.generate", FLASH, "chat"]));
});

test("a denial is each client's own error, asked once, and never reaches Vertex: AnthropicVertex's RateLimitError, Google's ApiError", async () => {
  await sim.reset();
  const userId = await subscribed(10);
  let sent = 0;
  const counting = (url, init) => {
    sent++;
    return fetch(url, init);
  };
  const claude = claudeFor(userId, { fetch: counting });
  const denied = await claude.messages.create({ model: CLAUDE, max_tokens: 20, messages: HELLO }).then(() => assert.fail("the call was allowed"), (e) => e);
  assert.ok(denied instanceof AnthropicVertex.RateLimitError, String(denied));
  assert.equal(denied.status, 429);
  assert.equal(denied.headers.get("x-should-retry"), "false");
  assert.equal(denied.error.error.status, "RESOURCE_EXHAUSTED", "Google's error shape");
  const streamDenied = await claude.messages.create({ model: CLAUDE, max_tokens: 20, messages: HELLO, stream: true }).then(() => assert.fail("the stream was allowed"), (e) => e);
  assert.ok(streamDenied instanceof AnthropicVertex.RateLimitError, String(streamDenied));
  assert.equal(sent, 2, "one request each: not retried");

  const gemini = geminiFor(userId, { httpOptions: { fetch: counting } });
  const refused = await gemini.models.generateContent({ model: FLASH, contents: PROMPT, config: { maxOutputTokens: 20 } }).then(() => assert.fail("the call was allowed"), (e) => e);
  assert.ok(refused instanceof ApiError, String(refused));
  assert.equal(refused.status, 429);
  const body = JSON.parse(refused.message);
  assert.deepEqual([body.error.code, body.error.status], [429, "RESOURCE_EXHAUSTED"]);
  const streamRefused = await gemini.models.generateContentStream({ model: FLASH, contents: PROMPT, config: { maxOutputTokens: 20 } }).then(() => assert.fail("the stream was allowed"), (e) => e);
  assert.ok(streamRefused instanceof ApiError && streamRefused.status === 429, String(streamRefused));
  assert.equal(sent, 4, "one request each: not retried");

  const stats = await sim.stats();
  assert.equal(stats.calls, 0, "none reached Vertex");
  assert.deepEqual(await vertexRequests(), []);
  assert.deepEqual(await settledAt(qg, userId, "output", 0), { used: 0, reserved: 0 });
});

test("a hundred parallel calls from both clients against room for fifty worst cases: fifty admitted, each charged what Vertex reported", async () => {
  await sim.reset();
  const userId = await subscribed(500);
  const claude = claudeFor(userId);
  const gemini = geminiFor(userId);
  const outcomes = await Promise.all(Array.from({ length: 100 }, async (_, i) => {
    try {
      if (i % 2 === 0) {
        const message = await claude.messages.create({ model: CLAUDE, max_tokens: 10, messages: HELLO }, { headers: { "x-sim": "output=10" } });
        assert.equal(message.usage.output_tokens, 10);
      } else {
        const answer = await gemini.models.generateContent({ model: FLASH, contents: PROMPT, config: { maxOutputTokens: 10, httpOptions: { headers: { "x-sim": "output=10" } } } });
        assert.equal(answer.usageMetadata.candidatesTokenCount + (answer.usageMetadata.thoughtsTokenCount ?? 0), 10);
      }
      return "admitted";
    } catch (err) {
      if (i % 2 === 0) assert.ok(err instanceof AnthropicVertex.RateLimitError, String(err));
      else assert.ok(err instanceof ApiError && err.status === 429, String(err));
      return "denied";
    }
  }));
  assert.deepEqual([outcomes.filter((o) => o === "admitted").length, outcomes.filter((o) => o === "denied").length], [50, 50]);
  const stats = await sim.stats();
  assert.equal((await vertexRequests()).length, 50, "a denied call never reaches Vertex");
  assert.equal(stats.usage.output_tokens, 500);
  assert.deepEqual(await settledAt(qg, userId, "output", 500), { used: 500, reserved: 0 });
  await onlyTheGatewaysToken();
  const events = (await commits(userId)).map(([event, model]) => `${event} ${model}`);
  assert.equal(events.length, 50);
  assert.deepEqual([...new Set(events)].sort(), [`vertex.generate ${FLASH}`, `vertex.messages ${CLAUDE_PRICED_AS}`]);
});

test("under load for more than two token lifetimes, the gateway renews its token without failing a call, minting a few for hundreds of calls", async () => {
  await sim.reset();
  const userId = await subscribed(1_000_000);
  const claude = claudeFor(userId, { maxRetries: 0 });
  const gemini = geminiFor(userId);
  const lasting = (2 * TOKEN_LIFETIME_S + 3) * 1000;
  const started = Date.now();
  const calls = [];
  let i = 0;
  // Four calls every 200 ms, each client's in turn, for the whole span.
  while (Date.now() - started < lasting) {
    for (let k = 0; k < 4; k++, i++) {
      calls.push(i % 2 === 0
        ? claude.messages.create({ model: CLAUDE, max_tokens: 10, messages: HELLO }, { headers: { "x-sim": "output=3" } }).then((m) => m.usage.output_tokens)
        : gemini.models.generateContent({ model: FLASH, contents: PROMPT, config: { maxOutputTokens: 10, httpOptions: { headers: { "x-sim": "output=3" } } } })
          .then((a) => a.usageMetadata.candidatesTokenCount + (a.usageMetadata.thoughtsTokenCount ?? 0)));
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  const results = await Promise.allSettled(calls);
  const failed = results.filter((r) => r.status === "rejected").map((r) => String(r.reason));
  assert.deepEqual(failed, [], "no call failed");
  const total = results.reduce((sum, r) => sum + r.value, 0);
  assert.equal(total, 3 * calls.length);
  const stats = await sim.stats();
  assert.equal(stats.calls, calls.length + stats.clouds.tokens_minted, "each call reached Vertex once, beside the token grants");
  assert.equal(stats.usage.output_tokens, total);
  assert.deepEqual(await settledAt(qg, userId, "output", total), { used: total, reserved: 0 });
  const minted = stats.clouds.tokens_minted;
  assert.ok(minted >= 2, `renewed within ${lasting} ms: ${minted} minted`);
  assert.ok(minted * 10 <= calls.length, `${minted} tokens minted for ${calls.length} calls`);
  // The last calls the simulator kept, each with one of its tokens; more than one among them when
  // they span a renewal.
  await onlyTheGatewaysToken();
});

test("user keys call Vertex AI as their user from either client, their usage their own and their key never Vertex's", async () => {
  await sim.reset();
  const userId = await subscribed(1000);
  const { key } = await qg.createUserKey(userId, { label: "app" });
  assert.equal(proxyBaseUrl(env.baseUrl, "vertex"), `${env.baseUrl}/proxy/vertex`);
  const claude = anthropicVertexForUserKey(AnthropicVertex, env.baseUrl, key, { projectId: VERTEX_PROJECT, region: CLAUDE_REGION, maxRetries: 0 });
  assert.equal(claude.baseURL, `${env.baseUrl}/proxy/vertex/v1`);
  const message = await claude.messages.create({ model: CLAUDE, max_tokens: 20, messages: HELLO });
  const gemini = vertexGeminiForUserKey(GoogleGenAI, env.baseUrl, key, { project: VERTEX_PROJECT, location: GEMINI_LOCATION });
  const answer = await gemini.models.generateContent({ model: FLASH, contents: PROMPT, config: { maxOutputTokens: 20 } });
  const total = message.usage.output_tokens + answer.usageMetadata.candidatesTokenCount + (answer.usageMetadata.thoughtsTokenCount ?? 0);
  assert.equal((await sim.stats()).usage.output_tokens, total);
  assert.deepEqual(await settledAt(qg, userId, "output", total), { used: total, reserved: 0 });
  assert.deepEqual((await commits(userId)).map(([event]) => event).sort(), ["vertex.generate", "vertex.messages"]);
  await onlyTheGatewaysToken(key);
  assert.throws(() => anthropicVertexForUserKey(AnthropicVertex, env.baseUrl, env.secret, { projectId: VERTEX_PROJECT, region: CLAUDE_REGION }), /takes a user key/);
  assert.throws(() => vertexGeminiForUserKey(GoogleGenAI, env.baseUrl, env.secret, { project: VERTEX_PROJECT, location: GEMINI_LOCATION }), /takes a user key/);
});
