// Image renders with a premium sub-quota: 100 renders a month on any model, of which at most
// 3 on the premium model. Reserve before rendering, commit after, release when the render fails.
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

  const rendered = [];
  for (let i = 0; i < 5; i++) {
    const model = "flux-pro";
    const hold = await qg.reserve(userId, "image.render", 1, { model });
    if (!hold.allowed) {
      // The premium sub-quota is spent: render on the standard model instead.
      const fallback = await qg.reserve(userId, "image.render", 1, { model: "flux-schnell" });
      if (!fallback.allowed) break;
      await qg.commit(fallback.reservationId);
      rendered.push("flux-schnell");
      continue;
    }
    await qg.commit(hold.reservationId); // the render succeeded
    rendered.push(model);
  }
  const usage = await qg.usage(userId);
  return { rendered, counters: usage.counters.map((c) => [c.groupId, c.used, c.remaining]) };
}

await runIfMain(import.meta, main);
