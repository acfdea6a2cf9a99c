//! The pricing lab's simulations in Redis: per simulation a string of its state as the gateway
//! writes it (`qg:{p}:sim:<id>`: at the start, then with its report) and one of its progress
//! (`qg:{p}:sim:<id>:progress`), each expiring a day after its last write.
//! The store keeps the text; what it says is the gateway's.

use std::time::Duration;

use super::{LabStore, Store, StoreError};
use crate::quota::UserId;

impl LabStore {
    /// Writes a simulation's state (or, with `progress`, its progress beside it), to expire
    /// `keep` from now.
    pub(crate) async fn put_simulation(
        &self,
        project: &str,
        id: &str,
        progress: bool,
        text: String,
        keep: Duration,
    ) -> Result<(), StoreError> {
        let key = match progress {
            true => self.keys.simulation_progress(project, id),
            false => self.keys.simulation(project, id),
        };
        self.put_expiring(key, text, keep).await
    }

    /// A simulation's state and its progress (the two keys share the project's slot).
    pub(crate) async fn simulation(
        &self,
        project: &str,
        id: &str,
    ) -> Result<(Option<String>, Option<String>), StoreError> {
        let keys = [
            self.keys.simulation(project, id),
            self.keys.simulation_progress(project, id),
        ];
        self.run(|mut conn| async move {
            let mut both: Vec<Option<String>> = redis::cmd("MGET").arg(&keys).query_async(&mut conn).await?;
            let progress = both.pop().flatten();
            Ok((both.pop().flatten(), progress))
        })
        .await
    }

    /// How many entries `user`'s ledger keeps, whatever their times (XLEN).
    pub(crate) async fn ledger_length(&self, project: &str, user: &UserId) -> Result<u64, StoreError> {
        let key = self.keys.user(project, user.as_str()).ledger().to_string();
        self.run(|mut conn| async move { Ok(redis::cmd("XLEN").arg(&key).query_async(&mut conn).await?) })
            .await
    }
}

impl Store {
    /// A string that expires `keep` after this write (a simulation's state, the overview's
    /// count).
    pub(super) async fn put_expiring(&self, key: String, text: String, keep: Duration) -> Result<(), StoreError> {
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
}
