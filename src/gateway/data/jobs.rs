//! The door's async jobs and uploaded files, as the proxy records and reads them
//! (`store/jobs.rs`): each verb the store's, in the gateway's errors.

use super::DataPlane;
use crate::gateway::GatewayError;
use crate::quota::{FileRecord, JobRecord, PendingJob};

impl DataPlane {
    /// Records a job its provider named; false when it was recorded already.
    pub(crate) async fn put_job(&self, project: &str, job: &JobRecord, poll_ms: i64) -> Result<bool, GatewayError> {
        Ok(self.node.store.put_job(project, job, poll_ms).await?)
    }

    pub(crate) async fn put_pending_job(
        &self,
        project: &str,
        pending: &PendingJob,
        look_ms: i64,
    ) -> Result<(), GatewayError> {
        Ok(self.node.store.put_pending_job(project, pending, look_ms).await?)
    }

    pub(crate) async fn pending_job(&self, project: &str, key: &str) -> Result<Option<PendingJob>, GatewayError> {
        Ok(self.node.store.pending_job(project, key).await?)
    }

    pub(crate) async fn drop_pending_job(&self, project: &str, key: &str) -> Result<(), GatewayError> {
        Ok(self.node.store.drop_pending_job(project, key).await?)
    }

    pub(crate) async fn job(&self, project: &str, key: &str) -> Result<Option<JobRecord>, GatewayError> {
        Ok(self.node.store.job(project, key).await?)
    }

    pub(crate) async fn job_of_hold(&self, project: &str, reservation: &str) -> Result<Option<String>, GatewayError> {
        Ok(self.node.store.job_of_hold(project, reservation).await?)
    }

    pub(crate) async fn update_job(&self, project: &str, job: &JobRecord) -> Result<(), GatewayError> {
        Ok(self.node.store.update_job(project, job).await?)
    }

    pub(crate) async fn lease_job(
        &self,
        project: &str,
        what: &str,
        key: &str,
        node: &str,
        ms: u64,
    ) -> Result<bool, GatewayError> {
        Ok(self.node.store.lease_job(project, what, key, node, ms).await?)
    }

    pub(crate) async fn unschedule_job(&self, project: &str, key: &str) -> Result<(), GatewayError> {
        Ok(self.node.store.unschedule_job(project, key).await?)
    }

    pub(crate) async fn schedule_job(&self, project: &str, key: &str, poll_ms: i64) -> Result<(), GatewayError> {
        Ok(self.node.store.schedule_job(project, key, poll_ms).await?)
    }

    pub(crate) async fn due_jobs(&self, now_ms: i64, limit: usize) -> Result<Vec<(String, String)>, GatewayError> {
        Ok(self.node.store.due_jobs(now_ms, limit).await?)
    }

    /// A user's open jobs, oldest first, at most `limit`.
    pub(crate) async fn open_jobs(
        &self,
        project: &str,
        user: &str,
        limit: usize,
    ) -> Result<Vec<JobRecord>, GatewayError> {
        Ok(self.node.store.open_jobs(project, user, limit).await?)
    }

    pub(crate) async fn put_job_file(&self, project: &str, key: &str, file: &FileRecord) -> Result<(), GatewayError> {
        Ok(self.node.store.put_job_file(project, key, file).await?)
    }

    pub(crate) async fn job_file(&self, project: &str, key: &str) -> Result<Option<FileRecord>, GatewayError> {
        Ok(self.node.store.job_file(project, key).await?)
    }

    /// The node's clock, ms (Redis-synchronised), for jobs' instants.
    pub(crate) fn now_ms(&self) -> i64 {
        self.node.now_ms()
    }
}
