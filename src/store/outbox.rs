//! The alerts outboxes: one stream per hash slot (`<prefix>:{<slot tag>}:outbox`), appended by
//! the data-plane scripts (alerts.lua says what an entry holds), read here by id right after a
//! script, or by age by the sweeper, and emptied once the events are in their project.

use super::layout::parse_user_tag;
use super::record::unit_of_code;
use super::scripts::Statement;
use super::slots::SLOTS;
use super::{Store, StoreError};
use crate::quota::alerts::AlertKind;
use crate::quota::ids::unescape;
use crate::quota::{ApprovalStatus, Milli, Unit};

/// One alert a script decided.
#[derive(Debug, Clone)]
pub struct OutboxEntry {
    /// Stable: the same event has the same id however often it is moved.
    pub event_id: String,
    /// The entry's id in its outbox.
    pub position: String,
    pub outbox: String,
    pub project: String,
    pub user: String,
    /// The subscription's plan, None on the default plan.
    pub plan: Option<String>,
    pub kind: AlertKind,
    pub group: String,
    pub unit: Unit,
    /// Percent of the quota (threshold crossings); None for the others.
    pub threshold: Option<u16>,
    /// A balance's alert: its name and the amount reached (0 for depleted).
    pub credit: Option<(String, Milli)>,
    pub quota: Milli,
    /// Used, or open holds for in-flight groups, when it fired.
    pub level: Milli,
    pub period_start_ms: i64,
    pub period_end_ms: Option<i64>,
    pub at_ms: i64,
    /// An approval request's event: what reserve.lua or decide_approval.lua added.
    pub approval: Option<ApprovalNote>,
    /// A per-value group's alert: the value whose counter crossed.
    pub value: Option<String>,
}

/// The fields of an approval request's event beyond an alert's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApprovalNote {
    pub id: String,
    /// A request's: the denied event, the amount it asked and what open reservations held.
    pub event: String,
    pub amount: Milli,
    pub held: Milli,
    /// A decision's: approved or declined, the override's expiry, a decline's reason and who
    /// decided.
    pub status: ApprovalStatus,
    pub expires_at_ms: Option<i64>,
    pub reason: String,
    pub by: String,
}

type RawEntry = (String, Vec<(String, String)>);

/// An entry's field `name`, "" when it has none.
fn field_of<'a>(fields: &'a [(String, String)], name: &str) -> &'a str {
    fields.iter().find(|(f, _)| f == name).map_or("", |(_, v)| v.as_str())
}

/// What a slot's outbox holds: alerts for the webhooks, and the leases' notes
/// (lua/library/modules/slices.lua), read apart.
#[derive(Debug, Default)]
pub struct Outboxed {
    pub alerts: Vec<OutboxEntry>,
    pub leases: Vec<LeaseNote>,
}

/// A note of the leases in a member's slot outbox: a statement for an ancestor's lease, an
/// intent to take one, or the mark of a placed slice.
#[derive(Debug, Clone)]
pub struct LeaseNote {
    pub outbox: String,
    pub position: String,
    pub project: String,
    pub member: String,
    /// The ancestor whose lease it is.
    pub ancestor: String,
    pub kind: LeaseNoteKind,
}

#[derive(Debug, Clone)]
pub enum LeaseNoteKind {
    Statement(Statement),
    Intent,
    Placed,
    /// The ancestor's ledger entry of a commit on a slice: its fields and values, as JSON.
    Ledger(String),
}

impl Outboxed {
    fn push(&mut self, outbox: &str, raw: RawEntry) -> Result<(), StoreError> {
        match field_of(&raw.1, "type") {
            "slice" | "lease" | "placed" | "ledger" => self.leases.push(lease_note(outbox, raw)?),
            _ => self.alerts.push(entry(outbox, raw)?),
        }
        Ok(())
    }
}

fn lease_note(outbox: &str, (position, fields): RawEntry) -> Result<LeaseNote, StoreError> {
    use base64::Engine;
    let bad = |what: &str| StoreError::Protocol(format!("outbox entry {position}: {what}").into());
    let field = |name: &str| field_of(&fields, name);
    let (project, member) = parse_user_tag(field("tag")).ok_or_else(|| bad("tag"))?;
    let ancestor = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(field("p"))
        .ok()
        .and_then(|b| String::from_utf8(b).ok())
        .ok_or_else(|| bad("p"))?;
    let number = |name: &str| field(name).parse::<u64>().map_err(|_| bad(name));
    let kind = match field("type") {
        "slice" => LeaseNoteKind::Statement(Statement {
            lease: field("ls").to_string(),
            number: number("n")?,
            used: Milli(number("u")?),
            held: Milli(number("h")?),
        }),
        "lease" => LeaseNoteKind::Intent,
        "ledger" => LeaseNoteKind::Ledger(field("entry").to_string()),
        _ => LeaseNoteKind::Placed,
    };
    Ok(LeaseNote {
        outbox: outbox.to_string(),
        position,
        project,
        member,
        ancestor,
        kind,
    })
}

fn entry(outbox: &str, (position, fields): RawEntry) -> Result<OutboxEntry, StoreError> {
    let bad = |what: &str| StoreError::Protocol(format!("outbox entry {position}: {what}").into());
    let field = |name: &str| field_of(&fields, name);
    let (project, user) = parse_user_tag(field("tag")).ok_or_else(|| bad("tag"))?;
    let number = |name: &str| field(name).parse::<i64>().map_err(|_| bad(name));
    let at_ms = position
        .split('-')
        .next()
        .and_then(|ms| ms.parse().ok())
        .ok_or_else(|| bad("id"))?;
    let slot = super::slots::slot(outbox);
    Ok(OutboxEntry {
        event_id: format!("msg_{slot}_{}", position.replace('-', "_")),
        outbox: outbox.to_string(),
        project,
        user,
        plan: Some(field("plan").to_string()).filter(|p| !p.is_empty()),
        kind: match field("type") {
            "threshold" => AlertKind::ThresholdCrossed,
            "limit" => AlertKind::LimitReached,
            "low_balance" => AlertKind::LowBalance,
            "depleted" => AlertKind::Depleted,
            "approval" => AlertKind::ApprovalRequested,
            "approval_decided" => AlertKind::ApprovalDecided,
            _ => return Err(bad("type")),
        },
        value: match field("v") {
            "" => None,
            escaped => unescape(escaped),
        },
        approval: match field("ap") {
            "" => None,
            id => Some(ApprovalNote {
                id: id.to_string(),
                event: field("e").to_string(),
                amount: Milli(field("a").parse().unwrap_or(0)),
                held: Milli(field("h").parse().unwrap_or(0)),
                status: match field("st") {
                    "a" => ApprovalStatus::Approved,
                    "d" => ApprovalStatus::Declined,
                    _ => ApprovalStatus::Pending,
                },
                expires_at_ms: field("x").parse().ok(),
                reason: field("r").to_string(),
                by: field("by").to_string(),
            }),
        },
        credit: match field("b") {
            "" => None,
            balance => Some((balance.to_string(), Milli(u64::try_from(number("t")?).unwrap_or(0)))),
        },
        group: field("g").to_string(),
        unit: unit_of_code(field("k")).ok_or_else(|| bad("unit"))?,
        threshold: Some(field("t"))
            .filter(|_| field("b").is_empty())
            .and_then(|t| t.parse().ok()),
        quota: Milli(u64::try_from(number("q")?).unwrap_or(0)),
        level: Milli(u64::try_from(number("n")?).unwrap_or(0)),
        period_start_ms: number("ps")?,
        period_end_ms: field("pe").parse().ok(),
        at_ms,
        position,
    })
}

impl Store {
    /// The entries `ids` of `outbox` that are still there (a repeated reply names ids moved
    /// long ago).
    pub async fn outbox_entries(&self, outbox: &str, ids: &[String]) -> Result<Outboxed, StoreError> {
        let mut found = Outboxed::default();
        for id in ids {
            let raw: Vec<RawEntry> = self
                .run(|mut conn| async move {
                    Ok(redis::cmd("XRANGE")
                        .arg(outbox)
                        .arg(id)
                        .arg(id)
                        .query_async(&mut conn)
                        .await?)
                })
                .await?;
            for e in raw {
                found.push(outbox, e)?;
            }
        }
        Ok(found)
    }

    /// How many slots' outboxes `outbox_stale` reads in one call: a pipeline on one server
    /// (256 of them: 64 round trips a sweep), one slot on a Cluster.
    pub fn outboxes_per_read(&self) -> usize {
        if self.backend.is_cluster() {
            1
        } else {
            256
        }
    }

    /// Up to `count` entries of each outbox of the slots `slots` written before `before_ms`:
    /// what nodes that died right after their scripts left behind. One pipeline, one round trip,
    /// for all of them: the sweeper reads every slot's outbox, and one call per outbox was
    /// 16,384 round trips a minute, in one burst, most of them reading nothing. (On a Cluster a
    /// pipeline must keep to one slot: the sweeper asks for one slot at a time there.)
    pub async fn outbox_stale(
        &self,
        slots: std::ops::Range<usize>,
        before_ms: i64,
        count: usize,
    ) -> Result<Outboxed, StoreError> {
        let outboxes: Vec<String> = slots.map(|slot| self.keys.outbox(slot % SLOTS)).collect();
        let outboxes = &outboxes;
        let end = format!("({}", before_ms.max(1));
        let end = &end;
        let raw: Vec<Vec<RawEntry>> = self
            .run(|mut conn| async move {
                let mut pipe = redis::pipe();
                for outbox in outboxes {
                    pipe.cmd("XRANGE").arg(outbox).arg("-").arg(end).arg("COUNT").arg(count);
                }
                Ok(pipe.query_async(&mut conn).await?)
            })
            .await?;
        let mut found = Outboxed::default();
        for (outbox, entries) in outboxes.iter().zip(raw) {
            for e in entries {
                found.push(outbox, e)?;
            }
        }
        Ok(found)
    }

    /// Takes the sweeper's turn for `ttl_ms` unless another node has it: one node sweeps at a
    /// time, so the deployment reads the outboxes once per interval whatever its size.
    pub async fn take_sweep_turn(&self, ttl_ms: u64) -> Result<bool, StoreError> {
        let key = format!("{}:sweeper", self.keys.prefix());
        let taken: Option<String> = self
            .run(|mut conn| async move {
                Ok(redis::cmd("SET")
                    .arg(&key)
                    .arg("1")
                    .arg("NX")
                    .arg("PX")
                    .arg(ttl_ms)
                    .query_async(&mut conn)
                    .await?)
            })
            .await?;
        Ok(taken.is_some())
    }

    /// Removes moved entries from their outbox.
    pub async fn outbox_done(&self, outbox: &str, positions: &[String]) -> Result<(), StoreError> {
        if positions.is_empty() {
            return Ok(());
        }
        self.run(|mut conn| async move {
            let _: i64 = redis::cmd("XDEL")
                .arg(outbox)
                .arg(positions)
                .query_async(&mut conn)
                .await?;
            Ok(())
        })
        .await
    }
}
