// A streaming job: hold one of the user's 2 concurrent slots and 60 seconds of GPU time, extend
// the hold while chunks keep coming, and commit the seconds it really took.
import { createClient } from "quota-gateway";
import { runIfMain, storePlan } from "./plan.mjs";

export async function main({ baseUrl, apiKey, userId }) {
  await storePlan(baseUrl, apiKey, {
    id: "ex_plan_video", periodType: "month",
    groups: [
      // A job holds one slot whatever its length: the slot group counts the `slots` metadata.
      { id: "slots", label: "2 jobs at once", unit: "concurrent", quota: 2, measure: { metadata: "slots" },
        matches: [{ event: "video.*" }] },
      { id: "gpu", label: "GPU seconds - 600/mo", unit: "seconds", quota: 600, matches: [{ event: "video.*" }] },
    ],
  });
  const qg = createClient({ apiKey, baseUrl });
  await qg.upsertSubscription({ userId, planId: "ex_plan_video" });

  const hold = await qg.reserve(userId, "video.generate", 60, { slots: 1 }, { ttlSeconds: 5 });
  if (!hold.allowed) return { allowed: false, reasons: hold.reasons };
  const started = Date.now();
  let extensions = 0;
  for (let chunk = 0; chunk < 3; chunk++) {
    await new Promise((r) => setTimeout(r, 20)); // a chunk of the stream arrives
    await qg.extend(hold.reservationId, 5); // still working: keep the slot
    extensions++;
  }
  const seconds = Math.max(0.001, Math.round(Date.now() - started) / 1000);
  const done = await qg.commit(hold.reservationId, { quantity: seconds });
  const counters = Object.fromEntries(done.counters.map((c) => [c.groupId, { used: c.used, reserved: c.reserved }]));
  return { allowed: true, extensions, counters };
}

await runIfMain(import.meta, main);
