//! A call's step of a run and its fit, as the API's bodies and the proxy's headers name them:
//! checked the same on both surfaces.

use crate::http::ApiError;
use crate::quota::event::FitAsk;
use crate::quota::ids::check_event;
use crate::quota::{Milli, ReservationId, Step, StepKind, UserId};

/// A reserve's `fit` and `minFit`.
pub(crate) fn fit(fit: Option<&str>, min_fit: Option<Milli>) -> Result<FitAsk, ApiError> {
    let clamp = match fit {
        None => None,
        Some("clamp") => Some(true),
        Some("whole") => Some(false),
        Some(_) => return Err(ApiError::invalid("fit", "must be \"clamp\" or \"whole\"")),
    };
    match min_fit {
        Some(Milli(0)) => Err(ApiError::invalid("minFit", "must be above 0")),
        Some(_) if clamp == Some(false) => Err(ApiError::invalid("minFit", "goes with fit \"clamp\" or a group's")),
        min => Ok(FitAsk { clamp, min }),
    }
}

/// A step's run, action and kind: `runId` a run of the same user; `actionId` and `kind` only
/// with it.
pub(crate) fn step(
    user: &UserId,
    run_id: Option<String>,
    action_id: Option<String>,
    kind: Option<String>,
) -> Result<Option<Step>, ApiError> {
    let Some(run_id) = run_id else {
        if action_id.is_some() {
            return Err(ApiError::invalid(
                "actionId",
                "only a step of a run has one; give runId",
            ));
        }
        if kind.is_some() {
            return Err(ApiError::invalid("kind", "only a step of a run has one; give runId"));
        }
        return Ok(None);
    };
    let run = ReservationId::parse_run(&run_id)
        .filter(|run| run.user() == user)
        .ok_or_else(|| ApiError::invalid("runId", "must be a run of this user (POST /v1/runs answers one)"))?;
    let action = action_id.unwrap_or_default();
    if !action.is_empty() {
        // (Its charset keeps it plain in the run's record and in track's "|"-separated argument.)
        check_event(&action).map_err(|d| ApiError::invalid("actionId", d))?;
    }
    let kind = match kind.as_deref() {
        None => StepKind::Primary,
        Some(text) => {
            StepKind::parse(text).ok_or_else(|| ApiError::invalid("kind", "must be primary, retry or fallback"))?
        }
    };
    Ok(Some(Step {
        run_id: run,
        action,
        kind,
    }))
}
