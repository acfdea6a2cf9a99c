//! The events as receivers get them: `{type, timestamp, data}`, amounts in
//! units, times in RFC 3339 UTC.

use serde::Serialize;

use crate::json::rfc3339;
use crate::quota::Milli;

/// Who answers for a budget and what an event is about: carried by every quota, balance and
/// approval event, so "alert with owner and scope attached" holds as written.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Policy<'a> {
    /// The group's `owner`, else its plan's; null when neither names one.
    pub owner: Option<&'a str>,
    /// `day`, `week` or `month`; null when not set.
    pub review_every: Option<&'a str>,
    pub scope: Scope<'a>,
}

/// The subject, plan, group (and per-value value) and period an event is about.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Scope<'a> {
    pub subject: &'a str,
    pub plan_id: Option<&'a str>,
    pub group_id: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value: Option<&'a str>,
    /// Null for lifetime groups and balances.
    pub period_start: Option<String>,
    pub resets_at: Option<String>,
}

/// `data` of a quota event.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct QuotaData<'a> {
    pub project_id: &'a str,
    pub user_id: &'a str,
    pub plan_id: Option<&'a str>,
    pub group_id: &'a str,
    /// A per-value group's value whose counter it was (absent on other groups).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value: Option<&'a str>,
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
    #[serde(flatten)]
    pub policy: Policy<'a>,
}

/// `data` of a balance's event (`credits.low_balance`, `credits.depleted`).
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct CreditData<'a> {
    pub project_id: &'a str,
    pub user_id: &'a str,
    pub plan_id: Option<&'a str>,
    /// The balance group whose alert it was.
    pub group_id: &'a str,
    pub balance: &'a str,
    /// The `lowBalance` amount reached (0 for `credits.depleted`).
    pub threshold: Milli,
    /// What could be spent when it fired.
    pub available: Milli,
    #[serde(flatten)]
    pub policy: Policy<'a>,
}

/// `data` of an approval request's events (`quota.approval_requested`,
/// `quota.approval_decided`): the request as `GET /v1/approvals` lists it, with the plan.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ApprovalData<'a> {
    pub approval_id: &'a str,
    pub project_id: &'a str,
    pub user_id: &'a str,
    pub plan_id: Option<&'a str>,
    pub group_id: &'a str,
    /// A per-value group's value whose request it is (absent on other groups).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value: Option<&'a str>,
    pub label: &'a str,
    /// pending, approved or declined.
    pub status: &'a str,
    /// The denied event and what it asked of the group.
    pub event: &'a str,
    pub amount: Milli,
    /// The counter when it was denied.
    pub used: Milli,
    pub reserved: Milli,
    pub quota: Milli,
    pub period_start: Option<String>,
    pub resets_at: Option<String>,
    pub requested_at: String,
    pub decided_at: Option<String>,
    /// An approval's new quota and until when it holds.
    pub approved_quota: Option<Milli>,
    pub expires_at: Option<String>,
    /// A decline's reason.
    pub reason: Option<&'a str>,
    pub decided_by: Option<&'a str>,
    #[serde(flatten)]
    pub policy: Policy<'a>,
}

#[derive(Serialize)]
struct Envelope<'a, T: Serialize> {
    #[serde(rename = "type")]
    kind: &'a str,
    timestamp: String,
    data: T,
}

/// The body of an event of `kind` at `at_ms`. A body that cannot be written is an error, never
/// an empty text: an empty body would be signed and delivered as though it were the event.
pub(crate) fn body<T: Serialize>(kind: &str, at_ms: i64, data: T) -> Result<String, serde_json::Error> {
    serde_json::to_string(&Envelope {
        kind,
        timestamp: rfc3339(at_ms),
        data,
    })
}

/// Period bounds as events carry them: the start of a lifetime group is null too.
pub(crate) fn period(start_ms: i64, end_ms: Option<i64>) -> (Option<String>, Option<String>) {
    match end_ms {
        Some(end) => (Some(rfc3339(start_ms)), Some(rfc3339(end))),
        None => (None, None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Data whose serialisation fails, as a map with a non-string key would.
    struct Unwritable;

    impl Serialize for Unwritable {
        fn serialize<S: serde::Serializer>(&self, _: S) -> Result<S::Ok, S::Error> {
            Err(serde::ser::Error::custom("no JSON for this"))
        }
    }

    #[test]
    fn a_body_that_cannot_be_written_is_an_error_never_an_empty_text() {
        assert!(body("webhook.test", 0, Unwritable).is_err());
        let written = body("webhook.test", 0, serde_json::json!({ "a": 1 })).unwrap();
        assert!(written.starts_with(r#"{"type":"webhook.test","timestamp":"1970-01-01T00:00:00"#));
        assert!(written.ends_with(r#""data":{"a":1}}"#), "{written}");
    }
}
