// quota-gateway's TypeScript client: zero runtime dependencies, the global fetch, any runtime.
// Types are exported by name (no `export type *`), so TypeScript 4.9 reads the declarations.
export { createClient } from "./client.js";
export type { Actual, CallOptions, CheckOptions, ClientOptions, QuotaGatewayClient, ReservationScope, ReserveOptions, TrackOptions, WithReservation, WriteOptions } from "./client.js";
export { MAX_ALTERNATIVES } from "./alternatives.js";
export type { Alternative, FirstDecision, FirstFit, Passed } from "./alternatives.js";
export type { GrantInput, ListPlansOptions, OverrideInput, RemoveOverrideOptions, SubscriptionInput } from "./admin.js";
export type { ApprovalQuery, ApproveInput } from "./approvals.js";
export { GATEWAY_CODES, PROXY_CODES } from "./codes.js";
export { isBalanceCounter } from "./credits.js";
export type { ClientCode, ErrorCode, GatewayCode, ProxyCode, Reason } from "./codes.js";
export { limitOutput, rateLimitHeaders } from "./decision.js";
export type { Allowed, Check, Decision, Denied, FitOptions, OutputField, RateLimitHeaders } from "./decision.js";
export type { PriceInput } from "./prices.js";
export type { SimulateOptions, SimulationInput } from "./simulations.js";
export type { CloseRunOptions, Run, RunDenied, RunLimits, RunStarted, StartRunOptions, Step, StepFields, StepKind, StepOptions, TrackedStep, TrackStepOptions, WithRun, WithRunOptions } from "./runs.js";
export { QuotaGatewayError } from "./errors.js";
export { anthropicBedrockForUserKey, anthropicForUserKey, anthropicVertexForUserKey, azureOpenaiForUserKey, bedrockRuntimeForUserKey, geminiForUserKey, openaiForUserKey, proxyBaseUrl, proxyReservationId, vertexGeminiForUserKey } from "./proxy.js";
export type { AnthropicBedrockClientOptions, AnthropicVertexClientOptions, AwsClientClass, AzureClientOptions, BedrockRuntimeOptions, GeminiClientOptions, ProviderClass, ProxyClientOptions, ProxyOptions, UserKeyInput, VertexGeminiClientOptions } from "./proxy.js";
export { verifyWebhook } from "./webhooks.js";
export type { WebhookHeaders } from "./webhooks.js";
export type {
  AdjustmentAnswer, Approval, ApprovalEventData, ApprovalList, ApprovalStatus, Balance, BalanceCounter, BalanceList, BatchPrices, Catalog, CatalogEntry, CommitAnswer, CreditEventData, CreditSummary, Counter, DailyUsage, Denial, DoneSimulation, ExtendAnswer, ExtendRunAnswer,
  Fit, Grant, GrantCategory, Granted, GrantList, GrantMade, GrantStatus, JobKind, LongContextPrices, Metadata, ModelProvider, OpenJob, Outcome, OutcomeAnswer, Page, PerSecond, PlanDoc, PlanGroupDoc, PlanList, Price, PriceDoc, PriceList, PriceSource, PriceSourceKind, Problem, QuotaEventData, ReleaseAnswer, ReservationAnswer, ReserveAnswer, ReviewEvery, RunAnswer, RunGroup,
  RunList, RunProgress, RunStartAnswer, RunState, Scope, Simulation, SimulationCohort, SimulationFailure, SimulationProgress, SimulationReport,
  SimulationStatus, SimulationTotals, SimulationUserRow, SimulationUserScenario, SoonestExpiry, Subscription, TrackAnswer, UsageAnswer,
  UsageEvent, UsageEventPage, UsageGroup, UserKey, UserKeyList, UserKeyMade, UserToken, Webhook, WebhookDelivery, WebhookDeliveryList, WebhookEvent, WebhookList,
} from "./types.js";
export type { components, paths } from "./openapi.js";
