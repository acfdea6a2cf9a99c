//! The events as receivers get them: `{type, timestamp, data}`, amounts in
//! units, times in RFC 3339 UTC.

use serde::Serialize;

use crate::json::rfc3339;
use crate::quota::Milli;

/// `data` of a quota event.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct QuotaData<'a> {
    pub project_id: &'a str,
    pub user_id: &'a str,
    pub plan_id: Option<&'a str>,
    pub group_id: &'a str,
    pub label: &'a str,
    pub unit: &'a str,
    /// Percent; null for `quota.limit_reached`.
    pub threshold: Option<u16>,
    pub quota: Milli,
    /// Used, or open holds for in-flight groups, when it fired.
    pub used: Milli,
    /// Null for lifetime groups.
    pub period_start: Option<String>,
    pub resets_at: Option<String>,
}

#[derive(Serialize)]
struct Envelope<'a, T: Serialize> {
    #[serde(rename = "type")]
    kind: &'a str,
    timestamp: String,
    data: T,
}

/// The body of an event of `kind` at `at_ms`.
pub fn body<T: Serialize>(kind: &str, at_ms: i64, data: T) -> String {
    serde_json::to_string(&Envelope {
        kind,
        timestamp: rfc3339(at_ms),
        data,
    })
    .unwrap_or_default()
}

/// Period bounds as events carry them: the start of a lifetime group is null too.
pub fn period(start_ms: i64, end_ms: Option<i64>) -> (Option<String>, Option<String>) {
    match end_ms {
        Some(end) => (Some(rfc3339(start_ms)), Some(rfc3339(end))),
        None => (None, None),
    }
}
