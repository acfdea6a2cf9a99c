// The official `AzureOpenAI` client (from `openai`) through the gateway's proxy, built by
// `qg.azureOpenai` and, for a browser's user key, `azureOpenaiForUserKey`, against the provider
// simulator speaking Azure OpenAI (its `api-key` and `api-version` checked): a deployment held
// and charged as the model it serves, parallel calls admitted exactly as the budget holds their
// worst cases, and a denial the client raises as its own `RateLimitError`.
import assert from "node:assert/strict";
import { test } from "node:test";
import OpenAI, { AzureOpenAI } from "openai";
import { azureOpenaiForUserKey, createClient } from "quota-gateway";
import { onOutputTokens, settledAt, useProxyGateway } from "./proxy-fixture.mjs";

const API_VERSION = "2024-10-21";
const HELLO = [{ role: "user", content: "Say hello to the quota gateway" }];

let sim;
const env = useProxyGateway((started) => {
  sim = started;
});

let qg;

/** A new user on a plan of its own: one group of `quota` output tokens that every Azure chat matches. */
function subscribed(quota) {
  qg ??= createClient({ baseUrl: env.baseUrl, apiKey: env.secret });
  return onOutputTokens(qg, "az", quota, "azure.chat");
}

test("twenty parallel chats of a deployment against room for ten worst cases: ten admitted, each charged as its model", async () => {
  await sim.reset();
  const userId = await subscribed(100);
  const azure = qg.azureOpenai(AzureOpenAI, userId, { apiVersion: API_VERSION });
  assert.ok(azure instanceof AzureOpenAI);
  const outcomes = await Promise.all(Array.from({ length: 20 }, async () => {
    try {
      await azure.chat.completions.create({ model: "chat-prod", messages: HELLO, max_tokens: 10 }, { headers: { "x-sim": "output=10" } });
      return "admitted";
    } catch (err) {
      assert.ok(err instanceof OpenAI.RateLimitError, String(err));
      assert.equal(err.status, 429);
      return "denied";
    }
  }));
  assert.deepEqual([outcomes.filter((o) => o === "admitted").length, outcomes.filter((o) => o === "denied").length], [10, 10]);
  const stats = await sim.stats();
  assert.equal(stats.calls, 10, "a denied call never reaches the provider");
  assert.equal(stats.usage.output_tokens, 100);
  assert.deepEqual(await settledAt(qg, userId, "output", 100), { used: 100, reserved: 0 });
  const page = await qg.listUsageEvents({ userId });
  const models = page.data.filter((e) => e.kind === "commit").map((e) => e.metadata.model);
  assert.deepEqual([...new Set(models)], ["gpt-4o-mini"], "the deployment's model, not its name");
});

test("a user key calls Azure as its user from a browser's client, its usage its own", async () => {
  await sim.reset();
  const userId = await subscribed(1000);
  const { key } = await qg.createUserKey(userId, { label: "browser" });
  const azure = azureOpenaiForUserKey(AzureOpenAI, env.baseUrl, key, { apiVersion: API_VERSION, maxRetries: 0 });
  const answer = await azure.chat.completions.create({ model: "chat-prod", messages: HELLO, max_tokens: 20 });
  assert.ok(answer.usage.completion_tokens > 0);
  assert.deepEqual(await settledAt(qg, userId, "output", answer.usage.completion_tokens), { used: answer.usage.completion_tokens, reserved: 0 });
  assert.throws(() => azureOpenaiForUserKey(AzureOpenAI, env.baseUrl, env.secret, { apiVersion: API_VERSION }), /takes a user key/);
});
