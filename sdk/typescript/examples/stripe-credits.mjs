// A credit pack sold through Stripe Checkout. The app creates a Checkout Session with the
// user's id as `client_reference_id` and the pack's credits in `metadata.credits`; Stripe
// calls this webhook with `checkout.session.completed`. The webhook checks the
// Stripe-Signature header (node:crypto, no stripe package) and grants the credits with the
// session's id as the Idempotency-Key: Stripe delivers an event at least once, and a
// redelivery, a retry or a later `async_payment_succeeded` of the same session grants nothing
// more.
//
// Run by hand: `STRIPE_WEBHOOK_SECRET=whsec_… node examples/stripe-credits.mjs`, then
// `stripe listen --forward-to 127.0.0.1:4242/webhooks/stripe`.
import { createHmac, timingSafeEqual } from "node:crypto";
import { createServer } from "node:http";
import { createClient } from "quota-gateway";
import { runIfMain, storePlan } from "./plan.mjs";

const TOLERANCE_SECONDS = 5 * 60;
const MAX_BODY_BYTES = 1 << 20;

/**
 * Whether `header` (`t=<unix seconds>,v1=<hex>[,v1=<hex>…]`) signs `payload`, the body's bytes
 * exactly as received: a v1 is the hex HMAC-SHA256 of "<t>.<payload>" keyed with the
 * endpoint's secret (`whsec_…`, the whole string), and t is within five minutes of now.
 */
export function verifyStripeSignature(payload, header, secret, nowSeconds = Math.floor(Date.now() / 1000)) {
  if (typeof header !== "string" || !secret) return false;
  const parts = header.split(",").map((part) => part.split("=", 2).map((s) => s.trim()));
  const t = parts.find(([k]) => k === "t")?.[1];
  const signatures = parts.filter(([k, v]) => k === "v1" && v).map(([, v]) => v);
  if (!t || !/^\d+$/.test(t) || signatures.length === 0) return false;
  if (Math.abs(nowSeconds - Number(t)) > TOLERANCE_SECONDS) return false;
  const expected = createHmac("sha256", secret).update(`${t}.`).update(payload).digest();
  return signatures.some((hex) => {
    const given = Buffer.from(hex, "hex");
    return given.length === expected.length && timingSafeEqual(given, expected);
  });
}

/** The grant a paid session buys: its user, its credits, and what a credit cost in cents. */
function purchase(session) {
  const userId = session.client_reference_id;
  const credits = Number(session.metadata?.credits);
  if (!userId || !(credits > 0)) return null;
  // Cents per credit, to the 3 decimals the gateway keeps.
  const costBasis = Math.round(((session.amount_total ?? 0) / credits) * 1000) / 1000;
  return { userId, grant: { balance: "credits", amount: credits, source: "purchase", costBasis, metadata: { session: session.id } } };
}

/** The node:http handler of `POST /webhooks/stripe`. */
export function stripeWebhook({ qg, endpointSecret, log = console }) {
  const answer = (res, status, body) => res.writeHead(status, { "Content-Type": "application/json" }).end(JSON.stringify(body));
  return async (req, res) => {
    if (req.url !== "/webhooks/stripe") return answer(res, 404, { error: "not found" });
    if (req.method !== "POST") return answer(res, 405, { error: "POST only" });
    const chunks = [];
    let size = 0;
    for await (const chunk of req) {
      size += chunk.length;
      if (size > MAX_BODY_BYTES) return answer(res, 413, { error: "too large" });
      chunks.push(chunk);
    }
    const raw = Buffer.concat(chunks);
    if (!verifyStripeSignature(raw, req.headers["stripe-signature"], endpointSecret)) {
      return answer(res, 400, { error: "bad signature" });
    }
    const event = JSON.parse(raw.toString("utf8"));
    const session = event.data?.object;
    // A card is paid at completion; a bank debit later (`async_payment_succeeded`).
    const paid = (event.type === "checkout.session.completed" && session?.payment_status === "paid")
      || event.type === "checkout.session.async_payment_succeeded";
    const bought = paid ? purchase(session) : null;
    if (!bought) return answer(res, 200, { received: true });
    try {
      // The session's id as the key: however often Stripe delivers, one grant.
      const made = await qg.grant(bought.userId, bought.grant, { idempotencyKey: session.id });
      return answer(res, 200, { received: true, grantId: made.grantId });
    } catch (err) {
      // Not granted (or not known to be): Stripe retries a non-2xx, and the key makes that safe.
      log.error(`granting ${session.id}: ${err.message}`);
      return answer(res, 500, { error: "try again" });
    }
  };
}

/**
 * Listens on loopback for Stripe's webhook (`port` 0 picks a free one) and answers its URL and
 * `close()`; the plan gives users a `credits` balance that image renders burn, 10 a render.
 */
export async function main({ baseUrl, apiKey, endpointSecret = process.env.STRIPE_WEBHOOK_SECRET, port = Number(process.env.PORT ?? 4242) }) {
  if (!endpointSecret) throw new Error("STRIPE_WEBHOOK_SECRET (the endpoint's whsec_… secret) is required");
  await storePlan(baseUrl, apiKey, {
    id: "ex_plan_credit_packs", periodType: "month",
    groups: [{ id: "credits", label: "Credits", balance: "credits", matches: [{ event: "image.render", measure: { rate: 10 } }] }],
  });
  const qg = createClient({ apiKey, baseUrl });
  const server = createServer(stripeWebhook({ qg, endpointSecret }));
  await new Promise((done) => server.listen(port, "127.0.0.1", done));
  return {
    url: `http://127.0.0.1:${server.address().port}/webhooks/stripe`,
    close: () => new Promise((done) => server.close(done)),
  };
}

await runIfMain(import.meta, main);
