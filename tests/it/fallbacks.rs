//! Fallback caps: the attempts after the first of one original action hold and spend at most
//! a group's `maxFallbackSpend` together, decided in each attempt's reserve
//! (lua/library/modules/fallbacks.lua); exact under parallel attempts from two nodes, with
//! what a released attempt held given back and what a committed one spent counted, and what
//! they committed read back per group in usage.

use futures::future::join_all;
use quota_gateway::gateway::audit::Actor;
use quota_gateway::gateway::{Commit, Gateway, ParentChange};
use quota_gateway::quota::{Decision, EventInput, FallbackOf, Milli, Plan, ReservationId, UserId};
use serde_json::json;

use crate::support::{service_on_shared, unique_prefix};

/// A count group of 1,000 whose fallbacks may hold and spend 10 per original action, and one
/// without a cap that every event matches too.
async fn two_nodes() -> (Gateway, Gateway) {
    let prefix = unique_prefix();
    let (one, two) = (service_on_shared(&prefix).await, service_on_shared(&prefix).await);
    let doc = serde_json::from_value(json!({ "periodType": "month", "groups": [
        { "id": "calls", "unit": "count", "quota": 1000, "maxFallbackSpend": 10, "matches": [ { "event": "*" } ] },
        { "id": "all", "unit": "count", "quota": 100000, "matches": [ { "event": "*" } ] } ] }))
    .unwrap();
    let plan = Plan::from_doc("plan_fallbacks", doc).unwrap();
    one.accounts().put_plan("p", &plan, &Actor::root()).await.unwrap();
    one.accounts()
        .subscribe("p", &user(), &plan, None, None, ParentChange::Keep, &Actor::root())
        .await
        .unwrap();
    (one, two)
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
    for id in &ids[..3] {
        one.data().release("p", id).await.unwrap();
    }
    for id in &ids[3..5] {
        let zero = Commit {
            quantity: Some(Milli::ZERO),
            ..Commit::default()
        };
        two.data().commit("p", id, zero).await.unwrap();
    }
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
    let gateway = Gateway::new(&quota_gateway::store::StoreConfig {
        redis_mode: clock.target().mode,
        redis_url: clock.target().url,
        clock_skew_ms: 0,
        sentinel_master: String::new(),
        wait_replicas: 0,
        key_prefix: prefix.clone(),
        command_timeout: std::time::Duration::from_secs(2),
        retention: std::time::Duration::from_secs(60),
        ledger_retention: std::time::Duration::from_secs(35 * 86_400),
    })
    .expect("a gateway");
    gateway.node().sync_clock().await.unwrap();
    let doc = serde_json::from_value(json!({ "periodType": "lifetime", "groups": [
        { "id": "calls", "unit": "count", "quota": 1000, "maxFallbackSpend": 10, "matches": [ { "event": "*" } ] } ] }))
    .unwrap();
    let plan = Plan::from_doc("plan_fallbacks", doc).unwrap();
    gateway.accounts().put_plan("p", &plan, &Actor::root()).await.unwrap();
    gateway
        .accounts()
        .subscribe("p", &user(), &plan, None, None, ParentChange::Keep, &Actor::root())
        .await
        .unwrap();
    let ctr = quota_gateway::store::layout::Layout::new(&prefix)
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
