// verifyWebhook against signatures made as the Standard Webhooks specification makes them.
import assert from "node:assert/strict";
import { createHmac, randomBytes } from "node:crypto";
import { test } from "node:test";
import { verifyWebhook } from "quota-gateway";

const key = randomBytes(24);
const secret = `whsec_${key.toString("base64")}`;
const sign = (id, timestamp, body, with_ = key) =>
  `v1,${createHmac("sha256", with_).update(`${id}.${timestamp}.${body}`).digest("base64")}`;

test("a signed delivery verifies and its event is answered", async () => {
  const now = Math.floor(Date.now() / 1000);
  const body = JSON.stringify({ type: "quota.threshold_crossed", data: { threshold: 80 } });
  const headers = { "webhook-id": "msg_1", "webhook-timestamp": String(now), "webhook-signature": sign("msg_1", now, body) };
  assert.equal((await verifyWebhook(secret, headers, body)).data.threshold, 80);
  // During a rotation both signatures are sent; either verifies.
  const rotated = { ...headers, "webhook-signature": `${sign("msg_1", now, body, randomBytes(24))} ${headers["webhook-signature"]}` };
  assert.equal((await verifyWebhook(secret, new Headers(rotated), body)).type, "quota.threshold_crossed");
});

test("a tampered body, a wrong secret or an old timestamp is refused", async () => {
  const now = Math.floor(Date.now() / 1000);
  const body = '{"type":"webhook.test"}';
  const headers = { "webhook-id": "msg_2", "webhook-timestamp": String(now), "webhook-signature": sign("msg_2", now, body) };
  await assert.rejects(verifyWebhook(secret, headers, body.replace("test", "tset")), (e) => e.code === "webhook_invalid");
  await assert.rejects(verifyWebhook(`whsec_${randomBytes(24).toString("base64")}`, headers, body));
  const old = now - 600;
  await assert.rejects(verifyWebhook(secret, { ...headers, "webhook-timestamp": String(old), "webhook-signature": sign("msg_2", old, body) }, body));
  await assert.rejects(verifyWebhook(secret, { "webhook-id": "x" }, body));
});
