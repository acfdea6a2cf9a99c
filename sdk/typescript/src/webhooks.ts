// Standard Webhooks signatures, checked with WebCrypto (no import of a Node built-in): `webhook-signature`
// holds one or more `v1,<base64 HMAC-SHA256 of "id.timestamp.body">`, with the secret
// `whsec_<base64 key>`; timestamps more than five minutes away are refused (replays).
import { QuotaGatewayError } from "./errors.js";
import type { WebhookEvent } from "./types.js";

const TOLERANCE_SECONDS = 5 * 60;

/**
 * A request's headers: fetch's `Headers`, Node's `IncomingHttpHeaders` (`req.headers` in
 * Express, Fastify, node:http), or a plain object; names in any case.
 */
export type WebhookHeaders =
  | { get(name: string): string | null }
  | { [name: string]: string | string[] | null | undefined };

function header(headers: WebhookHeaders, name: string): string | null {
  if (typeof headers.get === "function") return (headers as { get(n: string): string | null }).get(name);
  const map = headers as { [name: string]: string | string[] | null | undefined };
  const key = Object.keys(map).find((k) => k.toLowerCase() === name);
  const value = key ? map[key] : null;
  // A header sent twice arrives as a list (node:http): its values in one line, as fetch joins them.
  return Array.isArray(value) ? value.join(" ") : (value ?? null);
}

function fromBase64(text: string): Uint8Array<ArrayBuffer> {
  const binary = atob(text);
  const bytes = new Uint8Array(new ArrayBuffer(binary.length));
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  return bytes;
}

function toBase64(bytes: ArrayBuffer): string {
  return btoa(String.fromCharCode(...new Uint8Array(bytes)));
}

function invalid(detail: string): QuotaGatewayError {
  return new QuotaGatewayError({ code: "webhook_invalid", status: 400, detail });
}

/**
 * The event of a verified webhook delivery, typed by its `type`; throws `webhook_invalid` for
 * anything else. Pass the body exactly as received (a string, or its bytes).
 */
export async function verifyWebhook<T = WebhookEvent>(secret: string, headers: WebhookHeaders, body: string | Uint8Array,
  nowSeconds: number = Math.floor(Date.now() / 1000)): Promise<T> {
  const text = typeof body === "string" ? body : new TextDecoder().decode(body);
  const id = header(headers, "webhook-id");
  const timestamp = header(headers, "webhook-timestamp");
  const signatures = header(headers, "webhook-signature");
  if (!id || !timestamp || !signatures) throw invalid("webhook-id, webhook-timestamp and webhook-signature are required");
  const sent = Number(timestamp);
  if (!Number.isInteger(sent) || Math.abs(nowSeconds - sent) > TOLERANCE_SECONDS) throw invalid("the timestamp is not within five minutes");
  const key = await crypto.subtle.importKey("raw", fromBase64(secret.replace(/^whsec_/, "")), { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
  const expected = toBase64(await crypto.subtle.sign("HMAC", key, new TextEncoder().encode(`${id}.${timestamp}.${text}`)));
  const matches = signatures.split(" ").some((s) => {
    const [version, signature] = s.split(",", 2);
    return version === "v1" && signature !== undefined && constantTimeEqual(signature, expected);
  });
  if (!matches) throw invalid("no signature matches");
  return JSON.parse(text) as T;
}

function constantTimeEqual(a: string, b: string): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a.charCodeAt(i) ^ b.charCodeAt(i);
  return diff === 0;
}
