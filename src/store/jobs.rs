//! The door's async jobs and uploaded files, in the project's slot: a job's record as JSON
//! (`job:<upstream>/<id>`), a file's (`jobfile:<upstream>/<id>`), the job a reservation holds
//! for (`jobhold:<reservation>`, so a repeat of an Idempotency-Key finds the job its first
//! call made), a user's open jobs (`jobs_open:<user>`, scored by submission) and the lease of
//! the node settling one (`jobclaim:<upstream>/<id>`), a job whose submission has not been
//! answered yet (`jobpending:<upstream>/pending:<reservation>`); and across projects, when the
//! sweeper polls each open job (or looks for a pending one) next. Records of what was submitted, not quota state: the hold is an
//! ordinary reservation, whose commit is once however many nodes settle it, so no script
//! keeps these. Each is written before the next that points at it, so a node stopped between
//! two leaves a record nothing lists, never a listing of nothing; the user's own list of each
//! (`listed.rs`) after, by the gateway.

use redis::AsyncCommands;

use super::layout::escape;
use super::{corrupt, JobStore, StoreError};
use crate::quota::{pending_key, FileRecord, JobRecord, PendingJob};

/// A job's record outlives its end by this long (its owner reads it and its files later).
pub(crate) const ENDED_KEPT_MS: i64 = 30 * 86_400_000;
/// A file's record lives this long after its upload.
pub(crate) const FILE_KEPT_MS: i64 = 30 * 86_400_000;

impl JobStore {
    /// Records a job its provider named: its record, its reservation's pointer, its user's
    /// listing, when the sweeper polls it first; then its pending record goes. False, with
    /// nothing but the pending record changed, when the job was recorded already (the sweeper
    /// found it at the provider first).
    pub(crate) async fn put_job(&self, project: &str, job: &JobRecord, poll_ms: i64) -> Result<bool, StoreError> {
        let json = serde_json::to_string(job).map_err(|e| corrupt("job", e))?;
        let key = job.key();
        let keep = (job.ends_ms - job.created_ms).max(0) + ENDED_KEPT_MS;
        let (record, hold, open, due) = (
            self.keys.jobs(project, &format!("job:{key}")),
            self.keys.jobs(project, &format!("jobhold:{}", job.reservation)),
            self.open_jobs_key(project, &job.user),
            self.keys.jobs_due(),
        );
        let pending = pending_key(&job.upstream, &job.reservation);
        let (pending_record, pending_member) = (
            self.keys.jobs(project, &format!("jobpending:{pending}")),
            due_member(project, &pending),
        );
        let member = due_member(project, &key);
        self.run(|mut conn| async move {
            let written: Option<String> = redis::cmd("SET")
                .arg(&record)
                .arg(&json)
                .arg("NX")
                .arg("PX")
                .arg(keep)
                .query_async(&mut conn)
                .await?;
            if written.is_some() {
                let _: () = conn.pset_ex(&hold, &key, keep as u64).await?;
                let _: () = conn.zadd(&open, &key, job.created_ms).await?;
                let _: () = conn.zadd(&due, &member, poll_ms).await?;
            }
            let _: () = conn.zrem(&due, &pending_member).await?;
            let _: () = conn.del(&pending_record).await?;
            Ok(written.is_some())
        })
        .await
    }

    /// Records a job before its submission is forwarded, and when the sweeper first looks
    /// for it at the provider (unless its submission's answer is recorded by then).
    pub(crate) async fn put_pending_job(
        &self,
        project: &str,
        pending: &PendingJob,
        look_ms: i64,
    ) -> Result<(), StoreError> {
        let json = serde_json::to_string(pending).map_err(|e| corrupt("job", e))?;
        let key = pending.key();
        let keep = (pending.job.ends_ms - pending.job.created_ms).max(0) + ENDED_KEPT_MS;
        let record = self.keys.jobs(project, &format!("jobpending:{key}"));
        let (due, member) = (self.keys.jobs_due(), due_member(project, &key));
        self.run(|mut conn| async move {
            let _: () = conn.pset_ex(&record, &json, keep as u64).await?;
            let _: () = conn.zadd(&due, &member, look_ms).await?;
            Ok(())
        })
        .await
    }

    /// A pending job's record, by its key (`<upstream>/pending:<hold>`).
    pub(crate) async fn pending_job(&self, project: &str, key: &str) -> Result<Option<PendingJob>, StoreError> {
        let record = self.keys.jobs(project, &format!("jobpending:{key}"));
        let raw: Option<String> = self.run(|mut conn| async move { Ok(conn.get(&record).await?) }).await?;
        raw.map(|r| serde_json::from_str(&r).map_err(|e| corrupt("job", e)))
            .transpose()
    }

    /// Forgets a pending job (its hold was settled without the provider's job).
    pub(crate) async fn drop_pending_job(&self, project: &str, key: &str) -> Result<(), StoreError> {
        let record = self.keys.jobs(project, &format!("jobpending:{key}"));
        let (due, member) = (self.keys.jobs_due(), due_member(project, key));
        self.run(|mut conn| async move {
            let _: () = conn.zrem(&due, &member).await?;
            let _: () = conn.del(&record).await?;
            Ok(())
        })
        .await
    }

    /// A job's record, by the upstream that made it and the provider's id.
    pub(crate) async fn job(&self, project: &str, key: &str) -> Result<Option<JobRecord>, StoreError> {
        let record = self.keys.jobs(project, &format!("job:{key}"));
        let raw: Option<String> = self.run(|mut conn| async move { Ok(conn.get(&record).await?) }).await?;
        raw.map(|r| serde_json::from_str(&r).map_err(|e| corrupt("job", e)))
            .transpose()
    }

    /// The job a reservation holds for (`<upstream>/<id>`), if it was recorded.
    pub(crate) async fn job_of_hold(&self, project: &str, reservation: &str) -> Result<Option<String>, StoreError> {
        let hold = self.keys.jobs(project, &format!("jobhold:{reservation}"));
        self.run(|mut conn| async move { Ok(conn.get(&hold).await?) }).await
    }

    /// Rewrites a job's record (files it made, its end); an ended job leaves its user's listing
    /// and the sweeper's, and its record is kept a while for its owner's reads.
    pub(crate) async fn update_job(&self, project: &str, job: &JobRecord) -> Result<(), StoreError> {
        let json = serde_json::to_string(job).map_err(|e| corrupt("job", e))?;
        let key = job.key();
        let record = self.keys.jobs(project, &format!("job:{key}"));
        let open = self.open_jobs_key(project, &job.user);
        let (due, member) = (self.keys.jobs_due(), due_member(project, &key));
        let ended = job.ended.is_some();
        let keep = match ended {
            true => ENDED_KEPT_MS,
            false => (job.ends_ms - job.created_ms).max(0) + ENDED_KEPT_MS,
        };
        self.run(|mut conn| async move {
            let _: () = conn.pset_ex(&record, &json, keep as u64).await?;
            if ended {
                let _: () = conn.zrem(&open, &key).await?;
                let _: () = conn.zrem(&due, &member).await?;
            }
            Ok(())
        })
        .await
    }

    /// Takes a lease on a job for `ms` (`what`: `jobclaim` to settle it, `jobpoll` to poll it):
    /// false when another node holds it.
    pub(crate) async fn lease_job(
        &self,
        project: &str,
        what: &str,
        key: &str,
        node: &str,
        ms: u64,
    ) -> Result<bool, StoreError> {
        let lease = self.keys.jobs(project, &format!("{what}:{key}"));
        let taken: Option<String> = self
            .run(|mut conn| async move {
                Ok(redis::cmd("SET")
                    .arg(&lease)
                    .arg(node)
                    .arg("NX")
                    .arg("PX")
                    .arg(ms)
                    .query_async(&mut conn)
                    .await?)
            })
            .await?;
        Ok(taken.is_some())
    }

    /// Takes a job out of the sweeper's list (its record is gone).
    pub(crate) async fn unschedule_job(&self, project: &str, key: &str) -> Result<(), StoreError> {
        let (due, member) = (self.keys.jobs_due(), due_member(project, key));
        self.run(|mut conn| async move { Ok(conn.zrem(&due, &member).await?) })
            .await
    }

    /// When the sweeper polls a job next.
    pub(crate) async fn schedule_job(&self, project: &str, key: &str, poll_ms: i64) -> Result<(), StoreError> {
        let (due, member) = (self.keys.jobs_due(), due_member(project, key));
        self.run(|mut conn| async move { Ok(conn.zadd(&due, &member, poll_ms).await?) })
            .await
    }

    /// Up to `limit` jobs due for a poll at `now_ms`, across projects: (project, `<upstream>/<id>`).
    pub(crate) async fn due_jobs(&self, now_ms: i64, limit: usize) -> Result<Vec<(String, String)>, StoreError> {
        let due = self.keys.jobs_due();
        let members: Vec<String> = self
            .run(|mut conn| async move {
                Ok(conn
                    .zrangebyscore_limit(&due, "-inf", now_ms, 0, limit as isize)
                    .await?)
            })
            .await?;
        Ok(members
            .into_iter()
            .filter_map(|m| m.split_once('\n').map(|(p, k)| (p.to_string(), k.to_string())))
            .collect())
    }

    /// A user's open jobs, oldest first, at most `limit`.
    pub(crate) async fn open_jobs(
        &self,
        project: &str,
        user: &str,
        limit: usize,
    ) -> Result<Vec<JobRecord>, StoreError> {
        let open = self.open_jobs_key(project, user);
        let keys: Vec<String> = {
            let open = &open;
            self.run(|mut conn| async move { Ok(conn.zrange(open, 0, limit as isize - 1).await?) })
                .await?
        };
        if keys.is_empty() {
            return Ok(Vec::new());
        }
        let records: Vec<String> = keys
            .iter()
            .map(|k| self.keys.jobs(project, &format!("job:{k}")))
            .collect();
        let raw: Vec<Option<String>> = self
            .run(|mut conn| async move { Ok(redis::cmd("MGET").arg(&records).query_async(&mut conn).await?) })
            .await?;
        raw.into_iter()
            .flatten()
            .map(|r| serde_json::from_str(&r).map_err(|e| corrupt("job", e)))
            .collect()
    }

    /// Records a file uploaded through the door (or made by a job).
    pub(crate) async fn put_job_file(&self, project: &str, key: &str, file: &FileRecord) -> Result<(), StoreError> {
        let json = serde_json::to_string(file).map_err(|e| corrupt("file", e))?;
        let record = self.keys.jobs(project, &format!("jobfile:{key}"));
        self.run(|mut conn| async move { Ok(conn.pset_ex(&record, &json, FILE_KEPT_MS as u64).await?) })
            .await
    }

    /// A file's record, by the upstream that has it and the provider's id.
    pub(crate) async fn job_file(&self, project: &str, key: &str) -> Result<Option<FileRecord>, StoreError> {
        let record = self.keys.jobs(project, &format!("jobfile:{key}"));
        let raw: Option<String> = self.run(|mut conn| async move { Ok(conn.get(&record).await?) }).await?;
        raw.map(|r| serde_json::from_str(&r).map_err(|e| corrupt("file", e)))
            .transpose()
    }

    fn open_jobs_key(&self, project: &str, user: &str) -> String {
        self.keys.jobs(project, &format!("jobs_open:{}", escape(user)))
    }
}

fn due_member(project: &str, key: &str) -> String {
    format!("{project}\n{key}")
}
