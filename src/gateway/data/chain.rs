//! The walk of a reserve up a user's parents, over what it asks of the levels (`Levels`): each
//! level above the user's decides at the user's level's instant and under its reservation id;
//! the first that denies ends the walk and the holds below it go back; a level that fails
//! gives them back too, unless an Idempotency-Key lets the client's retry complete the walk.
//! The data plane is its one implementation (`levels.rs`); the tests below drive it against a
//! fake, so its rules are tested without Redis.

use super::parents::{walk_up, Level};
use crate::gateway::GatewayError;
use crate::quota::{Counter, Decision, Milli, ReservationId, UserId};

/// What the walk asks of the levels of one reserve (its project, event and hold's life fixed).
pub(super) trait Levels {
    /// Reserves at `level` under `id`, decided at `at_ms`; answers the level's decision and
    /// the parent its subject names.
    async fn reserve(
        &self,
        level: Level<'_>,
        id: &ReservationId,
        at_ms: i64,
    ) -> Result<(Decision, Option<UserId>), GatewayError>;

    /// Gives back the hold `id` at `subject`'s level.
    async fn release(&self, subject: &UserId, id: &ReservationId) -> Result<(), GatewayError>;

    /// Gives it back once Redis answers, in the background, while the hold lives.
    fn release_later(&self, subject: &UserId, id: &ReservationId);

    /// A wait between levels (a test hook; nothing in production).
    async fn between(&self) {}
}

/// Reserves at each level above the user's, whose level admitted as `first` and names `next`
/// as its parent. `keyed`: the call has an Idempotency-Key, so a level whose answer was lost
/// keeps the holds below it for the retry.
pub(super) async fn above(
    levels: &impl Levels,
    user: &UserId,
    first: Decision,
    next: UserId,
    keyed: bool,
) -> Result<Decision, GatewayError> {
    // Every level decides at the user's level's instant: one event, one window everywhere.
    let at_ms = first.decided_at_ms;
    // A repeat of an Idempotency-Key answers the first call's reservation: the parents'
    // levels hold under that id (and repeat their own first answers).
    let id = first
        .granted
        .as_ref()
        .map(|g| g.reservation_id.clone())
        .ok_or_else(|| crate::store::StoreError::Protocol("a reserve answered no reservation id".into()))?;
    let mut answer = first;
    let mut denied = None;
    walk_up(user, Some(next.into_string()), async |level| {
        levels.between().await;
        let (decision, above) = match levels.reserve(level, &id, at_ms).await {
            Ok(reserved) => reserved,
            // A level whose answer was lost (Redis too slow, say) may still have held. With
            // an Idempotency-Key the client's retry replays the levels that answered and
            // completes the others, so the holds below stay for it: released here, the
            // retry would be told of a reservation that no longer holds. Without a key, or
            // after an error a retry cannot mend (the event lacks what the parent's plan
            // measures), the holds below go back now.
            Err(err) => {
                let lost = err.redis_failed() || matches!(err, GatewayError::Unsettled(_));
                if !keyed || !lost {
                    unwind(levels, level.below, &id).await;
                }
                return Err(err);
            }
        };
        let decision = decision.of_subject(level.subject.as_str());
        if !decision.allowed {
            unwind(levels, level.below, &id).await;
            denied = Some(decision);
            return Ok(None);
        }
        if let (Some(all), Some(this)) = (answer.granted.as_mut(), decision.granted) {
            all.held.extend(this.held);
        }
        // A level above that clamped further grants less.
        if let Some(fitted) = decision.fitted {
            if answer.fitted.is_none_or(|f| fitted.quantity < f.quantity) {
                answer.fitted = Some(fitted);
            }
        }
        answer.counters.extend(decision.counters);
        Ok(above.map(UserId::into_string))
    })
    .await?;
    Ok(match denied {
        Some(decision) => denied_above(answer, decision),
        None => answer,
    })
}

/// Gives back the holds a reserve took at `held` levels when a level above denied or failed.
/// A release that fails (Redis unreachable just then) is tried again in the background while
/// its hold lives, so a denied call's hold goes back once Redis answers rather than deny its
/// user's next calls until it expires.
async fn unwind(levels: &impl Levels, held: &[UserId], id: &ReservationId) {
    for subject in held {
        if let Err(err) = levels.release(subject, id).await {
            tracing::warn!(%err, "a hold below a denying level is released again in the background");
            levels.release_later(subject, id);
        }
    }
}

/// The denial of a reserve whose `denying` level refused after the levels below admitted (as
/// `admitted`): nothing is held anywhere. The lower levels show their counters as they were
/// before this reserve held, computed from what they admitted with, so a repeat of the call,
/// which replays those levels' first answers, answers the same.
fn denied_above(admitted: Decision, denying: Decision) -> Decision {
    let held = admitted.granted.map(|g| g.held).unwrap_or_default();
    let mut counters: Vec<Counter> = admitted.counters;
    for (counter, amount) in counters.iter_mut().zip(held) {
        counter.reserved = Milli(counter.reserved.0.saturating_sub(amount.0));
    }
    counters.extend(denying.counters);
    Decision {
        allowed: false,
        granted: None,
        reasons: denying.reasons,
        denied_by: denying.denied_by,
        counters,
        decided_at_ms: denying.decided_at_ms,
        run: admitted.run,
        fitted: None,
    }
}

#[cfg(test)]
mod tests {
    use std::cell::RefCell;
    use std::collections::HashMap;

    use super::*;
    use crate::quota::decision::Granted;
    use crate::quota::fit::Fitted;
    use crate::quota::{Mode, Reason, Unit};
    use crate::store::StoreError;

    /// Levels kept in memory: each subject's quota and holds, its parent, and what each call
    /// asked, so a test can say what the walk did.
    #[derive(Default)]
    struct Fake {
        quota: HashMap<String, u64>,
        held: RefCell<HashMap<String, Vec<String>>>,
        parent: HashMap<String, String>,
        /// A level that fails (with a lost answer: Redis too slow) rather than decide.
        failing: Option<String>,
        /// A level that clamps what it grants to this many units.
        clamping: Option<(String, u64)>,
        /// A release that fails once, for the background to retry.
        release_fails: bool,
        asked: RefCell<Vec<String>>,
    }

    impl Fake {
        fn chain(levels: &[(&str, u64)]) -> Fake {
            let mut fake = Fake::default();
            for pair in levels.windows(2) {
                fake.parent.insert(pair[0].0.into(), pair[1].0.into());
            }
            fake.quota = levels.iter().map(|(s, q)| (s.to_string(), *q)).collect();
            fake
        }

        fn holds(&self, subject: &str) -> usize {
            self.held.borrow().get(subject).map_or(0, Vec::len)
        }
    }

    fn counter(reserved: u64) -> Counter {
        Counter {
            subject: None,
            group_id: "g".into(),
            label: "g".into(),
            unit: Unit::Count,
            mode: Mode::Hard,
            quota: Milli::from_units(10),
            used: Milli::ZERO,
            reserved: Milli::from_units(reserved),
            leased: Milli::ZERO,
            period_start_ms: None,
            resets_at_ms: None,
            credit: None,
            value: None,
            outcomes: Default::default(),
            rolling_ms: None,
            fallback_used: Milli::ZERO,
        }
    }

    fn admitted(id: &ReservationId, at_ms: i64, reserved: u64) -> Decision {
        Decision {
            allowed: true,
            granted: Some(Granted {
                reservation_id: id.clone(),
                expires_at_ms: at_ms + 60_000,
                held: vec![Milli::from_units(1)],
                repeat: false,
                record: None,
            }),
            reasons: Vec::new(),
            denied_by: Vec::new(),
            counters: vec![counter(reserved)],
            decided_at_ms: at_ms,
            run: None,
            fitted: None,
        }
    }

    impl Levels for Fake {
        async fn reserve(
            &self,
            level: Level<'_>,
            id: &ReservationId,
            at_ms: i64,
        ) -> Result<(Decision, Option<UserId>), GatewayError> {
            let subject = level.subject.as_str();
            self.asked
                .borrow_mut()
                .push(format!("reserve {subject} {} at {at_ms}", id.as_str()));
            if self.failing.as_deref() == Some(subject) {
                return Err(StoreError::Timeout(std::time::Duration::from_millis(5)).into());
            }
            let parent = self.parent.get(subject).map(|p| UserId::parse(p).unwrap());
            let mut held = self.held.borrow_mut();
            let holds = held.entry(subject.to_string()).or_default();
            if holds.len() as u64 >= self.quota[subject] {
                return Ok((Decision::denied(Reason::LimitReached, at_ms), parent));
            }
            holds.push(id.as_str().to_string());
            let mut decision = admitted(id, at_ms, holds.len() as u64);
            if let Some((_, units)) = self.clamping.as_ref().filter(|(s, _)| s == subject) {
                decision.fitted = Some(Fitted {
                    quantity: Milli::from_units(*units),
                    output_tokens: None,
                });
            }
            Ok((decision, parent))
        }

        async fn release(&self, subject: &UserId, id: &ReservationId) -> Result<(), GatewayError> {
            self.asked.borrow_mut().push(format!("release {}", subject.as_str()));
            if self.release_fails {
                return Err(StoreError::Timeout(std::time::Duration::from_millis(5)).into());
            }
            let mut held = self.held.borrow_mut();
            held.entry(subject.as_str().to_string())
                .or_default()
                .retain(|h| h != id.as_str());
            Ok(())
        }

        fn release_later(&self, subject: &UserId, _id: &ReservationId) {
            self.asked
                .borrow_mut()
                .push(format!("release later {}", subject.as_str()));
        }
    }

    /// The user's own level, as the walk finds it: reserved at 1,000 under `id`.
    async fn walk(fake: &Fake, keyed: bool) -> Result<Decision, GatewayError> {
        let user = UserId::parse("u").unwrap();
        let id = ReservationId::new(&user, &[7; 16]);
        let (first, next) = fake
            .reserve(
                Level {
                    subject: &user,
                    below: &[],
                },
                &id,
                1_000,
            )
            .await?;
        above(fake, &user, first, next.unwrap(), keyed).await
    }

    fn run<T>(f: impl std::future::Future<Output = T>) -> T {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap()
            .block_on(f)
    }

    #[test]
    fn every_level_above_holds_under_the_users_id_at_the_users_instant() {
        let fake = Fake::chain(&[("u", 5), ("team", 5), ("org", 5)]);
        let decision = run(walk(&fake, false)).unwrap();
        assert!(decision.allowed);
        assert_eq!(decision.granted.unwrap().held.len(), 3, "what it holds at each level");
        assert_eq!(decision.counters.len(), 3);
        let asked = fake.asked.borrow();
        let id = asked[0].split(' ').nth(2).unwrap().to_string();
        assert_eq!(
            *asked,
            [
                format!("reserve u {id} at 1000"),
                format!("reserve team {id} at 1000"),
                format!("reserve org {id} at 1000")
            ]
        );
    }

    #[test]
    fn a_parent_that_denies_gives_back_every_hold_below_it_and_shows_their_counters_as_before() {
        let fake = Fake::chain(&[("u", 5), ("team", 5), ("org", 0)]);
        let decision = run(walk(&fake, false)).unwrap();
        assert!(!decision.allowed && decision.granted.is_none());
        assert_eq!(decision.reasons, [Reason::LimitReached]);
        assert_eq!(
            decision.denied_by[0].subject.as_deref(),
            Some("org"),
            "the denying level is named"
        );
        assert_eq!(
            (fake.holds("u"), fake.holds("team")),
            (0, 0),
            "nothing is held anywhere"
        );
        // The lower levels' counters as they were before this call held.
        assert!(decision.counters.iter().all(|c| c.reserved == Milli::ZERO));
        assert!(fake
            .asked
            .borrow()
            .ends_with(&["release u".to_string(), "release team".to_string()]));
    }

    #[test]
    fn a_lost_answer_above_keeps_the_holds_below_for_a_keyed_retry_and_gives_them_back_otherwise() {
        for keyed in [true, false] {
            let mut fake = Fake::chain(&[("u", 5), ("team", 5), ("org", 5)]);
            fake.failing = Some("org".into());
            let err = run(walk(&fake, keyed)).unwrap_err();
            assert!(err.redis_failed());
            let kept = (fake.holds("u"), fake.holds("team"));
            assert_eq!(kept, if keyed { (1, 1) } else { (0, 0) }, "keyed: {keyed}");
        }
    }

    #[test]
    fn a_release_that_fails_is_tried_again_in_the_background() {
        let mut fake = Fake::chain(&[("u", 5), ("team", 0)]);
        fake.release_fails = true;
        let decision = run(walk(&fake, false)).unwrap();
        assert!(!decision.allowed);
        assert!(fake
            .asked
            .borrow()
            .ends_with(&["release u".to_string(), "release later u".to_string()]));
    }

    #[test]
    fn the_tightest_clamp_of_any_level_is_what_is_granted() {
        let mut fake = Fake::chain(&[("u", 5), ("team", 5), ("org", 5)]);
        fake.clamping = Some(("team".into(), 3));
        let decision = run(walk(&fake, false)).unwrap();
        assert_eq!(decision.fitted.map(|f| f.quantity), Some(Milli::from_units(3)));
    }

    #[test]
    fn a_chain_that_names_itself_ends_at_the_level_it_would_visit_twice() {
        let mut fake = Fake::chain(&[("u", 5), ("team", 5)]);
        fake.parent.insert("team".into(), "u".into());
        let decision = run(walk(&fake, false)).unwrap();
        assert!(decision.allowed);
        assert_eq!(fake.asked.borrow().len(), 2, "u, team, and not u again");
    }
}
