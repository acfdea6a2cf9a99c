// The wire types, by their names in the gateway's OpenAPI document (generated into openapi.ts);
// metadata, which the document calls only an object, is typed as the scalars it holds, and
// fields the document calls a string but whose values are a closed set, as that set.
import type { Reason } from "./codes.js";
import type { components } from "./openapi.js";
import type { StepKind } from "./runs.js";

type Schemas = components["schemas"];

/**
 * One group's counter. A per-value group's (`"per"`) names the metadata value it counts in
 * `value` (one counter per value; in `usage`, `value: null` is the group's "other values"
 * counter, what tracks of values past the period's 64 counted; absent on other groups). A
 * balance group's also has `balance` (its name), `debt` and `soonestExpiry`, with `remaining`
 * what can be spent now and `reserved` what open reservations hold of it; `exceeded` is true
 * while it is in debt (see `BalanceCounter`). In `usage`, `outcomes` counts what the period's
 * outputs came to, per outcome said (`{accepted: 2, rejected: 1}`; absent when none was), and
 * `costPerAccepted` is `used` divided by the accepted ones, in the group's unit (rounded down to
 * 0.001; absent until one was accepted); `fallbackUsed` is what attempts after the first of an
 * original action (a routed proxy call's later targets) committed in the period (absent when none).
 */
export type Counter = Schemas["CounterAnswer"];
/**
 * A group (or a level) that denied: `reason` is `limit_reached`, `insufficient_balance`,
 * `approval_pending`, `too_many_values` or `unpriced_model` for a group; `approvalId` names the
 * pending request of an `approval_pending` denial (`getApproval`), and `model` the model an
 * `unpriced_model` denial found no price for (`setPrice` sets one); each is absent on every other.
 */
export type Denial = Omit<Schemas["DenialAnswer"], "reason"> & { reason: Reason };
export type ReserveAnswer = Schemas["ReserveAnswer"];
/**
 * What a clamped reserve granted (`fit: "clamp"`, or a group's own `fit`), when its hold did not
 * fit whole and took what was left: its `quantity`, and `outputTokens`, the most output to ask
 * the provider for, when the event's metadata named `output_tokens` (else null). Call the
 * provider for no more than this (`limitOutput`).
 */
export type Granted = Omit<Schemas["GrantedAnswer"], "outputTokens"> & { outputTokens: number | null };
/**
 * How a reserve's holds may fit: `clamp`, a hold that does not fit whole takes what is left of
 * its hard group (at least `minFit`) and the decision says what was `granted`; `whole`, it is
 * denied. Left out, each group's own `fit` (`whole` by default).
 */
export type Fit = "clamp" | "whole";
/**
 * What a call's output came to, said by its commit, its track, its run's close or later
 * (`setOutcome`): `accepted`, `rejected`, `failed`, or a word of the app's own
 * (`[a-z0-9_.-]{1,32}`; any other is refused `invalid_request` naming `outcome`). A counter keeps
 * at most 16 distinct words; later new ones count as `other`.
 */
export type Outcome = "accepted" | "rejected" | "failed" | (string & {});
/**
 * `setOutcome`: the outcome now said, and the one it replaced (`previous`; null when none was,
 * equal to `outcome` when it was said already and nothing changed).
 */
export type OutcomeAnswer = Omit<Schemas["OutcomeAnswer"], "previous"> & { previous: string | null };
export type CommitAnswer = Schemas["CommitAnswer"];
export type ReleaseAnswer = Schemas["ReleaseAnswer"];
export type ExtendAnswer = Schemas["ExtendAnswer"];
export type TrackAnswer = Schemas["TrackAnswer"];
/**
 * What kind of async job a user submitted through the proxy: an OpenAI batch (`batch`), an
 * Anthropic message batch (`message_batch`), an OpenAI video (`video`), a Gemini batch
 * (`gemini_batch`), or an open realtime session (`realtime_session`).
 */
export type JobKind = "batch" | "message_batch" | "video" | "gemini_batch" | "realtime_session";
/**
 * An async job (a batch, a message batch, a video) the user submitted through the proxy and the
 * gateway has not settled yet: `id` is the provider's, on `upstream`, of `model`; `held` its
 * worst case as held, in the proxy's counts (`{input_tokens: 120, output_tokens: 40, ...}`,
 * `{video_seconds: 8}`), under the reservation `reservationId`. `dueAt` is when the job's
 * window ends (past it, `overdue`: stuck at the provider), `holdEndsAt` when its hold expires
 * (the gateway settles it before); `ageSeconds` since `submittedAt`.
 */
export type OpenJob = Omit<Schemas["JobAnswer"], "kind" | "held"> & { kind: JobKind; held: Record<string, number> };
/**
 * `usage`: the user's counters in their current periods, the budgets of the parents it shares,
 * and `jobs`, its open async jobs (oldest first; empty when none, and from a gateway that does
 * not list them), each holding its worst case until the provider says it ended.
 */
export type UsageAnswer = Omit<Schemas["UsageAnswer"], "jobs"> & { jobs: OpenJob[] };
export type Subscription = Schemas["SubscriptionAnswer"];
export type AdjustmentAnswer = Schemas["AdjustmentAnswer"];
export type UserToken = Schemas["UserToken"];

/**
 * A user key as listed: `id` (for `revokeUserKey`), its user, `label`, `hint` (its prefix and
 * last four characters), `createdAt`, and `expiresAt` (null: never). Its secret part is
 * answered once, when it is made (`UserKeyMade`).
 */
export type UserKey = Omit<Schemas["UserKeyAnswer"], "key" | "expiresAt"> & { expiresAt: string | null };
/** A user key as `createUserKey` makes it: with `key` (`qg_uk_…`), shown only in this answer. */
export type UserKeyMade = UserKey & { key: string };
export type Problem = Schemas["Problem"];
/**
 * Per UTC day and group: used, reserves admitted and denied, releases, expiries, and as a
 * counter's in `usage`, `outcomes` and `costPerAccepted` (each absent when none was said or
 * accepted that day).
 */
export type DailyUsage = Schemas["DailyUsageAnswer"];
export type Webhook = Schemas["WebhookAnswer"];
export type WebhookDelivery = Schemas["DeliveryAnswer"];

/**
 * One page of a list, the envelope every list of the gateway answers: `data`, and `nextCursor`,
 * where the next page starts (pass it as `cursor`), null on the last page. Lists answered whole
 * (grants, balances, runs, webhooks, deliveries) are one page whose `nextCursor` is null.
 */
export interface Page<T> {
  data: T[];
  nextCursor: string | null;
}

/** A list of the gateway's document as a `Page`: a list that left the envelope would not compile here. */
type Listed<S extends { data: unknown[]; nextCursor?: string | null }, T> = S extends unknown ? Page<T> : never;

/** `listUserKeys`: the user's keys, one page. */
export type UserKeyList = Listed<Schemas["UserKeyList"], UserKey>;
/** `listWebhooks`: every endpoint of the project, one page. */
export type WebhookList = Listed<Schemas["WebhookList"], Webhook>;
/** `listWebhookDeliveries`: the endpoint's newest deliveries, one page. */
export type WebhookDeliveryList = Listed<Schemas["DeliveryList"], WebhookDelivery>;

/** Where an approval request stands: waiting for a person, or decided. */
export type ApprovalStatus = "pending" | "approved" | "declined";

/**
 * An approval request: the denied `event` and `amount`, the counter when it was denied (`used`,
 * `reserved`, `quota`), and its decision: `approvedQuota` and `expiresAt` for an approval,
 * `reason` for a decline, `decidedAt` and `decidedBy` for both. A per-value group (`"per"`)
 * opens one request per value, each decided on its own: `value` names it (null on other
 * groups). A request whose period ended undecided reads `declined`, with the reason "its period
 * ended before a decision", once it is listed or decided.
 */
export type Approval = Omit<Schemas["ApprovalAnswer"], "status" | "value" | "planId" | "owner" | "reviewEvery"> & {
  status: ApprovalStatus;
  value: string | null;
  /**
   * Whom to ask: the user's plan when the request was opened, the group's `owner` then (else
   * the plan's) and how often they review it; each null when not named.
   */
  planId: string | null;
  owner: string | null;
  reviewEvery: ReviewEvery | null;
};

/** A page of approval requests, oldest first: follow `nextCursor` until it is null. */
export type ApprovalList = Listed<Schemas["ApprovalList"], Approval>;

/** The soonest expiry of a balance: how many of its credits expire first, and when. */
export type SoonestExpiry = Schemas["SoonestExpiry"];

/**
 * The counter of a balance group (`isBalanceCounter` tells it apart): `balance` names it,
 * `remaining` is what can be spent now, `reserved` what open reservations hold, `debt` what
 * was burned past the grants (paid by the next grant), `soonestExpiry` the credits that
 * expire first (null when none expire). `exceeded` is true while in debt.
 */
export type BalanceCounter = Counter & { balance: string; debt: number; soonestExpiry: SoonestExpiry | null };

/** `scheduled` (before `effectiveAt`), `active`, `depleted` (nothing remaining), `expired` or `voided`. */
export type GrantStatus = "scheduled" | "active" | "depleted" | "expired" | "voided";

/** `paid` (the default) or `promotional` (burned before paid credits of the same priority and expiry). */
export type GrantCategory = "paid" | "promotional";

/**
 * Credits granted to a balance, with where they went: amount = remaining + held + consumed +
 * expired + voided. `priority` 0 to 100 (lower burns first); `costBasis` in cents per credit.
 */
export type Grant = Omit<Schemas["GrantAnswer"], "status" | "category"> & { status: GrantStatus; category: GrantCategory };

/** A grant as made (or, for a repeated Idempotency-Key, as first made): `debtPaid` is the debt it paid first. */
export type GrantMade = Grant & { debtPaid: number };

/** The user's grants, of every balance or one, in burn order: one page. */
export type GrantList = Listed<Schemas["GrantList"], Grant>;

/** One balance: `available` now, `held` by open reservations, `debt`, `soonestExpiry`, and its grants in burn order. */
export type Balance = Omit<Schemas["BalanceAnswer"], "grants"> & { grants: Grant[] };
/** `GET /v1/balances/summary`: credits over a span, paid and promotional apart. */
export type CreditSummary = Schemas["CreditSummaryAnswer"];

/** Every balance of the user, one page: those its plan's balance groups name, and those it has grants in. */
export type BalanceList = Listed<Schemas["BalanceList"], Balance>;

/**
 * `open` while steps may draw on it; `closed` (by `close`) or `expired` (past its ttl: it closed
 * itself) once ended. `unchecked` is never the gateway's: the client's own answer for the run
 * `""` that `failMode: "open"` started when the gateway gave no answer.
 */
export type RunState = "open" | "closed" | "expired" | "unchecked";

/**
 * A run as the gateway answers it (`getRun`, `listRuns`, `closeRun`): its `limits` as started
 * (null where none), `steps` and `fallbacks` so far, `attempts` per `actionId`, per group its
 * budget and what became of it (`RunGroup`), and the runs carved from it (`children`).
 * `endedAt` is null while it is open; times in RFC 3339.
 */
export type RunAnswer = Omit<Schemas["RunAnswer"], "state"> & { state: RunState };
/** One group a run holds: `remaining = max(0, budget - used - open)`, in the group's unit. */
export type RunGroup = Schemas["RunGroupAnswer"];
/** `listRuns`: the user's runs, newest first, at most 100, one page. */
export type RunList = Listed<Schemas["RunList"], RunAnswer>;
/** `extendRun`: the run's new expiry. */
export type ExtendRunAnswer = Schemas["RunExtendAnswer"];
/** Where a run stands after a step: per group it holds, what is left; steps and fallbacks so far, this one included. */
export type RunProgress = Schemas["StepRunAnswer"];
/** `POST /v1/runs`: a reserve's answer with the run's id (null when denied). */
export type RunStartAnswer = Schemas["RunStartAnswer"];

/** The providers the model catalog lists (`"bedrock"` for Amazon Bedrock's own model ids). */
export type ModelProvider = "openai" | "anthropic" | "google" | "mistral" | "bedrock";

/**
 * One model of the catalog: its prices in USD per million tokens (`cachedInputPerMillion` and
 * `cacheWritePerMillion` null where the input's price applies), `perImage` in USD per image by
 * `"<quality>/<size>"` (null for models not priced by the image), its `contextWindow` and
 * `maxOutputTokens`, the other names it answers to (`aliases`), and where (`source`, a URL) and
 * when (`asOf`, `YYYY-MM-DD`) the prices were read. Audio models carry theirs where priced so:
 * `audioInputPerMillion`, `audioOutputPerMillion`, `perSecond` or `perMinute` (of input audio),
 * `perMillionCharacters` (spoken); video models `perSecond` by the video's size (`{"1280x720": 0.1}`,
 * see `PerSecond`). `longContext` prices a whole call whose input tokens are more than its
 * `overInputTokens` (gemini-2.5-pro's over 200,000), and `batch` the provider's batch API (a
 * batch submitted through the proxy); each absent where the model has none.
 */
export type CatalogEntry = Omit<Schemas["CatalogEntry"], "provider" | "aliases" | "cachedInputPerMillion" | "cacheWritePerMillion" | "perImage" | "perSecond"> & {
  provider: ModelProvider;
  aliases: string[];
  cachedInputPerMillion: number | null;
  cacheWritePerMillion: number | null;
  perImage: Record<string, number> | null;
  perSecond?: PerSecond | null;
};

/** `catalog()`: the catalog the gateway prices by (`version`, the day it was compiled or the loaded file's) and every model in it. */
export type Catalog = Omit<Schemas["CatalogAnswer"], "models"> & { models: CatalogEntry[] };

/**
 * USD per second: one price (of input audio, `audio_seconds`, or of a video of any size), or a
 * video model's by the video's size (`{"1280x720": 0.3, "1024x1792": 0.5}`, `video_seconds`).
 */
export type PerSecond = number | Record<string, number>;

/**
 * A model's prices as written: USD per million input and output tokens (`inputPerMillion`
 * prices cached and cache-write input too unless they are priced apart), per image by
 * `"<quality>/<size>"`, audio's, a video's per second, a long-context tier and batch prices
 * where priced so; at most 6 decimals.
 */
export type PriceDoc = Omit<Schemas["PriceDoc"], "perSecond"> & { perSecond?: PerSecond | null };

/**
 * A long-context tier: a call whose input tokens (cached and cache-write ones included) are more
 * than `overInputTokens` is priced whole at these prices, USD per million tokens, as the
 * providers bill it; a missing cached or cache-write price is the tier's input price.
 */
export type LongContextPrices = Schemas["LongContextDoc"];

/** The provider's batch prices, USD per million input and output tokens: a batch submitted through the proxy is priced by them. */
export type BatchPrices = Schemas["BatchDoc"];

/**
 * A price the project set for a model (`setPrice`), which beats the catalog's: its prices,
 * `updatedAt` (RFC 3339), and `catalog`, what the catalog prices the model at for comparison
 * (null when the catalog does not list it).
 */
export type Price = Omit<Schemas["PriceAnswer"], "catalog" | "perSecond"> & { catalog: PriceDoc | null; perSecond?: PerSecond | null };

/** `prices()`: every price the project set (at most 1,000), by model name, one page. */
export type PriceList = Listed<Schemas["PriceList"], Price>;

/**
 * Where a priced group's amount came from: the project's own price (`override`), the catalog
 * (`catalog`, with its `catalogVersion`), the provider's reported cost (`provider`), or no price
 * at all (`unpriced`, counted at zero by a group whose `unpriced` is `"allow"`).
 */
export type PriceSourceKind = "override" | "catalog" | "provider" | "unpriced";

/** A ledger group's price provenance: its `source`, the `model` priced, and the catalog's version for a catalog price. */
export type PriceSource = Omit<Schemas["PriceSourceAnswer"], "source"> & { source: PriceSourceKind };

/**
 * One group's part of a ledger entry, in the group's unit (negative when an adjustment took
 * usage back). A priced group's (`"measure": {"price": ...}`) says where its price came from
 * (`price`); absent on other groups.
 */
export type UsageGroup = Omit<Schemas["UsageGroupAnswer"], "price"> & { price?: PriceSource };

/** Event metadata: scalar values under keys, as the gateway matches and measures them. */
export type Metadata = Record<string, string | number | boolean | null>;

/**
 * A reservation as `GET /v1/reservations/{id}` answers it: its status and holds, and what it
 * was for: `quantity` (units; null for reservations made before the gateway kept it) and
 * `metadata` (null when the reserve had none).
 */
export type ReservationAnswer = Omit<Schemas["ReservationAnswer"], "metadata"> & { metadata?: Metadata | null };

/**
 * One entry of the usage ledger. `kind` is what it records: usage (`commit`, `late_commit`,
 * `track`, `adjustment`), credits (`grant`, `grant_void`, `grant_expired`, `debt_settled`), a
 * run's end (`run_close`), and, with no usage, a refused reserve (`denied`: the first 100 of a
 * user's UTC day) or a hold's end without a commit (`release`, `expiry`), which the pricing lab
 * replays, and what a committed call's output came to, said after its commit (`outcome`: its
 * groups' amounts are 0); a string, as a newer gateway may add kinds. `outcome` is on the
 * `commit`, `track` and `run_close` entries that said one, and on an `outcome` entry with the
 * `previousOutcome` it replaced (absent when none was); both are absent elsewhere. `keyId`:
 * the id of the API key (or dashboard operator) that made the call, a `grant`'s included; null
 * where no call of a key wrote the entry (`release`, `expiry`, `denied`, the `grant_void`,
 * `grant_expired` and `debt_settled` a later call writes, an expired run's `run_close`) and in
 * entries written before the gateway kept it. `memberId`: in a parent's (team's) ledger, the member whose event
 * it was, the entry having the member's entry's `id`; null in a member's own. A commit's entry
 * says the quantity committed (the reserved one when the commit gave none) and the
 * reservation's metadata, the commit's own merged on top. A run's step's entry (`commit`,
 * `late_commit`, `track`) names its run, its action (null for none) and its `stepKind` (null on
 * other entries); a run's close writes a `run_close` entry, with the credits it burned and no
 * usage of its own (its steps' entries counted it), whose `runId` is null, or the parent run
 * for a child run's close (a step of its parent). A `denied` entry names the groups that denied
 * it (`deniedBy`); an entry that ends a hold (`commit`, `late_commit`, `release`, `expiry`)
 * says when it was reserved (`heldSince`) and what it reserved (`reserved`), an `expiry` also
 * when the hold went back (`heldUntil`); each is absent where it does not apply (and
 * `heldSince`, `reserved` on entries written before the gateway kept them). `decidedAt` is the
 * instant the gateway decided the call at, which chose its windows (a commit's, release's or
 * expiry's: its reserve's); absent on entries that have none, such as those written before the
 * gateway kept it.
 *
 * `changesUsage` is true for the kinds whose `groups` are what the counters counted (`commit`,
 * `late_commit`, `track`, `adjustment`) and false for every other (`grant`, `grant_void`,
 * `grant_expired`, `debt_settled`, `run_close`, `denied`, `release`, `expiry`, `outcome`), whose
 * `quantity` is what was asked or held, or none: sum only the entries where it is true. A
 * priced group's part names the price it was counted at (`groups[].price`).
 */
export type UsageEvent = Omit<Schemas["UsageEventAnswer"], "metadata" | "stepKind" | "groups"> & {
  metadata?: Metadata | null;
  stepKind?: StepKind | null;
  groups: UsageGroup[];
};

/** A page of the ledger: follow `nextCursor` until it is null (a page may be short and still name one). */
export type UsageEventPage = Listed<Schemas["UsageEventPageAnswer"], UsageEvent>;

/** How often a budget's owner reviews it (`reviewEvery` of a plan or a group). */
export type ReviewEvery = "day" | "week" | "month";

/**
 * A group of a plan document. `owner` (free text, 1 to 128 bytes: a team or a person who
 * answers for the budget) and `reviewEvery` are the group's own instead of the plan's; every
 * alert and approval request of the group carries them. `period` is the group's own window
 * instead of the plan's; `{ type: "rolling", seconds: 60 }` (1 to 86,400 seconds, a `count` or
 * `tokens` group, `hard` or `soft`) admits at most the quota in any span of that many seconds
 * ending now, and a denial by it says in `retryAfter` the seconds until enough has rolled out.
 */
export type PlanGroupDoc = Omit<Schemas["GroupDoc"], "reviewEvery"> & { reviewEvery?: ReviewEvery | null };

/**
 * A plan document, as `PUT /v1/plans/{id}` takes it (and a simulation's candidate). Its
 * `owner` and `reviewEvery` apply to each group that names none of its own;
 * `listPlans({ owner })` finds the plans where an owner owns the plan or a group.
 */
export type PlanDoc = Omit<Schemas["PlanDoc"], "reviewEvery" | "groups"> & { reviewEvery?: ReviewEvery | null; groups: PlanGroupDoc[] };
/** `listPlans`: every plan of the project, one page. */
export type PlanList = Listed<Schemas["PlanList"], PlanDoc>;

/** Whose recorded demand a simulation replays: the users on a plan, or named users (1 to 10,000). */
export type SimulationCohort = { planId: string } | { userIds: string[] };

/** `running` until its report is made; `done` with a `report`, or `failed` with an `error`. */
export type SimulationStatus = "running" | "done" | "failed";

/** Users of the cohort and those replayed so far, and the ledger entries read so far. */
export type SimulationProgress = Schemas["SimulationProgress"];

/** Why a simulation failed: the bound it passed (`"wallTime"`: 10 minutes), or null for a failure to read. */
export type SimulationFailure = Schemas["SimulationError"];

/**
 * What one plan did with the cohort's demand: decisions `admitted` and `denied`, `estimated`
 * (denials it admitted, counted at their requested quantity), per threshold (`"50"`, `"80"`,
 * `"100"` % of a group's quota) the users whose peak reached it, credits burned and cents counted.
 */
export type SimulationTotals = Schemas["TotalsAnswer"];

/** What one plan did with one user's demand: `crossed` thresholds, `peakShare` per group (1 is 100 %). */
export type SimulationUserScenario = Schemas["UserScenarioAnswer"];

/** One user of a report: decisions `recorded` and `reproduced` by the baseline, and what the candidate changed. */
export type SimulationUserRow = Schemas["UserRowAnswer"];

/**
 * A simulation's report: `fidelity` (the share of recorded decisions the baseline replay
 * reproduced; 1 when none), the `baseline` (the plans the users are on) and the `candidate`
 * side by side, the decisions and users the candidate `newlyDenied` and `newlyAdmitted`, the
 * differences in credits and cents, the users' peak shares per group (`peakShare`:
 * percentiles), and the per-user `rows`, most affected first.
 */
export type SimulationReport = Schemas["ReportAnswer"];

/**
 * A simulation (`startSimulation`, `simulation`, `simulate`): its `progress` while `running`,
 * then its `report` (`done`) or its `error` (`failed`); kept a day. `candidatePlanId` is the
 * candidate document's id, or `"candidate"` when it had none.
 */
export type Simulation = Omit<Schemas["SimulationAnswer"], "status" | "cohort" | "finishedAt" | "error" | "report"> & {
  status: SimulationStatus;
  cohort: SimulationCohort;
  finishedAt: string | null;
  error: SimulationFailure | null;
  report: SimulationReport | null;
};

/** A simulation that ended with its report, as `simulate` answers it. */
export type DoneSimulation = Simulation & { status: "done"; finishedAt: string; error: null; report: SimulationReport };

/**
 * What an event is about, the same in every quota, balance and approval event: the user
 * (`subject`), the plan (null when the user is on none), the group, a per-value group's `value`
 * (absent on other groups), and the period (both null for a lifetime group and for a balance,
 * whose grants run until they expire).
 */
export interface Scope {
  subject: string;
  planId: string | null;
  groupId: string;
  value?: string;
  periodStart: string | null;
  resetsAt: string | null;
}

/** `data` of a quota event: amounts in units, times in RFC 3339 UTC. */
export interface QuotaEventData {
  projectId: string;
  userId: string;
  planId: string | null;
  groupId: string;
  /** A per-value group's value whose counter it was; absent on other groups. */
  value?: string;
  label: string;
  unit: string;
  /** Percent of the quota; null for `quota.limit_reached`. */
  threshold: number | null;
  quota: number;
  /** Used (open holds for in-flight groups) when it fired. */
  used: number;
  /** Null for lifetime groups. */
  periodStart: string | null;
  resetsAt: string | null;
  /** Who answers for the group (its `owner`, else its plan's, as the plan is now) and how often they review it; null when not named. */
  owner: string | null;
  reviewEvery: ReviewEvery | null;
  scope: Scope;
}

/** `data` of a balance's event (`credits.low_balance`, `credits.depleted`): amounts in credits. */
export interface CreditEventData {
  projectId: string;
  userId: string;
  planId: string | null;
  /** The balance group whose alert it was. */
  groupId: string;
  balance: string;
  /** The `lowBalance` amount reached; 0 for `credits.depleted`. */
  threshold: number;
  /** What could be spent when it fired. */
  available: number;
  /** As on a quota event; the scope's period is null (a balance has none). */
  owner: string | null;
  reviewEvery: ReviewEvery | null;
  scope: Scope;
}

/**
 * `data` of an approval request's events (`quota.approval_requested`, `quota.approval_decided`):
 * the request as `getApproval` answers it, with the project, the plan and the group's label.
 */
export interface ApprovalEventData {
  approvalId: string;
  projectId: string;
  userId: string;
  planId: string | null;
  groupId: string;
  /** A per-value group's value whose request it is (each value has its own); absent on other groups. */
  value?: string;
  label: string;
  status: ApprovalStatus;
  /** The denied event and what it asked of the group. */
  event: string;
  amount: number;
  /** The counter when it was denied. */
  used: number;
  reserved: number;
  quota: number;
  /** Null for lifetime groups. */
  periodStart: string | null;
  resetsAt: string | null;
  requestedAt: string;
  /** Null until decided. */
  decidedAt: string | null;
  /** An approval's new quota and until when it holds; null otherwise. */
  approvedQuota: number | null;
  expiresAt: string | null;
  /** A decline's reason; null otherwise. */
  reason: string | null;
  decidedBy: string | null;
  /** As on a quota event: whom to ask, and how often they look. */
  owner: string | null;
  reviewEvery: ReviewEvery | null;
  scope: Scope;
}

/** A verified webhook delivery's event, told apart by `type`. */
export type WebhookEvent =
  | { type: "quota.threshold_crossed"; timestamp: string; data: QuotaEventData & { threshold: number } }
  | { type: "quota.limit_reached"; timestamp: string; data: QuotaEventData & { threshold: null } }
  | { type: "credits.low_balance"; timestamp: string; data: CreditEventData }
  | { type: "credits.depleted"; timestamp: string; data: CreditEventData & { threshold: 0 } }
  // Not narrowed to "pending": a request decided before its event went out is sent as decided.
  | { type: "quota.approval_requested"; timestamp: string; data: ApprovalEventData }
  | { type: "quota.approval_decided"; timestamp: string; data: ApprovalEventData & { status: "approved" | "declined" } }
  | { type: "webhook.test"; timestamp: string; data: { projectId: string; webhookId: string } };
