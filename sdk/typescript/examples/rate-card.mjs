// A rate card in credits (1 credit = 1 cent): GPT-4o priced by its tokens (0.0005 credits a
// prompt token, 0.002 a completion token) and Flux Pro by the render (10 credits), in one
// balance group, so every model spends the one balance the user bought. Reserve the most a
// call can cost before calling the model, commit what it really used, and tell the user to
// buy credits when the balance cannot cover a call (insufficient_balance).
import { createClient, isBalanceCounter } from "quota-gateway";
import { runIfMain, storePlan } from "./plan.mjs";

const MAX_TOKENS = 1000;

/** Stands in for the chat provider: answers with the tokens it used. */
async function chat(prompt) {
  return { text: `echo: ${prompt}`, usage: { prompt_tokens: 1187, completion_tokens: 402 } };
}

/** Stands in for the image provider. */
async function render(prompt) {
  return { url: `https://images.example.com/${encodeURIComponent(prompt)}.png` };
}

export async function main({ baseUrl, apiKey, userId }) {
  await storePlan(baseUrl, apiKey, {
    id: "ex_plan_rate_card", periodType: "month",
    groups: [{
      id: "credits", label: "Credits", balance: "credits",
      // The first rule that matches prices the event.
      matches: [
        { event: "llm.chat", metadata: { model: "gpt-4o" }, measure: { weights: { prompt_tokens: 0.0005, completion_tokens: 0.002 } } },
        { event: "image.render", metadata: { model: "flux-pro" }, measure: { rate: 10 } },
      ],
    }],
  });
  const qg = createClient({ apiKey, baseUrl });
  await qg.upsertSubscription({ userId, planId: "ex_plan_rate_card" });
  // 100 credits on sign-up (a purchase would come from the payment's webhook: stripe-credits.mjs).
  await qg.grant(userId, { balance: "credits", amount: 100, category: "promotional", source: "signup" }, { idempotencyKey: `signup-${userId}` });

  // A chat: hold the most it can cost (the prompt's tokens, MAX_TOKENS of completion), then
  // commit the tokens it used; withReservation releases the hold if the call throws.
  const prompt = "Summarize this contract";
  const estimate = { model: "gpt-4o", prompt_tokens: 1200, completion_tokens: MAX_TOKENS };
  const answered = await qg.withReservation(userId, "llm.chat", undefined, estimate, async ({ decision, report }) => {
    const held = decision.counters.find(isBalanceCounter)?.reserved;
    const answer = await chat(prompt);
    report({ metadata: { prompt_tokens: answer.usage.prompt_tokens, completion_tokens: answer.usage.completion_tokens } });
    return { held, text: answer.text };
  });
  if (!answered.allowed) return { denied: answered.decision.reasons };
  const afterChat = answered.commit.counters.find(isBalanceCounter);

  // Renders until the balance cannot cover one more.
  const images = [];
  let refused = null;
  for (let i = 0; i < 20 && !refused; i++) {
    const hold = await qg.reserve(userId, "image.render", 1, { model: "flux-pro" });
    if (!hold.allowed) {
      refused = { reasons: hold.reasons, remaining: hold.counters.find(isBalanceCounter)?.remaining ?? null }; // "buy credits"
      break;
    }
    try {
      images.push((await render(`cat ${i}`)).url);
      await qg.commit(hold.reservationId);
    } catch (err) {
      await qg.release(hold.reservationId);
      throw err;
    }
  }

  const [credits] = (await qg.balances(userId)).data;
  return {
    chat: { held: answered.value.held, charged: Math.round((100 - afterChat.remaining) * 1000) / 1000 },
    renders: images.length,
    refused,
    balance: { available: credits.available, held: credits.held, debt: credits.debt },
  };
}

await runIfMain(import.meta, main);
