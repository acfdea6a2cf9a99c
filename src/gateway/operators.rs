//! Operators: inviting a person (an invitation link they take up by choosing a password),
//! their roles per project, signing them in by email and password, removing them. Changes are
//! recorded in the audit log of each project they concern.

use std::collections::BTreeMap;

use serde_json::json;

use super::audit::{Action, Actor, Change};
use super::operator_records::Edit;
use super::{Gateway, GatewayError};
use crate::quota::operator::{OperatorRecord, Role, INVITE_TTL_MS, MAX_OPERATORS};
use crate::secrets::{digest_hex, passwords, random_token};

/// A new invitation: the operator as stored, and the token of the link that sets their
/// password (shown once; only its digest is kept).
pub struct Invitation {
    pub operator: OperatorRecord,
    pub token: String,
    pub expires_at_ms: i64,
}

/// The path of an invitation's page, which the inviter hands over.
pub fn invite_path(token: &str) -> String {
    format!("/dashboard/invite/{token}")
}

/// A change to an operator: each field None stays as it is.
#[derive(Default)]
pub struct OperatorPatch {
    pub name: Option<String>,
    /// Every role, replacing them all (the API's PATCH).
    pub roles: Option<BTreeMap<String, Role>>,
    /// One project's role set (Some) or taken away (None), the others as stored (an owner's
    /// change on the dashboard, which concerns their project only).
    pub role_in: Option<(String, Option<Role>)>,
}

impl Actor {
    /// An operator, as the audit log names them: their id, and their name and address.
    pub fn operator(record: &OperatorRecord) -> Actor {
        Actor::new(record.id.clone(), record.label())
    }
}

impl Gateway {
    /// Invites a person (`email` lower-cased and checked by the caller, as are `name` and
    /// `roles`, whose projects exist).
    pub async fn invite_operator(
        &self,
        email: &str,
        name: &str,
        roles: BTreeMap<String, Role>,
        by: &Actor,
    ) -> Result<Invitation, GatewayError> {
        if self.store.count_operators().await? >= MAX_OPERATORS {
            return Err(GatewayError::OperatorLimit(MAX_OPERATORS));
        }
        let token = random_token(43);
        let operator = OperatorRecord {
            id: format!("op_{}", random_token(16)),
            email: email.to_string(),
            name: name.to_string(),
            roles,
            password_hash: None,
            invite_digest: Some(digest_hex(&token)),
            created_at_ms: self.now_ms(),
            invited_by: by.id.clone(),
        };
        if !self.store.create_operator(&operator).await? {
            return Err(GatewayError::OperatorExists(email.to_string()));
        }
        let invitation = self.open_invitation(operator, token).await?;
        for (project, role) in &invitation.operator.roles {
            let detail = json!({ "email": email, "name": name, "role": role.as_str() });
            self.record_operator(project, by, Action::OperatorInvite, &invitation.operator.id, detail)
                .await;
        }
        Ok(invitation)
    }

    /// A new invitation link for an operator (the last one stops working): to finish an
    /// invitation that expired, or to set a forgotten password.
    pub async fn reinvite_operator(&self, id: &str, by: &Actor) -> Result<Invitation, GatewayError> {
        let email = self.operator(id).await?.email;
        let token = random_token(43);
        let digest = digest_hex(&token);
        let changed = self
            .change_operator(&email, |current| match current.id == id {
                true => Edit::Write(OperatorRecord {
                    invite_digest: Some(digest.clone()),
                    ..current.clone()
                }),
                false => Edit::Skip,
            })
            .await?;
        let Some((before, Edit::Write(operator))) = changed else {
            return Err(GatewayError::OperatorNotFound(id.to_string()));
        };
        // The last link ends now, not at its expiry.
        if let Some(old) = before.invite_digest {
            self.store.take_invite(&old).await?;
        }
        for project in operator.roles.keys() {
            let detail = json!({ "invitation": "new" });
            self.record_operator(project, by, Action::OperatorUpdate, &operator.id, detail)
                .await;
        }
        self.open_invitation(operator, token).await
    }

    async fn open_invitation(&self, operator: OperatorRecord, token: String) -> Result<Invitation, GatewayError> {
        self.store
            .put_invite(&digest_hex(&token), &operator.email, INVITE_TTL_MS)
            .await?;
        let expires_at_ms = self.now_ms() + INVITE_TTL_MS as i64;
        Ok(Invitation {
            operator,
            token,
            expires_at_ms,
        })
    }

    /// Every operator, by email.
    pub async fn operators(&self) -> Result<Vec<OperatorRecord>, GatewayError> {
        Ok(self.store.operators().await?)
    }

    /// The operator of this id.
    pub async fn operator(&self, id: &str) -> Result<OperatorRecord, GatewayError> {
        self.operators()
            .await?
            .into_iter()
            .find(|o| o.id == id)
            .ok_or_else(|| GatewayError::OperatorNotFound(id.to_string()))
    }

    /// The operator of this address, as stored now (a session's check on every request).
    pub async fn operator_by_email(&self, email: &str) -> Result<Option<OperatorRecord>, GatewayError> {
        Ok(self.store.load_operator(email).await?)
    }

    /// Changes an operator's name or roles; an operator left with no role is removed.
    pub async fn update_operator(
        &self,
        id: &str,
        patch: OperatorPatch,
        by: &Actor,
    ) -> Result<Option<OperatorRecord>, GatewayError> {
        let email = self.operator(id).await?.email;
        // The patch, applied to the record as it is stored when the change is written.
        let apply = |current: &OperatorRecord| {
            let mut next = current.clone();
            if let Some(name) = &patch.name {
                next.name = name.clone();
            }
            if let Some(roles) = &patch.roles {
                next.roles = roles.clone();
            }
            match &patch.role_in {
                Some((project, Some(role))) => {
                    next.roles.insert(project.clone(), *role);
                }
                Some((project, None)) => {
                    next.roles.remove(project);
                }
                None => {}
            }
            next
        };
        let changed = self
            .change_operator(&email, |current| match (current.id == id, apply(current)) {
                (false, _) => Edit::Skip,
                (true, next) if next.roles.is_empty() => Edit::Remove,
                (true, next) => Edit::Write(next),
            })
            .await?;
        let (previous, operator) = match changed {
            None => return Err(GatewayError::OperatorNotFound(id.to_string())),
            Some((previous, Edit::Remove)) => {
                self.record_removal(&previous, by).await;
                return Ok(None);
            }
            Some((previous, Edit::Write(operator))) => (previous, operator),
            Some((_, Edit::Skip)) => return Err(GatewayError::OperatorNotFound(id.to_string())),
        };
        let before = previous.roles.clone();
        let renamed = previous.name != operator.name;
        let projects: std::collections::BTreeSet<&String> = before.keys().chain(operator.roles.keys()).collect();
        // Each project whose role changed (every one on a rename) records it: no project's log
        // shows a change made elsewhere by someone it does not know.
        let changed = |p: &&String| renamed || before.get(*p) != operator.roles.get(*p);
        for project in projects.into_iter().filter(changed) {
            let role = |roles: &BTreeMap<String, Role>| roles.get(project).map(|r| r.as_str());
            let detail = json!({ "name": operator.name, "from": role(&before), "to": role(&operator.roles) });
            self.record_operator(project, by, Action::OperatorUpdate, &operator.id, detail)
                .await;
        }
        Ok(Some(operator))
    }

    /// Removes an operator: their sessions end at their next request.
    pub async fn remove_operator(&self, id: &str, by: &Actor) -> Result<(), GatewayError> {
        let operator = self.operator(id).await?;
        self.store.delete_operator(&operator.email).await?;
        self.record_removal(&operator, by).await;
        Ok(())
    }

    /// A removal, in the log of every project the operator had a role in.
    async fn record_removal(&self, operator: &OperatorRecord, by: &Actor) {
        for (project, role) in &operator.roles {
            let detail = json!({ "email": operator.email, "role": role.as_str() });
            self.record_operator(project, by, Action::OperatorRemove, &operator.id, detail)
                .await;
        }
    }

    /// The operator an open invitation is for; None when it expired, was taken up or
    /// replaced.
    pub async fn invitation(&self, token: &str) -> Result<Option<OperatorRecord>, GatewayError> {
        let digest = digest_hex(token);
        let Some(email) = self.store.invite(&digest).await? else {
            return Ok(None);
        };
        let operator = self.store.load_operator(&email).await?;
        Ok(operator.filter(|o| o.invite_digest.as_deref() == Some(digest.as_str())))
    }

    /// Takes up an invitation: sets the operator's password (checked by the caller) and ends
    /// the invitation. None when it was not open.
    pub async fn accept_invitation(&self, token: &str, password: &str) -> Result<Option<OperatorRecord>, GatewayError> {
        let digest = digest_hex(token);
        let Some(operator) = self.invitation(token).await? else {
            return Ok(None);
        };
        if self.store.take_invite(&digest).await?.is_none() {
            return Ok(None); // taken up meanwhile, in another tab
        }
        let password_hash = hash(password.to_string()).await;
        // Written over the record as stored after the hashing's milliseconds, and only while
        // it is this invitation's: an operator removed, or invited anew, meanwhile is not
        // brought back or changed by this older invitation.
        let changed = self
            .change_operator(&operator.email, |current| {
                let ours = current.id == operator.id && current.invite_digest.as_deref() == Some(digest.as_str());
                match ours {
                    true => Edit::Write(OperatorRecord {
                        password_hash: Some(password_hash.clone()),
                        invite_digest: None,
                        ..current.clone()
                    }),
                    false => Edit::Skip,
                }
            })
            .await?;
        match changed {
            Some((_, Edit::Write(operator))) => Ok(Some(operator)),
            _ => Ok(None),
        }
    }

    /// The operator `email` names when `password` is theirs.
    pub(super) async fn check_password(
        &self,
        email: &str,
        password: &str,
    ) -> Result<Option<OperatorRecord>, GatewayError> {
        let operator = self.store.load_operator(email).await?;
        let phc = operator.as_ref().and_then(|o| o.password_hash.clone());
        // An unknown address, or one invited and not yet active, is checked against a decoy:
        // the answer takes as long, so it does not tell which addresses are operators.
        let known = phc.is_some();
        let password = password.to_string();
        let matches =
            on_a_hasher(move |hasher| hasher.verify(&password, phc.as_deref().unwrap_or_else(|| passwords::decoy())))
                .await
                .unwrap_or(false);
        Ok(operator.filter(|_| known && matches))
    }

    async fn record_operator(&self, project: &str, by: &Actor, action: Action, id: &str, detail: serde_json::Value) {
        let change = Change {
            action,
            target: id,
            user: None,
            detail,
        };
        self.record(project, by, change).await;
    }
}

/// Argon2id runs on the node's hashing threads, one per core, each with its own 19 MiB
/// reused by every hash it makes (`passwords::Hasher`): sign-ins from many addresses at once
/// wait their turn, and the memory they take is the hashers' and no more.
type HashJob = Box<dyn FnOnce(&mut passwords::Hasher) + Send>;

static HASHERS: std::sync::LazyLock<std::sync::mpsc::Sender<HashJob>> = std::sync::LazyLock::new(|| {
    let (jobs, queue) = std::sync::mpsc::channel::<HashJob>();
    let queue = std::sync::Arc::new(std::sync::Mutex::new(queue));
    for i in 0..std::thread::available_parallelism().map_or(2, |n| n.get()) {
        let queue = queue.clone();
        let spawned = std::thread::Builder::new().name(format!("qg-hash-{i}")).spawn(move || {
            let mut hasher = passwords::Hasher::default();
            loop {
                let job = match queue.lock() {
                    Ok(queue) => queue.recv(),
                    Err(_) => return,
                };
                match job {
                    Ok(job) => job(&mut hasher),
                    Err(_) => return,
                }
            }
        });
        if let Err(err) = spawned {
            tracing::error!(%err, "could not start a hashing thread");
        }
    }
    jobs
});

/// Runs `work` on a hashing thread; None when none could run it.
async fn on_a_hasher<T: Send + 'static>(work: impl FnOnce(&mut passwords::Hasher) -> T + Send + 'static) -> Option<T> {
    let (tx, rx) = tokio::sync::oneshot::channel();
    let job: HashJob = Box::new(move |hasher| {
        let _ = tx.send(work(hasher));
    });
    HASHERS.send(job).ok()?;
    rx.await.ok()
}

/// Argon2id off the async workers.
async fn hash(password: String) -> String {
    let again = password.clone();
    match on_a_hasher(move |hasher| hasher.hash(&password)).await {
        Some(phc) => phc,
        // No hashing thread: hashed on a blocking thread, rather than not at all.
        None => tokio::task::spawn_blocking(move || passwords::hash(&again))
            .await
            .expect("hashing a password does not panic"),
    }
}
