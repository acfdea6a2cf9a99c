//! The one retry driver: every script call goes through it, so every verb treats a script's
//! "stale", "more to reclaim" and "reused" answers the same way. It knows the node only as a
//! `Refresh` (what to do after "stale"), so its loop is tested without Redis.

use std::time::Duration;

use super::GatewayError;
use crate::quota::UserId;
use crate::secrets::id_bytes;
use crate::store::Reply;

/// How many times an operation re-reads state after a "stale" answer before giving up.
const MAX_STALE: usize = 8;
/// How many "more to reclaim" answers one operation follows; each returns expired holds, so
/// only a user with a vast backlog of expired reservations comes near it.
const MAX_RECLAIM_ROUNDS: usize = 4096;

/// What the driver needs of the node after a "stale" answer: the node itself in production
/// (static dispatch, no allocation), a fake in the unit tests below.
pub(super) trait Refresh {
    /// Forgets what the node decided from that Redis disagreed with: the user's cached
    /// subscription and the clock's offset.
    async fn refresh(&self, project: &str, user: &UserId) -> Result<(), GatewayError>;

    /// A random draw for the backoff's jitter.
    fn jitter(&self) -> u16 {
        u16::from_le_bytes(id_bytes::<2>())
    }
}

/// Runs `attempt` until it is done:
/// - `Done` is the answer;
/// - `More` (expired holds remain to reclaim) calls again at once: each call reclaims some;
/// - `Stale` (the subscription version or a period did not match Redis) refreshes (forgets
///   the user's cached subscription, measures the clock again) and calls again; from the
///   second stale answer on it also waits a random while whose ceiling doubles each time (up
///   to 10 ms, then 20, 40, ...), so writers racing on one user's subscription fall out of step;
/// - `Reused` (an Idempotency-Key with another body) and `Overflow` (a counter would pass
///   what it counts exactly) are the caller's errors.
///
/// Each attempt resolves whatever it depends on afresh.
pub(super) async fn drive<T>(
    node: &impl Refresh,
    project: &str,
    user: &UserId,
    mut attempt: impl AsyncFnMut() -> Result<Reply<T>, GatewayError>,
) -> Result<T, GatewayError> {
    let (mut stale, mut more) = (0, 0);
    loop {
        match attempt().await? {
            Reply::Done(answer) => return Ok(answer),
            Reply::Reused => return Err(GatewayError::IdempotencyReused),
            Reply::Overflow(group) => return Err(GatewayError::CounterLimit(group)),
            Reply::More => {
                more += 1;
                if more >= MAX_RECLAIM_ROUNDS {
                    break;
                }
            }
            Reply::Stale => {
                stale += 1;
                if stale >= MAX_STALE {
                    break;
                }
                node.refresh(project, user).await?;
                if let Some(wait) = backoff(stale, node.jitter()) {
                    tokio::time::sleep(wait).await;
                }
            }
        }
    }
    Err(GatewayError::Unsettled(stale + more))
}

/// The wait after the `stale`-th stale answer: none after the first, then between 1 ms and a
/// ceiling of 10 ms that doubles with each further one, placed by `random`.
fn backoff(stale: usize, random: u16) -> Option<Duration> {
    if stale < 2 {
        return None;
    }
    let ceiling_ms = 10u64 << (stale - 2);
    Some(Duration::from_millis(1 + u64::from(random) % ceiling_ms))
}

#[cfg(test)]
mod tests {
    use std::cell::{Cell, RefCell};
    use std::collections::VecDeque;

    use tokio::time::Instant;

    use super::*;

    /// Counts refreshes, and draws the jitter that puts every wait at its ceiling
    /// (319 is one short of a multiple of 10, 20, ... 320).
    #[derive(Default)]
    struct Fake {
        refreshes: Cell<usize>,
        fail: bool,
    }

    impl Refresh for Fake {
        async fn refresh(&self, _project: &str, _user: &UserId) -> Result<(), GatewayError> {
            self.refreshes.set(self.refreshes.get() + 1);
            if self.fail {
                return Err(GatewayError::Starting);
            }
            Ok(())
        }

        fn jitter(&self) -> u16 {
            319
        }
    }

    fn user() -> UserId {
        UserId::parse("u1").expect("a valid id")
    }

    /// Answers `replies` in order (then `Done(0)`), noting the instant of each attempt.
    async fn run(fake: &Fake, replies: Vec<Reply<u32>>) -> (Result<u32, GatewayError>, Vec<Instant>) {
        let replies = RefCell::new(VecDeque::from(replies));
        let attempts = RefCell::new(Vec::new());
        let answer = drive(fake, "p", &user(), async || {
            attempts.borrow_mut().push(Instant::now());
            Ok(replies.borrow_mut().pop_front().unwrap_or(Reply::Done(0)))
        })
        .await;
        (answer, attempts.into_inner())
    }

    #[tokio::test(start_paused = true)]
    async fn done_is_the_answer_at_once() {
        let fake = Fake::default();
        let (answer, attempts) = run(&fake, vec![Reply::Done(7)]).await;
        assert_eq!(answer.ok(), Some(7));
        assert_eq!(attempts.len(), 1);
        assert_eq!(fake.refreshes.get(), 0);
    }

    #[tokio::test(start_paused = true)]
    async fn stale_refreshes_and_retries() {
        let fake = Fake::default();
        let (answer, attempts) = run(&fake, vec![Reply::Stale, Reply::Done(3)]).await;
        assert_eq!(answer.ok(), Some(3));
        assert_eq!(attempts.len(), 2);
        assert_eq!(fake.refreshes.get(), 1);
        // The first stale answer is retried without a wait.
        assert_eq!(attempts[1], attempts[0]);
    }

    #[tokio::test(start_paused = true)]
    async fn stale_gives_up_after_max_stale_as_unsettled() {
        let fake = Fake::default();
        let (answer, attempts) = run(&fake, (0..MAX_STALE + 3).map(|_| Reply::Stale).collect()).await;
        assert!(matches!(answer, Err(GatewayError::Unsettled(n)) if n == MAX_STALE));
        assert_eq!(attempts.len(), MAX_STALE);
        // The last stale answer gives up without refreshing.
        assert_eq!(fake.refreshes.get(), MAX_STALE - 1);
    }

    #[tokio::test(start_paused = true)]
    async fn a_failed_refresh_is_the_answer() {
        let fake = Fake {
            fail: true,
            ..Fake::default()
        };
        let (answer, attempts) = run(&fake, vec![Reply::Stale, Reply::Done(1)]).await;
        assert!(matches!(answer, Err(GatewayError::Starting)));
        assert_eq!(attempts.len(), 1);
    }

    #[tokio::test(start_paused = true)]
    async fn more_retries_at_once_without_refreshing() {
        let fake = Fake::default();
        let (answer, attempts) = run(&fake, vec![Reply::More, Reply::More, Reply::Done(5)]).await;
        assert_eq!(answer.ok(), Some(5));
        assert_eq!(attempts.len(), 3);
        assert_eq!(fake.refreshes.get(), 0);
        assert!(attempts.iter().all(|at| *at == attempts[0]));
    }

    #[tokio::test(start_paused = true)]
    async fn more_gives_up_after_max_reclaim_rounds() {
        let fake = Fake::default();
        let (answer, attempts) = run(&fake, (0..MAX_RECLAIM_ROUNDS + 1).map(|_| Reply::More).collect()).await;
        assert!(matches!(answer, Err(GatewayError::Unsettled(n)) if n == MAX_RECLAIM_ROUNDS));
        assert_eq!(attempts.len(), MAX_RECLAIM_ROUNDS);
    }

    #[tokio::test(start_paused = true)]
    async fn reused_and_overflow_are_the_callers_errors() {
        let fake = Fake::default();
        let (reused, _) = run(&fake, vec![Reply::Reused, Reply::Done(1)]).await;
        assert!(matches!(reused, Err(GatewayError::IdempotencyReused)));
        let (overflow, _) = run(&fake, vec![Reply::Overflow("g".into()), Reply::Done(1)]).await;
        assert!(matches!(overflow, Err(GatewayError::CounterLimit(group)) if group == "g"));
        assert_eq!(fake.refreshes.get(), 0);
    }

    #[tokio::test(start_paused = true)]
    async fn the_waits_after_stale_answers_double() {
        let fake = Fake::default();
        let (answer, attempts) = run(&fake, (0..MAX_STALE - 1).map(|_| Reply::Stale).collect()).await;
        assert_eq!(answer.ok(), Some(0));
        let waits: Vec<u128> = attempts.windows(2).map(|w| (w[1] - w[0]).as_millis()).collect();
        assert_eq!(waits, [0, 10, 20, 40, 80, 160, 320]);
    }

    #[test]
    fn every_wait_is_within_its_ceiling() {
        for stale in 2..MAX_STALE {
            let ceiling = Duration::from_millis(10 << (stale - 2));
            for random in [0, 1, 9, 319, u16::MAX] {
                let wait = backoff(stale, random).expect("a wait from the second stale answer");
                assert!(
                    Duration::from_millis(1) <= wait && wait <= ceiling,
                    "{stale} {random} {wait:?}"
                );
            }
        }
        assert_eq!(backoff(1, u16::MAX), None);
    }
}
