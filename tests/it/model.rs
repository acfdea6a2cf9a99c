//! The Lua store against a small Rust model: random sequences of reserve, commit, release,
//! extend, expire and track must give the same decisions and the same counters.

use std::collections::BTreeMap;

use proptest::prelude::*;
use quota_gateway::gateway::audit::Actor;
use quota_gateway::gateway::ParentChange;
use quota_gateway::gateway::{Extension, Gateway, Settlement};
use quota_gateway::surface::quota::{EventInput, ReservationId, UserId};
use quota_gateway::surface::quota::{Milli, Plan};
use quota_gateway::surface::store::layout::Layout;
use serde_json::json;

use crate::support::{ledger_sums, service_on_shared, unique_prefix};

/// (group, quota in units, mode, event it matches, in flight)
const GROUPS: &[(&str, u64, &str, &str, bool)] = &[
    ("all", 10, "hard", "*", false),
    ("b_only", 4, "hard", "b", false),
    ("soft_a", 3, "soft", "a", false),
    ("jobs", 2, "hard", "c", true),
];

#[derive(Debug, Clone)]
enum Op {
    Reserve {
        event: &'static str,
        half_units: u64,
    },
    Commit {
        pick: usize,
        actual_half_units: Option<u64>,
    },
    Release {
        pick: usize,
    },
    Extend {
        pick: usize,
    },
    Expire {
        pick: usize,
    },
    Track {
        event: &'static str,
        half_units: u64,
    },
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum State {
    Held,
    Committed,
    Released,
    Expired,
    /// Released by a caller after it had expired: ended, and still "expired" to readers.
    ReleasedExpired,
}

/// A reservation as the model sees it: store id, holds as (group, milli), state.
type ModelReservation = (String, Vec<(&'static str, u64)>, State);

#[derive(Debug, Default)]
struct Model {
    used: BTreeMap<&'static str, u64>,
    held: BTreeMap<&'static str, u64>,
    reservations: Vec<ModelReservation>,
}

fn matched(event: &str) -> impl Iterator<Item = &'static (&'static str, u64, &'static str, &'static str, bool)> + '_ {
    GROUPS.iter().filter(move |g| g.3 == "*" || g.3 == event)
}

fn in_flight(group: &str) -> bool {
    GROUPS.iter().any(|g| g.0 == group && g.4)
}

impl Model {
    /// Would reserve allow this? Returns the groups that would pass their quota.
    fn denied_by(&self, event: &str, milli: u64) -> Vec<String> {
        matched(event)
            .filter(|g| g.2 == "hard")
            .filter(|g| {
                let count = self.used.get(g.0).copied().unwrap_or(0) + self.held.get(g.0).copied().unwrap_or(0);
                g.1 == 0 || count + milli > g.1 * 1000
            })
            .map(|g| g.0.to_string())
            .collect()
    }

    fn add(map: &mut BTreeMap<&'static str, u64>, group: &'static str, milli: i64) {
        let value = map.entry(group).or_insert(0);
        *value = (*value as i64 + milli) as u64;
    }
}

fn op() -> impl Strategy<Value = Op> {
    let event = prop_oneof![Just("a"), Just("b"), Just("c")];
    prop_oneof![
        3 => (event.clone(), 0u64..6).prop_map(|(event, half_units)| Op::Reserve { event, half_units }),
        2 => (any::<usize>(), proptest::option::of(0u64..8)).prop_map(|(pick, actual_half_units)| Op::Commit { pick, actual_half_units }),
        1 => any::<usize>().prop_map(|pick| Op::Release { pick }),
        1 => any::<usize>().prop_map(|pick| Op::Extend { pick }),
        1 => any::<usize>().prop_map(|pick| Op::Expire { pick }),
        1 => (event, 0u64..4).prop_map(|(event, half_units)| Op::Track { event, half_units }),
    ]
}

struct Harness {
    store: Gateway,
    keys: Layout,
}

async fn harness() -> Harness {
    let prefix = unique_prefix();
    let store = service_on_shared(&prefix).await;
    let groups: Vec<_> = GROUPS
        .iter()
        .map(|(id, quota, mode, event, flight)| {
            json!({ "id": id, "unit": if *flight { "concurrent" } else { "count" }, "quota": quota, "mode": mode,
                    "matches": [ { "event": event } ] })
        })
        .collect();
    let doc = serde_json::from_value(json!({ "periodType": "lifetime", "groups": groups })).unwrap();
    let plan = Plan::from_doc("plan_model", doc).unwrap();
    store.accounts().put_plan("p", &plan, &Actor::root()).await.unwrap();
    store
        .accounts()
        .subscribe("p", &user(), &plan, None, None, ParentChange::Keep, &Actor::root())
        .await
        .unwrap();
    Harness {
        store,
        keys: Layout::new(&prefix),
    }
}

fn user() -> UserId {
    UserId::parse("u").unwrap()
}

fn reservation(id: &str) -> ReservationId {
    ReservationId::parse(id).unwrap()
}

fn input(event: &str, half_units: u64) -> EventInput {
    EventInput {
        user: user(),
        event: event.into(),
        quantity: Milli(half_units * 500),
        metadata: Default::default(),
        step: None,
        fit: Default::default(),
        fallback: None,
    }
}

async fn run(ops: Vec<Op>) -> Result<(), TestCaseError> {
    let h = harness().await;
    let mut model = Model::default();
    for op in ops {
        let pick =
            |model: &Model, pick: usize| (!model.reservations.is_empty()).then(|| pick % model.reservations.len());
        match op {
            Op::Reserve { event, half_units } => {
                let milli = half_units * 500;
                let expected = model.denied_by(event, milli);
                let decision = h
                    .store
                    .data()
                    .reserve("p", &input(event, half_units), 60_000, None)
                    .await
                    .unwrap();
                let denied: Vec<String> = decision.denied_by.iter().filter_map(|d| d.group.clone()).collect();
                prop_assert_eq!(&denied, &expected, "reserve {} {}", event, milli);
                prop_assert_eq!(decision.allowed, expected.is_empty());
                if let Some(granted) = decision.granted {
                    let holds: Vec<_> = matched(event).map(|g| (g.0, milli)).collect();
                    for (g, m) in &holds {
                        Model::add(&mut model.held, g, *m as i64);
                    }
                    model
                        .reservations
                        .push((granted.reservation_id.to_string(), holds, State::Held));
                }
            }
            Op::Commit {
                pick: p,
                actual_half_units,
            } => {
                let Some(i) = pick(&model, p) else { continue };
                let actual = actual_half_units.map(|h| Milli(h * 500));
                let outcome = h
                    .store
                    .data()
                    .commit(
                        "p",
                        &reservation(&model.reservations[i].0),
                        quota_gateway::gateway::Commit {
                            quantity: actual,
                            key_id: "key_model",
                            ..Default::default()
                        },
                    )
                    .await
                    .unwrap();
                let (_, holds, state) = &mut model.reservations[i];
                match (*state, outcome) {
                    (State::Held | State::Expired, Settlement::Settled(s)) => {
                        prop_assert_eq!(s.late, *state == State::Expired);
                        for (g, m) in holds.iter() {
                            if *state == State::Held {
                                Model::add(&mut model.held, g, -(*m as i64));
                            }
                            if !in_flight(g) {
                                Model::add(&mut model.used, g, actual.map_or(*m, |a| a.0) as i64);
                            }
                        }
                        *state = State::Committed;
                    }
                    (State::Committed, Settlement::Settled(s)) => {
                        prop_assert_eq!(s.status, "committed")
                    }
                    (State::Released | State::ReleasedExpired, Settlement::Conflict(c)) => {
                        prop_assert_eq!(c, "released")
                    }
                    (state, other) => {
                        prop_assert!(false, "commit of {:?} answered {:?}", state, other)
                    }
                }
            }
            Op::Release { pick: p } => {
                let Some(i) = pick(&model, p) else { continue };
                let outcome = h
                    .store
                    .data()
                    .release("p", &reservation(&model.reservations[i].0))
                    .await
                    .unwrap();
                let (_, holds, state) = &mut model.reservations[i];
                match (*state, outcome) {
                    (State::Held, Settlement::Settled(s)) => {
                        prop_assert_eq!(s.status, "released");
                        for (g, m) in holds.iter() {
                            Model::add(&mut model.held, g, -(*m as i64));
                        }
                        *state = State::Released;
                    }
                    (State::Released, Settlement::Settled(s)) => {
                        prop_assert_eq!(s.status, "released")
                    }
                    (State::Expired | State::ReleasedExpired, Settlement::Settled(s)) => {
                        prop_assert_eq!(s.status, "expired");
                        *state = State::ReleasedExpired;
                    }
                    (State::Committed, Settlement::Conflict(c)) => prop_assert_eq!(c, "committed"),
                    (state, other) => {
                        prop_assert!(false, "release of {:?} answered {:?}", state, other)
                    }
                }
            }
            Op::Extend { pick: p } => {
                let Some(i) = pick(&model, p) else { continue };
                let outcome = h
                    .store
                    .data()
                    .extend("p", &reservation(&model.reservations[i].0), 60_000)
                    .await
                    .unwrap();
                match (model.reservations[i].2, outcome) {
                    (State::Held, Extension::Extended { .. }) => {}
                    (State::Expired | State::ReleasedExpired, Extension::Ended(s)) => prop_assert_eq!(s, "expired"),
                    (State::Committed, Extension::Ended(s)) => prop_assert_eq!(s, "committed"),
                    (State::Released, Extension::Ended(s)) => prop_assert_eq!(s, "released"),
                    (state, other) => {
                        prop_assert!(false, "extend of {:?} answered {:?}", state, other)
                    }
                }
            }
            Op::Expire { pick: p } => {
                let Some(i) = pick(&model, p) else { continue };
                let (id, holds, state) = &mut model.reservations[i];
                if *state == State::Held {
                    // Time passes for this one reservation: its expiry moves into the past.
                    crate::support::expire_at(&h.keys.user("p", "u"), id, "1");
                    for (g, m) in holds.iter() {
                        Model::add(&mut model.held, g, -(*m as i64));
                    }
                    *state = State::Expired;
                }
            }
            Op::Track { event, half_units } => {
                h.store
                    .data()
                    .track("p", &input(event, half_units), None, None, "key_model")
                    .await
                    .unwrap();
                for g in matched(event).filter(|g| !g.4) {
                    Model::add(&mut model.used, g.0, (half_units * 500) as i64);
                }
            }
        }
        let usage = h.store.data().usage("p", &user()).await.unwrap();
        for counter in usage.counters {
            let group = counter.group_id.as_str();
            let used = model.used.iter().find(|(g, _)| **g == group).map_or(0, |(_, v)| *v);
            let held = model.held.iter().find(|(g, _)| **g == group).map_or(0, |(_, v)| *v);
            prop_assert_eq!((counter.used.0, counter.reserved.0), (used, held), "counter {}", group);
        }
    }
    // The ledger written beside the counters sums to them, group by group.
    let page = h
        .store
        .data()
        .usage_events(
            "p",
            &quota_gateway::gateway::LedgerQuery {
                user: Some(&user()),
                member: None,
                from_ms: 0,
                to_ms: i64::MAX,
            },
            None,
            1_000,
        )
        .await
        .unwrap();
    let ledger = ledger_sums(&page.data);
    for counter in h.store.data().usage("p", &user()).await.unwrap().counters {
        let summed = ledger.get(&counter.group_id).copied().unwrap_or(0);
        prop_assert_eq!(summed, counter.used.0 as i64, "ledger of {}", counter.group_id);
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn the_store_agrees_with_the_model(ops in proptest::collection::vec(op(), 1..40)) {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        runtime.block_on(run(ops))?;
    }
}
