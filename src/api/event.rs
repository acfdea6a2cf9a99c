//! The event body that reserve, check and track share, checked before anything reaches Redis.

use serde::Deserialize;
use serde_json::{Map, Value};

use crate::http::step::{fit, step};
use crate::http::ApiError;
use crate::quota::ids::check_event;
use crate::quota::{EventInput, Milli, UserId};

const DEFAULT_TTL_SECONDS: i64 = 60;
const MAX_TTL_SECONDS: i64 = 86_400;

/// `POST /v1/reserve` and `/v1/check`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ReserveBody {
    #[schema(min_length = 1, max_length = 256)]
    pub user_id: String,
    #[schema(pattern = r"^[A-Za-z0-9_.:-]{1,128}$")]
    pub event: String,
    pub quantity: Option<Milli>,
    pub metadata: Option<Map<String, Value>>,
    #[schema(minimum = 1, maximum = 86400)]
    pub ttl_seconds: Option<i64>,
    /// Makes the reserve a step of this run (`POST /v1/runs`): groups the run holds draw from
    /// its budget. Not for `/v1/check`.
    pub run_id: Option<String>,
    /// The original action the step is an attempt of, counted against the run's
    /// `attemptsPerAction`; only with `runId`.
    #[schema(pattern = r"^[A-Za-z0-9_.:-]{1,128}$")]
    pub action_id: Option<String>,
    /// What the step is to its action; only with `runId`. Default `primary`.
    #[schema(value_type = Option<String>, pattern = "^(primary|retry|fallback)$")]
    pub kind: Option<String>,
    /// `clamp`: a hold that does not fit whole takes what is left of its group (every hard
    /// group of the call may), and the answer's `granted` says what the call was granted;
    /// `whole`: no group clamps. Absent: each group's own `fit`.
    #[schema(value_type = Option<String>, pattern = "^(clamp|whole)$")]
    pub fit: Option<String>,
    /// With clamping: the least the call may be granted, in output tokens when the metadata
    /// names `output_tokens`, else in its quantity (default: the groups' `minFit`, else 1).
    pub min_fit: Option<Milli>,
}

/// `POST /v1/track`: no ttl, the usage already happened.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct TrackBody {
    #[schema(min_length = 1, max_length = 256)]
    pub user_id: String,
    #[schema(pattern = r"^[A-Za-z0-9_.:-]{1,128}$")]
    pub event: String,
    pub quantity: Option<Milli>,
    pub metadata: Option<Map<String, Value>>,
    /// Makes the track a step of this run: groups the run holds count in it while it is open.
    pub run_id: Option<String>,
    /// As for reserve; only with `runId`.
    #[schema(pattern = r"^[A-Za-z0-9_.:-]{1,128}$")]
    pub action_id: Option<String>,
    /// As for reserve; only with `runId`.
    #[schema(value_type = Option<String>, pattern = "^(primary|retry|fallback)$")]
    pub kind: Option<String>,
    /// What the call's output came to: `accepted`, `rejected`, `failed` or a word of the app's.
    #[schema(pattern = "^[a-z0-9_.-]{1,32}$")]
    pub outcome: Option<String>,
}

impl ReserveBody {
    /// The event and its ttl in ms.
    pub fn validate(self) -> Result<(EventInput, i64), ApiError> {
        let ttl_ms = ttl_ms(self.ttl_seconds)?;
        let mut input = event_input(self.user_id, self.event, self.quantity, self.metadata)?;
        input.step = step(&input.user, self.run_id, self.action_id, self.kind)?;
        input.fit = fit(self.fit.as_deref(), self.min_fit)?;
        Ok((input, ttl_ms))
    }

    /// A check answers what a plain reserve would: it takes no run.
    pub fn validate_check(self) -> Result<EventInput, ApiError> {
        if self.run_id.is_some() {
            return Err(ApiError::invalid("runId", "a check takes no run; reserve the step"));
        }
        Ok(self.validate()?.0)
    }
}

impl TrackBody {
    pub fn validate(self) -> Result<EventInput, ApiError> {
        let mut input = event_input(self.user_id, self.event, self.quantity, self.metadata)?;
        input.step = step(&input.user, self.run_id, self.action_id, self.kind)?;
        Ok(input)
    }
}

/// `ttlSeconds`: 1 to 86400, 60 when absent.
pub fn ttl_ms(ttl_seconds: Option<i64>) -> Result<i64, ApiError> {
    let ttl_seconds = ttl_seconds.unwrap_or(DEFAULT_TTL_SECONDS);
    if !(1..=MAX_TTL_SECONDS).contains(&ttl_seconds) {
        return Err(ApiError::invalid("ttlSeconds", "must be 1 to 86400"));
    }
    Ok(ttl_seconds * 1000)
}

fn event_input(
    user_id: String,
    event: String,
    quantity: Option<Milli>,
    metadata: Option<Map<String, Value>>,
) -> Result<EventInput, ApiError> {
    let user = UserId::parse(&user_id).map_err(|d| ApiError::invalid("userId", d))?;
    check_event(&event).map_err(|d| ApiError::invalid("event", d))?;
    let metadata = metadata.unwrap_or_default();
    check_metadata(&metadata)?;
    Ok(EventInput {
        user,
        event,
        quantity: quantity.unwrap_or(Milli::from_units(1)),
        metadata,
        step: None,
        fit: Default::default(),
    })
}

/// At most 32 scalar values under keys of at most 64 bytes, strings at most 256 bytes.
pub fn check_metadata(metadata: &Map<String, Value>) -> Result<(), ApiError> {
    crate::quota::event::check_metadata(metadata).map_err(|(field, detail)| ApiError::invalid(field, detail))
}
