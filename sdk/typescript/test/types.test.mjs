// The shipped declarations as consumers compile them: TypeScript 4.9 and the current one, strict
// with exactOptionalPropertyTypes and no skipLibCheck; the READMEs' Express receivers with
// Express's and Node's own types; and the exported names held to the sources they come from.
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { copyFileSync, existsSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
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

/** Every ```ts block of a page that receives webhooks with Express (shown only, `norun`, in the book: it needs an Express app). */
function expressBlocks(readme) {
  return [...readFileSync(readme, "utf8").matchAll(/```ts(?: norun)?\n([\s\S]*?)```/g)].map((m) => m[1]).filter((code) => code.includes("express."));
}

test("the book's and the README's Express webhook receivers pass strict tsc with Express's and Node's types", () => {
  // What the blocks leave to the reader's app: the app, a set of ids seen, the app's own function.
  const prelude = (code) => [
    code.includes('from "express"') ? "" : 'import express from "express";',
    /^const app = /m.test(code) ? "" : "const app = express();",
    /^const seen = /m.test(code) ? "" : "const seen = new Set();",
    "declare function nudgeToUpgrade(userId: string): Promise<void>;",
    code,
  ].join("\n");
  const readmes = { book: join(root, "../../docs/book/src/alerts.md"), sdk: join(root, "README.md") };
  for (const [name, readme] of Object.entries(readmes)) {
    const blocks = expressBlocks(readme);
    assert.ok(blocks.length > 0, `${name} has an Express receiver`);
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

test("qg.openai, qg.anthropic and qg.gemini answer the official clients' own instances, their options typed by those clients", () => {
  for (const name of ["openai", "@anthropic-ai/sdk", "@google/genai"]) {
    mkdirSync(join(project.dir, "node_modules", dirname(name)), { recursive: true });
    symlinkSync(join(root, "node_modules", name), join(project.dir, "node_modules", name));
  }
  writeFileSync(join(project.dir, "providers.ts"), [
    'import Anthropic from "@anthropic-ai/sdk";',
    'import { GoogleGenAI } from "@google/genai";',
    'import OpenAI from "openai";',
    'import { anthropicForUserKey, createClient, geminiForUserKey } from "quota-gateway";',
    'const qg = createClient({ apiKey: "qg_sk_test" });',
    'export async function answer(userId: string, userKey: string): Promise<string> {',
    '  const openai: OpenAI = qg.openai(OpenAI, userId, { metadata: { feature: "chat" }, maxRetries: 1, timeout: 20_000 });',
    '  const chat = await openai.chat.completions.create({ model: "gpt-4o-mini", messages: [{ role: "user", content: "hi" }] });',
    '  // @ts-expect-error not an option of the OpenAI client',
    '  qg.openai(OpenAI, userId, { maxRetrys: 1 });',
    '  const anthropic: Anthropic = anthropicForUserKey(Anthropic, "https://quota.example.com", userKey);',
    '  const message = await anthropic.messages.create({ model: "claude-sonnet-5", max_tokens: 10, messages: [{ role: "user", content: "hi" }] });',
    '  const server: Anthropic = qg.anthropic(Anthropic, userId, { maxRetries: 0 });',
    '  const gemini: GoogleGenAI = qg.gemini(GoogleGenAI, userId, { metadata: { feature: "chat" }, apiVersion: "v1", httpOptions: { timeout: 20_000, headers: { "x-trace": "t1" } } });',
    '  const generated = await gemini.models.generateContent({ model: "gemini-2.5-flash", contents: "hi", config: { maxOutputTokens: 10 } });',
    '  // @ts-expect-error the gateway\'s URL is the helper\'s to set',
    '  qg.gemini(GoogleGenAI, userId, { httpOptions: { baseUrl: "https://generativelanguage.googleapis.com" } });',
    '  // @ts-expect-error the proxy is the Gemini API\'s, not Vertex AI\'s',
    '  qg.gemini(GoogleGenAI, userId, { vertexai: true });',
    '  const browser: GoogleGenAI = geminiForUserKey(GoogleGenAI, "https://quota.example.com", userKey);',
    '  const counted = await browser.models.countTokens({ model: "gemini-2.5-flash", contents: "hi" });',
    '  return `${chat.choices[0]?.message.content} ${message.usage.output_tokens} ${server.baseURL} ${generated.usageMetadata?.totalTokenCount} ${counted.totalTokens}`;',
    "}",
  ].join("\n"));
  // The README's proxy and user-key blocks, each as the body of a function (they return early),
  // their imports above it, with what they leave to the reader's app declared.
  const readme = readFileSync(join(root, "README.md"), "utf8");
  const blocks = [...readme.matchAll(/```ts\n([\s\S]*?)```/g)].map((m) => m[1]).filter((c) => /qg\.openai\(|openaiForUserKey\(/.test(c));
  assert.equal(blocks.length, 2, "the README's proxy and user-key examples");
  blocks.forEach((code, i) => {
    const lines = code.split("\n");
    const imports = lines.filter((l) => l.startsWith("import "));
    const names = new Set(imports.flatMap((l) => /^import (?:\{([^}]*)\}|(\w+)) from/.exec(l)?.slice(1).filter(Boolean) ?? []).join(",").split(",").map((n) => n.trim()));
    writeFileSync(join(project.dir, `proxy-readme-${i}.ts`), [
      ...imports,
      ...["OpenAI", "Anthropic"].filter((n) => !names.has(n)).map((n) => `import ${n} from "${n === "OpenAI" ? "openai" : "@anthropic-ai/sdk"}";`),
      `import { createClient${names.has("openaiForUserKey") ? "" : ", openaiForUserKey"} } from "quota-gateway";`,
      'const qg = createClient({ apiKey: "qg_sk_test" });',
      "declare const messages: { role: \"user\"; content: string }[];",
      "declare const session: { userId: string };",
      "declare function send(text: string): void;",
      "declare function tellUser(message: string): void;",
      "export async function block() {",
      ...lines.filter((l) => !l.startsWith("import ")),
      "  return [OpenAI, Anthropic, openaiForUserKey];",
      "}",
    ].join("\n"));
  });
  // The SDKs' own declarations are theirs to check (skipLibCheck); the use of them is ours.
  compile("current", "providers", ["providers.ts", ...blocks.map((_, i) => `proxy-readme-${i}.ts`)], {
    target: "ES2022", lib: ["ES2022", "DOM"], module: "NodeNext", moduleResolution: "NodeNext", types: ["node"], skipLibCheck: true,
  });
});

test("qg.anthropicBedrock and qg.bedrockRuntime answer Bedrock's clients' own instances, AWS's credentials not theirs to take", () => {
  for (const name of ["@anthropic-ai/bedrock-sdk", "@aws-sdk/client-bedrock-runtime", "@smithy/node-http-handler"]) {
    mkdirSync(join(project.dir, "node_modules", dirname(name)), { recursive: true });
    if (!existsSync(join(project.dir, "node_modules", name))) symlinkSync(join(root, "node_modules", name), join(project.dir, "node_modules", name));
  }
  writeFileSync(join(project.dir, "bedrock.ts"), [
    'import AnthropicBedrock from "@anthropic-ai/bedrock-sdk";',
    'import { BedrockRuntimeClient, ConverseCommand } from "@aws-sdk/client-bedrock-runtime";',
    'import { NodeHttpHandler } from "@smithy/node-http-handler";',
    'import { anthropicBedrockForUserKey, bedrockRuntimeForUserKey, createClient } from "quota-gateway";',
    'const qg = createClient({ apiKey: "qg_sk_test" });',
    'export async function answer(userId: string, userKey: string): Promise<string> {',
    '  const claude: AnthropicBedrock = qg.anthropicBedrock(AnthropicBedrock, userId, { awsRegion: "eu-west-1", maxRetries: 0, metadata: { feature: "chat" } });',
    '  const message = await claude.messages.create({ model: "anthropic.claude-haiku-4-5-20251001-v1:0", max_tokens: 10, messages: [{ role: "user", content: "hi" }] });',
    '  // @ts-expect-error the gateway holds AWS\'s credentials',
    '  qg.anthropicBedrock(AnthropicBedrock, userId, { awsAccessKey: "AKID", awsSecretKey: "secret" });',
    '  const runtime: BedrockRuntimeClient = qg.bedrockRuntime(BedrockRuntimeClient, userId, { region: "eu-west-1", maxAttempts: 1, requestHandler: new NodeHttpHandler() });',
    '  const converse = await runtime.send(new ConverseCommand({ modelId: "amazon.nova-lite-v1:0", messages: [{ role: "user", content: [{ text: "hi" }] }] }));',
    '  // @ts-expect-error the gateway\'s endpoint is the helper\'s to set',
    '  qg.bedrockRuntime(BedrockRuntimeClient, userId, { endpoint: "https://bedrock-runtime.us-east-1.amazonaws.com" });',
    '  const browser: AnthropicBedrock = anthropicBedrockForUserKey(AnthropicBedrock, "https://quota.example.com", userKey);',
    '  const aws: BedrockRuntimeClient = bedrockRuntimeForUserKey(BedrockRuntimeClient, "https://quota.example.com", userKey);',
    '  return `${message.usage.output_tokens} ${converse.usage?.outputTokens} ${browser.baseURL} ${aws.config.region}`;',
    "}",
  ].join("\n"));
  // The SDKs' own declarations are theirs to check (skipLibCheck); the use of them is ours.
  compile("current", "bedrock", ["bedrock.ts"], {
    target: "ES2022", lib: ["ES2022", "DOM"], module: "NodeNext", moduleResolution: "NodeNext", types: ["node"], skipLibCheck: true,
  });
});

test("qg.anthropicVertex and qg.vertexGemini answer Vertex AI's clients' own instances, Google's credentials not theirs to take", () => {
  for (const name of ["@anthropic-ai/vertex-sdk", "@anthropic-ai/sdk", "@google/genai"]) {
    mkdirSync(join(project.dir, "node_modules", dirname(name)), { recursive: true });
    if (!existsSync(join(project.dir, "node_modules", name))) symlinkSync(join(root, "node_modules", name), join(project.dir, "node_modules", name));
  }
  writeFileSync(join(project.dir, "vertex.ts"), [
    'import { AnthropicVertex } from "@anthropic-ai/vertex-sdk";',
    'import { GoogleGenAI } from "@google/genai";',
    'import { anthropicVertexForUserKey, createClient, vertexGeminiForUserKey } from "quota-gateway";',
    'const qg = createClient({ apiKey: "qg_sk_test" });',
    'export async function answer(userId: string, userKey: string): Promise<string> {',
    '  const claude: AnthropicVertex = qg.anthropicVertex(AnthropicVertex, userId, { projectId: "my-project", region: "us-east5", maxRetries: 0, metadata: { feature: "chat" } });',
    '  const message = await claude.messages.create({ model: "claude-haiku-4-5@20251001", max_tokens: 10, messages: [{ role: "user", content: "hi" }] });',
    '  // @ts-expect-error the gateway holds the service account',
    '  qg.anthropicVertex(AnthropicVertex, userId, { projectId: "my-project", region: "us-east5", accessToken: "ya29.token" });',
    '  // @ts-expect-error the calls\' paths need the project',
    '  qg.anthropicVertex(AnthropicVertex, userId, { region: "us-east5" });',
    '  const gemini: GoogleGenAI = qg.vertexGemini(GoogleGenAI, userId, { project: "my-project", location: "us-central1", apiVersion: "v1", httpOptions: { timeout: 20_000 } });',
    '  const generated = await gemini.models.generateContent({ model: "gemini-2.5-flash", contents: "hi", config: { maxOutputTokens: 10 } });',
    '  // @ts-expect-error Google\'s credentials are the gateway\'s',
    '  qg.vertexGemini(GoogleGenAI, userId, { project: "my-project", location: "us-central1", googleAuthOptions: { keyFile: "sa.json" } });',
    '  // @ts-expect-error the calls\' paths need the location',
    '  qg.vertexGemini(GoogleGenAI, userId, { project: "my-project" });',
    '  const browser: AnthropicVertex = anthropicVertexForUserKey(AnthropicVertex, "https://quota.example.com", userKey, { projectId: "my-project", region: "global" });',
    '  const device: GoogleGenAI = vertexGeminiForUserKey(GoogleGenAI, "https://quota.example.com", userKey, { project: "my-project", location: "global" });',
    '  return `${message.usage.output_tokens} ${generated.usageMetadata?.totalTokenCount} ${browser.baseURL} ${device.vertexai}`;',
    "}",
  ].join("\n"));
  // The SDKs' own declarations are theirs to check (skipLibCheck); the use of them is ours.
  compile("current", "vertex", ["vertex.ts"], {
    target: "ES2022", lib: ["ES2022", "DOM"], module: "NodeNext", moduleResolution: "NodeNext", types: ["node"], skipLibCheck: true,
  });
});

test("the README's prices blocks pass strict tsc, the fit recipe with OpenAI's types", () => {
  const readme = readFileSync(join(root, "README.md"), "utf8");
  const section = readme.split("\n## Prices, the catalog and fit\n")[1].split("\n## ")[0];
  const blocks = [...section.matchAll(/```ts\n([\s\S]*?)```/g)].map((m) => m[1]);
  assert.equal(blocks.length, 2, "the catalog and prices calls, and the fit recipe");
  if (!existsSync(join(project.dir, "node_modules/openai"))) symlinkSync(join(root, "node_modules/openai"), join(project.dir, "node_modules/openai"));
  const prelude = ['import { createClient } from "quota-gateway";', 'const qg = createClient({ apiKey: "qg_sk_test" });'];
  writeFileSync(join(project.dir, "prices-0.ts"), [...prelude, blocks[0], "export { version, gpt, prices };"].join("\n"));
  writeFileSync(join(project.dir, "prices-1.ts"), [blocks[1], "export { chat };"].join("\n"));
  // OpenAI's own declarations are its to check (skipLibCheck); the use of them is ours.
  compile("current", "prices", ["prices-0.ts", "prices-1.ts"], {
    target: "ES2022", lib: ["ES2022", "DOM"], module: "NodeNext", moduleResolution: "NodeNext", types: ["node"], skipLibCheck: true,
  });
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
