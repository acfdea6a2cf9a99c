// Every dashboard page checked with axe-core in a real headless Chromium (Debian's
// /usr/bin/chromium, driven by playwright-core), with realistic data in place so every section
// renders: no violation of impact "serious" or "critical" on any page. Every violation found,
// of any impact, is printed with its elements' selectors and HTML, then a summary by rule and
// element with the pages it is on. The pages are one list, PAGES: add a page there.
import assert from "node:assert/strict";
import { createServer } from "node:http";
import { createRequire } from "node:module";
import { after, before, test } from "node:test";
import { chromium } from "playwright-core";
import { startGateway, startRedis } from "../../sdk/typescript/scripts/gateway.mjs";
import { api as gateway } from "./support.mjs";

const AXE = createRequire(import.meta.url).resolve("axe-core/axe.min.js");
const BLOCKING = ["serious", "critical"];
const IMPACTS = ["minor", "moderate", ...BLOCKING];
const env = {};
/** Every violation seen: "rule|impact|selector|html" -> { rule, impact, help, target, html, pages }. */
const found = new Map();

const api = (method, path, token, body) => gateway(env.baseUrl, method, path, token, body);
const call = (method, path, body) => api(method, path, env.key, body);
const root = (method, path, body) => api(method, path, env.gateway.rootToken, body);

/** Clicks `locator` and waits for the page it leads to: that page's response. */
async function follow(page, locator) {
  const [res] = await Promise.all([page.waitForNavigation(), locator.click()]);
  return res;
}

/** Polls `check` up to 100 times, 50 ms apart: the project's lists follow their writes by a moment. */
async function eventually(check) {
  for (let i = 0; i < 100 && !(await check()); i++) await new Promise((r) => setTimeout(r, 50));
  assert.ok(await check(), "came true within 5 s");
}

/**
 * The pages, each opened by `path` (a string, or a function of the data made in before()) or by
 * `open(page)` (a form's answer: returns that response). `h1` says the page is the one meant,
 * `shows` the sections it must have (the data is there to render them); `status` is its HTTP
 * status when not 200; `signedOut` opens it without the session.
 */
const PAGES = [
  { name: "sign-in", path: "/dashboard", signedOut: true, h1: /^quota-gateway$/ },
  { name: "invitation", path: () => env.invitePath, signedOut: true, h1: /Welcome, Ivy Invited/ },
  { name: "users list", path: "/dashboard/users", h1: /^Users$/ },
  { name: "users list, searched", path: "/dashboard/users?q=ada&status=active", h1: /^Users$/ },
  {
    name: "user page",
    path: "/dashboard/users/ada",
    h1: /^User ada/,
    shows: ["Waiting for approval", "Daily usage, last 30 days", "Spend by member, this period", "Credits", "Support actions",
      "Runs", "User keys (the proxy)", "Open reservations", "Recent usage (ledger)", "Audit trail"],
  },
  { name: "user never seen", path: "/dashboard/users/nobody-yet", h1: /never seen/ },
  { name: "run", path: () => `/dashboard/users/ada/runs/${env.runId}`, h1: /^Run run_/, shows: ["Budget", "Steps"] },
  { name: "approvals queue", path: "/dashboard/approvals", h1: /Approvals/, shows: ["Approve"] },
  { name: "plans", path: "/dashboard/plans", h1: /^Plans$/ },
  { name: "plan editor, new", path: "/dashboard/plans/new?recipe=freemium%2Fplan_free", h1: /^Plan/ },
  { name: "plan editor, edit", path: "/dashboard/plans/plan_full/edit", h1: /^Plan plan_full$/ },
  {
    name: "plan editor, checked (a diff)",
    h1: /^Plan plan_full$/,
    async open(page) {
      await page.goto(`${env.baseUrl}/dashboard/plans/plan_full/edit`);
      const doc = await page.inputValue("textarea[name=doc]");
      await page.fill("textarea[name=doc]", doc.replace('"quota": 100,', '"quota": 150,'));
      return follow(page, page.locator("button", { hasText: "Check" }));
    },
  },
  {
    name: "plan editor, refused (problems by field)",
    h1: /^Plan plan_full$/,
    status: 422,
    async open(page) {
      await page.goto(`${env.baseUrl}/dashboard/plans/plan_full/edit`);
      const doc = await page.inputValue("textarea[name=doc]");
      await page.fill("textarea[name=doc]", doc.replace('"unit": "count"', '"unit": "bogus"'));
      return follow(page, page.locator("button", { hasText: "Check" }));
    },
  },
  { name: "pricing-lab simulation report", path: () => env.simulationPath, h1: /sim_/, ready: "p.fidelity" },
  { name: "prices", path: "/dashboard/prices", h1: /Prices/ },
  { name: "webhooks", path: "/dashboard/webhooks", h1: /^Webhooks$/, shows: ["webhook.test"] },
  { name: "audit log", path: "/dashboard/audit", h1: /^Audit log$/ },
  { name: "audit log, filtered", path: "/dashboard/audit?action=user&user=ada", h1: /^Audit log$/ },
  { name: "a user's ledger", path: "/dashboard/users/ada/ledger?kind=commit", h1: /^Ledger of ada$/ },
  { name: "overview", path: "/dashboard/overview", h1: /^Overview$/ },
  { name: "operators", path: "/dashboard/operators", h1: /^Operators$/ },
  { name: "keys", path: "/dashboard/keys", h1: /^Keys$/ },
  { name: "settings", path: "/dashboard/settings", h1: /^Settings$/ },
  {
    name: "confirm: void a grant",
    h1: /^Void this grant\?$/,
    async open(page) {
      await page.goto(`${env.baseUrl}/dashboard/users/ada`);
      return follow(page, page.locator("table.grants button", { hasText: "Void" }).first());
    },
  },
  {
    name: "confirm: revoke a key",
    h1: /^Revoke this key\?$/,
    async open(page) {
      await page.goto(`${env.baseUrl}/dashboard/keys`);
      return follow(page, page.locator("tr", { hasText: env.spareKeyId }).locator("button", { hasText: "Revoke" }));
    },
  },
  {
    name: "confirm: delete an endpoint",
    h1: /^Delete this endpoint\?$/,
    async open(page) {
      await page.goto(`${env.baseUrl}/dashboard/webhooks`);
      return follow(page, page.locator("button", { hasText: "Delete the endpoint" }).first());
    },
  },
  {
    name: "confirm: block",
    h1: /^Block this user\?$/,
    async open(page) {
      await page.goto(`${env.baseUrl}/dashboard/users/ada`);
      await page.fill("form[action$='/block'] input[name=reason]", "chargeback");
      return follow(page, page.locator("form[action$='/block'] button"));
    },
  },
  {
    name: "confirm: plan switch",
    h1: /^Switch this user's plan\?$/,
    async open(page) {
      await page.goto(`${env.baseUrl}/dashboard/users/ada`);
      await page.selectOption("form[action$='/plan'] select[name=planId]", "plan_lab");
      return follow(page, page.locator("form[action$='/plan'] button"));
    },
  },
  {
    name: "confirm: close a run",
    h1: /^Close this run\?$/,
    async open(page) {
      await page.goto(`${env.baseUrl}/dashboard/users/ada/runs/${env.runId}`);
      return follow(page, page.locator("button", { hasText: "Close the run" }));
    },
  },
  {
    name: "confirm: revoke a user key",
    h1: /^Revoke this user key\?$/,
    async open(page) {
      await page.goto(`${env.baseUrl}/dashboard/users/ada`);
      return follow(page, page.locator("#user-keys + table button", { hasText: "Revoke" }));
    },
  },
  { name: "not found", path: "/dashboard/users/x/runs/nosuchrun", status: 404, h1: /./ },
];

before(async () => {
  env.redis = await startRedis();
  env.gateway = await startGateway(env.redis.url);
  env.baseUrl = env.gateway.baseUrl;
  env.key = (await root("POST", "/v1/projects/default/keys", { kind: "secret", label: "a11y" })).key;
  env.spareKeyId = (await root("POST", "/v1/projects/default/keys", { kind: "secret", label: "spare" })).keyId;

  // A plan with every kind of group, so every section of a user's page shows.
  await call("PUT", "/v1/plans/plan_full", { periodType: "month", groups: [
    { id: "renders", label: "Image renders", unit: "count", quota: 100, matches: [{ event: "render" }], onPlanChange: "carry" },
    { id: "tokens", label: "LLM tokens", unit: "tokens", quota: 100000, matches: [{ event: "llm" }] },
    { id: "wallet", label: "Video credits", balance: "credits", matches: [{ event: "video", measure: { rate: 10 } }] },
    { id: "launches", label: "Campaign launches", unit: "count", quota: 1, mode: "approval", matches: [{ event: "campaign.launch" }] },
  ] });
  await call("PUT", "/v1/plans/plan_lab", { periodType: "month", groups: [
    { id: "lab_renders", label: "Lab renders", unit: "count", quota: 2, matches: [{ event: "lab.render" }] },
  ] });
  await call("PUT", "/v1/users/ada/subscription", { planId: "plan_full" });
  await call("PUT", "/v1/users/ada-kid/subscription", { planId: "plan_full", parentId: "ada" });
  for (let i = 0; i < 4; i++) {
    const held = await call("POST", "/v1/reserve", { userId: "ada", event: "render", metadata: { model: "flux-pro" } });
    await call("POST", `/v1/reservations/${held.reservationId}/commit`, {});
  }
  await call("POST", "/v1/track", { userId: "ada-kid", event: "render", quantity: 2 });
  await call("POST", "/v1/track", { userId: "ada", event: "llm", quantity: 1200 });
  await call("POST", "/v1/reserve", { userId: "ada", event: "render", ttlSeconds: 600 });
  await call("POST", "/v1/users/ada/grants", { balance: "credits", amount: 100, category: "promotional", source: "welcome" });
  await call("POST", "/v1/users/ada/grants", { balance: "credits", amount: 50, source: "purchase" });
  await call("POST", "/v1/users/ada/adjustments", { groupId: "renders", amount: -1, reason: "failed render" });

  const run = await call("POST", "/v1/runs", { userId: "ada", event: "llm", quantity: 5000, limits: { steps: 10, attemptsPerAction: 3 } });
  env.runId = run.runId;
  await call("POST", "/v1/user-keys", { userId: "ada", label: "ada's app" });
  const step = await call("POST", "/v1/reserve", { userId: "ada", event: "llm", quantity: 1500, runId: run.runId, actionId: "summarise" });
  await call("POST", `/v1/reservations/${step.reservationId}/commit`, { quantity: 1200 });

  const first = await call("POST", "/v1/reserve", { userId: "ada", event: "campaign.launch" });
  await call("POST", `/v1/reservations/${first.reservationId}/commit`, {});
  const denied = await call("POST", "/v1/reserve", { userId: "ada", event: "campaign.launch" });
  assert.deepEqual(denied.reasons, ["approval_pending"]);
  await eventually(async () => (await call("GET", "/v1/approvals?status=pending&userId=ada")).data.length === 1);

  // Recorded demand for the pricing lab: one user denied, one not.
  for (const [user, images] of [["bo", 3], ["cy", 1]]) {
    await call("PUT", `/v1/users/${user}/subscription`, { planId: "plan_lab" });
    for (let i = 0; i < images; i++) {
      const held = await call("POST", "/v1/reserve", { userId: user, event: "lab.render" });
      if (held.allowed) await call("POST", `/v1/reservations/${held.reservationId}/commit`, {});
    }
  }

  await call("PUT", "/v1/prices/acme-ft-1", { inputPerMillion: 2.5, cachedInputPerMillion: 1.25, outputPerMillion: 10 });

  env.receiver = createServer((req, res) => { req.resume(); req.on("end", () => res.writeHead(200).end()); });
  await new Promise((r) => env.receiver.listen(0, "127.0.0.1", r));
  const hook = await call("POST", "/v1/webhooks", { url: `http://127.0.0.1:${env.receiver.address().port}/hook` });
  await call("POST", `/v1/webhooks/${hook.id}/test`, {});
  await eventually(async () => (await call("GET", `/v1/webhooks/${hook.id}/deliveries`)).data.length > 0);

  await root("POST", "/v1/operators", { email: "sam@example.com", name: "Sam Support", roles: { default: "support" } });
  env.invitePath = (await root("POST", "/v1/operators", { email: "ivy@example.com", name: "Ivy Invited", roles: { default: "viewer" } })).invitePath;

  env.browser = await chromium.launch({ executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium", args: ["--no-sandbox"] });
  // One sign-in for the file (they are throttled per address), as the root token: an owner
  // sees every form (keys, settings, operators).
  const { context, page } = await browse(true);
  await page.goto(`${env.baseUrl}/dashboard`);
  await page.fill("input[name=credential]", env.gateway.rootToken);
  await page.click("form:has(input[name=credential]) button");
  await page.waitForURL("**/dashboard/users");
  env.cookies = await context.cookies();
  // A simulation as an operator makes one: tried from the plan editor.
  await page.goto(`${env.baseUrl}/dashboard/plans/plan_lab/edit`);
  const doc = await page.inputValue("textarea[name=doc]");
  await page.fill("textarea[name=doc]", doc.replace('"quota": 2', '"quota": 3'));
  await page.click("text=Try on the last 30 days");
  await page.waitForURL(/\/dashboard\/simulations\/sim_[0-9a-f]{32}$/);
  await page.waitForSelector("p.fidelity", { timeout: 30_000 });
  env.simulationPath = new URL(page.url()).pathname;
  await context.close();
});

after(async () => {
  await env.browser?.close();
  env.receiver?.close();
  env.gateway?.stop();
  env.redis?.stop();
  summary();
});

/** A page with the CSP bypassed (it forbids the injected axe), signed in unless `signedOut`. */
async function browse(signedOut) {
  const context = await env.browser.newContext({ viewport: { width: 1280, height: 900 }, bypassCSP: true });
  if (!signedOut) await context.addCookies(env.cookies);
  const page = await context.newPage();
  page.on("dialog", () => assert.fail("a dialog opened: something ran script"));
  return { context, page };
}

/** axe's violations on the page as it is now. */
async function audit(page) {
  await page.addScriptTag({ path: AXE });
  return page.evaluate(async () => {
    // The nearest heading before an element: where on the page it is, as a selector may not say.
    const heading = (selector) => {
      const element = document.querySelector(selector);
      const before = [...document.querySelectorAll("h1, h2, h3")]
        .filter((h) => element && h.compareDocumentPosition(element) & Node.DOCUMENT_POSITION_FOLLOWING);
      return before.length ? before[before.length - 1].textContent.trim().replace(/\s+/g, " ") : "";
    };
    const results = await globalThis.axe.run(document, { resultTypes: ["violations"] });
    return results.violations.map((v) => ({
      id: v.id,
      impact: v.impact,
      help: v.help,
      helpUrl: v.helpUrl,
      nodes: v.nodes.map((n) => ({ target: n.target.join(" "), html: n.html, under: heading(n.target.join(" ")) })),
    }));
  });
}

/** Violations as lines a developer can act on. */
function describe(violations) {
  return violations.flatMap((v) => [
    `  [${v.impact}] ${v.id}: ${v.help} (${v.helpUrl})`,
    ...v.nodes.flatMap((n) => [`      ${n.target} (under "${n.under}")`, `        ${n.html}`]),
  ]).join("\n");
}

function summary() {
  if (found.size === 0) return;
  const rows = [...found.values()].sort((a, b) =>
    IMPACTS.indexOf(b.impact) - IMPACTS.indexOf(a.impact) || a.rule.localeCompare(b.rule) || a.target.localeCompare(b.target));
  const lines = rows.map((r) => `[${r.impact}] ${r.rule} | ${r.target} (under "${r.under}") | ${r.html}\n    on: ${[...r.pages].join(", ")}`);
  console.log(`\naxe violations, deduplicated (${rows.length}):\n${lines.join("\n")}`);
}

for (const entry of PAGES) {
  test(`${entry.name}: no serious or critical accessibility violation`, async () => {
    const { context, page } = await browse(entry.signedOut);
    try {
      const res = entry.open
        ? await entry.open(page)
        : await page.goto(env.baseUrl + (typeof entry.path === "function" ? entry.path() : entry.path));
      assert.equal(res.status(), entry.status ?? 200, `${entry.name} answered ${res.status()}`);
      if (entry.ready) await page.waitForSelector(entry.ready);
      assert.match((await page.locator("h1").first().textContent()).trim(), entry.h1, "the page meant, not another");
      for (const text of entry.shows ?? []) {
        assert.ok(await page.getByText(text, { exact: true }).first().isVisible(), `${entry.name} shows ${text}`);
      }

      const violations = await audit(page);
      const { pathname, search } = new URL(page.url());
      const url = pathname + search;
      for (const v of violations) {
        for (const n of v.nodes) {
          const key = [v.id, v.impact, n.target, n.html, n.under].join("|");
          const seen = found.get(key) ?? { rule: v.id, impact: v.impact, target: n.target, under: n.under, html: n.html, pages: new Set() };
          seen.pages.add(`${entry.name} (${url})`);
          found.set(key, seen);
        }
      }
      if (violations.length) console.log(`${entry.name} (${url}):\n${describe(violations)}`);
      const blocking = violations.filter((v) => BLOCKING.includes(v.impact));
      assert.equal(blocking.length, 0, `${entry.name} (${url}) has serious or critical violations:\n${describe(blocking)}`);
    } finally {
      await context.close();
    }
  });
}
