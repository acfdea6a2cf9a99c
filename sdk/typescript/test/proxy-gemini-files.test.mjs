// Gemini's Files API and batches of a file's requests through the gateway, with Google's own
// Node client (`@google/genai`, built by `qg.gemini`) against the provider simulator, as
// sdk/python/tests/test_proxy_gemini_files.py does with `google-genai`: a resumable upload
// started with the gateway's key and sent in chunks to the gateway's own URL for it, a JSONL
// file's lines priced as they pass (a line across two chunks too), a file that is its
// uploader's alone, and a batch of its requests held at their worst case at the batch's model
// and settled from its results file.
//
// The Node client sends a file in chunks of 8 MiB (`MAX_CHUNK_SIZE`, a constant of its module
// that no caller can set, unlike the Python client's `CHUNK_SIZE`), so the files that go in two
// chunks here are a little over 8 MiB: one line padded with spaces (JSON's whitespace, inside the
// line's object) so that the first chunk ends in the middle of its request. The Python test
// covers many small chunks, every line across them.
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { ApiError, FileState, GoogleGenAI, JobState } from "@google/genai";
import { createClient } from "quota-gateway";
import { freshUser, putPlan } from "./harness.mjs";
import { counter, ledger, PROVIDER_KEY, useProxyGateway } from "./proxy-fixture.mjs";

const FLASH = "gemini-2.5-flash";
const USER_PREFIX = "gf";
// The Node client's chunk, in bytes.
const CHUNK = 8 << 20;
// Where the simulator takes an upload: its start and its chunks.
const UPLOAD = "/upload/v1beta/files";
// Reads of a batch before it is seen SUCCEEDED (it answers `reads=2`'s at the second), at most.
const MAX_READS = 10;
// Polls of a user's counter while a hold settles.
const POLLS = 200;
const POLL_MS = 50;

let sim;
const env = useProxyGateway((started) => {
  sim = started;
});

let qg;
const downloads = mkdtempSync(join(tmpdir(), "qg-sdk-gemini-files-"));
after(() => rmSync(downloads, { recursive: true, force: true }));

/** A new user on a plan of one group `g` (tokens) that every event matches, by its quantity. */
async function userOn(quota = 1_000_000) {
  qg ??= createClient({ baseUrl: env.baseUrl, apiKey: env.secret });
  const userId = freshUser(USER_PREFIX);
  await putPlan({
    id: `plan_${userId}`, periodType: "month",
    groups: [{ id: "g", unit: "tokens", quota, matches: [{ event: "*" }] }],
  });
  await qg.upsertSubscription({ userId, planId: `plan_${userId}` });
  return userId;
}

/** `{used, reserved}` of the user's counter. */
const spent = (userId) => counter(qg, userId, "g");

/** `{used, reserved}` once nothing is held (at most POLLS reads). */
async function settled(userId) {
  let now = await spent(userId);
  for (let i = 0; i < POLLS && now.reserved !== 0; i++) {
    await new Promise((r) => setTimeout(r, POLL_MS));
    now = await spent(userId);
  }
  return now;
}

const hello = (words, maxTokens) => ({
  contents: [{ role: "user", parts: [{ text: words }] }],
  ...(maxTokens === undefined ? {} : { generationConfig: { maxOutputTokens: maxTokens } }),
});

const REQUESTS = [hello("Say hello to the quota gateway", 10), hello("Say hi", 5), hello("Tell a short story")];
const JSONL = { mimeType: "jsonl", displayName: "requests" };

/**
 * A JSONL file of `requests`, a `{"key", "request"}` line each (keys r0, r1, ...), as text. With
 * `across`, that line is padded with spaces before its request so that the client's first chunk
 * ends halfway through the request: the file goes in two chunks, the line in both.
 */
function jsonl(requests, across) {
  const lines = requests.map((request, i) => `{"key":"r${i}","request":${JSON.stringify(request)}}`);
  if (across !== undefined) {
    const before = lines.slice(0, across).reduce((n, line) => n + Buffer.byteLength(line) + 1, 0);
    const head = `{"key":"r${across}",`;
    const request = `"request":${JSON.stringify(requests[across])}}`;
    const pad = CHUNK - before - head.length - Math.floor(request.length / 2);
    assert.ok(pad > 0);
    lines[across] = head + " ".repeat(pad) + request;
  }
  return `${lines.join("\n")}\n`;
}

/** The names `files.list` answers, every page. */
async function names(client) {
  const found = [];
  for await (const file of await client.files.list()) found.push(file.name);
  return found;
}

/** The error a call the gateway should refuse rejects with. */
const refusal = (promise) => promise.then((ok) => assert.fail(`allowed: ${JSON.stringify(ok)}`), (err) => err);

/** What the provider was sent to its upload URL, in order: each request's command, offset and bytes. */
async function uploadsSeen() {
  const stats = await sim.stats();
  return stats.requests.filter((r) => r.path === UPLOAD).map((r) => ({
    command: r.headers["x-goog-upload-command"], offset: r.headers["x-goog-upload-offset"], key: r.headers["x-goog-api-key"],
    length: r.headers["content-length"], raw: r.raw,
  }));
}

/** A fetch that records the URL and headers of each request the client makes. */
function recording() {
  const sent = [];
  const fetching = (url, init) => {
    sent.push({ url: String(url), headers: new Headers(init?.headers) });
    return fetch(url, init);
  };
  return { sent, fetching };
}

test("a file uploaded in two chunks, a line across them, is its uploader's; a batch of it holds what the same requests inlined would and settles from its results file", async () => {
  await sim.reset();
  const user = await userOn();
  const { sent, fetching } = recording();
  const client = qg.gemini(GoogleGenAI, user, { httpOptions: { fetch: fetching } });
  const text = jsonl(REQUESTS, 1);
  assert.ok(text.length > CHUNK && text.length < 2 * CHUNK, String(text.length));

  const uploaded = await client.files.upload({ file: new Blob([text]), config: JSONL });
  assert.match(uploaded.name, /^files\//);
  assert.equal(uploaded.state, FileState.ACTIVE);
  assert.deepEqual([uploaded.sizeBytes, uploaded.mimeType, uploaded.displayName], [String(text.length), "jsonl", "requests"]);

  // The client sent its chunks to the gateway's own URL for the upload (with the key the client
  // always sends, which the URL makes needless); the provider's URL it never saw.
  const chunks = sent.filter((s) => /^upload/.test(s.headers.get("x-goog-upload-command") ?? ""));
  assert.equal(chunks.length, 2, JSON.stringify(sent.map((s) => s.url)));
  for (const { url, headers } of chunks) {
    assert.equal(headers.get("x-goog-api-key"), env.secret);
    const at = new URL(url);
    assert.equal(`${at.origin}${at.pathname}`, `${env.baseUrl}/proxy/gemini/upload/v1beta/files`);
    assert.match(at.searchParams.get("upload_id"), /^sdk\.[0-9a-f]+$/);
  }
  // The provider had the start with its own key, then the two chunks with none, at their offsets,
  // the file's bytes whole between them.
  const seen = await uploadsSeen();
  assert.deepEqual(seen.map((s) => [s.command, s.offset, s.key]), [
    ["start", undefined, PROVIDER_KEY], ["upload", "0", undefined], ["upload, finalize", String(CHUNK), undefined],
  ]);
  assert.equal(seen[1].raw.length, CHUNK);
  assert.ok(seen[1].raw + seen[2].raw === text, "the provider has the file as it was sent");
  const headers = (await sim.stats()).requests.map((r) => JSON.stringify(r.headers));
  assert.ok(!headers.some((h) => h.includes(env.secret) || h.includes("x-quota-")), "the caller's key and quota headers never reach the provider");

  // The file is the uploader's: read and listed for them, for nobody else.
  assert.equal((await client.files.get({ name: uploaded.name })).name, uploaded.name);
  assert.deepEqual(await names(client), [uploaded.name]);
  const stranger = qg.gemini(GoogleGenAI, freshUser(USER_PREFIX));
  const other = await refusal(stranger.files.get({ name: uploaded.name }));
  assert.ok(other instanceof ApiError, String(other));
  assert.equal(other.status, 403);
  assert.deepEqual(await names(stranger), []);
  const theirBatch = await refusal(stranger.batches.create({ model: FLASH, src: uploaded.name }));
  // Nor can they batch it: it is no file of theirs, and the provider never asked.
  assert.ok(theirBatch instanceof ApiError, String(theirBatch));
  assert.equal(theirBatch.status, 400);
  assert.match(theirBatch.message, /fileName: is not a file this user uploaded/);

  // Its batch is held at what the same requests inlined are held at (another user's, posted as
  // they are), the unnamed maximum at the model's own.
  const inlinedUser = await userOn();
  const inlined = { batch: { inputConfig: { requests: { requests: REQUESTS.map((request) => ({ request })) } } } };
  const made = await fetch(`${env.baseUrl}/proxy/gemini/v1beta/models/${FLASH}:batchGenerateContent`, {
    method: "POST",
    headers: { "content-type": "application/json", "x-goog-api-key": env.secret, "X-Quota-User": inlinedUser },
    body: JSON.stringify(inlined),
  });
  const madeText = await made.text();
  assert.equal(made.status, 200, madeText);
  const batch = await client.batches.create({
    model: FLASH, src: uploaded.name, config: { httpOptions: { headers: { "x-sim": "reads=2" } } },
  });
  assert.match(batch.name, /^batches\//);
  const [mine, theirs] = [await spent(user), await spent(inlinedUser)];
  assert.ok(mine.reserved > 0, JSON.stringify(mine));
  assert.deepEqual(mine, { used: 0, reserved: theirs.reserved });
  assert.equal(theirs.used, 0);

  // Settled from its results file, which its owner (alone) downloads.
  let now = await client.batches.get({ name: batch.name });
  for (let i = 0; i < MAX_READS && now.state !== JobState.JOB_STATE_SUCCEEDED; i++) {
    assert.ok([JobState.JOB_STATE_PENDING, JobState.JOB_STATE_RUNNING].includes(now.state), String(now.state));
    now = await client.batches.get({ name: batch.name });
  }
  assert.equal(now.state, JobState.JOB_STATE_SUCCEEDED);
  assert.ok(now.dest?.fileName, JSON.stringify(now.dest));
  const resultsPath = join(downloads, "results.jsonl");
  await client.files.download({ file: now.dest.fileName, downloadPath: resultsPath });
  const lines = readFileSync(resultsPath, "utf8").trim().split("\n").map((line) => JSON.parse(line));
  assert.deepEqual(lines.map((line) => line.key), ["r0", "r1", "r2"]);
  const billed = lines.reduce((n, line) => n + line.response.usageMetadata.totalTokenCount, 0);
  assert.ok(billed > 0 && billed <= mine.reserved, `${billed} of ${mine.reserved}`);
  assert.deepEqual(await settled(user), { used: billed, reserved: 0 });
  const commits = await ledger(qg, user, "commit");
  assert.equal(commits.length, 1, JSON.stringify(commits));
  assert.deepEqual([commits[0].event, commits[0].quantity, commits[0].metadata?.job_kind], ["gemini.batches", billed, "gemini_batch"]);
  const strangerPath = join(downloads, "stranger.jsonl");
  const theirDownload = await refusal(stranger.files.download({ file: now.dest.fileName, downloadPath: strangerPath }));
  assert.ok(theirDownload instanceof ApiError && theirDownload.status === 403, String(theirDownload));
  assert.ok(!existsSync(strangerPath));

  // Deleted, it leaves its owner's list; the results file stays.
  await client.files.delete({ name: uploaded.name });
  assert.deepEqual(await names(client), [now.dest.fileName]);
  const gone = await refusal(client.files.get({ name: uploaded.name }));
  assert.ok(gone instanceof ApiError && gone.status === 403, String(gone));
  // The provider had two batches: the inlined one and the owner's, never the stranger's.
  const batches = (await sim.stats()).requests.filter((r) => r.path.endsWith(":batchGenerateContent"));
  assert.equal(batches.length, 2, JSON.stringify(batches.map((r) => r.path)));
});

test("a line the gateway cannot price refuses the upload, in the chunk it is in, and the provider never has the file", async () => {
  await sim.reset();
  const user = await userOn();
  const client = qg.gemini(GoogleGenAI, user);
  // Line 1 runs across the first chunk's end; line 2, in the second chunk, is no request.
  const bad = [hello("fine", 5), { contents: "not a list", generationConfig: { maxOutputTokens: -1 } }, hello("fine")];
  const text = jsonl(bad, 0);
  assert.ok(text.length > CHUNK && text.length < 2 * CHUNK, String(text.length));
  const refused = await refusal(client.files.upload({ file: new Blob([text]), config: JSONL }));
  assert.ok(refused instanceof ApiError, String(refused));
  assert.equal(refused.status, 400);
  assert.match(refused.message, /line 2\b/);
  // The first chunk (line 1's first part) went on whole; the second, the last, with line 2, was
  // broken off before its bytes: the provider was sent its headers (the gateway streams a chunk
  // as it reads it) but never its body, so never the finalize chunk, nor line 2. (The simulator,
  // reading a body by its Content-Length, records even a request cut short: a finalize it saw
  // must have fewer bytes than it declared.)
  const seen = await uploadsSeen();
  assert.deepEqual(seen.slice(0, 2).map((s) => [s.command, s.offset]), [["start", undefined], ["upload", "0"]]);
  assert.ok(seen[1].raw === text.slice(0, CHUNK), "the first chunk went on whole");
  const finals = seen.filter((s) => (s.command ?? "").includes("finalize"));
  for (const final of finals) {
    assert.ok(final.raw.length < Number(final.length), `a finalize of ${final.raw.length} of its ${final.length} bytes reached the provider`);
  }
  assert.ok(!seen.some((s) => s.raw.includes("not a list")), "line 2 never reached the provider");
  assert.deepEqual(await names(client), []);
  assert.deepEqual(await spent(user), { used: 0, reserved: 0 });
});

test("any other file passes through whole, a batch of it is refused naming fileName, and a chunk without its session is refused", async () => {
  await sim.reset();
  const user = await userOn();
  const client = qg.gemini(GoogleGenAI, user);
  const bytes = Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47]), Buffer.alloc(5000)]);
  const picture = await client.files.upload({ file: new Blob([bytes]), config: { mimeType: "image/png" } });
  assert.deepEqual([picture.sizeBytes, picture.mimeType], ["5004", "image/png"]);
  const seen = await uploadsSeen();
  assert.deepEqual(seen.map((s) => [s.command, s.offset]), [["start", undefined], ["upload, finalize", "0"]]);
  assert.ok(Buffer.from(seen[1].raw, "latin1").equals(bytes), "the provider has the picture as it was sent");
  assert.deepEqual(await names(client), [picture.name]);

  // A batch of a file that is not a batch's requests is refused, naming the field.
  const refused = await refusal(client.batches.create({ model: FLASH, src: picture.name }));
  assert.ok(refused instanceof ApiError, String(refused));
  assert.equal(refused.status, 400);
  assert.match(refused.message, /fileName/);

  // The gateway's upload URL is the session: one it never made is refused, naming it.
  const answer = await fetch(`${env.baseUrl}/proxy/gemini/upload/v1beta/files?upload_id=sdk.00ff`, {
    method: "POST", headers: { "X-Goog-Upload-Command": "upload, finalize", "X-Goog-Upload-Offset": "0" }, body: "x",
  });
  const said = await answer.text();
  assert.equal(answer.status, 400, said);
  assert.match(said, /upload_id/);
  assert.deepEqual(await spent(user), { used: 0, reserved: 0 });
  assert.equal((await sim.stats()).requests.filter((r) => r.path.startsWith("/v1beta/models/")).length, 0, "no batch reached the provider");
});
