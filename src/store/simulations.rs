//! The pricing lab's simulations in Redis: one string per simulation (`qg:{p}:sim:<id>`), its
//! state as the gateway writes it (progress, then the report), expiring a day after each write.
//! The store keeps the text; what it says is the gateway's.

use std::time::Duration;

use redis::AsyncCommands;

use super::{Store, StoreError};
use crate::quota::UserId;

impl Store {
    /// Writes a simulation's state, to expire `keep` from now.
    pub async fn put_simulation(
        &self,
        project: &str,
        id: &str,
        text: String,
        keep: Duration,
    ) -> Result<(), StoreError> {
        let key = self.keys.simulation(project, id);
        let ms = u64::try_from(keep.as_millis()).unwrap_or(u64::MAX);
        self.run(|mut conn| async move {
            let _: () = redis::cmd("SET")
                .arg(&key)
                .arg(text)
                .arg("PX")
                .arg(ms)
                .query_async(&mut conn)
                .await?;
            Ok(())
        })
        .await
    }

    pub async fn simulation(&self, project: &str, id: &str) -> Result<Option<String>, StoreError> {
        let key = self.keys.simulation(project, id);
        self.run(|mut conn| async move { Ok(conn.get(&key).await?) }).await
    }

    /// How many entries `user`'s ledger keeps, whatever their times (XLEN).
    pub async fn ledger_length(&self, project: &str, user: &UserId) -> Result<u64, StoreError> {
        let key = self.keys.user(project, user.as_str()).ledger;
        self.run(|mut conn| async move { Ok(redis::cmd("XLEN").arg(&key).query_async(&mut conn).await?) })
            .await
    }
}
