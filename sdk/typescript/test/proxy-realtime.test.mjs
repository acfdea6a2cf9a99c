// Realtime sessions through the gateway with OpenAI's own Node client (`OpenAIRealtimeWS`, from
// `openai/realtime/ws`, on the `ws` package) against the provider simulator's Realtime API: each
// response held before it starts and committed at its `response.done` usage, a response the
// budget cannot hold refused with an `error` event the provider never causes, and a
// `concurrent` group that counts open sessions, the rest refused at the handshake with a 429.
import assert from "node:assert/strict";
import { connect as tcpConnect } from "node:net";
import { test } from "node:test";
import OpenAI from "openai";
import { OpenAIRealtimeWS } from "openai/realtime/ws";
import { createClient } from "quota-gateway";
import { freshUser, putPlan } from "./harness.mjs";
import { ledger, settledAt, useProxyGateway } from "./proxy-fixture.mjs";

const MODEL = "gpt-realtime";
// Every wait on the socket, at most.
const TIMEOUT_MS = 15_000;

let sim;
const env = useProxyGateway((started) => {
  sim = started;
});

let qg;

/** A new user on a plan of its own with `groups`; answers the user's id. */
async function subscribed(groups) {
  qg ??= createClient({ baseUrl: env.baseUrl, apiKey: env.secret });
  const userId = freshUser("rt");
  await putPlan({ id: `plan_${userId}`, periodType: "month", groups });
  await qg.upsertSubscription({ userId, planId: `plan_${userId}` });
  return userId;
}

const tokens = (quota = 1_000_000) => ({ id: "g", unit: "tokens", quota, matches: [{ event: "openai.realtime_response" }] });

/** The simulator's realtime sessions (its `jobs` of kind `realtime`). */
const sessions = async () => Object.values((await sim.stats()).jobs ?? {}).filter((j) => j.kind === "realtime");

/**
 * A plain TCP connection for `ws`: the client always asks for `wss://` (it sets the URL's
 * protocol so), and the gateway here listens on plain HTTP on loopback.
 */
const plainTcp = (options) => tcpConnect({ host: options.host, port: Number(options.port) });

/**
 * A session opened through `OpenAIRealtimeWS` as `userId` with the client `qg.openai` builds
 * (its key and base URL); answers `{ rt, next, send, close }` once the socket is open, or throws
 * the handshake's error. The Node client sends only `Authorization` of the client's headers, so
 * the user is named in the socket's own headers.
 */
async function open(userId, directives = undefined) {
  const client = qg.openai(OpenAI, userId);
  const headers = { "X-Quota-User": userId, ...(directives ? { "x-sim": directives } : {}) };
  const rt = new OpenAIRealtimeWS(
    { model: MODEL, options: { headers, createConnection: plainTcp, handshakeTimeout: TIMEOUT_MS } },
    client,
  );
  const queue = [];
  const waiting = [];
  const failures = [];
  const push = (item) => {
    const waiter = waiting.shift();
    if (waiter) waiter(item);
    else queue.push(item);
  };
  rt.on("event", (event) => push({ event }));
  // An `error` event is in `event` too; only the socket's own errors are kept here.
  rt.on("error", (err) => {
    if (!err.error) {
      failures.push(err);
      push({ failure: err });
    }
  });
  rt.socket.on("close", () => push({ closed: true }));
  await new Promise((done, fail) => {
    const timer = setTimeout(() => fail(new Error(`not open within ${TIMEOUT_MS} ms`)), TIMEOUT_MS);
    rt.socket.once("open", () => {
      clearTimeout(timer);
      done();
    });
    rt.socket.once("error", (err) => {
      clearTimeout(timer);
      fail(err);
    });
  });
  const take = () => new Promise((done, fail) => {
    if (queue.length) return done(queue.shift());
    const timer = setTimeout(() => {
      waiting.splice(waiting.indexOf(got), 1);
      fail(new Error(`no event within ${TIMEOUT_MS} ms`));
    }, TIMEOUT_MS);
    const got = (item) => {
      clearTimeout(timer);
      done(item);
    };
    waiting.push(got);
  });
  /** The next event of one of `kinds` (an `error` is one only when named). */
  const next = async (...kinds) => {
    for (;;) {
      const item = await take();
      if (item.failure) throw item.failure;
      if (item.closed) throw new Error(`the socket closed while waiting for ${kinds.join(", ")}`);
      if (kinds.includes(item.event.type)) return item.event;
      if (item.event.type === "error") throw new Error(`unexpected error event: ${JSON.stringify(item.event)}`);
    }
  };
  const closed = () => new Promise((done) => {
    if (rt.socket.readyState === rt.socket.CLOSED) return done();
    const timer = setTimeout(() => {
      rt.socket.terminate();
      done();
    }, TIMEOUT_MS);
    rt.socket.once("close", () => {
      clearTimeout(timer);
      done();
    });
  });
  const close = async () => {
    rt.close();
    await closed();
  };
  return { rt, next, send: (event) => rt.send(event), close, failures };
}

/** A text turn and a response to it: its `response.done`, or the `error` that refused it. */
async function ask(session, text, response = {}, eventId = undefined) {
  session.send({ type: "conversation.item.create", item: { type: "message", role: "user", content: [{ type: "input_text", text }] } });
  session.send({ type: "response.create", ...(eventId ? { event_id: eventId } : {}), response: { output_modalities: ["text"], ...response } });
  return session.next("response.done", "error");
}

test("several text responses, each held before it starts and committed at exactly its response.done usage", async () => {
  await sim.reset();
  const userId = await subscribed([tokens()]);
  const session = await open(userId, "output=6");
  const done = [];
  try {
    const created = await session.next("session.created");
    assert.equal(created.session.model, MODEL);
    for (let i = 0; i < 5; i++) {
      const found = await ask(session, `turn ${i} of the talk`, { max_output_tokens: 50 });
      assert.equal(found.type, "response.done", JSON.stringify(found));
      assert.equal(found.response.status, "completed");
      assert.equal(found.response.usage.output_tokens, 6);
      done.push(found.response);
    }
  } finally {
    await session.close();
  }
  assert.deepEqual(session.failures, []);
  const billed = done.reduce((n, r) => n + r.usage.input_tokens + r.usage.output_tokens, 0);
  // The conversation grows: each response's input is every item before it.
  assert.ok(billed > 5 * 6, String(billed));
  assert.deepEqual(await settledAt(qg, userId, "g", billed), { used: billed, reserved: 0 });
  const commits = await ledger(qg, userId, "commit");
  const responses = commits.filter((c) => c.event === "openai.realtime_response");
  assert.equal(responses.length, 5, JSON.stringify(commits.map((c) => [c.event, c.quantity])));
  assert.deepEqual(responses.map((c) => c.quantity).sort((a, b) => a - b),
    done.map((r) => r.usage.input_tokens + r.usage.output_tokens).sort((a, b) => a - b));
  const [simSession, ...more] = await sessions();
  assert.equal(more.length, 0);
  const [sessionId] = Object.entries((await sim.stats()).jobs).find(([, j]) => j.kind === "realtime");
  assert.deepEqual([...new Set(responses.map((c) => c.metadata.realtime_session))], [sessionId]);
  // The provider got each response with the maximum it was held at, and reported what it sent.
  const creates = simSession.events.filter((e) => e.type === "response.create");
  assert.equal(creates.length, 5);
  assert.ok(creates.every((e) => e.response.max_output_tokens === 50), JSON.stringify(creates));
  assert.deepEqual(simSession.responses.map((r) => r.usage.total_tokens), done.map((r) => r.usage.total_tokens));
});

test("a response past a count quota of two never reaches the provider: the client gets an insufficient_quota error event", async () => {
  await sim.reset();
  const userId = await subscribed([{ id: "g", unit: "count", quota: 2, measure: { metadata: "calls" }, matches: [{ event: "openai.realtime_response" }] }]);
  const session = await open(userId, "output=4");
  const found = [];
  try {
    await session.next("session.created");
    for (let i = 0; i < 3; i++) found.push(await ask(session, `question ${i}`, {}, `evt_ask_${i}`));
    // The session stays open.
    session.send({ type: "session.update", session: { type: "realtime", instructions: "be brief" } });
    found.push(await session.next("session.updated", "error"));
  } finally {
    await session.close();
  }
  assert.deepEqual(found.map((f) => f.type), ["response.done", "response.done", "error", "session.updated"]);
  const refused = found[2];
  assert.equal(refused.error.code, "insufficient_quota", JSON.stringify(refused));
  assert.equal(refused.error.event_id, "evt_ask_2");
  const [simSession] = await sessions();
  assert.equal(simSession.events.filter((e) => e.type === "response.create").length, 2, "the provider never saw the third");
  assert.equal(simSession.responses.length, 2);
  assert.deepEqual(await settledAt(qg, userId, "g", 2), { used: 2, reserved: 0 });
  const commits = await ledger(qg, userId, "commit");
  assert.equal(commits.filter((c) => c.event === "openai.realtime_response").length, 2);
});

test("ten parallel connects against a concurrent quota of three sessions: three admitted, seven refused at the handshake with 429", async () => {
  await sim.reset();
  const userId = await subscribed([{ id: "open", unit: "concurrent", quota: 3, matches: [{ event: "openai.realtime" }] }]);
  const one = async () => {
    try {
      const session = await open(userId);
      await session.next("session.created");
      return session;
    } catch (err) {
      assert.match(String(err?.message), /Unexpected server response: 429/, String(err));
      return null;
    }
  };
  const found = await Promise.all(Array.from({ length: 10 }, one));
  const opened = found.filter((s) => s !== null);
  try {
    assert.deepEqual([opened.length, found.length - opened.length], [3, 7]);
    assert.equal((await sessions()).filter((s) => s.open).length, 3, "a refused session never reaches the provider");
  } finally {
    await Promise.all(opened.map((s) => s.close()));
  }
  // Closed, a session's slot is free again (the gateway lets go of it as the relay ends).
  let again = null;
  for (let i = 0; i < 50 && again === null; i++) {
    again = await one();
    if (again === null) await new Promise((r) => setTimeout(r, 100));
  }
  assert.ok(again !== null, "no session admitted after the others closed");
  await again.close();
});
