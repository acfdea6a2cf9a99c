//! After a subscription changed (a subscribe, an override, an approval's decision): the node's
//! cache and the users index follow it, and the slices the user leased as a team end. Here, not
//! with the subscription verbs, as an approval's decision (the data plane's) changes one too.

use super::DataPlane;
use crate::gateway::GatewayError;
use crate::quota::Subscription;

impl DataPlane {
    /// After a change: cache the new state and bring the users index up to it; the slices the
    /// user leased as a team end (slices.rs).
    pub(crate) async fn changed(&self, project: &str, sub: Subscription) -> Result<Subscription, GatewayError> {
        self.node
            .cache
            .put_user(project, &sub.user_id, std::sync::Arc::new(sub.clone()));
        self.store.index_user(project, &sub).await?;
        self.leases().end_slices_soon(project, &sub.user_id, None);
        Ok(sub)
    }
}
