// Google's own client (`@google/genai`) through the gateway's proxy, built by `qg.gemini` and,
// for a browser's user key, `geminiForUserKey`, against the provider simulator speaking Gemini:
// parallel calls admitted exactly as the budget holds their worst cases and charged what the
// provider reported, and a denial the client raises as its own error, the provider never called.
import assert from "node:assert/strict";
import { test } from "node:test";
import { ApiError, GoogleGenAI } from "@google/genai";
import { createClient, geminiForUserKey, proxyBaseUrl } from "quota-gateway";
import { onOutputTokens, PROVIDER_KEY, settledAt, useProxyGateway } from "./proxy-fixture.mjs";

const FLASH = "gemini-2.5-flash";
const HELLO = "Say hello to the quota gateway";

let sim;
const env = useProxyGateway((started) => {
  sim = started;
});

let qg;

/** A new user on a plan of its own: one group of `quota` output tokens that every Gemini call matches. */
function subscribed(quota) {
  qg ??= createClient({ baseUrl: env.baseUrl, apiKey: env.secret });
  return onOutputTokens(qg, "gm", quota, "gemini.generate");
}

/** Waits until the `output` counter is `used` with nothing reserved; answers what it last read. */
const settled = (userId, used) => settledAt(qg, userId, "output", used);

test("twenty parallel generateContent calls against room for ten worst cases: ten admitted, each charged what the provider reported", async () => {
  await sim.reset();
  const userId = await subscribed(100);
  const gemini = qg.gemini(GoogleGenAI, userId, { metadata: { feature: "chat" } });
  assert.ok(gemini instanceof GoogleGenAI);
  // Each call's worst case is its maxOutputTokens, 10, which bounds thoughts and text together;
  // the provider reports 6 of text and 4 of thoughts.
  const config = { maxOutputTokens: 10, thinkingConfig: { thinkingBudget: 64 }, httpOptions: { headers: { "x-sim": "output=6, reasoning=4" } } };
  const outcomes = await Promise.all(Array.from({ length: 20 }, async () => {
    try {
      const answer = await gemini.models.generateContent({ model: FLASH, contents: HELLO, config });
      assert.deepEqual([answer.usageMetadata.candidatesTokenCount, answer.usageMetadata.thoughtsTokenCount], [6, 4]);
      return "admitted";
    } catch (err) {
      assert.ok(err instanceof ApiError, String(err));
      assert.equal(err.status, 429);
      assert.match(err.message, /RESOURCE_EXHAUSTED/);
      return "denied";
    }
  }));
  assert.deepEqual([outcomes.filter((o) => o === "admitted").length, outcomes.filter((o) => o === "denied").length], [10, 10]);
  const stats = await sim.stats();
  assert.equal(stats.calls, 10, "a denied call never reaches the provider");
  assert.equal(stats.usage.output_tokens, 100);
  for (const request of stats.requests) {
    assert.equal(request.headers["x-goog-api-key"], PROVIDER_KEY);
    assert.ok(!JSON.stringify(request).includes(env.secret), "the caller's key never reaches the provider");
    assert.ok(!Object.keys(request.headers).some((h) => h.startsWith("x-quota-")), JSON.stringify(request.headers));
  }
  assert.deepEqual(await settled(userId, 100), { used: 100, reserved: 0 });
});

test("a denial rejects with Google's ApiError (429, RESOURCE_EXHAUSTED), asked once, and the provider never sees it", async () => {
  await sim.reset();
  const userId = await subscribed(5);
  let sent = 0;
  const counting = (url, init) => {
    sent++;
    return fetch(url, init);
  };
  const gemini = qg.gemini(GoogleGenAI, userId, { httpOptions: { fetch: counting } });
  const err = await gemini.models
    .generateContent({ model: FLASH, contents: HELLO, config: { maxOutputTokens: 10 } })
    .then(() => assert.fail("the call was allowed"), (e) => e);
  assert.ok(err instanceof ApiError, String(err));
  assert.equal(err.status, 429);
  const body = JSON.parse(err.message);
  assert.deepEqual([body.error.code, body.error.status], [429, "RESOURCE_EXHAUSTED"]);
  assert.match(body.error.message, /more than its whole quota/);
  const streamed = await gemini.models
    .generateContentStream({ model: FLASH, contents: HELLO, config: { maxOutputTokens: 10 } })
    .then(() => assert.fail("the stream was allowed"), (e) => e);
  assert.ok(streamed instanceof ApiError && streamed.status === 429, String(streamed));
  assert.equal(sent, 2, "one request each: not retried");
  assert.equal((await sim.stats()).calls, 0);
  assert.deepEqual(await settled(userId, 0), { used: 0, reserved: 0 });

  // A user key in a browser's client is refused the same way, before the provider.
  const made = await qg.createUserKey(userId, { label: "browser" });
  const browser = geminiForUserKey(GoogleGenAI, env.baseUrl, made.key);
  assert.equal(proxyBaseUrl(env.baseUrl, "gemini"), `${env.baseUrl}/proxy/gemini`);
  const fromBrowser = await browser.models
    .generateContent({ model: FLASH, contents: HELLO, config: { maxOutputTokens: 10 } })
    .then(() => assert.fail("the call was allowed"), (e) => e);
  assert.ok(fromBrowser instanceof ApiError && fromBrowser.status === 429, String(fromBrowser));
  assert.equal((await sim.stats()).calls, 0);
  assert.throws(() => geminiForUserKey(GoogleGenAI, env.baseUrl, env.secret), TypeError);
});
