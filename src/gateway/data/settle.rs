//! Commit and release: end one reservation exactly once, by what its record says, never by the
//! plan as it is now. The plan only lends its labels to the answer. A reservation of a user
//! with parents is ended at each level in turn, each level's record naming the next; each
//! level ends exactly once by itself, so a repeat completes the levels a crash left.

use std::borrow::Cow;
use std::time::Instant;

use serde_json::{Map, Value};

use super::parents::walk_up;
use super::resolve::Freshness;
use super::track::{metadata_json, Who};
use super::DataPlane;
use super::Idempotency;
use crate::gateway::outcome::{Effect, Observed, Verb};
use crate::gateway::GatewayError;
use crate::quota::{Counter, Measure, Milli, Reservation, ReservationId, ReservationState, UserId};
use crate::store::{LedgerEntry, SettleReply, StoreError};

/// How a commit or release went.
#[derive(Debug, Clone)]
pub enum Settlement {
    /// No such reservation in this project.
    NotFound,
    /// It already ended the other way.
    Conflict(ReservationState),
    Settled(Settled),
}

#[derive(Debug, Clone)]
pub struct Settled {
    /// Committed, released, or expired (a release after expiry).
    pub status: ReservationState,
    pub late: bool,
    pub counters: Vec<Counter>,
    /// The next level up, which the reservation reaches as well.
    pub parent: Option<String>,
}

impl Observed for Settlement {
    fn effect(&self) -> Effect<'_> {
        match self {
            Settlement::Settled(s) => Effect::Settled {
                state: s.status,
                late: s.late,
                counters: &s.counters,
            },
            Settlement::NotFound | Settlement::Conflict(_) => Effect::Answered,
        }
    }
}

/// What a commit says of its reservation; each None is "as reserved" or "not said".
#[derive(Debug, Default, Clone, Copy)]
pub struct Commit<'a> {
    /// The actual quantity; None: as reserved.
    pub quantity: Option<Milli>,
    /// The actual metadata, which each hold's measure recomputes from; None: as reserved.
    pub metadata: Option<&'a Map<String, Value>>,
    /// What the call's output came to, when the caller says.
    pub outcome: Option<&'a str>,
    pub idempotency: Option<&'a Idempotency>,
    /// The key that commits, for the ledger.
    pub key_id: &'a str,
    /// The model the provider says did the work, when it may not be the one held (an async
    /// job's): each hold priced by a model is priced at this one's price instead.
    pub priced_as: Option<&'a str>,
    /// The reservation's record as its reserve kept it (`Granted::record`): the user's level
    /// is committed by it, unread.
    pub record: Option<&'a Reservation>,
}

impl DataPlane {
    /// Turns a reservation into usage at every level: as reserved, or with the actual
    /// quantity and metadata recomputed by each hold's own measure; with what its output came
    /// to when the caller says (`outcome`).
    pub async fn commit(
        &self,
        project: &str,
        id: &ReservationId,
        commit: Commit<'_>,
    ) -> Result<Settlement, GatewayError> {
        let Commit {
            quantity,
            metadata,
            outcome,
            idempotency,
            key_id,
            priced_as,
            record,
        } = commit;
        let started = Instant::now();
        let member = id.user().as_str();
        let answer = self
            .settle_levels(id, async |subject, late_below| {
                let actual = Actual {
                    quantity,
                    metadata,
                    priced_as,
                    // (The user's level is the one without a level below it.)
                    record: record.filter(|_| late_below.is_none()),
                };
                let who = Who {
                    key_id,
                    member: "",
                    reference: "",
                    outcome,
                };
                if late_below.is_none() {
                    return self
                        .commit_level(project, subject, id, actual, idempotency, who, None)
                        .await;
                }
                let idempotency = idempotency.map(|i| i.under(member));
                let who = Who { member, ..who };
                self.commit_level(project, subject, id, actual, idempotency.as_ref(), who, late_below)
                    .await
            })
            .await;
        self.node
            .report(Verb::Commit, project, Some(id.user()), started, &answer);
        answer
    }

    /// Gives a reservation's holds back at every level.
    pub async fn release(&self, project: &str, id: &ReservationId) -> Result<Settlement, GatewayError> {
        self.release_labelled(project, id, None).await
    }

    /// As `release`, its ledger entries saying `labels` on top of what the reservation
    /// recorded (a proxied job's id, known only after its hold was made).
    pub async fn release_labelled(
        &self,
        project: &str,
        id: &ReservationId,
        labels: Option<&Map<String, Value>>,
    ) -> Result<Settlement, GatewayError> {
        let started = Instant::now();
        let answer = self
            .settle_levels(id, async |subject, _| {
                let metadata = match labels {
                    Some(labels) => self.labelled_metadata(project, subject, id, labels).await?,
                    None => String::new(),
                };
                let reply = self.release_level(project, subject, id, &metadata).await?;
                self.settlement(project, subject, reply).await
            })
            .await;
        self.node
            .report(Verb::Release, project, Some(id.user()), started, &answer);
        answer
    }

    /// Ends the reservation at the user's level with `end`, then at each level above that the
    /// record names (`end` is told, above the user's level, whether the user's level ended
    /// late). A level that never held (a node stopped between levels when reserving) ends the
    /// walk; the answer is the user's level's, with every level's counters.
    async fn settle_levels(
        &self,
        id: &ReservationId,
        end: impl AsyncFn(&UserId, Option<bool>) -> Result<Settlement, GatewayError>,
    ) -> Result<Settlement, GatewayError> {
        let user = id.user();
        let mut answer = match end(user, None).await? {
            Settlement::Settled(answer) => answer,
            other => return Ok(other),
        };
        let (parent, late) = (answer.parent.take(), answer.late);
        walk_up(user, parent, async |level| {
            self.parents().between_levels().await;
            let Settlement::Settled(settled) = end(level.subject, Some(late)).await? else {
                return Ok(None);
            };
            let subject = level.subject.as_str();
            answer
                .counters
                .extend(settled.counters.into_iter().map(|c| c.of_subject(subject)));
            Ok(settled.parent)
        })
        .await?;
        Ok(Settlement::Settled(answer))
    }

    /// Commits the reservation's record at `subject`'s level; its ledger entry names `who` made
    /// it and, at a parent's level, says late when the member's level committed late
    /// (`late_below`).
    #[allow(clippy::too_many_arguments)]
    async fn commit_level(
        &self,
        project: &str,
        subject: &UserId,
        id: &ReservationId,
        said: Actual<'_>,
        idempotency: Option<&Idempotency>,
        who: Who<'_>,
        late_below: Option<bool>,
    ) -> Result<Settlement, GatewayError> {
        let on = self.ledger_for(project, subject).await?;
        // Without an actual amount or metadata the script counts what was held and the entry
        // says what the record does; else each hold's measure counts them (`counted`).
        let (actual, entry_metadata, read) = match (said.quantity, said.metadata) {
            (None, None) => (None, String::new(), None),
            _ => match self.counted(project, subject, id, said, on).await? {
                Some((amounts, entry, read)) => (Some(amounts), entry, Some(read)),
                None => return Ok(Settlement::NotFound),
            },
        };
        let entry = &LedgerEntry {
            event: "",
            metadata: entry_metadata,
            quantity: said.quantity,
            key_id: who.key_id,
            member: who.member,
            reference: who.reference,
            late_below,
            step: None,
            outcome: who.outcome,
        };
        let reply = self
            .node
            .drive(project, subject, async || {
                Ok(self
                    .store
                    .commit(
                        project,
                        subject,
                        id,
                        idempotency.map(Idempotency::stored),
                        actual.as_deref(),
                        entry,
                        on,
                        read.as_deref(),
                    )
                    .await?)
            })
            .await?;
        self.settlement(project, subject, reply).await
    }

    /// What a commit naming its `actual` quantity or metadata counts at `subject`'s level:
    /// each hold's amount by its own measure, the ledger entry's metadata (the reservation's
    /// with the commit's on top; "" when the project keeps no ledger) and the record, which the
    /// answer takes its holds from. The record is the one the reserve kept, else read (None:
    /// there is none): commit.lua refuses amounts that are not one per hold of the record it
    /// finds (`mismatch`). A read record's metadata is moved into the entry's, which the
    /// answer does not read.
    async fn counted<'r>(
        &self,
        project: &str,
        subject: &UserId,
        id: &ReservationId,
        actual: Actual<'r>,
        on: bool,
    ) -> Result<Option<(Vec<Milli>, String, Cow<'r, Reservation>)>, GatewayError> {
        let (mut reservation, held) = match actual.record {
            Some(kept) => (Cow::Borrowed(kept), kept.metadata.as_ref().map(Cow::Borrowed)),
            None => match self.store.reservation(project, subject, id).await? {
                Some(mut read) => {
                    let held = read.metadata.take().map(Cow::Owned);
                    (Cow::Owned(read), held)
                }
                None => return Ok(None),
            },
        };
        if let Some(model) = actual.priced_as {
            let batch = held
                .as_deref()
                .is_some_and(|m| m.get("batch") == Some(&Value::Bool(true)));
            self.price_at(project, reservation.to_mut(), batch, model).await?;
        }
        let merged = actual.metadata.map(|m| on_top(held, m));
        let amounts = actual_amounts(&reservation, actual.quantity, merged.as_ref())?;
        let entry = merged.map(|m| metadata_json(on, &m)).transpose()?;
        Ok(Some((amounts, entry.unwrap_or_default(), reservation)))
    }

    /// Releases the reservation's record at `subject`'s level.
    pub(super) async fn release_level(
        &self,
        project: &str,
        subject: &UserId,
        id: &ReservationId,
        metadata: &str,
    ) -> Result<SettleReply, GatewayError> {
        let ledger = self.node.keeps_ledger(project).await?;
        self.node
            .drive(project, subject, async || {
                Ok(self.store.release(project, subject, id, ledger, metadata).await?)
            })
            .await
    }

    /// The reservation's metadata at `subject`'s level with `labels` on top, as a ledger entry
    /// keeps it ("" when the project keeps no ledger, or the level has no such record). The
    /// record's metadata never changes after reserve, so reading it first cannot race.
    async fn labelled_metadata(
        &self,
        project: &str,
        subject: &UserId,
        id: &ReservationId,
        labels: &Map<String, Value>,
    ) -> Result<String, GatewayError> {
        let on = self.node.keeps_ledger(project).await?;
        let Some(mut reservation) = self.store.reservation(project, subject, id).await? else {
            return Ok(String::new());
        };
        metadata_json(on, &on_top(reservation.metadata.take().map(Cow::Owned), labels))
    }

    /// A level's script answer as a settlement, labelled by `subject`'s plan.
    pub(super) async fn settlement(
        &self,
        project: &str,
        subject: &UserId,
        reply: SettleReply,
    ) -> Result<Settlement, GatewayError> {
        Ok(match reply {
            SettleReply::NotFound => Settlement::NotFound,
            SettleReply::Conflict(state) => Settlement::Conflict(state),
            // The node and the script read the record apart: no retry mends that, so it is an
            // internal error at once, not a stale answer retried until the driver gives up.
            SettleReply::Mismatch => {
                return Err(
                    StoreError::Protocol("commit.lua: the amounts are not one per hold of the record".into()).into(),
                )
            }
            SettleReply::Done(mut done) => {
                self.moved_after(&done.reservation, std::mem::take(&mut done.fired));
                // Labels come from the current plan when it still has the group.
                let plan = self
                    .resolve(project, subject, Freshness::Cached)
                    .await
                    .ok()
                    .and_then(|r| r.plan);
                let counters = done.reservation.counters(plan.as_deref(), &done.amounts);
                Settlement::Settled(Settled {
                    status: done.state,
                    late: done.late,
                    counters,
                    parent: done.reservation.parent,
                })
            }
        })
    }
}

/// What a commit says happened: the actual quantity and metadata, each when given; and the
/// level's record when its reserve kept it.
#[derive(Clone, Copy)]
struct Actual<'a> {
    quantity: Option<Milli>,
    metadata: Option<&'a Map<String, Value>>,
    priced_as: Option<&'a str>,
    record: Option<&'a Reservation>,
}

impl DataPlane {
    /// Prices each of `reservation`'s holds priced by another model at `model`'s price (at
    /// its batch prices when the call was a `batch`'s), with the same rule; a model with no
    /// price leaves a hold as held.
    async fn price_at(
        &self,
        project: &str,
        reservation: &mut Reservation,
        batch: bool,
        model: &str,
    ) -> Result<(), GatewayError> {
        for hold in &mut reservation.holds {
            let Some(priced) = hold.measure.priced().filter(|p| p.model != model) else {
                continue;
            };
            let mut price = self.node.model_price(project, model).await?;
            if batch {
                if let Some(found) = price.found.as_mut() {
                    found.price = found.price.for_batch();
                }
            }
            if price.found.is_none() {
                continue;
            }
            let rule = Measure::Price(priced.rule.clone());
            if let Ok(Some(resolved)) = rule.resolve(Some(&price)) {
                hold.measure = resolved.into_owned();
            }
        }
        Ok(())
    }
}

/// What a settling entry says: the reservation's metadata (`held`, copied only when borrowed)
/// with `more` on top.
fn on_top(held: Option<Cow<'_, Map<String, Value>>>, more: &Map<String, Value>) -> Map<String, Value> {
    let mut all = held.map(Cow::into_owned).unwrap_or_default();
    all.extend(more.iter().map(|(k, v)| (k.clone(), v.clone())));
    all
}

/// The amount each hold commits: its measure recomputed from the actual quantity for holds
/// that follow it (the quantity itself, or at a rate), from the actual metadata for holds that
/// read it, or as reserved for a hold the commit says nothing of. Holds never change after
/// reserve, so reading them before the commit cannot race it. A hold that reads metadata reads
/// the commit's on top of the reservation's (`merged`), as the ledger entry keeps it: a key the
/// commit leaves out (a proxied call's `calls`, a count it did not report) stays at what was
/// held, never 0 and never a refused commit.
fn actual_amounts(
    reservation: &Reservation,
    quantity: Option<Milli>,
    merged: Option<&Map<String, Value>>,
) -> Result<Vec<Milli>, GatewayError> {
    let mut amounts = Vec::with_capacity(reservation.holds.len());
    for hold in &reservation.holds {
        amounts.push(hold.measure.committed(quantity, merged, hold.amount)?);
    }
    Ok(amounts)
}
