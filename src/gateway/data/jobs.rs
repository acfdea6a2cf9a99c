//! The door's async jobs and uploaded files, as the proxy records and reads them
//! (`store/jobs.rs`): each verb the store's, in the gateway's errors.

use super::{DataPlane, Jobs};
use crate::gateway::GatewayError;
use crate::quota::{job_key, Cursor, FileRecord, JobRecord, ListPage, Listed, PendingJob, UploadSession};
use crate::store::{ListOf, ENDED_KEPT_MS, FILE_KEPT_MS};

/// One user's list of what an upstream made for them: (project, user, upstream, what).
pub(crate) type List<'a> = (&'a str, &'a str, &'a str, Listed);

fn of<'a>((project, user, upstream, what): List<'a>) -> ListOf<'a> {
    ListOf {
        project,
        user,
        upstream,
        what,
    }
}

impl Jobs<'_> {
    /// Records a job its provider named, then lists it as its user's; false when it was
    /// recorded already.
    pub(crate) async fn put_job(&self, project: &str, job: &JobRecord, poll_ms: i64) -> Result<bool, GatewayError> {
        if !self.job_store.put_job(project, job, poll_ms).await? {
            return Ok(false);
        }
        let keep = (job.ends_ms - job.created_ms).max(0) + ENDED_KEPT_MS;
        self.list(
            of((project, &job.user, &job.upstream, Listed::Jobs(job.kind))),
            &job.id,
            keep,
        )
        .await;
        Ok(true)
    }

    /// Lists an object recorded already. A list that could not be written leaves the object
    /// out of its owner's `.list()`, and nothing else: the record serves and settles it.
    async fn list(&self, list: ListOf<'_>, id: &str, keep_ms: i64) {
        if let Err(err) = self.job_store.list_object(&list, id, keep_ms).await {
            tracing::warn!(%err, id, "proxy: an object could not be listed as its user's");
        }
    }

    pub(crate) async fn put_pending_job(
        &self,
        project: &str,
        pending: &PendingJob,
        look_ms: i64,
    ) -> Result<(), GatewayError> {
        Ok(self.job_store.put_pending_job(project, pending, look_ms).await?)
    }

    pub(crate) async fn pending_job(&self, project: &str, key: &str) -> Result<Option<PendingJob>, GatewayError> {
        Ok(self.job_store.pending_job(project, key).await?)
    }

    pub(crate) async fn drop_pending_job(&self, project: &str, key: &str) -> Result<(), GatewayError> {
        Ok(self.job_store.drop_pending_job(project, key).await?)
    }

    pub(crate) async fn job(&self, project: &str, key: &str) -> Result<Option<JobRecord>, GatewayError> {
        Ok(self.job_store.job(project, key).await?)
    }

    pub(crate) async fn job_of_hold(&self, project: &str, reservation: &str) -> Result<Option<String>, GatewayError> {
        Ok(self.job_store.job_of_hold(project, reservation).await?)
    }

    pub(crate) async fn update_job(&self, project: &str, job: &JobRecord) -> Result<(), GatewayError> {
        Ok(self.job_store.update_job(project, job).await?)
    }

    pub(crate) async fn lease_job(
        &self,
        project: &str,
        what: &str,
        key: &str,
        node: &str,
        ms: u64,
    ) -> Result<bool, GatewayError> {
        Ok(self.job_store.lease_job(project, what, key, node, ms).await?)
    }

    pub(crate) async fn unschedule_job(&self, project: &str, key: &str) -> Result<(), GatewayError> {
        Ok(self.job_store.unschedule_job(project, key).await?)
    }

    pub(crate) async fn schedule_job(&self, project: &str, key: &str, poll_ms: i64) -> Result<(), GatewayError> {
        Ok(self.job_store.schedule_job(project, key, poll_ms).await?)
    }

    pub(crate) async fn due_jobs(&self, now_ms: i64, limit: usize) -> Result<Vec<(String, String)>, GatewayError> {
        Ok(self.job_store.due_jobs(now_ms, limit).await?)
    }

    /// A user's open jobs, oldest first, at most `limit`.
    pub(crate) async fn open_jobs(
        &self,
        project: &str,
        user: &str,
        limit: usize,
    ) -> Result<Vec<JobRecord>, GatewayError> {
        Ok(self.job_store.open_jobs(project, user, limit).await?)
    }

    /// Records a file uploaded through the door (or made by a job), then lists it as its user's.
    pub(crate) async fn put_job_file(&self, project: &str, key: &str, file: &FileRecord) -> Result<(), GatewayError> {
        self.job_store.put_job_file(project, key, file).await?;
        if let Some((upstream, id)) = key.split_once('/') {
            self.list(of((project, &file.user, upstream, Listed::Files)), id, FILE_KEPT_MS)
                .await;
        }
        Ok(())
    }

    pub(crate) async fn job_file(&self, project: &str, key: &str) -> Result<Option<FileRecord>, GatewayError> {
        Ok(self.job_store.job_file(project, key).await?)
    }

    /// Records an object the provider keeps for later calls to name (a stored response, a
    /// cache; `Named`'s id) as `user`'s, for as long as a file's record lives. Not listed: it is
    /// no file. (A failure is logged: the user's later calls naming it are refused, never
    /// another user's admitted.)
    pub(crate) async fn keep_owned(&self, project: &str, upstream: &str, id: &str, user: &str) {
        let record = FileRecord {
            user: user.to_string(),
            purpose: id.split('/').next().unwrap_or_default().to_string(),
            batch: None,
            job: None,
        };
        if let Err(err) = self
            .job_store
            .put_job_file(project, &job_key(upstream, id), &record)
            .await
        {
            tracing::warn!(%err, upstream, id, "proxy: an object the provider keeps could not be recorded as its user's");
        }
    }

    /// Records a resumable upload's session for `ttl_ms`.
    pub(crate) async fn put_upload_session(
        &self,
        project: &str,
        id: &str,
        session: (&UploadSession, &[u8]),
        ttl_ms: u64,
    ) -> Result<(), GatewayError> {
        Ok(self.job_store.put_upload_session(project, id, session, ttl_ms).await?)
    }

    /// The line a session's last chunk left unended.
    pub(crate) async fn upload_carry(&self, project: &str, id: &str) -> Result<Vec<u8>, GatewayError> {
        Ok(self.job_store.upload_carry(project, id).await?)
    }

    pub(crate) async fn upload_session(&self, project: &str, id: &str) -> Result<Option<UploadSession>, GatewayError> {
        Ok(self.job_store.upload_session(project, id).await?)
    }

    pub(crate) async fn drop_upload_session(&self, project: &str, id: &str) -> Result<(), GatewayError> {
        Ok(self.job_store.drop_upload_session(project, id).await?)
    }

    /// Takes a session's chunk lease: false when another of its chunks is passing.
    pub(crate) async fn lease_upload_chunk(
        &self,
        project: &str,
        id: &str,
        token: &str,
        ms: u64,
    ) -> Result<bool, GatewayError> {
        Ok(self.job_store.lease_upload_chunk(project, id, token, ms).await?)
    }

    pub(crate) async fn unlease_upload_chunk(&self, project: &str, id: &str, token: &str) -> Result<(), GatewayError> {
        Ok(self.job_store.unlease_upload_chunk(project, id, token).await?)
    }

    /// Claims a user's Idempotency-Key of an upload (`user`, its field) with `value`; None when
    /// claimed, else what the key holds already.
    pub(crate) async fn claim_upload_key(
        &self,
        project: &str,
        key: (&str, &str),
        value: &str,
        ttl_ms: u64,
    ) -> Result<Option<String>, GatewayError> {
        Ok(self.job_store.claim_upload_key(project, key, value, ttl_ms).await?)
    }

    /// Records what a claimed upload key answers from now on: the file its upload made.
    pub(crate) async fn record_upload_key(
        &self,
        project: &str,
        key: (&str, &str),
        value: &str,
    ) -> Result<(), GatewayError> {
        Ok(self
            .job_store
            .record_upload_key(project, key, value, FILE_KEPT_MS as u64)
            .await?)
    }

    /// Gives up a claim of an upload key whose upload made no file, so its retry may.
    pub(crate) async fn drop_upload_key(
        &self,
        project: &str,
        key: (&str, &str),
        value: &str,
    ) -> Result<(), GatewayError> {
        Ok(self.job_store.drop_upload_key(project, key, value).await?)
    }

    /// A page of a user's list, newest first (oldest first with `oldest_first`).
    pub(crate) async fn listed_page(
        &self,
        list: List<'_>,
        oldest_first: bool,
        cursor: &Cursor,
        limit: usize,
    ) -> Result<ListPage, GatewayError> {
        Ok(self
            .job_store
            .listed_page(&of(list), oldest_first, cursor, limit)
            .await?)
    }

    /// Takes ids out of a user's list.
    pub(crate) async fn unlist(&self, list: List<'_>, ids: &[String]) -> Result<(), GatewayError> {
        Ok(self.job_store.unlist(&of(list), ids).await?)
    }

    /// Jobs' records by their keys, None where one has expired.
    pub(crate) async fn jobs_of(&self, project: &str, keys: &[String]) -> Result<Vec<Option<JobRecord>>, GatewayError> {
        Ok(self.job_store.jobs_of(project, keys).await?)
    }

    /// Files' records by their keys, None where one has expired.
    pub(crate) async fn job_files_of(
        &self,
        project: &str,
        keys: &[String],
    ) -> Result<Vec<Option<FileRecord>>, GatewayError> {
        Ok(self.job_store.job_files_of(project, keys).await?)
    }
}

impl DataPlane {
    /// The node's clock, ms (Redis-synchronised), for jobs' instants.
    pub(crate) fn now_ms(&self) -> i64 {
        self.node.now_ms()
    }
}
