// Stores a plan through the HTTP API, as `quota-gateway apply plans.json` does once per deploy;
// the examples call it so each runs on its own.
export async function storePlan(baseUrl, apiKey, plan) {
  const res = await fetch(`${baseUrl}/v1/plans/${plan.id}`, {
    method: "PUT",
    headers: { Authorization: `Bearer ${apiKey}`, "Content-Type": "application/json" },
    body: JSON.stringify(plan),
  });
  if (!res.ok) throw new Error(`storing ${plan.id}: ${res.status} ${await res.text()}`);
}

/**
 * The gateway and key from the environment, for running an example by hand. The user is
 * `USER_ID`, else one of the example's own (`ex_llm-tokens` for llm-tokens.mjs): the examples'
 * plans and users are theirs alone (`ex_…`), so running one never moves a user of yours, nor of
 * the README's walk-through, to another plan.
 */
export function fromEnvironment(example) {
  return {
    baseUrl: process.env.QUOTA_GATEWAY_URL ?? "http://127.0.0.1:8080",
    apiKey: process.env.QUOTA_GATEWAY_KEY,
    userId: process.env.USER_ID || `ex_${example}`,
  };
}

/** Runs `main` when the example is the program (`node examples/x.mjs`), and prints what it did. */
export async function runIfMain(meta, main) {
  if (process.argv[1] && new URL(`file://${process.argv[1]}`).href === meta.url) {
    const example = new URL(meta.url).pathname.split("/").pop().replace(/\.mjs$/, "");
    console.log(JSON.stringify(await main(fromEnvironment(example)), null, 2));
  }
}
