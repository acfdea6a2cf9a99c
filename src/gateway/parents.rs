//! Shared budgets: a subscription may name a parent, another subject of the
//! project with a plan of its own, whose budget every call of the member draws from as well.
//! Chains are at most three levels (a user, a team, an organisation); this file checks a new
//! parent against that, and walks a chain for the data plane.

use super::{Gateway, GatewayError};
use crate::quota::UserId;

/// A member, its parent and the parent's parent: no chain is longer.
pub const MAX_LEVELS: usize = 3;

fn refused(detail: impl Into<String>) -> GatewayError {
    GatewayError::Invalid {
        field: "parentId",
        detail: detail.into(),
    }
}

impl Gateway {
    /// Refuses `parent` for `user` when it has no plan of its own, when it would close a
    /// cycle, or when the chain from the lowest member under `user` to the top of `parent`'s
    /// chain would pass three levels. Reads are fresh; a change racing this one on another
    /// subject can still lengthen a chain, and the data plane never walks past three levels.
    pub(super) async fn check_parent(&self, project: &str, user: &UserId, parent: &str) -> Result<(), GatewayError> {
        if parent == user.as_str() {
            return Err(refused("must name another subject than the user itself"));
        }
        let parent_id = UserId::parse(parent).map_err(refused)?;
        let parent_sub = self.store.subscription(project, &parent_id).await?;
        if parent_sub.plan_id.is_none() {
            return Err(refused(format!("{parent} has no subscription; put it on a plan first")));
        }
        // The levels above the user: the parent and its own ancestors.
        let mut above = vec![parent_sub];
        while let Some(next) = above.last().and_then(|s| s.parent_id.clone()) {
            if next == user.as_str() || above.iter().any(|s| s.user_id == next) {
                return Err(refused(format!("{parent} is already under {}: a cycle", user.as_str())));
            }
            if above.len() + 1 >= MAX_LEVELS {
                return Err(refused(format!(
                    "{parent} is already {} levels deep; chains are at most {MAX_LEVELS} levels",
                    above.len() + 1
                )));
            }
            let next = UserId::parse(&next).map_err(refused)?;
            above.push(self.store.subscription(project, &next).await?);
        }
        let below = self.store.levels_below(project, user.as_str()).await?;
        if 1 + above.len() + below > MAX_LEVELS {
            return Err(refused(format!(
                "{} has members {below} level(s) deep; under {parent} the chain would pass {MAX_LEVELS} levels",
                user.as_str()
            )));
        }
        Ok(())
    }

    /// Before a parent's level: the test hook's wait, if any.
    pub(super) async fn between_levels(&self) {
        if !self.level_pause.is_zero() {
            tokio::time::sleep(self.level_pause).await;
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
    pub fn above(&self, parent: Option<&str>) -> Option<UserId> {
        let parent = parent?;
        let mut visited = self.below.to_vec();
        visited.push(self.subject.clone());
        next_level(parent, &visited)
    }
}

/// A walk up a chain of budgets from a user, following what each level names as its parent:
/// the levels reached, bottom first.
pub(super) struct Chain(Vec<UserId>);

impl Chain {
    pub fn from(user: &UserId) -> Chain {
        Chain(vec![user.clone()])
    }

    /// The level above the last one reached, when that one names `parent`; it counts as
    /// reached from now on.
    pub fn up(&mut self, parent: Option<&str>) -> Option<UserId> {
        let above = next_level(parent?, &self.0)?;
        self.0.push(above.clone());
        Some(above)
    }

    /// How many levels lie under the last one reached.
    pub fn below(&self) -> usize {
        self.0.len() - 1
    }
}

/// The level above a chain's `visited` levels (bottom first), whose top names `parent`; None
/// when the chain already has three levels or `parent` is one of them (a cycle that racing
/// changes of two subscriptions could make).
fn next_level(parent: &str, visited: &[UserId]) -> Option<UserId> {
    if visited.len() >= MAX_LEVELS || visited.iter().any(|v| v.as_str() == parent) {
        return None;
    }
    UserId::parse(parent).ok()
}
