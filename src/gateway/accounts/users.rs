//! The users index of a project, a page at a time.

use super::Accounts;
use crate::gateway::GatewayError;
use crate::quota::{UserFilter, UserId, UserPage};

impl Accounts<'_> {
    /// Up to `limit` users after `after` that pass `filter`.
    pub(crate) async fn users(
        &self,
        project: &str,
        after: Option<&str>,
        limit: usize,
        filter: &UserFilter,
    ) -> Result<UserPage, GatewayError> {
        Ok(self.store.users(project, after, limit, filter).await?)
    }

    /// Whether the project has ever seen `user`: a subscription, or any usage.
    pub(crate) async fn user_seen(&self, project: &str, user: &UserId) -> Result<bool, GatewayError> {
        Ok(self.store.user_listed(project, user.as_str()).await?)
    }

    /// How many users are on each plan (users on the default plan without a subscription are
    /// not counted).
    pub(crate) async fn plan_member_counts(&self, project: &str) -> Result<Vec<(String, i64)>, GatewayError> {
        Ok(self.store.plan_member_counts(project).await?)
    }
}
