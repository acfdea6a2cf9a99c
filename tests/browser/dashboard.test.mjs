// The dashboard in a real headless Chromium (Debian's /usr/bin/chromium, driven by
// playwright-core): sign in, find a user, every support action end to end (checked through
// the API afterwards), CSRF, escaping, and a revoked key's session ending. With SCREENSHOTS=1
// it also writes the main pages' screenshots into docs/.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";
import { startGateway, startRedis } from "../../sdk/typescript/scripts/gateway.mjs";

const repo = resolve(fileURLToPath(new URL("../..", import.meta.url)));
const env = {};
const HOSTILE = "<img src=x onerror=alert(1)>";

async function api(method, path, token, body) {
  const res = await fetch(env.baseUrl + path, {
    method,
    headers: { Authorization: `Bearer ${token}`, "Content-Type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${text}`);
  return text ? JSON.parse(text) : undefined;
}
const call = (method, path, body) => api(method, path, env.key, body);

before(async () => {
  env.redis = await startRedis();
  env.gateway = await startGateway(env.redis.url);
  env.baseUrl = env.gateway.baseUrl;
  env.key = (await api("POST", "/v1/projects/default/keys", env.gateway.rootToken, { kind: "secret", label: "support" })).key;
  for (const [id, quota] of [["plan_free", 10], ["plan_pro", 100]]) {
    await call("PUT", `/v1/plans/${id}`, { periodType: "month", groups: [
      { id: "renders", label: "Image renders", unit: "count", quota, matches: [{ event: "render" }], onPlanChange: "carry" },
      { id: "tokens", label: "LLM tokens", unit: "tokens", quota: quota * 1000, matches: [{ event: "llm" }] },
    ] });
  }
  for (const user of ["alice", "alan", "bob", HOSTILE]) {
    await call("PUT", `/v1/users/${encodeURIComponent(user)}/subscription`, { planId: "plan_free" });
  }
  for (let i = 0; i < 4; i++) await call("POST", "/v1/track", { userId: "alice", event: "render" });
  await call("POST", "/v1/track", { userId: "alice", event: "llm", quantity: 1200 });
  env.browser = await chromium.launch({ executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium", args: ["--no-sandbox"] });
});

after(async () => {
  await env.browser?.close();
  env.gateway?.stop();
  env.redis?.stop();
});

/** A page signed in with `credential`; any JavaScript dialog fails the test. */
async function signedIn(credential = env.key) {
  const context = await env.browser.newContext({ viewport: { width: 1280, height: 900 } });
  const page = await context.newPage();
  page.on("dialog", () => assert.fail("a dialog opened: something ran script"));
  await page.goto(`${env.baseUrl}/dashboard`);
  await page.fill("input[name=credential]", credential);
  await page.click("button[type=submit]");
  await page.waitForURL("**/dashboard/users");
  return { context, page };
}

async function shot(page, name) {
  if (process.env.SCREENSHOTS) await page.screenshot({ path: join(repo, "docs", `${name}.png`), fullPage: true });
}

test("sign in, find a user by prefix, and see their counters", async () => {
  const { context, page } = await signedIn();
  const cookie = (await context.cookies()).find((c) => c.name === "qg_session");
  assert.equal(cookie.httpOnly, true);
  assert.equal(cookie.sameSite, "Strict");
  const csp = (await page.request.get(`${env.baseUrl}/dashboard/users`)).headers()["content-security-policy"];
  assert.match(csp, /default-src 'none'/);
  await shot(page, "dashboard-users");
  await page.fill("input[name=q]", "al");
  await page.click("text=Find");
  const users = await page.locator("tbody tr td:first-child").allTextContents();
  assert.deepEqual(users, ["alan", "alice"]);
  const held = await call("POST", "/v1/reserve", { userId: "alice", event: "render", ttlSeconds: 600 });
  await page.click("text=alice");
  await page.waitForURL("**/dashboard/users/alice");
  assert.equal(await page.locator(`text=${held.reservationId}`).count(), 1, "the open reservation is listed");
  const row = page.locator("tr", { hasText: "Image renders" });
  assert.match(await row.textContent(), /4/);
  // Bars are SVG attributes (the policy allows no inline style): 4 of 10 is 40 %.
  assert.equal(await row.locator("rect.used").getAttribute("width"), "40.0");
  await shot(page, "dashboard-user");
  await context.close();
});

test("every support action changes what the API answers", async () => {
  const { context, page } = await signedIn();
  await page.goto(`${env.baseUrl}/dashboard/users/bob`);
  await page.fill("form[action$='/block'] input[name=reason]", "chargeback");
  await page.click("form[action$='/block'] button");
  await page.waitForSelector("text=Blocked.");
  let sub = await call("GET", "/v1/users/bob/subscription");
  assert.equal(sub.status, "blocked");
  assert.equal(sub.reason, "chargeback");
  await page.click("form[action$='/unblock'] button");
  await page.waitForSelector("text=Unblocked.");
  assert.equal((await call("GET", "/v1/users/bob/subscription")).status, "active");

  await page.selectOption("form[action$='/plan'] select", "plan_pro");
  await page.click("form[action$='/plan'] button");
  await page.waitForSelector("text=Now on plan_pro.");
  assert.equal((await call("GET", "/v1/users/bob/subscription")).planId, "plan_pro");

  await page.selectOption("form[action$='/override'] select", "renders");
  await page.fill("form[action$='/override'] input[name=quota]", "250");
  await page.fill("form[action$='/override'] input[name=hours]", "24");
  await page.click("form[action$='/override'] button");
  await page.waitForSelector("text=Quota of renders set to 250.");
  const override = (await call("GET", "/v1/users/bob/subscription")).overrides.renders;
  assert.equal(override.quota, 250);
  assert.ok(Date.parse(override.expiresAt) > Date.now() + 23 * 3600_000);

  await call("POST", "/v1/track", { userId: "bob", event: "render", quantity: 5 });
  await page.selectOption("form[action$='/adjust'] select", "renders");
  await page.fill("form[action$='/adjust'] input[name=amount]", "-2");
  await page.fill("form[action$='/adjust'] input[name=reason]", "failed renders");
  await page.click("form[action$='/adjust'] button");
  await page.waitForSelector("text=Adjusted renders.");
  const adjustments = (await call("GET", "/v1/users/bob/adjustments")).data;
  assert.equal(adjustments[0].reason, "failed renders");
  const usage = await call("GET", "/v1/users/bob/usage");
  assert.equal(usage.counters.find((c) => c.groupId === "renders").used, 3);

  // Every action is in the audit log with the key that signed in, and on the user's page.
  const changes = (await call("GET", "/v1/audit-log?userId=bob")).data;
  assert.deepEqual(changes.map((c) => c.action),
    ["usage.adjust", "override.set", "subscription.put", "user.unblock", "user.block", "subscription.put"]);
  assert.ok(changes.slice(0, 5).every((c) => c.actorLabel === "support"));
  await page.reload();
  assert.equal(await page.locator("h2:has-text('Audit trail') + table tbody tr").count(), 6);
  await context.close();
});

test("a form posted without its CSRF token is refused and changes nothing", async () => {
  const { context, page } = await signedIn();
  const res = await page.request.post(`${env.baseUrl}/dashboard/users/alan/block`, { form: { reason: "forged" } });
  assert.equal(res.status(), 403);
  const wrong = await page.request.post(`${env.baseUrl}/dashboard/users/alan/block`, { form: { reason: "forged", csrf: "guess" } });
  assert.equal(wrong.status(), 403);
  assert.equal((await call("GET", "/v1/users/alan/subscription")).status, "active");
  await context.close();
});

test("a hostile user id shows as text and runs nothing", async () => {
  const { context, page } = await signedIn();
  await page.fill("input[name=q]", "<img");
  await page.click("text=Find");
  assert.equal(await page.locator("tbody tr td:first-child").first().textContent(), HOSTILE);
  assert.equal(await page.locator("img[src=x]").count(), 0);
  await page.locator("tbody a").first().click();
  await page.waitForSelector("h1 code");
  assert.equal(await page.locator("h1 code").textContent(), HOSTILE);
  assert.equal(await page.locator("img[src=x]").count(), 0);
  await context.close();
});

test("a revoked key's session ends within a second, and signing out ends one too", async () => {
  const minted = await api("POST", "/v1/projects/default/keys", env.gateway.rootToken, { kind: "secret", label: "temp" });
  const { context, page } = await signedIn(minted.key);
  await api("DELETE", `/v1/projects/default/keys/${minted.keyId}`, env.gateway.rootToken);
  await new Promise((r) => setTimeout(r, 1000));
  await page.goto(`${env.baseUrl}/dashboard/users`);
  assert.ok(await page.locator("input[name=credential]").isVisible(), "back at sign-in");
  await context.close();

  const root = await signedIn(env.gateway.rootToken);
  await root.page.click("text=Plans");
  await root.page.waitForSelector("td code:text('plan_pro')");
  await shot(root.page, "dashboard-plans");
  await root.page.click("text=Sign out");
  await root.page.goto(`${env.baseUrl}/dashboard/users`);
  assert.ok(await root.page.locator("input[name=credential]").isVisible());
  await root.context.close();
});

test("a plan from a recipe: problems shown by field, a diff, then saved", async () => {
  const { context, page } = await signedIn();
  await page.click("text=Plans");
  await page.selectOption("select[name=recipe]", "freemium/plan_free");
  await page.click("text=Start");
  await page.fill("input[name=id]", "plan_trial");
  const text = await page.inputValue("textarea[name=doc]");
  await page.fill("textarea[name=doc]", text.replace('"id": "plan_free"', '"id": "plan_trial"').replace('"unit": "count"', '"unit": "bogus"'));
  await page.click("text=Check");
  assert.match(await page.locator(".flash.error").textContent(), /groups\[0\]\.unit/);
  const fixed = (await page.inputValue("textarea[name=doc]")).replace('"unit": "bogus"', '"unit": "count"');
  await page.fill("textarea[name=doc]", fixed);
  await page.click("text=Check");
  assert.ok(await page.locator("pre ins").count() > 0, "a new plan is all additions");
  await shot(page, "dashboard-plan-diff");
  await page.click("text=Save this plan");
  await page.waitForURL("**/dashboard/plans");
  const saved = await call("GET", "/v1/plans/plan_trial");
  assert.equal(saved.groups[0].unit, "count");
  const log = (await call("GET", "/v1/audit-log?limit=1")).data[0];
  assert.equal(log.action, "plan.put");
  assert.equal(log.target, "plan_trial");
  await context.close();
});

test("the root token mints a key shown once, revokes it, and changes settings", async () => {
  const { context, page } = await signedIn(env.gateway.rootToken);
  await page.click("text=Keys");
  await page.fill("form[action='/dashboard/keys'] input[name=label]", "ops");
  await page.click("text=Mint a key");
  const shown = await page.locator(".flash code").textContent();
  assert.match(shown, /^qg_sk_/);
  assert.equal(new URL(page.url()).search, "", "never in a URL");
  const keys = (await api("GET", "/v1/projects/default/keys", env.gateway.rootToken)).data;
  const ops = keys.find((k) => k.label === "ops");
  assert.ok(ops);
  await page.goto(`${env.baseUrl}/dashboard/keys`);
  assert.equal(await page.locator(`text=${shown}`).count(), 0, "shown only once");
  await page.locator("tr", { hasText: ops.keyId }).locator("text=Revoke").click();
  const after = (await api("GET", "/v1/projects/default/keys", env.gateway.rootToken)).data;
  assert.ok(!after.some((k) => k.keyId === ops.keyId));

  await page.click("text=Settings");
  await page.selectOption("select[name=defaultPlan]", "plan_free");
  await page.fill("textarea[name=allowedOrigins]", "https://app.example.com\nhttps://*.example.org");
  await page.click("text=Save settings");
  const project = (await api("GET", "/v1/projects", env.gateway.rootToken)).data.find((p) => p.id === "default");
  assert.equal(project.defaultPlan, "plan_free");
  assert.deepEqual(project.allowedOrigins, ["https://app.example.com", "https://*.example.org"]);
  await context.close();
});

test("webhooks: a test event sent from the dashboard, and a delivery retried", async () => {
  const received = [];
  const { createServer } = await import("node:http");
  const server = createServer((req, res) => {
    let body = "";
    req.on("data", (c) => (body += c));
    req.on("end", () => { received.push({ id: req.headers["webhook-id"], body }); res.writeHead(200).end(); });
  });
  await new Promise((r) => server.listen(0, "127.0.0.1", r));
  const { context, page } = await signedIn();
  await page.click("text=Webhooks");
  await page.fill("input[name=url]", "ftp://example.com/hook");
  await page.click("text=Add an endpoint");
  assert.match(await page.locator(".flash.error").textContent(), /url must be an absolute http\(s\) URL/);
  await page.fill("input[name=url]", `http://127.0.0.1:${server.address().port}/hook`);
  await page.click("text=Add an endpoint");
  assert.match(await page.locator(".flash code").nth(1).textContent(), /^whsec_/, "the secret, once");
  const hook = (await call("GET", "/v1/webhooks")).data[0];
  await page.click("text=Send a test event");
  const wait = async (n) => { for (let i = 0; i < 200 && received.length < n; i++) await new Promise((r) => setTimeout(r, 25)); };
  await wait(1);
  assert.equal(JSON.parse(received[0].body).type, "webhook.test");
  await page.reload();
  await page.locator("tr", { hasText: "webhook.test" }).locator("text=Retry").click();
  await wait(2);
  assert.equal(received[1].id, received[0].id, "a retry carries the same webhook-id");
  await page.click("text=Overview");
  assert.ok(await page.locator("h2:text('Users per plan')").isVisible());
  assert.equal(await page.locator("svg[aria-label='decisions per day']").count(), 1);
  const top = await page.locator("h2:text('Top users, last 30 days') + table tbody tr td:first-child").allTextContents();
  assert.equal(top[0], "alice", "the heaviest user first");
  await shot(page, "dashboard-overview");
  await page.click("text=Webhooks");
  await page.click("text=Delete the endpoint");
  assert.equal((await call("GET", "/v1/webhooks")).data.length, 0);
  assert.ok(hook.id.startsWith("wh_"));
  server.close();
  await context.close();
});
