//! The leases' calls (docs/decisions/0060-leased-slices.md): a take and a statement at an
//! ancestor's slot, the end of what a dead node left at a member's.

use super::scripts::{self, Reply, SliceEnded, Statement, Take, Taken};
use super::{Fired, Idempotency, Store, StoreError};

impl Store {
    /// Leases a slice of `ancestor`'s group (the take's hold) to `t.member`.
    pub async fn take_slice(
        &self,
        project: &str,
        ancestor: &str,
        t: &Take<'_>,
        ledger: bool,
    ) -> Result<Reply<Taken>, StoreError> {
        let keys = &self.keys.user(project, ancestor);
        let w = &self.writing(keys, None, ledger);
        self.write("take_slice", |mut conn| async move {
            let reply = scripts::take_slice(&mut conn, w, t).await?;
            Ok((reply, conn))
        })
        .await
    }

    /// Applies `member`'s statement of a slice to its lease at `ancestor`; answers the alerts
    /// it fired there.
    pub async fn settle_slice(
        &self,
        project: &str,
        ancestor: &str,
        member: &str,
        s: &Statement,
        ledger: bool,
    ) -> Result<Reply<Fired>, StoreError> {
        let keys = &self.keys.user(project, ancestor);
        let w = &self.writing(keys, None, ledger);
        self.write("settle_slice", |mut conn| async move {
            let reply = scripts::settle_slice(&mut conn, w, s, member).await?;
            Ok((reply, conn))
        })
        .await
    }

    /// Appends `ancestor`'s ledger entry of a member's commit on a slice (its fields and values
    /// as JSON), once per `note` (the outbox entry it was moved from).
    pub async fn append_ledger(
        &self,
        project: &str,
        ancestor: &str,
        note: &str,
        entry: &str,
        ledger: bool,
    ) -> Result<(), StoreError> {
        let keys = &self.keys.user(project, ancestor);
        let once = Idempotency {
            field: format!("ledger:{note}"),
            body_digest: String::new(),
        };
        let w = &self.writing(keys, Some(&once), ledger);
        self.write("append_ledger", |mut conn| async move {
            let reply = scripts::append_ledger(&mut conn, w, entry).await?;
            Ok((reply, conn))
        })
        .await?;
        Ok(())
    }

    /// Ends the intent or the slice `member`'s slot outbox entry `entry` names.
    pub async fn end_slice(
        &self,
        project: &str,
        member: &str,
        entry: &str,
        ledger: bool,
    ) -> Result<Reply<SliceEnded>, StoreError> {
        let keys = &self.keys.user(project, member);
        let w = &self.writing(keys, None, ledger);
        self.write("end_slice", |mut conn| async move {
            let reply = scripts::end_slice(&mut conn, w, entry).await?;
            Ok((reply, conn))
        })
        .await
    }
}
