//! Dashboard sign-in attempts counted in Redis, so every node sees the same count:
//! `<prefix>:signin:<name>` is a counter whose window opens with its first attempt and ends
//! when the key expires. The caller names the counter (a client's address, a credential's
//! digest); nothing here knows what it counts.

use redis::AsyncCommands;

use super::{ConsoleStore, StoreError};

impl ConsoleStore {
    /// Counts one attempt on the counter `name`: answers the attempts in the current window,
    /// this one included, and the milliseconds until the window ends. Counted before the
    /// attempt is judged, so parallel attempts cannot all slip under the limit.
    pub(crate) async fn count_attempt(&self, name: &str, window_ms: u64) -> Result<(u64, u64), StoreError> {
        let key = format!("{}:signin:{name}", self.keys.prefix());
        self.run(|mut conn| async move {
            let (count, ttl_ms): (u64, i64) = redis::pipe()
                .incr(&key, 1)
                .cmd("PTTL")
                .arg(&key)
                .query_async(&mut conn)
                .await?;
            // The first attempt opens the window. A counter left without an expiry (a node
            // stopped between the two commands) gets one from whichever attempt sees it.
            if ttl_ms < 0 {
                let _: bool = conn.pexpire(&key, i64::try_from(window_ms).unwrap_or(i64::MAX)).await?;
                return Ok((count, window_ms));
            }
            Ok((count, ttl_ms.unsigned_abs()))
        })
        .await
    }
}
