//! First start: the root token digest and project `default` with one secret key.
//! Secrets are returned to the caller to print once; only their digests are stored.

use crate::secrets;
use crate::store::{ProjectSettings, QuotaStore, StoreError};

/// Secrets created by this start, to be shown once.
#[derive(Debug, Default)]
pub struct FirstStart {
    /// The generated root token, when none was configured and none existed.
    pub root_token: Option<String>,
    /// A secret key of project `default`, when this start created the project.
    pub default_key: Option<String>,
}

/// Returns the root token's digest and whatever this start created.
pub async fn bootstrap(
    store: &QuotaStore,
    configured_root: Option<&str>,
) -> Result<([u8; 32], FirstStart), StoreError> {
    let mut first = FirstStart::default();
    let root_digest = match configured_root {
        Some(token) => secrets::digest(token),
        None => {
            let token = secrets::new_root_token();
            // Two nodes starting at once: only the one whose digest was stored prints its token.
            if store.init_root_digest(&secrets::digest_hex(&token)).await? {
                first.root_token = Some(token);
            }
            let stored = store.root_digest().await?.unwrap_or_default();
            hex::decode(stored)
                .ok()
                .and_then(|d| <[u8; 32]>::try_from(d).ok())
                .ok_or_else(|| StoreError::Protocol("the stored root token digest is malformed".into()))?
        }
    };
    if store.create_project("default", &ProjectSettings::default()).await? {
        let (_, key) = store.mint_key("default", "secret", "created at first start").await?;
        first.default_key = Some(key);
    }
    Ok((root_digest, first))
}
