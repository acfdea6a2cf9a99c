// An LLM call: reserve a bound on the tokens (4,000) before calling the provider, then commit
// what the completion really used; withReservation releases the hold if the call throws.
import { createClient } from "quota-gateway";
import { runIfMain, storePlan } from "./plan.mjs";

/** Stands in for the provider: answers with the tokens it used. */
async function callModel(prompt) {
  return { text: `echo: ${prompt}`, usage: { prompt_tokens: 812, completion_tokens: 401 } };
}

export async function main({ baseUrl, apiKey, userId }) {
  await storePlan(baseUrl, apiKey, {
    id: "ex_plan_llm", periodType: "day",
    groups: [{ id: "tokens", label: "Tokens - 10k/day", unit: "tokens", quota: 10000, matches: [{ event: "llm.tokens" }] }],
  });
  const qg = createClient({ apiKey, baseUrl });
  await qg.upsertSubscription({ userId, planId: "ex_plan_llm" });

  const result = await qg.withReservation(userId, "llm.tokens", 4000, { model: "gpt-x" }, async ({ report }) => {
    const answer = await callModel("hello");
    report({ quantity: answer.usage.prompt_tokens + answer.usage.completion_tokens });
    return answer.text;
  });
  if (!result.allowed) return { allowed: false, reasons: result.decision.reasons };
  const tokens = result.commit.counters.find((c) => c.groupId === "tokens");
  return { allowed: true, text: result.value, used: tokens.used, remaining: tokens.remaining };
}

await runIfMain(import.meta, main);
