// Image renders with a premium sub-quota: 100 renders a month on any model, of which at most
// 3 on the premium model. Reserve before rendering (the premium model, else the standard one,
// in one reserveFirst), commit after, release when the render fails.
import { createClient } from "quota-gateway";
import { runIfMain, storePlan } from "./plan.mjs";

export async function main({ baseUrl, apiKey, userId }) {
  await storePlan(baseUrl, apiKey, {
    id: "ex_plan_images", periodType: "month", periodAnchor: "subscription_start",
    groups: [
      { id: "renders", label: "Renders - 100/mo", unit: "count", quota: 100, matches: [{ event: "image.*" }] },
      { id: "premium", label: "Premium model - 3/mo", unit: "count", quota: 3,
        matches: [{ event: "image.render", metadata: { model: "flux-pro" } }] },
    ],
  });
  const qg = createClient({ apiKey, baseUrl });
  await qg.upsertSubscription({ userId, planId: "ex_plan_images" });

  // The premium model while its sub-quota lasts, then the standard one.
  const models = ["flux-pro", "flux-schnell"];
  const rendered = [];
  for (let i = 0; i < 5; i++) {
    const hold = await qg.reserveFirst(userId, models.map((model) => ({ event: "image.render", metadata: { model } })));
    if (!hold.allowed) break;
    await qg.commit(hold.reservationId); // the render succeeded
    rendered.push(models[hold.chosen]);
  }
  const usage = await qg.usage(userId);
  return { rendered, counters: usage.counters.map((c) => [c.groupId, c.used, c.remaining]) };
}

await runIfMain(import.meta, main);
