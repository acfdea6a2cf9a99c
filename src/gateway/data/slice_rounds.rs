//! The rounds of a member's reserve on its slices, over what a round asks of Redis
//! (`Rounds`): reserve on the slices it has; when one is short, take a lease of each short
//! slice (one take at a time per member on this node) and reserve again handing them over; at
//! most `ROUNDS` times, then decide as without leases. The data plane is its one
//! implementation (`slices.rs`); the tests below drive it against a fake, without Redis.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError, Weak};
use std::time::{Duration, Instant};

use crate::gateway::GatewayError;
use crate::quota::{Decision, UserId};

/// Rounds of short answers and takes one reserve goes through before it is decided as without
/// leases (another node's reserves may fill a new slice first, once or twice).
pub(super) const ROUNDS: usize = 3;

/// How one round went.
pub(super) enum Round<W> {
    Decided(Box<Decision>),
    /// Decide as without leases.
    Direct,
    /// Short on these slices.
    Short(Vec<W>),
}

/// What the rounds of one reserve ask (its project, member and event fixed).
pub(super) trait Rounds {
    /// A slice a short round asked for.
    type Wanted;
    /// A lease taken, to hand over in the next round.
    type Place;

    /// One reserve at the member's slot, handing `places` over.
    async fn round(&self, places: &[Self::Place]) -> Result<Round<Self::Wanted>, GatewayError>;
    /// Takes a lease of each slice `wanted`; None when one cannot be had (near the
    /// ancestor's limit): the call is then decided as without leases.
    async fn take(&self, wanted: &[Self::Wanted]) -> Result<Option<Vec<Self::Place>>, GatewayError>;
    /// Settles the statements of the slices a short round closed, when no take will.
    async fn settle_closed(&self, wanted: &[Self::Wanted]) -> Result<(), GatewayError>;
    /// Removes the intents of a round that took nothing.
    async fn drop_intents(&self, wanted: &[Self::Wanted]);
    /// Ends the intents of a round given up: any lease taken under them goes back.
    async fn abandon(&self, wanted: &[Self::Wanted]);
}

/// Decides a member's reserve on its slices; None: decide it as without leases.
pub(super) async fn decide<R: Rounds>(
    rounds: &R,
    flights: &Flights,
    project: &str,
    member: &UserId,
) -> Result<Option<Decision>, GatewayError> {
    let mut places = Vec::new();
    // Held from a take until the reserve that places it has answered.
    let mut taking = None;
    for round in 1..=ROUNDS {
        let asked = Instant::now();
        let wanted = match rounds.round(&places).await? {
            Round::Decided(decision) => return Ok(Some(*decision)),
            Round::Direct => return Ok(None),
            Round::Short(wanted) => wanted,
        };
        // Short again after the last round: the walk decides, and nothing more is taken.
        if round == ROUNDS {
            rounds.settle_closed(&wanted).await?;
            rounds.drop_intents(&wanted).await;
            break;
        }
        // One take at a time per member on this node: a call that waited for another's take,
        // or whose short answer came before another's take was made, asks again on the
        // slice that one placed rather than take one more (which would be given back).
        drop(taking.take());
        let flight = flights.flight(project, member);
        let waited = match flight.clone().try_lock_owned() {
            Ok(guard) if !flights.took_since(project, member, asked) => {
                taking = Some(guard);
                false
            }
            Ok(_) => true,
            Err(_) => {
                drop(flight.lock_owned().await);
                true
            }
        };
        if waited {
            rounds.settle_closed(&wanted).await?;
            rounds.drop_intents(&wanted).await;
            places = Vec::new();
            continue;
        }
        match rounds.take(&wanted).await? {
            Some(taken) => {
                flights.took(project, member);
                places = taken;
            }
            None => {
                rounds.settle_closed(&wanted).await?;
                rounds.abandon(&wanted).await;
                return Ok(None);
            }
        }
    }
    // (The leases the last round handed over were placed, or stated unused.)
    Ok(None)
}

/// The takes in flight on this node, per member: a lock, and when its last take was made.
#[derive(Default)]
pub(super) struct Flights(Mutex<HashMap<String, Flight>>);

struct Flight {
    lock: Weak<tokio::sync::Mutex<()>>,
    took: Option<Instant>,
}

/// How long a member's last take is remembered once nobody holds its lock: longer than a
/// call takes from its short answer to asking for the lock.
const TOOK_REMEMBERED: Duration = Duration::from_secs(2);

impl Flights {
    fn key(project: &str, member: &UserId) -> String {
        format!("{project}\n{}", member.as_str())
    }

    /// The lock of `member`'s takes.
    fn flight(&self, project: &str, member: &UserId) -> Arc<tokio::sync::Mutex<()>> {
        let mut flights = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        // Locks nobody holds, whose take is old, go as new ones are made.
        flights.retain(|_, f| f.lock.strong_count() > 0 || f.took.is_some_and(|t| t.elapsed() < TOOK_REMEMBERED));
        let key = Flights::key(project, member);
        if let Some(f) = flights.get(&key).and_then(|f| f.lock.upgrade()) {
            return f;
        }
        let f = Arc::new(tokio::sync::Mutex::new(()));
        let took = flights.get(&key).and_then(|f| f.took);
        flights.insert(
            key,
            Flight {
                lock: Arc::downgrade(&f),
                took,
            },
        );
        f
    }

    /// Whether a take for `member` was made on this node since `since`.
    fn took_since(&self, project: &str, member: &UserId, since: Instant) -> bool {
        let flights = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        flights
            .get(&Flights::key(project, member))
            .and_then(|f| f.took)
            .is_some_and(|t| t > since)
    }

    /// Notes that a take for `member` was made now.
    fn took(&self, project: &str, member: &UserId) {
        let mut flights = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(f) = flights.get_mut(&Flights::key(project, member)) {
            f.took = Some(Instant::now());
        }
    }
}

#[cfg(test)]
mod tests {
    use std::cell::RefCell;
    use std::collections::VecDeque;

    use super::*;
    use crate::quota::Reason;

    /// Rounds answered from a script, slices and leases named by numbers; it logs every call.
    struct Fake<'a> {
        answers: RefCell<VecDeque<Round<u32>>>,
        /// What a take gives: a lease per slice (its number plus 100), or None.
        takes: bool,
        /// Another call on this node takes a lease while this one's first round is answered.
        other_takes: Option<&'a Flights>,
        log: RefCell<Vec<String>>,
    }

    fn fake(answers: Vec<Round<u32>>, takes: bool) -> Fake<'static> {
        Fake {
            answers: RefCell::new(answers.into()),
            takes,
            other_takes: None,
            log: RefCell::new(Vec::new()),
        }
    }

    fn decided() -> Round<u32> {
        Round::Decided(Box::new(Decision::denied(Reason::LimitReached, 1)))
    }

    fn member() -> UserId {
        UserId::parse("member").unwrap()
    }

    impl Rounds for Fake<'_> {
        type Wanted = u32;
        type Place = u32;

        async fn round(&self, places: &[u32]) -> Result<Round<u32>, GatewayError> {
            self.log.borrow_mut().push(format!("round {places:?}"));
            if let Some(flights) = self.other_takes.filter(|_| self.log.borrow().len() == 1) {
                drop(flights.flight("p", &member()));
                flights.took("p", &member());
            }
            Ok(self
                .answers
                .borrow_mut()
                .pop_front()
                .expect("a round the test did not script"))
        }

        async fn take(&self, wanted: &[u32]) -> Result<Option<Vec<u32>>, GatewayError> {
            self.log.borrow_mut().push(format!("take {wanted:?}"));
            Ok(self.takes.then(|| wanted.iter().map(|w| w + 100).collect()))
        }

        async fn settle_closed(&self, wanted: &[u32]) -> Result<(), GatewayError> {
            self.log.borrow_mut().push(format!("settle {wanted:?}"));
            Ok(())
        }

        async fn drop_intents(&self, wanted: &[u32]) {
            self.log.borrow_mut().push(format!("drop {wanted:?}"));
        }

        async fn abandon(&self, wanted: &[u32]) {
            self.log.borrow_mut().push(format!("abandon {wanted:?}"));
        }
    }

    fn decide_with(rounds: &Fake<'_>, flights: &Flights) -> Option<Decision> {
        let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
        runtime.block_on(decide(rounds, flights, "p", &member())).unwrap()
    }

    fn log(rounds: &Fake<'_>) -> Vec<String> {
        rounds.log.borrow().clone()
    }

    #[test]
    fn a_round_on_slices_with_room_decides_at_once() {
        let rounds = fake(vec![decided()], true);
        assert!(decide_with(&rounds, &Flights::default()).is_some());
        assert_eq!(log(&rounds), ["round []"]);
    }

    #[test]
    fn a_short_round_takes_the_slices_it_lacks_and_hands_the_leases_to_the_next() {
        let rounds = fake(vec![Round::Short(vec![1, 2]), decided()], true);
        assert!(decide_with(&rounds, &Flights::default()).is_some());
        assert_eq!(log(&rounds), ["round []", "take [1, 2]", "round [101, 102]"]);
    }

    #[test]
    fn a_take_refused_near_the_ancestors_limit_gives_up_the_round_and_decides_as_without_leases() {
        let rounds = fake(vec![Round::Short(vec![1])], false);
        assert!(decide_with(&rounds, &Flights::default()).is_none());
        assert_eq!(log(&rounds), ["round []", "take [1]", "settle [1]", "abandon [1]"]);
    }

    #[test]
    fn a_round_short_every_time_stops_after_the_last_and_takes_nothing_more() {
        let short = || Round::Short(vec![1]);
        let rounds = fake(vec![short(), short(), short()], true);
        assert!(decide_with(&rounds, &Flights::default()).is_none());
        assert_eq!(ROUNDS, 3);
        let expected = [
            "round []",
            "take [1]",
            "round [101]",
            "take [1]",
            "round [101]",
            "settle [1]",
            "drop [1]",
        ];
        assert_eq!(log(&rounds), expected);
    }

    #[test]
    fn a_round_that_needs_no_slices_is_decided_as_without_leases() {
        let rounds = fake(vec![Round::Direct], true);
        assert!(decide_with(&rounds, &Flights::default()).is_none());
        assert_eq!(log(&rounds), ["round []"]);
    }

    #[test]
    fn a_take_made_on_this_node_since_the_short_answer_is_used_not_doubled() {
        let flights = Flights::default();
        let mut rounds = fake(vec![Round::Short(vec![1]), decided()], true);
        rounds.other_takes = Some(&flights);
        assert!(decide_with(&rounds, &flights).is_some());
        // Its own short answer's intents go; it asks again on the slice the other placed.
        assert_eq!(log(&rounds), ["round []", "settle [1]", "drop [1]", "round []"]);
    }
}
