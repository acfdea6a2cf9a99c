// The freemium recipe: the free plan gives 2 lifetime images on model A and 5 on model B. Each
// render asks for model A, then model B, in one reserve (reserveFirst): the gateway holds the
// first the plan admits and says which (`chosen`), so no other request can take model A's last
// image between its denial and model B's hold.
import { createClient } from "quota-gateway";
import { runIfMain, storePlan } from "./plan.mjs";

export async function main({ baseUrl, apiKey, userId }) {
  await storePlan(baseUrl, apiKey, {
    id: "ex_plan_free", name: "Free", periodType: "lifetime",
    groups: [
      { id: "lg_free_model_a", label: "Model A (1k) - 2 lifetime", unit: "count", quota: 2,
        matches: [{ event: "image.model_a", metadata: { variant: "1k" } }] },
      { id: "lg_free_model_b", label: "Model B (1k) - 5 lifetime", unit: "count", quota: 5,
        matches: [{ event: "image.model_b", metadata: { variant: "1k" } }] },
    ],
  });
  const qg = createClient({ apiKey, baseUrl });
  await qg.upsertSubscription({ userId, planId: "ex_plan_free" });

  const alternatives = [
    { event: "image.model_a", metadata: { variant: "1k" } },
    { event: "image.model_b", metadata: { variant: "1k" } },
  ];
  const models = [];
  for (let i = 0; i < 4; i++) {
    const hold = await qg.reserveFirst(userId, alternatives);
    if (!hold.allowed) break; // both used up: hold.alternatives says why, each
    await qg.commit(hold.reservationId); // the render on the chosen model succeeded
    models.push(["a", "b"][hold.chosen]);
  }
  return { models };
}

await runIfMain(import.meta, main);
