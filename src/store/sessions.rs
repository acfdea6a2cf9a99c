//! Dashboard sessions in Redis: `<prefix>:session:<SHA-256 of the cookie>` holds the session's
//! JSON and lives for the idle expiry, renewed by each use. The cookie itself is never stored.

use redis::AsyncCommands;

use super::{ConsoleStore, StoreError};

impl ConsoleStore {
    pub(crate) async fn put_session(&self, digest_hex: &str, json: &str, idle_ms: u64) -> Result<(), StoreError> {
        let key = format!("{}:session:{digest_hex}", self.keys.prefix());
        self.run(|mut conn| async move {
            let _: () = conn.pset_ex(&key, json, idle_ms).await?;
            Ok(())
        })
        .await
    }

    /// The session's JSON, its idle expiry renewed; None when it expired or never was.
    pub(crate) async fn touch_session(&self, digest_hex: &str, idle_ms: u64) -> Result<Option<String>, StoreError> {
        let key = format!("{}:session:{digest_hex}", self.keys.prefix());
        self.run(|mut conn| async move {
            Ok(redis::cmd("GETEX")
                .arg(&key)
                .arg("PX")
                .arg(idle_ms)
                .query_async(&mut conn)
                .await?)
        })
        .await
    }

    pub(crate) async fn delete_session(&self, digest_hex: &str) -> Result<(), StoreError> {
        let key = format!("{}:session:{digest_hex}", self.keys.prefix());
        self.run(|mut conn| async move {
            let _: i64 = conn.del(&key).await?;
            Ok(())
        })
        .await
    }
}
