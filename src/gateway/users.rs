//! The users index of a project, a page at a time.

use super::{Gateway, GatewayError};
use crate::quota::{UserFilter, UserPage};

impl Gateway {
    /// Up to `limit` users after `after` that pass `filter`.
    pub async fn users(
        &self,
        project: &str,
        after: Option<&str>,
        limit: usize,
        filter: &UserFilter,
    ) -> Result<UserPage, GatewayError> {
        Ok(self.store.users(project, after, limit, filter).await?)
    }

    /// How many users are on each plan (users on the default plan without a subscription are
    /// not counted).
    pub async fn plan_member_counts(&self, project: &str) -> Result<Vec<(String, i64)>, GatewayError> {
        Ok(self.store.plan_member_counts(project).await?)
    }
}
