//! Dashboard sessions: signing in as an operator (their projects, each with their role there),
//! with a secret key (its project) or with the root token (every project), kept in Redis for an
//! idle expiry of 12 hours and checked on every request: a revoked key's sessions end as soon as
//! the node learns of the revocation (within a second), a removed operator's or one whose
//! password changed at their next request, and a changed role applies at the next request.

use serde::{Deserialize, Serialize};

use super::credential::Credential;
use super::Console;
use crate::gateway::audit::Actor;
use crate::gateway::GatewayError;
use crate::quota::operator::{Need, OperatorRecord, Role};
use crate::secrets::{digest_hex, random_token};

/// A session ends after this long without a request.
pub(crate) const IDLE_MS: u64 = 12 * 3_600_000;

/// Who is signed in, and what for.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Session {
    /// The project the pages show (any project for the root token, its own for a key).
    pub(crate) project: String,
    /// The operator's id, the key's id, or "root".
    pub(crate) actor_id: String,
    /// The operator's name and address, the key's label, or "root token".
    pub(crate) actor_label: String,
    /// SHA-256 (hex) of the key or root token signed in with, or of the operator's password
    /// hash: checked on every request.
    pub(crate) credential_digest: String,
    pub(crate) root: bool,
    /// The token every form of this session carries.
    pub(crate) csrf: String,
    /// An operator's session: their address (the record is read again on every request).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) operator: Option<String>,
    /// The role in `project`: an operator's own there (read again on every request); admin
    /// for a secret key, owner for the root token.
    #[serde(default)]
    pub(crate) role: Role,
}

impl Session {
    /// Who changes things in this session, for the audit log.
    pub(crate) fn actor(&self) -> Actor {
        Actor::new(self.actor_id.clone(), self.actor_label.clone())
    }

    /// Whether this session may make a change that needs `need`.
    pub(crate) fn may(&self, need: Need) -> bool {
        self.role.may(need)
    }
}

/// What an operator's session checks its password hash by.
fn password_digest(operator: &OperatorRecord) -> String {
    digest_hex(operator.password_hash.as_deref().unwrap_or(""))
}

impl Console<'_> {
    /// A new session for `credential`, and the cookie value that names it; None when the
    /// credential is neither the root token nor a live secret key. Only through `sign_in`,
    /// which counts the attempt first.
    pub(super) async fn open_session(
        &self,
        credential: Credential<'_>,
    ) -> Result<Option<(String, Session)>, GatewayError> {
        let Some(session) = (match credential {
            Credential::Key(key) => self.key_session(key).await?,
            Credential::Password { email, password } => self
                .check_password(email, password)
                .await?
                .and_then(|operator| operator_session(&operator, None)),
        }) else {
            return Ok(None);
        };
        let cookie = random_token(43);
        self.save_session(&cookie, &session).await?;
        Ok(Some((cookie, session)))
    }

    /// A session of the root token or of a live secret key.
    async fn key_session(&self, credential: &str) -> Result<Option<Session>, GatewayError> {
        if self.node.is_root(credential)? {
            let project = self
                .store
                .project_ids()
                .await?
                .into_iter()
                .min()
                .unwrap_or_else(|| "default".into());
            return Ok(Some(Session {
                project,
                actor_id: "root".into(),
                actor_label: "root token".into(),
                credential_digest: digest_hex(credential),
                root: true,
                csrf: random_token(32),
                operator: None,
                role: Role::Owner,
            }));
        }
        Ok(match self.node.authenticate(credential).await? {
            Some(key) if key.kind == "secret" => Some(Session {
                project: key.project.clone(),
                actor_id: key.key_id.clone(),
                actor_label: key.label.clone(),
                credential_digest: key.digest_hex.clone(),
                root: false,
                csrf: random_token(32),
                operator: None,
                role: Role::Admin,
            }),
            _ => None,
        })
    }

    async fn save_session(&self, cookie: &str, session: &Session) -> Result<(), GatewayError> {
        let json = serde_json::to_string(session).map_err(GatewayError::encode("a session"))?;
        Ok(self.store.put_session(&digest_hex(cookie), &json, IDLE_MS).await?)
    }

    /// The live session a cookie names, its idle expiry renewed; None when it expired, was
    /// signed out, or its key was revoked (then it is ended too).
    pub(crate) async fn session(&self, cookie: &str) -> Result<Option<Session>, GatewayError> {
        let digest = digest_hex(cookie);
        let Some(json) = self.store.touch_session(&digest, IDLE_MS).await? else {
            return Ok(None);
        };
        let Ok(session) = serde_json::from_str::<Session>(&json) else {
            return Ok(None);
        };
        let live = if let Some(email) = &session.operator {
            // The operator as stored now: removed, their password changed, or no longer on
            // this project ends the session; a changed role applies from this request.
            let operator = self.operator_by_email(email).await?;
            operator
                .filter(|o| password_digest(o) == session.credential_digest)
                .and_then(|o| operator_session(&o, Some(&session)))
        } else if session.root {
            // A credential's role is its kind's, whatever the session stored (one stored
            // before roles has none).
            let root = Session {
                role: Role::Owner,
                ..session
            };
            self.node.root_digest_is(&root.credential_digest).then_some(root)
        } else {
            let key = self.node.find_key(&session.credential_digest).await?;
            key.is_some().then_some(Session {
                role: Role::Admin,
                ..session
            })
        };
        if live.is_none() {
            self.store.delete_session(&digest).await?;
        }
        Ok(live)
    }

    /// Points a root session at another project, or an operator's at another of theirs.
    pub(crate) async fn switch_project(
        &self,
        cookie: &str,
        session: &Session,
        project: &str,
    ) -> Result<bool, GatewayError> {
        let role = match &session.operator {
            Some(email) => {
                let operator = self.operator_by_email(email).await?;
                match operator.and_then(|o| o.roles.get(project).copied()) {
                    Some(role) => role,
                    None => return Ok(false),
                }
            }
            None if session.root => Role::Owner,
            None => return Ok(false),
        };
        if self.node.project_settings(project).await?.is_none() {
            return Ok(false);
        }
        let switched = Session {
            project: project.to_string(),
            role,
            ..session.clone()
        };
        self.save_session(cookie, &switched).await?;
        Ok(true)
    }

    pub(crate) async fn sign_out(&self, cookie: &str) -> Result<(), GatewayError> {
        Ok(self.store.delete_session(&digest_hex(cookie)).await?)
    }
}

/// An operator's session: `current`'s project and tokens with the operator's role there now,
/// or, for a new session, their first project (by id). None when they have no role there, or
/// have not set a password.
fn operator_session(operator: &OperatorRecord, current: Option<&Session>) -> Option<Session> {
    operator.password_hash.as_ref()?;
    let project = match current {
        Some(session) => session.project.clone(),
        None => operator.roles.keys().next()?.clone(),
    };
    let role = *operator.roles.get(&project)?;
    Some(Session {
        project,
        actor_id: operator.id.clone(),
        actor_label: operator.label(),
        credential_digest: password_digest(operator),
        root: false,
        csrf: current.map_or_else(|| random_token(32), |s| s.csrf.clone()),
        operator: Some(operator.email.clone()),
        role,
    })
}
