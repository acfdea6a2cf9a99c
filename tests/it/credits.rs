//! Credits: balance groups held before the call and burned at the actual cost after it,
//! atomically with the quotas of the same event; grants made once per payment, in one burn
//! order, voided, expired; debt and overdraft.

use std::time::Duration;

use chrono::{SecondsFormat, Utc};
use futures::future::join_all;
use reqwest::Method;
use serde_json::{json, Value};

use crate::support::{spawn_app, spawn_app_stepped, two_nodes_with, TestApp};

/// Renders at 10 credits (flux-pro) or 4 (others), at most 60 a minute, paid in credits.
fn credit_plan() -> Value {
    json!({
        "id": "plan_credits", "periodType": "month",
        "groups": [
            { "id": "credits", "balance": "credits",
              "matches": [
                { "event": "image.render", "metadata": { "model": "flux-pro" }, "measure": { "rate": 10 } },
                { "event": "image.render", "measure": { "rate": 4 } } ] },
            { "id": "per_minute", "unit": "count", "quota": 60, "period": { "type": "minute" },
              "matches": [ { "event": "image.render" } ] }
        ]
    })
}

async fn grant(app: &TestApp, user: &str, body: Value) -> Value {
    let (status, answer) = app
        .json(Method::POST, &format!("/v1/users/{user}/grants"), Some(body))
        .await;
    assert_eq!(status, 201, "{answer}");
    answer
}

async fn balance(app: &TestApp, user: &str) -> Value {
    let (status, answer) = app.json(Method::GET, &format!("/v1/users/{user}/balances"), None).await;
    assert_eq!(status, 200, "{answer}");
    answer["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|b| b["balance"] == "credits")
        .cloned()
        .unwrap_or(Value::Null)
}

fn render(user: &str, model: &str) -> Value {
    json!({ "userId": user, "event": "image.render", "metadata": { "model": model } })
}

/// Each grant's invariant: amount = remaining + held + consumed + expired + voided.
fn assert_invariants(balance: &Value) {
    for g in balance["grants"].as_array().unwrap() {
        let part = |k: &str| g[k].as_f64().unwrap();
        let sum = part("remaining") + part("held") + part("consumed") + part("expired") + part("voided");
        assert!((part("amount") - sum).abs() < 1e-9, "{g}");
    }
}

fn at(offset: Duration) -> String {
    (Utc::now() + offset).to_rfc3339_opts(SecondsFormat::Millis, true)
}

#[tokio::test]
async fn a_render_holds_its_credits_and_the_commit_burns_the_actual() {
    let app = spawn_app().await;
    app.put_plan(credit_plan()).await;
    app.subscribe("u", "plan_credits", None).await;
    grant(&app, "u", json!({ "balance": "credits", "amount": 100 })).await;

    let held = app.reserve(render("u", "flux-pro")).await;
    assert_eq!(held["allowed"], true, "{held}");
    let counter = TestApp::counter(&held, "credits");
    assert_eq!(counter["balance"], "credits");
    assert_eq!(counter["remaining"], 90);
    assert_eq!(counter["reserved"], 10);
    assert_eq!(counter["debt"], 0);

    // Two renders happened where one was reserved: 20 credits, the 10 held and 10 more.
    let (status, committed) = app
        .commit(held["reservationId"].as_str().unwrap(), Some(json!({ "quantity": 2 })))
        .await;
    assert_eq!(status, 200, "{committed}");
    let counter = TestApp::counter(&committed, "credits");
    assert_eq!(
        (counter["remaining"].clone(), counter["reserved"].clone()),
        (json!(80), json!(0))
    );
    assert_eq!(counter["used"], 20);

    // A released reservation gives its credits back.
    let held = app.reserve(render("u", "sdxl")).await;
    assert_eq!(TestApp::counter(&held, "credits")["remaining"], 76);
    let (_, released) = app.release(held["reservationId"].as_str().unwrap()).await;
    assert_eq!(TestApp::counter(&released, "credits")["remaining"], 80);

    let b = balance(&app, "u").await;
    assert_eq!(
        (b["available"].clone(), b["held"].clone(), b["debt"].clone()),
        (json!(80), json!(0), json!(0))
    );
    assert_eq!(b["grants"][0]["consumed"], 20);
    assert_invariants(&b);
}

#[tokio::test]
async fn without_credits_a_render_is_denied_with_insufficient_balance_and_holds_nothing() {
    let app = spawn_app().await;
    app.put_plan(credit_plan()).await;
    app.subscribe("poor", "plan_credits", None).await;
    grant(&app, "poor", json!({ "balance": "credits", "amount": 9 })).await;
    let denied = app.reserve(render("poor", "flux-pro")).await;
    assert_eq!(denied["allowed"], false, "{denied}");
    assert_eq!(denied["reasons"], json!(["insufficient_balance"]));
    assert_eq!(denied["deniedBy"], json!(["credits"]));
    // All or nothing: the minute's counter did not count the denied render.
    assert_eq!(TestApp::counter(&denied, "per_minute")["reserved"], 0);
    // The cheaper model fits.
    let allowed = app.reserve(render("poor", "sdxl")).await;
    assert_eq!(allowed["allowed"], true, "{allowed}");
    assert_eq!(TestApp::counter(&allowed, "credits")["remaining"], 5);
}

/// The exactness the whole feature is for: many parallel renders against one balance, from two
/// nodes, admit exactly what the balance covers.
#[tokio::test]
async fn a_hundred_parallel_reserves_of_10_against_95_credits_admit_exactly_9() {
    let (one, two) = two_nodes_with("p", credit_plan()).await;
    grant(&one, "p", json!({ "balance": "credits", "amount": 95 })).await;
    let calls = (0..100).map(|i| {
        let app = if i % 2 == 0 {
            one.clone_for_node()
        } else {
            two.clone_for_node()
        };
        async move { app.reserve(render("p", "flux-pro")).await }
    });
    let answers = join_all(calls).await;
    let admitted = answers.iter().filter(|a| a["allowed"] == true).count();
    assert_eq!(admitted, 9);
    let b = balance(&one, "p").await;
    assert_eq!(
        (b["available"].clone(), b["held"].clone()),
        (json!(5), json!(90)),
        "{b}"
    );
    assert_invariants(&b);
}

#[tokio::test]
async fn grants_burn_in_one_order_and_a_payment_grants_once() {
    let app = spawn_app().await;
    app.put_plan(credit_plan()).await;
    app.subscribe("o", "plan_credits", None).await;
    let soon = at(Duration::from_secs(3600));
    let later = at(Duration::from_secs(7200));
    // Made in the reverse of the order they burn in.
    let paid_never = grant(&app, "o", json!({ "balance": "credits", "amount": 10 })).await;
    let paid_later = grant(
        &app,
        "o",
        json!({ "balance": "credits", "amount": 10, "expiresAt": later }),
    )
    .await;
    let paid_soon = grant(
        &app,
        "o",
        json!({ "balance": "credits", "amount": 10, "expiresAt": soon }),
    )
    .await;
    let promo_soon = grant(
        &app,
        "o",
        json!({ "balance": "credits", "amount": 10, "expiresAt": soon, "category": "promotional" }),
    )
    .await;
    let first = grant(&app, "o", json!({ "balance": "credits", "amount": 10, "priority": 10 })).await;

    // A payment's webhook delivered twice grants once.
    let (status, again) = app.json(Method::GET, "/v1/users/o/grants", None).await;
    assert_eq!(status, 200);
    let before = again["data"].as_array().unwrap().len();
    for _ in 0..2 {
        let res = app
            .client
            .post(format!("{}/v1/users/o/grants", app.address))
            .bearer_auth(&app.key)
            .header("Idempotency-Key", "cs_test_123")
            .json(&json!({ "balance": "credits", "amount": 1, "priority": 100, "source": "purchase" }))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 201);
    }
    let (_, listed) = app.json(Method::GET, "/v1/users/o/grants?balance=credits", None).await;
    assert_eq!(listed["data"].as_array().unwrap().len(), before + 1, "{listed}");

    let order: Vec<&Value> = [&first, &promo_soon, &paid_soon, &paid_later, &paid_never]
        .into_iter()
        .collect();
    let ids: Vec<&str> = listed["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["grantId"].as_str().unwrap())
        .collect();
    let expected: Vec<&str> = order.iter().map(|g| g["grantId"].as_str().unwrap()).collect();
    assert_eq!(&ids[..5], &expected[..], "{listed}");

    // Each render of 10 takes the next grant whole, in that order.
    for g in &order {
        let held = app.reserve(render("o", "flux-pro")).await;
        let rid = held["reservationId"].as_str().unwrap();
        app.commit(rid, None).await;
        let (_, listed) = app.json(Method::GET, "/v1/users/o/grants", None).await;
        let this = listed["data"]
            .as_array()
            .unwrap()
            .iter()
            .find(|x| x["grantId"] == g["grantId"])
            .unwrap()
            .clone();
        assert_eq!(
            (this["consumed"].clone(), this["status"].clone()),
            (json!(10), json!("depleted")),
            "{listed}"
        );
    }
}

#[tokio::test]
async fn a_commit_above_every_grant_leaves_debt_that_the_next_grant_pays_first() {
    let app = spawn_app().await;
    app.put_plan(credit_plan()).await;
    app.subscribe("d", "plan_credits", None).await;
    grant(&app, "d", json!({ "balance": "credits", "amount": 15 })).await;
    let held = app.reserve(render("d", "flux-pro")).await;
    // Three renders where one was reserved: 30 credits against 15: never denied after the fact.
    let (status, committed) = app
        .commit(held["reservationId"].as_str().unwrap(), Some(json!({ "quantity": 3 })))
        .await;
    assert_eq!(status, 200, "{committed}");
    let counter = TestApp::counter(&committed, "credits");
    assert_eq!(
        (counter["remaining"].clone(), counter["debt"].clone()),
        (json!(0), json!(15))
    );
    assert_eq!(counter["exceeded"], true);
    assert_eq!(committed["overQuota"], json!(["credits"]));
    // In debt, nothing is admitted.
    assert_eq!(app.reserve(render("d", "sdxl")).await["allowed"], false);

    let paid = grant(&app, "d", json!({ "balance": "credits", "amount": 100 })).await;
    assert_eq!(paid["debtPaid"], 15, "{paid}");
    assert_eq!(
        (paid["remaining"].clone(), paid["consumed"].clone()),
        (json!(85), json!(15))
    );
    let b = balance(&app, "d").await;
    assert_eq!((b["available"].clone(), b["debt"].clone()), (json!(85), json!(0)));
    assert_invariants(&b);
}

#[tokio::test]
async fn a_track_burns_in_burn_order_and_never_denies() {
    let app = spawn_app().await;
    app.put_plan(credit_plan()).await;
    app.subscribe("t", "plan_credits", None).await;
    grant(&app, "t", json!({ "balance": "credits", "amount": 12 })).await;
    let (status, tracked) = app
        .json(
            Method::POST,
            "/v1/track",
            Some(json!({ "userId": "t", "event": "image.render", "quantity": 2,
            "metadata": { "model": "flux-pro" } })),
        )
        .await;
    assert_eq!(status, 200, "{tracked}");
    let counter = TestApp::counter(&tracked, "credits");
    assert_eq!(
        (counter["remaining"].clone(), counter["debt"].clone()),
        (json!(0), json!(8))
    );
}

#[tokio::test]
async fn overdraft_lets_reserves_go_that_far_below_zero_and_no_further() {
    let app = spawn_app().await;
    let mut plan = credit_plan();
    plan["groups"][0]["overdraft"] = json!(15);
    app.put_plan(plan).await;
    app.subscribe("od", "plan_credits", None).await;
    grant(&app, "od", json!({ "balance": "credits", "amount": 10 })).await;
    // 10 covered, 10 overdrawn, then 5 of the overdraft left: a third render of 10 is denied.
    let one = app.reserve(render("od", "flux-pro")).await;
    let two = app.reserve(render("od", "flux-pro")).await;
    let three = app.reserve(render("od", "flux-pro")).await;
    assert_eq!(
        (one["allowed"].clone(), two["allowed"].clone(), three["allowed"].clone()),
        (json!(true), json!(true), json!(false))
    );
    // The overdrawn render commits into debt.
    app.commit(one["reservationId"].as_str().unwrap(), None).await;
    let (_, committed) = app.commit(two["reservationId"].as_str().unwrap(), None).await;
    assert_eq!(TestApp::counter(&committed, "credits")["debt"], 10, "{committed}");
}

#[tokio::test]
async fn a_hold_on_a_grant_that_expires_is_burned_by_its_commit_and_expires_on_release() {
    let (app, clock) = spawn_app_stepped().await;
    app.put_plan(credit_plan()).await;
    app.subscribe("x", "plan_credits", None).await;
    // Expires in 1.5 s: two renders hold it, then it expires under them.
    let expiring = grant(
        &app,
        "x",
        json!({ "balance": "credits", "amount": 20, "expiresAt": at(Duration::from_millis(1500)) }),
    )
    .await;
    let a = app
        .reserve(
            json!({ "userId": "x", "event": "image.render", "metadata": { "model": "flux-pro" }, "ttlSeconds": 60 }),
        )
        .await;
    let b = app
        .reserve(
            json!({ "userId": "x", "event": "image.render", "metadata": { "model": "flux-pro" }, "ttlSeconds": 60 }),
        )
        .await;
    assert_eq!((a["allowed"].clone(), b["allowed"].clone()), (json!(true), json!(true)));
    clock.step(1700);
    // The call was admitted against the grant: its commit still burns it.
    let (status, _) = app.commit(a["reservationId"].as_str().unwrap(), None).await;
    assert_eq!(status, 200);
    app.release(b["reservationId"].as_str().unwrap()).await;
    let b = balance(&app, "x").await;
    let g = &b["grants"][0];
    assert_eq!(g["grantId"], expiring["grantId"]);
    assert_eq!(
        (g["consumed"].clone(), g["expired"].clone(), g["held"].clone()),
        (json!(10), json!(10), json!(0)),
        "{b}"
    );
    assert_eq!(g["status"], "expired");
    assert_eq!(b["available"], 0);
    assert_invariants(&b);
    // The expired rest is breakage in the ledger, written once.
    let entries = app.usage_events_all("userId=x").await;
    let breakage: Vec<&Value> = entries.iter().filter(|e| e["kind"] == "grant_expired").collect();
    assert_eq!(breakage.len(), 1, "{entries:?}");
    assert_eq!(breakage[0]["credits"][0]["amount"], 10);
}

/// A reserve decides on sums its wallet keeps (lua/library/modules/wallet.lua) until the next instant a grant
/// starts or expires: past it, what expired is gone and what started counts, read by reserves
/// alone (reading balances would work the sums out again).
#[tokio::test]
async fn reserves_count_grants_that_start_and_expire_between_them() {
    let (app, clock) = spawn_app_stepped().await;
    app.put_plan(credit_plan()).await;
    app.subscribe("s", "plan_credits", None).await;
    let soon = at(Duration::from_millis(1500));
    grant(
        &app,
        "s",
        json!({ "balance": "credits", "amount": 10, "expiresAt": soon }),
    )
    .await;
    grant(&app, "s", json!({ "balance": "credits", "amount": 100 })).await;
    grant(
        &app,
        "s",
        json!({ "balance": "credits", "amount": 50, "effectiveAt": soon }),
    )
    .await;
    let render = json!({ "userId": "s", "event": "image.render", "ttlSeconds": 60 });
    // 4 credits each, held on the grant that expires first; the scheduled one does not count yet.
    let first = app.reserve(render.clone()).await;
    assert_eq!(TestApp::counter(&first, "credits")["remaining"], 106, "{first}");
    let second = app.reserve(render.clone()).await;
    let counter = TestApp::counter(&second, "credits");
    assert_eq!(
        (counter["remaining"].clone(), counter["reserved"].clone()),
        (json!(102), json!(8))
    );
    clock.step(1800);
    // The 2 left on the expired grant are gone, the 50 count; the 8 it holds stay held.
    let third = app.reserve(render.clone()).await;
    let counter = TestApp::counter(&third, "credits");
    assert_eq!(
        (counter["remaining"].clone(), counter["reserved"].clone()),
        (json!(146), json!(12)),
        "{third}"
    );
    let b = balance(&app, "s").await;
    assert_eq!((b["available"].clone(), b["held"].clone()), (json!(146), json!(12)));
    assert_invariants(&b);
}

#[tokio::test]
async fn a_voided_grant_stops_counting_and_what_it_held_is_voided_when_given_back() {
    let app = spawn_app().await;
    app.put_plan(credit_plan()).await;
    app.subscribe("v", "plan_credits", None).await;
    let g = grant(&app, "v", json!({ "balance": "credits", "amount": 30 })).await;
    let held = app.reserve(render("v", "flux-pro")).await;
    let id = g["grantId"].as_str().unwrap();
    let (status, voided) = app
        .json(Method::POST, &format!("/v1/users/v/grants/{id}/void"), None)
        .await;
    assert_eq!(status, 200, "{voided}");
    assert_eq!(
        (voided["voided"].clone(), voided["held"].clone()),
        (json!(20), json!(10))
    );
    assert_eq!(app.reserve(render("v", "sdxl")).await["allowed"], false);
    app.release(held["reservationId"].as_str().unwrap()).await;
    let b = balance(&app, "v").await;
    assert_eq!(
        (b["grants"][0]["voided"].clone(), b["grants"][0]["status"].clone()),
        (json!(30), json!("voided"))
    );
    assert_invariants(&b);
    let (status, body) = app.json(Method::POST, "/v1/users/v/grants/g_nothing/void", None).await;
    assert_eq!((status.as_u16(), body["code"].clone()), (404, json!("grant_not_found")));
}

/// Credits given back to a voided grant after its void reach the ledger even when the next
/// grant moves the finished grant out of the wallet before any other call wrote them.
#[tokio::test]
async fn what_a_voided_grant_gets_back_reaches_the_ledger_before_it_leaves_the_wallet() {
    let app = spawn_app().await;
    app.put_plan(credit_plan()).await;
    app.subscribe("v", "plan_credits", None).await;
    let g = grant(&app, "v", json!({ "balance": "credits", "amount": 30 })).await;
    let id = g["grantId"].as_str().unwrap();
    let held = app.reserve(render("v", "flux-pro")).await;
    let (status, _) = app
        .json(Method::POST, &format!("/v1/users/v/grants/{id}/void"), None)
        .await;
    assert_eq!(status, 200);
    app.release(held["reservationId"].as_str().unwrap()).await;
    // A grant made next moves the finished one out of the wallet: what was given back to it
    // reaches the ledger all the same, so its voids add up to all it had.
    grant(&app, "v", json!({ "balance": "credits", "amount": 5 })).await;
    let entries = app.usage_events_all("userId=v").await;
    let voided: f64 = entries
        .iter()
        .filter(|e| e["kind"] == "grant_void")
        .flat_map(|e| e["credits"].as_array().unwrap().iter())
        .filter(|c| c["grantId"] == id)
        .map(|c| c["amount"].as_f64().unwrap())
        .sum();
    assert_eq!(voided, 30.0, "{entries:?}");
    let (_, summary) = app
        .json(Method::GET, "/v1/balances/summary?balance=credits&userId=v", None)
        .await;
    assert_eq!(summary["paid"]["outstanding"], 5, "{summary}");
}

#[tokio::test]
async fn bad_grants_and_balance_groups_are_refused_by_field() {
    let app = spawn_app().await;
    for (body, field) in [
        (json!({ "balance": "credits", "amount": 0 }), "amount"),
        (json!({ "balance": "cr edits", "amount": 1 }), "balance"),
        (
            json!({ "balance": "credits", "amount": 1, "priority": 101 }),
            "priority",
        ),
        (
            json!({ "balance": "credits", "amount": 1, "category": "free" }),
            "category",
        ),
        (
            json!({ "balance": "credits", "amount": 1, "expiresAt": "soon" }),
            "expiresAt",
        ),
        (
            json!({ "balance": "credits", "amount": 1, "effectiveAt": at(Duration::from_secs(60)), "expiresAt": at(Duration::from_secs(30)) }),
            "expiresAt",
        ),
        (
            json!({ "balance": "credits", "amount": 1, "expiresAt": "2020-01-01T00:00:00Z" }),
            "expiresAt",
        ),
    ] {
        let (status, answer) = app.json(Method::POST, "/v1/users/b/grants", Some(body)).await;
        assert_eq!(
            (status.as_u16(), answer["field"].clone()),
            (400, json!(field)),
            "{answer}"
        );
    }
    let (status, answer) = app
        .json(
            Method::PUT,
            "/v1/plans/plan_bad",
            Some(json!({ "periodType": "month", "groups": [
                { "id": "c", "balance": "credits", "quota": 5, "matches": [ { "event": "*" } ] },
                { "id": "d", "unit": "count", "quota": 5, "overdraft": 5, "matches": [ { "event": "*" } ] } ] })),
        )
        .await;
    assert_eq!(status, 400, "{answer}");
    let text = answer.to_string();
    assert!(
        text.contains("groups[0].quota") && text.contains("groups[1].overdraft"),
        "{text}"
    );
    // A balance-only plan needs no period: its groups count for all time.
    let (status, answer) = app
        .json(
            Method::PUT,
            "/v1/plans/plan_wallet_only",
            Some(json!({ "groups": [ { "id": "c", "balance": "credits", "matches": [ { "event": "*" } ] } ] })),
        )
        .await;
    assert_eq!(status, 200, "{answer}");
    let (status, answer) = app.json(Method::GET, "/v1/users/b/grants?balance=bad!", None).await;
    assert_eq!(
        (status.as_u16(), answer["field"].clone()),
        (400, json!("balance")),
        "{answer}"
    );
    // A grant's source holds no control character; its metadata follows an event's rules.
    let long = "x".repeat(257);
    for (body, field) in [
        (
            json!({ "balance": "credits", "amount": 1, "source": "a\u{0}b" }),
            "source",
        ),
        (
            json!({ "balance": "credits", "amount": 1, "source": "\u{1b}[31m" }),
            "source",
        ),
        (
            json!({ "balance": "credits", "amount": 1, "metadata": { "order": { "id": 1 } } }),
            "metadata.order",
        ),
        (
            json!({ "balance": "credits", "amount": 1, "metadata": { "note": long } }),
            "metadata.note",
        ),
        (
            json!({ "balance": "credits", "amount": 1,
                "metadata": (0..33).map(|i| (format!("k{i}"), json!(i))).collect::<serde_json::Map<_, _>>() }),
            "metadata",
        ),
    ] {
        let (status, answer) = app.json(Method::POST, "/v1/users/b/grants", Some(body)).await;
        assert_eq!(
            (status.as_u16(), answer["field"].clone()),
            (400, json!(field)),
            "{answer}"
        );
    }
}

/// A grant's ledger entry names the key that made it, as a commit's does.
#[tokio::test]
async fn a_grant_entry_names_its_key() {
    let app = spawn_app().await;
    grant(&app, "gk", json!({ "balance": "credits", "amount": 10 })).await;
    let entries = app.usage_events_all("userId=gk").await;
    let made = entries.iter().find(|e| e["kind"] == "grant").unwrap();
    assert!(made["keyId"].as_str().is_some_and(|k| k.starts_with("key_")), "{made}");
}

/// "30 credits a month, then packs": the allowance burns before any grant, ends with the
/// period, and up to 15 of what is left carries into the next period only.
#[tokio::test]
async fn an_allowance_burns_first_and_rolls_over_across_a_subscription_month() {
    let (app, clock) = spawn_app_stepped().await;
    let mut plan = credit_plan();
    plan["groups"][0]["allowance"] = json!({ "amount": 30, "rollover": { "max": 15 } });
    plan["groups"][0]["period"] = json!({ "type": "month", "anchor": "subscription_start" });
    app.put_plan(plan).await;
    // Subscribed a month ago less 3 s: the month turns 3 s from now.
    let started = chrono::Utc::now() - chrono::Months::new(1) + chrono::Duration::seconds(3);
    let started = started.to_rfc3339_opts(SecondsFormat::Millis, true);
    app.subscribe("al", "plan_credits", Some(&started)).await;
    let pack = grant(&app, "al", json!({ "balance": "credits", "amount": 100 })).await;

    let held = app.reserve(render("al", "flux-pro")).await;
    assert_eq!(TestApp::counter(&held, "credits")["remaining"], 120, "{held}");
    app.commit(held["reservationId"].as_str().unwrap(), None).await;
    let b = balance(&app, "al").await;
    assert_eq!(b["available"], 120, "{b}");
    assert_eq!(
        b["grants"][0]["remaining"], 100,
        "the pack is untouched while the allowance lasts"
    );

    clock.step(3300);
    // The new month: 30 of its own and 15 of the 20 left.
    let held = app.reserve(render("al", "sdxl")).await;
    assert_eq!(TestApp::counter(&held, "credits")["remaining"], 141, "{held}");
    app.release(held["reservationId"].as_str().unwrap()).await;
    for _ in 0..5 {
        let held = app.reserve(render("al", "flux-pro")).await;
        app.commit(held["reservationId"].as_str().unwrap(), None).await;
    }
    // 50 burned: the month's 45, then 5 of the pack.
    let b = balance(&app, "al").await;
    assert_eq!(b["available"], 95, "{b}");
    assert_eq!(
        (b["grants"][0]["grantId"].clone(), b["grants"][0]["consumed"].clone()),
        (pack["grantId"].clone(), json!(5))
    );
    assert_invariants(&b);
}

/// Every credit movement is an entry: grants, what commits and tracks burned from which grant,
/// debt left and paid, voids and breakage; the summary adds them up, paid and promotional
/// apart, with revenue at each grant's cost basis; the CSV carries the same.
#[tokio::test]
async fn the_ledger_records_every_credit_and_the_summary_adds_them_up() {
    let app = spawn_app().await;
    app.put_plan(credit_plan()).await;
    app.subscribe("led", "plan_credits", None).await;
    // 50 promotional credits burn first (same priority, promotional before paid); 100 paid at
    // 1.5 cents each.
    let promo = grant(
        &app,
        "led",
        json!({ "balance": "credits", "amount": 50, "category": "promotional" }),
    )
    .await;
    let paid = grant(
        &app,
        "led",
        json!({ "balance": "credits", "amount": 100, "costBasis": 1.5 }),
    )
    .await;
    for _ in 0..7 {
        let held = app.reserve(render("led", "flux-pro")).await;
        app.commit(held["reservationId"].as_str().unwrap(), None).await;
    }
    // 70 burned: 50 promotional, 20 paid. A track of 10 renders (100 credits) leaves 20 debt.
    let (status, _) = app
        .json(
            Method::POST,
            "/v1/track",
            Some(json!({ "userId": "led", "event": "image.render", "quantity": 10,
            "metadata": { "model": "flux-pro" } })),
        )
        .await;
    assert_eq!(status, 200);
    let top_up = grant(
        &app,
        "led",
        json!({ "balance": "credits", "amount": 40, "costBasis": 1 }),
    )
    .await;
    assert_eq!(top_up["debtPaid"], 20);
    let id = top_up["grantId"].as_str().unwrap();
    let (status, _) = app
        .json(Method::POST, &format!("/v1/users/led/grants/{id}/void"), None)
        .await;
    assert_eq!(status, 200);

    let entries = app.usage_events_all("userId=led").await;
    let kinds: Vec<&str> = entries.iter().map(|e| e["kind"].as_str().unwrap()).collect();
    for kind in ["grant", "commit", "track", "debt_settled", "grant_void"] {
        assert!(kinds.contains(&kind), "{kind} in {kinds:?}");
    }
    let track = entries.iter().find(|e| e["kind"] == "track").unwrap();
    let moves = track["credits"].as_array().unwrap();
    assert_eq!(moves.last().unwrap()["grantId"], Value::Null, "the debt: {track}");
    assert_eq!(moves.last().unwrap()["amount"], 20);
    let grant_entry = entries
        .iter()
        .find(|e| e["id"] == format!("grant:{}", promo["grantId"].as_str().unwrap()))
        .unwrap();
    assert_eq!(grant_entry["credits"][0]["category"], "promotional");

    let (status, summary) = app
        .json(Method::GET, "/v1/balances/summary?balance=credits&userId=led", None)
        .await;
    assert_eq!(status, 200, "{summary}");
    assert_eq!(summary["promotional"]["granted"], 50);
    assert_eq!(summary["promotional"]["burned"], 50);
    assert_eq!(summary["paid"]["granted"], 140);
    // 20 by commits, 80 by the track, 20 of debt paid by the top-up.
    assert_eq!(summary["paid"]["burned"], 120, "{summary}");
    assert_eq!(summary["paid"]["voided"], 20);
    assert_eq!(summary["paid"]["outstanding"], 0);
    // 100 credits at 1.5 cents and 20 at 1 cent.
    assert_eq!(summary["paid"]["revenueCents"], 170);
    assert_eq!(
        (summary["debtAdded"].clone(), summary["debtSettled"].clone()),
        (json!(20), json!(20))
    );
    let _ = paid;

    let csv = app.usage_events_csv("userId=led").await;
    assert!(
        csv.lines()
            .next()
            .unwrap()
            .ends_with(",balance,grantId,credits,category,costBasis,value,runId,actionId,stepKind,deniedBy,heldSince,reserved,heldUntil,changesUsage,priceSource,outcome,previousOutcome,fallbackOf,attempt"),
        "{csv}"
    );
    assert!(
        csv.lines().any(|l| l.starts_with("grant:")
            && l.contains(",credits,")
            && l.ends_with(",promotional,,,,,,,,,,false,,,,,")),
        "{csv}"
    );
}

/// A team's credits: its plan's balance group is decided at the team's level, so its members
/// burn the team's grants through the levels of a shared budget, never below zero together.
#[tokio::test]
async fn two_members_burning_a_teams_balance_in_parallel_never_take_it_below_zero() {
    let (one, two) = two_nodes_with("team_c", credit_plan()).await;
    one.put_plan(json!({ "id": "plan_seat", "periodType": "month", "groups": [
        { "id": "seat_renders", "unit": "count", "quota": 1000, "matches": [ { "event": "image.render" } ] } ] }))
        .await;
    for member in ["m1", "m2"] {
        let (status, answer) = one
            .json(
                Method::PUT,
                &format!("/v1/users/{member}/subscription"),
                Some(json!({ "planId": "plan_seat", "parentId": "team_c" })),
            )
            .await;
        assert_eq!(status, 200, "{answer}");
    }
    grant(&one, "team_c", json!({ "balance": "credits", "amount": 95 })).await;
    let calls = (0..60).map(|i| {
        let app = if i % 2 == 0 {
            one.clone_for_node()
        } else {
            two.clone_for_node()
        };
        let member = if i % 3 == 0 { "m1" } else { "m2" };
        async move {
            let held = app.reserve(render(member, "flux-pro")).await;
            if held["allowed"] == true {
                let (status, _) = app.commit(held["reservationId"].as_str().unwrap(), None).await;
                assert_eq!(status, 200);
            }
            held
        }
    });
    let answers = join_all(calls).await;
    assert_eq!(answers.iter().filter(|a| a["allowed"] == true).count(), 9);
    let denied = answers.iter().find(|a| a["allowed"] == false).unwrap();
    assert_eq!(denied["denials"][0]["subjectId"], "team_c", "{denied}");
    assert_eq!(denied["denials"][0]["reason"], "insufficient_balance");
    let b = balance(&one, "team_c").await;
    assert_eq!(
        (
            b["available"].clone(),
            b["debt"].clone(),
            b["grants"][0]["consumed"].clone()
        ),
        (json!(5), json!(0), json!(90))
    );
    assert_invariants(&b);
}

/// A balance group reads the same in usage as in a reserve's answer, holds of expired
/// reservations left out; a balance is no window, so it has no rate-limit item and a denial by
/// it alone no Retry-After.
#[tokio::test]
async fn usage_shows_the_balance_and_a_balance_denial_names_no_reset() {
    let (app, clock) = spawn_app_stepped().await;
    app.put_plan(credit_plan()).await;
    app.subscribe("us", "plan_credits", None).await;
    grant(&app, "us", json!({ "balance": "credits", "amount": 15 })).await;
    let held = app
        .reserve(json!({ "userId": "us", "event": "image.render", "metadata": { "model": "sdxl" }, "ttlSeconds": 1 }))
        .await;
    assert_eq!(held["allowed"], true);
    let usage = app.usage("us").await;
    let counter = TestApp::counter(&usage, "credits");
    assert_eq!(
        (
            counter["balance"].clone(),
            counter["remaining"].clone(),
            counter["reserved"].clone()
        ),
        (json!("credits"), json!(11), json!(4)),
        "{usage}"
    );
    assert_eq!(counter["exceeded"], false);
    clock.step(1200);
    // Expired, not yet reclaimed by any writing call: usage reads it as given back.
    let usage = app.usage("us").await;
    let counter = TestApp::counter(&usage, "credits");
    assert_eq!(
        (counter["remaining"].clone(), counter["reserved"].clone()),
        (json!(15), json!(0)),
        "{usage}"
    );

    let res = app
        .call(
            Method::POST,
            "/v1/reserve",
            Some(json!({ "userId": "us", "event": "image.render", "quantity": 2,
            "metadata": { "model": "flux-pro" } })),
        )
        .await;
    assert_eq!(res.status(), 200);
    assert!(res.headers().get("retry-after").is_none(), "{:?}", res.headers());
    let limits = res.headers()["ratelimit"].to_str().unwrap().to_string();
    assert!(
        limits.contains("\"per_minute\"") && !limits.contains("\"credits\""),
        "{limits}"
    );
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["reasons"], json!(["insufficient_balance"]));
}

/// At most 100 live grants per user and balance: the 101st is 409 naming the limit; a grant
/// that finished makes room again.
#[tokio::test]
async fn a_balance_takes_at_most_100_live_grants() {
    let app = spawn_app().await;
    let mut first = Value::Null;
    for i in 0..100 {
        let g = grant(&app, "many", json!({ "balance": "credits", "amount": 1 })).await;
        if i == 0 {
            first = g;
        }
    }
    let (status, answer) = app
        .json(
            Method::POST,
            "/v1/users/many/grants",
            Some(json!({ "balance": "credits", "amount": 1 })),
        )
        .await;
    assert_eq!(
        (status.as_u16(), answer["code"].clone()),
        (409, json!("grant_limit")),
        "{answer}"
    );
    // Another balance has its own limit.
    grant(&app, "many", json!({ "balance": "other", "amount": 1 })).await;
    let id = first["grantId"].as_str().unwrap();
    let (status, _) = app
        .json(Method::POST, &format!("/v1/users/many/grants/{id}/void"), None)
        .await;
    assert_eq!(status, 200);
    grant(&app, "many", json!({ "balance": "credits", "amount": 1 })).await;
}

/// A payment's webhook delivered ten times at once, to two nodes, grants once: the script that
/// grants keeps the key's answer in the same step.
#[tokio::test]
async fn ten_concurrent_grants_with_one_key_grant_once() {
    let (one, two) = two_nodes_with("pay", credit_plan()).await;
    let calls = (0..10).map(|i| {
        let app = if i % 2 == 0 {
            one.clone_for_node()
        } else {
            two.clone_for_node()
        };
        async move {
            let res = app
                .client
                .post(format!("{}/v1/users/pay/grants", app.address))
                .bearer_auth(&app.key)
                .header("Idempotency-Key", "cs_test_concurrent")
                .json(&json!({ "balance": "credits", "amount": 100, "source": "purchase" }))
                .send()
                .await
                .unwrap();
            assert_eq!(res.status(), 201);
            res.json::<Value>().await.unwrap()["grantId"].clone()
        }
    });
    let ids = join_all(calls).await;
    assert!(ids.iter().all(|id| *id == ids[0]), "{ids:?}");
    let b = balance(&one, "pay").await;
    assert_eq!(
        (b["available"].clone(), b["grants"].as_array().unwrap().len()),
        (json!(100), 1),
        "{b}"
    );
}

/// A payment's webhook delivered again after the retention window (a day by default; Stripe
/// retries for three) still grants once: a grant's Idempotency-Key is kept as long as the
/// ledger.
#[tokio::test]
async fn a_grant_key_repeated_after_the_retention_window_grants_once() {
    let prefix = crate::support::unique_prefix();
    let clock = crate::support::redis::Stepped::start();
    let app = crate::support::spawn_app_with(&clock.target(), &prefix, None, |c| c.retention_seconds = 1).await;
    let pay = || {
        app.client
            .post(format!("{}/v1/users/late/grants", app.address))
            .bearer_auth(&app.key)
            .header("Idempotency-Key", "pi_3Nlate")
            .json(&json!({ "balance": "credits", "amount": 100, "source": "purchase" }))
            .send()
    };
    let first: Value = pay().await.unwrap().json().await.unwrap();
    clock.step(1_500);
    // Writes past the retention window prune what it covers, but not the grant's key.
    app.put_plan(credit_plan()).await;
    app.subscribe("late", "plan_credits", None).await;
    for _ in 0..3 {
        let (status, answer) = app
            .json(
                Method::POST,
                "/v1/track",
                Some(json!({ "userId": "late", "event": "chat" })),
            )
            .await;
        assert_eq!(status, 200, "{answer}");
    }
    let again = pay().await.unwrap();
    assert_eq!(again.status(), 201);
    let again: Value = again.json().await.unwrap();
    assert!(first["grantId"].is_string(), "{first}");
    assert_eq!(again["grantId"], first["grantId"], "{again}");
    let (_, listed) = app
        .json(Method::GET, "/v1/users/late/grants?balance=credits", None)
        .await;
    assert_eq!(listed["data"].as_array().unwrap().len(), 1, "{listed}");
}

/// The allowance follows the plan the user is on: what the period burned carries, the rest is
/// the new plan's amount less it (free with 100 of which 50 burned, upgraded to 1,000: 950).
#[tokio::test]
async fn an_allowance_follows_a_plan_change_within_its_period() {
    let app = spawn_app().await;
    let plan = |id: &str, amount: u32| {
        json!({ "id": id, "periodType": "month", "groups": [
            { "id": "credits", "balance": "credits", "allowance": { "amount": amount },
              "matches": [ { "event": "chat" } ] } ] })
    };
    app.put_plan(plan("plan_free_credits", 100)).await;
    app.put_plan(plan("plan_pro_credits", 1_000)).await;
    app.subscribe("up", "plan_free_credits", None).await;
    let chat = |quantity: u32| json!({ "userId": "up", "event": "chat", "quantity": quantity });
    let (status, _) = app.json(Method::POST, "/v1/track", Some(chat(50))).await;
    assert_eq!(status, 200);
    // A reserve on the quick path before the change, so the quick line knows the old amount.
    let small = app.reserve(chat(1)).await;
    app.release(small["reservationId"].as_str().unwrap()).await;

    app.subscribe("up", "plan_pro_credits", None).await;
    let big = app.reserve(chat(900)).await;
    assert_eq!(big["allowed"], true, "{big}");
    app.release(big["reservationId"].as_str().unwrap()).await;
    assert_eq!(balance(&app, "up").await["available"], 950);

    app.subscribe("up", "plan_free_credits", None).await;
    assert_eq!(app.reserve(chat(51)).await["allowed"], false);
    assert_eq!(balance(&app, "up").await["available"], 50);
    let b = balance(&app, "up").await;
    assert_invariants(&b);
}

/// A plan-change rule reaches a balance group's allowance: moving to a plan whose group says
/// `block` leaves nothing of this period's allowance (free → pro → free gives no fresh free
/// credits), `reset` gives its whole amount again.
#[tokio::test]
async fn block_and_reset_reach_an_allowance_on_a_plan_change() {
    let app = spawn_app().await;
    let plan = |id: &str, amount: u32, rule: &str| {
        json!({ "id": id, "periodType": "month", "groups": [
            { "id": "credits", "balance": "credits", "allowance": { "amount": amount }, "onPlanChange": rule,
              "matches": [ { "event": "chat" } ] } ] })
    };
    app.put_plan(plan("plan_pro_carry", 1_000, "carry")).await;
    app.put_plan(plan("plan_free_block", 100, "block")).await;
    app.put_plan(plan("plan_free_reset", 100, "reset")).await;
    app.subscribe("bl", "plan_pro_carry", None).await;
    let chat = |quantity: u32| json!({ "userId": "bl", "event": "chat", "quantity": quantity });
    let held = app.reserve(chat(10)).await;
    app.commit(held["reservationId"].as_str().unwrap(), None).await;

    app.subscribe("bl", "plan_free_block", None).await;
    let denied = app.reserve(chat(1)).await;
    assert_eq!(denied["reasons"], json!(["insufficient_balance"]), "{denied}");
    assert_eq!(balance(&app, "bl").await["available"], 0);

    app.subscribe("bl", "plan_free_reset", None).await;
    assert_eq!(balance(&app, "bl").await["available"], 100);
    let admitted = app.reserve(chat(100)).await;
    assert_eq!(admitted["allowed"], true, "{admitted}");
    assert_invariants(&balance(&app, "bl").await);
}
