//! Commit and release end a reservation exactly once, and only within its project.

use reqwest::Method;
use serde_json::json;

use crate::support::{freemium_free_plan, spawn_app, TestApp};

async fn app_with_reservation() -> (TestApp, String) {
    let app = spawn_app().await;
    app.put_plan(freemium_free_plan()).await;
    app.subscribe("u", "plan_free", None).await;
    let answer = app
        .reserve(json!({ "userId": "u", "event": "image.model_a", "metadata": { "variant": "1k" } }))
        .await;
    (app, answer["reservationId"].as_str().unwrap().to_string())
}

#[tokio::test]
async fn repeating_a_commit_returns_the_first_answer_and_counts_once() {
    let (app, id) = app_with_reservation().await;
    let (s1, first) = app.commit(&id, None).await;
    let (s2, second) = app.commit(&id, None).await;
    assert_eq!((s1.as_u16(), s2.as_u16()), (200, 200));
    assert_eq!(first, second);
    assert_eq!(TestApp::counter(&second, "lg_free_model_a")["used"], 1);
}

#[tokio::test]
async fn release_after_commit_and_commit_after_release_are_conflicts() {
    let (app, committed) = app_with_reservation().await;
    app.commit(&committed, None).await;
    let (status, body) = app.release(&committed).await;
    assert_eq!(status, 409);
    assert_eq!(body["code"], "reservation_committed");

    let released = app
        .reserve(json!({ "userId": "u", "event": "image.model_a", "metadata": { "variant": "1k" } }))
        .await["reservationId"]
        .as_str()
        .unwrap()
        .to_string();
    let (s1, _) = app.release(&released).await;
    let (s2, again) = app.release(&released).await;
    assert_eq!((s1.as_u16(), s2.as_u16()), (200, 200));
    assert_eq!(again["status"], "released");
    let (status, body) = app.commit(&released, None).await;
    assert_eq!(status, 409);
    assert_eq!(body["code"], "reservation_released");
}

#[tokio::test]
async fn commit_with_the_actual_quantity_counts_that_quantity() {
    let app = spawn_app().await;
    app.put_plan(json!({
        "id": "plan_seconds", "periodType": "month",
        "groups": [ { "id": "video_seconds", "unit": "seconds", "quota": 100, "matches": [ { "event": "video.render" } ] } ]
    }))
    .await;
    app.subscribe("u", "plan_seconds", None).await;
    let held = app
        .reserve(json!({ "userId": "u", "event": "video.render", "quantity": 30 }))
        .await;
    assert_eq!(TestApp::counter(&held, "video_seconds")["reserved"], 30);
    let (status, committed) = app
        .commit(
            held["reservationId"].as_str().unwrap(),
            Some(json!({ "quantity": 12.5 })),
        )
        .await;
    assert_eq!(status, 200, "{committed}");
    let counter = TestApp::counter(&committed, "video_seconds");
    assert_eq!(
        (counter["used"].clone(), counter["reserved"].clone()),
        (json!(12.5), json!(0))
    );
    assert_eq!(counter["remaining"], json!(87.5));
}

#[tokio::test]
async fn unknown_malformed_and_foreign_reservation_ids_are_not_found() {
    let (app, id) = app_with_reservation().await;
    for bad in ["r_dQ.AAAA", "nonsense", "r_!!.x", "r_.x"] {
        let (status, body) = app.commit(bad, None).await;
        assert_eq!(status, 404, "{bad}");
        assert_eq!(body["code"], "reservation_not_found");
    }

    // The same id from another project's key resolves to nothing.
    let created = app
        .call_as(
            &app.root_token,
            Method::POST,
            "/v1/projects",
            Some(json!({ "id": "other" })),
        )
        .await;
    assert_eq!(created.status(), 201);
    let other_key = app
        .call_as(
            &app.root_token,
            Method::POST,
            "/v1/projects/other/keys",
            Some(json!({ "kind": "secret" })),
        )
        .await
        .json::<serde_json::Value>()
        .await
        .unwrap()["key"]
        .as_str()
        .unwrap()
        .to_string();
    let res = app
        .call_as(
            &other_key,
            Method::POST,
            &format!("/v1/reservations/{id}/release"),
            None,
        )
        .await;
    assert_eq!(res.status(), 404);
    let (status, _) = app.release(&id).await;
    assert_eq!(status, 200, "still there for its own project");
}
