//! Shared budgets: a subscription may name a parent, another subject of the
//! project with a plan of its own, whose budget every call of the member draws from as well.
//! Chains are at most three levels (a user, a team, an organisation); this file checks a new
//! parent against that, and walks a chain (`walk_up`) for every verb that reaches the parents' levels.

use std::time::{Duration, Instant};

use super::Parents;
use crate::gateway::GatewayError;
use crate::quota::UserId;
use crate::secrets::random_token;
use crate::store::DataStore;

/// A member, its parent and the parent's parent: no chain is longer.
pub(crate) const MAX_LEVELS: usize = 3;

/// How long a parent change may hold its project's lease: far longer than its check and write
/// take (a few command timeouts), so only a node that dies holding it makes others wait.
const LEASE_MS: u64 = 10_000;

/// How long a parent change waits for the lease before answering 503 (try again): as long as
/// a lease can last, so a bulk import of members (many parallel changes queueing for it) waits
/// its turn rather than failing.
const LEASE_WAIT: Duration = Duration::from_secs(10);

fn refused(detail: impl Into<String>) -> GatewayError {
    GatewayError::Invalid {
        field: "parentId",
        detail: detail.into(),
    }
}

impl Parents<'_> {
    /// Refuses `parent` for `user` when it has no plan of its own, when it would close a
    /// cycle, or when the chain from the lowest member under `user` to the top of `parent`'s
    /// chain would pass three levels. Reads are fresh; a change racing this one on another
    /// subject can still lengthen a chain, and the data plane never walks past three levels.
    pub(crate) async fn check_parent(&self, project: &str, user: &UserId, parent: &str) -> Result<(), GatewayError> {
        if parent == user.as_str() {
            return Err(refused("must name another subject than the user itself"));
        }
        let parent_id = UserId::parse(parent).map_err(refused)?;
        let parent_sub = self.store.subscription(project, &parent_id).await?;
        if parent_sub.plan_id.is_none() {
            return Err(refused(format!("{parent} has no subscription; put it on a plan first")));
        }
        // The levels above the user: the parent and its own ancestors, as far as a walk goes.
        let mut above = vec![parent_sub];
        walk_up(user, Some(parent.to_string()), async |level| {
            if level.subject.as_str() != parent {
                above.push(self.store.subscription(project, level.subject).await?);
            }
            Ok(above.last().and_then(|s| s.parent_id.clone()))
        })
        .await?;
        // A walk stops before a level its top names only at a cycle, at three levels, or at
        // an id that is not one.
        if let Some(next) = above.last().and_then(|s| s.parent_id.as_deref()) {
            if next == user.as_str() || above.iter().any(|s| s.user_id == next) {
                return Err(refused(format!("{parent} is already under {}: a cycle", user.as_str())));
            }
            if above.len() + 1 >= MAX_LEVELS {
                return Err(refused(format!(
                    "{parent} is already {} levels deep; chains are at most {MAX_LEVELS} levels",
                    above.len() + 1
                )));
            }
            UserId::parse(next).map_err(refused)?;
        }
        let below = self.store.levels_below(project, user.as_str()).await?;
        if 1 + above.len() + below > MAX_LEVELS {
            return Err(refused(format!(
                "{} has members {below} level(s) deep; under {parent} the chain would pass {MAX_LEVELS} levels",
                user.as_str()
            )));
        }
        // The test hook's wait, which widens the window a racing change would need.
        self.between_levels().await;
        Ok(())
    }

    /// Runs `change` (a check of the chains, then the write) holding the project's lease on
    /// parent changes, so two racing changes on any nodes run one after the other: each
    /// checks the chains as the other left them, and no cycle or fourth level can form
    /// between a check and its write. The lease lapses by itself if this node dies.
    pub(crate) async fn holding_parents_lease<T>(
        &self,
        project: &str,
        change: impl AsyncFnOnce() -> Result<T, GatewayError>,
    ) -> Result<T, GatewayError> {
        let token = random_token(24);
        let deadline = Instant::now() + LEASE_WAIT;
        let mut tries = 1;
        loop {
            match self.store.lock_parents(project, &token, LEASE_MS).await {
                Ok(true) => break,
                Ok(false) => {}
                Err(err) => {
                    // The SET may have run though its answer was lost: give up what may be ours.
                    let _ = self.store.unlock_parents(project, &token).await;
                    return Err(err.into());
                }
            }
            if Instant::now() >= deadline {
                return Err(GatewayError::Unsettled(tries));
            }
            tries += 1;
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        // Given up once the change is answered, or when it is dropped unanswered (a client
        // that went away cancels it).
        let mut lease = Lease {
            store: self.store.clone(),
            project: project.to_string(),
            token: Some(token),
        };
        let answer = change().await;
        if let Some(token) = lease.token.take() {
            // One that cannot be given up (Redis failed) lapses.
            let _ = self.store.unlock_parents(project, &token).await;
        }
        answer
    }

    /// Before a parent's level, and between a parent change's check and its write: the test
    /// hook's wait, if any.
    pub(super) async fn between_levels(&self) {
        #[cfg(feature = "test-hooks")]
        if !self.level_pause.is_zero() {
            tokio::time::sleep(self.level_pause).await;
        }
    }
}

/// A taken lease on parent changes; one still held when dropped is given up in the background
/// (a drop cannot wait), and one whose give-up fails lapses.
struct Lease {
    store: DataStore,
    project: String,
    token: Option<String>,
}

impl Drop for Lease {
    fn drop(&mut self) {
        if let Some(token) = self.token.take() {
            let (store, project) = (self.store.clone(), std::mem::take(&mut self.project));
            tokio::spawn(async move {
                let _ = store.unlock_parents(&project, &token).await;
            });
        }
    }
}

/// One level of a chain as a call reaches it: whose budget, and the levels under it, bottom
/// first (none at the user's own level).
#[derive(Clone, Copy)]
pub(super) struct Level<'a> {
    pub subject: &'a UserId,
    pub below: &'a [UserId],
}

impl Level<'_> {
    /// The level above this one, when its checked subscription names `parent`.
    pub(crate) fn above(&self, parent: Option<&str>) -> Option<UserId> {
        next_level(parent?, self.below.iter().chain(std::iter::once(self.subject)))
    }
}

/// The one walk up a chain of budgets, which every verb that reaches the parents' levels
/// takes: from `user`'s level, whose record or subscription names `parent`, `visit` each
/// level above in turn, bottom-up, told its subject and the levels under it; `visit`
/// answers what that level names as its parent. The walk ends at a level that names none
/// (or whose `visit` stops it by answering none), at three levels, and at a subject it
/// has visited (a cycle that racing changes of two subscriptions could make).
pub(super) async fn walk_up(
    user: &UserId,
    parent: Option<String>,
    mut visit: impl AsyncFnMut(Level<'_>) -> Result<Option<String>, GatewayError>,
) -> Result<(), GatewayError> {
    let (mut below, mut subject) = (Vec::new(), user.clone());
    let mut parent = parent;
    while let Some(above) = parent
        .as_deref()
        .and_then(|p| next_level(p, below.iter().chain(std::iter::once(&subject))))
    {
        below.push(std::mem::replace(&mut subject, above));
        parent = visit(Level {
            subject: &subject,
            below: &below,
        })
        .await?;
    }
    Ok(())
}

/// The level above a chain's `levels` (bottom first) when its top names `parent`; None when
/// the chain already has three levels or `parent` is one of them.
pub(super) fn next_level<'a>(parent: &str, levels: impl Iterator<Item = &'a UserId>) -> Option<UserId> {
    let mut count = 0;
    for level in levels {
        if level.as_str() == parent {
            return None;
        }
        count += 1;
    }
    if count >= MAX_LEVELS {
        return None;
    }
    UserId::parse(parent).ok()
}
