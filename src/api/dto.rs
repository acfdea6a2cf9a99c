//! Wire types: request bodies (unknown fields refused) and answers, camelCase, times in RFC 3339 UTC.

use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use std::collections::BTreeMap;
use std::str::FromStr;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;

use crate::quota::{Counter, Milli, Subscription, Window};
use crate::store::{self, AuditEntry, ProjectSettings};

/// An instant on the wire: `2026-11-22T03:09:43.123Z`.
pub fn rfc3339(ms: i64) -> String {
    DateTime::<Utc>::from_timestamp_millis(ms)
        .unwrap_or_default()
        .to_rfc3339_opts(SecondsFormat::Millis, true)
}

#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct CommitBody {
    pub quantity: Option<Milli>,
    pub metadata: Option<Map<String, Value>>,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ExtendBody {
    pub ttl_seconds: i64,
}

#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EmptyBody {}

#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CounterAnswer {
    pub group_id: String,
    pub label: String,
    pub unit: &'static str,
    pub mode: &'static str,
    pub quota: Milli,
    pub used: Milli,
    pub reserved: Milli,
    pub count: Milli,
    pub remaining: Milli,
    pub period_start: Option<String>,
    pub resets_at: Option<String>,
    pub exceeded: bool,
}

impl From<&Counter> for CounterAnswer {
    fn from(c: &Counter) -> Self {
        CounterAnswer {
            group_id: c.group_id.clone(),
            label: c.label.clone(),
            unit: c.unit.as_str(),
            mode: c.mode.as_str(),
            quota: c.quota,
            used: c.used,
            reserved: c.reserved,
            count: c.count(),
            remaining: c.remaining(),
            period_start: c.period_start_ms.map(rfc3339),
            resets_at: c.resets_at_ms.map(rfc3339),
            exceeded: c.exceeded(),
        }
    }
}

pub fn counters(list: &[Counter]) -> Vec<CounterAnswer> {
    list.iter().map(CounterAnswer::from).collect()
}

/// Ids of the groups now past their quota.
pub fn over_quota(list: &[Counter]) -> Vec<String> {
    list.iter()
        .filter(|c| c.exceeded())
        .map(|c| c.group_id.clone())
        .collect()
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ReserveAnswer {
    pub allowed: bool,
    pub reservation_id: Option<String>,
    pub expires_at: Option<String>,
    pub reasons: Vec<&'static str>,
    pub denied_by: Vec<String>,
    pub counters: Vec<CounterAnswer>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CommitAnswer {
    pub reservation_id: String,
    pub status: &'static str,
    pub late: bool,
    pub counters: Vec<CounterAnswer>,
    pub over_quota: Vec<String>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TrackAnswer {
    pub counters: Vec<CounterAnswer>,
    pub over_quota: Vec<String>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ExtendAnswer {
    pub reservation_id: String,
    pub expires_at: String,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct HoldAnswer {
    pub group_id: String,
    /// What the reservation holds, in units.
    pub amount: Milli,
    /// What was committed, once it was.
    pub committed: Option<Milli>,
    pub period_start: Option<String>,
    pub resets_at: Option<String>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ReservationAnswer {
    pub reservation_id: String,
    pub user_id: String,
    pub event: String,
    pub status: &'static str,
    pub expires_at: String,
    pub holds: Vec<HoldAnswer>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ReleaseAnswer {
    pub reservation_id: String,
    pub status: &'static str,
    pub counters: Vec<CounterAnswer>,
}

/// A plan's default period; both ends are null for a lifetime plan, which has no window.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct PeriodAnswer {
    pub start: Option<String>,
    pub end: Option<String>,
}

impl From<Window> for PeriodAnswer {
    fn from(w: Window) -> Self {
        PeriodAnswer {
            start: w.end_ms.map(|_| rfc3339(w.start_ms)),
            end: w.end_ms.map(rfc3339),
        }
    }
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct UsageAnswer {
    pub user_id: String,
    pub plan_id: Option<String>,
    pub status: &'static str,
    pub period: Option<PeriodAnswer>,
    pub counters: Vec<CounterAnswer>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct OverrideAnswer {
    pub quota: Milli,
    pub expires_at: Option<String>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SubscriptionAnswer {
    pub user_id: String,
    /// Null when the user has no plan of their own (the default plan applies).
    pub plan_id: Option<String>,
    pub started_at: Option<String>,
    pub status: &'static str,
    pub reason: Option<String>,
    pub overrides: BTreeMap<String, OverrideAnswer>,
}

impl From<&Subscription> for SubscriptionAnswer {
    fn from(s: &Subscription) -> Self {
        SubscriptionAnswer {
            user_id: s.user_id.clone(),
            plan_id: s.plan_id.clone(),
            started_at: s.started_at_ms.map(rfc3339),
            status: s.status.as_str(),
            reason: s.reason.clone(),
            overrides: s
                .overrides
                .iter()
                .map(|(g, o)| {
                    (
                        g.clone(),
                        OverrideAnswer {
                            quota: o.quota,
                            expires_at: o.expires_at_ms.map(rfc3339),
                        },
                    )
                })
                .collect(),
        }
    }
}

/// A signed amount in units (`-3`, `0.5`), for adjustments.
#[derive(Debug, Clone, Copy)]
pub struct SignedAmount(pub i64);

impl Serialize for SignedAmount {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let magnitude = Milli(self.0.unsigned_abs()).to_string();
        let text = if self.0 < 0 { format!("-{magnitude}") } else { magnitude };
        let number = serde_json::Number::from_str(&text).map_err(serde::ser::Error::custom)?;
        number.serialize(serializer)
    }
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AdjustmentAnswer {
    /// What the counter moved by: the request, or less where zero stopped it.
    pub applied: SignedAmount,
    pub counter: CounterAnswer,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AdjustmentEntry {
    pub at: String,
    pub group_id: String,
    pub period_start: Option<String>,
    pub amount: SignedAmount,
    pub applied: SignedAmount,
    pub before: Milli,
    pub after: Milli,
    pub reason: String,
}

impl From<&AuditEntry> for AdjustmentEntry {
    fn from(e: &AuditEntry) -> Self {
        let int = |s: &str| s.parse::<i64>().unwrap_or(0);
        let start = int(&e.period_start);
        AdjustmentEntry {
            at: rfc3339(int(&e.at)),
            group_id: e.group_id.clone(),
            period_start: (start != 0).then(|| rfc3339(start)),
            amount: SignedAmount(int(&e.requested)),
            applied: SignedAmount(int(&e.applied)),
            before: Milli(int(&e.before).unsigned_abs()),
            after: Milli(int(&e.after).unsigned_abs()),
            reason: e.reason.clone(),
        }
    }
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct UserAnswer {
    pub user_id: String,
    pub plan_id: Option<String>,
    pub status: &'static str,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct UserPage {
    pub data: Vec<UserAnswer>,
    pub next_cursor: Option<String>,
}

impl From<store::UserPage> for UserPage {
    fn from(page: store::UserPage) -> Self {
        UserPage {
            data: page
                .data
                .into_iter()
                .map(|u| UserAnswer {
                    user_id: u.user_id,
                    plan_id: u.plan_id,
                    status: u.status.as_str(),
                })
                .collect(),
            next_cursor: page.next_after.map(|after| URL_SAFE_NO_PAD.encode(after)),
        }
    }
}

/// The user id a cursor continues after.
pub fn decode_cursor(cursor: &str) -> Option<String> {
    String::from_utf8(URL_SAFE_NO_PAD.decode(cursor).ok()?).ok()
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ProjectAnswer {
    pub id: String,
    pub default_plan: Option<String>,
    pub allowed_origins: Vec<String>,
}

impl ProjectAnswer {
    pub fn new(id: &str, settings: ProjectSettings) -> ProjectAnswer {
        ProjectAnswer {
            id: id.to_string(),
            default_plan: settings.default_plan,
            allowed_origins: settings.allowed_origins,
        }
    }
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct KeyAnswer {
    pub key_id: String,
    pub kind: String,
    pub label: String,
    /// Shown only in the answer that created it.
    pub key: String,
}

/// A key as listed: never its secret part.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct KeyInfo {
    pub key_id: String,
    pub kind: String,
    pub label: String,
    pub hint: String,
    pub created_at: String,
}
