// quota-gateway's TypeScript client: zero runtime dependencies, the global fetch, any runtime.
export { createClient } from "./client.js";
export type { Actual, ClientOptions, QuotaGatewayClient, ReservationScope, ReserveOptions, WithReservation } from "./client.js";
export { QuotaGatewayError } from "./errors.js";
export { verifyWebhook } from "./webhooks.js";
export type * from "./types.js";
export type { components, paths } from "./openapi.js";
