// The CommonJS build loaded into bare contexts that stand in for other runtimes: no `process`
// (Cloudflare Workers, browsers), a `process` and `Deno.env` that refuse to be read (Deno
// without --allow-env), or a readable environment (Node, Bun, Deno with --allow-env). Where
// the environment cannot say where the gateway is, an omitted baseUrl is said at once.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import vm from "node:vm";
import { root } from "./pack.mjs";

/** dist/cjs's index in a context with only `globals` and what every runtime has. */
function load(globals) {
  const context = vm.createContext({ ...globals, fetch, AbortController, URLSearchParams, TextEncoder, TextDecoder, setTimeout, clearTimeout, console });
  const modules = new Map();
  const require = (spec) => {
    const file = join(root, "dist/cjs", spec);
    if (!modules.has(file)) {
      const module = { exports: {} };
      modules.set(file, module);
      const code = readFileSync(file, "utf8");
      vm.runInContext(`(function (exports, require, module) {${code}\n})`, context)(module.exports, require, module);
    }
    return modules.get(file).exports;
  };
  return require("./index.js");
}

const notCapable = () => {
  throw new Error('NotCapable: Requires env access to "QUOTA_GATEWAY_URL", run again with the --allow-env flag');
};
const runtimes = {
  "Cloudflare Workers": { navigator: { userAgent: "Cloudflare-Workers" } },
  "Cloudflare Workers with nodejs_compat": { navigator: { userAgent: "Cloudflare-Workers" }, process: { env: {} } },
  "Deno without --allow-env": { Deno: { env: { get: notCapable } }, process: { env: new Proxy({}, { get: notCapable }) } },
  "a browser": { window: {}, navigator: { userAgent: "Mozilla/5.0" } },
};

for (const [name, globals] of Object.entries(runtimes)) {
  test(`${name}: an omitted baseUrl is a clear error, a given one is used`, () => {
    const { createClient } = load(globals);
    // The context's own TypeError, so by name.
    assert.throws(() => createClient({ apiKey: "qg_sk_x" }), (err) => err.name === "TypeError" && /baseUrl is needed/.test(err.message));
    assert.equal(createClient({ apiKey: "qg_sk_x", baseUrl: "https://quota.example.com/" }).baseUrl, "https://quota.example.com");
  });
}

test("a readable environment gives QUOTA_GATEWAY_URL, else the local gateway", () => {
  const node = (env) => load({ process: { env } }).createClient({ apiKey: "qg_sk_x" }).baseUrl;
  assert.equal(node({ QUOTA_GATEWAY_URL: "http://10.0.0.1:8080/" }), "http://10.0.0.1:8080");
  assert.equal(node({}), "http://127.0.0.1:8080");
  const deno = load({ Deno: { env: { get: (n) => (n === "QUOTA_GATEWAY_URL" ? "https://qg.internal" : undefined) } } });
  assert.equal(deno.createClient({ apiKey: "qg_sk_x" }).baseUrl, "https://qg.internal", "Deno with --allow-env");
});
