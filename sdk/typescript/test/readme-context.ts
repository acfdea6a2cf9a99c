// What the README's TypeScript blocks leave to the reader's own app, typed as an app would have
// it: the signed-in user, the render and the model call, what the user is told, a Stripe event, an
// agent's task, the page's publishable key. `readme.test.mjs` compiles each block importing the
// names it uses from here, runs it with them, and reads back what the blocks did with them.

/** The signed-in user. */
export const userId = "alice";
export const session = { userId: "alice" };

/** What the blocks told the user, offered, streamed and nudged, in order. */
export const told: unknown[][] = [];
export const offered: number[] = [];
export const sent: string[] = [];
export const nudged: string[] = [];

export function tellUser(...why: unknown[]): void {
  told.push(why);
}

export async function render(): Promise<Uint8Array> {
  return new Uint8Array([0x89, 0x50, 0x4e, 0x47]);
}

export function offerCreditPack(remaining: number): void {
  offered.push(remaining);
}

export function send(text: string): void {
  sent.push(text);
}

export async function nudgeToUpgrade(user: string): Promise<void> {
  nudged.push(user);
}

/** A Stripe `checkout.session.completed` event, its signature checked. */
export const event = { data: { object: { id: "cs_test_readme", client_reference_id: "alice" } } };

/** An agent's task: two actions. */
export const task = { id: "task_readme", actions: [{ id: "search", prompt: "Find the budgets" }, { id: "summarize", prompt: "Sum them up" }] };

/** The model call: without arguments, the tokens it used (1,200); with a model and a prompt, its answer too. */
export function callModel(): Promise<number>;
export function callModel(model: string, prompt: string): Promise<{ text: string; tokens: number }>;
export async function callModel(model?: string, prompt?: string): Promise<number | { text: string; tokens: number }> {
  if (model === undefined) return 1200;
  return { text: `${model}: ${prompt}`, tokens: 1200 };
}

/** What the page is handed: the project's publishable key and the gateway's URL. */
export let publishableKey = "qg_pk_…";
export let gatewayUrl = "https://quota.example.com";

/** The test's: the project the blocks run in, and nothing told yet. */
export function configure(project: { publishableKey: string; gatewayUrl: string }): void {
  publishableKey = project.publishableKey;
  gatewayUrl = project.gatewayUrl;
  for (const list of [told, offered, sent, nudged]) list.length = 0;
}
