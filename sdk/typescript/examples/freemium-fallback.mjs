// The freemium recipe: the free plan gives 2 lifetime images on model A and 5 on model B; when
// model A answers deniedBy lg_free_model_a, the app falls back to model B.
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

  const models = [];
  for (let i = 0; i < 4; i++) {
    let hold = await qg.reserve(userId, "image.model_a", 1, { variant: "1k" });
    let model = "a";
    if (!hold.allowed && hold.deniedBy.includes("lg_free_model_a")) {
      hold = await qg.reserve(userId, "image.model_b", 1, { variant: "1k" });
      model = "b";
    }
    if (!hold.allowed) break;
    await qg.commit(hold.reservationId);
    models.push(model);
  }
  return { models };
}

await runIfMain(import.meta, main);
