//! The LLM and video recipes: tokens reserved at an estimate and committed at the actual count,
//! one composite event feeding several measured groups, fractional cents, in-flight jobs.

use reqwest::Method;
use serde_json::{json, Value};

use crate::support::{spawn_app, TestApp};

fn llm_plan() -> Value {
    json!({
        "id": "plan_llm", "periodType": "month",
        "groups": [
            { "id": "total_tokens", "unit": "tokens", "quota": 100000,
              "measure": { "weights": { "prompt_tokens": 1, "completion_tokens": 1 } },
              "matches": [ { "event": "llm.call" } ] },
            { "id": "gpt_big_completion", "unit": "tokens", "quota": 20000,
              "measure": { "metadata": "completion_tokens" },
              "matches": [ { "event": "llm.call", "metadata": { "model": "gpt-big" } } ] },
            { "id": "spend_cents", "label": "LLM spend", "unit": "cents", "quota": 500,
              "measure": { "weights": { "prompt_tokens": 0.00025, "completion_tokens": 0.001 } },
              "matches": [ { "event": "llm.call" } ] }
        ]
    })
}

#[tokio::test]
async fn an_llm_call_reserved_at_4000_tokens_commits_the_actual_count() {
    let app = spawn_app().await;
    app.put_plan(json!({
        "id": "plan_tokens", "periodType": "day",
        "groups": [ { "id": "tokens", "unit": "tokens", "quota": 10000, "matches": [ { "event": "llm.tokens" } ] } ]
    }))
    .await;
    app.subscribe("l", "plan_tokens", None).await;
    let held = app
        .reserve(json!({ "userId": "l", "event": "llm.tokens", "quantity": 4000 }))
        .await;
    assert_eq!(TestApp::counter(&held, "tokens")["reserved"], 4000);
    let (_, committed) = app
        .commit(
            held["reservationId"].as_str().unwrap(),
            Some(json!({ "quantity": 1234 })),
        )
        .await;
    let counter = TestApp::counter(&committed, "tokens");
    assert_eq!(
        (counter["used"].clone(), counter["reserved"].clone()),
        (json!(1234), json!(0))
    );
    // Two more estimates of 4000 fit the 8766 left; a third does not.
    for expected in [true, true, false] {
        let answer = app
            .reserve(json!({ "userId": "l", "event": "llm.tokens", "quantity": 4000 }))
            .await;
        assert_eq!(answer["allowed"], expected, "{answer}");
    }
}

#[tokio::test]
async fn one_composite_llm_event_feeds_tokens_a_model_group_and_cents() {
    let app = spawn_app().await;
    app.put_plan(llm_plan()).await;
    app.subscribe("c", "plan_llm", None).await;
    let estimate = json!({ "userId": "c", "event": "llm.call",
        "metadata": { "model": "gpt-big", "prompt_tokens": 1000, "completion_tokens": 2000 } });
    let held = app.reserve(estimate).await;
    assert_eq!(TestApp::counter(&held, "total_tokens")["reserved"], 3000);
    assert_eq!(TestApp::counter(&held, "gpt_big_completion")["reserved"], 2000);
    assert_eq!(TestApp::counter(&held, "spend_cents")["reserved"], 2.25);

    let actual = json!({ "metadata": { "model": "gpt-big", "prompt_tokens": 1000, "completion_tokens": 333 } });
    let (status, committed) = app.commit(held["reservationId"].as_str().unwrap(), Some(actual)).await;
    assert_eq!(status, 200, "{committed}");
    assert_eq!(TestApp::counter(&committed, "total_tokens")["used"], 1333);
    assert_eq!(TestApp::counter(&committed, "gpt_big_completion")["used"], 333);
    // 1000 x 0.00025 + 333 x 0.001 = 0.583 cents, exactly.
    assert_eq!(TestApp::counter(&committed, "spend_cents")["used"], 0.583);
    assert_eq!(TestApp::counter(&committed, "spend_cents")["reserved"], 0);
}

#[tokio::test]
async fn a_measured_group_without_its_metadata_is_refused_by_name() {
    let app = spawn_app().await;
    app.put_plan(llm_plan()).await;
    app.subscribe("m", "plan_llm", None).await;
    let (status, body) = app
        .json(
            Method::POST,
            "/v1/reserve",
            Some(json!({ "userId": "m", "event": "llm.call", "metadata": { "prompt_tokens": 10 } })),
        )
        .await;
    assert_eq!(status, 400);
    assert_eq!(body["field"], "metadata.completion_tokens");
    let usage = app.usage("m").await;
    assert!(usage["counters"].as_array().unwrap().iter().all(|c| c["count"] == 0));
}

#[tokio::test]
async fn fractional_cents_add_up_exactly() {
    let app = spawn_app().await;
    app.put_plan(json!({
        "id": "plan_cents", "periodType": "month",
        "groups": [ { "id": "cents", "unit": "cents", "quota": 1, "matches": [ { "event": "api.call" } ] } ]
    }))
    .await;
    app.subscribe("f", "plan_cents", None).await;
    for _ in 0..3 {
        let (status, body) = app
            .json(
                Method::POST,
                "/v1/track",
                Some(json!({ "userId": "f", "event": "api.call", "quantity": 0.333 })),
            )
            .await;
        assert_eq!(status, 200, "{body}");
    }
    let res = app.call(Method::GET, "/v1/users/f/usage", None).await;
    assert!(
        res.headers()["ratelimit"]
            .to_str()
            .unwrap()
            .starts_with("\"cents\";r=0;"),
        "whole units, rounded down"
    );
    let usage: Value = res.json().await.unwrap();
    let counter = TestApp::counter(&usage, "cents");
    assert_eq!(
        (counter["used"].clone(), counter["remaining"].clone()),
        (json!(0.999), json!(0.001))
    );
    let fits = app
        .reserve(json!({ "userId": "f", "event": "api.call", "quantity": 0.001 }))
        .await;
    assert_eq!(fits["allowed"], true);
    let over = app
        .reserve(json!({ "userId": "f", "event": "api.call", "quantity": 0.001 }))
        .await;
    assert_eq!(over["allowed"], false);
}

#[tokio::test]
async fn video_jobs_are_limited_in_flight() {
    let app = spawn_app().await;
    app.put_plan(json!({
        "id": "plan_video", "periodType": "month",
        "groups": [
            { "id": "video_jobs", "label": "2 jobs at once", "unit": "concurrent", "quota": 2, "matches": [ { "event": "video.render" } ] },
            { "id": "video_renders", "unit": "count", "quota": 100, "matches": [ { "event": "video.render" } ] }
        ]
    }))
    .await;
    app.subscribe("v", "plan_video", None).await;
    let job = json!({ "userId": "v", "event": "video.render" });
    let first = app.reserve(job.clone()).await;
    let second = app.reserve(job.clone()).await;
    assert_eq!(
        (first["allowed"].clone(), second["allowed"].clone()),
        (json!(true), json!(true))
    );
    let third = app.reserve(job.clone()).await;
    assert_eq!(third["deniedBy"], json!(["video_jobs"]));
    assert_eq!(TestApp::counter(&third, "video_jobs")["resetsAt"], Value::Null);

    // A commit gives the slot back and counts the render; a release gives it back too.
    let (_, committed) = app.commit(first["reservationId"].as_str().unwrap(), None).await;
    let jobs = TestApp::counter(&committed, "video_jobs");
    assert_eq!((jobs["used"].clone(), jobs["reserved"].clone()), (json!(0), json!(1)));
    assert_eq!(TestApp::counter(&committed, "video_renders")["used"], 1);
    app.release(second["reservationId"].as_str().unwrap()).await;
    assert_eq!(TestApp::counter(&app.usage("v").await, "video_jobs")["count"], 0);

    // Track ignores in-flight limits: finished work holds no slot.
    let (_, tracked) = app.json(Method::POST, "/v1/track", Some(job)).await;
    assert_eq!(tracked["counters"].as_array().unwrap().len(), 1);
    assert_eq!(TestApp::counter(&tracked, "video_renders")["used"], 2);
}

/// One group prices every model by its match rules' own rates; the first rule that matches
/// decides, a rule without a measure falls back to the group's, and a commit re-measures the
/// actual quantity at the rate the reservation was made under.
#[tokio::test]
async fn one_cents_cap_prices_each_model_by_its_first_matching_rule() {
    let app = spawn_app().await;
    let (status, body) = app
        .json(
            Method::PUT,
            "/v1/plans/plan_rated",
            Some(json!({
                "periodType": "month",
                "groups": [ { "id": "spend", "unit": "cents", "quota": 2000,
                  "measure": { "rate": 1 },
                  "matches": [
                    { "event": "image.render", "metadata": { "model": "flux-pro" }, "measure": { "rate": 10 } },
                    { "event": "image.*", "measure": { "rate": 4 } },
                    { "event": "llm.call", "metadata": { "model": "gpt-4o" },
                      "measure": { "weights": { "prompt_tokens": 0.00025, "completion_tokens": 0.001 } } },
                    { "event": "llm.call" }
                  ] } ]
            })),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    app.subscribe("r", "plan_rated", None).await;
    let reserved = |event: &str, quantity: f64, metadata: Value| json!({ "userId": "r", "event": event, "quantity": quantity, "metadata": metadata });
    // flux-pro matches the first rule (10 a render) though `image.*` matches too.
    let flux = app
        .reserve(reserved("image.render", 3.0, json!({ "model": "flux-pro" })))
        .await;
    assert_eq!(TestApp::counter(&flux, "spend")["reserved"], 30);
    let other = app
        .reserve(reserved("image.render", 3.0, json!({ "model": "sdxl" })))
        .await;
    assert_eq!(TestApp::counter(&other, "spend")["reserved"], 42);
    let gpt = app
        .reserve(reserved(
            "llm.call",
            1.0,
            json!({ "model": "gpt-4o", "prompt_tokens": 1000, "completion_tokens": 500 }),
        ))
        .await;
    assert_eq!(TestApp::counter(&gpt, "spend")["reserved"], 42.75);
    // No measure on the last rule: the group's rate of 1.
    let plain = app
        .reserve(reserved("llm.call", 7.0, json!({ "model": "small" })))
        .await;
    assert_eq!(TestApp::counter(&plain, "spend")["reserved"], 49.75);

    // Two renders happened of the three reserved: 20 cents at flux-pro's rate.
    let (status, committed) = app
        .commit(flux["reservationId"].as_str().unwrap(), Some(json!({ "quantity": 2 })))
        .await;
    assert_eq!(status, 200, "{committed}");
    assert_eq!(TestApp::counter(&committed, "spend")["used"], 20);
    assert_eq!(TestApp::counter(&committed, "spend")["reserved"], 19.75);

    // A rule's measure is validated and named by its path.
    let (status, body) = app
        .json(
            Method::PUT,
            "/v1/plans/plan_bad_rate",
            Some(
                json!({ "periodType": "month", "groups": [ { "id": "s", "unit": "cents", "quota": 1,
                "matches": [ { "event": "a", "measure": { "rate": 0.0000001 } } ] } ] }),
            ),
        )
        .await;
    assert_eq!(status, 400, "{body}");
    assert!(body.to_string().contains("groups[0].matches[0].measure"), "{body}");
}
