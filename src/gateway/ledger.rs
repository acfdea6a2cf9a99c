//! Reading the usage ledger, a page at a time.

use super::{Gateway, GatewayError};
use crate::quota::{UsageEvent, UserId};

/// A page of ledger entries, oldest first, and where the next page starts.
#[derive(Debug, Clone)]
pub struct UsageEventPage {
    pub data: Vec<UsageEvent>,
    /// The position of the last entry, when more may follow.
    pub next_after: Option<String>,
}

impl Gateway {
    /// Up to `limit` entries of `user` in [`from_ms`, `to_ms`), after `after` when given.
    pub async fn usage_events(
        &self,
        project: &str,
        user: &UserId,
        from_ms: i64,
        to_ms: i64,
        after: Option<&str>,
        limit: usize,
    ) -> Result<UsageEventPage, GatewayError> {
        let data = self.store.ledger(project, user, after, from_ms, to_ms, limit).await?;
        let next_after = (data.len() == limit)
            .then(|| data.last().map(|e| e.position.clone()))
            .flatten();
        Ok(UsageEventPage { data, next_after })
    }
}
