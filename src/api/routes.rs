//! The one table of routes: each route's method, path and handler, who may call it, what it
//! takes and answers, and which error codes it may give beyond those every keyed route may.
//! Registration and the OpenAPI document are both made from it.

use std::sync::LazyLock;

use actix_web::http::Method;
use actix_web::{guard, web, HttpRequest, HttpResponse};
use utoipa::openapi::OpenApi;

use super::openapi;
use super::route::{Key, Route};
use super::{
    approvals, audit_log, credits, operators, runs, simulations, usage_events, user_keys, user_tokens, users, webhooks,
};
use super::{
    cors, daily_usage, health, plans, prices, projects, reservations, reserve, settle, subscriptions, track, usage,
};
use crate::http::ApiError;
use crate::http::Code;

macro_rules! routes {
    ($($method:ident $path:literal => $handler:path, $key:ident, $summary:literal,
        body $body:expr, ok $status:literal $schema:expr, errors [$($code:ident),*]
        $(, query [$($query:literal),*])? $(, headers [$($header:literal),*])?;)*) => {
        /// Every route, in the order they are registered and documented.
        pub(crate) static ROUTES: &[Route] = &[$(Route {
            method: stringify!($method),
            path: $path,
            summary: $summary,
            key: Key::$key,
            body: $body,
            ok: ($status, $schema),
            errors: &[$(Code::$code),*],
            query: &[$($($query),*)?],
            headers: &[$($($header),*)?],
            register: |cfg, method| {
                // HEAD reads as GET does, and actix sends no body for it.
                let only = guard::Method(method.clone());
                let route = if method == Method::GET {
                    web::route().guard(guard::Any(only).or(guard::Head()))
                } else {
                    web::route().guard(only)
                };
                cfg.route($path, route.to($handler));
            },
        }),*];
    };
}

routes! {
    GET "/livez" => health::livez, None, "The process is up",
        body None, ok 200 Some("Health"), errors [];
    GET "/readyz" => health::readyz, None, "Redis is reachable and never evicts",
        body None, ok 200 Some("Health"), errors [];
    GET "/openapi.json" => openapi_json, None, "This document",
        body None, ok 200 None, errors [];
    GET "/metrics" => health::metrics, None, "Prometheus metrics of this node",
        body None, ok 200 None, errors [];
    // The data plane first: actix tries routes in this order (dynamic ones by regex), so the
    // hot path is matched before any other route is tried.
    POST "/v1/reserve" => reserve::reserve, Secret, "Hold quota before calling the AI provider",
        body Some("ReserveBody"), ok 200 Some("ReserveAnswer"), errors [PlanMissing, IdempotencyKeyReused, CounterLimit],
        headers ["Idempotency-Key"];
    POST "/v1/check" => reserve::check, Secret, "What reserve would answer, changing nothing",
        body Some("ReserveBody"), ok 200 Some("ReserveAnswer"), errors [PlanMissing];
    POST "/v1/track" => track::track, Secret, "Count usage that already happened",
        body Some("TrackBody"), ok 200 Some("TrackAnswer"), errors [PlanMissing, IdempotencyKeyReused, CounterLimit, UnpricedModel],
        headers ["Idempotency-Key"];
    GET "/v1/reservations/{reservationId}" => reservations::get_reservation, Secret, "Read a reservation",
        body None, ok 200 Some("ReservationAnswer"), errors [ReservationNotFound];
    POST "/v1/reservations/{reservationId}/extend" => reservations::extend, Secret, "Move a held reservation's expiry",
        body Some("ExtendBody"), ok 200 Some("ExtendAnswer"), errors [ReservationNotFound, ReservationCommitted, ReservationReleased, ReservationExpired];
    POST "/v1/reservations/{reservationId}/commit" => settle::commit, Secret, "Make the hold usage, exactly once",
        body Some("CommitBody"), ok 200 Some("CommitAnswer"), errors [ReservationNotFound, ReservationReleased, IdempotencyKeyReused, CounterLimit],
        headers ["Idempotency-Key"];
    POST "/v1/reservations/{reservationId}/release" => settle::release, Secret, "Give the hold back, exactly once",
        body Some("EmptyBody"), ok 200 Some("ReleaseAnswer"), errors [ReservationNotFound, ReservationCommitted, ReservationReleased];
    POST "/v1/reservations/{reservationId}/outcome" => settle::set_outcome, Secret, "Say what a committed call's output came to (accepted, rejected, failed or a word of the app's), after its commit; said again it changes nothing, a new word replaces the old",
        body Some("OutcomeBody"), ok 200 Some("OutcomeAnswer"), errors [ReservationNotFound, ReservationNotCommitted, OutcomeChangedEnough];
    POST "/v1/runs" => runs::start_run, Secret, "Hold an agent run's budget before it starts, as a reserve of its event would; steps name it with runId",
        body Some("RunBody"), ok 200 Some("RunStartAnswer"), errors [PlanMissing, IdempotencyKeyReused, CounterLimit],
        headers ["Idempotency-Key"];
    GET "/v1/runs" => runs::list_runs, Secret, "A user's runs (userId is required), newest first (at most 100)",
        body None, ok 200 Some("RunList"), errors [], query ["userId"];
    GET "/v1/runs/{runId}" => runs::get_run, Secret, "Read a run: budget, used and remaining per group, steps, attempts, fallbacks, children",
        body None, ok 200 Some("RunAnswer"), errors [RunNotFound];
    POST "/v1/runs/{runId}/close" => runs::close_run, Secret, "Commit what the run's steps used, give the rest back (open steps included); repeat-safe",
        body Some("EmptyBody"), ok 200 Some("RunAnswer"), errors [RunNotFound, CounterLimit];
    POST "/v1/runs/{runId}/extend" => runs::extend_run, Secret, "Move an open run's expiry",
        body Some("ExtendBody"), ok 200 Some("RunExtendAnswer"), errors [RunNotFound, RunEnded];
    POST "/v1/simulations" => simulations::start_simulation, Secret, "Replay a cohort's recorded demand, denials included, against a candidate plan and the plans they are on; answers at once, then runs (read-only, kept a day)",
        body Some("SimulationBody"), ok 202 Some("SimulationAnswer"), errors [PlanNotFound, InvalidPlan, SimulationBound];
    GET "/v1/simulations/{simulationId}" => simulations::get_simulation, Secret, "A simulation's progress, then its report; the per-user rows as CSV with Accept: text/csv",
        body None, ok 200 Some("SimulationAnswer"), errors [SimulationNotFound, SimulationRunning, SimulationFailed];
    POST "/v1/projects" => projects::create_project, Root, "Create a project",
        body Some("ProjectBody"), ok 201 Some("ProjectAnswer"), errors [ProjectExists];
    GET "/v1/projects" => projects::list_projects, Root, "List projects",
        body None, ok 200 Some("ProjectList"), errors [];
    PATCH "/v1/projects/{projectId}" => projects::patch_project, Root, "Change a project's default plan or allowed origins",
        body Some("ProjectPatch"), ok 200 Some("ProjectAnswer"), errors [ProjectNotFound];
    POST "/v1/projects/{projectId}/keys" => projects::create_key, Root, "Mint a key, shown only in this answer",
        body Some("KeyBody"), ok 201 Some("KeyAnswer"), errors [ProjectNotFound];
    GET "/v1/projects/{projectId}/keys" => projects::list_keys, Root, "List a project's keys without their secret part",
        body None, ok 200 Some("KeyList"), errors [ProjectNotFound];
    DELETE "/v1/projects/{projectId}/keys/{keyId}" => projects::revoke_key, Root, "Revoke a key on every node within a second",
        body None, ok 204 None, errors [KeyNotFound];
    POST "/v1/operators" => operators::invite, Root, "Invite an operator: a person who signs in to the dashboard by email and password, with a role per project; answers the link that sets their password, once",
        body Some("OperatorBody"), ok 201 Some("InvitationAnswer"), errors [OperatorExists, OperatorLimit];
    GET "/v1/operators" => operators::list, Root, "List operators, never their passwords",
        body None, ok 200 Some("OperatorList"), errors [];
    GET "/v1/operators/{operatorId}" => operators::get, Root, "Read an operator",
        body None, ok 200 Some("OperatorAnswer"), errors [OperatorNotFound];
    PATCH "/v1/operators/{operatorId}" => operators::patch, Root, "Change an operator's name or roles (roles replace them all; none left removes the operator, answering 204); their sessions follow at their next request",
        body Some("OperatorPatchBody"), ok 200 Some("OperatorAnswer"), errors [OperatorNotFound];
    DELETE "/v1/operators/{operatorId}" => operators::remove, Root, "Remove an operator: their sessions end at their next request",
        body None, ok 204 None, errors [OperatorNotFound];
    POST "/v1/operators/{operatorId}/invite" => operators::reinvite, Root, "A new invitation link for an operator (the last one stops working): to finish an expired invitation or set a forgotten password",
        body Some("EmptyBody"), ok 200 Some("InvitationAnswer"), errors [OperatorNotFound];
    GET "/v1/plans" => plans::list_plans, Secret, "List plans (owner: only those where it owns the plan or a group)",
        body None, ok 200 Some("PlanList"), errors [], query ["owner"];
    PUT "/v1/plans/{planId}" => plans::put_plan, Secret, "Create or update a plan",
        body Some("PlanDoc"), ok 200 Some("PlanDoc"), errors [InvalidPlan];
    GET "/v1/plans/{planId}" => plans::get_plan, Secret, "Read a plan",
        body None, ok 200 Some("PlanDoc"), errors [PlanNotFound];
    DELETE "/v1/plans/{planId}" => plans::delete_plan, Secret, "Delete a plan no user is on",
        body None, ok 204 None, errors [PlanNotFound, PlanInUse];
    GET "/v1/users" => users::list_users, Secret, "List users by id (cursor, limit, planId, status)",
        body None, ok 200 Some("UserPage"), errors [], query ["cursor", "limit", "planId", "status", "parentId"];
    PUT "/v1/users/{userId}/subscription" => subscriptions::put_subscription, Secret, "Put a user on a plan (upsert)",
        body Some("SubscriptionBody"), ok 200 Some("SubscriptionAnswer"), errors [PlanNotFound];
    GET "/v1/users/{userId}/subscription" => subscriptions::get_subscription, Secret, "Read a user's subscription",
        body None, ok 200 Some("SubscriptionAnswer"), errors [SubscriptionNotFound];
    DELETE "/v1/users/{userId}/subscription" => subscriptions::delete_subscription, Secret, "End a subscription; the default plan applies",
        body None, ok 200 Some("SubscriptionAnswer"), errors [];
    PUT "/v1/users/{userId}/overrides/{groupId}" => users::put_override, Secret, "Set a per-user quota for one group; with value, for one value of a per-value group (its counter takes it before the group's); the subscription keeps it as <groupId>~<value>; a user keeps at most 1,000 overrides",
        body Some("OverrideBody"), ok 200 Some("SubscriptionAnswer"), errors [SubscriptionNotFound, PlanMissing, OverrideLimit], query ["value"];
    DELETE "/v1/users/{userId}/overrides/{groupId}" => users::delete_override, Secret, "Remove a per-user quota (with value, one value's)",
        body None, ok 200 Some("SubscriptionAnswer"), errors [SubscriptionNotFound], query ["value"];
    POST "/v1/users/{userId}/block" => users::block, Secret, "Deny every event of a user",
        body Some("BlockBody"), ok 200 Some("SubscriptionAnswer"), errors [];
    POST "/v1/users/{userId}/unblock" => users::unblock, Secret, "Lift a block",
        body Some("EmptyBody"), ok 200 Some("SubscriptionAnswer"), errors [];
    POST "/v1/users/{userId}/adjustments" => users::adjust, Secret, "Correct a counter (never below zero); with an Idempotency-Key, a repeat answers the first adjustment and applies nothing",
        body Some("AdjustmentBody"), ok 200 Some("AdjustmentAnswer"), errors [SubscriptionNotFound, PlanMissing, IdempotencyKeyReused, CounterLimit],
        headers ["Idempotency-Key"];
    GET "/v1/users/{userId}/adjustments" => users::list_adjustments, Secret, "The user's adjustments, newest first",
        body None, ok 200 Some("AdjustmentList"), errors [];
    POST "/v1/users/{userId}/grants" => credits::create_grant, Secret, "Grant credits to a balance (they pay debt first); with an Idempotency-Key (a payment's id), a repeat answers the first grant and grants nothing",
        body Some("GrantBody"), ok 201 Some("GrantMadeAnswer"), errors [IdempotencyKeyReused, GrantLimit],
        headers ["Idempotency-Key"];
    GET "/v1/users/{userId}/grants" => credits::list_grants, Secret, "Every grant of the user, in burn order, with remaining, held, consumed, expired and voided",
        body None, ok 200 Some("GrantList"), errors [], query ["balance"];
    POST "/v1/users/{userId}/grants/{grantId}/void" => credits::void_grant, Secret, "End a grant: what it has remaining is voided now, what it holds when given back",
        body Some("EmptyBody"), ok 200 Some("GrantAnswer"), errors [GrantNotFound];
    GET "/v1/users/{userId}/balances" => credits::balances, Secret, "Every balance of the user (available, held, debt, soonest expiry) with its grants",
        body None, ok 200 Some("BalanceList"), errors [];
    GET "/v1/balances/summary" => credits::summary, Secret, "What the ledger says of credits over a span (every user's, or one's): granted, burned with its revenue by cost basis, voided, expired (breakage) and outstanding, paid and promotional apart",
        body None, ok 200 Some("CreditSummaryAnswer"), errors [], query ["balance", "userId", "from", "to"];
    GET "/v1/approvals" => approvals::list_approvals, Secret, "Approval requests, oldest first (a queue): each is an approval group's first denial of a user in a period, then its decision",
        body None, ok 200 Some("ApprovalList"), errors [], query ["status", "userId", "cursor", "limit"];
    GET "/v1/approvals/{approvalId}" => approvals::get_approval, Secret, "One approval request",
        body None, ok 200 Some("ApprovalAnswer"), errors [ApprovalNotFound];
    POST "/v1/approvals/{approvalId}/approve" => approvals::approve, Secret, "Approve a pending request: the user's quota of the group becomes the given one for the rest of the period (or until expiresAt), as an override; audited and told as quota.approval_decided",
        body Some("ApproveBody"), ok 200 Some("ApprovalAnswer"), errors [ApprovalNotFound, ApprovalDecided, OverrideLimit];
    POST "/v1/approvals/{approvalId}/decline" => approvals::decline, Secret, "Decline a pending request: the group stays hard for the rest of the period; audited and told as quota.approval_decided",
        body Some("DeclineBody"), ok 200 Some("ApprovalAnswer"), errors [ApprovalNotFound, ApprovalDecided];
    GET "/v1/users/{userId}/usage" => usage::usage, Reader, "Every group of the user's plan in its current period",
        body None, ok 200 Some("UsageAnswer"), errors [PlanMissing];
    OPTIONS "/v1/users/{userId}/usage" => cors::preflight, None, "CORS preflight for browser reads",
        body None, ok 204 None, errors [OriginNotAllowed];
    GET "/v1/users/{userId}/daily-usage" => daily_usage::daily_usage, Secret, "The user's daily rollups per group (used, reserves admitted and denied, releases, expiries), every UTC day from..to (dates, both included; the last 30 days by default)",
        body None, ok 200 Some("DailyUsageAnswer"), errors [], query ["from", "to"];
    GET "/v1/usage-events" => usage_events::list_usage_events, Secret, "The usage ledger (one user's, a parent's by memberId, or every user's day by day), oldest first per user; pages (a page may be short and still name nextCursor), or NDJSON or CSV with Accept",
        body None, ok 200 Some("UsageEventPageAnswer"), errors [], query ["userId", "memberId", "from", "to", "cursor", "limit"];
    GET "/v1/audit-log" => audit_log::audit_log, Secret, "Every change made by a key or operator of the project (API or dashboard), newest first; with userId a user's, with action one action (user.block) or resource (user), with actorId one key's or operator's",
        body None, ok 200 Some("ChangePage"), errors [], query ["userId", "action", "actorId", "cursor", "limit"];
    POST "/v1/webhooks" => webhooks::create_webhook, Secret, "Make a webhook endpoint (at most 20 per project); its secret (whsec_) is shown only in this answer and its repeats: with an Idempotency-Key, the same key and body within the retention window answer the endpoint made first and make none",
        body Some("WebhookBody"), ok 201 Some("WebhookAnswer"), errors [WebhookLimit, IdempotencyKeyReused, WebhookNotFound],
        headers ["Idempotency-Key"];
    GET "/v1/webhooks" => webhooks::list_webhooks, Secret, "List the project's webhook endpoints",
        body None, ok 200 Some("WebhookList"), errors [];
    GET "/v1/webhooks/{webhookId}" => webhooks::get_webhook, Secret, "Read a webhook endpoint",
        body None, ok 200 Some("WebhookAnswer"), errors [WebhookNotFound];
    DELETE "/v1/webhooks/{webhookId}" => webhooks::delete_webhook, Secret, "Delete a webhook endpoint",
        body None, ok 204 None, errors [WebhookNotFound];
    POST "/v1/webhooks/{webhookId}/rotate-secret" => webhooks::rotate_secret, Secret, "A new secret; each replaced one signs too for 24 hours, at most two beside the current one",
        body Some("EmptyBody"), ok 200 Some("SecretAnswer"), errors [WebhookNotFound, SecretRotationLimit];
    POST "/v1/webhooks/{webhookId}/enable" => webhooks::enable_webhook, Secret, "Deliver to this endpoint again (its failing time starts afresh)",
        body Some("EmptyBody"), ok 200 Some("WebhookAnswer"), errors [WebhookNotFound];
    POST "/v1/webhooks/{webhookId}/disable" => webhooks::disable_webhook, Secret, "Stop delivering to this endpoint; its pending deliveries end as failed",
        body Some("EmptyBody"), ok 200 Some("WebhookAnswer"), errors [WebhookNotFound];
    POST "/v1/webhooks/{webhookId}/test" => webhooks::test_webhook, Secret, "Send a webhook.test event to this endpoint (refused while it is disabled)",
        body Some("EmptyBody"), ok 202 Some("DeliveryIdAnswer"), errors [WebhookNotFound, WebhookDisabled];
    GET "/v1/webhooks/{webhookId}/deliveries" => webhooks::list_deliveries, Secret, "The endpoint's newest deliveries with their attempts",
        body None, ok 200 Some("DeliveryList"), errors [WebhookNotFound], query ["limit"];
    POST "/v1/webhooks/{webhookId}/deliveries/{deliveryId}/retry" => webhooks::retry_delivery, Secret, "Attempt a delivery again now (refused while its endpoint is disabled)",
        body Some("EmptyBody"), ok 202 Some("DeliveryIdAnswer"), errors [DeliveryNotFound, WebhookNotFound, WebhookDisabled];
    POST "/v1/user-tokens" => user_tokens::create_user_token, Secret, "Mint a token for a browser to read one user's usage",
        body Some("UserTokenBody"), ok 200 Some("UserToken"), errors [];
    POST "/v1/user-keys" => user_keys::create_user_key, Secret, "Mint a key for one end user's app to call the provider through the proxy as that user (proxy only; the key is shown once)",
        body Some("UserKeyBody"), ok 201 Some("UserKeyAnswer"), errors [UserKeyLimit];
    GET "/v1/user-keys" => user_keys::list_user_keys, Secret, "One user's keys (userId is required), without their secret part",
        body None, ok 200 Some("UserKeyList"), errors [], query ["userId"];
    DELETE "/v1/user-keys/{keyId}" => user_keys::revoke_user_key, Secret, "Revoke a user key on every node within a second (on this one at once)",
        body None, ok 204 None, errors [KeyNotFound];
    GET "/v1/catalog" => prices::catalog, Secret, "The model catalog this node prices by: each model's prices in USD per million tokens (or per image), limits, and where and when they were read",
        body None, ok 200 Some("CatalogAnswer"), errors [];
    GET "/v1/prices" => prices::list_prices, Secret, "The project's own prices of models, which beat the catalog's",
        body None, ok 200 Some("PriceList"), errors [];
    GET "/v1/prices/{model}" => prices::get_price, Secret, "The project's own price of one model",
        body None, ok 200 Some("PriceAnswer"), errors [PriceNotFound];
    PUT "/v1/prices/{model}" => prices::put_price, Secret, "Set the project's own price of a model (a negotiated rate, a fine-tuned or self-hosted model): it beats the catalog's from the next call on, on every node within a second; audited",
        body Some("PriceDoc"), ok 200 Some("PriceAnswer"), errors [PriceLimit];
    DELETE "/v1/prices/{model}" => prices::delete_price, Secret, "Remove the project's own price of a model: the catalog prices it again; audited",
        body None, ok 204 None, errors [PriceNotFound];
}

/// The OpenAPI document of the table, made once.
static DOCUMENT: LazyLock<OpenApi> = LazyLock::new(|| openapi::document(ROUTES));

/// `GET /openapi.json`.
async fn openapi_json() -> HttpResponse {
    HttpResponse::Ok().json(&*DOCUMENT)
}

/// Registers every route of the table; answers the (method, path) pairs it registered.
pub fn routes(cfg: &mut web::ServiceConfig) -> Vec<(&'static str, &'static str)> {
    for route in ROUTES {
        // Start-up only: the table names only valid methods.
        let method = Method::from_bytes(route.method.as_bytes()).expect("a valid HTTP method");
        (route.register)(cfg, method);
    }
    cfg.default_service(web::to(|req: HttpRequest| async move {
        let allowed = allowed_methods(req.path());
        Err::<actix_web::HttpResponse, _>(if allowed.is_empty() {
            ApiError::RouteNotFound
        } else {
            ApiError::MethodNotAllowed(allowed)
        })
    }));
    ROUTES.iter().map(|r| (r.method, r.path)).collect()
}

/// The methods the table has for `path` (a `{param}` matches any one segment); empty when no
/// route has this path at all.
fn allowed_methods(path: &str) -> Vec<&'static str> {
    let segments: Vec<&str> = path.split('/').collect();
    let fits = |pattern: &str| {
        let pattern: Vec<&str> = pattern.split('/').collect();
        pattern.len() == segments.len()
            && pattern
                .iter()
                .zip(&segments)
                .all(|(p, s)| p == s || (p.starts_with('{') && !s.is_empty()))
    };
    let mut methods: Vec<&'static str> = ROUTES.iter().filter(|r| fits(r.path)).map(|r| r.method).collect();
    if methods.contains(&"GET") {
        methods.push("HEAD");
    }
    methods
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_referenced_schema_is_a_component() {
        let doc = serde_json::to_value(&*DOCUMENT).unwrap();
        let text = doc.to_string();
        let schemas = doc["components"]["schemas"].as_object().unwrap();
        for name in text
            .split("#/components/schemas/")
            .skip(1)
            .map(|rest| rest.split('"').next().unwrap())
        {
            assert!(schemas.contains_key(name), "{name} is referenced but not defined");
        }
    }
}
