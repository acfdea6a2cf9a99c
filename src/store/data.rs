//! The data plane's Redis calls: one script each for reserve, check, track, commit, release,
//! extend and usage, and the read of one reservation record.

use redis::AsyncCommands;

use super::layout::{self, UserKeys};
use super::scripts::{
    self, Decided, Extended, Idempotency, LedgerEntry, OutcomeReply, Reply, ReserveArgs, Reserved, SettleReply,
    UsageField, Writing,
};
use super::{record, DataStore, StoreError};
use crate::quota::{Hold, Milli, Reservation, ReservationId, UserId, Verdict, Window};

impl DataStore {
    /// What every writing script is told first; `ledger` is whether the project keeps a ledger
    /// (and with it the daily rollups).
    pub(super) fn writing<'a>(
        &self,
        keys: &'a UserKeys,
        idempotency: Option<&'a Idempotency>,
        ledger: bool,
    ) -> Writing<'a> {
        Writing {
            keys,
            retention_ms: self.retention_ms,
            idempotency,
            ledger_keep_ms: ledger.then_some(self.ledger_retention_ms),
        }
    }

    #[allow(clippy::too_many_arguments)]
    pub(crate) async fn reserve(
        &self,
        project: &str,
        user: &UserId,
        idempotency: Option<&Idempotency>,
        args: &ReserveArgs<'_>,
        holds: &[Hold<'_>],
        ledger: bool,
    ) -> Result<Reply<Reserved>, StoreError> {
        let keys = &self.keys.user(project, user.as_str());
        let w = &self.writing(keys, idempotency, ledger);
        let reply = self
            .write("reserve", |mut conn| async move {
                let reply = scripts::reserve(&mut conn, w, args, holds).await?;
                Ok((reply, conn))
            })
            .await?;
        // "More": the reserve returned a batch of expired holds (runs and steps among them,
        // runs.lua) and more were due; a batch more here, then the caller asks again.
        self.reclaim_when_more(keys, &reply, ledger).await?;
        Ok(reply)
    }

    /// Reads only, so it is timed but not replicated. "More" when more expired
    /// holds were due than the script reads in one call: a batch of them has been reclaimed
    /// meanwhile, and the caller asks again.
    pub(crate) async fn check(
        &self,
        project: &str,
        user: &UserId,
        version: u64,
        holds: &[Hold<'_>],
        ledger: bool,
        at: Decided,
    ) -> Result<Reply<Verdict>, StoreError> {
        let keys = &self.keys.user(project, user.as_str());
        let reply = self
            .timed("check", |mut conn| async move {
                scripts::check(&mut conn, keys, version, holds, at).await
            })
            .await?;
        self.reclaim_when_more(keys, &reply, ledger).await?;
        Ok(reply)
    }

    /// The read-only scripts read a bounded number of expired holds; when more were due, a
    /// writing script returns a batch of them, as the next write would, so the read asked again
    /// progresses. `ledger` is whether the project keeps the rollups that count expiries.
    pub(super) async fn reclaim_when_more<T>(
        &self,
        keys: &UserKeys,
        reply: &Reply<T>,
        ledger: bool,
    ) -> Result<(), StoreError> {
        if !matches!(reply, Reply::More) {
            return Ok(());
        }
        let w = &self.writing(keys, None, ledger);
        self.write("reclaim", |mut conn| async move {
            let reply = scripts::reclaim(&mut conn, w).await?;
            Ok((reply, conn))
        })
        .await?;
        Ok(())
    }

    #[allow(clippy::too_many_arguments)]
    pub(crate) async fn track(
        &self,
        project: &str,
        user: &UserId,
        idempotency: Option<&Idempotency>,
        version: u64,
        holds: &[Hold<'_>],
        entry: &LedgerEntry<'_>,
        ledger: bool,
        at: Decided,
    ) -> Result<Reply<scripts::Tracked>, StoreError> {
        let keys = &self.keys.user(project, user.as_str());
        let w = &self.writing(keys, idempotency, ledger);
        self.write("track", |mut conn| async move {
            let reply = scripts::track(&mut conn, w, version, holds, entry, at).await?;
            Ok((reply, conn))
        })
        .await
    }

    /// Commits the reservation's record at `subject`'s level (the user's, or a parent's);
    /// `read` is the record as read for the actual amounts, when it was.
    #[allow(clippy::too_many_arguments)]
    pub(crate) async fn commit(
        &self,
        project: &str,
        subject: &UserId,
        id: &ReservationId,
        idempotency: Option<&Idempotency>,
        actual: Option<&[Milli]>,
        entry: &LedgerEntry<'_>,
        ledger: bool,
        read: Option<&Reservation>,
    ) -> Result<Reply<SettleReply>, StoreError> {
        let keys = &self.keys.user(project, subject.as_str());
        let w = &self.writing(keys, idempotency, ledger);
        self.write("commit", |mut conn| async move {
            let reply = scripts::commit(&mut conn, w, id.as_str(), actual, entry, read).await?;
            Ok((reply, conn))
        })
        .await
    }

    /// Says what a committed reservation's output came to, at `subject`'s level.
    #[allow(clippy::too_many_arguments)]
    pub(crate) async fn set_outcome(
        &self,
        project: &str,
        subject: &UserId,
        id: &ReservationId,
        outcome: &str,
        key_id: &str,
        member: &str,
        ledger: bool,
    ) -> Result<Reply<OutcomeReply>, StoreError> {
        let keys = &self.keys.user(project, subject.as_str());
        let w = &self.writing(keys, None, ledger);
        self.write("set_outcome", |mut conn| async move {
            let reply = scripts::set_outcome(&mut conn, w, id.as_str(), outcome, key_id, member).await?;
            Ok((reply, conn))
        })
        .await
    }

    /// Releases a reservation at `subject`'s level; its ledger entry's metadata is `metadata`
    /// ("" for the reservation's own).
    pub(crate) async fn release(
        &self,
        project: &str,
        subject: &UserId,
        id: &ReservationId,
        ledger: bool,
        metadata: &str,
    ) -> Result<Reply<SettleReply>, StoreError> {
        let keys = &self.keys.user(project, subject.as_str());
        let w = &self.writing(keys, None, ledger);
        self.write("release", |mut conn| async move {
            let reply = scripts::release(&mut conn, w, id.as_str(), metadata).await?;
            Ok((reply, conn))
        })
        .await
    }

    pub(crate) async fn extend(
        &self,
        project: &str,
        subject: &UserId,
        id: &ReservationId,
        ttl_ms: i64,
        max_lifetime_ms: i64,
        ledger: bool,
    ) -> Result<Reply<Extended>, StoreError> {
        let keys = &self.keys.user(project, subject.as_str());
        let w = &self.writing(keys, None, ledger);
        self.write("extend", |mut conn| async move {
            let reply = scripts::extend(&mut conn, w, id.as_str(), ttl_ms, max_lifetime_ms).await?;
            Ok((reply, conn))
        })
        .await
    }

    /// The record of a reservation of `project` at `subject`'s level, or None.
    pub(crate) async fn reservation(
        &self,
        project: &str,
        subject: &UserId,
        id: &ReservationId,
    ) -> Result<Option<Reservation>, StoreError> {
        let key = self.keys.user(project, subject.as_str()).res().to_string();
        let raw: Option<String> = self
            .run(|mut conn| async move { Ok(conn.hget(&key, id.as_str()).await?) })
            .await?;
        raw.map(|json| record::parse(&json)).transpose()
    }

    /// An open run's fields in the user's counters hash (lua/library/modules/runs.lua), by name: none once it
    /// has ended. Found by their common prefix (run ids hold no glob character).
    pub(crate) async fn run_fields(
        &self,
        project: &str,
        user: &UserId,
        id: &str,
    ) -> Result<Vec<(String, Vec<u8>)>, StoreError> {
        let key = &self.keys.user(project, user.as_str()).ctr().to_string();
        let pattern = &format!("r|{id}*");
        let (mut cursor, mut found) = (0u64, Vec::new());
        loop {
            let (next, batch): (u64, Vec<(String, Vec<u8>)>) = self
                .run(|mut conn| async move {
                    Ok(redis::cmd("HSCAN")
                        .arg(key)
                        .arg(cursor)
                        .arg("MATCH")
                        .arg(pattern)
                        .arg("COUNT")
                        .arg(1000)
                        .query_async(&mut conn)
                        .await?)
                })
                .await?;
            found.extend(batch);
            cursor = next;
            if cursor == 0 {
                return Ok(found);
            }
        }
    }

    /// Up to `limit` of the user's open reservations, soonest to expire first, with their ids.
    pub(crate) async fn open_reservations(
        &self,
        project: &str,
        user: &UserId,
        limit: usize,
    ) -> Result<Vec<(String, Reservation)>, StoreError> {
        let keys = &self.keys.user(project, user.as_str());
        let ids: Vec<String> = self
            .run(|mut conn| async move { Ok(conn.zrange(keys.open(), 0, limit as isize - 1).await?) })
            .await?;
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let ids_ref = &ids;
        let raw: Vec<Option<String>> = self
            .run(|mut conn| async move {
                Ok(redis::cmd("HMGET")
                    .arg(keys.res())
                    .arg(ids_ref)
                    .query_async(&mut conn)
                    .await?)
            })
            .await?;
        ids.into_iter()
            .zip(raw)
            .filter_map(|(id, json)| json.map(|j| (id, j)))
            .map(|(id, json)| Ok((id, record::parse(&json)?)))
            .collect()
    }

    /// Up to `limit` of the user's runs the records still keep (open ones and those ended
    /// within the retention window), newest first, with their ids. Runs share the
    /// reservations hash, so it is scanned for their ids, a bounded number of fields.
    pub(crate) async fn runs(
        &self,
        project: &str,
        user: &UserId,
        limit: usize,
    ) -> Result<Vec<(String, Reservation)>, StoreError> {
        // How many fields a listing looks through at most: a user's reservations hash keeps
        // the records of the retention window, which a heavy user fills with many thousands.
        const SCAN_FIELDS: usize = 50_000;
        let key = &self.keys.user(project, user.as_str()).res().to_string();
        let mut found: Vec<(String, Reservation)> = Vec::new();
        let (mut cursor, mut scanned) = (0u64, 0usize);
        loop {
            let (next, batch): (u64, Vec<String>) = self
                .run(|mut conn| async move {
                    Ok(redis::cmd("HSCAN")
                        .arg(key)
                        .arg(cursor)
                        .arg("MATCH")
                        .arg("run_*")
                        .arg("COUNT")
                        .arg(1000)
                        .query_async(&mut conn)
                        .await?)
                })
                .await?;
            for pair in batch.chunks_exact(2) {
                let record = record::parse(&pair[1])?;
                if record.run.is_some() && record.state != crate::quota::ReservationState::Released {
                    found.push((pair[0].clone(), record));
                }
            }
            scanned += 1000;
            cursor = next;
            if cursor == 0 || scanned >= SCAN_FIELDS {
                break;
            }
        }
        found.sort_by_key(|(_, r)| std::cmp::Reverse(r.created_ms.unwrap_or(0)));
        found.truncate(limit);
        Ok(found)
    }

    /// The used and held milli-units of each of a rolling window's sub-windows (`windows`, of
    /// `group`), in one HMGET: what a denial reads to say when room is back.
    pub(crate) async fn sub_windows(
        &self,
        project: &str,
        user: &UserId,
        group: &str,
        windows: &[Window],
    ) -> Result<Vec<(i64, i64)>, StoreError> {
        let ctr = self.keys.user(project, user.as_str()).ctr().to_string();
        let fields: Vec<String> = windows
            .iter()
            .flat_map(|w| {
                let f = layout::counter_field(group, w);
                [format!("{f}:u"), format!("{f}:h")]
            })
            .collect();
        let fields = &fields;
        let values: Vec<Option<i64>> = self
            .run(|mut conn| async move { Ok(redis::cmd("HMGET").arg(ctr).arg(fields).query_async(&mut conn).await?) })
            .await?;
        Ok(values
            .chunks(2)
            .map(|pair| (pair[0].unwrap_or(0), pair.get(1).copied().flatten().unwrap_or(0)))
            .collect())
    }

    /// The values each per-value group (`group`, `window`) counted in its window, as holds.lua
    /// lists them; one HMGET.
    pub(crate) async fn listed_values(
        &self,
        project: &str,
        user: &UserId,
        groups: &[(&str, Window)],
    ) -> Result<Vec<Vec<String>>, StoreError> {
        if groups.is_empty() {
            return Ok(Vec::new());
        }
        let ctr = &self.keys.user(project, user.as_str()).ctr().to_string();
        let fields: Vec<String> = groups
            .iter()
            .map(|(group, window)| format!("{}:v", layout::counter_field(group, window)))
            .collect();
        let fields = &fields;
        let lists: Vec<Option<String>> = self
            .run(|mut conn| async move { Ok(redis::cmd("HMGET").arg(ctr).arg(fields).query_async(&mut conn).await?) })
            .await?;
        Ok(lists
            .iter()
            .map(|l| layout::listed_values(l.as_deref().unwrap_or("")))
            .collect())
    }

    pub(crate) async fn usage(
        &self,
        project: &str,
        user: &UserId,
        fields: &[UsageField<'_>],
        ledger: bool,
    ) -> Result<Reply<scripts::UsageRead>, StoreError> {
        let keys = &self.keys.user(project, user.as_str());
        let reply = self
            .timed("usage", |mut conn| async move {
                scripts::usage(&mut conn, keys, fields).await
            })
            .await?;
        self.reclaim_when_more(keys, &reply, ledger).await?;
        Ok(reply)
    }
}
