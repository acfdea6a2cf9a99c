// Per-user rate-limit headers for the app's own API, from the counters a reservation answers:
// the tightest counter decides what the client is told (RateLimit as in the IETF draft).
import { createClient } from "quota-gateway";
import { runIfMain, storePlan } from "./plan.mjs";

/** `RateLimit` and `RateLimit-Policy` header values from a decision's counters. */
export function rateLimitHeaders(counters, now = Date.now()) {
  const policy = counters.map((c) => `"${c.groupId}";q=${Math.floor(c.quota)}`).join(", ");
  const limit = counters
    .map((c) => {
      const reset = c.resetsAt ? Math.ceil((Date.parse(c.resetsAt) - now) / 1000) : null;
      return `"${c.groupId}";r=${Math.floor(c.remaining)}${reset === null ? "" : `;t=${reset}`}`;
    })
    .join(", ");
  return { "RateLimit-Policy": policy, RateLimit: limit };
}

export async function main({ baseUrl, apiKey, userId }) {
  await storePlan(baseUrl, apiKey, {
    id: "plan_stacked", periodType: "month",
    groups: [
      { id: "per_minute", label: "10 / minute", unit: "count", quota: 10, period: { type: "minute" }, matches: [{ event: "*" }] },
      { id: "per_month", label: "1000 / month", unit: "count", quota: 1000, matches: [{ event: "*" }] },
    ],
  });
  const qg = createClient({ apiKey, baseUrl });
  await qg.upsertSubscription({ userId, planId: "plan_stacked" });
  const hold = await qg.reserve(userId, "api.call");
  await qg.commit(hold.reservationId);
  return rateLimitHeaders(hold.counters);
}

await runIfMain(import.meta, main);
