// The dashboard in a real headless Chromium (Debian's /usr/bin/chromium, driven by
// playwright-core): sign in, find a user, every support action end to end (checked through
// the API afterwards), the API's rules on those actions, CSRF, a sign-in posted by another
// site, escaping, ids that hide characters, a revoked key's session ending, credits granted,
// listed and voided on a user's page, an approval group's request approved on the Approvals
// page, a run listed on its user's page with its steps on its own page, a team's spend
// by member with each ledger entry's model and key, search by any part of an id, an id never
// seen shown without action forms, and operators with roles. With SCREENSHOTS=1 it also writes the main pages' screenshots into docs/.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";
import { startGateway, startRedis } from "../../sdk/typescript/scripts/gateway.mjs";
import { api as gateway } from "./support.mjs";

const repo = resolve(fileURLToPath(new URL("../..", import.meta.url)));
const env = {};
const HOSTILE = "<img src=x onerror=alert(1)>";
// Ids that read as another user, or reversed, when their hidden characters are not shown.
const SPOOFS = ["admin\u202Etxt.exe", "\uFEFFbob", "car\u200Bol"];

const api = (method, path, token, body) => gateway(env.baseUrl, method, path, token, body);
const call = (method, path, body) => api(method, path, env.key, body);

before(async () => {
  env.redis = await startRedis();
  env.gateway = await startGateway(env.redis.url);
  env.baseUrl = env.gateway.baseUrl;
  const support = await api("POST", "/v1/projects/default/keys", env.gateway.rootToken, { kind: "secret", label: "support" });
  env.key = support.key;
  env.keyId = support.keyId;
  for (const [id, quota] of [["plan_free", 10], ["plan_pro", 100]]) {
    await call("PUT", `/v1/plans/${id}`, { periodType: "month", groups: [
      { id: "renders", label: "Image renders", unit: "count", quota, matches: [{ event: "render" }], onPlanChange: "carry" },
      { id: "tokens", label: "LLM tokens", unit: "tokens", quota: quota * 1000, matches: [{ event: "llm" }] },
    ] });
  }
  for (const user of ["alice", "alan", "bob", "carol", HOSTILE, ...SPOOFS]) {
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

/**
 * A page in the session the first test signed in (sign-ins are throttled per client address,
 * and every page of this suite comes from one): `options` for the browser context.
 */
async function reused(options = { viewport: { width: 1280, height: 900 } }) {
  const context = await env.browser.newContext(options);
  await context.addCookies(env.cookies);
  const page = await context.newPage();
  page.on("dialog", () => assert.fail("a dialog opened: something ran script"));
  return { context, page };
}

/** A page signed in with `credential`; any JavaScript dialog fails the test. */
async function signedIn(credential = env.key) {
  const context = await env.browser.newContext({ viewport: { width: 1280, height: 900 } });
  const page = await context.newPage();
  page.on("dialog", () => assert.fail("a dialog opened: something ran script"));
  await page.goto(`${env.baseUrl}/dashboard`);
  await page.fill("input[name=credential]", credential);
  await page.click("form:has(input[name=credential]) button");
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
  // Any part of an id, in any letter case: "AL" is in alan, alice and the hostile id's "alert".
  await page.fill("input[name=q]", "AL");
  await page.click("text=Find");
  const users = await page.locator("tbody tr td:first-child").allTextContents();
  assert.deepEqual(users, [HOSTILE, "alan", "alice"]);
  await page.fill("input[name=q]", "lic");
  await page.click("text=Find");
  assert.deepEqual(await page.locator("tbody tr td:first-child").allTextContents(), ["alice"]);
  const held = await call("POST", "/v1/reserve", { userId: "alice", event: "render", ttlSeconds: 600 });
  await page.click("text=alice");
  await page.waitForURL("**/dashboard/users/alice");
  assert.equal(await page.locator(`text=${held.reservationId}`).count(), 1, "the open reservation is listed");
  const row = page.locator("tr", { hasText: "Image renders" });
  assert.match(await row.textContent(), /4/);
  // Bars are SVG attributes (the policy allows no inline style): 4 of 10 is 40 %.
  assert.equal(await row.locator("rect.used").getAttribute("width"), "40.0");
  await shot(page, "dashboard-user");
  env.cookies = await context.cookies();
  await context.close();
});

test("every support action changes what the API answers", async () => {
  const { context, page } = await signedIn();
  await page.goto(`${env.baseUrl}/dashboard/users/bob`);
  await page.fill("form[action$='/block'] input[name=reason]", "chargeback");
  await page.click("form[action$='/block'] button");
  assert.equal((await call("GET", "/v1/users/bob/subscription")).status, "active", "asked first, nothing changed");
  await confirm(page);
  await page.waitForSelector(".flash >> text=Blocked.");
  let sub = await call("GET", "/v1/users/bob/subscription");
  assert.equal(sub.status, "blocked");
  assert.equal(sub.reason, "chargeback");
  await page.click("form[action$='/unblock'] button");
  await page.waitForSelector(".flash >> text=Unblocked.");
  assert.equal((await call("GET", "/v1/users/bob/subscription")).status, "active");

  // The switch says first what it will do to each group, and then does that.
  for (let i = 0; i < 3; i++) await call("POST", "/v1/track", { userId: "bob", event: "render" });
  await page.selectOption("form[action$='/plan'] select", "plan_pro");
  await page.click("form[action$='/plan'] button");
  await page.waitForSelector("div.confirm");
  const preview = {};
  for (const row of await page.locator("div.confirm tbody tr").all()) {
    const cells = await row.locator("td").allTextContents();
    const group = await row.locator("td:first-child code").textContent();
    preview[group] = { now: cells[2], after: Number(cells[3]), quota: Number(cells[4]) };
  }
  assert.deepEqual(preview.renders, { now: "3 of 10", after: 3, quota: 100 });
  await confirm(page, "upgraded by support");
  await page.waitForSelector(".flash >> text=Plan switched.");
  assert.equal((await call("GET", "/v1/users/bob/subscription")).planId, "plan_pro");
  for (const c of (await call("GET", "/v1/users/bob/usage")).counters) {
    assert.deepEqual([c.used, c.quota], [preview[c.groupId].after, preview[c.groupId].quota], c.groupId);
  }

  await page.selectOption("form[action$='/override'] select", "renders");
  await page.fill("form[action$='/override'] input[name=quota]", "250");
  await page.fill("form[action$='/override'] input[name=hours]", "24");
  await page.click("form[action$='/override'] button");
  await page.waitForSelector(".flash >> text=Override saved.");
  const override = (await call("GET", "/v1/users/bob/subscription")).overrides.renders;
  assert.equal(override.quota, 250);
  assert.ok(Date.parse(override.expiresAt) > Date.now() + 23 * 3600_000);

  await call("POST", "/v1/track", { userId: "bob", event: "render", quantity: 5 });
  await page.selectOption("form[action$='/adjust'] select", "renders");
  await page.fill("form[action$='/adjust'] input[name=amount]", "-2");
  await page.fill("form[action$='/adjust'] input[name=reason]", "failed renders");
  await page.click("form[action$='/adjust'] button");
  await page.waitForSelector(".flash >> text=Adjusted.");
  const adjustments = (await call("GET", "/v1/users/bob/adjustments")).data;
  assert.equal(adjustments[0].reason, "failed renders");
  const usage = await call("GET", "/v1/users/bob/usage");
  assert.equal(usage.counters.find((c) => c.groupId === "renders").used, 6, "the 3 before the switch, 5, less 2");

  // Every action is in the audit log with the key that signed in, and on the user's page.
  const changes = (await call("GET", "/v1/audit-log?userId=bob")).data;
  assert.deepEqual(changes.map((c) => c.action),
    ["usage.adjust", "override.set", "subscription.put", "user.unblock", "user.block", "subscription.put"]);
  assert.ok(changes.slice(0, 5).every((c) => c.actorLabel === "support"));
  await page.reload();
  assert.equal(await page.locator("h2:has-text('Audit trail') + table tbody tr").count(), 6);
  await context.close();
});

/** Submits the form whose action ends in `/action`, with its browser checks off (as a
 * hand-made request would be), after `prepare` filled it: the page that answers. */
/** Answers a confirmation page (a void, a revocation, a deletion, a block, a plan switch) with `reason` when it asks for one. */
async function confirm(page, reason) {
  await page.waitForSelector("div.confirm");
  if (reason !== undefined) await page.fill("div.confirm input[name=reason]", reason);
  await Promise.all([page.waitForNavigation(), page.click("div.confirm button[type=submit]")]);
}

async function submitUnchecked(page, action, prepare) {
  const form = page.locator(`form[action$='/${action}']`);
  await form.evaluate((f) => f.setAttribute("novalidate", ""));
  await prepare(form);
  await Promise.all([page.waitForNavigation(), form.locator("button[type=submit]").click()]);
}

test("a support action the API would refuse shows the API's error on the page and changes nothing", async () => {
  const { context, page } = await signedIn();
  // A user with no plan: the override would wait for one (the API answers 404).
  await page.goto(`${env.baseUrl}/dashboard/users/newbie?new=1`);
  await submitUnchecked(page, "override", async (form) => {
    await form.locator("select").evaluate((s) => { s.innerHTML = '<option value="renders">renders</option>'; });
    await form.locator("input[name=quota]").fill("1000");
  });
  assert.match(await page.locator(".flash.error").textContent(), /user newbie has no subscription/);
  await assert.rejects(call("GET", "/v1/users/newbie/subscription"), /404/);

  await page.goto(`${env.baseUrl}/dashboard/users/carol`);
  for (const [group, error] of [["g1|x:y@z", /groupId: must match/], ["not_in_plan", /groupId: is not a group of plan plan_free/]]) {
    await submitUnchecked(page, "override", async (form) => {
      await form.locator("select").evaluate((s, g) => { s.innerHTML = `<option>${g}</option>`; }, group);
      await form.locator("input[name=quota]").fill("1000");
    });
    assert.match(await page.locator(".flash.error").textContent(), error);
  }
  // Hours that would wrap the expiry around.
  await submitUnchecked(page, "override", async (form) => {
    await form.locator("select").selectOption("renders");
    await form.locator("input[name=quota]").fill("1000");
    await form.locator("input[name=hours]").fill("-99999999999999");
  });
  assert.match(await page.locator(".flash.error").textContent(), /hours: must be a whole number of hours from 1 to 8760/);
  // A 3 KB reason with escape codes and a line break.
  const reason = `${"x".repeat(3000)}\u001b[2J\u0000done`;
  await submitUnchecked(page, "block", async (form) => {
    await form.locator("input[name=reason]").evaluate((i) => i.removeAttribute("maxlength"));
    await form.locator("input[name=reason]").fill(reason);
  });
  await page.locator("div.confirm form").evaluate((f) => f.setAttribute("novalidate", ""));
  await confirm(page);
  assert.match(await page.locator(".flash.error").textContent(), /reason: must be 1 to 256 bytes without control characters/);
  await submitUnchecked(page, "adjust", async (form) => {
    await form.locator("select").selectOption("renders");
    await form.locator("input[name=amount]").fill("-1");
    await form.locator("input[name=reason]").evaluate((i) => i.removeAttribute("maxlength"));
    await form.locator("input[name=reason]").fill(reason);
  });
  assert.match(await page.locator(".flash.error").textContent(), /reason: must be 1 to 256 bytes/);
  const sub = await call("GET", "/v1/users/carol/subscription");
  assert.equal(sub.status, "active");
  assert.deepEqual(sub.overrides, {});
  assert.deepEqual((await call("GET", "/v1/users/carol/adjustments")).data, []);
  await context.close();
});

test("a sign-in auto-posted by a page of another site is refused; the real one still works", async () => {
  const evil = (await api("POST", "/v1/projects", env.gateway.rootToken, { id: "evil" })).id;
  const attackerKey = (await api("POST", `/v1/projects/${evil}/keys`, env.gateway.rootToken, { kind: "secret", label: "attacker" })).key;
  const { createServer } = await import("node:http");
  const site = createServer((req, res) => {
    res.writeHead(200, { "Content-Type": "text/html" }).end(`<!doctype html><body>
      <form id="f" method="post" action="${env.baseUrl}/dashboard/login">
        <input type="hidden" name="credential" value="${attackerKey}"></form>
      <script>document.getElementById("f").submit()</script></body>`);
  });
  // Another loopback address: another site to the browser.
  await new Promise((r) => site.listen(0, "127.0.0.2", r));
  const context = await env.browser.newContext();
  const page = await context.newPage();
  const answered = page.waitForResponse(`${env.baseUrl}/dashboard/login`);
  await page.goto(`http://127.0.0.2:${site.address().port}/`);
  const res = await answered;
  assert.equal(res.status(), 403);
  await page.waitForSelector("text=came from another site");
  assert.equal((await context.cookies()).find((c) => c.name === "qg_session"), undefined);
  await page.goto(`${env.baseUrl}/dashboard/users`);
  assert.ok(await page.locator("input[name=credential]").isVisible(), "nobody signed in");
  // The sign-in page itself still signs in.
  await page.fill("input[name=credential]", env.key);
  await page.click("form:has(input[name=credential]) button");
  await page.waitForURL("**/dashboard/users");
  assert.match(await page.locator("span.pill").first().textContent(), /project default/);
  site.close();
  await context.close();
});

test("a flash in a link shows nothing; ids show their hidden characters as code points", async () => {
  const { context, page } = await signedIn();
  await page.goto(`${env.baseUrl}/dashboard/users/alice?flash=${encodeURIComponent("Your account is suspended: call +1 555 0100")}`);
  assert.equal(await page.locator(".flash").count(), 0);
  await page.goto(`${env.baseUrl}/dashboard/users/alice?flash=error:${encodeURIComponent("Paste your key here")}`);
  assert.equal(await page.locator(".flash").count(), 0);

  await page.goto(`${env.baseUrl}/dashboard/users`);
  const cells = await page.locator("tbody tr td:first-child").allTextContents();
  for (const shown of ["admin\\u{202E}txt.exe", "\\u{FEFF}bob", "car\\u{200B}ol"]) {
    assert.ok(cells.includes(shown), `${shown} in ${cells}`);
  }
  assert.ok(!cells.some((c) => /[\u202E\uFEFF\u200B]/.test(c)), "no hidden character as it is");
  await page.locator("tbody a", { hasText: "admin\\u{202E}" }).click();
  await page.waitForSelector("h1 code");
  assert.equal(await page.locator("h1 code").textContent(), "admin\\u{202E}txt.exe");
  assert.equal(await page.title(), "admin\\u{202E}txt.exe · quota-gateway");
  const sub = await call("GET", `/v1/users/${encodeURIComponent(SPOOFS[0])}/subscription`);
  assert.equal(sub.userId, SPOOFS[0], "the link leads to the user itself");
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
  assert.ok((await api("GET", "/v1/projects/default/keys", env.gateway.rootToken)).data.some((k) => k.keyId === ops.keyId), "asked first");
  await confirm(page, "rotated after the audit");
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
  const top = await page.locator(".card:has(h2:text('Top users, last 30 days')) h3:has-text('tokens') + table tbody tr td:first-child").allTextContents();
  assert.equal(top[0], "alice", "the heaviest user of the tokens group first");
  assert.match(await page.locator(".card:has(h2:text('Top users, last 30 days'))").textContent(), /renders \(count\)/, "each group apart, with its unit");
  await shot(page, "dashboard-overview");
  await page.click("text=Webhooks");
  await page.click("text=Delete the endpoint");
  await confirm(page, "moved to the new receiver");
  assert.equal((await call("GET", "/v1/webhooks")).data.length, 0);
  assert.ok(hook.id.startsWith("wh_"));
  server.close();
  await context.close();
});

test("webhooks: no event chosen is refused, and an endpoint is disabled and enabled again", async () => {
  const received = [];
  const { createServer } = await import("node:http");
  const server = createServer((req, res) => {
    req.resume();
    req.on("end", () => { received.push(req.headers["webhook-id"]); res.writeHead(200).end(); });
  });
  await new Promise((r) => server.listen(0, "127.0.0.1", r));
  const url = `http://127.0.0.1:${server.address().port}/hook`;
  const before = (await call("GET", "/v1/webhooks")).data.length;
  const { context, page } = await signedIn();
  await page.click("text=Webhooks");
  // Every box unchecked: refused with a message, not an endpoint for every event.
  const others = ["limit", "low_balance", "depleted"];
  await page.fill("input[name=url]", url);
  for (const name of ["threshold", ...others]) await page.uncheck(`input[name=${name}]`);
  await page.click("text=Add an endpoint");
  assert.match(await page.locator(".flash.error").textContent(), /Choose at least one event/);
  assert.equal((await call("GET", "/v1/webhooks")).data.length, before);
  await page.fill("input[name=url]", url);
  for (const name of others) await page.uncheck(`input[name=${name}]`);
  await page.click("text=Add an endpoint");
  await page.waitForSelector(".flash code");
  const hook = (await call("GET", "/v1/webhooks")).data.find((h) => h.url === url);
  assert.deepEqual(hook.events, ["quota.threshold_crossed"]);

  const card = page.locator(".card", { hasText: hook.id });
  assert.equal(await card.locator(`form[action$='/${hook.id}/disable'] input[name=csrf]`).count(), 1, "the form carries its CSRF token");
  await card.locator("text=Disable the endpoint").click();
  await page.waitForURL("**/dashboard/webhooks");
  assert.equal((await call("GET", `/v1/webhooks/${hook.id}`)).enabled, false);
  assert.equal(await card.locator("text=Send a test event").count(), 0, "no test for a disabled endpoint");
  const refused = await fetch(`${env.baseUrl}/v1/webhooks/${hook.id}/test`, { method: "POST", headers: { Authorization: `Bearer ${env.key}` } });
  assert.equal(refused.status, 409);
  assert.equal((await refused.json()).code, "webhook_disabled");
  const forged = await page.request.post(`${env.baseUrl}/dashboard/webhooks/${hook.id}/enable`, { form: { csrf: "guess" } });
  assert.equal(forged.status(), 403);
  assert.equal((await call("GET", `/v1/webhooks/${hook.id}`)).enabled, false, "a forged enable changes nothing");

  assert.equal(await card.locator(`form[action$='/${hook.id}/enable'] input[name=csrf]`).count(), 1);
  await card.locator("text=Enable the endpoint").click();
  await page.waitForURL("**/dashboard/webhooks");
  assert.equal((await call("GET", `/v1/webhooks/${hook.id}`)).enabled, true);
  await card.locator("text=Send a test event").click();
  for (let i = 0; i < 200 && received.length < 1; i++) await new Promise((r) => setTimeout(r, 25));
  assert.equal(received.length, 1, "enabled again, it is delivered to");
  const actions = (await call("GET", "/v1/audit-log")).data.filter((c) => c.target === hook.id).map((c) => c.action);
  assert.deepEqual(actions, ["webhook.enable", "webhook.disable", "webhook.create"]);
  await card.locator("text=Delete the endpoint").click();
  await confirm(page, "done testing");
  server.close();
  await context.close();
});

test("credits: 100 promotional credits valid 30 days granted on the page, listed, granted once, and voided", async () => {
  await call("PUT", "/v1/plans/plan_wallet", { periodType: "month", groups: [
    { id: "wallet", label: "Render credits", balance: "credits", matches: [{ event: "render", measure: { rate: 10 } }] },
  ] });
  await call("PUT", "/v1/users/dana/subscription", { planId: "plan_wallet" });
  const { context, page } = await signedIn();
  await page.goto(`${env.baseUrl}/dashboard/users/dana`);
  const form = page.locator("form[action$='/dana/grant']");
  assert.equal(await form.locator("input[name=balance]").inputValue(), "credits", "the plan's balance by default");
  assert.equal(await form.locator("input[name=csrf]").count(), 1, "the form carries its CSRF token");

  // Refused by name, and nothing granted.
  await submitUnchecked(page, "grant", async (f) => {
    await f.locator("input[name=amount]").fill("100");
    await f.locator("input[name=days]").fill("3651");
  });
  assert.match(await page.locator(".flash.error").textContent(), /days: must be a whole number of days from 1 to 3650/);
  assert.deepEqual((await call("GET", "/v1/users/dana/grants")).data, []);

  const before = Date.now();
  await form.locator("input[name=amount]").fill("100");
  await form.locator("select[name=category]").selectOption("promotional");
  await form.locator("input[name=days]").fill("30");
  await form.locator("input[name=source]").fill("support: sorry for the outage");
  await form.locator("button[type=submit]").click();
  await page.waitForSelector(".flash >> text=Credits granted.");

  const [grant] = (await call("GET", "/v1/users/dana/grants")).data;
  assert.equal(grant.amount, 100);
  assert.equal(grant.category, "promotional");
  assert.equal(grant.source, "support: sorry for the outage");
  assert.ok(Math.abs(Date.parse(grant.expiresAt) - before - 30 * 86400_000) < 60_000, grant.expiresAt);
  const balance = (await call("GET", "/v1/users/dana/balances")).data.find((b) => b.balance === "credits");
  assert.equal(balance.available, 100);

  // Listed in burn order with its amounts, and the counter shows the balance.
  const row = page.locator("table.grants tbody tr", { hasText: grant.grantId });
  const cells = await row.locator("td").allTextContents();
  // Instants read to the minute; the exact one is the time element's, shown on hover.
  const minute = `${grant.expiresAt.slice(0, 16).replace("T", " ")} UTC`;
  assert.deepEqual(cells.slice(1, 12), ["promotional", "50", "100", "100", "0", "0", "0", "0", "active", minute, "support: sorry for the outage"]);
  assert.equal(await row.locator(`time[datetime="${grant.expiresAt}"]`).getAttribute("title"), grant.expiresAt);
  assert.equal(await page.locator("tr", { hasText: "Render credits" }).locator(".balance").textContent(), "Balance credits: 100 available");
  assert.equal(await page.locator("tr", { hasText: "Render credits" }).locator("svg.bar").count(), 0, "no quota bar");
  const audit = (await call("GET", "/v1/audit-log?userId=dana")).data[0];
  assert.equal(audit.action, "grant.create");
  assert.equal(audit.actorLabel, "support");

  // The same form sent twice (a double click) grants once.
  const fields = await form.evaluate((f) => Object.fromEntries(new FormData(f)));
  Object.assign(fields, { amount: "5", category: "paid" });
  for (let i = 0; i < 2; i++) {
    const res = await page.request.post(`${env.baseUrl}/dashboard/users/dana/grant`, { form: fields, maxRedirects: 0 });
    assert.equal(res.status(), 303);
  }
  assert.equal((await call("GET", "/v1/users/dana/grants")).data.length, 2);

  await page.reload();
  await row.locator("button", { hasText: "Void" }).click();
  assert.match(await page.locator("div.confirm").textContent(), /100 remaining credits are gone for good/);
  await confirm(page, "sent by mistake");
  await page.waitForSelector(".flash >> text=Grant voided.");
  const voided = (await call("GET", "/v1/users/dana/grants")).data.find((g) => g.grantId === grant.grantId);
  assert.equal(voided.status, "voided");
  assert.equal(voided.voided, 100);
  assert.equal(await row.locator("button", { hasText: "Void" }).count(), 0, "a voided grant has no Void button");
  assert.equal((await call("GET", "/v1/audit-log?userId=dana")).data[0].action, "grant.void");
  await context.close();
});

test("approvals: a user denied by an approval group is admitted again once approved on the Approvals page", async () => {
  await call("PUT", "/v1/plans/plan_gate", { periodType: "month", groups: [
    { id: "launches", label: "Campaign launches", unit: "count", quota: 1, mode: "approval", matches: [{ event: "campaign.launch" }] },
  ] });
  await call("PUT", "/v1/users/erin/subscription", { planId: "plan_gate" });
  const launch = { userId: "erin", event: "campaign.launch" };
  const first = await call("POST", "/v1/reserve", launch);
  assert.equal(first.allowed, true);
  await call("POST", `/v1/reservations/${first.reservationId}/commit`, {});
  const denied = await call("POST", "/v1/reserve", launch);
  assert.equal(denied.allowed, false);
  assert.deepEqual(denied.reasons, ["approval_pending"]);
  const id = denied.denials[0].approvalId;
  // The project's list follows the script that opened the request by a moment.
  for (let i = 0; i < 100 && (await call("GET", "/v1/approvals?status=pending&userId=erin")).data.length < 1; i++) {
    await new Promise((r) => setTimeout(r, 50));
  }

  const { context, page } = await signedIn();
  const nav = page.locator("header nav a", { hasText: "Approvals" });
  assert.equal(await nav.locator(".count").textContent(), "1", "the waiting request is counted in the navigation");
  // The user's page lists it and leads to the queue.
  await page.goto(`${env.baseUrl}/dashboard/users/erin`);
  const waiting = page.locator(".card", { hasText: "Waiting for approval" });
  assert.deepEqual((await waiting.locator("tbody td").allTextContents()).slice(0, 6), ["launches", "campaign.launch", "1", "1", "0", "1"]);

  await nav.click();
  await page.waitForURL("**/dashboard/approvals");
  const row = page.locator("table.approvals tbody tr", { hasText: id });
  const cells = await row.locator("td").allTextContents();
  assert.equal(cells[0], `erin${id}`);
  assert.match(cells[1], /^launchesperiod ends \d{4}-/);
  assert.equal(cells[2], "none named", "no owner is named on the gate plan");
  assert.deepEqual(cells.slice(3, 8), ["campaign.launch", "1", "1", "0", "1"]);
  const approve = row.locator("form[action$='/approve']");
  assert.equal(await approve.locator("input[name=csrf]").count(), 1, "the form carries its CSRF token");
  assert.equal(await approve.locator("input[name=quota]").inputValue(), "2", "the quota doubled, offered");
  await shot(page, "dashboard-approvals");

  await approve.locator("input[name=quota]").fill("3");
  const fields = await approve.evaluate((f) => Object.fromEntries(new FormData(f)));
  await approve.locator("button[type=submit]").click();
  await page.waitForSelector(".flash >> text=Request approved: the new quota is in force.");
  assert.equal(await nav.locator(".count").count(), 0, "nothing waits any more");
  assert.equal(await page.locator("table.approvals tbody tr", { hasText: id }).count(), 0);

  const decided = await call("GET", `/v1/approvals/${id}`);
  assert.equal(decided.status, "approved");
  assert.equal(decided.approvedQuota, 3);
  assert.equal(decided.expiresAt, decided.resetsAt, "until the end of the period by default");
  assert.equal(decided.decidedBy, "support");
  const audit = (await call("GET", "/v1/audit-log?userId=erin")).data[0];
  assert.equal(audit.action, "approval.approve");
  assert.equal(audit.actorLabel, "support");
  const after = await call("POST", "/v1/reserve", launch);
  assert.equal(after.allowed, true, "admitted again");

  // The same form sent again (a double click) only says the request was decided.
  const again = await page.request.post(`${env.baseUrl}/dashboard/approvals/${id}/approve`, { form: fields, maxRedirects: 0 });
  assert.equal(again.status(), 303);
  await page.goto(env.baseUrl + again.headers().location);
  assert.equal(await page.locator(".flash").textContent(), "This request was approved already; this form changed nothing.");
  assert.equal((await call("GET", "/v1/audit-log?userId=erin")).data.filter((c) => c.action === "approval.approve").length, 1);
  await page.locator("nav.tabs a", { hasText: "Approved" }).click();
  const history = page.locator("table.approvals tbody tr", { hasText: id });
  assert.match(await history.textContent(), /quota 3 until/);
  await context.close();
});

test("runs: a run started through the API is listed on its user's page, and its page shows its step and spend", async () => {
  await call("PUT", "/v1/users/rita/subscription", { planId: "plan_free" });
  const run = await call("POST", "/v1/runs", { userId: "rita", event: "llm", quantity: 5000, limits: { steps: 10, attemptsPerAction: 3 } });
  assert.equal(run.allowed, true);
  const step = await call("POST", "/v1/reserve", { userId: "rita", event: "llm", quantity: 1500, runId: run.runId, actionId: "summarise" });
  assert.equal(step.allowed, true);
  await call("POST", `/v1/reservations/${step.reservationId}/commit`, { quantity: 1200 });

  const { context, page } = await signedIn();
  await page.goto(`${env.baseUrl}/dashboard/users/rita`);
  const runs = page.locator("h2#runs ~ table").first();
  const row = runs.locator("tbody tr", { hasText: run.runId });
  const cells = await row.locator("td").allTextContents();
  assert.deepEqual([cells[0], cells[1], ...cells.slice(4)], [run.runId, "open", "1", "0", "tokens 1200 / 5000"]);
  assert.match(cells[3], /^expires \d{4}-/);

  await row.locator("a", { hasText: run.runId }).click();
  await page.waitForURL(`**/dashboard/users/rita/runs/${run.runId}`);
  assert.match(await page.locator("h1").textContent(), new RegExp(`^Run ${run.runId} open$`));
  const budget = page.locator("h2:text('Budget') + table tbody tr", { hasText: "tokens" });
  assert.deepEqual(await budget.locator("td.num").allTextContents(), ["5000", "1200", "0", "3800", "0"]);
  // 1200 of 5000 is 24 %.
  assert.equal(await budget.locator("rect.used").getAttribute("width"), "24.0");
  const attempts = await page.locator("h2:text('Attempts per action') + table tbody td").allTextContents();
  assert.deepEqual(attempts, ["summarise", "1"]);
  const steps = page.locator("h2:text('Steps') ~ table").first().locator("tbody tr");
  assert.equal(await steps.count(), 1);
  const entry = await steps.first().locator("td").allTextContents();
  assert.deepEqual([entry[1], entry[2], entry[5], entry[6].trim()], ["commit", "llm", "summarise primary", "tokens 1200"]);
  // Another user's page has no such run.
  const res = await page.request.get(`${env.baseUrl}/dashboard/users/alice/runs/${run.runId}`);
  assert.equal(res.status(), 404);
  await context.close();
});

// Last: the team's usage would otherwise lead the overview's top users.
test("a team's page shows its spend by member this period; a member's, each entry's model and key", async () => {
  await call("PUT", "/v1/users/team_zeta/subscription", { planId: "plan_pro" });
  for (const member of ["zed1", "zed2"]) {
    await call("PUT", `/v1/users/${member}/subscription`, { planId: "plan_free", parentId: "team_zeta" });
  }
  const render = async (userId, quantity, model) => {
    const held = await call("POST", "/v1/reserve", { userId, event: "render", quantity, metadata: { model } });
    await call("POST", `/v1/reservations/${held.reservationId}/commit`, {});
  };
  await render("zed1", 1, "flux-pro");
  await render("zed2", 3, "flux-schnell");
  await call("POST", "/v1/track", { userId: "team_zeta", event: "llm", quantity: 500 });

  const { context, page } = await signedIn();
  await page.goto(`${env.baseUrl}/dashboard/users/team_zeta`);
  assert.ok(await page.locator("h2:text('Spend by member, this period')").isVisible());
  const table = page.locator("table.spend");
  const heads = await table.locator("thead th").allTextContents();
  assert.deepEqual(heads, ["Member", "renderscount", "tokenstokens", "Entries"]);
  const rows = await table.locator("tbody tr").evaluateAll((trs) => trs.map((tr) => [...tr.cells].map((td) => td.textContent)));
  assert.deepEqual(rows, [["zed2", "3", "0", "1"], ["zed1", "1", "0", "1"], ["(the team itself)", "0", "500", "1"]]);

  await table.locator("a", { hasText: "zed2" }).click();
  await page.waitForURL("**/dashboard/users/zed2");
  const entry = page.locator("h2:has-text('Recent usage') ~ table").first().locator("tbody tr").first();
  assert.deepEqual((await entry.locator("td").allTextContents()).slice(3, 5), ["flux-schnell", env.keyId]);
  await context.close();
});

test("an operator invited by the root token sets a password, signs in by email, is held to their role and named in the audit log", async () => {
  const root = env.gateway.rootToken;
  const invite = async (email, name, role) =>
    api("POST", "/v1/operators", root, { email, name, roles: { default: role } });
  const vera = await invite("vera@example.com", "Vera Viewer", "viewer");
  const sam = await invite("sam@example.com", "Sam Support", "support");

  /** Takes up an invitation in the browser, then signs in with it: the signed-in page. */
  async function operatorPage(invitation, password) {
    const context = await env.browser.newContext({ viewport: { width: 1280, height: 900 } });
    const page = await context.newPage();
    page.on("dialog", () => assert.fail("a dialog opened: something ran script"));
    await page.goto(env.baseUrl + invitation.invitePath);
    assert.match(await page.locator("h1").textContent(), new RegExp(`Welcome, ${invitation.operator.name}`));
    await page.fill("input[name=password]", password);
    await page.fill("input[name=confirm]", password);
    await page.click("button[type=submit]");
    await page.waitForURL("**/dashboard?welcome=1");
    await page.fill("input[name=email]", invitation.operator.email);
    await page.fill("input[name=password]", password);
    await page.click("form:has(input[name=email]) button");
    await page.waitForURL("**/dashboard/users");
    return { context, page };
  }

  const viewer = await operatorPage(vera, "a viewer's long passphrase");
  assert.match(await viewer.page.locator(".who").textContent(), /Vera Viewer <vera@example.com> \(op_\w+, viewer\)/);
  await viewer.page.goto(`${env.baseUrl}/dashboard/users/carol`);
  assert.equal(await viewer.page.locator("form[action$='/block']").count(), 0, "a viewer is shown no action form");
  // The form posted anyway, with the session's own token: refused, nothing changed.
  const token = await viewer.page.locator("input[name=csrf]").first().inputValue();
  const refused = await viewer.page.request.post(`${env.baseUrl}/dashboard/users/carol/block`, {
    form: { csrf: token, reason: "a viewer tries" },
    headers: { Origin: env.baseUrl },
  });
  assert.equal(refused.status(), 403);
  assert.match(await refused.text(), /You are viewer in project default; nothing was changed/);
  assert.equal((await call("GET", "/v1/users/carol/subscription")).status, "active");
  await viewer.context.close();

  const support = await operatorPage(sam, "support's long passphrase");
  await support.page.goto(`${env.baseUrl}/dashboard/users/carol`);
  await support.page.fill("form[action$='/block'] input[name=reason]", "ticket 7");
  await support.page.click("form[action$='/block'] button");
  await confirm(support.page);
  await support.page.waitForSelector(".flash >> text=Blocked.");
  const log = await call("GET", "/v1/audit-log?userId=carol");
  assert.equal(log.data[0].action, "user.block");
  assert.equal(log.data[0].actorId, sam.operator.id);
  assert.equal(log.data[0].actorLabel, "Sam Support <sam@example.com>");
  // The audit page names the person too.
  await support.page.goto(`${env.baseUrl}/dashboard/audit`);
  assert.match(await support.page.locator("tbody tr").first().textContent(), /Sam Support <sam@example.com>/);
  await call("POST", "/v1/users/carol/unblock", {});
  await support.context.close();
});

test("an id never seen shows no action form until the operator means a new user", async () => {
  const { context, page } = await reused();
  await page.goto(`${env.baseUrl}/dashboard/users/alcie`);
  assert.match(await page.locator("h1").textContent(), /never seen/);
  assert.equal(await page.locator("form[action$='/plan']").count(), 0);
  await page.click("text=Show the actions for a new user");
  await page.waitForURL("**/dashboard/users/alcie?new=1");
  assert.equal(await page.locator("form[action$='/plan']").count(), 1);
  await page.goto(`${env.baseUrl}/dashboard/users/alice`);
  assert.equal(await page.locator("form[action$='/plan']").count(), 1, "a known user's actions are there");
  await context.close();
});

test("on a phone (390×844, touch) the pages fit the screen and a request is approved by a tap", async () => {
  await call("PUT", "/v1/plans/plan_gate_phone", { periodType: "month", groups: [
    { id: "exports", label: "Exports", unit: "count", quota: 1, mode: "approval", matches: [{ event: "export" }] },
  ] });
  await call("PUT", "/v1/users/fay/subscription", { planId: "plan_gate_phone" });
  const first = await call("POST", "/v1/reserve", { userId: "fay", event: "export" });
  await call("POST", `/v1/reservations/${first.reservationId}/commit`, {});
  const id = (await call("POST", "/v1/reserve", { userId: "fay", event: "export" })).denials[0].approvalId;
  for (let i = 0; i < 100 && (await call("GET", "/v1/approvals?status=pending&userId=fay")).data.length < 1; i++) {
    await new Promise((r) => setTimeout(r, 50));
  }

  const { context, page } = await reused({ viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true, deviceScaleFactor: 2 });
  const fits = async (what) => {
    const [scroll, client] = await page.evaluate(() => [document.documentElement.scrollWidth, document.documentElement.clientWidth]);
    assert.ok(scroll <= client, `${what} is ${scroll} px wide on a ${client} px screen`);
  };
  const signIn = await env.browser.newPage({ viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true });
  await signIn.goto(`${env.baseUrl}/dashboard`);
  assert.equal(await signIn.locator("meta[name=viewport]").count(), 1, "the sign-in page has a viewport");
  const [scroll, client] = await signIn.evaluate(() => [document.documentElement.scrollWidth, document.documentElement.clientWidth]);
  assert.ok(scroll <= client, `the sign-in page is ${scroll} px wide on a ${client} px screen`);
  await signIn.close();
  await page.goto(`${env.baseUrl}/dashboard/users`);
  await fits("the users' page");
  await page.goto(`${env.baseUrl}/dashboard/users/alice`);
  await fits("a user's page");
  for (const [path, what] of [
    ["/dashboard/users/alice/ledger", "a user's ledger"],
    ["/dashboard/audit?action=user", "the audit log with its filters"],
    ["/dashboard/webhooks", "the webhooks' page"],
    ["/dashboard/overview", "the overview"],
    ["/dashboard/users/alice/runs/run_nosuchrun", "an error page"],
  ]) {
    await page.goto(`${env.baseUrl}${path}`);
    await fits(what);
  }
  await page.goto(`${env.baseUrl}/dashboard/approvals`);
  await fits("the approvals queue");
  // The queue is cards: nothing of it scrolls sideways, Approve least of all.
  const [queueScroll, queueClient] = await page.locator("table.approvals").first().evaluate((t) => [t.scrollWidth, t.clientWidth]);
  assert.ok(queueScroll <= queueClient, `the queue is ${queueScroll} px wide in ${queueClient} px`);
  const row = page.locator("table.approvals tbody tr", { hasText: id });
  const approve = row.locator("form[action$='/approve'] button[type=submit]");
  const before = await approve.boundingBox();
  assert.ok(before && before.x >= 0 && before.x + before.width <= 390, `Approve is within the screen's width: ${JSON.stringify(before)}`);
  await approve.scrollIntoViewIfNeeded();
  const box = await approve.boundingBox();
  assert.ok(box && box.x >= 0 && box.x + box.width <= 390, `Approve is on the screen: ${JSON.stringify(box)}`);
  await approve.tap();
  await page.waitForSelector(".flash >> text=Request approved: the new quota is in force.");
  assert.equal((await call("GET", `/v1/approvals/${id}`)).status, "approved");
  await context.close();
});
