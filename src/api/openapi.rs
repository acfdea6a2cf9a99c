//! `GET /openapi.json`: the OpenAPI 3.1 document of every route, body, answer and error code,
//! built from the route table (`routes.rs`, which serves it) and the table of error codes
//! (`http/codes.rs`).

use serde::Serialize;
use utoipa::openapi::path::{HttpMethod, OperationBuilder, ParameterBuilder, ParameterIn, PathItem};
use utoipa::openapi::request_body::RequestBodyBuilder;
use utoipa::openapi::schema::{ObjectBuilder, SchemaType, Type};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{
    ComponentsBuilder, ContentBuilder, InfoBuilder, OpenApi, OpenApiBuilder, PathsBuilder, Ref, Required,
    ResponseBuilder,
};

use super::dto::{self, Sum};
use super::route::{Key, Route};
use super::{event, operators, prices, projects, runs, subscriptions, user_keys, user_tokens, users};
use crate::http::Code;
use crate::quota::{Milli, PlanDoc, SignedAmount};

/// The proxy's routes speak the providers' own APIs, which this document does not restate.
const PROXY: &str = "The HTTP API of quota-gateway. Beside it, on a node started with QG_UPSTREAMS, \
`/proxy/{upstream}/...` speaks each upstream's own API, so the official OpenAI, Anthropic and Google Gen AI SDKs \
work by their base URL: for an `openai` or `openai-compatible` upstream `POST v1/chat/completions`, \
`v1/responses`, `v1/embeddings`, `v1/images/generations`, `v1/audio/transcriptions`, \
`v1/audio/translations`, `v1/audio/speech` and `GET v1/models`; for an `anthropic` upstream \
`POST v1/messages` and `v1/messages/count_tokens`; for a `gemini` upstream \
`v1beta/models/{model}:generateContent` and `:streamGenerateContent` (and under `v1`); for an \
`azure-openai` upstream, as the AzureOpenAI clients call it, `openai/deployments/{deployment}/...` (chat, \
embeddings, images, audio; the deployment held as the model its upstream maps it to), `openai/responses` and \
`openai/v1/...`, and its batches and files at `openai/files` and `openai/batches`; for a `bedrock` upstream, \
as boto3's bedrock-runtime and AnthropicBedrock call it, `model/{modelId}/converse`, `converse-stream`, `invoke` \
and `invoke-with-response-stream` (streams in AWS's event stream framing; each request signed with Signature \
Version 4 or carrying a Bedrock API key); for a `vertex` upstream, as google-genai (vertexai) and AnthropicVertex \
call it, `v1/projects/{project}/locations/{location}/publishers/google/models/{model}:generateContent` and \
`:streamGenerateContent`, `.../publishers/anthropic/models/{model}:rawPredict` and `:streamRawPredict` (and under \
`v1beta1`; each request with an access token the gateway mints from a service account's key). Async jobs: \
`POST v1/files` (a batch file, priced line by line as it passes), `v1/batches`, `v1/videos` and \
Anthropic's `v1/messages/batches` are held from submission to their end, and a job's reads, \
cancel, files and results are served only to the user who submitted it; their lists (`GET v1/files`, \
`v1/batches`, `v1/videos`, `v1/messages/batches`) are answered by the gateway with the caller's own, \
in the provider's shape and paging. An upstream's `passthrough` adds paths forwarded uncounted, their \
bodies and answers streamed through unread (never one the kind counts, serves to an owner, lists, or \
the provider bills); nothing else is forwarded (404). Paths match whatever their case. The \
caller authenticates with the project's secret key (`Authorization: Bearer` or `x-api-key`) and \
names the paying user in `X-Quota-User` (percent-encoded UTF-8 beyond ASCII), or with a user key (`POST /v1/user-keys`), which spends as \
its own user only. `X-Quota-Metadata` (a JSON object), `X-Quota-Run`, `X-Quota-Action`, \
`X-Quota-Kind`, `X-Quota-Fallback` and `Idempotency-Key` are read and never forwarded; other headers are forwarded \
from an allow-list (and the upstream's `forwardHeaders`), the body byte for byte. Each counted call is the event \
`<upstream>.<operation>`, held at its worst case before the provider is called and committed \
with the usage the provider reports. A model the upstreams file routes tries the route's targets \
in turn (or the caller's order, `X-Quota-Fallback: upstream/model, ...`, where the route allows), \
each attempt held and settled on its own, moving on before any byte of an answer reached the \
caller; `X-Quota-Served-By: upstream/model` names the target that answered. The gateway's own \
answers there (a denial: 429 `insufficient_quota`, `rate_limit_exceeded`, or \
`fallback_budget_exhausted` past a fallback cap; 502 `upstream_unreachable`; 504 \
`upstream_timeout`; 409 `action_not_retryable`, `idempotency_key_in_flight` or \
`idempotency_key_settled`: one provider call per key) use the upstream's \
error shape, with the code also in `x-quota-code`, `x-should-retry: false` unless retrying soon \
can succeed, and on a denial `Retry-After`, `x-quota-reasons` and `x-quota-denied-by`. An answer the \
provider gave names its reservation in `x-quota-reservation`, so the caller can say later what the \
output came to (`POST /v1/reservations/{reservationId}/outcome`); its `x-request-id` is the \
provider's, the gateway's own then in `X-Quota-Request-Id`.";

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

/// Lists answered whole, in the envelope every list shares: `{data, nextCursor}`, the cursor
/// always null here.
#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PlanList {
    pub data: Vec<PlanDoc>,
    pub next_cursor: Option<String>,
}

#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ProjectList {
    pub data: Vec<dto::ProjectAnswer>,
    pub next_cursor: Option<String>,
}

#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct KeyList {
    pub data: Vec<dto::KeyInfo>,
    pub next_cursor: Option<String>,
}

#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AdjustmentList {
    pub data: Vec<dto::AdjustmentEntry>,
    pub next_cursor: Option<String>,
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

/// Plan, group and project ids as `quota::ids::check_id` takes them.
const ID_PATTERN: &str =
    r"^([A-Za-z0-9_-][A-Za-z0-9_.-]{0,63}|\.[A-Za-z0-9_-][A-Za-z0-9_.-]{0,62}|\.\.[A-Za-z0-9_.-]{1,62})$";

/// The shape of an id in a path, as the handlers check it.
fn path_schema(name: &str) -> ObjectBuilder {
    let string = ObjectBuilder::new().schema_type(SchemaType::Type(Type::String));
    match name {
        "userId" => string.min_length(Some(1)).max_length(Some(256)).description(Some(
            "1 to 256 bytes of UTF-8 without control characters, never . or ..",
        )),
        "reservationId" => string.pattern(Some(r"^r_[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$")),
        "runId" => string.pattern(Some(r"^run_[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$")),
        // `[A-Za-z0-9_.-]{1,64}` but `.` and `..`, without a lookahead (fuzzers generate from it).
        _ => string.pattern(Some(ID_PATTERN)),
    }
}

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

/// What a header of the table means.
fn header_description(name: &str) -> Option<&'static str> {
    match name {
        "Idempotency-Key" => Some(
            "1 to 255 visible ASCII characters: the same key with the same body (as canonical JSON) within the retention window answers the first call's answer and does nothing again; with another body, 422 idempotency_key_reused",
        ),
        _ => None,
    }
}

fn json_of(schema: &str) -> utoipa::openapi::Content {
    ContentBuilder::new()
        .schema(Some(Ref::from_schema_name(schema)))
        .build()
}

/// The operation of `route`: its parameters, body, answers (each error status with its codes)
/// and who may call it.
fn operation(route: &Route) -> utoipa::openapi::path::Operation {
    let mut op = with_parameters(OperationBuilder::new().summary(Some(route.summary)), route);
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
    op = with_problems(op.response(route.ok.0.to_string(), ok), &error_codes(route));
    // Who may call it, in words a reader (and the book's API reference) takes as they are.
    op = op.description(match route.key {
        Key::None => None,
        Key::Root => Some("The root token."),
        Key::Secret => Some("A project's secret key."),
        Key::Reader => Some("A secret key, or a publishable key with the user's X-User-Token."),
    });
    op.build()
}

/// `op` with the parameters of `route`: its path's segments, its query and its headers.
fn with_parameters(mut op: OperationBuilder, route: &Route) -> OperationBuilder {
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
                .schema(Some(path_schema(segment))),
        );
    }
    for name in route.query {
        op = op.parameter(
            ParameterBuilder::new()
                .name(*name)
                .parameter_in(ParameterIn::Query)
                .required(Required::False)
                .schema(Some(ObjectBuilder::new().schema_type(SchemaType::Type(Type::String)))),
        );
    }
    for name in route.headers {
        let string = ObjectBuilder::new()
            .schema_type(SchemaType::Type(Type::String))
            .min_length(Some(1))
            .max_length(Some(255))
            .pattern(Some("^[!-~]+$"));
        op = op.parameter(
            ParameterBuilder::new()
                .name(*name)
                .parameter_in(ParameterIn::Header)
                .required(Required::False)
                .description(header_description(name))
                .schema(Some(string)),
        );
    }
    op
}

/// The error codes `route` may answer: its own, then those of its key, its input and its body.
fn error_codes(route: &Route) -> Vec<Code> {
    let mut codes: Vec<Code> = route.errors.to_vec();
    if !matches!(route.key, Key::None) {
        codes.extend([
            Code::Unauthorized,
            Code::Forbidden,
            Code::BackendUnavailable,
            Code::InternalError,
        ]);
    }
    if route.body.is_some() || route.path.contains('{') || !route.query.is_empty() {
        codes.push(Code::InvalidRequest);
    }
    if route.body.is_some() {
        codes.push(Code::PayloadTooLarge);
        codes.push(Code::UnsupportedMediaType);
    }
    codes
}

/// `op` with a problem+json answer per status of `codes`, naming the codes it carries.
fn with_problems(mut op: OperationBuilder, codes: &[Code]) -> OperationBuilder {
    let mut statuses: Vec<u16> = codes.iter().map(|c| c.status().as_u16()).collect();
    statuses.sort_unstable();
    statuses.dedup();
    for status in statuses {
        let listed: Vec<&str> = codes
            .iter()
            .filter(|c| c.status().as_u16() == status)
            .map(|c| c.as_str())
            .collect();
        let problem = ResponseBuilder::new()
            .description(format!("problem+json with code {}", listed.join(", ")))
            .content("application/problem+json", json_of("Problem"));
        op = op.response(status.to_string(), problem);
    }
    op
}

/// Adds each type's schema to a components builder.
macro_rules! schemas {
    ($builder:expr; $($t:ty),* $(,)?) => {
        $builder$(.schema_from::<$t>())*
    };
}

/// The document of `routes`: every path with its operation, and every named schema.
pub fn document(routes: &[Route]) -> OpenApi {
    let mut paths = PathsBuilder::new();
    for route in routes {
        paths = paths.path(route.path, PathItem::new(method(route.method), operation(route)));
    }
    let components = ComponentsBuilder::new().security_scheme(
        "bearer",
        SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
    );
    // Every named schema: bodies, answers and the types they refer to (utoipa does not
    // collect referred types by itself; a test in `routes.rs` checks none is missing).
    let components = schemas!(components;
        Problem, Milli, Sum, SignedAmount, dto::CounterAnswer, dto::SoonestExpiry, dto::PeriodAnswer, dto::OverrideAnswer,
        dto::HoldAnswer, dto::AdjustmentEntry, dto::UserAnswer, dto::KeyInfo,
        crate::quota::plan::GroupDoc, crate::quota::plan::AllowanceDoc, crate::quota::plan::RolloverDoc, crate::quota::plan::PeriodDoc, crate::quota::plan::MatchRule,
        crate::quota::measure::MeasureDoc, Health, PlanDoc, PlanList, ProjectList, KeyList,
        AdjustmentList, UserToken, projects::ProjectBody, projects::ProjectPatch, projects::KeyBody,
        dto::ProjectAnswer, dto::KeyAnswer, subscriptions::SubscriptionBody, subscriptions::OverrideBody,
        dto::SubscriptionAnswer, users::BlockBody, users::AdjustmentBody, dto::AdjustmentAnswer,
        dto::UserPage, dto::EmptyBody, dto::UsageAnswer, dto::ParentUsageAnswer, dto::JobAnswer, dto::DenialAnswer, dto::UsageGroupAnswer, dto::UsageEventAnswer, dto::LedgerAlternativeAnswer, dto::LedgerDenialAnswer,
        dto::UsageEventPageAnswer, dto::DayGroupAnswer, dto::DayAnswer, dto::DailyUsageAnswer,
        user_tokens::UserTokenBody, user_keys::UserKeyBody, dto::UserKeyAnswer, dto::UserKeyList, event::ReserveBody, event::AlternativeBody, event::TrackBody, dto::ReserveAnswer, dto::AlternativeAnswer,
        dto::TrackAnswer, dto::ReservationAnswer, dto::ExtendBody, dto::ExtendAnswer, dto::CommitBody, dto::CloseBody, dto::OutcomeBody, dto::OutcomeAnswer, dto::ModelDayAnswer,
        dto::CommitAnswer, dto::ReleaseAnswer, dto::WebhookBody, dto::WebhookAnswer, dto::WebhookList,
        dto::SecretAnswer, dto::ChangeAnswer, dto::ChangePage, dto::DeliveryIdAnswer, dto::TryAnswer, dto::DeliveryAnswer, dto::DeliveryList,
        dto::CreditMoveAnswer, dto::CategoryAnswer, dto::CreditSummaryAnswer, dto::GrantBody, dto::GrantAnswer, dto::GrantMadeAnswer, dto::GrantList, dto::BalanceAnswer, dto::BalanceList,
        dto::ApprovalAnswer, dto::ApprovalList, dto::ApproveBody, dto::DeclineBody,
        dto::StepRunAnswer, dto::RunLimitsDoc, dto::RunStartAnswer, dto::RunGroupAnswer, dto::RunAnswer, dto::RunList,
        dto::RunExtendAnswer, runs::RunBody,
        dto::SimulationBody, dto::CohortDoc, dto::SimulationStatusAnswer, dto::SimulationProgress, dto::SimulationError, dto::SimulationAnswer,
        dto::PercentilesAnswer, dto::GroupPeakAnswer, dto::TotalsAnswer, dto::ChangeCount, dto::UserScenarioAnswer,
        dto::UserRowAnswer, dto::ReportAnswer, dto::GrantedAnswer, dto::PriceSourceAnswer,
        crate::quota::price::PriceDoc, crate::quota::price::PerSecond, crate::quota::price_tiers::LongContextDoc, crate::quota::price_tiers::BatchDoc,
        crate::quota::catalog::CatalogEntry, prices::CatalogAnswer, prices::PriceAnswer, prices::PriceList,
        operators::OperatorBody, operators::OperatorPatchBody, operators::OperatorAnswer, operators::InvitationAnswer, operators::OperatorList
    )
    .build();
    OpenApiBuilder::new()
        .info(
            InfoBuilder::new()
                .title("quota-gateway")
                .version(env!("CARGO_PKG_VERSION"))
                .description(Some(PROXY))
                .build(),
        )
        .paths(paths.build())
        .components(Some(components))
        .build()
}
