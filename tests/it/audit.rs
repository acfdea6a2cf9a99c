//! The audit log: every change made by a key, with the key's id and label, newest first,
//! filtered by user and paged; changes by the root token are the root's.

use reqwest::Method;
use serde_json::{json, Value};

use crate::support::spawn_app;

#[tokio::test]
async fn changes_are_recorded_with_who_made_them_and_paged_newest_first() {
    let app = spawn_app().await;
    let (status, minted) = app
        .json_as(
            &app.root_token,
            Method::POST,
            "/v1/projects/default/keys",
            Some(json!({ "kind": "secret", "label": "support desk" })),
        )
        .await;
    assert_eq!(status, 201, "{minted}");
    let support = minted["key"].as_str().unwrap().to_string();
    let call = |method: Method, path: &str, body: Value| {
        let (support, app) = (&support, &app);
        let path = path.to_string();
        async move { app.json_as(support, method, &path, Some(body)).await }
    };
    app.put_plan(json!({ "id": "plan_a", "periodType": "month",
        "groups": [ { "id": "g", "unit": "count", "quota": 10, "matches": [ { "event": "*" } ] } ] }))
        .await;
    assert_eq!(
        call(Method::PUT, "/v1/users/ann/subscription", json!({ "planId": "plan_a" }))
            .await
            .0,
        200
    );
    assert_eq!(
        call(Method::POST, "/v1/users/ann/block", json!({ "reason": "fraud" }))
            .await
            .0,
        200
    );
    assert_eq!(
        call(Method::POST, "/v1/users/ben/block", json!({ "reason": "spam" }))
            .await
            .0,
        200
    );
    let adjust = json!({ "groupId": "g", "amount": 2, "reason": "goodwill" });
    assert_eq!(call(Method::POST, "/v1/users/ann/adjustments", adjust).await.0, 200);

    let (status, page) = app.json(Method::GET, "/v1/audit-log", None).await;
    assert_eq!(status, 200, "{page}");
    let actions: Vec<&str> = page["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["action"].as_str().unwrap())
        .collect();
    assert_eq!(
        actions,
        [
            "usage.adjust",
            "user.block",
            "user.block",
            "subscription.put",
            "plan.put",
            "key.mint"
        ],
        "{page}"
    );
    let newest = &page["data"][0];
    assert_eq!(newest["actorId"], minted["keyId"]);
    assert_eq!(newest["actorLabel"], "support desk");
    assert_eq!(newest["userId"], "ann");
    assert_eq!(newest["detail"]["reason"], "goodwill");
    assert_eq!(page["data"][5]["actorId"], "root");

    let (_, ann) = app.json(Method::GET, "/v1/audit-log?userId=ann", None).await;
    let actions: Vec<&str> = ann["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["action"].as_str().unwrap())
        .collect();
    assert_eq!(actions, ["usage.adjust", "user.block", "subscription.put"]);

    let mut seen = Vec::new();
    let mut cursor = String::new();
    loop {
        let (_, page) = app
            .json(Method::GET, &format!("/v1/audit-log?limit=4{cursor}"), None)
            .await;
        seen.extend(page["data"].as_array().unwrap().iter().map(|c| c["id"].clone()));
        match page["nextCursor"].as_str() {
            Some(next) => cursor = format!("&cursor={next}"),
            None => break,
        }
    }
    assert_eq!(seen.len(), 6, "pages cover every change once");
    let (status, problem) = app.json(Method::GET, "/v1/audit-log?cursor=nope", None).await;
    assert_eq!((status.as_u16(), problem["field"].as_str()), (400, Some("cursor")));
}
