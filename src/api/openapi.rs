//! `GET /openapi.json`: the OpenAPI 3.1 document of every route, body, answer and error code,
//! built from one table beside the route table (a test holds the two together).

use std::sync::LazyLock;

use actix_web::HttpResponse;
use serde::Serialize;
use utoipa::openapi::path::{HttpMethod, OperationBuilder, ParameterBuilder, ParameterIn, PathItem};
use utoipa::openapi::request_body::RequestBodyBuilder;
use utoipa::openapi::schema::{ObjectBuilder, SchemaType, Type};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{
    ComponentsBuilder, ContentBuilder, InfoBuilder, OpenApi, OpenApiBuilder, PathsBuilder, Ref, RefOr, Required,
    ResponseBuilder, Schema,
};
use utoipa::{PartialSchema, ToSchema};

use super::dto::{self, SignedAmount};
use super::{event, projects, subscriptions, user_tokens, users};
use crate::quota::{Milli, PlanDoc};

impl PartialSchema for Milli {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(SchemaType::Type(Type::Number))
            .minimum(Some(0))
            .maximum(Some(1_000_000_000_000u64))
            .multiple_of(Some(0.001))
            .description(Some("an amount in units, at most 3 decimals, exact"))
            .into()
    }
}
impl ToSchema for Milli {}

impl PartialSchema for SignedAmount {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(SchemaType::Type(Type::Number))
            .multiple_of(Some(0.001))
            .description(Some("a signed amount in units, at most 3 decimals"))
            .into()
    }
}
impl ToSchema for SignedAmount {}

/// RFC 9457 problem details, as every error answers.
#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Problem {
    #[serde(rename = "type")]
    pub kind: String,
    pub title: String,
    pub status: u16,
    /// A stable snake_case code.
    pub code: String,
    pub detail: String,
    pub request_id: String,
    /// The field at fault, for `invalid_request`.
    pub field: Option<String>,
    /// Every problem of an `invalid_plan`.
    #[schema(value_type = Option<Vec<Object>>)]
    pub problems: Option<Vec<serde_json::Value>>,
}

/// `{data: [...]}` lists.
#[derive(Serialize, utoipa::ToSchema)]
pub struct PlanList {
    pub data: Vec<PlanDoc>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct ProjectList {
    pub data: Vec<dto::ProjectAnswer>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct KeyList {
    pub data: Vec<dto::KeyInfo>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct AdjustmentList {
    pub data: Vec<dto::AdjustmentEntry>,
}

#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct UserToken {
    pub token: String,
    pub expires_at: String,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct Health {
    pub status: String,
    pub reason: Option<String>,
}

/// Who may call a route.
#[derive(Clone, Copy)]
enum Key {
    None,
    Root,
    Secret,
    /// A secret key, or a publishable key with `X-User-Token`.
    Reader,
}

/// One route of the table: what it takes, what it answers, which errors it may give beyond
/// the ones every keyed route may give.
struct Route {
    method: &'static str,
    path: &'static str,
    summary: &'static str,
    key: Key,
    body: Option<&'static str>,
    ok: (u16, Option<&'static str>),
    errors: &'static [&'static str],
}

const fn r(
    method: &'static str,
    path: &'static str,
    summary: &'static str,
    key: Key,
    body: Option<&'static str>,
    ok: (u16, Option<&'static str>),
    errors: &'static [&'static str],
) -> Route {
    Route {
        method,
        path,
        summary,
        key,
        body,
        ok,
        errors,
    }
}

const RESERVATION: &[&str] = &["reservation_not_found", "reservation_committed", "reservation_released"];

const ROUTES: &[Route] = &[
    r(
        "GET",
        "/livez",
        "The process is up",
        Key::None,
        None,
        (200, Some("Health")),
        &[],
    ),
    r(
        "GET",
        "/readyz",
        "Redis is reachable and never evicts",
        Key::None,
        None,
        (200, Some("Health")),
        &[],
    ),
    r(
        "GET",
        "/openapi.json",
        "This document",
        Key::None,
        None,
        (200, None),
        &[],
    ),
    r(
        "GET",
        "/metrics",
        "Prometheus metrics of this node",
        Key::None,
        None,
        (200, None),
        &[],
    ),
    r(
        "POST",
        "/v1/projects",
        "Create a project",
        Key::Root,
        Some("ProjectBody"),
        (201, Some("ProjectAnswer")),
        &["project_exists"],
    ),
    r(
        "GET",
        "/v1/projects",
        "List projects",
        Key::Root,
        None,
        (200, Some("ProjectList")),
        &[],
    ),
    r(
        "PATCH",
        "/v1/projects/{projectId}",
        "Change a project's default plan or allowed origins",
        Key::Root,
        Some("ProjectPatch"),
        (200, Some("ProjectAnswer")),
        &["project_not_found"],
    ),
    r(
        "POST",
        "/v1/projects/{projectId}/keys",
        "Mint a key, shown only in this answer",
        Key::Root,
        Some("KeyBody"),
        (201, Some("KeyAnswer")),
        &["project_not_found"],
    ),
    r(
        "GET",
        "/v1/projects/{projectId}/keys",
        "List a project's keys without their secret part",
        Key::Root,
        None,
        (200, Some("KeyList")),
        &["project_not_found"],
    ),
    r(
        "DELETE",
        "/v1/projects/{projectId}/keys/{keyId}",
        "Revoke a key on every node within a second",
        Key::Root,
        None,
        (204, None),
        &["key_not_found"],
    ),
    r(
        "GET",
        "/v1/plans",
        "List plans",
        Key::Secret,
        None,
        (200, Some("PlanList")),
        &[],
    ),
    r(
        "PUT",
        "/v1/plans/{planId}",
        "Create or update a plan",
        Key::Secret,
        Some("PlanDoc"),
        (200, Some("PlanDoc")),
        &["invalid_plan"],
    ),
    r(
        "GET",
        "/v1/plans/{planId}",
        "Read a plan",
        Key::Secret,
        None,
        (200, Some("PlanDoc")),
        &["plan_not_found"],
    ),
    r(
        "DELETE",
        "/v1/plans/{planId}",
        "Delete a plan no user is on",
        Key::Secret,
        None,
        (204, None),
        &["plan_not_found", "plan_in_use"],
    ),
    r(
        "GET",
        "/v1/users",
        "List users by id (cursor, limit, planId, status)",
        Key::Secret,
        None,
        (200, Some("UserPage")),
        &[],
    ),
    r(
        "PUT",
        "/v1/users/{userId}/subscription",
        "Put a user on a plan (upsert)",
        Key::Secret,
        Some("SubscriptionBody"),
        (200, Some("SubscriptionAnswer")),
        &["plan_not_found"],
    ),
    r(
        "GET",
        "/v1/users/{userId}/subscription",
        "Read a user's subscription",
        Key::Secret,
        None,
        (200, Some("SubscriptionAnswer")),
        &["subscription_not_found"],
    ),
    r(
        "DELETE",
        "/v1/users/{userId}/subscription",
        "End a subscription; the default plan applies",
        Key::Secret,
        None,
        (200, Some("SubscriptionAnswer")),
        &[],
    ),
    r(
        "PUT",
        "/v1/users/{userId}/overrides/{groupId}",
        "Set a per-user quota for one group",
        Key::Secret,
        Some("OverrideBody"),
        (200, Some("SubscriptionAnswer")),
        &["subscription_not_found", "plan_missing"],
    ),
    r(
        "DELETE",
        "/v1/users/{userId}/overrides/{groupId}",
        "Remove a per-user quota",
        Key::Secret,
        None,
        (200, Some("SubscriptionAnswer")),
        &["subscription_not_found"],
    ),
    r(
        "POST",
        "/v1/users/{userId}/block",
        "Deny every event of a user",
        Key::Secret,
        Some("BlockBody"),
        (200, Some("SubscriptionAnswer")),
        &[],
    ),
    r(
        "POST",
        "/v1/users/{userId}/unblock",
        "Lift a block",
        Key::Secret,
        Some("EmptyBody"),
        (200, Some("SubscriptionAnswer")),
        &[],
    ),
    r(
        "POST",
        "/v1/users/{userId}/adjustments",
        "Correct a counter (never below zero)",
        Key::Secret,
        Some("AdjustmentBody"),
        (200, Some("AdjustmentAnswer")),
        &["subscription_not_found", "plan_missing"],
    ),
    r(
        "GET",
        "/v1/users/{userId}/adjustments",
        "The user's adjustments, newest first",
        Key::Secret,
        None,
        (200, Some("AdjustmentList")),
        &[],
    ),
    r(
        "GET",
        "/v1/users/{userId}/usage",
        "Every group of the user's plan in its current period",
        Key::Reader,
        None,
        (200, Some("UsageAnswer")),
        &["plan_missing"],
    ),
    r(
        "OPTIONS",
        "/v1/users/{userId}/usage",
        "CORS preflight for browser reads",
        Key::None,
        None,
        (204, None),
        &["origin_not_allowed"],
    ),
    r(
        "POST",
        "/v1/user-tokens",
        "Mint a token for a browser to read one user's usage",
        Key::Secret,
        Some("UserTokenBody"),
        (200, Some("UserToken")),
        &[],
    ),
    r(
        "POST",
        "/v1/reserve",
        "Hold quota before calling the AI provider",
        Key::Secret,
        Some("ReserveBody"),
        (200, Some("ReserveAnswer")),
        &["plan_missing", "idempotency_key_reused"],
    ),
    r(
        "POST",
        "/v1/check",
        "What reserve would answer, changing nothing",
        Key::Secret,
        Some("ReserveBody"),
        (200, Some("ReserveAnswer")),
        &["plan_missing"],
    ),
    r(
        "POST",
        "/v1/track",
        "Count usage that already happened",
        Key::Secret,
        Some("TrackBody"),
        (200, Some("TrackAnswer")),
        &["plan_missing", "idempotency_key_reused"],
    ),
    r(
        "GET",
        "/v1/reservations/{reservationId}",
        "Read a reservation",
        Key::Secret,
        None,
        (200, Some("ReservationAnswer")),
        &["reservation_not_found"],
    ),
    r(
        "POST",
        "/v1/reservations/{reservationId}/extend",
        "Move a held reservation's expiry",
        Key::Secret,
        Some("ExtendBody"),
        (200, Some("ExtendAnswer")),
        &[
            "reservation_not_found",
            "reservation_committed",
            "reservation_released",
            "reservation_expired",
        ],
    ),
    r(
        "POST",
        "/v1/reservations/{reservationId}/commit",
        "Make the hold usage, exactly once",
        Key::Secret,
        Some("CommitBody"),
        (200, Some("CommitAnswer")),
        &[
            "reservation_not_found",
            "reservation_released",
            "idempotency_key_reused",
        ],
    ),
    r(
        "POST",
        "/v1/reservations/{reservationId}/release",
        "Give the hold back, exactly once",
        Key::Secret,
        Some("EmptyBody"),
        (200, Some("ReleaseAnswer")),
        RESERVATION,
    ),
];

/// The status of every stable error code.
pub const ERROR_CODES: &[(&str, u16)] = &[
    ("invalid_request", 400),
    ("invalid_plan", 400),
    ("unauthorized", 401),
    ("forbidden", 403),
    ("origin_not_allowed", 403),
    ("route_not_found", 404),
    ("reservation_not_found", 404),
    ("plan_not_found", 404),
    ("project_not_found", 404),
    ("key_not_found", 404),
    ("subscription_not_found", 404),
    ("project_exists", 409),
    ("reservation_committed", 409),
    ("reservation_released", 409),
    ("plan_in_use", 409),
    ("plan_missing", 409),
    ("reservation_expired", 410),
    ("payload_too_large", 413),
    ("idempotency_key_reused", 422),
    ("internal_error", 500),
    ("backend_unavailable", 503),
];

fn method(name: &str) -> HttpMethod {
    match name {
        "POST" => HttpMethod::Post,
        "PUT" => HttpMethod::Put,
        "PATCH" => HttpMethod::Patch,
        "DELETE" => HttpMethod::Delete,
        "OPTIONS" => HttpMethod::Options,
        _ => HttpMethod::Get,
    }
}

fn json_of(schema: &str) -> utoipa::openapi::Content {
    ContentBuilder::new()
        .schema(Some(Ref::from_schema_name(schema)))
        .build()
}

fn operation(route: &Route) -> utoipa::openapi::path::Operation {
    let mut op = OperationBuilder::new().summary(Some(route.summary));
    for segment in route
        .path
        .split('/')
        .filter_map(|s| s.strip_prefix('{')?.strip_suffix('}'))
    {
        op = op.parameter(
            ParameterBuilder::new()
                .name(segment)
                .parameter_in(ParameterIn::Path)
                .required(Required::True)
                .schema(Some(ObjectBuilder::new().schema_type(SchemaType::Type(Type::String)))),
        );
    }
    if let Some(body) = route.body {
        op = op.request_body(Some(
            RequestBodyBuilder::new()
                .content("application/json", json_of(body))
                .build(),
        ));
    }
    let mut ok = ResponseBuilder::new().description("success");
    if let Some(schema) = route.ok.1 {
        ok = ok.content("application/json", json_of(schema));
    }
    op = op.response(route.ok.0.to_string(), ok);
    let mut codes: Vec<&str> = route.errors.to_vec();
    if !matches!(route.key, Key::None) {
        codes.extend(["unauthorized", "forbidden", "backend_unavailable", "internal_error"]);
    }
    if route.body.is_some() || route.path.contains('{') {
        codes.push("invalid_request");
    }
    if route.body.is_some() {
        codes.push("payload_too_large");
    }
    let mut statuses: Vec<u16> = codes.iter().filter_map(|c| status_of(c)).collect();
    statuses.sort_unstable();
    statuses.dedup();
    for status in statuses {
        let listed: Vec<&str> = codes.iter().copied().filter(|c| status_of(c) == Some(status)).collect();
        let problem = ResponseBuilder::new()
            .description(format!("problem+json with code {}", listed.join(", ")))
            .content("application/problem+json", json_of("Problem"));
        op = op.response(status.to_string(), problem);
    }
    if let Key::Reader = route.key {
        op = op.description(Some("A secret key, or a publishable key with the user's X-User-Token."));
    }
    op.build()
}

fn status_of(code: &str) -> Option<u16> {
    ERROR_CODES.iter().find(|(c, _)| *c == code).map(|(_, s)| *s)
}

/// The document, built once.
pub fn document() -> &'static OpenApi {
    static DOCUMENT: LazyLock<OpenApi> = LazyLock::new(|| {
        let mut paths = PathsBuilder::new();
        for route in ROUTES {
            paths = paths.path(route.path, PathItem::new(method(route.method), operation(route)));
        }
        let components = ComponentsBuilder::new()
            .security_scheme(
                "bearer",
                SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
            )
            .schema_from::<Problem>()
            .schema_from::<Milli>()
            .schema_from::<SignedAmount>()
            .schema_from::<dto::CounterAnswer>()
            .schema_from::<dto::PeriodAnswer>()
            .schema_from::<dto::OverrideAnswer>()
            .schema_from::<dto::HoldAnswer>()
            .schema_from::<dto::AdjustmentEntry>()
            .schema_from::<dto::UserAnswer>()
            .schema_from::<dto::KeyInfo>()
            .schema_from::<crate::quota::plan::GroupDoc>()
            .schema_from::<crate::quota::plan::PeriodDoc>()
            .schema_from::<crate::quota::plan::MatchRule>()
            .schema_from::<crate::quota::measure::MeasureDoc>()
            .schema_from::<Health>()
            .schema_from::<PlanDoc>()
            .schema_from::<PlanList>()
            .schema_from::<ProjectList>()
            .schema_from::<KeyList>()
            .schema_from::<AdjustmentList>()
            .schema_from::<UserToken>()
            .schema_from::<projects::ProjectBody>()
            .schema_from::<projects::ProjectPatch>()
            .schema_from::<projects::KeyBody>()
            .schema_from::<dto::ProjectAnswer>()
            .schema_from::<dto::KeyAnswer>()
            .schema_from::<subscriptions::SubscriptionBody>()
            .schema_from::<subscriptions::OverrideBody>()
            .schema_from::<dto::SubscriptionAnswer>()
            .schema_from::<users::BlockBody>()
            .schema_from::<users::AdjustmentBody>()
            .schema_from::<dto::AdjustmentAnswer>()
            .schema_from::<dto::UserPage>()
            .schema_from::<dto::EmptyBody>()
            .schema_from::<dto::UsageAnswer>()
            .schema_from::<user_tokens::UserTokenBody>()
            .schema_from::<event::ReserveBody>()
            .schema_from::<event::TrackBody>()
            .schema_from::<dto::ReserveAnswer>()
            .schema_from::<dto::TrackAnswer>()
            .schema_from::<dto::ReservationAnswer>()
            .schema_from::<dto::ExtendBody>()
            .schema_from::<dto::ExtendAnswer>()
            .schema_from::<dto::CommitBody>()
            .schema_from::<dto::CommitAnswer>()
            .schema_from::<dto::ReleaseAnswer>()
            .build();
        OpenApiBuilder::new()
            .info(
                InfoBuilder::new()
                    .title("quota-gateway")
                    .version(env!("CARGO_PKG_VERSION"))
                    .build(),
            )
            .paths(paths.build())
            .components(Some(components))
            .build()
    });
    &DOCUMENT
}

pub async fn openapi() -> HttpResponse {
    HttpResponse::Ok().json(document())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::ApiError;

    #[test]
    fn every_error_code_has_a_status_and_every_route_names_known_codes() {
        for error in ApiError::samples() {
            assert_eq!(
                status_of(error.code()),
                Some(actix_web::ResponseError::status_code(&error).as_u16()),
                "{}",
                error.code()
            );
        }
        for route in ROUTES {
            for code in route.errors {
                assert!(status_of(code).is_some(), "{code} of {}", route.path);
            }
        }
    }

    #[test]
    fn every_referenced_schema_is_a_component() {
        let doc = serde_json::to_value(document()).unwrap();
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
