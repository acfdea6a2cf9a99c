//! First contact with Redis: the clock synced, the data plane's function library loaded, the
//! root token digest and project `default` with one secret key made at the very first start,
//! the user-token signing secret and the start of the ledger index learnt.
//! Secrets are returned to the caller to print once; only their digests are stored.

use super::Accounts;
use crate::gateway::GatewayError;
use crate::quota::{day_of, ProjectSettings, DAY_MS};
use crate::secrets;
use crate::store::StoreError;

/// Secrets created by this start, to be shown once.
#[derive(Debug, Default)]
pub struct FirstStart {
    /// The generated root token, when none was configured and none existed.
    pub root_token: Option<String>,
    /// A secret key of project `default`, when this start created the project.
    pub default_key: Option<String>,
}

impl Accounts<'_> {
    /// Reaches Redis once: on success the node is started (`started()` is true) and answers
    /// whatever this start created.
    pub(crate) async fn start(&self, configured_root: Option<&str>) -> Result<FirstStart, GatewayError> {
        self.data.node.sync_clock().await?;
        for name in self.store.install_library().await? {
            tracing::info!(library = %name, "removed another build's function library");
        }
        let mut first = FirstStart::default();
        let root_digest = match configured_root {
            Some(token) => secrets::digest(token),
            None => {
                let token = secrets::new_root_token();
                // Two nodes starting at once: only the one whose digest was stored prints its token.
                if self.store.init_root_digest(&secrets::digest_hex(&token)).await? {
                    first.root_token = Some(token);
                }
                let stored = self.store.root_digest().await?.unwrap_or_default();
                hex::decode(stored)
                    .ok()
                    .and_then(|d| <[u8; 32]>::try_from(d).ok())
                    .ok_or_else(|| StoreError::Protocol("the stored root token digest is malformed".into()))?
            }
        };
        if self.create_project("default", &ProjectSettings::default()).await? {
            let (_, key) = self.new_key("default", "secret", "created at first start").await?;
            first.default_key = Some(key);
        }
        let fresh = hex::encode(secrets::random_bytes::<32>());
        let stored = self.store.signing_key(&fresh).await?;
        // The signing key is made by a deployment's very first start: such a deployment keeps
        // the ledger index from the beginning. One that kept a ledger before the index existed
        // has it complete from the next UTC day on (nodes of the earlier version may still be
        // writing today); older entries are read through the users index.
        let index_from = if stored == fresh {
            0
        } else {
            (day_of(self.data.node.clock.now_ms()) + 1) * DAY_MS
        };
        let _ = self
            .data
            .ledger_since
            .set(self.store.ledger_index_since(index_from).await?);
        let signing_key =
            hex::decode(stored).map_err(|_| StoreError::Protocol("the stored signing key is malformed".into()))?;
        let _ = self.data.node.secrets.root_digest.set(root_digest);
        let _ = self.data.node.secrets.signing_key.set(signing_key);
        Ok(first)
    }
}
