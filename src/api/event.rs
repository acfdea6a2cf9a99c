//! The event body that reserve, check and track share, checked before anything reaches Redis.

use serde::Deserialize;
use serde_json::{Map, Value};

use crate::http::step::{fit, step};
use crate::http::ApiError;
use crate::quota::ids::check_event;
use crate::quota::{EventInput, Milli, UserId, MAX_ALTERNATIVES};

const DEFAULT_TTL_SECONDS: i64 = 60;
const MAX_TTL_SECONDS: i64 = 86_400;

/// `POST /v1/reserve` and `/v1/check`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ReserveBody {
    #[schema(min_length = 1, max_length = 256)]
    pub user_id: String,
    /// The event to hold quota for; a reserve may name `alternatives` instead.
    #[schema(pattern = r"^[A-Za-z0-9_.:-]{1,128}$")]
    pub event: Option<String>,
    pub quantity: Option<Milli>,
    pub metadata: Option<Map<String, Value>>,
    /// In place of `event` (not for `/v1/check`): 1 to 8 events in the order preferred, of
    /// which the first that every matched group admits is held, decided at once; the answer's
    /// `chosen` says which.
    #[schema(min_items = 1, max_items = 8)]
    pub alternatives: Option<Vec<AlternativeBody>>,
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

/// One alternative of a reserve: an event, its quantity (default 1) and its metadata.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AlternativeBody {
    #[schema(pattern = r"^[A-Za-z0-9_.:-]{1,128}$")]
    pub event: String,
    pub quantity: Option<Milli>,
    pub metadata: Option<Map<String, Value>>,
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
        if self.alternatives.is_some() {
            return Err(ApiError::invalid(
                "alternatives",
                "give event or alternatives, not both",
            ));
        }
        let event = self
            .event
            .ok_or_else(|| ApiError::invalid("event", "required, or alternatives in its place"))?;
        let ttl_ms = ttl_ms(self.ttl_seconds)?;
        let mut input = event_input(self.user_id, event, self.quantity, self.metadata)?;
        input.step = step(&input.user, self.run_id, self.action_id, self.kind)?;
        input.fit = fit(self.fit.as_deref(), self.min_fit)?;
        Ok((input, ttl_ms))
    }

    /// A check answers what a plain reserve would: it takes no run, and one event.
    pub fn validate_check(self) -> Result<EventInput, ApiError> {
        if self.run_id.is_some() {
            return Err(ApiError::invalid("runId", "a check takes no run; reserve the step"));
        }
        if self.alternatives.is_some() {
            return Err(ApiError::invalid(
                "alternatives",
                "a check takes one event; reserve the alternatives",
            ));
        }
        Ok(self.validate()?.0)
    }

    /// Whether the body names alternatives (`validate_first`) rather than one event.
    pub fn has_alternatives(&self) -> bool {
        self.alternatives.is_some()
    }

    /// A reserve of alternatives: each one's event, in order, and the ttl in ms. The call's
    /// run, fit and user are every alternative's; quantity and metadata are each one's own.
    pub fn validate_first(self) -> Result<(Vec<EventInput>, i64), ApiError> {
        let Some(alternatives) = self.alternatives else {
            return Err(ApiError::invalid("alternatives", "required"));
        };
        if self.event.is_some() {
            return Err(ApiError::invalid(
                "alternatives",
                "give event or alternatives, not both",
            ));
        }
        if !(1..=MAX_ALTERNATIVES).contains(&alternatives.len()) {
            return Err(ApiError::invalid("alternatives", "must list 1 to 8 alternatives"));
        }
        for (given, field) in [
            (self.quantity.is_some(), "quantity"),
            (self.metadata.is_some(), "metadata"),
        ] {
            if given {
                return Err(ApiError::invalid(field, "goes in each alternative with alternatives"));
            }
        }
        let ttl_ms = ttl_ms(self.ttl_seconds)?;
        let user = UserId::parse(&self.user_id).map_err(|d| ApiError::invalid("userId", d))?;
        let step = step(&user, self.run_id, self.action_id, self.kind)?;
        let fit = fit(self.fit.as_deref(), self.min_fit)?;
        let inputs = alternatives
            .into_iter()
            .enumerate()
            .map(|(i, a)| {
                let named = |field: &str| format!("alternatives[{i}].{field}");
                check_event(&a.event).map_err(|d| ApiError::invalid(named("event"), d))?;
                let metadata = a.metadata.unwrap_or_default();
                crate::quota::event::check_metadata(&metadata)
                    .map_err(|(field, d)| ApiError::invalid(named(&field), d))?;
                Ok(EventInput {
                    user: user.clone(),
                    event: a.event,
                    quantity: a.quantity.unwrap_or(Milli::from_units(1)),
                    metadata,
                    step: step.clone(),
                    fit,
                    fallback: None,
                })
            })
            .collect::<Result<_, ApiError>>()?;
        Ok((inputs, ttl_ms))
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
        fallback: None,
    })
}

/// At most 32 scalar values under keys of at most 64 bytes, strings at most 256 bytes.
pub fn check_metadata(metadata: &Map<String, Value>) -> Result<(), ApiError> {
    crate::quota::event::check_metadata(metadata).map_err(|(field, detail)| ApiError::invalid(field, detail))
}
