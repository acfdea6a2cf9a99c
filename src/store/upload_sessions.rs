//! Resumable uploads in flight (Gemini's Files API), in the project's slot: a session's record
//! as JSON (`upload:<id>`, the id the random part of its URL at the gateway), the line its file's
//! last chunk left unended (`uploadcarry:<id>`, its bytes) and the lease of
//! the node passing one of its chunks on (`uploadchunk:<id>`), so a session's chunks go
//! through one at a time and its record is read, then written, by one node. Records of what is
//! being uploaded, not quota state: an upload holds nothing, so no script keeps them.

use redis::AsyncCommands;

use super::{corrupt, JobStore, StoreError};
use crate::quota::UploadSession;

impl JobStore {
    /// Records a session (anew, or as its last chunk left it) for `ttl_ms`, with the line its
    /// file's last chunk left unended (kept apart: the identify phase reads the session on every
    /// chunk, and a line may be megabytes).
    pub(crate) async fn put_upload_session(
        &self,
        project: &str,
        id: &str,
        (session, carry): (&UploadSession, &[u8]),
        ttl_ms: u64,
    ) -> Result<(), StoreError> {
        let json = serde_json::to_string(session).map_err(|e| corrupt("upload", e))?;
        let (record, carried) = self.upload_keys(project, id);
        let mut pipe = redis::pipe();
        pipe.cmd("SET").arg(&record).arg(&json).arg("PX").arg(ttl_ms).ignore();
        match carry.is_empty() {
            true => pipe.cmd("DEL").arg(&carried).ignore(),
            false => pipe.cmd("SET").arg(&carried).arg(carry).arg("PX").arg(ttl_ms).ignore(),
        };
        self.run(|mut conn| {
            let pipe = &pipe;
            async move { Ok(pipe.query_async::<()>(&mut conn).await?) }
        })
        .await
    }

    pub(crate) async fn upload_session(&self, project: &str, id: &str) -> Result<Option<UploadSession>, StoreError> {
        let (record, _) = self.upload_keys(project, id);
        let raw: Option<String> = self.run(|mut conn| async move { Ok(conn.get(&record).await?) }).await?;
        raw.map(|r| serde_json::from_str(&r).map_err(|e| corrupt("upload", e)))
            .transpose()
    }

    /// The line a session's last chunk left unended (empty for none).
    pub(crate) async fn upload_carry(&self, project: &str, id: &str) -> Result<Vec<u8>, StoreError> {
        let (_, carried) = self.upload_keys(project, id);
        let raw: Option<Vec<u8>> = self
            .run(|mut conn| async move { Ok(conn.get(&carried).await?) })
            .await?;
        Ok(raw.unwrap_or_default())
    }

    /// The session ended (its file made): its records go.
    pub(crate) async fn drop_upload_session(&self, project: &str, id: &str) -> Result<(), StoreError> {
        let (record, carried) = self.upload_keys(project, id);
        self.run(|mut conn| async move { Ok(conn.del(&[&record, &carried]).await?) })
            .await
    }

    fn upload_keys(&self, project: &str, id: &str) -> (String, String) {
        (
            self.keys.jobs(project, &format!("upload:{id}")),
            self.keys.jobs(project, &format!("uploadcarry:{id}")),
        )
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
