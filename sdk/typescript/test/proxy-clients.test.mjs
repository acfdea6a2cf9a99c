// The providers' official clients (`openai`, `@anthropic-ai/sdk`) through the gateway's proxy,
// built by `qg.openai` / `qg.anthropic` and, for a browser's user key, `openaiForUserKey`, against
// the provider simulator: what a caller sees (its stream, its errors) and what the gateway
// counted (the counters, the ledger) must both match what the provider reported.
import assert from "node:assert/strict";
import { test } from "node:test";
import Anthropic from "@anthropic-ai/sdk";
import OpenAI from "openai";
import { createClient, openaiForUserKey, proxyBaseUrl, proxyReservationId } from "quota-gateway";
import { freshUser, putPlan } from "./harness.mjs";
import { counter, PROVIDER_KEY, settledAt, useProxyGateway } from "./proxy-fixture.mjs";

const MODEL = "gpt-4o-mini";
const CLAUDE = "claude-sonnet-5";
const PROMPT = [{ role: "user", content: "Say hello to the world in five words" }];

let sim;
const env = useProxyGateway((started) => {
  sim = started;
});

const textCalls = [{ event: "openai.chat" }, { event: "anthropic.messages" }];
let qg;
let plans;

/**
 * The client and the plans, made by the first test that asks: node:test (Node 20) starts a
 * file's root-level `before` hooks without waiting for the ones before, so a hook of this file
 * could run before the harness's gateway is up.
 */
function ready() {
  plans ??= (async () => {
    qg = createClient({ baseUrl: env.baseUrl, apiKey: env.secret });
    // Every token of a text call (input + output) counts; room for many calls.
    await putPlan({ id: "proxy", periodType: "month", groups: [{ id: "tokens", unit: "tokens", quota: 1_000_000, matches: textCalls }] });
    // Less than any call's worst case: every call is denied before the provider sees it.
    await putPlan({ id: "proxy-tiny", periodType: "month", groups: [{ id: "tokens", unit: "tokens", quota: 10, matches: textCalls }] });
  })();
  return plans;
}

async function subscribed(planId = "proxy") {
  await ready();
  const userId = freshUser("px");
  await qg.upsertSubscription({ userId, planId });
  return userId;
}

/** The user's `tokens` counter as `{used, reserved}`. */
const tokens = (userId) => counter(qg, userId, "tokens");
/** Waits until the `tokens` counter is `used` with nothing reserved; answers what it last read. */
const settled = (userId, used) => settledAt(qg, userId, "tokens", used);

/** The simulator's reported usage: input + output tokens, the quantity of a text call. */
const reportedTokens = (stats) => stats.usage.input_tokens + stats.usage.output_tokens;

/** The user's commit entries in the ledger, oldest first. */
async function commits(userId) {
  const page = await qg.listUsageEvents({ userId });
  return page.data.filter((e) => e.kind === "commit");
}

test("a chat stream through qg.openai: the usage chunk only when asked, the counter the provider's usage, nothing left held", async () => {
  await sim.reset();
  const userId = await subscribed();
  const openai = qg.openai(OpenAI, userId, { metadata: { feature: "chat", note: "café" }, maxRetries: 0 });
  assert.ok(openai instanceof OpenAI);
  assert.equal(openai.baseURL, `${env.baseUrl}/proxy/openai/v1`);

  // Not asked: the gateway asks the provider for the usage, and keeps it from the caller.
  const stream = await openai.chat.completions.create(
    { model: MODEL, messages: PROMPT, max_tokens: 20, stream: true },
    { headers: { "x-sim": "output=4" } },
  );
  const chunks = [];
  for await (const chunk of stream) chunks.push(chunk);
  assert.equal(chunks.map((c) => c.choices[0]?.delta?.content ?? "").join(""), "tok0 tok1 tok2 tok3");
  // No usage chunk (`choices: []`) and no usage anywhere. The other chunks keep the `"usage": null`
  // the provider puts on each of them once usage was asked for.
  assert.ok(chunks.every((c) => c.choices.length === 1 && c.usage == null), JSON.stringify(chunks));
  let stats = await sim.stats();
  assert.equal(stats.calls, 1);
  assert.equal(stats.usage.output_tokens, 4);
  assert.equal(stats.streams.completed, 1);
  const request = stats.requests[0];
  assert.equal(request.body.stream_options?.include_usage, true, "the gateway asked for the usage");
  // The provider sees its own key, never the caller's, and none of the quota headers.
  assert.equal(request.headers.authorization, `Bearer ${PROVIDER_KEY}`);
  assert.ok(!JSON.stringify(request.headers).includes(env.secret));
  assert.ok(!Object.keys(request.headers).some((h) => h.startsWith("x-quota-")), JSON.stringify(request.headers));
  const first = reportedTokens(stats);
  assert.deepEqual(await settled(userId, first), { used: first, reserved: 0 });

  // Asked: exactly one usage chunk, the provider's.
  const asked = await openai.chat.completions.create(
    { model: MODEL, messages: PROMPT, max_tokens: 20, stream: true, stream_options: { include_usage: true } },
    { headers: { "x-sim": "output=5" } },
  );
  const withUsage = [];
  for await (const chunk of asked) if (chunk.usage) withUsage.push(chunk);
  assert.equal(withUsage.length, 1);
  assert.deepEqual(withUsage[0].choices, []);
  stats = await sim.stats();
  assert.equal(withUsage[0].usage.completion_tokens, 5);
  assert.equal(withUsage[0].usage.prompt_tokens + 5, reportedTokens(stats) - first);
  assert.deepEqual(await settled(userId, reportedTokens(stats)), { used: reportedTokens(stats), reserved: 0 });

  // Each call's ledger entry: the provider's usage, the call, and the caller's metadata.
  const entries = await commits(userId);
  assert.equal(entries.length, 2);
  const m = entries[1].metadata;
  assert.equal(entries[1].event, "openai.chat");
  assert.deepEqual(
    [m.model, m.upstream, m.operation, m.stream, m.output_tokens, m.usage, m.provider_status, m.feature, m.note],
    [MODEL, "openai", "chat", true, 5, "reported", 200, "chat", "café"],
  );
  assert.equal(m.input_tokens, withUsage[0].usage.prompt_tokens);
  assert.equal(typeof m.provider_request_id, "string");
  assert.equal(typeof m.duration_ms, "number");
});

test("a denial raises OpenAI.RateLimitError once, without a retry, and the provider is never called", async () => {
  await sim.reset();
  const userId = await subscribed("proxy-tiny");
  let sent = 0;
  // The client's own retries left at their default (2): the gateway's answer must stop them.
  const openai = qg.openai(OpenAI, userId, {
    fetch: (url, init) => {
      sent++;
      return fetch(url, init);
    },
  });
  const err = await openai.chat.completions
    .create({ model: MODEL, messages: PROMPT, max_tokens: 20, stream: true })
    .then(() => assert.fail("the call was allowed"), (e) => e);
  assert.ok(err instanceof OpenAI.RateLimitError, String(err));
  assert.equal(err.status, 429);
  assert.equal(err.code, "insufficient_quota");
  assert.equal(err.type, "insufficient_quota");
  assert.equal(err.headers.get("x-should-retry"), "false");
  assert.equal(sent, 1);
  assert.equal((await sim.stats()).calls, 0);
  assert.deepEqual(await tokens(userId), { used: 0, reserved: 0 });
});

test("an Anthropic messages.stream through qg.anthropic commits the final cumulative usage", async () => {
  await sim.reset();
  const userId = await subscribed();
  const anthropic = qg.anthropic(Anthropic, userId, { maxRetries: 0 });
  assert.ok(anthropic instanceof Anthropic);
  // Three message_delta events with rising cumulative output: only the last one's total counts.
  const stream = anthropic.messages.stream(
    { model: CLAUDE, max_tokens: 50, messages: PROMPT },
    { headers: { "x-sim": "output=6,deltas=3" } },
  );
  const message = await stream.finalMessage();
  assert.equal(message.usage.output_tokens, 6);
  const stats = await sim.stats();
  assert.equal(stats.calls, 1);
  assert.equal(stats.usage.output_tokens, 6);
  assert.equal(stats.usage.input_tokens, message.usage.input_tokens);
  assert.equal(stats.requests[0].headers["x-api-key"] ?? stats.requests[0].headers.authorization?.slice(7), PROVIDER_KEY);
  const total = reportedTokens(stats);
  assert.deepEqual(await settled(userId, total), { used: total, reserved: 0 });
  const [entry] = await commits(userId);
  assert.equal(entry.event, "anthropic.messages");
  assert.deepEqual(
    [entry.metadata.output_tokens, entry.metadata.input_tokens, entry.metadata.stream, entry.metadata.usage],
    [6, message.usage.input_tokens, true, "reported"],
  );
});

test("each answered call names its reservation (x-quota-reservation): the app says later what its output came to", async () => {
  await sim.reset();
  const userId = await subscribed();
  const openai = qg.openai(OpenAI, userId, { maxRetries: 0 });
  const { data, response } = await openai.chat.completions
    .create({ model: MODEL, messages: PROMPT, max_tokens: 20 }, { headers: { "x-sim": "output=3" } })
    .withResponse();
  assert.equal(data.usage.completion_tokens, 3);
  const id = proxyReservationId(response);
  assert.match(id ?? "", /^r_/);
  assert.equal(proxyReservationId(response.headers), id);
  assert.equal(proxyReservationId({ "X-Quota-Reservation": [id] }), id, "a record's name in any case, its first value");
  // Answered whole, the call was committed before its answer: its outcome can be said at once.
  assert.deepEqual(await qg.setOutcome(id, "accepted"), { reservationId: id, outcome: "accepted", previous: null });

  // A stream's hold is committed when the stream ends: its outcome is said after that.
  const claude = qg.anthropic(Anthropic, userId, { maxRetries: 0 });
  const { data: stream, response: streamed } = await claude.messages
    .create({ model: CLAUDE, max_tokens: 50, messages: PROMPT, stream: true }, { headers: { "x-sim": "output=4" } })
    .withResponse();
  for await (const _ of stream);
  const streamId = proxyReservationId(streamed);
  assert.notEqual(streamId, id);
  const total = reportedTokens(await sim.stats());
  await settled(userId, total);
  assert.equal((await qg.setOutcome(streamId, "rejected")).outcome, "rejected");
  const counter = (await qg.usage(userId)).counters.find((c) => c.groupId === "tokens");
  assert.deepEqual([counter.used, counter.outcomes, counter.costPerAccepted], [total, { accepted: 1, rejected: 1 }, total]);

  // A denial was never a call: it names no reservation.
  const denied = await qg.openai(OpenAI, await subscribed("proxy-tiny"), { maxRetries: 0 }).chat.completions
    .create({ model: MODEL, messages: PROMPT, max_tokens: 20 })
    .then(() => assert.fail("the call was allowed"), (e) => e);
  assert.equal(proxyReservationId(denied.headers), null);
});

test("a user key from createUserKey spends as its user only, and stops when revoked", async () => {
  await sim.reset();
  const userId = await subscribed();
  const other = await subscribed();
  const made = await qg.createUserKey(userId, { label: "browser" });
  assert.match(made.key, /^qg_uk_/);
  assert.deepEqual([made.userId, made.label, made.expiresAt], [userId, "browser", null]);
  const listed = await qg.listUserKeys(userId);
  assert.deepEqual(listed.data.map((k) => k.id), [made.id]);
  assert.equal(listed.nextCursor, null);
  assert.ok(!("key" in listed.data[0]) && listed.data[0].hint.endsWith(made.key.slice(-4)));

  // As a browser would build it: the gateway's URL and the user key, nothing else.
  const browser = openaiForUserKey(OpenAI, env.baseUrl, made.key, { maxRetries: 0 });
  assert.equal(browser.baseURL, proxyBaseUrl(env.baseUrl, "openai"));
  const answer = await browser.chat.completions.create({ model: MODEL, messages: PROMPT, max_tokens: 20 }, { headers: { "x-sim": "output=3" } });
  assert.equal(answer.usage.completion_tokens, 3);
  const total = reportedTokens(await sim.stats());
  assert.deepEqual(await settled(userId, total), { used: total, reserved: 0 });
  assert.deepEqual(await tokens(other), { used: 0, reserved: 0 });
  // It cannot spend as another user by naming one.
  const named = await browser.chat.completions
    .create({ model: MODEL, messages: PROMPT, max_tokens: 20 }, { headers: { "X-Quota-User": other } })
    .then(() => assert.fail("a user key spent as another user"), (e) => e);
  assert.ok(named instanceof OpenAI.PermissionDeniedError, String(named));
  // Nor call the gateway's own routes, its user's included.
  const direct = createClient({ baseUrl: env.baseUrl, apiKey: made.key, maxRetries: 0 });
  await assert.rejects(direct.usage(userId), { code: "forbidden", status: 403 });

  await qg.revokeUserKey(made.id);
  const refused = await browser.chat.completions
    .create({ model: MODEL, messages: PROMPT, max_tokens: 20 })
    .then(() => assert.fail("a revoked key was accepted"), (e) => e);
  assert.ok(refused instanceof OpenAI.AuthenticationError, String(refused));
  assert.equal((await sim.stats()).calls, 1);
  assert.deepEqual((await qg.listUserKeys(userId)).data, []);
  await assert.rejects(qg.revokeUserKey(made.id), { code: "key_not_found", status: 404 });
});

test("the clients carry the caller's own headers and options under the quota headers, and refuse the wrong key", async () => {
  await ready();
  const seen = [];
  const capture = async (url, init) => {
    seen.push({ url: String(url), headers: new Headers(init.headers) });
    return new Response(JSON.stringify({ id: "x", object: "list", data: [] }), { headers: { "content-type": "application/json" } });
  };
  const run = "run_x";
  // The caller's own OpenAI account, in the environment the client reads when it is made: not
  // the gateway's to send on.
  const account = { OPENAI_ORG_ID: "org-caller", OPENAI_PROJECT_ID: "proj-caller", OPENAI_ADMIN_KEY: "sk-admin-caller" };
  const saved = Object.fromEntries(Object.keys(account).map((name) => [name, process.env[name]]));
  Object.assign(process.env, account);
  let openai;
  try {
    openai = qg.openai(OpenAI, "alice", {
      upstream: "azure-east",
      metadata: { team: "ünï" },
      run,
      action: "draft",
      kind: "retry",
      fetch: capture,
      defaultHeaders: new Headers({ "x-trace": "t1", "x-quota-user": "mallory" }),
    });
  } finally {
    for (const [name, value] of Object.entries(saved)) {
      if (value === undefined) delete process.env[name];
      else process.env[name] = value;
    }
  }
  await openai.models.list();
  const [call] = seen;
  assert.equal(call.url, `${env.baseUrl}/proxy/azure-east/v1/models`);
  assert.equal(call.headers.get("authorization"), `Bearer ${env.secret}`);
  assert.equal(call.headers.get("x-quota-user"), "alice");
  assert.equal(call.headers.get("x-trace"), "t1");
  assert.equal(call.headers.get("x-quota-metadata"), '{"team":"\\u00fcn\\u00ef"}');
  assert.deepEqual(JSON.parse(call.headers.get("x-quota-metadata")), { team: "ünï" });
  assert.deepEqual([call.headers.get("x-quota-run"), call.headers.get("x-quota-action"), call.headers.get("x-quota-kind")], [run, "draft", "retry"]);
  assert.deepEqual([call.headers.get("openai-organization"), call.headers.get("openai-project")], [null, null]);
  assert.ok(![...call.headers.values()].some((v) => v.includes("caller")), JSON.stringify([...call.headers]));

  const publishable = createClient({ baseUrl: env.baseUrl, apiKey: env.publishable });
  assert.throws(() => publishable.openai(OpenAI, "alice"), TypeError);
  assert.throws(() => openaiForUserKey(OpenAI, env.baseUrl, env.secret), TypeError);
});
