// The shipped declarations as consumers compile them: TypeScript 4.9 and the current one, strict
// with exactOptionalPropertyTypes and no skipLibCheck; the READMEs' Express receivers with
// Express's and Node's own types; and the exported names held to the sources they come from.
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { copyFileSync, readFileSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { GATEWAY_CODES } from "quota-gateway";
import { startGateway } from "../scripts/gateway.mjs";
import { packed, root } from "./pack.mjs";

const compilers = {
  "4.9": join(root, "node_modules/typescript49/bin/tsc"),
  current: join(root, "node_modules/typescript/bin/tsc"),
};
const strict = { strict: true, exactOptionalPropertyTypes: true, noEmit: true, skipLibCheck: false, esModuleInterop: true };
let project;

before(() => {
  project = packed();
  symlinkSync(join(root, "node_modules/@types"), join(project.dir, "node_modules/@types"));
  writeFileSync(join(project.dir, "package.json"), '{ "type": "module", "private": true }\n');
  copyFileSync(join(root, "test/consumer/consumer.ts"), join(project.dir, "consumer.ts"));
});
after(() => project?.remove());

/** Compiles `files` in the consumer's project; fails with tsc's own report. */
function compile(version, name, files, compilerOptions) {
  const config = join(project.dir, `tsconfig.${name}.json`);
  writeFileSync(config, JSON.stringify({ compilerOptions: { ...strict, ...compilerOptions }, files }));
  try {
    execFileSync(process.execPath, [compilers[version], "-p", config], { cwd: project.dir, stdio: "pipe" });
  } catch (err) {
    assert.fail(`tsc ${version} (${name}):\n${err.stdout}${err.stderr}`);
  }
}

test("TypeScript 4.9 compiles the shipped declarations and a strict consumer", () => {
  compile("4.9", "ts49", ["consumer.ts"], { target: "ES2020", lib: ["ES2020", "DOM"], module: "ES2020", moduleResolution: "node", types: [] });
});

test("the current TypeScript compiles the same consumer with NodeNext resolution and Node's types", () => {
  compile("current", "nodenext", ["consumer.ts"], { target: "ES2022", lib: ["ES2022"], module: "NodeNext", moduleResolution: "NodeNext", types: ["node"] });
});

/** Every ```ts block of a README that receives webhooks with Express. */
function expressBlocks(readme) {
  return [...readFileSync(readme, "utf8").matchAll(/```ts\n([\s\S]*?)```/g)].map((m) => m[1]).filter((code) => code.includes("express."));
}

test("the READMEs' Express webhook receivers pass strict tsc with Express's and Node's types", () => {
  // What the blocks leave to the reader's app: the app, a set of ids seen, the app's own function.
  const prelude = (code) => [
    code.includes('from "express"') ? "" : 'import express from "express";',
    "const app = express();",
    "const seen = new Set();",
    "declare function nudgeToUpgrade(userId: string): Promise<void>;",
    code,
  ].join("\n");
  const readmes = { main: join(root, "../../README.md"), sdk: join(root, "README.md") };
  for (const [name, readme] of Object.entries(readmes)) {
    const blocks = expressBlocks(readme);
    assert.ok(blocks.length > 0, `${name} README has an Express receiver`);
    blocks.forEach((code, i) => writeFileSync(join(project.dir, `${name}-${i}.ts`), prelude(code)));
    compile("current", name, blocks.map((_, i) => `${name}-${i}.ts`), {
      target: "ES2022", lib: ["ES2022"], module: "NodeNext", moduleResolution: "NodeNext", types: ["node"],
    });
  }
});

test("the README's ledger recipe passes strict tsc", () => {
  const readme = readFileSync(join(root, "README.md"), "utf8");
  const [code] = [...readme.matchAll(/```ts\n([\s\S]*?)```/g)].map((m) => m[1]).filter((c) => c.includes("async function usageByModel"));
  assert.ok(code, "the README defines usageByModel");
  const prelude = ['import { createClient } from "quota-gateway";', 'const qg = createClient({ apiKey: "qg_sk_test" });'];
  writeFileSync(join(project.dir, "ledger.ts"), [...prelude, code, "export {};"].join("\n"));
  compile("current", "ledger", ["ledger.ts"], { target: "ES2022", lib: ["ES2022"], module: "NodeNext", moduleResolution: "NodeNext", types: ["node"] });
});

test("the index exports every wire type by name", () => {
  const declared = [...readFileSync(join(root, "src/types.ts"), "utf8").matchAll(/^export (?:type|interface) (\w+)/gm)].map((m) => m[1]);
  const index = readFileSync(join(root, "src/index.ts"), "utf8");
  for (const name of declared) assert.match(index, new RegExp(`\\b${name}\\b`), `${name} is not exported`);
});

test("every error code the gateway's OpenAPI document names is in GATEWAY_CODES", async () => {
  const gateway = await startGateway("redis://127.0.0.1:1", { ready: false });
  try {
    const text = await (await fetch(`${gateway.baseUrl}/openapi.json`)).text();
    const named = new Set([...text.matchAll(/problem\+json with code ([a-z_, ]+)/g)].flatMap((m) => m[1].split(",").map((c) => c.trim())));
    assert.ok(named.size > 10);
    assert.deepEqual([...named].filter((c) => !GATEWAY_CODES.includes(c)), []);
  } finally {
    gateway.stop();
  }
});
