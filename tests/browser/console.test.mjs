// The console's guard rails in a real headless Chromium (Debian's /usr/bin/chromium, driven by
// playwright-core), each checked through the API afterwards: a grant's Void asks first and
// needs a reason, which the audit log keeps; reloading the page that shows a new webhook's
// secret makes no second endpoint; a plan switch's preview is what the switch does; the
// overview's top users are right at 3,000 users (every user counted); search finds a mixed-case id by a lowercase
// part of it.
import assert from "node:assert/strict";
import { createServer } from "node:http";
import { after, before, test } from "node:test";
import { chromium } from "playwright-core";
import { startGateway, startRedis } from "../../sdk/typescript/scripts/gateway.mjs";
import { api as gateway } from "./support.mjs";

const env = {};

const api = (method, path, token, body) => gateway(env.baseUrl, method, path, token, body);
const call = (method, path, body) => api(method, path, env.key, body);

/** Runs `task(item)` for every item, at most `limit` at once. */
async function bounded(items, limit, task) {
  let next = 0;
  const worker = async () => {
    while (next < items.length) await task(items[next++]);
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}

before(async () => {
  env.redis = await startRedis();
  env.gateway = await startGateway(env.redis.url);
  env.baseUrl = env.gateway.baseUrl;
  const support = await api("POST", "/v1/projects/default/keys", env.gateway.rootToken, { kind: "secret", label: "console" });
  env.key = support.key;
  env.browser = await chromium.launch({ executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium", args: ["--no-sandbox"] });
  // One sign-in for the file: sign-ins are throttled per client address.
  const context = await env.browser.newContext();
  const page = await context.newPage();
  await page.goto(`${env.baseUrl}/dashboard`);
  await page.fill("input[name=credential]", env.key);
  await page.click("form:has(input[name=credential]) button");
  await page.waitForURL("**/dashboard/users");
  env.cookies = await context.cookies();
  await context.close();
});

after(async () => {
  await env.browser?.close();
  env.gateway?.stop();
  env.redis?.stop();
});

/** A page in the file's session; any JavaScript dialog fails the test. */
async function reused() {
  const context = await env.browser.newContext({ viewport: { width: 1280, height: 900 } });
  await context.addCookies(env.cookies);
  const page = await context.newPage();
  page.on("dialog", () => assert.fail("a dialog opened: something ran script"));
  return { context, page };
}

/** Clicks `locator` and waits for the page it leads to: that page's response. */
async function follow(page, locator) {
  const [res] = await Promise.all([page.waitForNavigation(), locator.click()]);
  return res;
}

test("a grant's Void asks first, refuses a blank reason, and the audit log keeps the reason", async () => {
  await call("PUT", "/v1/plans/plan_wallet", { periodType: "month", groups: [
    { id: "wallet", label: "Render credits", balance: "credits", matches: [{ event: "render", measure: { rate: 10 } }] },
  ] });
  await call("PUT", "/v1/users/vic/subscription", { planId: "plan_wallet" });
  const grant = await call("POST", "/v1/users/vic/grants", { balance: "credits", amount: 40, source: "goodwill" });
  const stored = async () => (await call("GET", "/v1/users/vic/grants")).data.find((g) => g.grantId === grant.grantId);
  const voids = async () => (await call("GET", "/v1/audit-log?userId=vic")).data.filter((c) => c.action === "grant.void");
  const voidButton = (page) => page.locator("table.grants tbody tr", { hasText: grant.grantId }).locator("button", { hasText: "Void" });

  const { context, page } = await reused();
  await page.goto(`${env.baseUrl}/dashboard/users/vic`);
  await follow(page, voidButton(page));
  const ask = page.locator("div.confirm");
  assert.match(await ask.textContent(), /40 remaining credits are gone for good/);
  assert.equal((await stored()).status, "active", "asked first: nothing voided yet");
  assert.deepEqual(await voids(), []);

  // Empty: the browser's own check keeps the form on the page.
  const reason = ask.locator("input[name=reason]");
  await ask.locator("button[type=submit]").click();
  assert.equal(await reason.evaluate((i) => i.validity.valueMissing), true);
  assert.equal(new URL(page.url()).pathname, "/dashboard/users/vic/void", "still the confirmation page");
  // Spaces pass `required`; the server refuses them.
  await reason.fill("   ");
  const refused = await follow(page, ask.locator("button[type=submit]"));
  assert.equal(refused.status(), 400);
  assert.match(await page.locator(".flash.error").textContent(), /reason: must be 1 to 256 bytes/);
  assert.equal((await stored()).status, "active", "a refused void changes nothing");
  assert.deepEqual(await voids(), []);

  // The answer is the user's page again: Void, then a real reason.
  await follow(page, voidButton(page));
  await page.fill("div.confirm input[name=reason]", "granted twice by mistake");
  await follow(page, page.locator("div.confirm button[type=submit]"));
  await page.waitForSelector(".flash >> text=Grant voided.");
  const voided = await stored();
  assert.equal(voided.status, "voided");
  assert.equal(voided.voided, 40);
  const [entry, ...more] = await voids();
  assert.equal(more.length, 0, "voided once");
  assert.equal(entry.detail.reason, "granted twice by mistake");
  assert.equal(entry.detail.grantId, grant.grantId);
  assert.equal(entry.actorLabel, "console");
  // The Audit page shows the reason too.
  await page.goto(`${env.baseUrl}/dashboard/audit`);
  const row = page.locator("tbody tr", { has: page.locator("code", { hasText: "grant.void" }) }).first();
  assert.match(await row.textContent(), /granted twice by mistake/);
  await context.close();
});

test("reloading the page that shows a new webhook's secret re-posts the form and makes no second endpoint", async () => {
  const server = createServer((req, res) => { req.resume(); res.writeHead(200).end(); });
  await new Promise((r) => server.listen(0, "127.0.0.1", r));
  const url = `http://127.0.0.1:${server.address().port}/reload-hook`;
  const { context, page } = await reused();
  await page.goto(`${env.baseUrl}/dashboard/webhooks`);
  await page.fill("input[name=url]", url);
  await follow(page, page.locator("button", { hasText: "Add an endpoint" }));
  const shown = async () => {
    const flash = page.locator(".flash").first();
    await flash.waitFor();
    return (await flash.locator("code").allTextContents()).slice(0, 2);
  };
  const [id, secret] = await shown();
  assert.match(id, /^wh_/);
  assert.match(secret, /^whsec_/);

  // The reload must really post again, or this test proves nothing.
  const methods = [];
  page.on("request", (r) => { if (r.isNavigationRequest()) methods.push(r.method()); });
  await page.reload();
  assert.deepEqual(methods, ["POST"], "the reload re-posted the form");
  assert.deepEqual(await shown(), [id, secret], "the repeat answers the endpoint made first");

  const hooks = (await call("GET", "/v1/webhooks")).data.filter((h) => h.url === url);
  assert.equal(hooks.length, 1, `one endpoint for ${url}: ${hooks.map((h) => h.id)}`);
  assert.equal(hooks[0].id, id);
  const created = (await call("GET", "/v1/audit-log")).data.filter((c) => c.action === "webhook.create" && c.target === id);
  assert.equal(created.length, 1, "created once in the audit log");
  server.close();
  await context.close();
});

test("a plan switch's preview, per group, is what the switch then does", async () => {
  const groups = (renders, tokens, exports) => [
    { id: "renders", label: "Image renders", unit: "count", quota: renders, matches: [{ event: "render" }], onPlanChange: "carry" },
    { id: "tokens", label: "LLM tokens", unit: "tokens", quota: tokens, matches: [{ event: "llm" }], onPlanChange: "reset" },
    { id: "exports", label: "Exports", unit: "count", quota: exports, matches: [{ event: "export" }], onPlanChange: "block" },
  ];
  await call("PUT", "/v1/plans/plan_basic", { periodType: "month", groups: groups(10, 1000, 5) });
  await call("PUT", "/v1/plans/plan_plus", { periodType: "month", groups: groups(100, 2000, 20) });
  const user = "switcher";
  await call("PUT", `/v1/users/${user}/subscription`, { planId: "plan_basic" });
  for (let i = 0; i < 3; i++) await call("POST", "/v1/track", { userId: user, event: "render" });
  await call("POST", "/v1/track", { userId: user, event: "llm", quantity: 700 });
  await call("POST", "/v1/track", { userId: user, event: "export", quantity: 2 });
  const before = await call("GET", `/v1/users/${user}/usage`);

  const { context, page } = await reused();
  await page.goto(`${env.baseUrl}/dashboard/users/${user}`);
  await page.selectOption("form[action$='/plan'] select[name=planId]", "plan_plus");
  await follow(page, page.locator("form[action$='/plan'] button[type=submit]"));
  const preview = {};
  for (const row of await page.locator("div.confirm tbody tr").all()) {
    const cells = (await row.locator("td").allTextContents()).map((c) => c.trim());
    const group = await row.locator("td:first-child code").textContent();
    preview[group] = { rule: cells[1], now: cells[2], after: Number(cells[3]), quota: Number(cells[4]) };
  }
  assert.deepEqual(preview, {
    renders: { rule: "carry", now: "3 of 10", after: 3, quota: 100 },
    tokens: { rule: "reset", now: "700 of 1000", after: 0, quota: 2000 },
    exports: { rule: "block", now: "2 of 5", after: 20, quota: 20 },
  });
  // Asked first: nothing switched.
  assert.equal((await call("GET", `/v1/users/${user}/subscription`)).planId, "plan_basic");
  assert.deepEqual(await call("GET", `/v1/users/${user}/usage`), before);

  await page.fill("div.confirm input[name=reason]", "moved up after a ticket");
  await follow(page, page.locator("div.confirm button[type=submit]"));
  await page.waitForSelector(".flash >> text=Plan switched.");
  assert.equal((await call("GET", `/v1/users/${user}/subscription`)).planId, "plan_plus");
  const counters = (await call("GET", `/v1/users/${user}/usage`)).counters;
  assert.deepEqual(counters.map((c) => c.groupId).sort(), Object.keys(preview).sort(), "one preview row per group");
  for (const c of counters) {
    assert.deepEqual([c.used, c.quota], [preview[c.groupId].after, preview[c.groupId].quota], c.groupId);
  }
  await context.close();
});

test("at 3,000 users the overview lists the heaviest first under their group, though their ids sort last", async () => {
  await call("PUT", "/v1/plans/plan_bulk", { periodType: "month", groups: [
    { id: "bulk_calls", label: "Bulk calls", unit: "count", quota: 1_000_000, matches: [{ event: "bulk.call" }] },
  ] });
  // Light users use 1 to 5; the two heavy ones far more.
  const users = Array.from({ length: 2998 }, (_, i) => [`bulk-${String(i).padStart(4, "0")}`, 1 + (i % 5)]);
  users.push(["zz-heavy-1", 900], ["zz-heavy-2", 1000]);
  await bounded(users, 32, async ([userId, quantity]) => {
    await call("PUT", `/v1/users/${userId}/subscription`, { planId: "plan_bulk" });
    await call("POST", "/v1/track", { userId, event: "bulk.call", quantity });
  });

  const { context, page } = await reused();
  await page.goto(`${env.baseUrl}/dashboard/overview`, { timeout: 60_000 });
  const top = page.locator(".card:has(h2:text('Top users, last 30 days'))");
  const rows = top.locator("h3:has(code:text-is('bulk_calls')) + table tbody tr");
  // The first count of a project may outlast the page's wait: the page reloads itself until it is there.
  await rows.nth(9).waitFor({ timeout: 60_000 });
  assert.equal(await rows.count(), 10, "the ten heaviest");
  const listed = await rows.evaluateAll((trs) => trs.map((tr) => [...tr.cells].map((td) => td.textContent)));
  assert.deepEqual(listed.slice(0, 3), [["zz-heavy-2", "1,000 count"], ["zz-heavy-1", "900 count"], [listed[2][0], "5 count"]]);
  // Counted from every user, not a sample: the page says how many it read.
  const counted = await page.locator("main > div.muted").first().textContent();
  const read = Number(counted.match(/rollups \(([\d,]+) users\)/)[1].replaceAll(",", ""));
  assert.ok(read >= 3000, counted);
  const members = page.locator(".card:has(h2:text('Users per plan')) tr", { has: page.locator("code", { hasText: /^plan_bulk$/ }) });
  assert.equal(await members.locator("td.num").textContent(), "3000");
  await context.close();
});

test("search by a lowercase part of a mixed-case id finds it among thousands", async () => {
  for (const user of ["Customer-ACME-42", "customer-acme-7", "Customer-Beta-9"]) {
    await call("PUT", `/v1/users/${encodeURIComponent(user)}/subscription`, { planId: "plan_wallet" });
  }
  const { context, page } = await reused();
  await page.goto(`${env.baseUrl}/dashboard/users`);
  await page.fill("input[name=q]", "acme");
  await follow(page, page.locator("button", { hasText: "Find" }));
  const found = await page.locator("tbody tr td:first-child").allTextContents();
  assert.deepEqual(found, ["Customer-ACME-42", "customer-acme-7"]);
  await follow(page, page.locator("tbody a", { hasText: "Customer-ACME-42" }));
  assert.equal(new URL(page.url()).pathname, "/dashboard/users/Customer-ACME-42");
  assert.equal(await page.locator("h1 code").textContent(), "Customer-ACME-42");
  await context.close();
});
