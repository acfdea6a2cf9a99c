//! The alerts outboxes: one stream per hash slot (`<prefix>:{<slot tag>}:outbox`), appended by
//! the data-plane scripts (alerts.lua says what an entry holds), read here by id right after a
//! script, or by age by the sweeper, and emptied once the events are in their project.

use super::layout::parse_user_tag;
use super::record::unit_of_code;
use super::scripts::entries::{self, field, Entry};
use super::scripts::Statement;
use super::slots::SLOTS;
use super::{DataStore, StoreError, WorkersStore};
use crate::quota::alerts::AlertKind;
use crate::quota::ids::unescape;
use crate::quota::{ApprovalStatus, Milli, Unit};

/// One alert a script decided.
#[derive(Debug, Clone)]
pub(crate) struct OutboxEntry {
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
pub(crate) struct ApprovalNote {
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

pub(super) type RawEntry = (String, Vec<(String, String)>);

/// An entry's fields, read by the names its type declares (scripts/entries.rs): a field its
/// type declares must be there, and a number must parse; a field it does not declare reads as
/// empty (an approval's decision has no amount).
struct Read<'a> {
    position: &'a str,
    kind: &'static Entry,
    fields: &'a [(String, String)],
}

impl<'a> Read<'a> {
    /// The entry `raw` as its type declares it; an error for a type no script writes, or
    /// without a field its type declares.
    fn of((position, fields): &'a RawEntry) -> Result<Read<'a>, StoreError> {
        let type_name = fields
            .iter()
            .find(|(f, _)| f == field::TYPE)
            .map_or("", |(_, v)| v.as_str());
        let kind = entries::of(type_name)
            .ok_or_else(|| StoreError::Protocol(format!("outbox entry {position}: type {type_name:?}").into()))?;
        let read = Read { position, kind, fields };
        if let Some(missing) = kind.fields.iter().find(|f| !fields.iter().any(|(name, _)| name == *f)) {
            return Err(read.bad(missing));
        }
        Ok(read)
    }

    fn bad(&self, what: &str) -> StoreError {
        StoreError::Protocol(format!("outbox entry {}: {what}", self.position).into())
    }

    /// Field `name`, "" when its type does not declare it.
    fn text(&self, name: &str) -> &'a str {
        self.fields
            .iter()
            .find(|(f, _)| f == name)
            .map_or("", |(_, v)| v.as_str())
    }

    /// Field `name` as a whole number, an error when it is not one.
    fn number<T: std::str::FromStr>(&self, name: &str) -> Result<T, StoreError> {
        self.text(name).parse().map_err(|_| self.bad(name))
    }

    /// Field `name` in milli-units: 0 when its type does not declare it, an error when it is
    /// not a whole number at least 0.
    fn milli(&self, name: &str) -> Result<Milli, StoreError> {
        if self.kind.has(name) {
            self.number(name).map(Milli)
        } else {
            Ok(Milli::ZERO)
        }
    }

    /// Field `name` as a number, None when empty (or undeclared), an error when it is another
    /// text.
    fn optional<T: std::str::FromStr>(&self, name: &str) -> Result<Option<T>, StoreError> {
        match self.text(name) {
            "" => Ok(None),
            _ => self.number(name).map(Some),
        }
    }
}

/// What a slot's outbox holds: alerts for the webhooks, and the leases' notes
/// (lua/library/modules/slices.lua), read apart.
#[derive(Debug, Default)]
pub(crate) struct Outboxed {
    pub alerts: Vec<OutboxEntry>,
    pub leases: Vec<LeaseNote>,
}

/// A note of the leases in a member's slot outbox: a statement for an ancestor's lease, an
/// intent to take one, or the mark of a placed slice.
#[derive(Debug, Clone)]
pub(crate) struct LeaseNote {
    pub outbox: String,
    pub position: String,
    pub project: String,
    pub member: String,
    /// The ancestor whose lease it is.
    pub ancestor: String,
    pub kind: LeaseNoteKind,
}

#[derive(Debug, Clone)]
pub(crate) enum LeaseNoteKind {
    Statement(Statement),
    Intent,
    Placed,
    /// The ancestor's ledger entry of a commit on a slice: its fields and values, as JSON.
    Ledger(String),
}

impl Outboxed {
    pub(super) fn push(&mut self, outbox: &str, raw: RawEntry) -> Result<(), StoreError> {
        let read = Read::of(&raw)?;
        let kind = read.kind;
        if [
            &entries::STATEMENT,
            &entries::INTENT,
            &entries::PLACED,
            &entries::LEDGER,
        ]
        .iter()
        .any(|e| e.types == kind.types)
        {
            self.leases.push(lease_note(outbox, &read)?);
        } else {
            self.alerts.push(entry(outbox, &read)?);
        }
        Ok(())
    }
}

fn lease_note(outbox: &str, read: &Read<'_>) -> Result<LeaseNote, StoreError> {
    use base64::Engine;
    let (project, member) = parse_user_tag(read.text(field::TAG)).ok_or_else(|| read.bad(field::TAG))?;
    let ancestor = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(read.text(field::ANCESTOR))
        .ok()
        .and_then(|b| String::from_utf8(b).ok())
        .ok_or_else(|| read.bad(field::ANCESTOR))?;
    let kind = match read.text(field::TYPE) {
        "slice" => LeaseNoteKind::Statement(Statement {
            lease: read.text(field::LEASE).to_string(),
            number: read.number(field::LEVEL)?,
            used: read.milli(field::USED)?,
            held: read.milli(field::HELD)?,
        }),
        "lease" => LeaseNoteKind::Intent,
        "ledger" => LeaseNoteKind::Ledger(read.text(field::ENTRY).to_string()),
        _ => LeaseNoteKind::Placed,
    };
    Ok(LeaseNote {
        outbox: outbox.to_string(),
        position: read.position.to_string(),
        project,
        member,
        ancestor,
        kind,
    })
}

fn entry(outbox: &str, read: &Read<'_>) -> Result<OutboxEntry, StoreError> {
    use field::*;
    let position = read.position;
    let (project, user) = parse_user_tag(read.text(TAG)).ok_or_else(|| read.bad(TAG))?;
    let at_ms = position
        .split('-')
        .next()
        .and_then(|ms| ms.parse().ok())
        .ok_or_else(|| read.bad("id"))?;
    let slot = super::slots::slot(outbox);
    Ok(OutboxEntry {
        event_id: format!("msg_{slot}_{}", position.replace('-', "_")),
        outbox: outbox.to_string(),
        project,
        user,
        plan: Some(read.text(PLAN).to_string()).filter(|p| !p.is_empty()),
        kind: match read.text(TYPE) {
            "threshold" => AlertKind::ThresholdCrossed,
            "limit" => AlertKind::LimitReached,
            "low_balance" => AlertKind::LowBalance,
            "depleted" => AlertKind::Depleted,
            "approval" => AlertKind::ApprovalRequested,
            "approval_decided" => AlertKind::ApprovalDecided,
            _ => return Err(read.bad(TYPE)),
        },
        value: match read.text(VALUE) {
            "" => None,
            escaped => Some(unescape(escaped).ok_or_else(|| read.bad(VALUE))?),
        },
        approval: match read.text(APPROVAL) {
            "" => None,
            id => Some(ApprovalNote {
                id: id.to_string(),
                event: read.text(EVENT).to_string(),
                amount: read.milli(AMOUNT)?,
                held: read.milli(HELD)?,
                status: match read.text(STATE) {
                    "a" => ApprovalStatus::Approved,
                    "d" => ApprovalStatus::Declined,
                    _ => ApprovalStatus::Pending,
                },
                expires_at_ms: read.optional(EXPIRES)?,
                reason: read.text(REASON).to_string(),
                by: read.text(BY).to_string(),
            }),
        },
        credit: match read.text(BALANCE) {
            "" => None,
            balance => Some((balance.to_string(), read.milli(THRESHOLD)?)),
        },
        group: read.text(GROUP).to_string(),
        unit: unit_of_code(read.text(UNIT)).ok_or_else(|| read.bad(UNIT))?,
        // A counter's threshold in percent ("" for a limit); a balance alert's is its amount.
        threshold: if read.text(BALANCE).is_empty() {
            read.optional(THRESHOLD)?
        } else {
            None
        },
        quota: read.milli(QUOTA)?,
        level: read.milli(LEVEL)?,
        period_start_ms: read.number(PERIOD_START)?,
        period_end_ms: read.optional(PERIOD_END)?,
        at_ms,
        position: position.to_string(),
    })
}

impl DataStore {
    /// The entries `ids` of `outbox` that are still there (a repeated reply names ids moved
    /// long ago).
    pub(crate) async fn outbox_entries(&self, outbox: &str, ids: &[String]) -> Result<Outboxed, StoreError> {
        let mut found = Outboxed::default();
        for e in self.raw_entries(outbox, ids).await?.into_iter().flatten() {
            found.push(outbox, e)?;
        }
        Ok(found)
    }

    /// Entries `ids` of `outbox` as Redis answers them, one list per id (empty when gone): one
    /// pipeline, one round trip, since every id is in the one outbox, so in one slot.
    pub(super) async fn raw_entries(&self, outbox: &str, ids: &[String]) -> Result<Vec<Vec<RawEntry>>, StoreError> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        self.run(|mut conn| async move {
            let mut pipe = redis::pipe();
            for id in ids {
                pipe.cmd("XRANGE").arg(outbox).arg(id).arg(id);
            }
            Ok(pipe.query_async(&mut conn).await?)
        })
        .await
    }

    /// Removes moved entries from their outbox.
    pub(crate) async fn outbox_done(&self, outbox: &str, positions: &[String]) -> Result<(), StoreError> {
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

impl WorkersStore {
    /// How many slots' outboxes `outbox_stale` reads in one call: a pipeline on one server
    /// (256 of them: 64 round trips a sweep), one slot on a Cluster.
    pub(crate) fn outboxes_per_read(&self) -> usize {
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
    pub(crate) async fn outbox_stale(
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
    pub(crate) async fn take_sweep_turn(&self, ttl_ms: u64) -> Result<bool, StoreError> {
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
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(pairs: &[(&str, &str)]) -> RawEntry {
        let fields = pairs.iter().map(|(f, v)| (f.to_string(), v.to_string())).collect();
        ("1700000000000-0".to_string(), fields)
    }

    /// A limit alert as alerts.lua's fire writes it.
    fn limit(quota: &str) -> RawEntry {
        raw(&[
            ("tag", "default:u1"),
            ("plan", "p"),
            ("type", "limit"),
            ("g", "g"),
            ("k", ""),
            ("t", ""),
            ("q", quota),
            ("n", "7000"),
            ("ps", "0"),
            ("pe", ""),
            ("v", ""),
        ])
    }

    #[test]
    fn an_entry_reads_as_its_type_declares_it_and_a_field_that_does_not_parse_is_an_error() {
        let mut found = Outboxed::default();
        found.push("qg:{0}:outbox", limit("5000")).unwrap();
        let alert = &found.alerts[0];
        assert_eq!(
            (alert.quota, alert.level, alert.threshold),
            (Milli(5000), Milli(7000), None)
        );
        assert_eq!(alert.period_end_ms, None);
        // A quota that is no whole number at least 0 was read as 0; it is refused now.
        for bad in ["-1", "x", ""] {
            assert!(Outboxed::default().push("qg:{0}:outbox", limit(bad)).is_err(), "{bad}");
        }
        // As is an entry without a field its type declares, and one of a type no script writes.
        let (position, mut fields) = limit("5000");
        fields.retain(|(f, _)| f != "n");
        assert!(Outboxed::default().push("o", (position.clone(), fields)).is_err());
        let (_, mut fields) = limit("5000");
        fields[2].1 = "limits".into();
        assert!(Outboxed::default().push("o", (position, fields)).is_err());
    }

    #[test]
    fn an_approvals_decision_has_no_amount_and_a_request_must_say_its_own() {
        let decided = raw(&[
            ("tag", "default:u1"),
            ("plan", ""),
            ("type", "approval_decided"),
            ("g", "g"),
            ("k", ""),
            ("t", ""),
            ("q", "0"),
            ("n", "0"),
            ("ps", "0"),
            ("pe", ""),
            ("ap", "apr_1"),
            ("st", "a"),
            ("x", ""),
            ("r", ""),
            ("by", "op"),
            ("v", ""),
        ]);
        let mut found = Outboxed::default();
        found.push("o", decided).unwrap();
        let note = found.alerts[0].approval.clone().unwrap();
        assert_eq!(
            (note.amount, note.held, note.status),
            (Milli::ZERO, Milli::ZERO, ApprovalStatus::Approved)
        );
        let request = |amount: &str| {
            raw(&[
                ("tag", "default:u1"),
                ("plan", ""),
                ("type", "approval"),
                ("g", "g"),
                ("k", ""),
                ("t", ""),
                ("q", "5000"),
                ("n", "5000"),
                ("h", "0"),
                ("ps", "0"),
                ("pe", ""),
                ("ap", "apr_1"),
                ("e", "e"),
                ("a", amount),
                ("v", ""),
            ])
        };
        let mut found = Outboxed::default();
        found.push("o", request("1000")).unwrap();
        assert_eq!(found.alerts[0].approval.as_ref().unwrap().amount, Milli(1000));
        assert!(Outboxed::default().push("o", request("")).is_err());
    }

    #[test]
    fn a_statement_reads_its_numbers_and_refuses_another_text() {
        let statement = |used: &str| {
            raw(&[
                ("type", "slice"),
                ("tag", "default:u1"),
                ("p", "dGVhbQ"),
                ("ls", "l1.1"),
                ("n", "3"),
                ("u", used),
                ("h", "0"),
            ])
        };
        let mut found = Outboxed::default();
        found.push("o", statement("2000")).unwrap();
        match &found.leases[0].kind {
            LeaseNoteKind::Statement(s) => assert_eq!((s.number, s.used), (3, Milli(2000))),
            other => panic!("{other:?}"),
        }
        assert!(Outboxed::default().push("o", statement("-5")).is_err());
    }
}
