//! One tenant's slow receiver does not hold up another tenant's webhooks: the delivery worker
//! starts each project's attempts without waiting for another project's to end.

use std::time::Duration;

use reqwest::Method;
use serde_json::json;

use crate::support::receiver::Receiver;
use crate::support::{redis, spawn_app_with, unique_prefix, TestApp};

/// A project of its own beside `app`'s, answered with a secret key of it.
async fn second_project(app: &TestApp, id: &str) -> TestApp {
    let root = app.root_token.clone();
    let (status, _) = app
        .json_as(&root, Method::POST, "/v1/projects", Some(json!({ "id": id })))
        .await;
    assert_eq!(status, 201);
    let (status, key) = app
        .json_as(
            &root,
            Method::POST,
            &format!("/v1/projects/{id}/keys"),
            Some(json!({ "kind": "secret", "label": "other tenant" })),
        )
        .await;
    assert_eq!(status, 201, "{key}");
    let mut other = app.clone_for_node();
    other.key = key["key"].as_str().unwrap().to_string();
    other
}

async fn test_event(app: &TestApp, receiver: &Receiver) {
    let (status, hook) = app
        .json(Method::POST, "/v1/webhooks", Some(json!({ "url": receiver.url })))
        .await;
    assert_eq!(status, 201, "{hook}");
    let id = hook["id"].as_str().unwrap();
    let (status, _) = app.json(Method::POST, &format!("/v1/webhooks/{id}/test"), None).await;
    assert_eq!(status, 202);
}

/// The fast tenant's delivery arrives while the slow tenant's attempt is still waiting on its
/// stalled receiver: no ordering of the two depends on the other's answer. (The delivery
/// timeout is long, so an attempt that waited for the stalled one would come only after it.)
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_stalled_receiver_of_one_project_does_not_hold_up_another_projects_delivery() {
    let app = spawn_app_with(&redis::shared().target(), &unique_prefix(), None, |c| {
        c.webhook_allow_http = true;
        c.webhook_allow_private = true;
        c.webhook_retry_scale = 0.001;
        c.webhook_timeout_ms = 60_000;
    })
    .await;
    let victim = second_project(&app, "victim").await;
    let slow = Receiver::stalling().await;
    let fast = Receiver::start().await;

    test_event(&app, &slow).await;
    let held = slow.wait_for(1, Duration::from_secs(10)).await;
    assert_eq!(held.len(), 1, "the slow tenant's attempt reached its receiver");
    assert_eq!(slow.waiting(), 1);

    test_event(&victim, &fast).await;
    let delivered = fast.wait_for(1, Duration::from_secs(20)).await;
    let still_waiting = slow.waiting();
    slow.release();
    assert_eq!(
        delivered.len(),
        1,
        "the other tenant's delivery came while the slow one stalled"
    );
    assert_eq!(
        still_waiting, 1,
        "and the slow tenant's attempt was still waiting on its receiver"
    );
    let body: serde_json::Value = serde_json::from_str(&delivered[0].body).unwrap();
    assert_eq!(body["data"]["projectId"], "victim");
}
