//! The leases' calls (docs/decisions/0060-leased-slices.md): a take and a statement at an
//! ancestor's slot, the end of what a dead node left at a member's.

use super::scripts::{self, Ending, OpenLease, Reply, SliceEnded, Statement, Take, Taken};
use super::{DataStore, Fired, StoreError};
use crate::quota::Milli;

impl DataStore {
    /// Leases a slice of `ancestor`'s group (the take's hold) to `t.member`.
    pub(crate) async fn take_slice(
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

    /// Applies `member`'s statements of its slices to their leases at `ancestor`, in one
    /// script; answers the alerts they fired there.
    pub(crate) async fn settle_slice(
        &self,
        project: &str,
        ancestor: &str,
        member: &str,
        s: &[&Statement],
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

    /// Appends `ancestor`'s ledger entries of its members' commits on slices (`notes`: the
    /// outbox entry each was moved from, `<outbox>:<id>`, and its fields and values as JSON),
    /// each once, in one script; answers how many had not been appended before.
    pub(crate) async fn append_ledger(
        &self,
        project: &str,
        ancestor: &str,
        notes: &[(&str, &str)],
        ledger: bool,
    ) -> Result<Reply<u64>, StoreError> {
        let keys = &self.keys.user(project, ancestor);
        let notes: Vec<(String, &str)> = notes
            .iter()
            .map(|(at, entry)| (format!("ledger:{at}"), *entry))
            .collect();
        let notes = &notes;
        let w = &self.writing(keys, None, ledger);
        self.write("append_ledger", |mut conn| async move {
            let reply = scripts::append_ledger(&mut conn, w, notes).await?;
            Ok((reply, conn))
        })
        .await
    }

    /// Ends what `ending` names at `member`'s slot: an outbox entry's intent or slice, or a
    /// slice by its lease.
    pub(crate) async fn end_slice(
        &self,
        project: &str,
        member: &str,
        ending: Ending<'_>,
        ledger: bool,
    ) -> Result<Reply<SliceEnded>, StoreError> {
        let keys = &self.keys.user(project, member);
        let w = &self.writing(keys, None, ledger);
        self.write("end_slice", |mut conn| async move {
            let reply = scripts::end_slice(&mut conn, w, ending).await?;
            Ok((reply, conn))
        })
        .await
    }

    /// What `member`'s slot counts on its slice of `ancestor`'s counter `field` under `lease`
    /// (used, held); None when nothing is there.
    pub(crate) async fn slice_counts(
        &self,
        project: &str,
        member: &str,
        ancestor: &str,
        field: &str,
        lease: &str,
    ) -> Result<Option<(Milli, Milli)>, StoreError> {
        let keys = &self.keys.user(project, member);
        self.run(|mut conn| async move { scripts::slice_counts(&mut conn, keys, ancestor, field, lease).await })
            .await
    }

    /// Every lease `team`'s level has open, read a page at a time; and Redis time.
    pub(crate) async fn leases(&self, project: &str, team: &str) -> Result<(i64, Vec<OpenLease>), StoreError> {
        /// Ids of the open set read per call: a page's reply stays small.
        const PAGE: u64 = 500;
        let keys = &self.keys.user(project, team);
        let (mut from, mut all, mut now_ms) = (Some(0), Vec::new(), 0);
        while let Some(at) = from {
            let page = self
                .timed("leases", |mut conn| async move {
                    scripts::leases(&mut conn, keys, at, PAGE).await
                })
                .await?;
            now_ms = page.now_ms;
            all.extend(page.leases);
            from = page.next;
        }
        Ok((now_ms, all))
    }
}
