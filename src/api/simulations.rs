//! The pricing lab: `POST /v1/simulations` replays a cohort's recorded demand against a
//! candidate plan on a task of its own; `GET /v1/simulations/{simulationId}` answers its
//! progress, then its report (JSON, or the per-user rows as CSV with `Accept: text/csv`).

use actix_web::http::header::CONTENT_TYPE;
use actix_web::{web, HttpRequest, HttpResponse};
use serde_json::Value;

use super::auth::ApiKey;
use super::body;
use super::dto::{share, SimulationAnswer, SimulationBody};
use super::ledger_csv::{field, neutralised};
use crate::gateway::lab::simulations::{Candidate, Cohort, SimulationRequest, SimulationStatus, MAX_USERS};
use crate::http::headers::accepts;
use crate::http::{parse_time, ApiError, AppState};
use crate::quota::ids::check_user_id;
use crate::quota::replay::{Report, Scenario};
use crate::quota::{Milli, Plan, PlanDoc};

/// A cohort of 10,000 named users of 256 bytes each fits.
const MAX_SIMULATION_BODY: usize = 4 << 20;

impl SimulationBody {
    fn validate(self) -> Result<SimulationRequest, ApiError> {
        let to_ms = self.to.as_deref().map(|t| parse_time("to", t)).transpose()?;
        let from_ms = self.from.as_deref().map(|t| parse_time("from", t)).transpose()?;
        let cohort = match (self.cohort.plan_id, self.cohort.user_ids) {
            (Some(plan), None) => Cohort::Plan(plan),
            (None, Some(users)) => {
                if users.is_empty() {
                    return Err(ApiError::invalid("cohort.userIds", "must name at least one user"));
                }
                if users.len() > MAX_USERS {
                    return Err(ApiError::SimulationBound {
                        field: "cohort.userIds".into(),
                        detail: format!("a simulation replays at most {MAX_USERS} users"),
                    });
                }
                for (i, user) in users.iter().enumerate() {
                    check_user_id(user).map_err(|d| ApiError::invalid(format!("cohort.userIds[{i}]"), d))?;
                }
                Cohort::Users(users)
            }
            _ => return Err(ApiError::invalid("cohort", "must have planId or userIds, one of them")),
        };
        Ok(SimulationRequest {
            candidate: candidate(self.candidate)?,
            cohort,
            from_ms,
            to_ms,
        })
    }
}

/// `{"planId": ...}` alone names a stored plan; anything else is a plan document.
fn candidate(value: Value) -> Result<Candidate, ApiError> {
    // Anything but an object is no plan: named as the field itself, not as a part of it.
    if !value.is_object() {
        return Err(ApiError::invalid(
            "candidate",
            "must be a plan document or {\"planId\": …}",
        ));
    }
    if let Some(object) = value.as_object() {
        if object.len() == 1 {
            if let Some(id) = object.get("planId") {
                let id = id
                    .as_str()
                    .ok_or_else(|| ApiError::invalid("candidate.planId", "must be a plan id"))?;
                return Ok(Candidate::Stored(id.to_string()));
            }
        }
    }
    let doc: PlanDoc = body::parse(value.to_string().as_bytes()).map_err(|e| match e {
        ApiError::Invalid { field, detail } => ApiError::invalid(format!("candidate.{field}"), detail),
        other => other,
    })?;
    let id = doc.id.clone().unwrap_or_else(|| "candidate".to_string());
    Ok(Candidate::Draft(Box::new(
        Plan::from_doc(&id, doc).map_err(ApiError::InvalidPlan)?,
    )))
}

pub(crate) async fn start_simulation(
    key: ApiKey,
    state: web::Data<AppState>,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let body: SimulationBody = body::parse(&body::read_up_to(&req, payload, MAX_SIMULATION_BODY).await?)?;
    let request = body.validate()?;
    let project = key.project(&state).await?;
    let simulation = state.gateway.lab().start_simulation(&project, request).await?;
    Ok(HttpResponse::Accepted().json(SimulationAnswer::of(&simulation)))
}

pub(crate) async fn get_simulation(
    key: ApiKey,
    state: web::Data<AppState>,
    path: web::Path<String>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let id = path.into_inner();
    let project = key.project(&state).await?;
    let simulation = state
        .gateway
        .lab()
        .simulation(&project, &id)
        .await?
        .ok_or_else(|| ApiError::SimulationNotFound(id.clone()))?;
    if !accepts(&req, "text/csv") {
        return Ok(HttpResponse::Ok().json(SimulationAnswer::of(&simulation)));
    }
    match (&simulation.status, &simulation.report) {
        (SimulationStatus::Done, Some(report)) => Ok(HttpResponse::Ok()
            .insert_header((CONTENT_TYPE, "text/csv; charset=utf-8"))
            .body(rows_csv(report))),
        (SimulationStatus::Running, _) => Err(ApiError::SimulationRunning(id)),
        _ => Err(ApiError::SimulationFailed(id)),
    }
}

pub(crate) const CSV_HEADER: &str = "userId,recorded,reproduced,newlyDenied,newlyAdmitted,baselineAdmitted,baselineDenied,candidateAdmitted,candidateDenied,candidateEstimated,baselinePeakShare,candidatePeakShare,baselineCrossed,candidateCrossed,baselineCredits,candidateCredits,baselineCents,candidateCents\n";

/// A report's rows as CSV, most affected first: a user's peak share is that of their highest
/// group, the thresholds crossed are separated by spaces.
pub(crate) fn rows_csv(report: &Report) -> String {
    let mut out = String::from(CSV_HEADER);
    let top = |s: &Scenario| share(s.top_ppm()).to_string();
    let crossed = |s: &Scenario| s.crossed.iter().map(u16::to_string).collect::<Vec<_>>().join(" ");
    for r in &report.users {
        // A user id may hold commas, quotes or a leading "=": quoted and neutralised.
        field(&mut out, &neutralised(&r.user));
        let numbers = [
            r.recorded.to_string(),
            r.reproduced.to_string(),
            r.newly_denied.to_string(),
            r.newly_admitted.to_string(),
            r.baseline.admitted.to_string(),
            r.baseline.denied.to_string(),
            r.candidate.admitted.to_string(),
            r.candidate.denied.to_string(),
            r.candidate.estimated.to_string(),
            top(&r.baseline),
            top(&r.candidate),
            crossed(&r.baseline),
            crossed(&r.candidate),
            Milli(r.baseline.credits).to_string(),
            Milli(r.candidate.credits).to_string(),
            Milli(r.baseline.cents).to_string(),
            Milli(r.candidate.cents).to_string(),
        ];
        for cell in numbers {
            out.push(',');
            out.push_str(&cell);
        }
        out.push('\n');
    }
    out
}
