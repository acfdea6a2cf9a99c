//! Dashboard sessions: signing in with a secret key (its project) or the root token (every
//! project), kept in Redis for an idle expiry of 12 hours and checked on every request, so a
//! revoked key's sessions end as soon as the node learns of the revocation (within a second).

use serde::{Deserialize, Serialize};

use super::audit::Actor;
use super::{Gateway, GatewayError};
use crate::secrets::{digest_hex, random_token};

/// A session ends after this long without a request.
pub const IDLE_MS: u64 = 12 * 3_600_000;

/// Who is signed in, and what for.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Session {
    /// The project the pages show (any project for the root token, its own for a key).
    pub project: String,
    /// The key's id, or "root".
    pub actor_id: String,
    /// The key's label, or "root token".
    pub actor_label: String,
    /// SHA-256 (hex) of the key or root token signed in with: checked on every request.
    pub credential_digest: String,
    pub root: bool,
    /// The token every form of this session carries.
    pub csrf: String,
}

impl Session {
    /// Who changes things in this session, for the audit log.
    pub fn actor(&self) -> Actor {
        Actor {
            id: self.actor_id.clone(),
            label: self.actor_label.clone(),
        }
    }
}

impl Gateway {
    /// A new session for `credential`, and the cookie value that names it; None when the
    /// credential is neither the root token nor a live secret key. Only through `sign_in`,
    /// which counts the attempt first.
    pub(super) async fn open_session(&self, credential: &str) -> Result<Option<(String, Session)>, GatewayError> {
        let session = if self.is_root(credential)? {
            let project = self
                .store
                .project_ids()
                .await?
                .into_iter()
                .min()
                .unwrap_or_else(|| "default".into());
            Session {
                project,
                actor_id: "root".into(),
                actor_label: "root token".into(),
                credential_digest: digest_hex(credential),
                root: true,
                csrf: random_token(32),
            }
        } else {
            match self.authenticate(credential).await? {
                Some(key) if key.kind == "secret" => Session {
                    project: key.project.clone(),
                    actor_id: key.key_id.clone(),
                    actor_label: key.label.clone(),
                    credential_digest: key.digest_hex.clone(),
                    root: false,
                    csrf: random_token(32),
                },
                _ => return Ok(None),
            }
        };
        let cookie = random_token(43);
        self.save_session(&cookie, &session).await?;
        Ok(Some((cookie, session)))
    }

    async fn save_session(&self, cookie: &str, session: &Session) -> Result<(), GatewayError> {
        let json = serde_json::to_string(session).map_err(GatewayError::encode("a session"))?;
        Ok(self.store.put_session(&digest_hex(cookie), &json, IDLE_MS).await?)
    }

    /// The live session a cookie names, its idle expiry renewed; None when it expired, was
    /// signed out, or its key was revoked (then it is ended too).
    pub async fn session(&self, cookie: &str) -> Result<Option<Session>, GatewayError> {
        let digest = digest_hex(cookie);
        let Some(json) = self.store.touch_session(&digest, IDLE_MS).await? else {
            return Ok(None);
        };
        let Ok(session) = serde_json::from_str::<Session>(&json) else {
            return Ok(None);
        };
        let live = if session.root {
            self.root_digest_is(&session.credential_digest)
        } else {
            self.find_key(&session.credential_digest).await?.is_some()
        };
        if !live {
            self.store.delete_session(&digest).await?;
            return Ok(None);
        }
        Ok(Some(session))
    }

    /// Points a root session at another project.
    pub async fn switch_project(&self, cookie: &str, session: &Session, project: &str) -> Result<bool, GatewayError> {
        if !session.root || self.project_settings(project).await?.is_none() {
            return Ok(false);
        }
        let switched = Session {
            project: project.to_string(),
            ..session.clone()
        };
        self.save_session(cookie, &switched).await?;
        Ok(true)
    }

    pub async fn sign_out(&self, cookie: &str) -> Result<(), GatewayError> {
        Ok(self.store.delete_session(&digest_hex(cookie)).await?)
    }
}
