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

/** The gateway and key from the environment, for running an example by hand. */
export function fromEnvironment() {
  return {
    baseUrl: process.env.QUOTA_GATEWAY_URL ?? "http://127.0.0.1:8080",
    apiKey: process.env.QUOTA_GATEWAY_KEY,
    userId: process.env.USER_ID ?? "alice",
  };
}

/** Runs `main` when the example is the program (`node examples/x.mjs`), and prints what it did. */
export async function runIfMain(meta, main) {
  if (process.argv[1] && new URL(`file://${process.argv[1]}`).href === meta.url) {
    console.log(JSON.stringify(await main(fromEnvironment()), null, 2));
  }
}
