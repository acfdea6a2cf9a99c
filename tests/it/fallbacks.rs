//! Fallback caps: the attempts after the first of one original action hold and spend at most
//! a group's `maxFallbackSpend` together, decided in each attempt's reserve
//! (lua/library/modules/fallbacks.lua); exact under parallel attempts from two nodes, with
//! what a released or expired attempt held given back and what a committed one spent counted,
//! and what they committed read back per group in usage. The same for a run's own cap (its
//! `maxFallbackSpend`, which every call of one of its actions shares), and the bound on a
//! chain's list: at most 32 attempts after the first.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use futures::future::join_all;
use quota_gateway::gateway::audit::Actor;
use quota_gateway::gateway::{Commit, Gateway, ParentChange, Settlement};
use quota_gateway::surface::quota::{
    Decision, EventInput, FallbackOf, Milli, Plan, Reason, ReservationId, RunLimits, Step, StepKind, UserId,
};
use serde_json::{json, Value};

use crate::support::{service_on_shared, unique_prefix};

/// Attempts that spent nothing: `released` given back on one node, `zeroed` committed at nothing
/// on the other.
async fn give_back(one: &Gateway, two: &Gateway, released: &[ReservationId], zeroed: &[ReservationId]) {
    for id in released {
        one.data().release("p", id).await.unwrap();
    }
    for id in zeroed {
        let zero = Commit {
            quantity: Some(Milli::ZERO),
            ..Commit::default()
        };
        two.data().commit("p", id, zero).await.unwrap();
    }
}

/// A count group of 1,000 whose fallbacks may hold and spend 10 per original action, and one
/// without a cap that every event matches too.
async fn two_nodes() -> (Gateway, Gateway) {
    let (one, two, _) = two_nodes_capped(10).await;
    (one, two)
}

/// As `two_nodes`, the cap `cap`, with the nodes' key prefix.
async fn two_nodes_capped(cap: u32) -> (Gateway, Gateway, String) {
    two_nodes_on(json!({ "periodType": "month", "groups": [
        { "id": "calls", "unit": "count", "quota": 1000, "maxFallbackSpend": cap, "matches": [ { "event": "*" } ] },
        { "id": "all", "unit": "count", "quota": 100000, "matches": [ { "event": "*" } ] } ] }))
    .await
}

/// Two nodes (the service layer alone) on the shared Redis under one prefix, whose user `u` of
/// project `p` has the plan `doc`; and the prefix.
async fn two_nodes_on(doc: Value) -> (Gateway, Gateway, String) {
    let prefix = unique_prefix();
    let (one, two) = (service_on_shared(&prefix).await, service_on_shared(&prefix).await);
    subscribe(&one, doc).await;
    (one, two, prefix)
}

async fn subscribe(node: &Gateway, doc: Value) {
    let plan = Plan::from_doc("plan_fallbacks", serde_json::from_value(doc).unwrap()).unwrap();
    node.accounts().put_plan("p", &plan, &Actor::root()).await.unwrap();
    node.accounts()
        .subscribe("p", &user(), &plan, None, None, ParentChange::Keep, &Actor::root())
        .await
        .unwrap();
}

fn user() -> UserId {
    UserId::parse("u").unwrap()
}

/// An attempt after the first of `chain` (None: a plain reserve) of one call.
fn attempt(chain: Option<&str>) -> EventInput {
    EventInput {
        user: user(),
        event: "llm.call".into(),
        quantity: Milli::from_units(1),
        metadata: Default::default(),
        step: None,
        fit: Default::default(),
        fallback: chain.map(|c| FallbackOf { chain: c.into() }),
    }
}

fn held(d: &Decision) -> ReservationId {
    d.granted.as_ref().unwrap().reservation_id.clone()
}

async fn reserve_all(nodes: [&Gateway; 2], n: usize, chain: &str) -> Vec<Decision> {
    let calls = (0..n).map(|i| async move {
        nodes[i % 2]
            .data()
            .reserve("p", &attempt(Some(chain)), 60_000, None)
            .await
            .unwrap()
    });
    join_all(calls).await
}

fn fallback_used(usage: &quota_gateway::gateway::Usage, group: &str) -> Milli {
    usage
        .counters
        .iter()
        .find(|c| c.group_id == group)
        .unwrap()
        .fallback_used
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn parallel_attempts_of_one_action_hold_exactly_the_groups_fallback_cap_from_two_nodes() {
    let (one, two) = two_nodes().await;
    // 100 attempts at once, half on each node: a cap read, then written, in two calls would
    // admit more than the 10 it allows.
    let decisions = reserve_all([&one, &two], 100, "call_a").await;
    let admitted: Vec<&Decision> = decisions.iter().filter(|d| d.allowed).collect();
    assert_eq!(admitted.len(), 10);
    for denied in decisions.iter().filter(|d| !d.allowed) {
        assert_eq!(
            denied.reasons.iter().map(|r| r.code()).collect::<Vec<_>>(),
            ["fallback_budget_exhausted"]
        );
        assert_eq!(denied.denied_by.len(), 1);
        assert_eq!(denied.denied_by[0].group.as_deref(), Some("calls"));
    }
    // Another action has a cap of its own; a plain reserve (a first attempt) none.
    assert!(reserve_all([&one, &two], 1, "call_b").await[0].allowed);
    assert!(
        one.data()
            .reserve("p", &attempt(None), 60_000, None)
            .await
            .unwrap()
            .allowed
    );

    // Three given back (the provider refused them): three more fit. Two committed at nothing
    // spend nothing: two more fit; one committed whole keeps its one.
    let ids: Vec<ReservationId> = admitted.iter().map(|d| held(d)).collect();
    give_back(&one, &two, &ids[..3], &ids[3..5]).await;
    let again = reserve_all([&one, &two], 20, "call_a").await;
    assert_eq!(again.iter().filter(|d| d.allowed).count(), 5);
    // What the fallbacks committed is read back per group, counted once per commit however
    // many commit at once.
    let mut open: Vec<ReservationId> = ids[5..].to_vec();
    open.extend(again.iter().filter(|d| d.allowed).map(held));
    assert_eq!(open.len(), 10);
    let commits = open.iter().enumerate().map(|(i, id)| {
        let node = if i % 2 == 0 { &one } else { &two };
        async move { node.data().commit("p", id, Commit::default()).await.unwrap() }
    });
    join_all(commits).await;
    let usage = one.data().usage("p", &user()).await.unwrap();
    assert_eq!(fallback_used(&usage, "calls"), Milli::from_units(10));
    assert_eq!(
        fallback_used(&usage, "all"),
        Milli::from_units(10),
        "a group without a cap counts too"
    );
    // Every attempt of call_a now spent its cap: the next is refused.
    assert!(!reserve_all([&one, &two], 1, "call_a").await[0].allowed);
}

/// A chain's list leaves a retention after its last attempt, as ended records do.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_chains_list_is_pruned_a_retention_after_its_last_attempt() {
    let clock = crate::support::redis::Stepped::start();
    let prefix = unique_prefix();
    let gateway = stepped_node(&clock, &prefix).await;
    subscribe(
        &gateway,
        json!({ "periodType": "lifetime", "groups": [
        { "id": "calls", "unit": "count", "quota": 1000, "maxFallbackSpend": 10, "matches": [ { "event": "*" } ] } ] }),
    )
    .await;
    let ctr = quota_gateway::surface::store::layout::Layout::new(&prefix)
        .user("p", "u")
        .ctr()
        .to_string();
    let listed = || -> i64 { clock.redis.query(&["HEXISTS", &ctr, "fb|call_p"]) };

    let d = gateway
        .data()
        .reserve("p", &attempt(Some("call_p")), 10_000, None)
        .await
        .unwrap();
    assert!(d.allowed);
    gateway.data().release("p", &held(&d)).await.unwrap();
    assert_eq!(listed(), 1, "listed while its attempts may still count");
    // A retention later, the next call's prune takes it.
    clock.step(61_000);
    gateway.node().sync_clock().await.unwrap();
    let next = gateway.data().reserve("p", &attempt(None), 10_000, None).await.unwrap();
    gateway.data().release("p", &held(&next)).await.unwrap();
    assert_eq!(listed(), 0);
}

/// A node (the service layer alone) on `clock`'s Redis under `prefix`, its clock synced, ended
/// records and chains kept a retention of 60 s.
async fn stepped_node(clock: &crate::support::redis::Stepped, prefix: &str) -> Gateway {
    let gateway = Gateway::new(&quota_gateway::surface::store::StoreConfig {
        redis_mode: clock.target().mode,
        redis_url: clock.target().url,
        clock_skew_ms: 0,
        sentinel_master: String::new(),
        wait_replicas: 0,
        key_prefix: prefix.to_string(),
        command_timeout: Duration::from_secs(2),
        retention: Duration::from_secs(60),
        ledger_retention: Duration::from_secs(35 * 86_400),
    })
    .expect("a gateway");
    gateway.node().sync_clock().await.unwrap();
    gateway
}

/// An attempt after the first of `chain`, of `units`.
fn attempt_of(chain: &str, units: u64) -> EventInput {
    EventInput {
        quantity: Milli::from_units(units),
        ..attempt(Some(chain))
    }
}

/// Every denial is the chain's cap (or its bound), in group `calls`.
fn assert_fallback_denials<'a>(denied: impl Iterator<Item = &'a Decision>) {
    for d in denied {
        assert_eq!(d.reasons, [Reason::FallbackBudgetExhausted], "{d:?}");
        assert_eq!(d.denied_by.len(), 1, "{d:?}");
        assert_eq!(d.denied_by[0].group.as_deref(), Some("calls"), "{d:?}");
    }
}

/// An attempt whose hold expired gave it back: it counts nothing toward its chain's cap, so the
/// attempts after it have the whole cap again, exactly, from two nodes at once. Committed late
/// (the provider billed it after all), it counts what it committed, as any committed attempt.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_attempt_whose_hold_expired_counts_nothing_toward_the_cap() {
    let clock = crate::support::redis::Stepped::start();
    let prefix = unique_prefix();
    let one = stepped_node(&clock, &prefix).await;
    let two = stepped_node(&clock, &prefix).await;
    subscribe(
        &one,
        json!({ "periodType": "lifetime", "groups": [
        { "id": "calls", "unit": "count", "quota": 1000, "maxFallbackSpend": 10, "matches": [ { "event": "*" } ] } ] }),
    )
    .await;
    // One attempt holds the whole cap for a second; the next finds none.
    let whole = one
        .data()
        .reserve("p", &attempt_of("call_x", 10), 1_000, None)
        .await
        .unwrap();
    assert!(whole.allowed, "{whole:?}");
    let next = two
        .data()
        .reserve("p", &attempt_of("call_x", 1), 60_000, None)
        .await
        .unwrap();
    assert_fallback_denials([&next].into_iter().filter(|d| !d.allowed));
    assert!(!next.allowed);

    // Past its expiry (Redis's clock stepped, the nodes told): 20 attempts of 1 at once from
    // two nodes find the whole cap of 10 again, and not one more.
    clock.step(1_500);
    one.node().sync_clock().await.unwrap();
    two.node().sync_clock().await.unwrap();
    let nodes = [&one, &two];
    let calls = (0..20).map(|i| async move {
        nodes[i % 2]
            .data()
            .reserve("p", &attempt_of("call_x", 1), 60_000, None)
            .await
            .unwrap()
    });
    let decisions = join_all(calls).await;
    let admitted: Vec<ReservationId> = decisions.iter().filter(|d| d.allowed).map(held).collect();
    assert_eq!(admitted.len(), 10);
    assert_fallback_denials(decisions.iter().filter(|d| !d.allowed));
    let usage = one.data().usage("p", &user()).await.unwrap();
    assert_eq!(
        fallback_used(&usage, "calls"),
        Milli::ZERO,
        "the expired attempt spent nothing"
    );

    // The expired attempt committed late counts its 10: with the 10 open beside it the chain
    // now holds and spends 20, past its cap (a commit is never refused: the provider billed
    // it), and nothing more is admitted until both have gone back below it.
    match one.data().commit("p", &held(&whole), Commit::default()).await.unwrap() {
        Settlement::Settled(settled) => assert!(settled.late, "{settled:?}"),
        other => panic!("the late commit: {other:?}"),
    }
    let usage = one.data().usage("p", &user()).await.unwrap();
    assert_eq!(fallback_used(&usage, "calls"), Milli::from_units(10));
    for id in &admitted {
        two.data().release("p", id).await.unwrap();
    }
    let after = one
        .data()
        .reserve("p", &attempt_of("call_x", 1), 60_000, None)
        .await
        .unwrap();
    assert!(!after.allowed, "{after:?}");
    assert_fallback_denials([&after].into_iter());
}

/// A chain lists at most 32 attempts after the first (fallbacks.lua's MAX_CHAIN), whatever they
/// hold: with room under the cap, 40 attempts at once from two nodes admit exactly 32, and the
/// 33rd after the first (the action's 34th) is denied `fallback_budget_exhausted` even when
/// every one before was given back. A first attempt, and another action's chain, are not
/// concerned; the list leaves a retention after its last attempt.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_chain_lists_at_most_32_attempts_and_the_33rd_after_the_first_is_denied() {
    let (one, two, prefix) = two_nodes_capped(1_000).await;
    let decisions = reserve_all([&one, &two], 40, "call_long").await;
    let admitted: Vec<ReservationId> = decisions.iter().filter(|d| d.allowed).map(held).collect();
    assert_eq!(admitted.len(), 32);
    assert_fallback_denials(decisions.iter().filter(|d| !d.allowed));
    let ctr = quota_gateway::surface::store::layout::Layout::new(&prefix)
        .user("p", "u")
        .ctr()
        .to_string();
    let list: String = crate::support::redis::shared().query(&["HGET", &ctr, "fb|call_long"]);
    assert_eq!(list.lines().filter(|l| !l.is_empty()).count(), 32);

    // All 32 given back: the cap has its whole room, the list is still full.
    for id in &admitted {
        one.data().release("p", id).await.unwrap();
    }
    let usage = one.data().usage("p", &user()).await.unwrap();
    let calls = usage.counters.iter().find(|c| c.group_id == "calls").unwrap();
    assert_eq!(calls.reserved, Milli::ZERO);
    let d33 = two
        .data()
        .reserve("p", &attempt(Some("call_long")), 60_000, None)
        .await
        .unwrap();
    assert!(!d33.allowed, "{d33:?}");
    assert_fallback_denials([&d33].into_iter());
    assert!(
        one.data()
            .reserve("p", &attempt(None), 60_000, None)
            .await
            .unwrap()
            .allowed
    );
    assert!(reserve_all([&one, &two], 1, "call_other").await[0].allowed);
}

/// The plan of the runs' tests: `calls`, which a run of `agent.run` holds and its `llm.call`
/// steps draw from, without a cap of its own.
fn runs_plan() -> Value {
    json!({ "periodType": "month", "groups": [
        { "id": "calls", "unit": "count", "quota": 100000, "matches": [ { "event": "agent.run" }, { "event": "llm.call" } ] } ] })
}

/// Starts a run of 1,000 calls whose actions' fallbacks may hold and spend `cap` each.
async fn start_run(node: &Gateway, cap: u64) -> ReservationId {
    let input = EventInput {
        event: "agent.run".into(),
        quantity: Milli::from_units(1_000),
        ..attempt(None)
    };
    let limits = RunLimits {
        max_fallback_spend: Some(Milli::from_units(cap)),
        ..RunLimits::default()
    };
    let started = node
        .data()
        .start_run("p", &input, &limits, 600_000, None)
        .await
        .unwrap();
    assert!(started.allowed, "{started:?}");
    held(&started)
}

/// A fallback of `action` in `run` (an attempt after the first of one of its calls), of `units`.
fn run_fallback(run: &ReservationId, action: &str, units: u64) -> EventInput {
    let step = Step {
        run_id: run.clone(),
        action: action.into(),
        kind: StepKind::Fallback,
    };
    EventInput {
        quantity: Milli::from_units(units),
        fallback: Some(FallbackOf::of("call_any", Some(&step))),
        step: Some(step),
        ..attempt(None)
    }
}

/// What the run's fallbacks hold and spend of `calls`, as the run reads.
async fn run_fallback_spent(node: &Gateway, run: &ReservationId) -> Milli {
    let view = node.data().run("p", run).await.unwrap().expect("the run");
    view.run.fallback_spent.get("calls").copied().unwrap_or(Milli::ZERO)
}

/// 100 fallbacks of one run's action at once from two nodes, each of 2 against the run's cap of
/// 20, every other one admitted committed whole as it goes: exactly 10 are admitted, and what the
/// run's fallbacks hold and spend, read all along, never passes 20. Given back (released, or
/// committed at nothing), room comes back exactly; another action of the run has a cap of its
/// own. A version that read the chain in one call and held in another admits more.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn parallel_fallbacks_of_one_runs_action_stay_within_the_runs_cap_from_two_nodes() {
    let (one, two, _) = two_nodes_on(runs_plan()).await;
    let run = start_run(&one, 20).await;
    let nodes = [&one, &two];
    let (done, nth) = (AtomicBool::new(false), AtomicUsize::new(0));
    let attempts = (0..100).map(|i| {
        let (run, nth) = (&run, &nth);
        async move {
            let node = nodes[i % 2];
            let d = node
                .data()
                .reserve("p", &run_fallback(run, "answer", 2), 60_000, None)
                .await
                .unwrap();
            // Every other one admitted is committed whole at once: 5, while the others race.
            let committed = d.allowed && nth.fetch_add(1, Ordering::SeqCst) % 2 == 0;
            if committed {
                let settled = node.data().commit("p", &held(&d), Commit::default()).await.unwrap();
                assert!(matches!(settled, Settlement::Settled(_)), "{settled:?}");
            }
            (d, committed)
        }
    });
    let race = async {
        let decisions = join_all(attempts).await;
        done.store(true, Ordering::SeqCst);
        decisions
    };
    // What the run's fallbacks hold and spend, read while they race (at most 5,000 reads).
    let watch = async {
        let mut reads = 0;
        while !done.load(Ordering::SeqCst) && reads < 5_000 {
            let spent = run_fallback_spent(&one, &run).await;
            assert!(spent <= Milli::from_units(20), "the run's fallbacks hold {spent:?}");
            reads += 1;
        }
    };
    let (decisions, ()) = futures::join!(race, watch);
    let admitted: Vec<&(Decision, bool)> = decisions.iter().filter(|(d, _)| d.allowed).collect();
    assert_eq!(admitted.len(), 10);
    assert_fallback_denials(decisions.iter().map(|(d, _)| d).filter(|d| !d.allowed));
    assert_eq!(run_fallback_spent(&one, &run).await, Milli::from_units(20));
    let view = one.data().run("p", &run).await.unwrap().unwrap();
    assert_eq!(
        (view.run.steps, view.run.fallbacks),
        (10, 10),
        "denied attempts are no steps"
    );

    // Another action of the run has its cap to itself.
    assert!(
        two.data()
            .reserve("p", &run_fallback(&run, "other", 2), 60_000, None)
            .await
            .unwrap()
            .allowed
    );
    // Two of the open attempts released, two committed at nothing: 8 of room, so 4 more of 20.
    let open: Vec<ReservationId> = admitted
        .iter()
        .filter(|(_, committed)| !committed)
        .map(|(d, _)| held(d))
        .collect();
    assert_eq!(open.len(), 5);
    give_back(&one, &two, &open[..2], &open[2..4]).await;
    let again = (0..20).map(|i| {
        let run = &run;
        async move {
            nodes[i % 2]
                .data()
                .reserve("p", &run_fallback(run, "answer", 2), 60_000, None)
                .await
                .unwrap()
        }
    });
    let again = join_all(again).await;
    assert_eq!(again.iter().filter(|d| d.allowed).count(), 4);
    assert_fallback_denials(again.iter().filter(|d| !d.allowed));
    // The run's fallbacks: "answer"'s 20 and "other"'s 2.
    assert_eq!(run_fallback_spent(&one, &run).await, Milli::from_units(22));
}
