//! The recalls of a team's slices in flight on this node, one at a time per team. Every member
//! denied for capacity leased asks for one; near a team's limit a burst of them comes at once,
//! and each recall ends every slice of the team (a script and a settle per slice). So a call
//! that waited while another recall ran, one begun after it asked, takes that recall's answer
//! rather than run its own: what that one found covers every slice there was when it asked.

use std::collections::HashMap;
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError, Weak};

use crate::gateway::GatewayError;

/// One team's recalls: how many have begun, and what the last one that ended answered (None:
/// it failed, or none ended yet).
#[derive(Default)]
struct Team {
    begun: AtomicU64,
    last: tokio::sync::Mutex<Option<bool>>,
}

/// The teams whose recalls someone runs or waits for on this node.
#[derive(Default)]
pub(super) struct Recalls(Mutex<HashMap<String, Weak<Team>>>);

impl Recalls {
    fn team(&self, project: &str, team: &str) -> Arc<Team> {
        let mut teams = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        // Teams nobody recalls any more go as new ones come.
        teams.retain(|_, t| t.strong_count() > 0);
        let key = format!("{project}\n{team}");
        if let Some(t) = teams.get(&key).and_then(Weak::upgrade) {
            return t;
        }
        let t = Arc::new(Team::default());
        teams.insert(key, Arc::downgrade(&t));
        t
    }

    /// Runs `recall` for `team`, or answers as a recall begun since this call asked did.
    /// Answers whether the slices gave anything back.
    pub(super) async fn recall<F>(&self, project: &str, team: &str, recall: F) -> Result<bool, GatewayError>
    where
        F: Future<Output = Result<bool, GatewayError>>,
    {
        let t = self.team(project, team);
        let asked = t.begun.load(Ordering::SeqCst);
        let mut last = t.last.lock().await;
        // Holding the lock, every recall begun has ended: one begun after `asked` listed the
        // team's slices after this call was denied.
        if let (true, Some(gave)) = (t.begun.load(Ordering::SeqCst) > asked, *last) {
            return Ok(gave);
        }
        t.begun.fetch_add(1, Ordering::SeqCst);
        *last = None;
        let gave = recall.await?;
        *last = Some(gave);
        Ok(gave)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::AtomicUsize;
    use std::time::Duration;

    use super::*;

    /// A recall that takes a while, counting how often it ran.
    async fn counted(runs: &AtomicUsize, gave: bool) -> Result<bool, GatewayError> {
        runs.fetch_add(1, Ordering::SeqCst);
        tokio::time::sleep(Duration::from_millis(20)).await;
        Ok(gave)
    }

    #[tokio::test]
    async fn a_burst_of_recalls_of_one_team_runs_at_most_two_and_each_call_gets_an_answer() {
        let (recalls, runs) = (Recalls::default(), AtomicUsize::new(0));
        let answers =
            futures_util::future::join_all((0..64).map(|_| recalls.recall("p", "team", counted(&runs, true)))).await;
        assert!(answers.iter().all(|a| matches!(a, Ok(true))));
        // The first runs; everyone who asked meanwhile waits, and one of them runs once more
        // for those who asked after the first had begun.
        assert!(runs.load(Ordering::SeqCst) <= 2, "{runs:?}");
        // Another team's recall is its own.
        recalls.recall("p", "other", counted(&runs, false)).await.unwrap();
        assert_eq!(recalls.0.lock().unwrap().len(), 1);
    }

    #[tokio::test]
    async fn a_recall_asked_after_one_ended_runs_again_and_a_failed_one_is_no_answer() {
        let (recalls, runs) = (Recalls::default(), AtomicUsize::new(0));
        assert!(recalls.recall("p", "team", counted(&runs, false)).await.is_ok());
        assert!(recalls.recall("p", "team", counted(&runs, true)).await.unwrap());
        assert_eq!(runs.load(Ordering::SeqCst), 2);
        // A recall that fails answers its own call with the error; who waited for it, having
        // asked after the one before began, runs one.
        let failing = async {
            tokio::time::sleep(Duration::from_millis(20)).await;
            Err(GatewayError::Unsettled(1))
        };
        let (first, failed, waited) = tokio::join!(
            recalls.recall("p", "team", counted(&runs, false)),
            recalls.recall("p", "team", failing),
            recalls.recall("p", "team", counted(&runs, true))
        );
        assert!(!first.unwrap());
        assert!(failed.is_err());
        assert!(waited.unwrap());
        assert_eq!(runs.load(Ordering::SeqCst), 4);
    }
}
