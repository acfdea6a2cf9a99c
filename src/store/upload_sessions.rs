//! Resumable uploads in flight (Gemini's Files API), in the project's slot: a session's record
//! as JSON (`upload:<id>`, the id the random part of its URL at the gateway) and the lease of
//! the node passing one of its chunks on (`uploadchunk:<id>`), so a session's chunks go
//! through one at a time and its record is read, then written, by one node. Records of what is
//! being uploaded, not quota state: an upload holds nothing, so no script keeps them.

use redis::AsyncCommands;

use super::{corrupt, JobStore, StoreError};
use crate::quota::UploadSession;

impl JobStore {
    /// Records a session (anew, or as its last chunk left it) for `ttl_ms`.
    pub(crate) async fn put_upload_session(
        &self,
        project: &str,
        id: &str,
        session: &UploadSession,
        ttl_ms: u64,
    ) -> Result<(), StoreError> {
        let json = serde_json::to_string(session).map_err(|e| corrupt("upload", e))?;
        let record = self.keys.jobs(project, &format!("upload:{id}"));
        self.run(|mut conn| async move { Ok(conn.pset_ex(&record, &json, ttl_ms).await?) })
            .await
    }

    pub(crate) async fn upload_session(&self, project: &str, id: &str) -> Result<Option<UploadSession>, StoreError> {
        let record = self.keys.jobs(project, &format!("upload:{id}"));
        let raw: Option<String> = self.run(|mut conn| async move { Ok(conn.get(&record).await?) }).await?;
        raw.map(|r| serde_json::from_str(&r).map_err(|e| corrupt("upload", e)))
            .transpose()
    }

    /// The session ended (its file made): its record goes.
    pub(crate) async fn drop_upload_session(&self, project: &str, id: &str) -> Result<(), StoreError> {
        let record = self.keys.jobs(project, &format!("upload:{id}"));
        self.run(|mut conn| async move { Ok(conn.del(&record).await?) }).await
    }

    /// Takes the session's chunk lease for `ms` with `token`: false when another chunk of it is
    /// passing.
    pub(crate) async fn lease_upload_chunk(
        &self,
        project: &str,
        id: &str,
        token: &str,
        ms: u64,
    ) -> Result<bool, StoreError> {
        self.lease_job(project, "uploadchunk", id, token, ms).await
    }

    /// Gives the chunk lease back, if `token` still holds it.
    pub(crate) async fn unlease_upload_chunk(&self, project: &str, id: &str, token: &str) -> Result<(), StoreError> {
        self.unlock(self.keys.jobs(project, &format!("uploadchunk:{id}")), token)
            .await
    }
}
