//! Just enough control plane: projects, keys, plans and subscriptions, each behind its key.

use reqwest::Method;
use serde_json::{json, Value};

use crate::support::{freemium_free_plan, spawn_app};

#[tokio::test]
async fn root_creates_projects_and_keys_that_work_only_in_their_project() {
    let app = spawn_app().await;
    let root = app.root_token.clone();
    let res = app
        .call_as(
            &root,
            Method::POST,
            "/v1/projects",
            Some(json!({ "id": "shop", "defaultPlan": "plan_free" })),
        )
        .await;
    assert_eq!(res.status(), 201);
    let again = app
        .call_as(&root, Method::POST, "/v1/projects", Some(json!({ "id": "shop" })))
        .await;
    assert_eq!(again.status(), 409);
    assert_eq!(again.json::<Value>().await.unwrap()["code"], "project_exists");

    let res = app
        .call_as(
            &root,
            Method::POST,
            "/v1/projects/shop/keys",
            Some(json!({ "kind": "secret", "label": "api" })),
        )
        .await;
    assert_eq!(res.status(), 201);
    let created: Value = res.json().await.unwrap();
    let key = created["key"].as_str().unwrap().to_string();
    assert!(key.starts_with("qg_sk_"));
    assert_eq!(created["label"], "api");

    // The new project's default plan applies to users without a subscription.
    let put = app
        .call_as(&key, Method::PUT, "/v1/plans/plan_free", Some(freemium_free_plan()))
        .await;
    assert_eq!(put.status(), 200);
    let answer: Value = app
        .call_as(
            &key,
            Method::POST,
            "/v1/reserve",
            Some(json!({ "userId": "walk-in", "event": "image.model_a", "metadata": { "variant": "1k" } })),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(answer["allowed"], true, "{answer}");

    // The plan is not visible through the default project's key.
    let (status, _) = app.json(Method::GET, "/v1/plans/plan_free", None).await;
    assert_eq!(status, 404);
    let missing = app
        .call_as(
            &root,
            Method::POST,
            "/v1/projects/nope/keys",
            Some(json!({ "kind": "secret" })),
        )
        .await;
    assert_eq!(missing.status(), 404);
}

#[tokio::test]
async fn keys_are_checked_on_every_route() {
    let app = spawn_app().await;
    let no_key = app
        .client
        .get(format!("{}/v1/plans", app.address))
        .send()
        .await
        .unwrap();
    assert_eq!(no_key.status(), 401);
    let unknown = app.call_as("qg_sk_doesnotexist", Method::GET, "/v1/plans", None).await;
    assert_eq!(unknown.status(), 401);
    let root_on_data = app
        .call_as(&app.root_token.clone(), Method::GET, "/v1/plans", None)
        .await;
    assert_eq!(root_on_data.status(), 403);
    let key_on_root = app.call(Method::POST, "/v1/projects", Some(json!({ "id": "x" }))).await;
    assert_eq!(key_on_root.status(), 403);
    let body: Value = key_on_root.json().await.unwrap();
    assert_eq!(body["code"], "forbidden");
}

#[tokio::test]
async fn plans_are_stored_with_a_version_and_listed() {
    let app = spawn_app().await;
    let stored = app.put_plan(freemium_free_plan()).await;
    assert_eq!(stored["version"], 1);
    assert_eq!(stored["groups"][0]["quota"], 2);
    let same = app.put_plan(freemium_free_plan()).await;
    assert_eq!(same["version"], 1, "an unchanged plan keeps its version");
    let mut changed = freemium_free_plan();
    changed["groups"][0]["quota"] = json!(3);
    assert_eq!(app.put_plan(changed).await["version"], 2);

    let (status, fetched) = app.json(Method::GET, "/v1/plans/plan_free", None).await;
    assert_eq!(status, 200);
    assert_eq!(fetched["groups"][0]["quota"], 3);
    // A fetched plan can be pasted back as it is.
    assert_eq!(app.put_plan(fetched).await["version"], 2);
    let (_, list) = app.json(Method::GET, "/v1/plans", None).await;
    assert_eq!(list["data"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn an_invalid_plan_lists_every_problem() {
    let app = spawn_app().await;
    let (status, body) = app
        .json(
            Method::PUT,
            "/v1/plans/plan_bad",
            Some(json!({
                "periodType": "fortnightly",
                "groups": [
                    { "id": "a", "unit": "widgets", "quota": 1, "matches": [ { "event": "bad event" } ] },
                    { "id": "a", "unit": "count", "quota": 1, "mode": "strict", "matches": [] }
                ]
            })),
        )
        .await;
    assert_eq!(status, 400);
    assert_eq!(body["code"], "invalid_plan");
    let fields: Vec<&str> = body["problems"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["field"].as_str().unwrap())
        .collect();
    for field in [
        "periodType",
        "groups[0].unit",
        "groups[0].matches[0].event",
        "groups[1].id",
        "groups[1].mode",
        "groups[1].matches",
    ] {
        assert!(fields.contains(&field), "{field} missing from {fields:?}");
    }
}

#[tokio::test]
async fn unknown_plan_fields_are_refused_by_name() {
    let app = spawn_app().await;
    let mut plan = freemium_free_plan();
    plan["groups"][0]["quotaa"] = json!(5);
    let (status, body) = app.json(Method::PUT, "/v1/plans/plan_free", Some(plan)).await;
    assert_eq!(status, 400);
    assert_eq!(body["field"], "groups[0].quotaa");
    let (status, body) = app
        .json(
            Method::PUT,
            "/v1/plans/plan_free",
            Some(json!({ "id": "other", "groups": [] })),
        )
        .await;
    assert_eq!(status, 400, "{body}");
}

#[tokio::test]
async fn subscriptions_keep_their_anchor_and_refuse_unknown_plans() {
    let app = spawn_app().await;
    app.put_plan(freemium_free_plan()).await;
    let first = app.subscribe("sam", "plan_free", Some("2026-01-31T09:30:00Z")).await;
    assert_eq!(first["startedAt"], "2026-01-31T09:30:00.000Z");
    assert_eq!(first["status"], "active");
    let again = app.subscribe("sam", "plan_free", None).await;
    assert_eq!(
        again["startedAt"], "2026-01-31T09:30:00.000Z",
        "an upsert without startedAt keeps it"
    );
    let (status, fetched) = app.json(Method::GET, "/v1/users/sam/subscription", None).await;
    assert_eq!(status, 200);
    assert_eq!(fetched["planId"], "plan_free");

    let (status, body) = app
        .json(
            Method::PUT,
            "/v1/users/sam/subscription",
            Some(json!({ "planId": "plan_gold" })),
        )
        .await;
    assert_eq!(status, 404);
    assert_eq!(body["code"], "plan_not_found");
    let (status, body) = app
        .json(
            Method::PUT,
            "/v1/users/sam/subscription",
            Some(json!({ "planId": "plan_free", "startedAt": "2999-01-01T00:00:00Z" })),
        )
        .await;
    assert_eq!(status, 400);
    assert_eq!(body["field"], "startedAt");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn parallel_identical_plan_puts_make_one_version() {
    let app = spawn_app().await;
    let puts = (0..20).map(|_| app.json(Method::PUT, "/v1/plans/plan_free", Some(freemium_free_plan())));
    let answers = futures::future::join_all(puts).await;
    assert!(
        answers
            .iter()
            .all(|(status, body)| *status == 200 && body["version"] == 1),
        "{answers:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn parallel_identical_subscribes_write_once() {
    let app = spawn_app().await;
    app.put_plan(freemium_free_plan()).await;
    let body = json!({ "planId": "plan_free", "startedAt": "2026-01-01T00:00:00Z" });
    let puts = (0..20).map(|_| app.json(Method::PUT, "/v1/users/twin/subscription", Some(body.clone())));
    for (status, answer) in futures::future::join_all(puts).await {
        assert_eq!(status, 200, "{answer}");
    }
    // A read-then-write subscribe would let several first writes through, each bumping the version.
    let version: String =
        crate::support::redis::shared().query(&["HGET", &format!("{}:{{default:twin}}:sub", app.prefix), "ver"]);
    assert_eq!(version, "1");
}

#[tokio::test]
async fn projects_are_listed_and_patched_field_by_field() {
    let app = spawn_app().await;
    let root = app.root_token.clone();
    app.call_as(
        &root,
        Method::POST,
        "/v1/projects",
        Some(json!({ "id": "p2", "defaultPlan": "plan_a" })),
    )
    .await;
    let patched = app
        .call_as(
            &root,
            Method::PATCH,
            "/v1/projects/p2",
            Some(json!({ "allowedOrigins": ["https://a.example"] })),
        )
        .await;
    assert_eq!(patched.status(), 200);
    let body: Value = patched.json().await.unwrap();
    assert_eq!(
        (body["defaultPlan"].clone(), body["allowedOrigins"].clone()),
        (json!("plan_a"), json!(["https://a.example"]))
    );
    let cleared: Value = app
        .call_as(
            &root,
            Method::PATCH,
            "/v1/projects/p2",
            Some(json!({ "defaultPlan": null })),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(cleared["defaultPlan"], Value::Null);
    let bad = app
        .call_as(
            &root,
            Method::PATCH,
            "/v1/projects/p2",
            Some(json!({ "allowedOrigins": ["ftp://x"] })),
        )
        .await;
    assert_eq!(bad.status(), 400);
    let missing = app
        .call_as(&root, Method::PATCH, "/v1/projects/nope", Some(json!({})))
        .await;
    assert_eq!(missing.status(), 404);
    let list: Value = app
        .call_as(&root, Method::GET, "/v1/projects", None)
        .await
        .json()
        .await
        .unwrap();
    let ids: Vec<&str> = list["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["default", "p2"]);
}
