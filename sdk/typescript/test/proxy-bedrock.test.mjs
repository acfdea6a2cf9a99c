// Amazon Bedrock through the gateway's proxy with the clients people call it with: Anthropic's
// `AnthropicBedrock` (InvokeModel), built by `qg.anthropicBedrock` and `anthropicBedrockForUserKey`,
// and the AWS SDK's `BedrockRuntimeClient` (Converse), built by `qg.bedrockRuntime` and
// `bedrockRuntimeForUserKey`, against the provider simulator speaking Bedrock: the `bedrock`
// upstream signs with the gateway's AWS credentials (the simulator checks the signature), the
// `bedrock-key` upstream sends a Bedrock API key; neither client holds an AWS credential. Each
// call is charged exactly what the simulator reported, streams included; parallel calls are
// admitted exactly as the budget holds their worst cases; a denial is the client's own error.
import assert from "node:assert/strict";
import { test } from "node:test";
import AnthropicBedrock from "@anthropic-ai/bedrock-sdk";
import { BedrockRuntimeClient, ConverseCommand, ConverseStreamCommand, ThrottlingException } from "@aws-sdk/client-bedrock-runtime";
import { NodeHttpHandler } from "@smithy/node-http-handler";
import { anthropicBedrockForUserKey, bedrockRuntimeForUserKey, createClient } from "quota-gateway";
import { onOutputTokens, PROVIDER_KEY, settledAt, useProxyGateway } from "./proxy-fixture.mjs";
import { AWS_ENV } from "./simulator.mjs";

// An inference profile's id: its `:` travels percent-encoded in the path, as the clients send it.
const MODEL = "us.anthropic.claude-haiku-4-5-20251001-v1:0";
const HELLO = [{ role: "user", content: "Say hello to the quota gateway" }];
const CONVERSE_HELLO = [{ role: "user", content: [{ text: "Say hello to the quota gateway" }] }];
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
// The AWS SDK speaks HTTP/2 in Node by default; the gateway speaks HTTP/1.1.
const http1 = () => new NodeHttpHandler();

let sim;
const env = useProxyGateway((started) => {
  sim = started;
});

let qg;

/** A new user on a plan of its own: one group of `quota` output tokens that calls of `event` match. */
function subscribed(quota, event = "bedrock.*") {
  qg ??= createClient({ baseUrl: env.baseUrl, apiKey: env.secret });
  return onOutputTokens(qg, "br", quota, event);
}

/** The Authorization headers the simulator received, one per call that reached it. */
async function authorizations() {
  return (await sim.stats()).requests.map((r) => r.headers.authorization ?? r.headers.Authorization);
}

/** The user's committed ledger entries as `[event, model]`. */
async function commits(userId) {
  const page = await qg.listUsageEvents({ userId });
  return page.data.filter((e) => e.kind === "commit").map((e) => [e.event, e.metadata.model]);
}

test("a hundred parallel AnthropicBedrock calls against room for fifty worst cases: fifty admitted, each signed by the gateway", async () => {
  await sim.reset();
  const userId = await subscribed(500);
  const bedrock = qg.anthropicBedrock(AnthropicBedrock, userId);
  assert.ok(bedrock instanceof AnthropicBedrock);
  const outcomes = await Promise.all(Array.from({ length: 100 }, async () => {
    try {
      await bedrock.messages.create({ model: MODEL, max_tokens: 10, messages: HELLO }, { headers: { "x-sim": "output=10" } });
      return "admitted";
    } catch (err) {
      assert.ok(err instanceof AnthropicBedrock.RateLimitError, String(err));
      assert.equal(err.headers.get("x-amzn-errortype"), "ThrottlingException");
      return "denied";
    }
  }));
  assert.deepEqual([outcomes.filter((o) => o === "admitted").length, outcomes.filter((o) => o === "denied").length], [50, 50]);
  const stats = await sim.stats();
  assert.equal(stats.calls, 50, "a denied call never reaches Bedrock");
  assert.equal(stats.usage.output_tokens, 500);
  assert.deepEqual(await settledAt(qg, userId, "output", 500), { used: 500, reserved: 0 });
  const credential = `Credential=${AWS_ENV.AWS_ACCESS_KEY_ID}/`;
  for (const auth of await authorizations()) {
    assert.ok(auth.startsWith("AWS4-HMAC-SHA256 ") && auth.includes(credential) && auth.includes("/us-east-1/bedrock/aws4_request"), auth);
  }
  assert.deepEqual([...new Set((await commits(userId)).map(String))], [`bedrock.messages,${MODEL}`]);
});

test("AnthropicBedrock, plain and streamed, through the API-key upstream: charged what Bedrock reported, its request id passed through", async () => {
  await sim.reset();
  const userId = await subscribed(1000, "bedrock-key.*");
  const bedrock = qg.anthropicBedrock(AnthropicBedrock, userId, { upstream: "bedrock-key", metadata: { feature: "summary" } });
  const { data, response } = await bedrock.messages.create({ model: MODEL, max_tokens: 50, messages: HELLO }, { headers: { "x-sim": "output=7" } }).withResponse();
  assert.equal(data.usage.output_tokens, 7);
  const requestId = response.headers.get("x-amzn-requestid");
  assert.match(requestId, UUID, "Bedrock's own request id");
  const stream = bedrock.messages.stream({ model: MODEL, max_tokens: 50, messages: HELLO }, { headers: { "x-sim": "output=12" } });
  const streamed = await stream.finalMessage();
  assert.equal(streamed.usage.output_tokens, 12);
  const stats = await sim.stats();
  assert.equal(stats.usage.output_tokens, 19);
  assert.deepEqual(await settledAt(qg, userId, "output", 19), { used: 19, reserved: 0 });
  assert.deepEqual(await authorizations(), [`Bearer ${PROVIDER_KEY}`, `Bearer ${PROVIDER_KEY}`], "the upstream's key, never the project's");
  const page = await qg.listUsageEvents({ userId });
  const committed = page.data.filter((e) => e.kind === "commit");
  assert.deepEqual(committed.map((e) => [e.event, e.metadata.feature]).sort(), [["bedrock-key.messages", "summary"], ["bedrock-key.messages", "summary"]]);
  assert.ok(committed.some((e) => e.metadata.provider_request_id === requestId), "the ledger names Bedrock's request id");
});

test("BedrockRuntimeClient's Converse and ConverseStream, signed by the gateway: charged what Bedrock reported, the quota headers added", async () => {
  await sim.reset();
  const userId = await subscribed(100_000);
  const runtime = qg.bedrockRuntime(BedrockRuntimeClient, userId, { requestHandler: http1(), metadata: { feature: "converse" } });
  assert.ok(runtime instanceof BedrockRuntimeClient);
  const answer = await runtime.send(new ConverseCommand({ modelId: MODEL, messages: CONVERSE_HELLO, inferenceConfig: { maxTokens: 50 } }));
  assert.ok(answer.usage.outputTokens > 0);
  assert.match(answer.$metadata.requestId, UUID, "Bedrock's own request id");
  const streamed = await runtime.send(new ConverseStreamCommand({ modelId: MODEL, messages: CONVERSE_HELLO, inferenceConfig: { maxTokens: 50 } }));
  let usage;
  for await (const event of streamed.stream) if (event.metadata) usage = event.metadata.usage;
  assert.ok(usage.outputTokens > 0);
  // A call naming no maximum goes to Bedrock with the one the gateway held.
  const unbounded = await runtime.send(new ConverseCommand({ modelId: MODEL, messages: CONVERSE_HELLO }));
  const total = answer.usage.outputTokens + usage.outputTokens + unbounded.usage.outputTokens;
  const stats = await sim.stats();
  assert.equal(stats.usage.output_tokens, total);
  assert.deepEqual(await settledAt(qg, userId, "output", total), { used: total, reserved: 0 });
  assert.equal(typeof stats.requests[2].body.inferenceConfig?.maxTokens, "number", JSON.stringify(stats.requests[2].body));
  for (const auth of await authorizations()) assert.ok(auth.startsWith("AWS4-HMAC-SHA256 "), auth);
  const page = await qg.listUsageEvents({ userId });
  const committed = page.data.filter((e) => e.kind === "commit");
  assert.deepEqual(committed.map((e) => [e.event, e.metadata.model, e.metadata.feature]), Array(3).fill(["bedrock.converse", MODEL, "converse"]));
});

test("a denial is each client's own error: AnthropicBedrock's RateLimitError, the AWS SDK's ThrottlingException", async () => {
  await sim.reset();
  const userId = await subscribed(10);
  const bedrock = qg.anthropicBedrock(AnthropicBedrock, userId);
  const denied = await bedrock.messages.create({ model: MODEL, max_tokens: 20, messages: HELLO }).catch((err) => err);
  assert.ok(denied instanceof AnthropicBedrock.RateLimitError, String(denied));
  assert.equal(denied.status, 429);
  assert.equal(denied.headers.get("x-should-retry"), "false");
  const runtime = qg.bedrockRuntime(BedrockRuntimeClient, userId, { requestHandler: http1(), maxAttempts: 1 });
  const throttled = await runtime.send(new ConverseCommand({ modelId: MODEL, messages: CONVERSE_HELLO, inferenceConfig: { maxTokens: 20 } })).catch((err) => err);
  assert.ok(throttled instanceof ThrottlingException, String(throttled));
  assert.equal(throttled.$metadata.httpStatusCode, 429);
  assert.match(throttled.message, /maxTokens/, "the quota's reason, in Bedrock's {message}");
  assert.equal((await sim.stats()).calls, 0, "neither reached Bedrock");
  assert.deepEqual(await settledAt(qg, userId, "output", 0), { used: 0, reserved: 0 });
});

test("user keys call Bedrock as their user from either client, over either upstream", async () => {
  await sim.reset();
  const userId = await subscribed(1000, "*");
  const { key } = await qg.createUserKey(userId, { label: "app" });
  const bedrock = anthropicBedrockForUserKey(AnthropicBedrock, env.baseUrl, key, { upstream: "bedrock-key", maxRetries: 0 });
  const message = await bedrock.messages.create({ model: MODEL, max_tokens: 20, messages: HELLO });
  const runtime = bedrockRuntimeForUserKey(BedrockRuntimeClient, env.baseUrl, key, { requestHandler: http1() });
  const answer = await runtime.send(new ConverseCommand({ modelId: MODEL, messages: CONVERSE_HELLO, inferenceConfig: { maxTokens: 20 } }));
  const total = message.usage.output_tokens + answer.usage.outputTokens;
  assert.deepEqual(await settledAt(qg, userId, "output", total), { used: total, reserved: 0 });
  assert.deepEqual((await commits(userId)).map(([event]) => event).sort(), ["bedrock-key.messages", "bedrock.converse"]);
  assert.throws(() => anthropicBedrockForUserKey(AnthropicBedrock, env.baseUrl, env.secret), /takes a user key/);
  assert.throws(() => bedrockRuntimeForUserKey(BedrockRuntimeClient, env.baseUrl, env.secret), /takes a user key/);
});
