// Every code block of the README, as written: each ```ts block compiles under strict (with the
// types of Express, Node, OpenAI and Anthropic) and runs as an ES module, a section's blocks in
// order against a project of their own (its own plans, users and ledger) on a gateway whose
// proxy answers as OpenAI and Anthropic (the provider simulator); then each section is checked
// for what it says it does. The reader's own names (the signed-in user, the render, what the user
// is told, ...) come from readme-context.ts, and the quick start's client `qg` is given to the
// blocks after it; nothing else is added. A block not run is named in EXCEPTIONS with the reason.
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { createHmac } from "node:crypto";
import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { after, before, test } from "node:test";
import { createClient } from "quota-gateway";
import ts from "typescript";
import { useGateway } from "./harness.mjs";
import { root } from "./pack.mjs";
import { cloudEnv, startSimulator, upstreamsFile } from "./simulator.mjs";

const README = join(root, "README.md");

// Blocks not run here, by their section and first line, with the reason.
const EXCEPTIONS = {
  "Install: (cd sdk/typescript && npm ci && npm run build)":
    "builds and installs into the reader's project: scripts/pack-sdks --check installs the package into a fresh npm project, by its directory and as the packed tarball; the install test below holds these lines to package.json",
  "Install: scripts/pack-sdks":
    "packs and installs: scripts/pack-sdks --check runs it and installs the tarball into a fresh npm project; the install test below holds the file name to package.json",
};

/** The README's sections (`## ` headings) in order, each with its fenced blocks: `{lang, code}`. */
function sections() {
  return readFileSync(README, "utf8").split(/^## /m).slice(1).map((part) => {
    const [title, ...rest] = part.split("\n");
    const blocks = [...rest.join("\n").matchAll(/^```(\w*)\n([\s\S]*?)^```/gm)].map((m) => ({ lang: m[1], code: m[2] }));
    return { title: title.trim(), blocks };
  });
}

const tsSections = () => sections().filter((s) => s.blocks.some((b) => b.lang === "ts"));

// The reader's own names, from readme-context.ts's exports.
const CONTEXT = readFileSync(join(root, "test/readme-context.ts"), "utf8");
const READERS_OWN = [...CONTEXT.matchAll(/^export (?:const|let|function|async function) (\w+)/gm)].map((m) => m[1])
  .filter((name, i, all) => all.indexOf(name) === i && !["told", "offered", "sent", "nudged", "configure"].includes(name));

/** The names a block declares at its top level (and so exports for the checks to read). */
function declared(code) {
  const names = new Set();
  for (const m of code.matchAll(/^(?:const|let|function|async function) (\w+)/gm)) names.add(m[1]);
  for (const m of code.matchAll(/^const \{ ([^}]+) \} =/gm)) {
    for (const part of m[1].split(",")) names.add(part.split(":").pop().trim());
  }
  for (const m of code.matchAll(/^import (?:type )?(?:\{([^}]*)\}|(\w+)) from/gm)) {
    for (const part of (m[1] ?? m[2]).split(",")) names.add(part.split(" as ").pop().trim());
  }
  return [...names].filter(Boolean);
}

/** What the block is compiled and run after: the reader's own names it uses, and the quick start's `qg`. */
function prelude(code) {
  const own = declared(code);
  const names = READERS_OWN.filter((n) => new RegExp(`\\b${n}\\b`).test(code) && !own.includes(n));
  const lines = names.length ? [`import { ${names.join(", ")} } from "./readme-context.js";`] : [];
  if (/\bqg\b/.test(code) && !own.includes("qg")) {
    lines.push('import { createClient as quickStartClient } from "quota-gateway";', "const qg = quickStartClient({ apiKey: process.env.QUOTA_GATEWAY_KEY! }); // the quick start's");
  }
  return lines.join("\n");
}

/** The module a block becomes: its prelude, the block as written, and an export of what it declared (not its imports). */
function moduleOf(code) {
  const imported = new Set([...code.matchAll(/^import (?:type )?(?:\{([^}]*)\}|(\w+)) from/gm)]
    .flatMap((m) => (m[1] ?? m[2]).split(",").map((p) => p.split(" as ").pop().trim())));
  const exported = declared(code).filter((n) => !imported.has(n));
  return `${prelude(code)}\n${code}\nexport { ${exported.join(", ")} };\n`;
}

const dir = join(root, `test/.readme-${process.pid}`);
const files = []; // {title, ts, js}

let sim;
let upstreams;
const env = useGateway({
  gatewayEnv: async () => {
    sim = await startSimulator("sim-readme-key");
    upstreams = upstreamsFile(sim.url, "SIM_KEY");
    return { QG_UPSTREAMS: upstreams.path, SIM_KEY: "sim-readme-key", ...cloudEnv(sim) };
  },
});

before(() => {
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, "readme-context.ts"), CONTEXT);
  writeFileSync(join(dir, "readme-context.js"), ts.transpileModule(CONTEXT, { compilerOptions: { target: ts.ScriptTarget.ES2022, module: ts.ModuleKind.ESNext } }).outputText);
  tsSections().forEach(({ title, blocks }, s) => blocks.filter((b) => b.lang === "ts").forEach(({ code }, b) => {
    const name = `section${s}-block${b}`;
    const source = `// README.md: ${title}\n${moduleOf(code)}`;
    writeFileSync(join(dir, `${name}.ts`), source);
    const { outputText } = ts.transpileModule(source, { compilerOptions: { target: ts.ScriptTarget.ES2022, module: ts.ModuleKind.ESNext } });
    writeFileSync(join(dir, `${name}.js`), outputText);
    files.push({ title, ts: `${name}.ts`, js: join(dir, `${name}.js`) });
  }));
});
after(() => {
  rmSync(dir, { recursive: true, force: true });
  sim?.stop();
  upstreams?.remove();
});

test("every block of the README is run or named with a reason", () => {
  const excused = new Set();
  for (const { title, blocks } of sections()) {
    for (const { lang, code } of blocks) {
      if (lang === "ts") continue;
      const key = `${title}: ${code.split("\n")[0].split("  #")[0].trim()}`;
      assert.ok(key in EXCEPTIONS, `a ${lang || "plain"} block is neither run nor excused: ${key}`);
      excused.add(key);
    }
  }
  assert.deepEqual([...excused].sort(), Object.keys(EXCEPTIONS).sort(), "every exception names a block the README has");
  assert.deepEqual(tsSections().map((s) => s.title).sort(), Object.keys(CHECKS).sort(), "every section with code is checked");
});

test("the install section names what is packed, under package.json's name and version", () => {
  const manifest = JSON.parse(readFileSync(join(root, "package.json"), "utf8"));
  const [install] = sections().filter((s) => s.title === "Install");
  const text = readFileSync(README, "utf8").split("\n## Install\n")[1].split("\n## ")[0];
  assert.ok(text.includes(`\`${manifest.name}\` ${manifest.version}`), "the name and version it will be published under");
  const commands = install.blocks.map((b) => b.code).join("\n");
  const tarball = `target/sdk/${manifest.name}-${manifest.version}.tgz`;
  assert.ok(commands.includes(`prints ${tarball}`) && commands.includes(`npm install /path/to/quota-gateway/${tarball}`), commands);
  assert.ok(commands.includes("npm install /path/to/quota-gateway/sdk/typescript") && text.includes('"quota-gateway": "file:'), commands);
  assert.ok(readFileSync(join(root, "../../scripts/pack-sdks"), "utf8").includes('quota-gateway-$TS_VERSION.tgz'));
});

test("every ts block of the README passes strict tsc, with Express's, Node's, OpenAI's and Anthropic's types", async () => {
  writeFileSync(join(dir, "tsconfig.json"), JSON.stringify({
    compilerOptions: {
      strict: true, exactOptionalPropertyTypes: true, noEmit: true, target: "ES2022", lib: ["ES2022", "DOM"], module: "NodeNext",
      moduleResolution: "NodeNext", types: ["node"], esModuleInterop: true, skipLibCheck: true,
    },
    files: ["readme-context.ts", ...files.map((f) => f.ts)],
  }));
  try {
    // Not execFileSync: a blocked event loop keeps idle connections to the gateway in the pool
    // after the gateway has closed them (its keep-alive is 5 s, tsc takes longer on a busy
    // machine), and the next section's first call fails on one.
    await promisify(execFile)(process.execPath, [join(root, "node_modules/typescript/bin/tsc"), "-p", join(dir, "tsconfig.json")]);
  } catch (err) {
    assert.fail(`${err.stdout}${err.stderr}\n${files.map((f) => `${f.ts}:\n${readFileSync(join(dir, f.ts), "utf8")}`).join("\n")}`);
  }
});

/** A project of its own for a section, its secret key in the environment as the quick start reads it. */
let projects = 0;
async function newProject() {
  const admin = async (method, path, body) => {
    const res = await fetch(env.baseUrl + path, { method, headers: { Authorization: `Bearer ${env.rootToken}`, "Content-Type": "application/json" }, body: JSON.stringify(body) });
    const text = await res.text();
    assert.ok(res.ok, `${method} ${path}: ${res.status} ${text}`);
    return JSON.parse(text);
  };
  const id = `readme${projects++}`;
  await admin("POST", "/v1/projects", { id });
  const secret = (await admin("POST", `/v1/projects/${id}/keys`, { kind: "secret" })).key;
  const publishable = (await admin("POST", `/v1/projects/${id}/keys`, { kind: "publishable" })).key;
  process.env.QUOTA_GATEWAY_URL = env.baseUrl;
  process.env.QUOTA_GATEWAY_KEY = secret;
  return { secret, publishable };
}

/** An Express app (a block's `app`) on a loopback port: its URL and `close()`. */
async function serve(app) {
  const server = await new Promise((done) => { const s = app.listen(0, "127.0.0.1", () => done(s)); });
  return { url: `http://127.0.0.1:${server.address().port}`, close: () => new Promise((done) => server.close(done)) };
}

const usage = async (qg, user) => Object.fromEntries((await qg.usage(user)).counters.map((c) => [c.groupId, [c.used, c.reserved]]));

// What each section says it does, checked after its blocks ran: (client, the blocks' modules, what they logged, the context).
const CHECKS = {
  "Quick start": async (qg, [block], { logs }) => {
    assert.deepEqual(await usage(qg, "alice"), { renders: [1, 0] });
    assert.deepEqual(logs, ["rendered 4 bytes"]);
    assert.equal(typeof block.qg.reserve, "function");
  },
  Decisions: async (qg, [block]) => {
    await qg.putPlan({ id: "plan_api", periodType: "month", groups: [{ id: "calls", unit: "count", quota: 1, matches: [{ event: "api.call" }] }] });
    await qg.upsertSubscription({ userId: "dave", planId: "plan_api" });
    const server = await serve(block.app);
    try {
      const call = () => fetch(`${server.url}/api/answer`, { method: "POST", headers: { "x-user-id": "dave" } });
      const ok = await call();
      assert.equal(ok.status, 200);
      assert.match(ok.headers.get("ratelimit"), /^"calls";r=0;t=\d+$/);
      assert.match(ok.headers.get("ratelimit-policy"), /^"calls";q=1;w=\d+$/);
      const denied = await call();
      assert.equal(denied.status, 429);
      assert.deepEqual(await denied.json(), { reasons: ["limit_reached"] });
      assert.ok(Number(denied.headers.get("retry-after")) > 0);
    } finally {
      await server.close();
    }
    assert.deepEqual(await usage(qg, "dave"), { calls: [1, 0] });
  },
  "Alternatives: Model A, then Model B": async (qg, _blocks, { logs, context }) => {
    assert.deepEqual(logs, ["llm.chat limit_reached"], "the second call passed over Model A");
    assert.deepEqual(context.sent, ["gpt-4o: Plan the trip", "gpt-4o-mini: Pack the bags"]);
    assert.deepEqual(context.told, []);
    assert.deepEqual(await usage(qg, "alice"), { "model-a": [1, 0], "model-b": [1, 0] });
  },
  Credits: async (qg, _blocks, { logs, context }) => {
    const [credits] = (await qg.balances("alice")).data;
    assert.deepEqual([credits.available, credits.held], [490, 10]);
    assert.deepEqual(logs, ["490 10"]);
    assert.deepEqual(context.offered, []);
    assert.equal((await qg.listGrants("alice")).data[0].metadata.session, "cs_test_readme");
  },
  "Prices, the catalog and fit": async (qg, [prices, fit]) => {
    assert.equal(prices.gpt.model, "gpt-4.1");
    assert.ok(prices.prices.some((p) => p.model === "ft:gpt-4.1:acme:support"), "listed while it was set");
    await assert.rejects(qg.price("ft:gpt-4.1:acme:support"), (err) => err.code === "price_not_found");
    assert.equal(typeof fit.chat, "function"); // called by prices.test.mjs
  },
  Approvals: async (qg, [block], { context }) => {
    assert.equal(context.told.length, 1);
    const [[said]] = context.told;
    assert.match(said, /^waiting for approval \S+$/);
    const approval = await qg.getApproval(block.waiting.approvalId);
    assert.deepEqual([approval.status, approval.approvedQuota], ["approved", 10]);
    assert.equal((await qg.reserve("alice", "campaign.launch")).allowed, true, "approved: 5 more launches");
  },
  Runs: async (qg, [block], { context }) => {
    assert.deepEqual(context.told, []);
    assert.deepEqual(block.done.value, ["gpt-4o: Find the budgets", "gpt-4o: Sum them up"]);
    assert.deepEqual(block.done.run.groups.map((g) => [g.groupId, g.budget, g.used, g.open]), [["tokens", 50_000, 2400, 0]]);
    assert.deepEqual(await usage(qg, "alice"), { tokens: [2400, 0] });
  },
  "Simulations (pricing lab)": async (_qg, [block], { logs }) => {
    assert.equal(block.report.fidelity, 1);
    assert.deepEqual(block.report.newlyAdmitted, { decisions: 1, users: 1 });
    assert.ok(block.csv.startsWith("userId,"), block.csv);
    assert.ok(logs.includes("1 of 1 users"), logs.join("\n"));
  },
  "The usage ledger": async (_qg, [block], { logs }) => {
    assert.deepEqual(logs, ["{}"], "a new project's team has no usage");
    assert.equal(typeof block.usageByModel, "function"); // called by ledger.test.mjs
  },
  Webhooks: async (_qg, [block], { context }) => {
    const server = await serve(block.app);
    try {
      const body = JSON.stringify({ type: "quota.threshold_crossed", timestamp: new Date().toISOString(), data: { userId: "alice", threshold: 80 } });
      const at = String(Math.floor(Date.now() / 1000));
      const key = Buffer.from(process.env.QG_WEBHOOK_SECRET.slice("whsec_".length), "base64");
      const signature = `v1,${createHmac("sha256", key).update(`msg_readme.${at}.${body}`).digest("base64")}`;
      const deliver = (sig) => fetch(`${server.url}/hooks/quota`, { method: "POST", body, headers: { "content-type": "application/json", "webhook-id": "msg_readme", "webhook-timestamp": at, "webhook-signature": sig } });
      assert.deepEqual([(await deliver(signature)).status, (await deliver(signature)).status], [200, 200], "delivered, then retried");
      assert.deepEqual(context.nudged, ["alice"], "the retry was dropped");
      assert.equal((await deliver(signature.replace(/.{4}$/, "AAAA"))).status, 400, "a forged delivery throws webhook_invalid, whose status Express answers");
    } finally {
      await server.close();
    }
  },
  "Migrating from `@vevee/sdk`": async (qg, _blocks, { warnings, context }) => {
    assert.deepEqual(await usage(qg, "alice"), { tokens: [4000 + 2800 + 1200, 0] }, "6,800 tracked, then 1,200 committed");
    assert.equal(warnings.filter((w) => w.includes(".refund")).length, 1, warnings.join("\n"));
    assert.deepEqual(context.told, []);
  },
  "The proxy: the providers' own clients": async (qg, [block], { context }) => {
    assert.ok(context.sent.join("").length > 0, "streamed");
    assert.equal(block.message.role, "assistant");
    const [used, reserved] = (await usage(qg, "alice")).tokens;
    assert.ok(used > 0 && reserved === 0, `${used} ${reserved}`);
    assert.deepEqual(context.told, []);
  },
  "User keys: calls from a browser or a phone": async (qg, [block]) => {
    assert.equal(block.openai.baseURL, "https://quota.example.com/proxy/openai/v1");
    assert.equal(block.openai.apiKey, block.key);
    assert.deepEqual((await qg.listUserKeys("alice")).data, [], "revoked");
  },
  "In the browser": async (_qg, [block], { logs }) => {
    assert.deepEqual(block.usage.counters.map((c) => [c.groupId, c.used]), [["renders", 0]]);
    assert.equal(logs.length, 1);
  },
};

for (const { title } of tsSections()) {
  test(`the README's ${title} runs as written`, async () => {
    const project = await newProject();
    process.env.QG_WEBHOOK_SECRET = `whsec_${Buffer.from("readme-webhook-secret-32-bytes!!").toString("base64")}`;
    const context = await import(pathToFileURL(join(dir, "readme-context.js")).href);
    context.configure({ publishableKey: project.publishable, gatewayUrl: env.baseUrl });
    const logs = [];
    const warnings = [];
    const { log, warn } = console;
    console.log = (...args) => logs.push(args.map((a) => (typeof a === "string" ? a : JSON.stringify(a))).join(" "));
    console.warn = (...args) => warnings.push(args.join(" "));
    const modules = [];
    try {
      for (const file of files.filter((f) => f.title === title)) modules.push(await import(pathToFileURL(file.js).href));
    } finally {
      console.log = log;
      console.warn = warn;
    }
    const qg = createClient({ apiKey: project.secret, baseUrl: env.baseUrl });
    await CHECKS[title](qg, modules, { logs, warnings, context });
    assert.deepEqual(warnings.filter((w) => !w.includes(".refund")), [], "nothing else warned");
  });
}
