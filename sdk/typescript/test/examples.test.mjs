// Every example runs against a real gateway and does what it says.
import assert from "node:assert/strict";
import { test } from "node:test";
import { main as freemium } from "../examples/freemium-fallback.mjs";
import { main as images } from "../examples/image-renders.mjs";
import { main as llm } from "../examples/llm-tokens.mjs";
import { main as headers } from "../examples/rate-limit-headers.mjs";
import { main as streaming } from "../examples/streaming-job.mjs";
import { freshUser, useGateway } from "./harness.mjs";

const env = useGateway();
const run = (main) => main({ baseUrl: env.baseUrl, apiKey: env.secret, userId: freshUser() });

test("image renders fall back to the standard model once the premium sub-quota is spent", async () => {
  const { rendered, counters } = await run(images);
  assert.deepEqual(rendered, ["flux-pro", "flux-pro", "flux-pro", "flux-schnell", "flux-schnell"]);
  assert.deepEqual(counters, [["renders", 5, 95], ["premium", 3, 0]]);
});

test("freemium falls back from model A to model B", async () => {
  assert.deepEqual((await run(freemium)).models, ["a", "a", "b", "b"]);
});

test("an LLM call reserved at 4,000 tokens commits the 1,213 it used", async () => {
  const result = await run(llm);
  assert.deepEqual([result.allowed, result.used, result.remaining], [true, 1213, 8787]);
});

test("rate-limit headers come from the reservation's counters", async () => {
  const h = await run(headers);
  assert.match(h["RateLimit-Policy"], /^"per_minute";q=10;w=60, "per_month";q=1000;w=\d+$/);
  assert.match(h.RateLimit, /^"per_minute";r=9;t=\d+, "per_month";r=999;t=\d+$/);
});

test("a streaming job extends its hold while it runs and commits the seconds it took", async () => {
  const result = await run(streaming);
  assert.equal(result.extensions, 3);
  assert.deepEqual(result.counters.slots, { used: 0, reserved: 0 });
  assert.ok(result.counters.gpu.used > 0 && result.counters.gpu.used < 5, JSON.stringify(result));
});
