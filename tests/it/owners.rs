//! Owners and scope: a plan and a group name who answers for a budget (`owner`) and how often
//! they review it (`reviewEvery`, the group's winning); every threshold alert, limit reached
//! and approval request carries them with its scope (subject, plan, group, period), on the
//! webhook, in the approvals queue and on the dashboard; `GET /v1/plans?owner=` lists an
//! owner's budgets.

use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::dashboard::Dashboard;
use crate::support::receiver::Receiver;
use crate::support::{spawn_app, unique_prefix};
use crate::webhooks::{endpoint, node};

/// Renders owned by the plan's owner, launches by their own group owner behind an approval.
fn owned_plan() -> Value {
    json!({ "id": "plan_owned", "periodType": "month", "owner": "growth-team", "reviewEvery": "month",
        "alerts": [50, 100], "groups": [
        { "id": "renders", "unit": "count", "quota": 2, "matches": [ { "event": "render" } ] },
        { "id": "launches", "unit": "count", "quota": 1, "mode": "approval",
          "owner": "Dana (marketing)", "reviewEvery": "week",
          "matches": [ { "event": "campaign.launch" } ] } ] })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn alerts_and_approval_requests_carry_the_groups_owner_and_scope() {
    let app = node(&unique_prefix(), None, false).await;
    let receiver = Receiver::start().await;
    endpoint(&app, &receiver.url).await;
    app.put_plan(owned_plan()).await;
    app.subscribe("ann", "plan_owned", None).await;
    tokio::time::sleep(quota_gateway::gateway::EPOCH_POLL * 3).await;

    for _ in 0..2 {
        let (status, tracked) = app
            .json(
                Method::POST,
                "/v1/track",
                Some(json!({ "userId": "ann", "event": "render" })),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{tracked}");
    }
    let launch = json!({ "userId": "ann", "event": "campaign.launch" });
    assert_eq!(app.reserve(launch.clone()).await["allowed"], true);
    let denied = app.reserve(launch).await;
    assert_eq!(denied["reasons"], json!(["approval_pending"]), "{denied}");

    // 50 % and 100 % of renders, then the launches' request (and their limit reached).
    let received = receiver.wait_for(4, Duration::from_secs(20)).await;
    let events: Vec<Value> = received
        .iter()
        .map(|r| serde_json::from_str(&r.body).unwrap())
        .collect();
    let of = |kind: &str, group: &str| {
        events
            .iter()
            .find(|e| e["type"] == kind && e["data"]["groupId"] == group)
            .unwrap_or_else(|| panic!("no {kind} of {group} in {events:?}"))["data"]
            .clone()
    };
    let crossed = of("quota.threshold_crossed", "renders");
    assert_eq!(crossed["owner"], "growth-team", "{crossed}");
    assert_eq!(crossed["reviewEvery"], "month");
    let scope = &crossed["scope"];
    assert_eq!(
        (
            scope["subject"].clone(),
            scope["planId"].clone(),
            scope["groupId"].clone()
        ),
        (json!("ann"), json!("plan_owned"), json!("renders"))
    );
    assert_eq!(scope["periodStart"], crossed["periodStart"]);
    assert_eq!(scope["resetsAt"], crossed["resetsAt"]);
    assert!(scope["resetsAt"].as_str().is_some(), "{scope}");

    let requested = of("quota.approval_requested", "launches");
    assert_eq!(
        requested["owner"], "Dana (marketing)",
        "the group's owner wins: {requested}"
    );
    assert_eq!(requested["reviewEvery"], "week");
    assert_eq!(requested["scope"]["subject"], "ann");
    assert_eq!(requested["scope"]["groupId"], "launches");
    assert!(requested["scope"]["periodStart"].as_str().is_some(), "{requested}");

    // The queue names whom to ask, and so does the dashboard's.
    let (status, queue) = app.json(Method::GET, "/v1/approvals?status=pending", None).await;
    assert_eq!(status, StatusCode::OK, "{queue}");
    let request = &queue["data"][0];
    assert_eq!(
        (
            request["owner"].clone(),
            request["reviewEvery"].clone(),
            request["planId"].clone()
        ),
        (json!("Dana (marketing)"), json!("week"), json!("plan_owned"))
    );
    let dashboard = Dashboard::sign_in(&app).await;
    let (status, page) = dashboard.get("/dashboard/approvals").await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        page.contains("Dana (marketing)") && page.contains("reviewed every week"),
        "{page}"
    );
    let (_, plans) = dashboard.get("/dashboard/plans").await;
    assert!(
        plans.contains("growth-team") && plans.contains("reviewed every month"),
        "{plans}"
    );
}

#[tokio::test]
async fn plans_list_by_owner_and_bad_owners_are_refused_naming_the_field() {
    let app = spawn_app().await;
    app.put_plan(owned_plan()).await;
    app.put_plan(json!({ "id": "plan_free", "periodType": "month", "groups": [
        { "id": "renders", "unit": "count", "quota": 2, "matches": [ { "event": "render" } ] } ] }))
        .await;
    let listed = |query: &'static str| {
        let app = &app;
        async move {
            let (status, page) = app.json(Method::GET, &format!("/v1/plans{query}"), None).await;
            assert_eq!(status, StatusCode::OK, "{page}");
            let mut ids: Vec<String> = page["data"]
                .as_array()
                .unwrap()
                .iter()
                .map(|p| p["id"].as_str().unwrap().to_string())
                .collect();
            ids.sort();
            ids
        }
    };
    assert_eq!(listed("").await, ["plan_free", "plan_owned"]);
    // The plan's owner, and a group's owner, find it; nobody else does.
    assert_eq!(listed("?owner=growth-team").await, ["plan_owned"]);
    assert_eq!(listed("?owner=Dana%20(marketing)").await, ["plan_owned"]);
    assert!(listed("?owner=nobody").await.is_empty());
    let (status, plan) = app.json(Method::GET, "/v1/plans/plan_owned", None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        (plan["owner"].clone(), plan["groups"][1]["reviewEvery"].clone()),
        (json!("growth-team"), json!("week"))
    );

    let (status, problem) = app.json(Method::GET, "/v1/plans?owner=", None).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{problem}");
    assert!(problem.to_string().contains("owner"), "{problem}");
    let mut bad = owned_plan();
    bad["owner"] = json!("x".repeat(129));
    bad["groups"][0]["reviewEvery"] = json!("fortnight");
    let (status, problem) = app.json(Method::PUT, "/v1/plans/plan_owned", Some(bad)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{problem}");
    let text = problem.to_string();
    assert!(
        text.contains("\"owner\"") && text.contains("groups[0].reviewEvery"),
        "{text}"
    );
}
