//! Shared budgets against a small Rust model: three members of 3 each under a team pool of 5;
//! random sequences of reserve, commit, release and track must give the same decisions (and
//! the same denying subject) and the same counters at every level.

use proptest::prelude::*;
use quota_gateway::gateway::audit::Actor;
use quota_gateway::gateway::ParentChange;
use quota_gateway::gateway::{Gateway, Settlement};
use quota_gateway::surface::quota::{Denial, EventInput, Milli, Plan, Reason, ReservationId, UserId};
use serde_json::json;

use crate::support::{service_on_shared, unique_prefix};

const MEMBERS: usize = 3;
const OWN: u64 = 3_000;
const POOL: u64 = 5_000;

#[derive(Debug, Clone)]
enum Op {
    Reserve { member: usize, units: u64 },
    Commit { pick: usize, actual: Option<u64> },
    Release { pick: usize },
    Track { member: usize, units: u64 },
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (0..MEMBERS, 0u64..4).prop_map(|(member, units)| Op::Reserve { member, units }),
        2 => (any::<usize>(), proptest::option::of(0u64..4)).prop_map(|(pick, actual)| Op::Commit { pick, actual }),
        2 => any::<usize>().prop_map(|pick| Op::Release { pick }),
        1 => (0..MEMBERS, 0u64..2).prop_map(|(member, units)| Op::Track { member, units }),
    ]
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum State {
    Held,
    Committed,
    Released,
}

/// Used and held milli-units of one level.
#[derive(Debug, Default, Clone, Copy, PartialEq)]
struct Level {
    used: u64,
    held: u64,
}

#[derive(Default)]
struct Model {
    members: [Level; MEMBERS],
    pool: Level,
    /// id, member, milli held, state
    reservations: Vec<(String, usize, u64, State)>,
}

impl Model {
    /// The denial reserve must answer: the member's own group first (the lowest level decides
    /// first), else the pool's.
    fn denial(&self, member: usize, milli: u64) -> Option<Denial> {
        let own = self.members[member];
        if own.used + own.held + milli > OWN {
            return Some(Denial {
                subject: None,
                group: Some("own".into()),
                reason: Reason::LimitReached,
                approval_id: None,
                model: None,
                retry_at_ms: None,
                asked: Some(Milli(milli)),
            });
        }
        (self.pool.used + self.pool.held + milli > POOL).then(|| Denial {
            subject: Some("team".into()),
            group: Some("pool".into()),
            reason: Reason::LimitReached,
            approval_id: None,
            model: None,
            retry_at_ms: None,
            asked: Some(Milli(milli)),
        })
    }
}

fn plan(id: &str, group: &str, quota: u64) -> Plan {
    let doc = serde_json::from_value(json!({ "periodType": "lifetime", "groups": [
        { "id": group, "unit": "count", "quota": quota / 1000, "matches": [ { "event": "*" } ] } ] }))
    .unwrap();
    Plan::from_doc(id, doc).unwrap()
}

fn member(i: usize) -> UserId {
    UserId::parse(&format!("m{i}")).unwrap()
}

async fn setup() -> Gateway {
    let gateway = service_on_shared(&unique_prefix()).await;
    let (member_plan, team_plan) = (plan("plan_m", "own", OWN), plan("plan_t", "pool", POOL));
    gateway
        .accounts()
        .put_plan("p", &member_plan, &Actor::root())
        .await
        .unwrap();
    gateway
        .accounts()
        .put_plan("p", &team_plan, &Actor::root())
        .await
        .unwrap();
    let team = UserId::parse("team").unwrap();
    gateway
        .accounts()
        .subscribe("p", &team, &team_plan, None, None, ParentChange::Keep, &Actor::root())
        .await
        .unwrap();
    for i in 0..MEMBERS {
        let parent = ParentChange::Set("team");
        gateway
            .accounts()
            .subscribe("p", &member(i), &member_plan, None, None, parent, &Actor::root())
            .await
            .unwrap();
    }
    gateway
}

/// The event of a member, naming a model by the member (entries must carry it).
fn input(member_index: usize, milli: u64) -> EventInput {
    let mut metadata = serde_json::Map::new();
    metadata.insert("model".into(), format!("model-{member_index}").into());
    EventInput {
        user: member(member_index),
        event: "e".into(),
        quantity: Milli(milli),
        metadata,
        step: None,
        fit: Default::default(),
        fallback: None,
    }
}

/// Every entry of `subject`'s ledger.
async fn ledger(gateway: &Gateway, subject: &UserId) -> Vec<quota_gateway::surface::quota::UsageEvent> {
    let query = quota_gateway::gateway::LedgerQuery {
        user: Some(subject),
        member: None,
        from_ms: 0,
        to_ms: i64::MAX,
    };
    let mut entries = gateway
        .data()
        .usage_events("p", &query, None, 10_000)
        .await
        .unwrap()
        .data;
    // Only what counted usage: holds' ends and denials count none.
    entries.retain(|e| !e.groups.is_empty());
    entries
}

/// Each level's ledger sums to its counter; each entry names its model and key, and the
/// pool's entries name their member, with the member's entry's id and amount.
async fn check_ledgers(gateway: &Gateway, model: &Model) -> Result<(), TestCaseError> {
    let team = UserId::parse("team").unwrap();
    let pool = ledger(gateway, &team).await;
    let sum = |entries: &[quota_gateway::surface::quota::UsageEvent]| {
        entries.iter().map(|e| e.groups[0].amount_milli).sum::<i64>()
    };
    prop_assert_eq!(sum(&pool) as u64, model.pool.used, "the pool's ledger");
    let mut own_entries = std::collections::BTreeMap::new();
    for i in 0..MEMBERS {
        let own = ledger(gateway, &member(i)).await;
        prop_assert_eq!(sum(&own) as u64, model.members[i].used, "m{}'s ledger", i);
        for e in own {
            prop_assert_eq!(e.member.as_deref(), None);
            own_entries.insert(e.id.clone(), (i, e));
        }
    }
    for e in &pool {
        let Some((i, own)) = own_entries.get(&e.id) else {
            return Err(TestCaseError::fail(format!(
                "the pool's entry {} has no member's entry",
                e.id
            )));
        };
        prop_assert_eq!(e.member.clone(), Some(member(*i).to_string()), "{}", e.id);
        prop_assert_eq!(e.groups[0].amount_milli, own.groups[0].amount_milli, "{}", e.id);
        for entry in [e, own] {
            let model_name = entry.metadata.as_ref().and_then(|m| m.get("model")).cloned();
            prop_assert_eq!(model_name, Some(format!("model-{i}").into()), "{}", entry.id);
            prop_assert_eq!(entry.key_id.as_deref(), Some("key_model"), "{}", entry.id);
        }
    }
    Ok(())
}

async fn run(ops: Vec<Op>) -> Result<(), TestCaseError> {
    let gateway = setup().await;
    let mut model = Model::default();
    for op in ops {
        let pick = |model: &Model, p: usize| (!model.reservations.is_empty()).then(|| p % model.reservations.len());
        match op {
            Op::Reserve { member, units } => {
                let milli = units * 1000;
                let expected = model.denial(member, milli);
                let decision = gateway
                    .data()
                    .reserve("p", &input(member, milli), 60_000, None)
                    .await
                    .unwrap();
                prop_assert_eq!(
                    decision.denied_by.first(),
                    expected.as_ref(),
                    "reserve m{} {}",
                    member,
                    milli
                );
                prop_assert_eq!(decision.allowed, expected.is_none());
                if let Some(granted) = decision.granted {
                    model.members[member].held += milli;
                    model.pool.held += milli;
                    model
                        .reservations
                        .push((granted.reservation_id.to_string(), member, milli, State::Held));
                }
            }
            Op::Commit { pick: p, actual } => {
                let Some(i) = pick(&model, p) else { continue };
                let id = ReservationId::parse(&model.reservations[i].0).unwrap();
                let actual = actual.map(|a| Milli(a * 1000));
                let outcome = gateway
                    .data()
                    .commit(
                        "p",
                        &id,
                        quota_gateway::gateway::Commit {
                            quantity: actual,
                            key_id: "key_model",
                            ..Default::default()
                        },
                    )
                    .await
                    .unwrap();
                let (_, member, milli, state) = &mut model.reservations[i];
                match (*state, outcome) {
                    (State::Held, Settlement::Settled(s)) => {
                        prop_assert!(!s.late);
                        let counted = actual.map_or(*milli, |a| a.0);
                        for level in [&mut model.members[*member], &mut model.pool] {
                            level.held -= *milli;
                            level.used += counted;
                        }
                        *state = State::Committed;
                    }
                    (State::Committed, Settlement::Settled(_)) => {}
                    (State::Released, Settlement::Conflict(c)) => prop_assert_eq!(c, "released"),
                    (state, other) => prop_assert!(false, "commit of {:?} answered {:?}", state, other),
                }
            }
            Op::Release { pick: p } => {
                let Some(i) = pick(&model, p) else { continue };
                let id = ReservationId::parse(&model.reservations[i].0).unwrap();
                let outcome = gateway.data().release("p", &id).await.unwrap();
                let (_, member, milli, state) = &mut model.reservations[i];
                match (*state, outcome) {
                    (State::Held, Settlement::Settled(_)) => {
                        model.members[*member].held -= *milli;
                        model.pool.held -= *milli;
                        *state = State::Released;
                    }
                    (State::Released, Settlement::Settled(_)) => {}
                    (State::Committed, Settlement::Conflict(c)) => prop_assert_eq!(c, "committed"),
                    (state, other) => prop_assert!(false, "release of {:?} answered {:?}", state, other),
                }
            }
            Op::Track { member, units } => {
                gateway
                    .data()
                    .track("p", &input(member, units * 1000), None, None, "key_model")
                    .await
                    .unwrap();
                model.members[member].used += units * 1000;
                model.pool.used += units * 1000;
            }
        }
        for i in 0..MEMBERS {
            let usage = gateway.data().usage("p", &member(i)).await.unwrap();
            let own = &usage.counters[0];
            prop_assert_eq!(
                Level {
                    used: own.used.0,
                    held: own.reserved.0
                },
                model.members[i],
                "m{}",
                i
            );
            let pool = &usage.parents[0].1.counters[0];
            prop_assert_eq!(
                Level {
                    used: pool.used.0,
                    held: pool.reserved.0
                },
                model.pool,
                "the pool"
            );
        }
    }
    check_ledgers(&gateway, &model).await
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 32, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn the_store_with_parents_agrees_with_the_model(ops in proptest::collection::vec(op(), 1..30)) {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        runtime.block_on(run(ops))?;
    }
}
