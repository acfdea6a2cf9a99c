//! The README's ownership-scope recipes, from their files in `examples/`: parents for API keys,
//! teams, workflows and customers; metadata matches for model families.

use std::path::Path;

use quota_gateway::apply::apply;
use reqwest::Method;
use serde_json::{json, Value};

use crate::support::{spawn_app, TestApp};

async fn recipe(app: &TestApp, file: &str) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples").join(file);
    apply(&app.address, &app.key, &path).await.unwrap();
}

async fn under(app: &TestApp, user: &str, plan: &str, parent: Option<&str>) {
    let body = json!({ "planId": plan, "parentId": parent });
    let (status, answer) = app
        .json(Method::PUT, &format!("/v1/users/{user}/subscription"), Some(body))
        .await;
    assert_eq!(status, 200, "{answer}");
}

fn denials(answer: &Value) -> &Value {
    &answer["denials"]
}

#[tokio::test]
async fn a_customer_organisation_its_teams_and_their_members() {
    let app = spawn_app().await;
    recipe(&app, "customer.json").await;
    under(&app, "acme", "plan_org", None).await;
    under(&app, "acme_search", "plan_org_team", Some("acme")).await;
    under(&app, "ada", "plan_org_member", Some("acme_search")).await;
    under(&app, "bea", "plan_org_member", Some("acme_search")).await;
    // A member's own cap first: 200k.
    let big = app
        .reserve(json!({ "userId": "ada", "event": "llm.chat", "quantity": 250000 }))
        .await;
    assert_eq!(
        denials(&big),
        &json!([{ "subjectId": "ada", "groupId": "member_tokens", "reason": "limit_reached" }])
    );
    // The team's 2M fills from its members' tracked usage; then the team denies everyone.
    let tracked = app
        .json(
            Method::POST,
            "/v1/track",
            Some(json!({ "userId": "bea", "event": "llm.chat", "quantity": 1999990 })),
        )
        .await;
    assert_eq!(tracked.0, 200);
    assert_eq!(
        tracked.1["overQuota"],
        json!(["member_tokens"]),
        "the member passed its own cap; track never denies"
    );
    let denied = app
        .reserve(json!({ "userId": "ada", "event": "llm.chat", "quantity": 20 }))
        .await;
    assert_eq!(
        denials(&denied),
        &json!([{ "subjectId": "acme_search", "groupId": "team_tokens", "reason": "limit_reached" }])
    );
    let org = app.usage("acme").await;
    assert_eq!(TestApp::counter(&org, "org_tokens")["used"], 1999990);
}

#[tokio::test]
async fn each_api_key_of_a_customer_has_its_own_cap_and_in_flight_limit_under_the_account() {
    let app = spawn_app().await;
    recipe(&app, "api-keys.json").await;
    under(&app, "cust_9", "plan_customer_account", None).await;
    for key in ["key_a", "key_b"] {
        under(&app, key, "plan_api_key", Some("cust_9")).await;
    }
    let mut held = Vec::new();
    for _ in 0..4 {
        let answer = app
            .reserve(json!({ "userId": "key_a", "event": "llm.call", "metadata": { "cost_cents": 100 } }))
            .await;
        assert_eq!(answer["allowed"], true);
        held.push(answer["reservationId"].as_str().unwrap().to_string());
    }
    let fifth = app
        .reserve(json!({ "userId": "key_a", "event": "llm.call", "metadata": { "cost_cents": 1 } }))
        .await;
    assert_eq!(
        denials(&fifth),
        &json!([{ "subjectId": "key_a", "groupId": "key_in_flight", "reason": "limit_reached" }])
    );
    // Another key of the customer is not held back by key_a's calls in flight.
    let other = app
        .reserve(json!({ "userId": "key_b", "event": "llm.call", "metadata": { "cost_cents": 1 } }))
        .await;
    assert_eq!(other["allowed"], true, "{other}");
    for id in &held {
        let actual = json!({ "metadata": { "cost_cents": 40 } });
        assert_eq!(app.commit(id, Some(actual)).await.0, 200);
    }
    let account = app.usage("cust_9").await;
    assert_eq!(TestApp::counter(&account, "account_cents")["used"], 160);
    assert_eq!(TestApp::counter(&account, "account_cents")["reserved"], 1);
}

#[tokio::test]
async fn model_families_are_metadata_matches_within_one_subject() {
    let app = spawn_app().await;
    recipe(&app, "model-families.json").await;
    app.subscribe("mo", "plan_model_families", None).await;
    let call = |family: &str, tokens: u64| {
        json!({ "userId": "mo", "event": "llm.call",
                "metadata": { "family": family, "prompt_tokens": tokens, "completion_tokens": 0 } })
    };
    assert_eq!(app.reserve(call("gpt-5", 150000)).await["allowed"], true);
    let frontier = app.reserve(call("claude-opus", 60000)).await;
    assert_eq!(frontier["deniedBy"], json!(["frontier_tokens"]));
    assert_eq!(app.reserve(call("small-open-model", 60000)).await["allowed"], true);
}
