// Async jobs through the gateway's proxy with the official `openai` client, against the provider
// simulator: a batch file uploaded, a batch created and held at its lines' worst case (the SDK's
// `usage()` lists it in `jobs`), settled once from the batch's reported usage when a read sees it
// completed, and read only by its owner (another user's key gets the provider's 404); a video
// held at its seconds until a read sees it completed.
import assert from "node:assert/strict";
import { test } from "node:test";
import OpenAI, { toFile } from "openai";
import { createClient, openaiForUserKey, PROXY_CODES } from "quota-gateway";
import { freshUser, putPlan } from "./harness.mjs";
import { counter, useProxyGateway } from "./proxy-fixture.mjs";

const MODEL = "gpt-4o-mini";
const DAY_MS = 24 * 3600 * 1000;

let sim;
const env = useProxyGateway((started) => {
  sim = started;
});

let qg;
let plan;

/** The client and the plan, made by the first test that asks (see proxy-clients.test.mjs). */
function ready() {
  plan ??= (async () => {
    qg = createClient({ baseUrl: env.baseUrl, apiKey: env.secret });
    await putPlan({
      id: "jobs", periodType: "month", groups: [
        // A batch's tokens, in and out, as the provider reports them.
        { id: "batch", unit: "tokens", quota: 1_000_000, matches: [{ event: "openai.batches" }] },
        // A video's seconds.
        { id: "video_seconds", unit: "count", quota: 1_000, measure: { metadata: "video_seconds" }, matches: [{ event: "openai.videos" }] },
      ],
    });
  })();
  return plan;
}

async function subscribed() {
  await ready();
  const userId = freshUser("job");
  await qg.upsertSubscription({ userId, planId: "jobs" });
  return userId;
}

/** One chat request of a batch file: the simulator counts "say hi" as 2 words + 3 (its message) + 3 (the reply) = 8 input tokens, and answers 5. */
const line = (i) => ({
  custom_id: `req-${i}`, method: "POST", url: "/v1/chat/completions",
  body: { model: MODEL, max_tokens: 20, messages: [{ role: "user", content: "say hi" }] },
});
const LINES = 3;
const jsonl = Array.from({ length: LINES }, (_, i) => `${JSON.stringify(line(i))}\n`).join("");

/** What the job's times say, checked against each other and now. */
function checkTimes(job) {
  const submitted = Date.parse(job.submittedAt);
  const due = Date.parse(job.dueAt);
  const holdEnds = Date.parse(job.holdEndsAt);
  assert.ok(Math.abs(Date.now() - submitted) < 60_000, job.submittedAt);
  assert.ok(holdEnds > due, `the hold outlives the window: ${job.holdEndsAt} after ${job.dueAt}`);
  assert.ok(job.ageSeconds >= 0 && job.ageSeconds < 60, String(job.ageSeconds));
  assert.equal(job.overdue, false);
  return { submitted, due, holdEnds };
}

test("a batch through the proxy: held at its lines' worst case and listed in usage().jobs, settled at its reported usage, read only by its owner", async () => {
  await sim.reset();
  const userId = await subscribed();
  const openai = qg.openai(OpenAI, userId, { maxRetries: 0 });

  const file = await openai.files.create({ file: await toFile(Buffer.from(jsonl), "batch.jsonl"), purpose: "batch" });
  assert.match(file.id, /^file-/);
  assert.deepEqual([file.purpose, file.bytes, file.filename], ["batch", Buffer.byteLength(jsonl), "batch.jsonl"]);
  // An upload is no job: nothing held, nothing open.
  let usage = await qg.usage(userId);
  assert.deepEqual(usage.jobs, []);
  assert.deepEqual(await counter(qg, userId, "batch"), { used: 0, reserved: 0 });

  const batch = await openai.batches.create(
    { input_file_id: file.id, endpoint: "/v1/chat/completions", completion_window: "24h" },
    { headers: { "x-sim": "reads=1" } },
  );
  assert.match(batch.id, /^batch_/);
  assert.equal(batch.status, "validating");

  // The SDK's own usage(): the batch is an open job, its three lines' worst case held.
  usage = await qg.usage(userId);
  assert.equal(usage.jobs.length, 1, JSON.stringify(usage.jobs));
  const [job] = usage.jobs;
  assert.deepEqual(
    [job.id, job.upstream, job.kind, job.model],
    [batch.id, "openai", "batch", MODEL],
  );
  // Each line may answer its max_tokens, 20: 60 output tokens at worst; its input at least
  // what the provider will count (8 a line).
  assert.equal(job.held.output_tokens, LINES * 20, JSON.stringify(job.held));
  assert.ok(job.held.input_tokens >= LINES * 8, JSON.stringify(job.held));
  const worst = job.held.input_tokens + job.held.output_tokens;
  assert.deepEqual(await counter(qg, userId, "batch"), { used: 0, reserved: worst });
  assert.match(job.reservationId, /^r_/);
  const { submitted, due } = checkTimes(job);
  assert.equal(due - submitted, DAY_MS, "the batch's 24h window");
  // The hold is the gateway's reservation of the event `openai.batches`.
  const reservation = await qg.getReservation(job.reservationId);
  assert.deepEqual([reservation.userId, reservation.event, reservation.status], [userId, "openai.batches", "held"]);
  assert.equal(reservation.holds.find((h) => h.groupId === "batch")?.amount, worst, JSON.stringify(reservation.holds));

  // Another user's key (a user key, as a browser holds it) cannot read it: the provider's own
  // 404, and the provider never asked.
  const other = await subscribed();
  const made = await qg.createUserKey(other, { label: "other" });
  const theirs = openaiForUserKey(OpenAI, env.baseUrl, made.key, { maxRetries: 0 });
  const refused = await theirs.batches.retrieve(batch.id).then(() => assert.fail("another user read the batch"), (e) => e);
  assert.ok(refused instanceof OpenAI.NotFoundError, String(refused));
  assert.equal(refused.status, 404);
  assert.match(refused.message, new RegExp(batch.id));
  assert.equal(refused.headers.get("x-quota-code"), "not_found");
  assert.ok(PROXY_CODES.includes(refused.headers.get("x-quota-code")));
  const cancel = await theirs.batches.cancel(batch.id).then(() => assert.fail("another user cancelled the batch"), (e) => e);
  assert.ok(cancel instanceof OpenAI.NotFoundError, String(cancel));
  const theirFile = await theirs.files.retrieve(file.id).then(() => assert.fail("another user read the file"), (e) => e);
  assert.ok(theirFile instanceof OpenAI.NotFoundError, String(theirFile));
  // The same secret key naming the other user is that user too.
  const asOther = qg.openai(OpenAI, other, { maxRetries: 0 });
  assert.ok(await asOther.batches.retrieve(batch.id).then(() => false, (e) => e instanceof OpenAI.NotFoundError));
  let stats = await sim.stats();
  assert.equal(stats.jobs[batch.id].reads, 0, "none of the other user's reads reached the provider");
  assert.equal(stats.jobs[batch.id].status, "validating");
  assert.deepEqual(await counter(qg, userId, "batch"), { used: 0, reserved: worst }, "still held");

  // Its owner reads it: completed (reads=1), each line answered: 8 in and 5 out.
  const done = await openai.batches.retrieve(batch.id);
  assert.equal(done.status, "completed");
  assert.deepEqual(done.request_counts, { total: LINES, completed: LINES, failed: 0 });
  assert.deepEqual(
    [done.usage.input_tokens, done.usage.output_tokens, done.usage.total_tokens],
    [LINES * 8, LINES * 5, LINES * 13],
  );
  stats = await sim.stats();
  assert.deepEqual([stats.jobs[batch.id].reads, stats.jobs[batch.id].status], [1, "completed"]);

  // Settled once from the reported usage: used is its total_tokens, the rest of the hold back,
  // no job open.
  usage = await qg.usage(userId);
  assert.deepEqual(usage.jobs, []);
  assert.deepEqual(await counter(qg, userId, "batch"), { used: done.usage.total_tokens, reserved: 0 });
  assert.equal((await qg.getReservation(job.reservationId)).status, "committed");
  // A second read answers the batch again and settles nothing more.
  assert.equal((await openai.batches.retrieve(batch.id)).status, "completed");
  assert.deepEqual(await counter(qg, userId, "batch"), { used: done.usage.total_tokens, reserved: 0 });
  const { data: entries } = await qg.listUsageEvents({ userId });
  const commits = entries.filter((e) => e.kind === "commit");
  assert.equal(commits.length, 1, JSON.stringify(entries));
  assert.deepEqual(
    [commits[0].event, commits[0].quantity, commits[0].metadata.job_id, commits[0].metadata.job_kind, commits[0].metadata.input_tokens, commits[0].metadata.output_tokens],
    ["openai.batches", LINES * 13, batch.id, "batch", LINES * 8, LINES * 5],
  );
  assert.equal(commits[0].reserved, worst, "the commit names the hold it settled");

  // Its output file: the owner's to read, a line a request; not the other user's.
  const output = await openai.files.content(done.output_file_id);
  const answered = (await output.text()).trim().split("\n").map((l) => JSON.parse(l));
  assert.deepEqual(answered.map((a) => [a.custom_id, a.response.status_code, a.response.body.usage.total_tokens]), [
    ["req-0", 200, 13], ["req-1", 200, 13], ["req-2", 200, 13],
  ]);
  const theirOutput = await theirs.files.content(done.output_file_id).then(() => assert.fail("another user read the output"), (e) => e);
  assert.ok(theirOutput instanceof OpenAI.NotFoundError, String(theirOutput));
  // The other user holds and used nothing.
  assert.deepEqual(await counter(qg, other, "batch"), { used: 0, reserved: 0 });
  assert.deepEqual((await qg.usage(other)).jobs, []);
});

test("a video through the proxy: its seconds held while it renders, counted on video_seconds once a read sees it completed", async () => {
  await sim.reset();
  const userId = await subscribed();
  const openai = qg.openai(OpenAI, userId, { maxRetries: 0 });

  const video = await openai.videos.create(
    { model: "sora-2", prompt: "a cat on a skateboard", seconds: "8", size: "1280x720" },
    { headers: { "x-sim": "reads=2" } },
  );
  assert.match(video.id, /^video_/);
  assert.deepEqual([video.status, video.seconds, video.size, video.model], ["queued", "8", "1280x720", "sora-2"]);

  const usage = await qg.usage(userId);
  assert.equal(usage.jobs.length, 1, JSON.stringify(usage.jobs));
  const [job] = usage.jobs;
  assert.deepEqual([job.id, job.upstream, job.kind, job.model, job.held.video_seconds], [video.id, "openai", "video", "sora-2", 8]);
  assert.match(job.reservationId, /^r_/);
  checkTimes(job);
  assert.deepEqual(await counter(qg, userId, "video_seconds"), { used: 0, reserved: 8 });

  // Read until it is completed: in_progress at the first read (still held), completed at the second.
  const seen = [];
  let now = video;
  for (let i = 0; i < 10 && now.status !== "completed"; i++) {
    now = await openai.videos.retrieve(video.id);
    seen.push([now.status, now.progress]);
    if (now.status !== "completed") {
      assert.deepEqual(await counter(qg, userId, "video_seconds"), { used: 0, reserved: 8 }, "held while it renders");
      assert.equal((await qg.usage(userId)).jobs.length, 1);
    }
  }
  assert.deepEqual(seen, [["in_progress", 50], ["completed", 100]]);
  assert.deepEqual(await counter(qg, userId, "video_seconds"), { used: 8, reserved: 0 });
  assert.deepEqual((await qg.usage(userId)).jobs, []);
  const stats = await sim.stats();
  assert.deepEqual([stats.jobs[video.id].kind, stats.jobs[video.id].status, stats.jobs[video.id].reads], ["video", "completed", 2]);
  const commits = (await qg.listUsageEvents({ userId })).data.filter((e) => e.kind === "commit");
  assert.equal(commits.length, 1);
  assert.deepEqual(
    [commits[0].event, commits[0].metadata.job_id, commits[0].metadata.job_kind, commits[0].metadata.video_seconds],
    ["openai.videos", video.id, "video", 8],
  );
});
