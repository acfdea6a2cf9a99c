//! Operators: inviting a person (an invitation link they take up by choosing a password),
//! their roles per project, signing them in by email and password, removing them. Changes are
//! recorded in the audit log of each project they concern.

use std::collections::BTreeMap;

use serde_json::json;

use super::operator_records::Edit;
use super::Console;
use crate::gateway::audit::{Action, Actor, Change};
use crate::gateway::GatewayError;
use crate::quota::operator::{Offer, OperatorRecord, Role, INVITE_TTL_MS, MAX_OPERATORS};
use crate::secrets::{digest_hex, passwords, random_token};

/// A new invitation: the operator as stored, and the token of the link that sets their
/// password (shown once; only its digest is kept).
pub(crate) struct Invitation {
    pub(crate) operator: OperatorRecord,
    pub(crate) token: String,
    pub(crate) expires_at_ms: i64,
}

/// An open invitation: the operator it is for, the name the inviter gave them, and for an
/// operator offered a role in one more project, that project.
pub(crate) struct Invited {
    pub(crate) operator: OperatorRecord,
    pub(crate) name: String,
    pub(crate) project: Option<String>,
}

/// What taking up an invitation did.
#[derive(Debug, PartialEq)]
pub(crate) enum Taken {
    Joined,
    /// An offered role's link with a password that is not the operator's.
    WrongPassword,
    /// Not open: taken up, replaced, expired, or guessed at too often.
    Gone,
}

/// Passwords tried on one offered role's link before it ends.
const OFFER_TRIES: u64 = 5;

/// The path of an invitation's page, which the inviter hands over.
pub(crate) fn invite_path(token: &str) -> String {
    format!("/dashboard/invite/{token}")
}

/// A change to an operator: each field None stays as it is.
#[derive(Default)]
pub(crate) struct OperatorPatch {
    pub(crate) name: Option<String>,
    /// Every role, replacing them all (the API's PATCH).
    pub(crate) roles: Option<BTreeMap<String, Role>>,
    /// One project's role set (Some) or taken away (None), the others as stored (an owner's
    /// change on the dashboard, which concerns their project only).
    pub(crate) role_in: Option<(String, Option<Role>)>,
}

impl Actor {
    /// An operator, as the audit log names them: their id, and their name and address.
    pub fn operator(record: &OperatorRecord) -> Actor {
        Actor::new(record.id.clone(), record.label())
    }
}

impl Console<'_> {
    /// Invites a person (`email` lower-cased and checked by the caller, as are `name` and
    /// `roles`, whose projects exist).
    pub(crate) async fn invite_operator(
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
            created_at_ms: self.node.now_ms(),
            invited_by: by.id.clone(),
            offers: BTreeMap::new(),
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

    /// An owner's invitation to their project: a new person is invited as by the root token;
    /// an address that is an operator elsewhere is offered the role, which they take up with
    /// their own password. Both answer the same (a link, and when it ends), so the owner does
    /// not learn which addresses are operators of other projects.
    pub(crate) async fn invite_to_project(
        &self,
        email: &str,
        name: &str,
        project: &str,
        role: Role,
        by: &Actor,
    ) -> Result<(String, i64), GatewayError> {
        let roles = BTreeMap::from([(project.to_string(), role)]);
        match self.invite_operator(email, name, roles, by).await {
            Ok(invitation) => return Ok((invitation.token, invitation.expires_at_ms)),
            Err(GatewayError::OperatorExists(_)) => {}
            Err(err) => return Err(err),
        }
        let token = random_token(43);
        let expires_at_ms = self.node.now_ms() + INVITE_TTL_MS as i64;
        let offer = Offer {
            role,
            name: name.to_string(),
            digest: digest_hex(&token),
            expires_at_ms,
            by: by.id.clone(),
        };
        let changed = self
            .change_operator(email, |current| match current.roles.contains_key(project) {
                // Listed on the owner's page already: nothing to learn, nothing to offer.
                true => Edit::Skip,
                false => {
                    let mut next = current.clone();
                    next.offers.insert(project.to_string(), offer.clone());
                    Edit::Write(next)
                }
            })
            .await?;
        let Some((before, Edit::Write(_))) = changed else {
            return Err(GatewayError::OperatorExists(email.to_string()));
        };
        if let Some(old) = before.offers.get(project) {
            self.store.take_invite(&old.digest).await?;
        }
        self.store.put_invite(&offer.digest, email, INVITE_TTL_MS).await?;
        let detail = json!({ "email": email, "name": name, "role": role.as_str() });
        self.record_operator(project, by, Action::OperatorInvite, &before.id, detail)
            .await;
        Ok((token, expires_at_ms))
    }

    /// A new invitation link for an operator (the last one stops working): to finish an
    /// invitation that expired, or to set a forgotten password.
    pub(crate) async fn reinvite_operator(&self, id: &str, by: &Actor) -> Result<Invitation, GatewayError> {
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
        let expires_at_ms = self.node.now_ms() + INVITE_TTL_MS as i64;
        Ok(Invitation {
            operator,
            token,
            expires_at_ms,
        })
    }

    /// Every operator, by email.
    pub(crate) async fn operators(&self) -> Result<Vec<OperatorRecord>, GatewayError> {
        Ok(self.store.operators().await?)
    }

    /// The operator of this id.
    pub(crate) async fn operator(&self, id: &str) -> Result<OperatorRecord, GatewayError> {
        self.operators()
            .await?
            .into_iter()
            .find(|o| o.id == id)
            .ok_or_else(|| GatewayError::OperatorNotFound(id.to_string()))
    }

    /// The operator of this address, as stored now (a session's check on every request).
    pub(crate) async fn operator_by_email(&self, email: &str) -> Result<Option<OperatorRecord>, GatewayError> {
        Ok(self.store.load_operator(email).await?)
    }

    /// Changes an operator's name or roles; an operator left with no role is removed.
    pub(crate) async fn update_operator(
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
                // An offer not yet taken up changes as an offer: only its operator takes it.
                Some((project, Some(role))) => match next.offers.get_mut(project) {
                    Some(offer) if !next.roles.contains_key(project) => offer.role = *role,
                    _ => {
                        next.roles.insert(project.clone(), *role);
                    }
                },
                Some((project, None)) => {
                    next.roles.remove(project);
                    next.offers.remove(project);
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
    pub(crate) async fn remove_operator(&self, id: &str, by: &Actor) -> Result<(), GatewayError> {
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

    /// Who an open invitation is for; None when it expired, was taken up or replaced.
    pub(crate) async fn invitation(&self, token: &str) -> Result<Option<Invited>, GatewayError> {
        let digest = digest_hex(token);
        let Some(email) = self.store.invite(&digest).await? else {
            return Ok(None);
        };
        let Some(operator) = self.store.load_operator(&email).await? else {
            return Ok(None);
        };
        if operator.invite_digest.as_deref() == Some(digest.as_str()) {
            let name = operator.name.clone();
            return Ok(Some(Invited {
                operator,
                name,
                project: None,
            }));
        }
        let now = self.node.now_ms();
        let offered = operator
            .offers
            .iter()
            .find(|(_, o)| o.digest == digest && o.expires_at_ms > now)
            .map(|(project, o)| (project.clone(), o.name.clone()));
        Ok(offered.map(|(project, name)| Invited {
            operator,
            name,
            project: Some(project),
        }))
    }

    /// Takes up an invitation with `password` (checked by the caller against the rule): a new
    /// operator's password is set; an operator offered a role elsewhere gives their own, and
    /// gets the role. The invitation ends either way but a wrong password, which has
    /// `OFFER_TRIES` in all.
    pub(crate) async fn accept_invitation(&self, token: &str, password: &str) -> Result<Taken, GatewayError> {
        let digest = digest_hex(token);
        let Some(invited) = self.invitation(token).await? else {
            return Ok(Taken::Gone);
        };
        if let Some(project) = &invited.project {
            return self
                .take_offer(&digest, &invited.operator.email, project, password)
                .await;
        }
        let operator = invited.operator;
        if self.store.take_invite(&digest).await?.is_none() {
            return Ok(Taken::Gone); // taken up meanwhile, in another tab
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
            Some((_, Edit::Write(_))) => Ok(Taken::Joined),
            _ => Ok(Taken::Gone),
        }
    }

    /// An offered role taken up: only with the operator's own password, guessed at most
    /// `OFFER_TRIES` times (whoever holds the link is not thereby the operator).
    async fn take_offer(
        &self,
        digest: &str,
        email: &str,
        project: &str,
        password: &str,
    ) -> Result<Taken, GatewayError> {
        let (tries, _) = self
            .store
            .count_attempt(&format!("offer:{digest}"), INVITE_TTL_MS)
            .await?;
        if tries > OFFER_TRIES {
            self.store.take_invite(digest).await?;
            return Ok(Taken::Gone);
        }
        if self.check_password(email, password).await?.is_none() {
            return Ok(Taken::WrongPassword);
        }
        if self.store.take_invite(digest).await?.is_none() {
            return Ok(Taken::Gone);
        }
        let changed = self
            .change_operator(email, |current| match current.offers.get(project) {
                Some(offer) if offer.digest == digest => {
                    let mut next = current.clone();
                    next.roles.insert(project.to_string(), offer.role);
                    next.offers.remove(project);
                    Edit::Write(next)
                }
                _ => Edit::Skip,
            })
            .await?;
        let Some((before, Edit::Write(operator))) = changed else {
            return Ok(Taken::Gone);
        };
        let offer = &before.offers[project];
        let by = Actor::operator(&operator);
        let detail = json!({ "name": operator.name, "from": null, "to": offer.role.as_str(), "offer": "taken up" });
        self.record_operator(project, &by, Action::OperatorUpdate, &operator.id, detail)
            .await;
        Ok(Taken::Joined)
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
        self.node.record(project, by, change).await;
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
