// A consumer of the shipped declarations, compiled (never run) by types.test.mjs with
// TypeScript 4.9 and with the current TypeScript, under strict and exactOptionalPropertyTypes.
// Each @ts-expect-error is a mistake the types must catch: unused, it fails the compile.
import { createClient, GATEWAY_CODES, geminiForUserKey, isBalanceCounter, limitOutput, openaiForUserKey, proxyReservationId, QuotaGatewayError, rateLimitHeaders, verifyWebhook } from "quota-gateway";
import type {
  Approval, ApprovalStatus, Balance, BalanceCounter, BatchPrices, Catalog, CatalogEntry, ClientOptions, Decision, ErrorCode, Fit, Grant, Granted, GrantInput, GrantMade, OverrideInput,
  LongContextPrices, PlanDoc, PlanList, Price, PriceInput, PriceSourceKind, Reason, ReviewEvery, Scope,
  DoneSimulation, JobKind, OpenJob, Outcome, OutcomeAnswer, Page, PerSecond, Run, RunAnswer, RunState, Simulation, SimulationInput, SimulationProgress, Step, StepKind, TrackedStep, UsageAnswer, UserKey, UserKeyMade,
  WebhookEvent,
} from "quota-gateway";

declare const process: { env: Record<string, string | undefined> };

// An environment variable is `string | undefined`, and an option left undefined is allowed.
const options: ClientOptions = {
  apiKey: process.env.QUOTA_GATEWAY_KEY ?? "",
  baseUrl: process.env.QUOTA_GATEWAY_URL,
  failMode: process.env.FAIL_OPEN ? "open" : undefined,
  timeoutMs: undefined,
};
const qg = createClient(options);

export async function render(signal: AbortSignal): Promise<string | null> {
  const d: Decision = await qg.reserve("alice", "image.render", 1, { model: "flux-pro" }, { signal, ttlSeconds: undefined });
  if (d.allowed) {
    const id: string = d.reservationId;
    await qg.commit(id, { quantity: 1, metadata: undefined }, { signal });
    return id;
  }
  // @ts-expect-error a denial has no reservation id
  const none: string = d.reservationId;
  const reason: Reason | undefined = d.reasons[0];
  // @ts-expect-error not a reason the gateway gives
  if (reason === "limit_reachd") return none;
  const headers = rateLimitHeaders(d);
  return headers["Retry-After"] ?? d.deniedBy[0] ?? null;
}

export async function check(): Promise<boolean> {
  const c = await qg.canUse("alice", "image.render");
  // @ts-expect-error canUse holds nothing, so there is no reservation even when allowed
  const id: string = c.reservationId;
  return c.allowed && id === "";
}

export async function withHold(): Promise<number> {
  const r = await qg.withReservation("alice", "llm.tokens", 4000, undefined, async ({ report, signal }) => {
    report({ quantity: 1213 });
    return signal ? 1 : 0;
  });
  return r.allowed ? r.value + r.commit.counters.length : r.decision.reasons.length;
}

export async function attributed(reservationId: string, team: string, member: string): Promise<string[]> {
  const view = await qg.getReservation(reservationId);
  const model: string | number | boolean | null | undefined = view.metadata?.model;
  // @ts-expect-error metadata holds scalar values, never objects
  const nested: { deep: string } | undefined = view.metadata?.model;
  const page = await qg.listUsageEvents({ userId: team, memberId: member, cursor: undefined });
  const quantity: number | null | undefined = view.quantity;
  // Every entry says whether it changed usage; only those are summed.
  const counted = page.data.filter((e) => e.changesUsage).flatMap((e) => e.groups.map((g) => g.amount));
  // @ts-expect-error the flag is a boolean, never absent
  const maybe: undefined = page.data[0]?.changesUsage;
  return page.data.map((e) => `${e.memberId ?? e.userId} ${e.keyId ?? "?"} ${String(e.metadata?.model ?? model)} ${quantity ?? 0} ${String(nested)} ${counted.length} ${String(maybe)}`);
}

export async function credits(sessionId: string, expiresAt: Date | undefined): Promise<number> {
  const input: GrantInput = { balance: "credits", amount: 500, source: "purchase", costBasis: 2, metadata: { session: sessionId }, expiresAt, priority: undefined };
  const made: GrantMade = await qg.grant("alice", input, { idempotencyKey: sessionId });
  // @ts-expect-error not a status of a grant
  if (made.status === "spent") return 0;
  // @ts-expect-error a grant is paid or promotional
  const gift: GrantInput = { balance: "credits", amount: 1, category: "gift" };
  const { data: grants, nextCursor } = await qg.listGrants("alice", { balance: undefined });
  const voided: Grant = await qg.voidGrant("alice", made.grantId);
  const { data: balances } = await qg.balances("alice");
  const first: Balance | undefined = balances[0];
  const d = await qg.reserve("alice", "image.render", 1, { model: "flux-pro" });
  const counter: BalanceCounter | undefined = d.counters.find(isBalanceCounter);
  const debt: number = counter ? counter.debt + (counter.soonestExpiry?.amount ?? 0) : 0;
  // @ts-expect-error a counter that may not be a balance group's may have no debt
  const unknown: number = d.counters[0].debt;
  const short = d.reasons.includes("insufficient_balance") || d.denials.some((x) => x.reason === "insufficient_balance");
  // @ts-expect-error not a reason the gateway gives
  if (d.denials[0]?.reason === "insufficent_balance") return unknown;
  const more: string | null = nextCursor;
  return (more === null ? 0 : 1) + made.debtPaid + grants.length + voided.voided + (first?.available ?? 0) + debt + (short ? 1 : 0) + gift.amount;
}

export async function approvals(userId: string, until: Date | undefined): Promise<string[]> {
  const d = await qg.reserve(userId, "campaign.launch");
  const pending = d.denials.find((x) => x.reason === "approval_pending")?.approvalId ?? null;
  const perValue: string | null | undefined = d.counters[0]?.value;
  if (d.reasons.includes("too_many_values") || !pending) return [String(perValue)];
  const { data: approvals, nextCursor } = await qg.listApprovals({ status: "pending", userId, cursor: undefined, limit: undefined });
  // @ts-expect-error not a status of a request
  await qg.listApprovals({ status: "open" });
  const approved: Approval = await qg.approve(pending, { quota: 8000, expiresAt: until });
  const status: ApprovalStatus = (await qg.getApproval(pending)).status;
  // A per-value group's value, else null: present on every request.
  const value: string | null = approved.value;
  // Whom to ask, and how often they look: null when the plan names no one.
  const ask: string = `${approved.owner ?? "nobody"} ${approved.planId ?? ""}`;
  const review: ReviewEvery | null = approved.reviewEvery;
  // @ts-expect-error not how often a budget is reviewed
  if (approved.reviewEvery === "fortnight") return [ask];
  // @ts-expect-error a decline needs a reason
  await qg.decline(pending, {});
  return [...approvals.map((a) => a.approvalId), nextCursor ?? "", approved.status, status, value ?? "", ask, review ?? ""];
}

export async function plans(userId: string, quota: number | null): Promise<number[]> {
  // A plan document as the gateway takes it; its id names where it is stored.
  const plan: PlanDoc & { id: string } = { id: "plan_pro", periodType: "month", groups: [{ id: "renders", unit: "count", quota, matches: [{ event: "image.render" }] }] };
  const stored: PlanDoc = await qg.putPlan(plan, { timeoutMs: undefined });
  await qg.upsertSubscription({ userId, planId: plan.id });
  // @ts-expect-error a plan is stored under its id: a document without one names nowhere
  await qg.putPlan({ groups: [] });
  const all: PlanList = await qg.listPlans();
  await qg.deletePlan((await qg.getPlan(plan.id)).id ?? plan.id);
  // An owner and a review, the plan's and a group's own; an owner's plans, beside the call's options.
  const owned: PlanDoc & { id: string } = { ...plan, owner: "growth-team", reviewEvery: "month",
    groups: [{ id: "launches", unit: "count", quota: 5, mode: "approval", owner: "Dana (marketing)", reviewEvery: "week", matches: [{ event: "campaign.launch" }] }] };
  // @ts-expect-error not how often a budget is reviewed
  await qg.putPlan({ ...owned, reviewEvery: "fortnight" });
  const theirs: PlanList = await qg.listPlans({ owner: process.env.OWNER, timeoutMs: 1000 });
  const every: (ReviewEvery | null | undefined)[] = theirs.data.flatMap((p) => [p.reviewEvery, ...p.groups.map((g) => g.reviewEvery)]);
  // @ts-expect-error an owner is text
  await qg.listPlans({ owner: 7 });
  // A group's own rolling window: at most its quota in any span of `seconds` ending now.
  const burst: PlanDoc & { id: string } = { ...plan, id: "plan_burst",
    groups: [{ id: "burst", unit: "count", quota: 5, period: { type: "rolling", seconds: 2 }, matches: [{ event: "image.render" }] }] };
  const windows: number[] = (await qg.putPlan(burst)).groups.map((g) => g.period?.seconds ?? 0);
  return [stored.version ?? 0, ...all.data.map((p) => p.groups.length), (await qg.putPlan(owned)).groups.length, every.length, ...windows];
}

export async function overrides(userId: string, until: Date | undefined): Promise<string[]> {
  const one: OverrideInput = { quota: 300, value: "sdxl", expiresAt: until };
  const set = await qg.setOverride(userId, "premium", one, { signal: undefined });
  // An existing caller's options, and a value's removal, read alike.
  await qg.removeOverride(userId, "premium", { timeoutMs: 1000 });
  const removed = await qg.removeOverride(userId, "premium", { value: "sdxl", signal: undefined });
  // @ts-expect-error a value is a string: a number of metadata is sent as written
  await qg.setOverride(userId, "premium", { quota: 1, value: 7 });
  return [...Object.keys(set.overrides), ...Object.keys(removed.overrides)];
}

export async function runs(userId: string, signal: AbortSignal | undefined): Promise<string> {
  const run = await qg.startRun(userId, "agent.task", 1, { task: "t1" }, {
    limits: { steps: 20, attemptsPerAction: 3, fallbacks: undefined }, ttlSeconds: undefined, parentRunId: undefined, signal,
  });
  if (!run.allowed) {
    // @ts-expect-error a denied start has no run
    const none: string = run.runId;
    const reason: Reason | undefined = run.reasons[0];
    return `${none} ${reason ?? ""}`;
  }
  const step: Step = await run.reserve("llm.tokens", 4000, { model: "gpt-4o" }, { actionId: "summarize", kind: "retry", ttlSeconds: undefined });
  // @ts-expect-error not a kind of step
  await run.reserve("llm.tokens", 1, undefined, { kind: "second" });
  const left: number | undefined = step.run?.remaining["g"];
  if (step.allowed) await qg.commit(step.reservationId, { quantity: 1200 });
  else if (step.reasons.includes("run_budget_exhausted") || step.reasons[0] === "action_attempts_exhausted") return "out";
  // @ts-expect-error not a reason the gateway gives
  if (step.reasons[0] === "run_exhausted") return "";
  const tracked: TrackedStep = await run.track("tool.call", 1, undefined, { actionId: "search" });
  const child = await run.startChild("agent.subtask", 1, undefined, { limits: { steps: 5 } });
  // @ts-expect-error a child's parent is the run it is started from
  await run.startChild("agent.subtask", 1, undefined, { parentRunId: "other" });
  const view: RunAnswer = await run.close();
  const state: RunState = view.state;
  // @ts-expect-error not a state of a run
  if (view.state === "ended") return "";
  const done = await qg.withRun(userId, "agent.task", 1, undefined, async (r: Run) => r.id, { signal });
  const listed: Page<RunAnswer> = await qg.listRuns(userId);
  const runs = listed.data;
  const ledger = await qg.listUsageEvents({ userId });
  const kind: StepKind | null | undefined = ledger.data[0]?.stepKind;
  // @ts-expect-error not a kind of step
  if (ledger.data[0]?.stepKind === "second") return "";
  return [kind, left, tracked.run?.steps, child.allowed ? child.id : child.reasons[0], state, runs.length,
    done.allowed ? done.value + done.run.state : done.decision.reasons[0], ledger.data[0]?.runId].join();
}

export async function lab(from: Date | undefined): Promise<number> {
  const input: SimulationInput = {
    candidate: { id: "plan_free_3", periodType: "lifetime", groups: [{ id: "images", unit: "count", quota: 3, matches: [{ event: "image.render" }] }] },
    cohort: { planId: "plan_free" }, from, to: undefined,
  };
  const seen: SimulationProgress[] = [];
  const done: DoneSimulation = await qg.simulate(input, { pollMs: undefined, onProgress: (p) => seen.push(p), signal: undefined });
  // @ts-expect-error simulate answers a simulation that is done
  if (done.status === "finished") return 0;
  const started = await qg.startSimulation({ candidate: { planId: "plan_free" }, cohort: { userIds: ["alice"] } }, { timeoutMs: 1000 });
  // @ts-expect-error a cohort is a plan's users or named users
  await qg.startSimulation({ candidate: { planId: "plan_free" }, cohort: { plan: "plan_free" } });
  const csv: string = await qg.simulationCsv(started.id);
  const users: number = (await qg.simulation(started.id)).progress.usersDone;
  const read: Simulation = await qg.simulation(started.id);
  // @ts-expect-error a simulation read may have no report yet
  const none: number = read.report.fidelity;
  return done.report.newlyAdmitted.decisions + (done.report.rows[0]?.candidate.crossed.length ?? 0) + csv.length + users + seen.length + none;
}

export async function prices(userId: string, fit: Fit | undefined): Promise<string> {
  const catalog: Catalog = await qg.catalog();
  const entry: CatalogEntry | undefined = catalog.models.find((m) => m.model === "gpt-4.1");
  const cached: number | null | undefined = entry?.cachedInputPerMillion;
  // @ts-expect-error not a provider of the catalog
  if (entry?.provider === "azure") return "";
  const input: PriceInput = { inputPerMillion: 1.5, outputPerMillion: 6, cachedInputPerMillion: undefined, perImage: { "hd/1024x1024": 0.08 } };
  const set: Price = await qg.setPrice("acme/tuned", input, { timeoutMs: undefined });
  // @ts-expect-error a price needs its output's
  await qg.setPrice("acme/tuned", { inputPerMillion: 1 });
  const tier: LongContextPrices = { overInputTokens: 200000, inputPerMillion: 2.5, outputPerMillion: 15 };
  const tiered: Price = await qg.setPrice("acme/tuned", { ...input, longContext: tier, batch: { inputPerMillion: 0.75, outputPerMillion: 3 } });
  const over: number | undefined = tiered.longContext?.overInputTokens;
  const batch: BatchPrices | null | undefined = entry?.batch;
  // @ts-expect-error a tier needs its threshold
  await qg.setPrice("acme/tuned", { ...input, longContext: { inputPerMillion: 2.5, outputPerMillion: 15 } });
  const compared: number | undefined = set.catalog?.inputPerMillion;
  // A video model's price per second by its size, or one price.
  const video: Price = await qg.setPrice("acme/video", { inputPerMillion: 0, outputPerMillion: 0, perSecond: { "1280x720": 0.3 } });
  const perSecond: PerSecond | null | undefined = video.perSecond ?? video.catalog?.perSecond ?? entry?.perSecond;
  const at720: number | undefined = typeof perSecond === "number" ? perSecond : perSecond?.["1280x720"];
  // @ts-expect-error a price per second by size is a number by size
  await qg.setPrice("acme/video", { inputPerMillion: 0, outputPerMillion: 0, perSecond: { "1280x720": "0.3" } });
  const { data, nextCursor } = await qg.prices();
  await qg.deletePrice((await qg.price("acme/tuned")).model);
  const d = await qg.reserve(userId, "llm.chat", 1, { model: "gpt-4.1", output_tokens: 4000 }, { fit, minFit: undefined, ttlSeconds: 30 });
  // @ts-expect-error not a way to fit
  await qg.reserve(userId, "llm.chat", 1, undefined, { fit: "shrink" });
  const unpriced = d.denials.find((x) => x.reason === "unpriced_model")?.model;
  const granted: Granted | null = d.granted;
  const most: number | null = d.allowed && d.granted ? d.granted.outputTokens : null;
  const request = limitOutput(d, { model: "gpt-4.1", max_completion_tokens: 4000, messages: [] as { role: "user"; content: string }[] });
  const asked: number = request.max_completion_tokens;
  // @ts-expect-error not a field that bounds a provider's output
  limitOutput(d, { max_tokens: 1 }, "maxTokens");
  const check = await qg.canUse(userId, "render", 10, undefined, { fit: "clamp", minFit: 5 });
  const done = await qg.withReservation(userId, "llm.chat", 1, { model: "gpt-4.1", output_tokens: 4000 }, async ({ granted: g, limitOutput: limit }) => {
    const lowered = limit({ model: "gpt-4.1", max_tokens: 4000 }, "max_tokens");
    return (g?.quantity ?? 0) + lowered.max_tokens;
  }, { fit: "clamp" });
  const page = await qg.listUsageEvents({ userId });
  const source: PriceSourceKind | undefined = page.data[0]?.groups[0]?.price?.source;
  // @ts-expect-error not where a price comes from
  if (page.data[0]?.groups[0]?.price?.source === "project") return "";
  const version: string | null | undefined = page.data[0]?.groups[0]?.price?.catalogVersion;
  // The instant the call was decided at, which chose its windows.
  const decided: string | null | undefined = page.data[0]?.decidedAt;
  return [catalog.version, cached, compared, data.length, nextCursor, unpriced, granted?.quantity, most, asked, check.granted?.quantity,
    done.allowed ? done.value : done.decision.reasons[0], source, version, decided, over, batch?.inputPerMillion, at720].join();
}

export async function outcomes(userId: string, said: Outcome | undefined, response: { headers: Headers }): Promise<string> {
  const d = await qg.reserve(userId, "image.render", 10);
  if (!d.allowed) return "";
  await qg.commit(d.reservationId, { quantity: 10, outcome: said });
  // The app's own word, beside the three the gateway names.
  const later: OutcomeAnswer = await qg.setOutcome(d.reservationId, "kept_as_wallpaper", { timeoutMs: undefined });
  const previous: string | null = later.previous;
  // @ts-expect-error an outcome is a word
  await qg.setOutcome(d.reservationId, 1);
  await qg.track(userId, "image.render", 10, undefined, { outcome: "rejected", idempotencyKey: undefined });
  const held = await qg.withReservation(userId, "image.render", 10, undefined, ({ report }) => report({ outcome: "failed" }));
  const run = await qg.withRun(userId, "agent.task", 1, undefined, async () => 3, { outcome: (n) => (n > 2 ? "accepted" : undefined) });
  // @ts-expect-error the outcome is decided from what fn answered: a number here
  await qg.withRun(userId, "agent.task", 1, undefined, async () => 3, { outcome: (n: string) => n });
  const started = await qg.startRun(userId, "agent.task");
  if (started.allowed) await started.close({ outcome: "rejected", timeoutMs: 1000 });
  const usage: UsageAnswer = await qg.usage(userId);
  const counter = usage.counters[0];
  // The user's open async jobs through the proxy, each holding its worst case in the proxy's counts.
  const job: OpenJob | undefined = usage.jobs[0];
  const kind: JobKind | undefined = job?.kind;
  // @ts-expect-error not a kind of job the gateway holds
  if (job?.kind === "fine_tune") return "";
  const heldSeconds: number | undefined = job?.held["video_seconds"];
  const overdue: boolean | undefined = job?.overdue;
  const since: number | undefined = job ? Date.parse(job.submittedAt) + job.ageSeconds : undefined;
  const accepted: number | undefined = counter?.outcomes?.["accepted"];
  const cost: number | null | undefined = counter?.costPerAccepted;
  const day = (await qg.dailyUsage(userId)).days[0]?.groups[0];
  const entry = (await qg.listUsageEvents({ userId })).data.find((e) => e.kind === "outcome");
  const replaced: string | null | undefined = entry?.previousOutcome;
  const id: string | null = proxyReservationId(response) ?? proxyReservationId(response.headers) ?? proxyReservationId({ "x-quota-reservation": "r_1" });
  return [previous, held.allowed, run.allowed, accepted, cost, day?.outcomes?.["rejected"], day?.costPerAccepted, entry?.outcome, replaced, id,
    job?.reservationId, kind, heldSeconds, overdue, since, job?.dueAt, job?.holdEndsAt, job?.upstream, job?.model, job?.id].join();
}

export function code(err: unknown): ErrorCode | null {
  if (!(err instanceof QuotaGatewayError)) return null;
  if (err.code === "reservation_not_found" || err.code === "aborted" || err.code === "http_500") return err.code;
  if (err.code === "grant_limit" || err.code === "grant_not_found") return err.code;
  if (err.code === "approval_decided" || err.code === "approval_not_found") return err.code;
  if (err.code === "run_not_found" || err.code === "reservation_not_committed") return err.code;
  if (err.code === "price_not_found" || err.code === "price_limit" || err.code === "unpriced_model") return err.code;
  if (err.code === "simulation_bound" || err.code === "simulation_failed" || err.code === "simulation_timeout") return err.field === "range" ? err.code : null;
  // @ts-expect-error not a code of the gateway or the client
  if (err.code === "reservation_gone") return null;
  return err.unavailable ? "backend_unavailable" : GATEWAY_CODES[0];
}

/** Node's IncomingHttpHeaders, as node:http and Express give them. */
interface IncomingHttpHeaders {
  [header: string]: string | string[] | undefined;
  "content-type"?: string | undefined;
  "set-cookie"?: string[] | undefined;
}

export async function hook(headers: IncomingHttpHeaders, body: string): Promise<string> {
  const event: WebhookEvent = await verifyWebhook(process.env.QG_WEBHOOK_SECRET ?? "", headers, body);
  switch (event.type) {
    case "quota.threshold_crossed": {
      // Every quota, balance and approval event names its owner and what it is about.
      const scope: Scope = event.data.scope;
      const owner: string | null = event.data.owner;
      const value: string | undefined = scope.value;
      return `${scope.subject} passed ${event.data.threshold >= 80 ? "most" : "some"} of ${event.data.quota} (${owner ?? "no owner"}, ${value ?? ""} ${scope.resetsAt ?? "never"})`;
    }
    case "quota.limit_reached":
      return `${event.data.groupId}${event.data.value ? ` (${event.data.value})` : ""}`;
    case "credits.low_balance":
      return `${event.data.balance}: ${event.data.available} left, under ${event.data.threshold}, ${event.data.reviewEvery ?? ""} ${event.data.scope.groupId}`;
    case "credits.depleted": {
      const zero: 0 = event.data.threshold;
      return `${event.data.userId} ran out of ${event.data.balance} (${zero})`;
    }
    case "quota.approval_requested":
      return `${event.data.approvalId} ${event.data.event}${event.data.value ? ` (${event.data.value})` : ""} ${event.data.amount} of ${event.data.quota} ${event.data.status}`;
    case "quota.approval_decided": {
      // @ts-expect-error a decided request is never pending
      const pending: "pending" = event.data.status;
      return `${event.data.status} ${event.data.approvedQuota ?? event.data.reason ?? ""} ${String(pending)}`;
    }
    case "webhook.test":
      return event.data.webhookId;
  }
}

/** A provider's client class as the official SDKs declare theirs (test/types.test.mjs also compiles the real ones). */
declare class ChatClient {
  constructor(options?: {
    apiKey?: string | null | undefined;
    baseURL?: string | null | undefined;
    maxRetries?: number | undefined;
    defaultHeaders?: Record<string, string | null | undefined> | undefined;
    dangerouslyAllowBrowser?: boolean | undefined;
  });
  complete(prompt: string): Promise<string>;
}

/** Google's client class as `@google/genai` declares it: the base URL and headers in `httpOptions`. */
declare class GenAIClient {
  constructor(options: {
    apiKey?: string;
    vertexai?: boolean;
    apiVersion?: string;
    httpOptions?: { baseUrl?: string; headers?: Record<string, string>; timeout?: number };
  });
  generate(prompt: string): Promise<string>;
}

export async function proxied(userId: string): Promise<string> {
  // The answer is an instance of the class passed, its own options typed as the class says.
  const ai: ChatClient = qg.openai(ChatClient, userId, { maxRetries: 0, metadata: { feature: "chat" }, run: undefined, kind: "retry" });
  // @ts-expect-error not an option of the class
  qg.openai(ChatClient, userId, { maxRetrys: 0 });
  // @ts-expect-error the gateway's URL and key are the helper's to set
  qg.anthropic(ChatClient, userId, { baseURL: "https://api.example.com" });
  // @ts-expect-error not a kind of step
  qg.openai(ChatClient, userId, { kind: "retri" });
  const made: UserKeyMade = await qg.createUserKey(userId, { label: "iOS", expiresAt: new Date() });
  const browser: ChatClient = openaiForUserKey(ChatClient, "https://quota.example.com", made.key, { dangerouslyAllowBrowser: true });
  const gemini: GenAIClient = qg.gemini(GenAIClient, userId, { apiVersion: "v1", httpOptions: { timeout: 20_000 }, metadata: { feature: "chat" } });
  // @ts-expect-error the gateway's URL is the helper's to set
  qg.gemini(GenAIClient, userId, { httpOptions: { baseUrl: "https://generativelanguage.googleapis.com" } });
  // @ts-expect-error the key is the gateway's
  geminiForUserKey(GenAIClient, "https://quota.example.com", made.key, { apiKey: "AIza-elsewhere" });
  const device: GenAIClient = geminiForUserKey(GenAIClient, "https://quota.example.com", made.key);
  const listed: UserKey[] = (await qg.listUserKeys(userId)).data;
  // @ts-expect-error a listed key has no secret part
  const secret: string = listed[0]?.key;
  await qg.revokeUserKey(made.id);
  return (await ai.complete("hi")) + (await browser.complete(secret)) + (await gemini.generate("hi")) + (await device.generate("hi")) +
    (listed[0]?.expiresAt ?? "never");
}
