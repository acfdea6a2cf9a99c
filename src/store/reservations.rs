//! Reading one reservation, and extending a held one with `extend.lua`.

use redis::AsyncCommands;

use super::keys::reservation_user;
use super::record::Record;
use super::scripts::{self, ExtendReply, Reply};
use super::{Attempts, QuotaStore, StoreError};

/// A reservation lives at most this long after its creation, however often it is extended.
pub const MAX_LIFETIME_MS: i64 = 24 * 3_600_000;

/// How an extend went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Extension {
    NotFound,
    /// It is no longer held: "expired", "committed" or "released".
    Ended(String),
    Extended {
        expires_ms: i64,
    },
}

impl QuotaStore {
    /// The record of a reservation of `project`, or None (malformed ids included).
    pub async fn reservation(&self, project: &str, reservation_id: &str) -> Result<Option<Record>, StoreError> {
        let Some(user) = reservation_user(reservation_id) else {
            return Ok(None);
        };
        let key = self.keys.user(project, &user).res;
        let raw: Option<String> = self
            .run(|mut conn| async move { Ok(conn.hget(&key, reservation_id).await?) })
            .await?;
        raw.map(|json| Record::parse(&json).map_err(StoreError::Protocol))
            .transpose()
    }

    /// Moves a held reservation's expiry to now + `ttl_ms`, capped at creation + 24 h.
    pub async fn extend(&self, project: &str, reservation_id: &str, ttl_ms: i64) -> Result<Extension, StoreError> {
        let Some(user) = reservation_user(reservation_id) else {
            return Ok(Extension::NotFound);
        };
        let keys = &self.keys.user(project, &user);
        let mut attempts = Attempts::new();
        loop {
            let reply = self
                .run_script("extend", |mut conn| async move {
                    let reply = scripts::extend(
                        &mut conn,
                        keys,
                        self.retention_ms,
                        reservation_id,
                        ttl_ms,
                        MAX_LIFETIME_MS,
                    )
                    .await?;
                    self.replicate(&mut conn).await?;
                    Ok(reply)
                })
                .await?;
            return Ok(match reply {
                Reply::More if attempts.after_more() => continue,
                Reply::Stale | Reply::Reused if attempts.after_stale() => continue,
                Reply::More | Reply::Stale | Reply::Reused => break,
                Reply::Done(ExtendReply::NotFound) => Extension::NotFound,
                Reply::Done(ExtendReply::Ended(state)) => Extension::Ended(state),
                Reply::Done(ExtendReply::Extended { expires_ms }) => Extension::Extended { expires_ms },
            });
        }
        Err(attempts.exhausted())
    }
}
