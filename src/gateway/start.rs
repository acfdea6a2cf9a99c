//! First contact with Redis: the clock synced, the root token digest and project `default` with
//! one secret key made at the very first start, and the user-token signing secret learnt.
//! Secrets are returned to the caller to print once; only their digests are stored.

use super::{Gateway, GatewayError};
use crate::quota::ProjectSettings;
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

impl Gateway {
    /// Reaches Redis once: on success the node is started (`started()` is true) and answers
    /// whatever this start created.
    pub async fn start(&self, configured_root: Option<&str>) -> Result<FirstStart, GatewayError> {
        self.sync_clock().await?;
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
        let signing_key = hex::decode(self.store.signing_key(&fresh).await?)
            .map_err(|_| StoreError::Protocol("the stored signing key is malformed".into()))?;
        let _ = self.secrets.root_digest.set(root_digest);
        let _ = self.secrets.signing_key.set(signing_key);
        Ok(first)
    }
}
