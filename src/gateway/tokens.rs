//! User tokens, judged by the node's Redis-synced clock and signed with the deployment's
//! secret, which the node learns at start.

use super::node::Node;
use super::GatewayError;
use crate::quota::UserId;
use crate::secrets::tokens::{self, Claims};

impl Node {
    pub(super) fn signing_key(&self) -> Result<&[u8], GatewayError> {
        self.secrets
            .signing_key
            .get()
            .map(Vec::as_slice)
            .ok_or(GatewayError::Starting)
    }

    /// A token for `user` of `project`, valid for `ttl_seconds`; answers it and its expiry.
    pub(crate) fn mint_user_token(
        &self,
        project: &str,
        user: &UserId,
        ttl_seconds: i64,
    ) -> Result<(String, i64), GatewayError> {
        let expires_ms = self.clock.now_ms() + ttl_seconds * 1000;
        let claims = Claims {
            project: project.to_string(),
            user: user.as_str().to_string(),
            expires_ms,
        };
        let token = tokens::mint(self.signing_key()?, &claims).map_err(GatewayError::encode("a user token"))?;
        Ok((token, expires_ms))
    }

    /// The claims of a valid, unexpired token; None for anything else.
    pub(crate) fn verify_user_token(&self, token: &str) -> Result<Option<Claims>, GatewayError> {
        Ok(tokens::verify(self.signing_key()?, token, self.clock.now_ms()))
    }
}
