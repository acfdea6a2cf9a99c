// What ships: the packed package has no runtime dependency and no import of a Node built-in, its
// ESM and CommonJS entry points both load and run, and its wire types are what the gateway's
// OpenAPI document generates.
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";
import { test } from "node:test";
import { pathToFileURL } from "node:url";
import { packed, root } from "./pack.mjs";

function files(dir) {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? files(path) : [path];
  });
}

test("npm pack gives a package whose ESM and CJS entry points load and run, with nothing Node-only", async () => {
  const { dir, unpacked, manifest, remove } = packed();
  try {
    assert.deepEqual(manifest.dependencies ?? {}, {}, "no runtime dependency");
    for (const file of files(join(unpacked, "dist")).filter((f) => f.endsWith(".js"))) {
      const text = readFileSync(file, "utf8");
      assert.doesNotMatch(text, /(from|require\()\s*["']node:/, `${file} imports a Node built-in`);
      assert.doesNotMatch(text, /(from|require\()\s*["'](fs|net|http|https|crypto|child_process|os|path)["']/, file);
      // The providers' clients are passed in by the caller, never imported.
      // (Statements only: the docs and messages name the imports the caller writes.)
      const sdks = String.raw`(openai|@anthropic-ai\/(bedrock-|vertex-)?sdk|@google\/genai|google-auth-library|@aws-sdk\/[\w-]+|@smithy\/[\w-]+)`;
      const sdk = new RegExp(String.raw`^\s*import\s[^\n]*from\s*["']${sdks}["']|\b(require|import)\(\s*["']${sdks}["']\s*\)`, "m");
      assert.doesNotMatch(text, sdk, `${file} imports a provider's SDK`);
    }
    const esm = await import(pathToFileURL(join(unpacked, manifest.exports["."].import.default)).href);
    const cjs = createRequire(join(dir, "index.js"))("quota-gateway");
    for (const entry of [esm, cjs]) {
      const qg = entry.createClient({ apiKey: "qg_sk_x", baseUrl: "http://127.0.0.1:9", maxRetries: 0, timeoutMs: 200 });
      const decision = await qg.reserve("u", "e");
      assert.deepEqual(decision.reasons, ["backend_unavailable"]);
      assert.equal(typeof entry.verifyWebhook, "function");
      assert.equal(new entry.QuotaGatewayError({ code: "c", status: 400, detail: "d" }).code, "c");
    }
  } finally {
    remove();
  }
});

test("the wire types are what the gateway's /openapi.json generates", () => {
  execFileSync(process.execPath, ["scripts/types.mjs", "--check"], { cwd: root, stdio: "inherit" });
});
