//! What a node keeps of bodies read before their hold: a body must be read (whole, or an
//! upload as far as its hold needs) before the call is held, and a caller that sends slowly or
//! not at all would otherwise pin that memory as long as it likes. So every such read leases
//! its bytes from one budget per node, and no user may lease more than a fair share of it, nor
//! one project (whose key may name any number of users) more than half: a user or a project
//! with many stalled uploads is refused (503, retry shortly) while others still read.
//! A file upload, which holds nothing, leases what its reading keeps as it passes. The idle
//! timeout that ends a stalled read is the reader's (`body/mod.rs`).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// How many users' reads the budget makes room for at once: no user leases more than this
/// share of it.
const FAIR_SHARES: usize = 4;

/// How many projects' reads the budget makes room for at once: a project's key names its
/// users, so its users' shares together are bounded too.
const PROJECT_SHARES: usize = 2;

/// A node's budget of bytes read before their hold.
pub(crate) struct Budget {
    total: usize,
    state: Mutex<Leased>,
}

#[derive(Default)]
struct Leased {
    all: usize,
    /// Bytes leased per user (`project`, `user`), only users leasing some.
    by_user: HashMap<(String, String), usize>,
    /// Bytes leased per project, only projects leasing some.
    by_project: HashMap<String, usize>,
}

/// The node's budget, or this user's share of it, has no room: retry shortly.
#[derive(Debug)]
pub(crate) struct Full;

impl Budget {
    pub(crate) fn new(total: usize) -> Arc<Budget> {
        Arc::new(Budget {
            total,
            state: Mutex::new(Leased::default()),
        })
    }

    /// A lease for one read of `user`'s in `project`, holding nothing yet.
    pub(crate) fn lease(self: &Arc<Budget>, project: &str, user: &str) -> Lease {
        Lease {
            budget: self.clone(),
            user: (project.to_string(), user.to_string()),
            bytes: 0,
        }
    }

    /// The most one user may lease.
    fn share(&self) -> usize {
        self.total / FAIR_SHARES
    }
}

/// The bytes one read keeps, given back when it ends (dropped) however it ends.
pub(crate) struct Lease {
    budget: Arc<Budget>,
    user: (String, String),
    bytes: usize,
}

impl Lease {
    /// Leases `more` bytes, if the node's budget, the project's share and the user's all have
    /// room.
    pub(crate) fn take(&mut self, more: usize) -> Result<(), Full> {
        let mut state = self.budget.state.lock().unwrap_or_else(|p| p.into_inner());
        let mine = state.by_user.get(&self.user).copied().unwrap_or(0);
        let project = state.by_project.get(&self.user.0).copied().unwrap_or(0);
        if state.all + more > self.budget.total
            || mine + more > self.budget.share()
            || project + more > self.budget.total / PROJECT_SHARES
        {
            return Err(Full);
        }
        state.all += more;
        *state.by_user.entry(self.user.clone()).or_insert(0) += more;
        *state.by_project.entry(self.user.0.clone()).or_insert(0) += more;
        self.bytes += more;
        Ok(())
    }

    /// Leases exactly `bytes` from now on: more taken as `take` takes it, or what the read no
    /// longer keeps given back (a line counted and dropped), so a read that keeps little for a
    /// long time holds only that little.
    pub(crate) fn keep(&mut self, bytes: usize) -> Result<(), Full> {
        if bytes >= self.bytes {
            return self.take(bytes - self.bytes);
        }
        let less = self.bytes - bytes;
        let mut state = self.budget.state.lock().unwrap_or_else(|p| p.into_inner());
        state.give_back(&self.user, less);
        self.bytes = bytes;
        Ok(())
    }
}

impl Leased {
    fn give_back(&mut self, user: &(String, String), bytes: usize) {
        self.all -= bytes;
        if let Some(mine) = self.by_user.get_mut(user) {
            *mine -= bytes;
            if *mine == 0 {
                self.by_user.remove(user);
            }
        }
        if let Some(project) = self.by_project.get_mut(&user.0) {
            *project -= bytes;
            if *project == 0 {
                self.by_project.remove(&user.0);
            }
        }
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        if self.bytes == 0 {
            return;
        }
        let mut state = self.budget.state.lock().unwrap_or_else(|p| p.into_inner());
        state.give_back(&self.user, self.bytes);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_user_leases_at_most_a_share_and_others_still_read() {
        let budget = Budget::new(400);
        let mut greedy: Vec<Lease> = (0..10).map(|_| budget.lease("p", "greedy")).collect();
        let taken = greedy.iter_mut().map(|l| l.take(30)).filter(Result::is_ok).count();
        assert_eq!(taken, 3, "a share is 100 bytes");
        let mut other = budget.lease("p", "other");
        other.take(100).unwrap();
        // The same user in another project is another user.
        budget.lease("q", "greedy").take(100).unwrap();
        drop(greedy);
        let mut again = budget.lease("p", "greedy");
        again.take(100).unwrap();
        assert_eq!(budget.state.lock().unwrap().all, 200);
    }

    #[test]
    fn the_node_budget_bounds_every_user_together_and_comes_back_when_reads_end() {
        let budget = Budget::new(400);
        let mut leases: Vec<Lease> = (0..4)
            .map(|i| budget.lease(&format!("p{}", i % 2), &format!("u{i}")))
            .collect();
        for lease in &mut leases {
            lease.take(100).unwrap();
        }
        assert!(budget.lease("q", "u9").take(1).is_err());
        leases.pop();
        budget.lease("q", "u9").take(100).unwrap();
        drop(leases);
        let state = budget.state.lock().unwrap();
        assert_eq!((state.all, state.by_user.len(), state.by_project.len()), (0, 0, 0));
    }

    #[test]
    fn a_project_naming_many_users_leases_at_most_half_and_other_projects_still_read() {
        let budget = Budget::new(400);
        let mut many: Vec<Lease> = (0..8).map(|i| budget.lease("p", &format!("u{i}"))).collect();
        let taken = many.iter_mut().map(|l| l.take(100)).filter(Result::is_ok).count();
        assert_eq!(taken, 2, "a project's half is 200 bytes");
        let mut others: Vec<Lease> = (0..2).map(|i| budget.lease("q", &format!("u{i}"))).collect();
        for lease in &mut others {
            lease.take(100).unwrap();
        }
        drop(many);
        budget.lease("p", "u7").take(100).unwrap();
        let state = budget.state.lock().unwrap();
        assert_eq!(state.by_project.get("q"), Some(&200));
    }

    #[test]
    fn a_read_that_keeps_less_gives_the_rest_back_and_one_that_keeps_more_stays_in_its_share() {
        let budget = Budget::new(400);
        let mut line = budget.lease("p", "u");
        line.keep(90).unwrap();
        assert!(line.keep(101).is_err(), "past the share");
        line.keep(10).unwrap();
        let mut other = budget.lease("p", "u");
        other.take(90).unwrap();
        assert_eq!(budget.state.lock().unwrap().all, 100);
        drop(line);
        drop(other);
        let state = budget.state.lock().unwrap();
        assert_eq!((state.all, state.by_user.len()), (0, 0));
    }
}
