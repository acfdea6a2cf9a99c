// Per-user rate-limit headers for the app's own API, from a reservation's decision:
// rateLimitHeaders passes on the gateway's RateLimit and RateLimit-Policy (as in the IETF
// draft), and answers a decision the gateway did not give (no counters) too.
import { createClient, rateLimitHeaders } from "quota-gateway";
import { runIfMain, storePlan } from "./plan.mjs";

export async function main({ baseUrl, apiKey, userId }) {
  await storePlan(baseUrl, apiKey, {
    id: "ex_plan_stacked", periodType: "month",
    groups: [
      { id: "per_minute", label: "10 / minute", unit: "count", quota: 10, period: { type: "minute" }, matches: [{ event: "*" }] },
      { id: "per_month", label: "1000 / month", unit: "count", quota: 1000, matches: [{ event: "*" }] },
    ],
  });
  const qg = createClient({ apiKey, baseUrl });
  await qg.upsertSubscription({ userId, planId: "ex_plan_stacked" });
  const hold = await qg.reserve(userId, "api.call");
  await qg.commit(hold.reservationId);
  return rateLimitHeaders(hold);
}

await runIfMain(import.meta, main);
