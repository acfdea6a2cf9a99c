//! Ending team slices and settling what crosses between a member's slot and its team's
//! (docs/decisions/0060-leased-slices.md): the leases' outbox notes (statements, ledger notes,
//! intents and marks), slices ended early (a team's leased-capacity denial, a change of its
//! subscription, a member leaving it), and a team's counters as its members' slices count
//! them now (usage).

use futures_util::StreamExt;

use super::{DataPlane, Leases};
use crate::gateway::GatewayError;
use crate::quota::{Counter, Decision, Milli, Reason, UserId};
use crate::store::{Ending, LeaseNote, LeaseNoteKind, Reply, SliceEnded};

impl Leases<'_> {
    /// Ends what an outbox entry of `member`'s slot names (an intent, or a placed slice's mark)
    /// and settles the statements that writes.
    pub(super) async fn end_slice_and_settle(
        &self,
        project: &str,
        member: &str,
        entry: &str,
    ) -> Result<(), GatewayError> {
        let ledger = self.node.keeps_ledger(project).await?;
        let ended = self
            .store
            .end_slice(project, member, Ending::Entry(entry), ledger)
            .await?;
        if let Reply::Done(SliceEnded::Done(fired)) = ended {
            self.settle_fired(fired).await?;
        }
        Ok(())
    }

    /// `team`'s `counters` as its members' slices count them now. Its level counts what members
    /// used of capacity it leased them only as their statements arrive; so what they used and
    /// hold on each open lease is read from their slots, and moves from `leased` into `used`
    /// and `reserved`, leaving as leased what nobody has used or holds. (Usage only: a read
    /// per open lease.)
    pub(super) async fn current_slices(
        &self,
        project: &str,
        team: &UserId,
        counters: &mut [Counter],
    ) -> Result<(), GatewayError> {
        if counters.iter().all(|c| c.leased == Milli::ZERO) {
            return Ok(());
        }
        let (_, leases) = self.store.leases(project, team.as_str()).await?;
        let counted: Vec<_> = futures_util::stream::iter(&leases)
            .map(|l| {
                self.store
                    .slice_counts(project, &l.member, team.as_str(), &l.field, &l.id)
            })
            .buffered(16)
            .collect()
            .await;
        for (l, counted) in leases.iter().zip(counted) {
            let Some((used, held)) = counted? else {
                continue;
            };
            // The counter of the lease's group and period ("<group>@<period start>").
            let Some((group, start)) = l.field.rsplit_once('@') else {
                continue;
            };
            let start = start.parse::<i64>().ok();
            let Some(c) = counters.iter_mut().find(|c| {
                c.group_id == group && c.value.is_none() && c.period_start_ms.is_none_or(|s| Some(s) == start)
            }) else {
                continue;
            };
            let more = used.saturating_sub(l.used);
            c.used = Milli(c.used.0 + more.0);
            c.reserved = Milli(c.reserved.0 + held.0);
            c.leased = c.leased.saturating_sub(Milli(more.0 + held.0).min(l.leased));
        }
        Ok(())
    }

    /// Recalls every slice of each of `teams`, whatever its time, so what they did not spend is
    /// back at the team now: a member denied for capacity leased to other members' slices gets
    /// it, rather than waiting for them to end while it sits idle. Near its limit a team's next
    /// takes are then decided at the team (below its threshold no slice is leased), so the
    /// last of its quota goes to whoever asks. A burst of denials on this node recalls a team's
    /// slices once or twice, not once each (`slice_recalls.rs`). Answers whether any gave
    /// something back.
    pub(super) async fn recall_slices(&self, project: &str, teams: &[String]) -> Result<bool, GatewayError> {
        let mut gave = false;
        for team in teams {
            gave |= self
                .recalls
                .recall(project, team, self.end_leased(project, team, None))
                .await?;
        }
        Ok(gave)
    }

    /// `decision`'s denials for capacity leased saying when it is back: within a slice's life
    /// (every slice was recalled; what denies still was taken since).
    pub(super) fn leased_back(&self, decision: &mut Decision) {
        let life = i64::try_from(self.leases.slice_life.as_millis()).unwrap_or(i64::MAX);
        let at = decision.decided_at_ms.saturating_add(life);
        for d in &mut decision.denied_by {
            if d.reason == Reason::ParentCapacityLeased {
                d.retry_at_ms = Some(at);
            }
        }
    }

    /// Ends in the background, whatever their time, the slices `team` leased (to `member` only,
    /// when named): after the team's subscription changed (their version is stale), or the
    /// member left it. What they did not spend goes back now, not when they end; what fails is
    /// left to their end and the sweeper.
    pub(crate) fn end_slices_soon(&self, project: &str, team: &str, member: Option<&str>) {
        if !self.leases.enabled {
            return;
        }
        let (gateway, project, team) = (DataPlane::clone(self), project.to_string(), team.to_string());
        let member = member.map(str::to_string);
        tokio::spawn(async move {
            if let Err(err) = gateway.leases().end_leased(&project, &team, member.as_deref()).await {
                tracing::warn!(%err, "slices are left to end with their time");
            }
        });
    }

    /// Ends `team`'s slices (of `member` only, when named), whatever their time: what they did
    /// not spend goes back now. Answers whether any gave something back.
    pub(crate) async fn end_leased(
        &self,
        project: &str,
        team: &str,
        member: Option<&str>,
    ) -> Result<bool, GatewayError> {
        let (_, leases) = self.store.leases(project, team).await?;
        let ledger = self.node.keeps_ledger(project).await?;
        let mut gave = false;
        for l in leases.iter().filter(|l| member.is_none_or(|m| m == l.member)) {
            let ending = Ending::Lease {
                ancestor: team,
                field: &l.field,
                lease: &l.id,
                period_end: &l.period_end,
                now: true,
            };
            // (A slice closed already, whose statement waits in its outbox, states nothing.)
            if let Reply::Done(SliceEnded::Done(fired)) =
                self.store.end_slice(project, &l.member, ending, ledger).await?
            {
                gave |= !fired.ids.is_empty();
                self.settle_fired(fired).await?;
            }
        }
        Ok(gave)
    }

    /// Settles the statements a script wrote (among what it fired) at their ancestors now, and
    /// moves its alerts.
    pub(super) async fn settle_fired(&self, fired: crate::store::Fired) -> Result<(), GatewayError> {
        if fired.ids.is_empty() {
            return Ok(());
        }
        let entries = self.store.outbox_entries(&fired.outbox, &fired.ids).await?;
        self.settle_statements(&entries.leases).await?;
        self.move_ledger_notes(&entries.leases).await?;
        if !entries.alerts.is_empty() && !self.skip_moves() {
            self.alerts().move_alerts(entries.alerts).await?;
        }
        Ok(())
    }

    /// Applies the statements among `notes` at their ancestors, one script for each member's
    /// statements to one ancestor (a renewal closes a slice per group), then removes them from
    /// their outbox.
    async fn settle_statements(&self, notes: &[LeaseNote]) -> Result<(), GatewayError> {
        let mut batches: Vec<(&LeaseNote, Vec<&crate::store::Statement>, Vec<String>)> = Vec::new();
        for note in notes {
            let LeaseNoteKind::Statement(statement) = &note.kind else {
                continue;
            };
            let same = |first: &LeaseNote| {
                (&first.project, &first.ancestor, &first.member, &first.outbox)
                    == (&note.project, &note.ancestor, &note.member, &note.outbox)
            };
            match batches.iter_mut().find(|(first, _, _)| same(first)) {
                Some((_, statements, positions)) => {
                    statements.push(statement);
                    positions.push(note.position.clone());
                }
                None => batches.push((note, vec![statement], vec![note.position.clone()])),
            }
        }
        for (note, statements, positions) in batches {
            let ledger = self.node.keeps_ledger(&note.project).await?;
            let settled = self
                .store
                .settle_slice(&note.project, &note.ancestor, &note.member, &statements, ledger)
                .await?;
            if let Reply::Done(fired) = settled {
                self.alerts().alerts_fired(fired);
                self.store.outbox_done(&note.outbox, &positions).await?;
            }
        }
        Ok(())
    }

    /// Settles the leases' notes of slot outboxes: a statement at its ancestor (then removed);
    /// a ledger note appended there, with the others of its ancestor (then removed); an intent
    /// or a mark is ended at its member's slot (by the sweeper, which alone reads those), which
    /// removes it and settles what that states.
    pub(crate) async fn settle_notes(&self, notes: Vec<LeaseNote>) -> Result<(), GatewayError> {
        self.settle_statements(&notes).await?;
        self.move_ledger_notes(&notes).await?;
        for note in notes {
            if let LeaseNoteKind::Intent | LeaseNoteKind::Placed = &note.kind {
                self.end_slice_and_settle(&note.project, &note.member, &note.position)
                    .await?;
            }
        }
        Ok(())
    }
}
