//! What `POST /v1/simulations` is sent, built from the command line's plan, cohort and range.
//! It reads local files and checks arguments only; nothing here talks to the gateway.

use serde_json::{json, Value};

use super::{Candidate, Cohort, SimulateError, SimulateRequest};

/// The `POST /v1/simulations` body; files are read and times checked here, so a mistake in
/// them is told before anything is sent.
pub(super) fn body(request: &SimulateRequest<'_>) -> Result<Value, SimulateError> {
    let candidate = match &request.candidate {
        Candidate::Stored(id) => json!({ "planId": id }),
        Candidate::File(path) => {
            let name = path.display().to_string();
            let text = std::fs::read_to_string(path).map_err(|e| SimulateError::Read(name.clone(), e))?;
            let doc: Value = serde_json::from_str(&text).map_err(|e| SimulateError::Json(name.clone(), e))?;
            if !doc.is_object() {
                return Err(SimulateError::Argument(format!(
                    "{name}: expected one plan document (a JSON object)"
                )));
            }
            doc
        }
    };
    let cohort = match &request.cohort {
        Cohort::Plan(id) => json!({ "planId": id }),
        Cohort::Users(users) => json!({ "userIds": users }),
        Cohort::UsersFile(path) => {
            let name = path.display().to_string();
            let text = std::fs::read_to_string(path).map_err(|e| SimulateError::Read(name, e))?;
            let users: Vec<&str> = text.lines().map(str::trim).filter(|l| !l.is_empty()).collect();
            json!({ "userIds": users })
        }
    };
    let mut body = json!({ "candidate": candidate, "cohort": cohort });
    for (flag, name, value) in [("--from", "from", request.from), ("--to", "to", request.to)] {
        if let Some(value) = value {
            body[name] = json!(time(flag, value)?);
        }
    }
    Ok(body)
}

/// An RFC 3339 time as given, or a date as its UTC midnight.
fn time(flag: &str, text: &str) -> Result<String, SimulateError> {
    if let Ok(date) = chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d") {
        return Ok(format!("{}T00:00:00Z", date.format("%Y-%m-%d")));
    }
    match chrono::DateTime::parse_from_rfc3339(text) {
        Ok(_) => Ok(text.to_string()),
        Err(_) => Err(SimulateError::Argument(format!(
            "{flag}: expected an RFC 3339 time like 2026-10-25T00:00:00Z or a date like 2026-10-25, not {text:?}"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_date_is_its_utc_midnight_and_a_time_is_kept() {
        assert_eq!(time("--from", "2026-10-25").unwrap(), "2026-10-25T00:00:00Z");
        assert_eq!(
            time("--to", "2026-11-24T09:30:00+01:00").unwrap(),
            "2026-11-24T09:30:00+01:00"
        );
        let err = time("--to", "yesterday").unwrap_err().to_string();
        assert!(err.starts_with("--to: expected"), "{err}");
    }
}
