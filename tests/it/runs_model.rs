//! Runs against a small Rust model: random sequences of run starts, steps (reserves and
//! tracks), commits above and below, releases, closes and expiries of steps and runs must give
//! the same decisions, the same runs and the same counters; and once every run has ended, the
//! ledger sums to the counters.

use std::collections::BTreeMap;

use proptest::prelude::*;
use quota_gateway::gateway::audit::Actor;
use quota_gateway::gateway::{Gateway, ParentChange, Settlement};
use quota_gateway::surface::quota::{
    EventInput, Milli, Plan, ReservationId, RunLimits, RunState, Step, StepKind, UserId,
};
use quota_gateway::surface::store::layout::Layout;
use serde_json::json;

use crate::support::{ledger_sums, service_on_shared, unique_prefix};

/// The run's event matches `budget` alone, so a run holds it; steps of "a" are checked on the
/// user's `a_only` too, which no run holds.
const BUDGET_QUOTA: u64 = 20_000;
const A_ONLY_QUOTA: u64 = 6_000;
/// Each run may take this many steps.
const STEPS: u64 = 5;

#[derive(Debug, Clone)]
enum Op {
    Start { half_units: u64 },
    Step { run: usize, a: bool, half_units: u64 },
    Track { run: usize, a: bool, half_units: u64 },
    Commit { step: usize, actual: Option<u64> },
    Release { step: usize },
    ExpireStep { step: usize },
    Close { run: usize },
    ExpireRun { run: usize },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Open,
    Ended,
}

#[derive(Debug)]
struct ModelRun {
    id: String,
    budget: u64,
    used: u64,
    open: u64,
    steps: u64,
    state: State,
    expired: bool,
}

#[derive(Debug)]
struct ModelStep {
    id: String,
    run: usize,
    amount: u64,
    a: bool,
    /// Held, or ended (committed, released or expired).
    held: bool,
    expired: bool,
    done: bool,
}

#[derive(Debug, Default)]
struct Model {
    used: BTreeMap<&'static str, u64>,
    held: BTreeMap<&'static str, u64>,
    runs: Vec<ModelRun>,
    steps: Vec<ModelStep>,
}

impl Model {
    fn add(&mut self, map: fn(&mut Model) -> &mut BTreeMap<&'static str, u64>, group: &'static str, milli: i64) {
        let value = map(self).entry(group).or_insert(0);
        *value = (*value as i64 + milli).max(0) as u64;
    }

    fn get(map: &BTreeMap<&'static str, u64>, group: &str) -> u64 {
        map.iter().find(|(g, _)| **g == group).map_or(0, |(_, v)| *v)
    }

    /// Ends run `r`: what its steps used counts on the user, its budget goes back.
    fn end_run(&mut self, r: usize, expired: bool) {
        let (budget, used) = (self.runs[r].budget, self.runs[r].used);
        self.add(|m| &mut m.held, "budget", -(budget as i64));
        self.add(|m| &mut m.used, "budget", used as i64);
        let run = &mut self.runs[r];
        run.state = State::Ended;
        run.expired = expired;
    }
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        2 => (1u64..16).prop_map(|half_units| Op::Start { half_units }),
        4 => (any::<usize>(), any::<bool>(), 0u64..6).prop_map(|(run, a, half_units)| Op::Step { run, a, half_units }),
        1 => (any::<usize>(), any::<bool>(), 0u64..4).prop_map(|(run, a, half_units)| Op::Track { run, a, half_units }),
        3 => (any::<usize>(), proptest::option::of(0u64..8)).prop_map(|(step, actual)| Op::Commit { step, actual }),
        1 => any::<usize>().prop_map(|step| Op::Release { step }),
        1 => any::<usize>().prop_map(|step| Op::ExpireStep { step }),
        1 => any::<usize>().prop_map(|run| Op::Close { run }),
        1 => any::<usize>().prop_map(|run| Op::ExpireRun { run }),
    ]
}

fn user() -> UserId {
    UserId::parse("u").unwrap()
}

fn input(event: &str, milli: u64, run: Option<&str>) -> EventInput {
    EventInput {
        user: user(),
        event: event.into(),
        quantity: Milli(milli),
        metadata: Default::default(),
        step: run.map(|id| Step {
            run_id: ReservationId::parse(id).unwrap(),
            action: String::new(),
            kind: StepKind::Primary,
        }),
        fit: Default::default(),
        fallback: None,
    }
}

async fn harness() -> (Gateway, Layout) {
    let prefix = unique_prefix();
    let gateway = service_on_shared(&prefix).await;
    let doc = serde_json::from_value(json!({ "periodType": "lifetime", "groups": [
        { "id": "budget", "unit": "count", "quota": BUDGET_QUOTA / 1000, "matches": [ { "event": "*" } ] },
        { "id": "a_only", "unit": "count", "quota": A_ONLY_QUOTA / 1000, "matches": [ { "event": "a" } ] } ] }))
    .unwrap();
    let plan = Plan::from_doc("plan_runs_model", doc).unwrap();
    gateway.accounts().put_plan("p", &plan, &Actor::root()).await.unwrap();
    gateway
        .accounts()
        .subscribe("p", &user(), &plan, None, None, ParentChange::Keep, &Actor::root())
        .await
        .unwrap();
    (gateway, Layout::new(&prefix))
}

/// Moves a reservation's (or run's) expiry into the past, as time passing would.
fn expire(keys: &Layout, id: &str) {
    crate::support::expire_at(&keys.user("p", "u"), id, "1");
}

async fn run(ops: Vec<Op>) -> Result<(), TestCaseError> {
    let (g, keys) = harness().await;
    let mut m = Model::default();
    let limits = RunLimits {
        steps: Some(STEPS),
        ..RunLimits::default()
    };
    for op in ops {
        let pick_run = |m: &Model, i: usize| (!m.runs.is_empty()).then(|| i % m.runs.len());
        let pick_step = |m: &Model, i: usize| (!m.steps.is_empty()).then(|| i % m.steps.len());
        match op {
            Op::Start { half_units } => {
                let milli = half_units * 500;
                let fits = Model::get(&m.used, "budget") + Model::get(&m.held, "budget") + milli <= BUDGET_QUOTA;
                let d = g
                    .data()
                    .start_run("p", &input("run", milli, None), &limits, 600_000, None)
                    .await
                    .unwrap();
                prop_assert_eq!(d.allowed, fits, "start {}", milli);
                if let Some(granted) = d.granted {
                    m.add(|m| &mut m.held, "budget", milli as i64);
                    m.runs.push(ModelRun {
                        id: granted.reservation_id.to_string(),
                        budget: milli,
                        used: 0,
                        open: 0,
                        steps: 0,
                        state: State::Open,
                        expired: false,
                    });
                }
            }
            Op::Step { run: r, a, half_units } => {
                let Some(r) = pick_run(&m, r) else { continue };
                let milli = half_units * 500;
                let event = if a { "a" } else { "b" };
                let d = g
                    .data()
                    .reserve("p", &input(event, milli, Some(&m.runs[r].id.clone())), 600_000, None)
                    .await
                    .unwrap();
                let run = &m.runs[r];
                let mut reasons = Vec::new();
                if run.state == State::Ended {
                    reasons.push("run_ended");
                } else {
                    if run.steps + 1 > STEPS {
                        reasons.push("run_steps_exhausted");
                    }
                    // (What is left may be below zero after commits above their holds.)
                    if milli as i64 > run.budget as i64 - run.used as i64 - run.open as i64 {
                        reasons.push("run_budget_exhausted");
                    }
                }
                // A step of an ended run draws nothing from it: its groups weigh on the user.
                if run.state == State::Ended
                    && Model::get(&m.used, "budget") + Model::get(&m.held, "budget") + milli > BUDGET_QUOTA
                {
                    reasons.push("limit_reached");
                }
                if a && Model::get(&m.used, "a_only") + Model::get(&m.held, "a_only") + milli > A_ONLY_QUOTA {
                    reasons.push("limit_reached");
                }
                reasons.dedup();
                let got: Vec<&str> = d.reasons.iter().map(|r| r.code()).collect();
                let mut want = reasons.clone();
                want.sort();
                want.dedup();
                let mut sorted = got.clone();
                sorted.sort();
                prop_assert_eq!(&sorted, &want, "step {} {} of {:?}", event, milli, run);
                prop_assert_eq!(d.allowed, reasons.is_empty());
                if let Some(granted) = d.granted {
                    let run = &mut m.runs[r];
                    run.open += milli;
                    run.steps += 1;
                    let progress = d.run.as_ref().unwrap();
                    prop_assert_eq!(progress.steps, run.steps);
                    let left = run.budget.saturating_sub(run.used).saturating_sub(run.open);
                    prop_assert_eq!(&progress.remaining, &vec![("budget".to_string(), Milli(left))]);
                    if a {
                        m.add(|m| &mut m.held, "a_only", milli as i64);
                    }
                    m.steps.push(ModelStep {
                        id: granted.reservation_id.to_string(),
                        run: r,
                        amount: milli,
                        a,
                        held: true,
                        expired: false,
                        done: false,
                    });
                }
            }
            Op::Track { run: r, a, half_units } => {
                let Some(r) = pick_run(&m, r) else { continue };
                let milli = half_units * 500;
                let event = if a { "a" } else { "b" };
                g.data()
                    .track(
                        "p",
                        &input(event, milli, Some(&m.runs[r].id.clone())),
                        None,
                        None,
                        "key_model",
                    )
                    .await
                    .unwrap();
                if m.runs[r].state == State::Open {
                    m.runs[r].used += milli;
                    m.runs[r].steps += 1;
                } else {
                    m.add(|m| &mut m.used, "budget", milli as i64);
                }
                if a {
                    m.add(|m| &mut m.used, "a_only", milli as i64);
                }
            }
            Op::Commit { step: s, actual } => {
                let Some(s) = pick_step(&m, s) else { continue };
                let id = ReservationId::parse(&m.steps[s].id).unwrap();
                let n = actual.map(|h| h * 500);
                let outcome = g
                    .data()
                    .commit(
                        "p",
                        &id,
                        quota_gateway::gateway::Commit {
                            quantity: n.map(Milli),
                            key_id: "key_model",
                            ..Default::default()
                        },
                    )
                    .await
                    .unwrap();
                let step = &m.steps[s];
                let (r, amount, a, held, done) = (step.run, step.amount, step.a, step.held, step.done);
                let n = n.unwrap_or(amount);
                match outcome {
                    Settlement::Settled(settled) if !done => {
                        let live = m.runs[r].state == State::Open;
                        prop_assert_eq!(settled.late, !held || !live, "late of {:?}", m.steps[s]);
                        if live {
                            if held {
                                m.runs[r].open -= amount;
                            }
                            m.runs[r].used += n;
                        } else {
                            m.add(|m| &mut m.used, "budget", n as i64);
                        }
                        if a {
                            if held {
                                m.add(|m| &mut m.held, "a_only", -(amount as i64));
                            }
                            m.add(|m| &mut m.used, "a_only", n as i64);
                        }
                        let step = &mut m.steps[s];
                        step.held = false;
                        step.done = true;
                    }
                    Settlement::Settled(_) => prop_assert!(!m.steps[s].expired || m.steps[s].done),
                    Settlement::Conflict(state) => prop_assert_eq!(state, "released"),
                    other => prop_assert!(false, "commit of {:?} answered {:?}", m.steps[s], other),
                }
            }
            Op::Release { step: s } => {
                let Some(s) = pick_step(&m, s) else { continue };
                let id = ReservationId::parse(&m.steps[s].id).unwrap();
                let outcome = g.data().release("p", &id).await.unwrap();
                let step = &m.steps[s];
                let (r, amount, a, held, done) = (step.run, step.amount, step.a, step.held, step.done);
                match outcome {
                    Settlement::Settled(_) if !done => {
                        if held {
                            if m.runs[r].state == State::Open {
                                m.runs[r].open -= amount;
                            }
                            if a {
                                m.add(|m| &mut m.held, "a_only", -(amount as i64));
                            }
                        }
                        let step = &mut m.steps[s];
                        step.held = false;
                        step.done = true;
                    }
                    Settlement::Settled(_) => {}
                    Settlement::Conflict(state) => prop_assert_eq!(state, "committed"),
                    other => prop_assert!(false, "release answered {:?}", other),
                }
            }
            Op::ExpireStep { step: s } => {
                let Some(s) = pick_step(&m, s) else { continue };
                let step = &m.steps[s];
                if !step.held {
                    continue;
                }
                let (id, r, amount, a) = (step.id.clone(), step.run, step.amount, step.a);
                expire(&keys, &id);
                if m.runs[r].state == State::Open {
                    m.runs[r].open -= amount;
                }
                if a {
                    m.add(|m| &mut m.held, "a_only", -(amount as i64));
                }
                let step = &mut m.steps[s];
                step.held = false;
                step.expired = true;
            }
            Op::Close { run: r } => {
                let Some(r) = pick_run(&m, r) else { continue };
                let id = ReservationId::parse(&m.runs[r].id).unwrap();
                let view = g.data().close_run("p", &id, None, "key_model").await.unwrap().unwrap();
                if m.runs[r].state == State::Open {
                    m.end_run(r, false);
                }
                let want = if m.runs[r].expired {
                    RunState::Expired
                } else {
                    RunState::Closed
                };
                prop_assert_eq!(view.state, want);
            }
            Op::ExpireRun { run: r } => {
                let Some(r) = pick_run(&m, r) else { continue };
                if m.runs[r].state == State::Open {
                    expire(&keys, &m.runs[r].id.clone());
                    m.end_run(r, true);
                }
            }
        }
        // The user's counters, and every run's used and open, as the model has them.
        let usage = g.data().usage("p", &user()).await.unwrap();
        for counter in usage.counters {
            let group = counter.group_id.as_str();
            let want = (Model::get(&m.used, group), Model::get(&m.held, group));
            prop_assert_eq!((counter.used.0, counter.reserved.0), want, "counter {}", group);
        }
        for r in &m.runs {
            let view = g
                .data()
                .run("p", &ReservationId::parse(&r.id).unwrap())
                .await
                .unwrap()
                .unwrap();
            let used = view.run.used.get("budget").map_or(0, |v| v.0);
            prop_assert_eq!(used, r.used, "used of {:?}", r);
            if r.state == State::Open {
                let open = view.run.open.get("budget").map_or(0, |v| v.0);
                prop_assert_eq!((open, view.run.steps), (r.open, r.steps), "open of {:?}", r);
            }
        }
    }
    // Every run ended, the ledger the steps wrote sums to the counters.
    for r in 0..m.runs.len() {
        if m.runs[r].state == State::Open {
            g.data()
                .close_run("p", &ReservationId::parse(&m.runs[r].id).unwrap(), None, "key_model")
                .await
                .unwrap();
            m.end_run(r, false);
        }
    }
    let page = g
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
    for counter in g.data().usage("p", &user()).await.unwrap().counters {
        let summed = ledger.get(&counter.group_id).copied().unwrap_or(0);
        prop_assert_eq!(summed, counter.used.0 as i64, "ledger of {}", counter.group_id);
        prop_assert_eq!(Model::get(&m.used, &counter.group_id), counter.used.0);
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn runs_agree_with_the_model(ops in proptest::collection::vec(op(), 1..40)) {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        runtime.block_on(run(ops))?;
    }
}
