//! Run actions closed to further attempts: one hash in the user's slot, a field per action,
//! kept as long as a run may live.

use redis::AsyncCommands;

use super::{DataStore, StoreError};

/// A run lives at most a day; its closed actions are kept as long.
const KEPT_MS: i64 = 24 * 3_600_000;

fn field(run: &str, action: &str) -> String {
    format!("{run}|{action}")
}

impl DataStore {
    /// Closes `action` of `run` to further attempts, saying why.
    pub(crate) async fn close_action(
        &self,
        project: &str,
        user: &str,
        run: &str,
        action: &str,
        why: &str,
    ) -> Result<(), StoreError> {
        let key = self.keys.user(project, user).closed_actions();
        let field = field(run, action);
        self.run(|mut conn| async move {
            let _: () = conn.hset(&key, &field, why).await?;
            let _: () = conn.pexpire(&key, KEPT_MS).await?;
            Ok(())
        })
        .await
    }

    /// Why `action` of `run` was closed, if it was.
    pub(crate) async fn closed_action(
        &self,
        project: &str,
        user: &str,
        run: &str,
        action: &str,
    ) -> Result<Option<String>, StoreError> {
        let key = self.keys.user(project, user).closed_actions();
        let field = field(run, action);
        self.run(|mut conn| async move { Ok(conn.hget(&key, &field).await?) })
            .await
    }
}
