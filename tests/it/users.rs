//! The users index: pages by id with a cursor, filters, and stability under concurrent changes.

use reqwest::Method;
use serde_json::{json, Value};

use crate::support::{spawn_app, TestApp};

async fn page(app: &TestApp, query: &str) -> Value {
    let (status, body) = app.json(Method::GET, &format!("/v1/users?{query}"), None).await;
    assert_eq!(status, 200, "{body}");
    body
}

fn ids(page: &Value) -> Vec<String> {
    page["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["userId"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn users_are_listed_by_id_a_page_at_a_time_with_filters() {
    let app = spawn_app().await;
    for plan in ["plan_a", "plan_b"] {
        app.put_plan(json!({ "id": plan, "periodType": "month", "groups": [
            { "id": "g", "unit": "count", "quota": 1, "matches": [ { "event": "*" } ] } ] }))
            .await;
    }
    for i in 0..7 {
        app.subscribe(&format!("user{i}"), if i % 2 == 0 { "plan_a" } else { "plan_b" }, None)
            .await;
    }
    app.json(
        Method::POST,
        "/v1/users/user3/block",
        Some(json!({ "reason": "abuse" })),
    )
    .await;

    let first = page(&app, "limit=3").await;
    assert_eq!(ids(&first), ["user0", "user1", "user2"]);
    let cursor = first["nextCursor"].as_str().unwrap().to_string();
    // A user added before the cursor does not shift the next page.
    app.subscribe("user00", "plan_a", None).await;
    let second = page(&app, &format!("limit=3&cursor={cursor}")).await;
    assert_eq!(ids(&second), ["user3", "user4", "user5"]);
    let third = page(
        &app,
        &format!("limit=3&cursor={}", second["nextCursor"].as_str().unwrap()),
    )
    .await;
    assert_eq!(ids(&third), ["user6"]);
    assert_eq!(third["nextCursor"], Value::Null);

    assert_eq!(ids(&page(&app, "planId=plan_b").await), ["user1", "user3", "user5"]);
    let blocked = page(&app, "status=blocked").await;
    assert_eq!(ids(&blocked), ["user3"]);
    assert_eq!(blocked["data"][0]["planId"], "plan_b");
    let (status, body) = app.json(Method::GET, "/v1/users?status=sleeping", None).await;
    assert_eq!((status.as_u16(), body["field"].clone()), (400, json!("status")));
    let (status, _) = app.json(Method::GET, "/v1/users?cursor=!!", None).await;
    assert_eq!(status, 400);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn parallel_plan_changes_leave_the_index_counting_each_user_once() {
    let app = spawn_app().await;
    for plan in ["plan_a", "plan_b"] {
        app.put_plan(json!({ "id": plan, "periodType": "month", "groups": [
            { "id": "g", "unit": "count", "quota": 1, "matches": [ { "event": "*" } ] } ] }))
            .await;
    }
    let moves = (0..20).map(|i| {
        let plan = if i % 2 == 0 { "plan_a" } else { "plan_b" };
        app.json(
            Method::PUT,
            "/v1/users/mover/subscription",
            Some(json!({ "planId": plan })),
        )
    });
    for (status, body) in futures::future::join_all(moves).await {
        assert_eq!(status, 200, "{body}");
    }
    // Whatever order the index updates ran in, it ends at the user's plan, counted once.
    let final_plan = app.json(Method::GET, "/v1/users/mover/subscription", None).await.1["planId"].clone();
    let listed = page(&app, "").await;
    assert_eq!(listed["data"].as_array().unwrap().len(), 1);
    assert_eq!(listed["data"][0]["planId"], final_plan);
    let other = if final_plan == "plan_a" { "plan_b" } else { "plan_a" };
    let (status, _) = app.json(Method::DELETE, &format!("/v1/plans/{other}"), None).await;
    assert_eq!(status, 204, "no user is counted on the other plan");
    let (status, _) = app
        .json(
            Method::DELETE,
            &format!("/v1/plans/{}", final_plan.as_str().unwrap()),
            None,
        )
        .await;
    assert_eq!(status, 409, "the user is counted on their plan");
}
