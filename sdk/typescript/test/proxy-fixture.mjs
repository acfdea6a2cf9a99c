// What the proxy's test files share: a gateway whose upstreams all point at the provider
// simulator, a user on a plan of output tokens, and a wait for a user's counter to settle after
// a call's usage is committed.
import { after } from "node:test";
import { freshUser, putPlan, useGateway } from "./harness.mjs";
import { cloudEnv, startSimulator, upstreamsFile } from "./simulator.mjs";

// The provider's key: only the gateway has it, from its environment.
export const PROVIDER_KEY = "sim-provider-key";
// Polls of the gateway's counters while a call's usage is committed (a stream's after its last byte).
const POLLS = 100;
const POLL_MS = 50;

/**
 * The gateway in front of the simulator; `started(sim)` is told the simulator once it runs. The
 * simulator starts first, in the harness's own hook: the gateway reads its upstreams file when
 * it starts.
 */
export function useProxyGateway(started) {
  let sim;
  let upstreams;
  const env = useGateway({
    gatewayEnv: async () => {
      sim = await startSimulator(PROVIDER_KEY);
      upstreams = upstreamsFile(sim.url, "SIM_KEY");
      started(sim);
      return { QG_UPSTREAMS: upstreams.path, SIM_KEY: PROVIDER_KEY, ...cloudEnv(sim) };
    },
  });
  after(() => {
    sim?.stop();
    upstreams?.remove();
  });
  return env;
}

/**
 * A new user (its id begins with `prefix`) on a plan of its own: one lifetime group `output` of
 * `quota` output tokens that calls of `event` match. Answers the user's id.
 */
export async function onOutputTokens(qg, prefix, quota, event) {
  const userId = freshUser(prefix);
  await putPlan({
    id: `plan_${userId}`, periodType: "lifetime",
    groups: [{ id: "output", unit: "tokens", quota, measure: { metadata: "output_tokens" }, matches: [{ event }] }],
  });
  await qg.upsertSubscription({ userId, planId: `plan_${userId}` });
  return userId;
}

/** The user's counter of group `groupId` as `{used, reserved}`. */
export async function counter(qg, userId, groupId) {
  const found = (await qg.usage(userId)).counters.find((c) => c.groupId === groupId);
  return { used: found.used, reserved: found.reserved };
}

/** The user's ledger entries of `kind`, oldest first, every page (at most 20). */
export async function ledger(qg, userId, kind) {
  const found = [];
  let cursor;
  for (let i = 0; i < 20; i++) {
    const page = await qg.listUsageEvents({ userId, cursor });
    found.push(...page.data.filter((e) => e.kind === kind));
    cursor = page.nextCursor;
    if (!cursor) break;
  }
  return found;
}

/** Waits (at most POLLS reads) until the counter is `used` with nothing reserved; answers what it last read. */
export async function settledAt(qg, userId, groupId, used) {
  let now;
  for (let i = 0; i < POLLS; i++) {
    now = await counter(qg, userId, groupId);
    if (now.used === used && now.reserved === 0) break;
    await new Promise((r) => setTimeout(r, POLL_MS));
  }
  return now;
}
