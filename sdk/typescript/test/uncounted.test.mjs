// A reserve the gateway allows with no counter matched no group of the user's plan, so nothing
// is held or counted (the plan's `unmatched: "allow"`): the client says so once per client and
// event name, in production too.
import assert from "node:assert/strict";
import { createServer } from "node:net";
import { test } from "node:test";
import { createClient } from "quota-gateway";
import { call, freshUser, putPlan, useGateway, warnings } from "./harness.mjs";

const env = useGateway();

/** A user on a plan whose one group counts `llm.*` events. */
async function onTokens(unmatched = "allow") {
  const user = freshUser("uncounted");
  await putPlan({ id: `plan_${user}`, periodType: "month", unmatched,
    groups: [{ id: "tokens", unit: "tokens", quota: 10_000, matches: [{ event: "llm.*" }] }] });
  await call("PUT", `/v1/users/${user}/subscription`, { planId: `plan_${user}` });
  return user;
}

/** A loopback port nothing listens on. */
async function closedPort() {
  const server = createServer();
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address();
  await new Promise((resolve) => server.close(resolve));
  return port;
}

test("an allowed reserve that matched no group warns once per client and event name", async () => {
  const user = await onTokens();
  const qg = createClient({ apiKey: env.secret, baseUrl: env.baseUrl });
  const mode = process.env.NODE_ENV;
  const answers = [];
  try {
    process.env.NODE_ENV = "production"; // a leak of unmetered usage is said in production too
    const said = await warnings(async () => {
      answers.push(await qg.reserve(user, "llm.tokens", 100)); // counted: no warning
      answers.push(await qg.reserve(user, "image.render", 1, { model: "flux-pro" }));
      answers.push(await qg.reserve(user, "image.render", 2));
      answers.push(await qg.reserve(user, "video.render"));
    });
    assert.equal(said.length, 2, said.join("\n"));
    assert.match(said[0], /reserve\("image\.render"\) was allowed but matched no group.*nothing is held or counted.*"unmatched"/);
    assert.match(said[1], /reserve\("video\.render"\)/);
  } finally {
    if (mode === undefined) delete process.env.NODE_ENV;
    else process.env.NODE_ENV = mode;
  }
  // What the warning is about: allowed, with a reservation, and no counter at all.
  assert.deepEqual(answers.map((d) => [d.allowed, d.counters.length, typeof d.reservationId]),
    [[true, 1, "string"], [true, 0, "string"], [true, 0, "string"], [true, 0, "string"]]);
  const usage = await call("GET", `/v1/users/${user}/usage`);
  assert.deepEqual(usage.counters.map((c) => [c.groupId, c.reserved]), [["tokens", 100]], "only the llm event holds anything");

  // Another client says it again, once.
  const other = createClient({ apiKey: env.secret, baseUrl: env.baseUrl });
  const again = await warnings(async () => {
    await other.reserve(user, "image.render");
    await other.reserve(user, "image.render");
  });
  assert.equal(again.length, 1, again.join("\n"));
});

test("no warning for a denial, a plan that refuses unmatched events, or a decision the gateway did not give", async () => {
  const refusing = await onTokens("deny");
  const qg = createClient({ apiKey: env.secret, baseUrl: env.baseUrl });
  const offline = createClient({ apiKey: env.secret, baseUrl: `http://127.0.0.1:${await closedPort()}`, failMode: "open", maxRetries: 0 });
  const answers = [];
  const said = await warnings(async () => {
    answers.push(await qg.reserve(refusing, "image.render"));
    answers.push(await qg.reserve(refusing, "llm.tokens", 20_000));
    answers.push(await offline.reserve(refusing, "image.render"));
  });
  assert.deepEqual(said, []);
  assert.deepEqual(answers.map((d) => [d.allowed, d.reasons, d.unchecked]), [
    [false, ["unmatched_event"], false],
    [false, ["limit_reached"], false],
    [true, ["backend_unavailable"], true],
  ]);
});
