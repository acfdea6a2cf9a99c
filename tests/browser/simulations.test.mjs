// The pricing lab on the dashboard in a real headless Chromium (Debian's /usr/bin/chromium,
// driven by playwright-core): the plan editor's "Try on the last 30 days" posts the document
// as edited, the simulation's page reloads itself until its report is there (no script), and
// the report shows the fidelity, a histogram per group as SVG and the most affected users
// linked to their pages; the plan itself is not saved. With SCREENSHOTS=1 it also writes the
// report's screenshot into docs/.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";
import { startGateway, startRedis } from "../../sdk/typescript/scripts/gateway.mjs";
import { api as gateway } from "./support.mjs";

const repo = resolve(fileURLToPath(new URL("../..", import.meta.url)));
const env = {};

const api = (method, path, token, body) => gateway(env.baseUrl, method, path, token, body);
const call = (method, path, body) => api(method, path, env.key, body);

/** `images` renders asked for by `userId`, each reserved and, when admitted, committed. */
async function render(userId, images) {
  for (let i = 0; i < images; i++) {
    const held = await call("POST", "/v1/reserve", { userId, event: "image.model_a", metadata: { variant: "1k" } });
    if (held.allowed) await call("POST", `/v1/reservations/${held.reservationId}/commit`, {});
  }
}

before(async () => {
  env.redis = await startRedis();
  env.gateway = await startGateway(env.redis.url);
  env.baseUrl = env.gateway.baseUrl;
  const support = await api("POST", "/v1/projects/default/keys", env.gateway.rootToken, { kind: "secret", label: "pricing" });
  env.key = support.key;
  // The freemium recipe's free plan: 2 images for a lifetime.
  await call("PUT", "/v1/plans/plan_free", { name: "Free", periodType: "lifetime", unmatched: "allow", groups: [
    { id: "lg_free_model_a", label: "Model A (1k) - 2 lifetime", unit: "count", quota: 2,
      matches: [{ event: "image.model_a", metadata: { variant: "1k" } }] },
  ] });
  // Ada asks for 3 images (one denied), Bo for 1.
  for (const [user, images] of [["ada", 3], ["bo", 1]]) {
    await call("PUT", `/v1/users/${user}/subscription`, { planId: "plan_free" });
    await render(user, images);
  }
  env.browser = await chromium.launch({ executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium", args: ["--no-sandbox"] });
});

after(async () => {
  await env.browser?.close();
  env.gateway?.stop();
  env.redis?.stop();
});

/** A page signed in with the project's key; any JavaScript dialog fails the test. */
async function signedIn() {
  const context = await env.browser.newContext({ viewport: { width: 1280, height: 900 } });
  const page = await context.newPage();
  page.on("dialog", () => assert.fail("a dialog opened: something ran script"));
  await page.goto(`${env.baseUrl}/dashboard`);
  await page.fill("input[name=credential]", env.key);
  await page.click("form:has(input[name=credential]) button");
  await page.waitForURL("**/dashboard/users");
  return { context, page };
}

test("a raised quota tried from the plan editor: the report's fidelity, histogram and affected users, nothing saved", async () => {
  const { context, page } = await signedIn();
  await page.click("text=Plans");
  await page.click("tr:has-text('plan_free') >> text=Edit");
  await page.waitForURL("**/dashboard/plans/plan_free/edit");
  const text = await page.inputValue("textarea[name=doc]");
  await page.fill("textarea[name=doc]", text.replace('"quota": 2', '"quota": 3'));
  await page.click("text=Try on the last 30 days");
  await page.waitForURL(/\/dashboard\/simulations\/sim_[0-9a-f]{32}$/);
  // The page reloads itself every second while the simulation runs.
  await page.waitForSelector("p.fidelity", { timeout: 30_000 });
  assert.match(
    await page.locator("p.fidelity").textContent(),
    /^Fidelity 100\.0 %: the share of recorded decisions \(4 of 4\) the replay of the current plans reproduced\.$/,
  );
  const changes = page.locator("h2:text('Decisions that change') + table tbody tr");
  assert.deepEqual(await changes.nth(1).locator("td").allTextContents(), ["Newly admitted", "1", "1"]);

  const histogram = page.locator("svg.histogram");
  assert.equal(await histogram.count(), 1, "one group, one histogram");
  assert.match(await histogram.getAttribute("aria-label"), /lg_free_model_a/);
  // Eleven buckets, a baseline and a candidate bar each.
  assert.equal(await histogram.locator("rect.baseline[height]").count(), 12, "eleven bars and the legend's");
  const bo = await histogram.locator("rect:not(.baseline) title").allTextContents();
  assert.ok(bo.includes("1 user at 30–40 % under the candidate"), bo.join("\n"));
  const box = await histogram.boundingBox();
  assert.ok(box.width > 500 && box.height > 100, `drawn: ${JSON.stringify(box)}`);
  if (process.env.SCREENSHOTS) await page.screenshot({ path: join(repo, "docs", "book", "src", "images", "dashboard-simulation.png"), fullPage: true });

  const affected = page.locator("h2:text('Most affected users') ~ table").first().locator("tbody tr");
  assert.deepEqual(await affected.first().locator("td").allTextContents(), ["ada", "0", "1", "100.0 % → 100.0 %"]);
  await affected.first().locator("a", { hasText: "ada" }).click();
  await page.waitForURL("**/dashboard/users/ada");

  // Trying is not saving.
  const plan = await call("GET", "/v1/plans/plan_free");
  assert.equal(plan.groups[0].quota, 2);
  await context.close();
});

test("the try form without its CSRF token is refused", async () => {
  const { context, page } = await signedIn();
  const res = await page.request.post(`${env.baseUrl}/dashboard/plans/try`, {
    form: { id: "plan_free", doc: "{}" },
    maxRedirects: 0,
  });
  assert.equal(res.status(), 403);
  await context.close();
});
