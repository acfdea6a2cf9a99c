//! The audit log as operators read it: a page of a project's changes, newest first. Writing
//! an entry is the node's (`Node::record`), as every plane's verbs write their own.

use super::Accounts;
use crate::gateway::GatewayError;
use crate::quota::{ChangeEntry, ChangeFilter};

impl Accounts<'_> {
    /// A page of the audit log, newest first (see `Store::changes`).
    pub(crate) async fn changes(
        &self,
        project: &str,
        before: Option<&str>,
        filter: &ChangeFilter,
        limit: usize,
    ) -> Result<(Vec<ChangeEntry>, Option<String>), GatewayError> {
        Ok(self.store.changes(project, before, filter, limit).await?)
    }
}
