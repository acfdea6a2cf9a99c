//! The quick path of a balance (lua/library/modules/wallet.lua's header): a reserve that fits on the first
//! grant in burn order decides from the balance's quick line and holds in its journal, and
//! every other call moves the journal onto that grant. Under parallel reserves, commits above
//! and below, and releases from two nodes, every grant stays exact; a reserve's answer says
//! what the wallet itself says.

use futures::future::join_all;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::support::{redis, spawn_app, two_nodes_with, TestApp};

/// One credit a unit: the amount reserved is the quantity.
fn plan() -> Value {
    json!({ "id": "plan_quick", "periodType": "month", "groups": [
        { "id": "credits", "balance": "credits", "matches": [ { "event": "render", "measure": { "rate": 1 } } ] } ] })
}

async fn grant(app: &TestApp, user: &str, amount: u32, priority: u32, expires_at: Option<&str>) {
    let mut body = json!({ "balance": "credits", "amount": amount, "priority": priority });
    if let Some(at) = expires_at {
        body["expiresAt"] = json!(at);
    }
    let (status, answer) = app
        .json(Method::POST, &format!("/v1/users/{user}/grants"), Some(body))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{answer}");
}

async fn balance(app: &TestApp, user: &str) -> Value {
    let (status, answer) = app.json(Method::GET, &format!("/v1/users/{user}/balances"), None).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    answer["data"][0].clone()
}

fn units(v: &Value) -> f64 {
    v.as_f64().unwrap_or_else(|| panic!("a number: {v}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn parallel_reserves_commits_and_releases_from_two_nodes_keep_every_grant_exact() {
    let (one, two) = two_nodes_with("q", plan()).await;
    for priority in [10, 20, 30] {
        grant(&one, "q", 50, priority, None).await;
    }
    // Holds of 3, 7 and 11 credits: most fit on the first grant with credits left and take
    // the quick path, those that reach the end of a grant take the wallet's; each is then
    // committed below, at or above its hold, or released.
    let calls = (0..60u32).map(|i| {
        let app = if i % 2 == 0 {
            one.clone_for_node()
        } else {
            two.clone_for_node()
        };
        async move {
            let quantity = [3, 7, 11][(i % 3) as usize];
            let held = app
                .reserve(json!({ "userId": "q", "event": "render", "quantity": quantity }))
                .await;
            if held["allowed"] != true {
                assert_eq!(held["reasons"], json!(["insufficient_balance"]), "{held}");
                return 0;
            }
            assert!(units(&TestApp::counter(&held, "credits")["remaining"]) >= 0.0, "{held}");
            let id = held["reservationId"].as_str().unwrap();
            let actual = match i % 4 {
                0 => quantity - 1,
                1 => quantity,
                2 => quantity + 2,
                _ => {
                    let (status, answer) = app.release(id).await;
                    assert_eq!(status, StatusCode::OK, "{answer}");
                    return 0;
                }
            };
            let (status, answer) = app.commit(id, Some(json!({ "quantity": actual }))).await;
            assert_eq!(status, StatusCode::OK, "{answer}");
            actual
        }
    });
    let burned: u32 = join_all(calls).await.into_iter().sum();
    let b = balance(&one, "q").await;
    let grants = b["grants"].as_array().unwrap();
    let sum = |k: &str| grants.iter().map(|g| units(&g[k])).sum::<f64>();
    for g in grants {
        let parts = ["remaining", "held", "consumed", "expired", "voided"].map(|k| units(&g[k]));
        assert_eq!(units(&g["amount"]), parts.iter().sum::<f64>(), "{g}");
    }
    // Nothing is held once every call ended; what was burned is what the commits said, less
    // what nothing covered (debt).
    assert_eq!(sum("held"), 0.0, "{b}");
    assert_eq!(sum("consumed") + units(&b["debt"]), f64::from(burned), "{b}");
    assert_eq!(sum("remaining"), 150.0 - sum("consumed"), "{b}");
    // Available is never shown below zero.
    assert_eq!(
        units(&b["available"]),
        (sum("remaining") - units(&b["debt"])).max(0.0),
        "{b}"
    );
}

#[tokio::test]
async fn a_reserve_on_the_quick_path_answers_what_the_wallet_says() {
    let app = spawn_app().await;
    app.put_plan(plan()).await;
    app.subscribe("w", "plan_quick", None).await;
    let soon = (chrono::Utc::now() + chrono::Duration::days(3)).to_rfc3339();
    grant(&app, "w", 40, 10, Some(&soon)).await;
    grant(&app, "w", 100, 20, None).await;
    // The grants wrote the quick line; reserves fitting on the first grant with credits left
    // answer from it and add to its journal, which nothing moves until the wallet is read:
    // each answer is what the wallet says once it is.
    let journal = || -> Option<String> {
        redis::shared().query(&["HGET", &format!("{}:{{default:w}}:ctr", app.prefix), "w|credits|j"])
    };
    let mut answers = Vec::new();
    for quantity in [5, 6, 7, 20] {
        let held = app
            .reserve(json!({ "userId": "w", "event": "render", "quantity": quantity }))
            .await;
        assert_eq!(held["allowed"], true, "{held}");
        answers.push(TestApp::counter(&held, "credits").clone());
    }
    // All four held on the quick path (milli-units).
    assert_eq!(journal().as_deref(), Some("38000"));
    let b = balance(&app, "w").await;
    assert_eq!(journal().as_deref(), Some("0"), "reading the wallet moved the journal");
    let last = answers.last().unwrap();
    assert_eq!(last["remaining"], b["available"], "{last} {b}");
    assert_eq!(last["reserved"], b["held"], "{last} {b}");
    assert_eq!(last["debt"], b["debt"], "{last} {b}");
    assert_eq!(last["soonestExpiry"], b["soonestExpiry"], "{last} {b}");
    assert_eq!(last["soonestExpiry"]["amount"], 2, "{last}");
    assert_eq!(
        answers.iter().map(|c| c["remaining"].clone()).collect::<Vec<_>>(),
        [json!(135), json!(129), json!(122), json!(102)]
    );
    // The last takes the first grant's last 2 and one of the second's: on the wallet, so no
    // usable grant expires any more.
    let held = app
        .reserve(json!({ "userId": "w", "event": "render", "quantity": 3 }))
        .await;
    let counter = TestApp::counter(&held, "credits");
    assert!(counter["soonestExpiry"].is_null(), "{held}");
    assert_eq!(journal().as_deref(), Some("0"));
    // 41 held: the first grant's 40 and one of the second's, in burn order.
    let b = balance(&app, "w").await;
    let held: Vec<Value> = b["grants"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["held"].clone())
        .collect();
    assert_eq!(held, [json!(40), json!(1)], "{b}");
}

/// How many `HMGET`s of keys with `tag` (a user's hash tag) Redis ran since
/// `log_every_command`: a script's own commands are logged too, and the node's background
/// reads of other keys (a webhook's deliveries) are not counted.
fn hmgets_of(redis: &redis::TestRedis, tag: &str) -> usize {
    redis
        .slowlog()
        .iter()
        .filter(|l| {
            l.args.first().is_some_and(|c| c.eq_ignore_ascii_case("hmget"))
                && l.args.get(1).is_some_and(|k| k.contains(tag))
        })
        .count()
}

#[tokio::test]
async fn a_denial_that_read_the_whole_wallet_refreshes_its_quick_line_for_the_next() {
    // A Redis of its own, so its command counts are this test's alone.
    let own = redis::TestRedis::start();
    let app = crate::support::spawn_app_with(&own.target(), &crate::support::unique_prefix(), None, |c| {
        c.webhook_allow_http = true;
        c.webhook_allow_private = true;
    })
    .await;
    // With an endpoint to tell, holds carry the group's low-balance amounts: a line written by
    // a grant (which knows none) cannot decide for such a hold, until a call that read the
    // whole wallet saves it. (Nothing listens there: no delivery matters here.)
    crate::webhooks::endpoint(&app, "http://127.0.0.1:9/hooks").await;
    app.put_plan(json!({ "id": "plan_low", "periodType": "month", "groups": [
        { "id": "credits", "balance": "credits", "lowBalance": [50, 20],
          "matches": [ { "event": "render", "measure": { "rate": 1 } } ] } ] }))
        .await;
    app.subscribe("h", "plan_low", None).await;
    grant(&app, "h", 10, 10, None).await;
    let line = || -> Vec<u8> { own.query(&["HGET", &format!("{}:{{default:h}}:ctr", app.prefix), "w|credits|q"]) };
    let written_by_the_grant = line();
    // Each denial's reads of the counters hash: the counters with the quick line, then the
    // whole wallet when the line cannot decide.
    let mut reads = Vec::new();
    for _ in 0..3 {
        own.log_every_command();
        let denied = app
            .reserve(json!({ "userId": "h", "event": "render", "quantity": 100 }))
            .await;
        assert_eq!(denied["allowed"], false, "{denied}");
        assert_eq!(denied["reasons"], json!(["insufficient_balance"]), "{denied}");
        reads.push(hmgets_of(&own, "{default:h}"));
    }
    assert_ne!(line(), written_by_the_grant, "the first denial saved a fresh line");
    assert_eq!(
        reads,
        [2, 1, 1],
        "the first denial read the wallet, the next decided on the line"
    );
    // The wallet is as the grant left it: a denial holds nothing.
    let b = balance(&app, "h").await;
    assert_eq!((units(&b["available"]), units(&b["held"])), (10.0, 0.0), "{b}");
}
