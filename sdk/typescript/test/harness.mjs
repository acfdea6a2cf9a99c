// One real gateway and one real redis-server per test file, on loopback, and the admin calls
// the tests need (a project of their own with keys, plans, users).
import { after, before } from "node:test";
import { startGateway, startRedis } from "../scripts/gateway.mjs";

export const env = {};

async function admin(method, path, token, body) {
  const res = await fetch(env.baseUrl + path, {
    method,
    headers: { Authorization: `Bearer ${token}`, "Content-Type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${text}`);
  return text ? JSON.parse(text) : undefined;
}

/**
 * Starts Redis and the gateway before the file's tests and stops them after; `gatewayEnv()`,
 * called just before the gateway starts, adds to its environment (and may start what it names).
 */
export function useGateway({ gatewayEnv = () => ({}) } = {}) {
  before(async () => {
    env.redis = await startRedis();
    env.gateway = await startGateway(env.redis.url, { env: await gatewayEnv() });
    env.baseUrl = env.gateway.baseUrl;
    env.rootToken = env.gateway.rootToken;
    await admin("POST", "/v1/projects", env.rootToken, { id: "sdk", allowedOrigins: ["https://app.example.com"] });
    const secret = await admin("POST", "/v1/projects/sdk/keys", env.rootToken, { kind: "secret" });
    env.secret = secret.key;
    env.secretKeyId = secret.keyId;
    env.publishable = (await admin("POST", "/v1/projects/sdk/keys", env.rootToken, { kind: "publishable" })).key;
  });
  after(() => {
    env.gateway?.stop();
    env.redis?.stop();
  });
  return env;
}

export const putPlan = (plan) => admin("PUT", `/v1/plans/${plan.id}`, env.secret, plan);
export const call = (method, path, body) => admin(method, path, env.secret, body);

/** A plan with one count group every event matches. */
export const countPlan = (id, quota, extra = {}) => ({
  id, periodType: "month", ...extra,
  groups: [{ id: "g", unit: "count", quota, matches: [{ event: "*" }] }],
});

let next = 0;
/** A user id no other test uses. */
export const freshUser = (prefix = "u") => `${prefix}${process.pid}x${next++}`;

/** Runs `fn` with console.warn recorded; answers the warnings. */
export async function warnings(fn) {
  const seen = [];
  const original = console.warn;
  console.warn = (...args) => seen.push(args.join(" "));
  try {
    await fn();
  } finally {
    console.warn = original;
  }
  return seen;
}
