//! The usage ledger in Redis: one stream per user (`qg:{p:u}:ledger`), written by the scripts
//! that change usage, read here a range at a time. Entry ids are Redis times.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde::Deserialize;

use super::{DataStore, Store, StoreError};
use crate::quota::ids::unescape;
use crate::quota::ledger::HeldSpan;
use crate::quota::ledger::PriceNote;
use crate::quota::reservation::StepOf;
use crate::quota::{Category, CreditMove, MeasureDoc, Milli, StepKind, UsageEvent, UsageGroup, UsageKind, UserId};

/// A group as the scripts write it: every number a string.
#[derive(Deserialize)]
struct RawGroup {
    g: String,
    /// A per-value group's value, escaped as in its counter field.
    #[serde(default)]
    v: String,
    /// The unit's code as in the reservation record (left out for count).
    #[serde(default)]
    u: String,
    ps: String,
    #[serde(default)]
    pe: String,
    a: String,
    /// A priced hold's measure (`{"priced":...}`): its price's provenance.
    #[serde(default)]
    pr: String,
}

fn bad(what: &str) -> StoreError {
    StoreError::Protocol(format!("ledger entry: {what}").into())
}

impl Store {
    /// Up to `count` entries of `user`'s ledger after `after` (a position, exclusive) or from
    /// `from_ms`, up to `to_ms` (exclusive), oldest first.
    pub(crate) async fn ledger(
        &self,
        project: &str,
        user: &UserId,
        after: Option<&str>,
        from_ms: i64,
        to_ms: i64,
        count: usize,
    ) -> Result<Vec<UsageEvent>, StoreError> {
        let key = self.keys.user(project, user.as_str()).ledger().to_string();
        let start = match after {
            Some(position) => format!("({position}"),
            None => format!("{}", from_ms.max(0)),
        };
        // Inclusive, to the last millisecond before `to_ms`: an exclusive `(<ms>` end still
        // takes the entries of that very millisecond (Redis completes it with the largest
        // sequence number), which would read an entry at a day's boundary on both days.
        let end = (to_ms - 1).max(0).to_string();
        let raw: Vec<(String, Vec<String>)> = self
            .run(|mut conn| async move {
                Ok(redis::cmd("XRANGE")
                    .arg(&key)
                    .arg(&start)
                    .arg(&end)
                    .arg("COUNT")
                    .arg(count)
                    .query_async(&mut conn)
                    .await?)
            })
            .await?;
        raw.into_iter()
            .map(|(position, fields)| entry(user, position, fields))
            .collect()
    }
}

impl DataStore {
    /// The newest `count` entries of `user`'s ledger older than `before` (an entry's position;
    /// None: from the newest), newest first.
    pub(crate) async fn ledger_newest(
        &self,
        project: &str,
        user: &UserId,
        before: Option<&str>,
        count: usize,
    ) -> Result<Vec<UsageEvent>, StoreError> {
        let key = self.keys.user(project, user.as_str()).ledger().to_string();
        let start = before.map_or("+".to_string(), |position| format!("({position}"));
        let raw: Vec<(String, Vec<String>)> = self
            .run(|mut conn| async move {
                Ok(redis::cmd("XREVRANGE")
                    .arg(&key)
                    .arg(&start)
                    .arg("-")
                    .arg("COUNT")
                    .arg(count)
                    .query_async(&mut conn)
                    .await?)
            })
            .await?;
        raw.into_iter()
            .map(|(position, fields)| entry(user, position, fields))
            .collect()
    }
}

fn entry(user: &UserId, position: String, fields: Vec<String>) -> Result<UsageEvent, StoreError> {
    let field = |name: &str| {
        fields
            .chunks(2)
            .find(|pair| pair[0] == name)
            .and_then(|pair| pair.get(1))
            .filter(|value| !value.is_empty())
            .cloned()
    };
    let kind = field("kind")
        .and_then(|k| UsageKind::parse(&k))
        .ok_or_else(|| bad("kind"))?;
    let time_ms = position
        .split('-')
        .next()
        .and_then(|ms| ms.parse().ok())
        .ok_or_else(|| bad("position"))?;
    let metadata: Option<serde_json::Map<String, serde_json::Value>> =
        field("metadata").and_then(|m| serde_json::from_str(&m).ok());
    let groups = usage_groups(field("groups").as_deref(), metadata.as_ref())?;
    let member = field("member");
    // A parent's entry is named after its member's, so the two have one id.
    let user_tag = URL_SAFE_NO_PAD.encode(member.as_deref().unwrap_or(user.as_str()));
    let reference = field("ref");
    // Stable ids: a commit by its reservation; a track by its reference (its Idempotency-Key,
    // or one the node made for a track without one).
    let credits = credit_moves(kind, &field).ok_or_else(|| bad("credits"))?;
    let id = match (kind, &reference) {
        (
            UsageKind::Commit | UsageKind::LateCommit | UsageKind::RunClose | UsageKind::Release | UsageKind::Expiry,
            Some(reservation),
        ) => {
            format!("{}:{reservation}", kind.as_str())
        }
        (UsageKind::Grant, Some(grant)) => format!("grant:{grant}"),
        (UsageKind::Track, Some(key)) => format!("track:{user_tag}.{}", key.trim_start_matches("track:")),
        _ => format!("{}:{user_tag}.{position}", kind.as_str()),
    };
    Ok(UsageEvent {
        id,
        kind,
        time_ms,
        user: user.clone(),
        event: field("event"),
        metadata,
        quantity: field("quantity").and_then(|q| q.parse().ok()).map(Milli),
        groups,
        reason: field("reason"),
        key_id: field("key"),
        member,
        credits,
        position,
        decided_ms: field("at").map(|at| at.parse().map_err(|_| bad("at"))).transpose()?,
        denied_by: field("denied")
            .map(|set| set.split(',').map(str::to_string).collect())
            .unwrap_or_default(),
        hold: held_span(&field)?,
        step: field("run").map(|run| StepOf {
            run,
            action: field("action").unwrap_or_default(),
            kind: field("step").and_then(|k| StepKind::parse(&k)).unwrap_or_default(),
        }),
        outcome: field("outcome"),
        previous_outcome: field("previous"),
        alternatives: match field("alternatives") {
            Some(asked) => Some(
                super::scripts::ledger_alternatives(&asked, field("chosen").as_deref(), field("denials").as_deref())
                    .ok_or_else(|| bad("alternatives"))?,
            ),
            None => None,
        },
    })
}

/// An entry's groups (`groups`, as the scripts write them), each priced as its entry was.
fn usage_groups(
    raw: Option<&str>,
    metadata: Option<&serde_json::Map<String, serde_json::Value>>,
) -> Result<Vec<UsageGroup>, StoreError> {
    let groups: Vec<RawGroup> = match raw {
        // cjson writes an empty list as an empty object.
        None | Some("{}") => Vec::new(),
        Some(json) => serde_json::from_str(json).map_err(|_| bad("groups"))?,
    };
    groups
        .into_iter()
        .map(|g| {
            Ok(UsageGroup {
                price: price_note(&g.pr, metadata)?,
                unit: super::record::unit_of_code(&g.u).ok_or_else(|| bad("unit"))?,
                period_start_ms: if g.pe.is_empty() { None } else { g.ps.parse().ok() },
                amount_milli: g.a.parse().map_err(|_| bad("amount"))?,
                value: (!g.v.is_empty()).then(|| unescape(&g.v)).flatten(),
                group_id: g.g,
            })
        })
        .collect()
}

/// The span a hold was held over, when the entry tells it (`since`, and what it reserved).
fn held_span(field: &impl Fn(&str) -> Option<String>) -> Result<Option<HeldSpan>, StoreError> {
    Ok(
        match (field("since"), field("reserved").or_else(|| field("quantity"))) {
            (Some(since), Some(reserved)) => Some(HeldSpan {
                since_ms: since.parse().map_err(|_| bad("since"))?,
                reserved: Milli(reserved.parse().map_err(|_| bad("reserved"))?),
                until_ms: field("until")
                    .map(|until| until.parse::<f64>().map(|ms| ms as i64))
                    .transpose()
                    .map_err(|_| bad("until"))?,
                metadata: field("held_metadata").and_then(|m| serde_json::from_str(&m).ok()),
            }),
            _ => None,
        },
    )
}

/// Where a priced group's amount came from: the provider's reported cost when its rule takes
/// it and the entry's metadata has one (as the commit priced it), else the hold's price.
fn price_note(
    raw: &str,
    metadata: Option<&serde_json::Map<String, serde_json::Value>>,
) -> Result<Option<PriceNote>, StoreError> {
    if raw.is_empty() {
        return Ok(None);
    }
    let doc: MeasureDoc = serde_json::from_str(raw).map_err(|_| bad("price"))?;
    let measure = doc.to_measure().map_err(|_| bad("price"))?;
    let Some(priced) = measure.priced() else {
        return Err(bad("price"));
    };
    Ok(Some(PriceNote::of(priced, priced.by_provider(metadata))))
}

/// A burn as the scripts write it (wallet.lua): grant id, milli-credits, category ("p"
/// promotional, "" paid) and cost basis ("" for none); an allowance's id starts with "~".
type RawBurn = (String, String, String, String);

#[derive(serde::Deserialize)]
struct RawGroupCredits {
    b: String,
    #[serde(default, deserialize_with = "super::record::list_or_empty")]
    g: Vec<RawBurn>,
    d: String,
}

fn burn(group: Option<&str>, balance: &str, (id, amount, cat, cost): RawBurn) -> Option<CreditMove> {
    let allowance = id.starts_with('~');
    Some(CreditMove {
        group_id: group.map(str::to_string),
        balance: balance.to_string(),
        amount: Milli(amount.parse().ok()?),
        category: match (allowance, cat.as_str()) {
            (true, _) => None,
            (false, "p") => Some(Category::Promotional),
            (false, _) => Some(Category::Paid),
        },
        cost_basis: cost.parse().ok().map(Milli),
        grant_id: Some(id),
    })
}

/// The credits an entry moved, from its "credits" (commits and tracks: per balance group),
/// "burned" (debt settled) or its own fields (the grant kinds). None when they do not parse.
fn credit_moves(kind: UsageKind, field: &impl Fn(&str) -> Option<String>) -> Option<Vec<CreditMove>> {
    let mut moves = Vec::new();
    match kind {
        UsageKind::Commit | UsageKind::LateCommit | UsageKind::Track | UsageKind::RunClose => {
            let Some(json) = field("credits") else {
                return Some(moves);
            };
            let groups: std::collections::BTreeMap<String, RawGroupCredits> = serde_json::from_str(&json).ok()?;
            for (group, part) in groups {
                for raw in part.g {
                    moves.push(burn(Some(&group), &part.b, raw)?);
                }
                let debt: u64 = part.d.parse().ok()?;
                if debt > 0 {
                    moves.push(CreditMove {
                        group_id: Some(group.clone()),
                        balance: part.b.clone(),
                        grant_id: None,
                        amount: Milli(debt),
                        category: None,
                        cost_basis: None,
                    });
                }
            }
        }
        UsageKind::DebtSettled => {
            let balance = field("balance")?;
            let burned: Vec<RawBurn> = serde_json::from_str(&field("burned")?).ok()?;
            for raw in burned {
                moves.push(burn(None, &balance, raw)?);
            }
        }
        UsageKind::Grant | UsageKind::GrantVoid | UsageKind::GrantExpired => {
            let raw = (
                field("ref")?,
                field("credits")?,
                field("category").unwrap_or_default(),
                field("cost").unwrap_or_default(),
            );
            moves.push(burn(None, &field("balance")?, raw)?);
        }
        UsageKind::Adjustment | UsageKind::Denied | UsageKind::Release | UsageKind::Expiry | UsageKind::Outcome => {}
    }
    Some(moves)
}
