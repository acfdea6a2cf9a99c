//! Adjustments in Redis: `adjust.lua` changes one counter and appends to the user's audit
//! trail (`qg:{p:u}:audit`, newest first), which this file also reads.

use redis::AsyncCommands;

use super::scripts::{self, AdjustArgs, Adjustment, Idempotency, Reply};
use super::{DataStore, StoreError};
use crate::quota::{AuditEntry, Hold, UserId};

impl DataStore {
    /// Answers the applied change in signed milli-units and the counter after it.
    pub(crate) async fn adjust(
        &self,
        project: &str,
        user: &UserId,
        hold: &Hold<'_>,
        args: &AdjustArgs,
        idempotency: Option<&Idempotency>,
        ledger: bool,
    ) -> Result<Reply<Adjustment>, StoreError> {
        let keys = &self.keys.user(project, user.as_str());
        let w = &self.writing(keys, idempotency, ledger);
        self.write("adjust", |mut conn| async move {
            let reply = scripts::adjust(&mut conn, w, hold, args).await?;
            Ok((reply, conn))
        })
        .await
    }

    /// The user's audit trail, newest first.
    pub(crate) async fn adjustments(&self, project: &str, user: &UserId) -> Result<Vec<AuditEntry>, StoreError> {
        let key = self.keys.user(project, user.as_str()).audit().to_string();
        let raw: Vec<String> = self
            .run(|mut conn| async move { Ok(conn.lrange(&key, 0, -1).await?) })
            .await?;
        raw.iter()
            .map(|json| {
                serde_json::from_str(json).map_err(|e| StoreError::Protocol(format!("audit entry: {e}").into()))
            })
            .collect()
    }
}
