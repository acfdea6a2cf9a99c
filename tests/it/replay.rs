//! The pricing lab's one decision: random sequences of reserves, commits above and below what
//! was held, releases, expiries, tracks, adjustments, plan changes and a period boundary go
//! through the real scripts; the ledger they leave, replayed under the same plans by the domain
//! code, must decide every recorded decision as the scripts did and end with the same counters.
//! Then a lowered quota: the replay's decisions under it must be those of running the same
//! demand live under it.

use std::time::Duration;

use proptest::prelude::*;
use quota_gateway::gateway::audit::Actor;
use quota_gateway::gateway::{Gateway, LedgerQuery, ParentChange};
use quota_gateway::surface::quota::replay::{replay, PlanSpan, Subject, Timeline};
use quota_gateway::surface::quota::{EventInput, Milli, Plan, ReasonText, ReservationId, UsageEvent, UserId};
use quota_gateway::surface::store::layout::Layout;
use serde_json::{json, Value};

use crate::support::{redis, service_on_shared, unique_prefix};

/// Plan A; plan B changes quotas and resets or blocks on the change. `all` counts per minute
/// from the subscription's start, which each case puts a boundary into.
fn plan_doc(b: bool, all_quota: u64) -> Value {
    json!({ "periodType": "lifetime", "groups": [
        { "id": "all", "unit": "count", "quota": all_quota, "matches": [ { "event": "*" } ],
          "period": { "type": "minute", "anchor": "subscription_start" },
          "onPlanChange": if b { "reset" } else { "carry" } },
        { "id": "b_only", "unit": "count", "quota": if b { 3 } else { 4 }, "matches": [ { "event": "b" } ],
          "onPlanChange": if b { "block" } else { "carry" } },
        { "id": "soft_a", "unit": "count", "quota": 3, "mode": "soft", "matches": [ { "event": "a" } ] },
        { "id": "jobs", "unit": "concurrent", "quota": if b { 3 } else { 2 }, "matches": [ { "event": "c" } ] },
        { "id": "per_model", "unit": "tokens", "quota": 4, "per": "model",
          "measure": { "metadata": "tokens" }, "matches": [ { "event": "a" } ] }
    ] })
}

fn plan(id: &str, doc: Value) -> Plan {
    Plan::from_doc(id, serde_json::from_value(doc).unwrap()).unwrap()
}

#[derive(Debug, Clone)]
enum Op {
    Reserve {
        event: &'static str,
        half_units: u64,
        model: u8,
    },
    /// Commits the `pick`th reserve so far (whatever became of it), at half units when given,
    /// with metadata of other tokens (which `per_model` measures) when given.
    Commit {
        pick: usize,
        actual_half_units: Option<u64>,
        tokens: Option<u64>,
    },
    Release {
        pick: usize,
    },
    Expire {
        pick: usize,
    },
    Track {
        event: &'static str,
        half_units: u64,
        model: u8,
    },
    Adjust {
        group: &'static str,
        half_units: i64,
    },
    SwitchPlan,
    Wait,
    /// A reserve of alternatives: the first of two events that every group admits, the
    /// second asking half a unit more.
    ReserveFirst {
        events: (&'static str, &'static str),
        half_units: u64,
        model: u8,
    },
}

fn op() -> impl Strategy<Value = Op> {
    let event = prop_oneof![Just("a"), Just("b"), Just("c")];
    prop_oneof![
        4 => (event.clone(), 0u64..6, 0u8..3).prop_map(|(event, half_units, model)| Op::Reserve { event, half_units, model }),
        2 => (any::<usize>(), proptest::option::of(0u64..8), proptest::option::of(0u64..5))
            .prop_map(|(pick, actual_half_units, tokens)| Op::Commit { pick, actual_half_units, tokens }),
        1 => any::<usize>().prop_map(|pick| Op::Release { pick }),
        1 => any::<usize>().prop_map(|pick| Op::Expire { pick }),
        1 => (event.clone(), 0u64..4, 0u8..3).prop_map(|(event, half_units, model)| Op::Track { event, half_units, model }),
        1 => (prop_oneof![Just("all"), Just("b_only")], -3i64..4).prop_map(|(group, half_units)| Op::Adjust { group, half_units }),
        1 => Just(Op::SwitchPlan),
        1 => Just(Op::Wait),
        2 => (event.clone(), event, 0u64..6, 0u8..3)
            .prop_map(|(first, second, half_units, model)| Op::ReserveFirst { events: (first, second), half_units, model }),
    ]
}

fn input(user: &UserId, event: &str, half_units: u64, model: u8) -> EventInput {
    let metadata = json!({ "model": format!("m{model}"), "tokens": half_units });
    EventInput {
        user: user.clone(),
        event: event.into(),
        quantity: Milli(half_units * 500),
        metadata: metadata.as_object().unwrap().clone(),
        step: None,
        fit: Default::default(),
        fallback: None,
    }
}

/// Redis's time, ms.
fn redis_ms() -> i64 {
    let t: Vec<String> = redis::shared().query(&["TIME"]);
    t[0].parse::<i64>().unwrap() * 1000 + t[1].parse::<i64>().unwrap() / 1000
}

struct Lab {
    gateway: Gateway,
    keys: Layout,
    plans: Vec<Plan>,
}

async fn lab(plans: Vec<Plan>) -> Lab {
    let prefix = unique_prefix();
    let gateway = service_on_shared(&prefix).await;
    for p in &plans {
        gateway.accounts().put_plan("p", p, &Actor::root()).await.unwrap();
    }
    Lab {
        gateway,
        keys: Layout::new(&prefix),
        plans,
    }
}

/// What running `ops` live for `user` decided (each reserve, in order) and the plans it was on.
struct Live {
    decisions: Vec<bool>,
    /// Per reserve of alternatives, in order: the one held.
    chosen: Vec<Option<usize>>,
    spans: Vec<(i64, usize)>,
    started_ms: i64,
}

/// With `boundary`, the `all` window ends 150 ms into the run, so its first calls and its later
/// ones count in two windows; else it ends a minute later.
async fn run_live(lab: &Lab, user: &UserId, ops: &[Op], first_plan: usize, boundary: bool) -> Live {
    let started_ms = redis_ms() - if boundary { 60_000 - 150 } else { 1_000 };
    let g = &lab.gateway;
    let subscribe = |plan: usize| async move {
        g.accounts()
            .subscribe(
                "p",
                user,
                &lab.plans[plan],
                Some(started_ms),
                None,
                ParentChange::Keep,
                &Actor::root(),
            )
            .await
            .unwrap();
    };
    subscribe(first_plan).await;
    let mut live = Live {
        decisions: Vec::new(),
        chosen: Vec::new(),
        spans: vec![(0, first_plan)],
        started_ms,
    };
    // Per reserve op: its id when admitted, and whether it may still be held.
    let mut reserves: Vec<Option<(ReservationId, bool)>> = Vec::new();
    let pick =
        |reserves: &Vec<Option<(ReservationId, bool)>>, p: usize| (!reserves.is_empty()).then(|| p % reserves.len());
    let reason = ReasonText::parse("lab").unwrap();
    for op in ops {
        match op {
            Op::Reserve {
                event,
                half_units,
                model,
            } => {
                let d = g
                    .data()
                    .reserve("p", &input(user, event, *half_units, *model), 60_000, None)
                    .await
                    .unwrap();
                live.decisions.push(d.allowed);
                reserves.push(d.granted.map(|granted| (granted.reservation_id.clone(), true)));
            }
            Op::Commit {
                pick: p,
                actual_half_units,
                tokens,
            } => {
                let Some(i) = pick(&reserves, *p) else { continue };
                if let Some((id, held)) = &mut reserves[i] {
                    let metadata = tokens.map(|t| json!({ "tokens": t }).as_object().unwrap().clone());
                    let _ = g
                        .data()
                        .commit(
                            "p",
                            id,
                            quota_gateway::gateway::Commit {
                                quantity: actual_half_units.map(|h| Milli(h * 500)),
                                metadata: metadata.as_ref(),
                                key_id: "key_lab",
                                ..Default::default()
                            },
                        )
                        .await
                        .unwrap();
                    *held = false;
                }
            }
            Op::Release { pick: p } => {
                let Some(i) = pick(&reserves, *p) else { continue };
                if let Some((id, held)) = &mut reserves[i] {
                    let _ = g.data().release("p", id).await.unwrap();
                    *held = false;
                }
            }
            Op::Expire { pick: p } => {
                let Some(i) = pick(&reserves, *p) else { continue };
                if let Some((id, held @ true)) = &mut reserves[i] {
                    // Its time is up now: the next call for the user returns its holds.
                    let at = (redis_ms() - 1).to_string();
                    crate::support::expire_at(&lab.keys.user("p", user.as_str()), id.as_str(), &at);
                    *held = false;
                }
            }
            Op::Track {
                event,
                half_units,
                model,
            } => {
                g.data()
                    .track("p", &input(user, event, *half_units, *model), None, None, "key_lab")
                    .await
                    .unwrap();
            }
            Op::Adjust { group, half_units } => {
                let _ = g
                    .data()
                    .adjust("p", user, group, half_units * 500, &reason, &Actor::root(), None)
                    .await;
            }
            Op::ReserveFirst {
                events,
                half_units,
                model,
            } => {
                let alternatives = [
                    input(user, events.0, *half_units, *model),
                    input(user, events.1, *half_units + 1, *model),
                ];
                let fit = g.data().reserve_first("p", &alternatives, 60_000, None).await.unwrap();
                live.decisions.push(fit.decision.allowed);
                live.chosen.push(fit.chosen);
                reserves.push(
                    fit.decision
                        .granted
                        .map(|granted| (granted.reservation_id.clone(), true)),
                );
            }
            Op::SwitchPlan => {
                let next = 1 - live.spans.last().unwrap().1;
                subscribe(next).await;
                live.spans.push((redis_ms(), next));
            }
            Op::Wait => tokio::time::sleep(Duration::from_millis(20)).await,
        }
        // Each call in its own milliseconds: the ledger's times order them as they happened.
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    // Every hold ends, so the ledger tells each reserve: the open ones are released, and a call
    // that writes (a release of no reservation) returns the expired ones and writes their entries.
    for (id, held) in reserves.iter().flatten() {
        if *held {
            let _ = g.data().release("p", id).await.unwrap();
        }
    }
    let _ = g.data().release("p", &ReservationId::new(user, b"none")).await;
    live
}

async fn ledger(g: &Gateway, user: &UserId) -> Vec<UsageEvent> {
    let query = LedgerQuery {
        user: Some(user),
        member: None,
        from_ms: 0,
        to_ms: i64::MAX,
    };
    g.data().usage_events("p", &query, None, 10_000).await.unwrap().data
}

fn subject<'p>(user: &UserId, live: &Live, plans: &'p [Plan]) -> Subject<'p> {
    Subject {
        user: user.clone(),
        spans: live
            .spans
            .iter()
            .map(|(from_ms, plan)| PlanSpan {
                from_ms: *from_ms,
                plan: &plans[*plan],
                started_ms: live.started_ms,
            })
            .collect(),
        overrides: Default::default(),
        prices: Default::default(),
    }
}

async fn agree(ops: Vec<Op>) -> Result<(), TestCaseError> {
    let lab = lab(vec![
        plan("plan_a", plan_doc(false, 10)),
        plan("plan_b", plan_doc(true, 6)),
    ])
    .await;
    let user = UserId::parse("u").unwrap();
    let live = run_live(&lab, &user, &ops, 0, true).await;
    let usage = lab.gateway.data().usage("p", &user).await.unwrap();
    let entries = ledger(&lab.gateway, &user).await;
    let timeline = Timeline::of(&entries);
    let outcome = replay(&subject(&user, &live, &lab.plans), &timeline, i64::MIN..i64::MAX);
    prop_assert_eq!(
        &outcome.recorded,
        &live.decisions,
        "the ledger records every decision: {:?}",
        entries
    );
    prop_assert_eq!(
        &outcome.decisions,
        &live.decisions,
        "the replay decides alike: {:?}",
        entries
    );
    for c in usage.counters {
        let key = (c.group_id.clone(), c.period_start_ms.unwrap_or(0), c.value.clone());
        let replayed = outcome.counters.get(&key).copied().unwrap_or_default();
        prop_assert_eq!(
            (replayed.used, replayed.held),
            (c.used.0, c.reserved.0),
            "counter {:?}: {:?}",
            key,
            entries
        );
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn the_replay_of_the_ledger_decides_every_recorded_decision_as_the_scripts_did(ops in proptest::collection::vec(op(), 1..40)) {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        runtime.block_on(agree(ops))?;
    }
}

/// Twelve users' recorded demand under plan A, replayed with `all`'s quota lowered from 10 to
/// 5: the users the replay newly denies, and every decision it makes, are those of running the
/// same demand live under the lowered plan.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lowered_quota_newly_denies_whom_running_it_live_denies() {
    let lab = lab(vec![
        plan("plan_a", plan_doc(false, 10)),
        plan("plan_low", plan_doc(false, 5)),
    ])
    .await;
    let mut replayed_newly_denied = Vec::new();
    let mut live_newly_denied = Vec::new();
    for n in 0..12u64 {
        // Reserve-and-commit pairs and tracks of 1 to 3 units, more of them for later users.
        let mut ops = Vec::new();
        let mut reserves = 0;
        for k in 0..(4 + n) {
            let units = 1 + (n * 7 + k * 3) % 3;
            if (n + k) % 4 == 3 {
                ops.push(Op::Track {
                    event: "a",
                    half_units: units * 2,
                    model: 0,
                });
            } else {
                let event = if k % 2 == 0 { "a" } else { "b" };
                ops.push(Op::Reserve {
                    event,
                    half_units: units * 2,
                    model: (k % 2) as u8,
                });
                ops.push(Op::Commit {
                    pick: reserves,
                    actual_half_units: None,
                    tokens: None,
                });
                reserves += 1;
            }
        }
        let recorded_user = UserId::parse(&format!("r{n}")).unwrap();
        let live = run_live(&lab, &recorded_user, &ops, 0, false).await;
        let entries = ledger(&lab.gateway, &recorded_user).await;
        let timeline = Timeline::of(&entries);
        let baseline = replay(
            &subject(&recorded_user, &live, &lab.plans),
            &timeline,
            i64::MIN..i64::MAX,
        );
        assert_eq!(baseline.decisions, live.decisions, "r{n}: {entries:?}");
        let mut lowered = subject(&recorded_user, &live, &lab.plans);
        lowered.spans[0].plan = &lab.plans[1];
        let candidate = replay(&lowered, &timeline, i64::MIN..i64::MAX);

        let live_user = UserId::parse(&format!("l{n}")).unwrap();
        let under_low = run_live(&lab, &live_user, &ops, 1, false).await;
        assert_eq!(
            candidate.decisions, under_low.decisions,
            "user {n}: the replay decides as the live run"
        );
        let newly = |b: &[bool], c: &[bool]| b.iter().zip(c).any(|(b, c)| *b && !*c);
        if newly(&baseline.decisions, &candidate.decisions) {
            replayed_newly_denied.push(n);
        }
        if newly(&live.decisions, &under_low.decisions) {
            live_newly_denied.push(n);
        }
    }
    assert_eq!(replayed_newly_denied, live_newly_denied);
    assert!(!live_newly_denied.is_empty(), "the lowered quota denies someone");
}

/// Model A's calls, one a month under the recorded plan and three under the candidate, then
/// Model B's: three reserves of A then B, each committed, held A once and B twice. Replayed
/// under the candidate, each entry is decided among its alternatives again: A all three times,
/// counted at what A asked, as running the same calls live under the candidate counts them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reserve_of_alternatives_is_replayed_by_choosing_among_them_under_the_candidate() {
    let doc = |a: u64| {
        json!({ "periodType": "lifetime", "groups": [
            { "id": "model-a", "unit": "count", "quota": a, "matches": [ { "event": "a" } ] },
            { "id": "model-b", "unit": "count", "quota": 10, "matches": [ { "event": "b" } ] } ] })
    };
    let lab = lab(vec![plan("plan_one_a", doc(1)), plan("plan_three_a", doc(3))]).await;
    let mut ops = Vec::new();
    for pick in 0..3 {
        ops.push(Op::ReserveFirst {
            events: ("a", "b"),
            half_units: 2,
            model: 0,
        });
        ops.push(Op::Commit {
            pick,
            actual_half_units: None,
            tokens: None,
        });
    }
    let recorded = UserId::parse("recorded").unwrap();
    let live = run_live(&lab, &recorded, &ops, 0, false).await;
    assert_eq!(live.chosen, [Some(0), Some(1), Some(1)]);
    let timeline = Timeline::of(&ledger(&lab.gateway, &recorded).await);
    let baseline = replay(&subject(&recorded, &live, &lab.plans), &timeline, i64::MIN..i64::MAX);
    let count = |o: &quota_gateway::surface::quota::replay::Outcome, group: &str| {
        o.counters
            .iter()
            .filter(|((g, _, _), _)| g == group)
            .map(|(_, c)| c.used)
            .sum::<u64>()
    };
    assert_eq!(
        (count(&baseline, "model-a"), count(&baseline, "model-b")),
        (1_000, 3_000)
    );
    assert_eq!(baseline.estimated, 0);

    let mut candidate = subject(&recorded, &live, &lab.plans);
    candidate.spans[0].plan = &lab.plans[1];
    let replayed = replay(&candidate, &timeline, i64::MIN..i64::MAX);
    let under = UserId::parse("under").unwrap();
    let live_under = run_live(&lab, &under, &ops, 1, false).await;
    assert_eq!(live_under.chosen, [Some(0), Some(0), Some(0)]);
    let usage = lab.gateway.data().usage("p", &under).await.unwrap();
    for c in usage.counters {
        assert_eq!(count(&replayed, &c.group_id), c.used.0, "{}", c.group_id);
    }
    assert_eq!((count(&replayed, "model-a"), replayed.estimated), (3_000, 2));
    assert_eq!(replayed.decisions, live_under.decisions);
}
