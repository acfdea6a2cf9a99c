//! Runs: a budget held before an agent starts, from which every step draws. A run is a
//! reservation of its event at every level, under an id of its own (`ReservationId::new_run`),
//! whose record keeps the run's limits and what its steps used (lua/library/modules/runs.lua); steps are
//! reserves and tracks that name it. Closing a run is committing it: each level's script
//! commits what the steps used and gives the rest back.

use std::time::Instant;

use serde_json::json;

use super::reservations::Extension;
use super::settle::{Commit, Settlement};
use super::DataPlane;
use super::Idempotency;
use crate::gateway::audit::{Action, Actor};
use crate::gateway::outcome::Verb;
use crate::gateway::GatewayError;
use crate::json::rfc3339;
use crate::quota::{Decision, EventInput, Reservation, ReservationId, ReservationState, RunRecord, RunState, UserId};
use crate::secrets::id_bytes;
use crate::store::run_fields::parse_fields;
use crate::store::StoreError;

/// How many runs a listing answers at most.
pub const MAX_LISTED_RUNS: usize = 100;

/// A run as a reader sees it: its record at the user's level.
#[derive(Debug, Clone)]
pub struct RunView {
    pub id: String,
    pub state: RunState,
    pub reservation: Reservation,
    pub run: RunRecord,
}

impl RunView {
    /// The run of record `reservation` as it stands at `now_ms`, with its fields while it is
    /// open; None for a record that is no run's, or a run whose start was given back (a level
    /// above denied it).
    fn of(
        id: String,
        reservation: Reservation,
        fields: Option<RunRecord>,
        now_ms: i64,
    ) -> Result<Option<RunView>, GatewayError> {
        let Some(mut run) = reservation.run.clone() else {
            return Ok(None);
        };
        if let Some(fields) = fields {
            run = RunRecord {
                limits: run.limits,
                ..fields
            };
        }
        let state = match reservation.state_at(now_ms) {
            ReservationState::Held if run.expired_ms.is_some() => RunState::Expired,
            ReservationState::Held => RunState::Open,
            ReservationState::Committed => RunState::Closed,
            ReservationState::Expired => RunState::Expired,
            ReservationState::Released => return Ok(None),
        };
        Ok(Some(RunView {
            id,
            state,
            reservation,
            run,
        }))
    }
}

impl DataPlane {
    /// Holds a run's budget as a reserve of its event would, at every level, all or nothing;
    /// `input.step` names the parent run of a child run, whose budget it is carved from.
    pub async fn start_run(
        &self,
        project: &str,
        input: &EventInput,
        limits: &crate::quota::RunLimits,
        ttl_ms: i64,
        idempotency: Option<&Idempotency>,
    ) -> Result<Decision, GatewayError> {
        let started = Instant::now();
        let id = ReservationId::new_run(&input.user, &id_bytes::<16>());
        let answer = self
            .parents()
            .reserve_levels(project, input, &id, ttl_ms, idempotency, Some(limits), false)
            .await;
        self.node
            .report(Verb::Reserve, project, Some(&input.user), started, &answer);
        answer
    }

    /// Closes a run at every level: commits what its steps used, gives the rest back (open
    /// steps' draws included), and answers the run as it ended. A closed run answers again as
    /// it closed; an expired one as its expiry closed it. None: no such run.
    pub async fn close_run(
        &self,
        project: &str,
        id: &ReservationId,
        outcome: Option<&str>,
        key_id: &str,
    ) -> Result<Option<RunView>, GatewayError> {
        let commit = Commit {
            outcome,
            key_id,
            ..Commit::default()
        };
        match self.commit(project, id, commit).await? {
            Settlement::Settled(_) => self.run(project, id).await,
            // Given back when its start was denied above: it never was a run.
            Settlement::NotFound | Settlement::Conflict(_) => Ok(None),
        }
    }

    /// An operator's close of a run: as `close_run` (the ledger names the operator as the
    /// key), and in the audit log as theirs (with their reason, when they gave one). Only a
    /// run still open is closed and recorded: one closed or expired already answers as it
    /// ended, and records nothing again (a confirmation sent twice).
    pub(crate) async fn close_run_as(
        &self,
        project: &str,
        id: &ReservationId,
        by: &Actor,
    ) -> Result<Option<RunView>, GatewayError> {
        match self.run(project, id).await? {
            None => return Ok(None),
            Some(view) if view.state != RunState::Open => return Ok(Some(view)),
            Some(_) => {}
        }
        let view = self.close_run(project, id, None, &by.id).await?;
        if view.as_ref().is_some_and(|v| v.state == RunState::Closed) {
            let detail = json!({ "runId": id.as_str() });
            self.node
                .record_user_change(project, by, Action::RunClose, id.user(), detail)
                .await;
        }
        Ok(view)
    }

    /// An operator's extension of an open run to `ttl_ms` from now, in the audit log as theirs.
    pub(crate) async fn extend_run_as(
        &self,
        project: &str,
        id: &ReservationId,
        ttl_ms: i64,
        by: &Actor,
    ) -> Result<Extension, GatewayError> {
        let extension = self.extend(project, id, ttl_ms).await?;
        if let Extension::Extended { expires_ms, .. } = &extension {
            let detail = json!({ "runId": id.as_str(), "expiresAt": rfc3339(*expires_ms) });
            self.node
                .record_user_change(project, by, Action::RunExtend, id.user(), detail)
                .await;
        }
        Ok(extension)
    }

    /// A run of `project`, or None.
    pub async fn run(&self, project: &str, id: &ReservationId) -> Result<Option<RunView>, GatewayError> {
        let Some(record) = self.store.reservation(project, id.user(), id).await? else {
            return Ok(None);
        };
        self.view(project, id.user(), id.to_string(), record).await
    }

    /// A run's record with its fields, read after the record: a run that closes in between
    /// has none, and its record, read again, says how it ended.
    async fn view(
        &self,
        project: &str,
        user: &UserId,
        id: String,
        record: Reservation,
    ) -> Result<Option<RunView>, GatewayError> {
        if record.state != ReservationState::Held {
            return RunView::of(id, record, None, self.node.clock.now_ms());
        }
        let fields = self.store.run_fields(project, user, &id).await?;
        let open = match fields.is_empty() {
            true => None,
            false => Some(parse_fields(&id, &fields).ok_or_else(|| {
                StoreError::Protocol(format!("the fields of run {id} are not a run's: {fields:?}").into())
            })?),
        };
        match open {
            Some(run) => RunView::of(id, record, Some(run), self.node.clock.now_ms()),
            None => {
                let Some(parsed) = ReservationId::parse_run(&id) else {
                    return Ok(None);
                };
                match self.store.reservation(project, user, &parsed).await? {
                    Some(record) => RunView::of(id, record, None, self.node.clock.now_ms()),
                    None => Ok(None),
                }
            }
        }
    }

    /// The user's runs the records keep, newest first, at most `limit` (and never more than
    /// `MAX_LISTED_RUNS`): each open one costs a read of its fields, so a reader asks for
    /// what it shows.
    pub(crate) async fn runs(&self, project: &str, user: &UserId, limit: usize) -> Result<Vec<RunView>, GatewayError> {
        let records = self.store.runs(project, user, limit.min(MAX_LISTED_RUNS)).await?;
        let mut views = Vec::with_capacity(records.len());
        for (id, record) in records {
            views.extend(self.view(project, user, id, record).await?);
        }
        Ok(views)
    }
}
