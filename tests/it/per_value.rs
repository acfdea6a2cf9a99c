//! Per-value counters: a group with `"per": "<metadata key>"` keeps one counter per distinct
//! value of that key, each with the group's quota, decided in the same script as every other
//! group; at most 64 values per user, group and period.

use futures::future::join_all;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::dashboard::{table_after, Dashboard};
use crate::support::{spawn_app, TestApp};

fn plan(id: &str, quota: u32) -> Value {
    json!({ "id": id, "periodType": "month", "groups": [
        { "id": "premium", "label": "Premium renders per model", "unit": "count", "quota": quota, "per": "model",
          "matches": [ { "event": "image.render" } ] } ] })
}

fn render(user: &str, model: &str) -> Value {
    json!({ "userId": user, "event": "image.render", "metadata": { "model": model }, "ttlSeconds": 60 })
}

async fn usage(app: &TestApp, user: &str) -> Vec<Value> {
    let (status, answer) = app.json(Method::GET, &format!("/v1/users/{user}/usage"), None).await;
    assert_eq!(status, 200, "{answer}");
    answer["counters"].as_array().unwrap().clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn twenty_parallel_reserves_per_model_admit_exactly_the_quota_of_each_model() {
    let app = spawn_app().await;
    app.put_plan(plan("plan_pv", 5)).await;
    app.subscribe("ann", "plan_pv", None).await;
    let models = ["flux-pro", "sdxl", "mid journey/v6"];
    let calls = (0..60).map(|i| app.reserve(render("ann", models[i % 3])));
    let answers = join_all(calls).await;
    for model in models {
        let admitted = answers
            .iter()
            .filter(|a| a["allowed"] == true && a["counters"][0]["value"] == model)
            .count();
        assert_eq!(admitted, 5, "{model}");
    }
    let denied = answers.iter().find(|a| a["allowed"] == false).unwrap();
    assert_eq!(denied["reasons"], json!(["limit_reached"]), "{denied}");
    // Usage lists one counter per value, each with the group's quota.
    let mut counters: Vec<(String, Value, Value)> = usage(&app, "ann")
        .await
        .iter()
        .map(|c| {
            (
                c["value"].as_str().unwrap().to_string(),
                c["reserved"].clone(),
                c["quota"].clone(),
            )
        })
        .collect();
    counters.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(
        counters,
        [
            ("flux-pro".to_string(), json!(5), json!(5)),
            ("mid journey/v6".to_string(), json!(5), json!(5)),
            ("sdxl".to_string(), json!(5), json!(5))
        ]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn at_most_64_values_a_period_under_parallel_reserves_and_a_listed_value_still_counts() {
    let app = spawn_app().await;
    app.put_plan(plan("plan_pv", 100)).await;
    app.subscribe("bo", "plan_pv", None).await;
    let calls = (0..70).map(|i| {
        let app = &app;
        async move { app.reserve(render("bo", &format!("model-{i}"))).await }
    });
    let answers = join_all(calls).await;
    assert_eq!(answers.iter().filter(|a| a["allowed"] == true).count(), 64);
    let denied: Vec<&Value> = answers.iter().filter(|a| a["allowed"] == false).collect();
    assert!(
        denied.iter().all(|a| a["reasons"] == json!(["too_many_values"])),
        "{denied:?}"
    );
    let listed = answers.iter().find(|a| a["allowed"] == true).unwrap()["counters"][0]["value"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(app.reserve(render("bo", &listed)).await["allowed"], true);
    assert_eq!(usage(&app, "bo").await.len(), 64);
}

#[tokio::test]
async fn an_event_without_the_key_is_refused_naming_it_and_a_plan_change_carries_each_value() {
    let app = spawn_app().await;
    app.put_plan(plan("plan_pv", 5)).await;
    app.put_plan(plan("plan_pv_big", 10)).await;
    app.subscribe("cy", "plan_pv", None).await;
    for (metadata, field) in [
        (json!({}), "metadata.model"),
        (json!({ "model": true }), "metadata.model"),
        (json!({ "model": "" }), "metadata.model"),
    ] {
        let (status, answer) = app
            .json(
                Method::POST,
                "/v1/reserve",
                Some(json!({ "userId": "cy", "event": "image.render", "metadata": metadata })),
            )
            .await;
        assert_eq!(status, 400, "{answer}");
        assert!(answer.to_string().contains(field), "{answer}");
    }
    for model in ["flux-pro", "flux-pro", "sdxl"] {
        let (status, _) = app
            .json(
                Method::POST,
                "/v1/track",
                Some(json!({ "userId": "cy", "event": "image.render", "metadata": { "model": model } })),
            )
            .await;
        assert_eq!(status, 200);
    }
    // The same group on the bigger plan counts on in each value's counter.
    app.subscribe("cy", "plan_pv_big", None).await;
    let mut used: Vec<(String, Value, Value)> = usage(&app, "cy")
        .await
        .iter()
        .map(|c| {
            (
                c["value"].as_str().unwrap().to_string(),
                c["used"].clone(),
                c["quota"].clone(),
            )
        })
        .collect();
    used.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(
        used,
        [
            ("flux-pro".to_string(), json!(2), json!(10)),
            ("sdxl".to_string(), json!(1), json!(10))
        ]
    );
    // A commit answers the value's counter too.
    let held = app.reserve(render("cy", "sdxl")).await;
    let (status, committed) = app
        .json(
            Method::POST,
            &format!("/v1/reservations/{}/commit", held["reservationId"].as_str().unwrap()),
            Some(json!({})),
        )
        .await;
    assert_eq!(status, 200, "{committed}");
    assert_eq!(
        (
            committed["counters"][0]["value"].clone(),
            committed["counters"][0]["used"].clone()
        ),
        (json!("sdxl"), json!(2))
    );
}

#[tokio::test]
async fn per_is_refused_on_a_balance_group() {
    let app = spawn_app().await;
    let (status, answer) = app
        .json(
            Method::PUT,
            "/v1/plans/plan_bad",
            Some(json!({ "periodType": "month", "groups": [
                { "id": "credits", "balance": "credits", "per": "model",
                  "matches": [ { "event": "render" } ] } ] })),
        )
        .await;
    assert_eq!(status, 400, "{answer}");
    assert!(answer.to_string().contains("groups[0].per"), "{answer}");
}

/// A plan change's reset and block apply to every value's counter, so cycling plans gives no
/// value fresh quota.
#[tokio::test]
async fn a_plan_change_rule_applies_to_each_values_counter() {
    let app = spawn_app().await;
    app.put_plan(plan("plan_pv", 5)).await;
    let mut blocking = plan("plan_pv_block", 5);
    blocking["id"] = json!("plan_pv_block");
    blocking["groups"][0]["onPlanChange"] = json!("block");
    app.put_plan(blocking).await;
    app.subscribe("di", "plan_pv", None).await;
    for model in ["flux-pro", "sdxl"] {
        let body = json!({ "userId": "di", "event": "image.render", "metadata": { "model": model } });
        let (status, _) = app.json(Method::POST, "/v1/track", Some(body)).await;
        assert_eq!(status, 200);
    }
    app.subscribe("di", "plan_pv_block", None).await;
    for model in ["flux-pro", "sdxl"] {
        let denied = app.reserve(render("di", model)).await;
        assert_eq!(denied["allowed"], false, "{model}: {denied}");
    }
}

/// The README's recipe, from `examples/per-model.json`: each premium model has its own 100 a
/// month, a model nobody listed included, and standard renders count only in the total.
#[tokio::test]
async fn the_recipe_caps_every_premium_model_without_listing_them() {
    let app = spawn_app().await;
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/per-model.json");
    quota_gateway::apply::apply(&app.address, &app.key, &path)
        .await
        .unwrap();
    app.subscribe("ed", "plan_premium_models", None).await;
    let render = |model: &str, tier: &str, quantity: u32| {
        json!({ "userId": "ed", "event": "image.render", "quantity": quantity,
                "metadata": { "model": model, "tier": tier } })
    };
    assert_eq!(app.reserve(render("flux-pro", "premium", 100)).await["allowed"], true);
    let over = app.reserve(render("flux-pro", "premium", 1)).await;
    assert_eq!(over["deniedBy"], json!(["premium_renders"]), "{over}");
    // A model released today has its own 100.
    let fresh = app.reserve(render("flux-2-ultra", "premium", 100)).await;
    assert_eq!(fresh["allowed"], true, "{fresh}");
    // A standard render matches only the total.
    let standard = app.reserve(render("sdxl", "standard", 5)).await;
    assert_eq!(standard["counters"].as_array().unwrap().len(), 1, "{standard}");
    assert_eq!(standard["counters"][0]["groupId"], "renders");
}

/// The ledger names each entry's value: a track's, and a commit's from its reservation.
#[tokio::test]
async fn ledger_entries_and_the_csv_export_name_the_value() {
    let app = spawn_app().await;
    app.put_plan(plan("plan_pv", 5)).await;
    app.subscribe("fa", "plan_pv", None).await;
    let body = json!({ "userId": "fa", "event": "image.render", "metadata": { "model": "flux pro:1" } });
    let (status, _) = app.json(Method::POST, "/v1/track", Some(body)).await;
    assert_eq!(status, 200);
    let held = app.reserve(render("fa", "sdxl")).await;
    let (status, _) = app
        .json(
            Method::POST,
            &format!("/v1/reservations/{}/commit", held["reservationId"].as_str().unwrap()),
            Some(json!({})),
        )
        .await;
    assert_eq!(status, 200);
    let entries = app.usage_events_all("userId=fa").await;
    let values: Vec<&Value> = entries.iter().map(|e| &e["groups"][0]["value"]).collect();
    assert_eq!(values, [&json!("flux pro:1"), &json!("sdxl")], "{entries:?}");
    let csv = app.usage_events_csv("userId=fa").await;
    assert!(
        csv.lines().nth(1).unwrap().ends_with(",flux pro:1,,,,,,,,true,,,,,"),
        "{csv}"
    );
}

/// An override may name one value: that value's counter takes it, the others the group's.
#[tokio::test]
async fn an_override_of_one_value_raises_only_that_values_quota() {
    let app = spawn_app().await;
    app.put_plan(plan("plan_pv", 2)).await;
    app.subscribe("gi", "plan_pv", None).await;
    let put = |query: &'static str, quota: u32| {
        let app = &app;
        async move {
            app.json(
                Method::PUT,
                &format!("/v1/users/gi/overrides/premium{query}"),
                Some(json!({ "quota": quota })),
            )
            .await
        }
    };
    let (status, answer) = put("?value=flux%20pro", 4).await;
    assert_eq!(status, 200, "{answer}");
    let (status, _) = put("", 3).await;
    assert_eq!(status, 200);
    let admitted = |model: &'static str| {
        let app = &app;
        async move {
            let mut n = 0;
            for _ in 0..6 {
                if app.reserve(render("gi", model)).await["allowed"] == true {
                    n += 1;
                }
            }
            n
        }
    };
    assert_eq!(admitted("flux pro").await, 4);
    assert_eq!(admitted("sdxl").await, 3);
    let quotas: Vec<(String, Value)> = usage(&app, "gi")
        .await
        .iter()
        .map(|c| (c["value"].as_str().unwrap().to_string(), c["quota"].clone()))
        .collect();
    assert!(quotas.contains(&("flux pro".to_string(), json!(4))), "{quotas:?}");
    assert!(quotas.contains(&("sdxl".to_string(), json!(3))), "{quotas:?}");
    // Without it, the value is back on the group's override.
    let (status, _) = app
        .json(Method::DELETE, "/v1/users/gi/overrides/premium?value=flux%20pro", None)
        .await;
    assert_eq!(status, 200);
    let again = app.reserve(render("gi", "flux pro")).await;
    assert_eq!(again["counters"][0]["quota"], 3, "{again}");

    // A value of a group that does not count per value, or a bad value, names the field.
    app.put_plan(json!({ "id": "plan_flat", "periodType": "month", "groups": [
        { "id": "flat", "unit": "count", "quota": 5, "matches": [ { "event": "x" } ] } ] }))
        .await;
    app.subscribe("ha", "plan_flat", None).await;
    for (path, field) in [
        ("/v1/users/ha/overrides/flat?value=a", "value"),
        ("/v1/users/gi/overrides/premium?value=", "value"),
    ] {
        let (status, answer) = app.json(Method::PUT, path, Some(json!({ "quota": 1 }))).await;
        assert_eq!(status, 400, "{path}: {answer}");
        assert!(answer.to_string().contains(field), "{answer}");
    }
}

/// Each value's counter fires its own alerts, and the event names the value.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_values_first_denial_fires_its_own_alert_naming_the_value() {
    use crate::support::receiver::Receiver;
    use crate::webhooks::{endpoint, node};
    let prefix = crate::support::unique_prefix();
    let app = node(&prefix, None, false).await;
    let receiver = Receiver::start().await;
    endpoint(&app, &receiver.url).await;
    app.put_plan(plan("plan_pv", 1)).await;
    app.subscribe("io", "plan_pv", None).await;
    tokio::time::sleep(quota_gateway::gateway::EPOCH_POLL * 3).await;
    for model in ["flux", "flux", "sdxl", "sdxl", "sdxl"] {
        app.reserve(render("io", model)).await;
    }
    receiver.wait_for(2, std::time::Duration::from_secs(20)).await;
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let mut limits: Vec<String> = receiver
        .received()
        .iter()
        .map(|r| serde_json::from_str::<Value>(&r.body).unwrap())
        .filter(|e| e["type"] == "quota.limit_reached")
        .map(|e| e["data"]["value"].as_str().unwrap().to_string())
        .collect();
    limits.sort();
    limits.dedup();
    assert_eq!(limits, ["flux", "sdxl"]);
}

#[tokio::test]
async fn the_dashboard_shows_a_bar_per_value_and_bumps_one_value_through_its_form() {
    let app = spawn_app().await;
    app.put_plan(plan("plan_pv", 5)).await;
    app.subscribe("di", "plan_pv", None).await;
    for model in ["flux-pro", "sdxl", "sdxl"] {
        assert_eq!(app.reserve(render("di", model)).await["allowed"], true);
    }
    let dashboard = Dashboard::sign_in(&app).await;
    let (status, page) = dashboard.get("/dashboard/users/di").await;
    assert_eq!(status, 200);
    let rows = table_after(&page, "Counters");
    for model in ["flux-pro", "sdxl"] {
        assert!(
            rows.iter().any(|r| r[0].ends_with(&format!("premium · value {model}"))),
            "{rows:?}"
        );
    }
    // One bar per value, and the group once in the forms that name a group.
    let table = &page[page.find("<h2>Counters</h2>").unwrap()..];
    let table = &table[..table.find("</table>").unwrap()];
    assert_eq!(table.matches("<svg class=\"bar\"").count(), 2, "{table}");
    assert_eq!(page.matches("<option value=\"premium\">").count(), 2, "{page}");

    // A bump of one value leaves the other values at the group's quota.
    let (status, _, page) = dashboard
        .post(
            "/dashboard/users/di/override",
            &[("groupId", "premium"), ("quota", "7"), ("value", "sdxl")],
        )
        .await;
    assert_eq!(status, StatusCode::SEE_OTHER, "{page}");
    let quotas: Vec<(Value, Value)> = usage(&app, "di")
        .await
        .iter()
        .map(|c| (c["value"].clone(), c["quota"].clone()))
        .collect();
    assert!(quotas.contains(&(json!("sdxl"), json!(7))), "{quotas:?}");
    assert!(quotas.contains(&(json!("flux-pro"), json!(5))), "{quotas:?}");

    // A value on a group that does not count per value is refused by name, as by the API.
    app.put_plan(json!({ "id": "plan_flat", "periodType": "month", "groups": [
        { "id": "renders", "label": "Renders", "unit": "count", "quota": 5, "matches": [ { "event": "*" } ] } ] }))
        .await;
    app.subscribe("di", "plan_flat", None).await;
    let (status, _, page) = dashboard
        .post(
            "/dashboard/users/di/override",
            &[("groupId", "renders"), ("quota", "7"), ("value", "sdxl")],
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{page}");
    assert!(
        page.contains("value: names a value, but group renders does not count per value"),
        "{page}"
    );
}

/// Tracks never deny, yet no size a client controls grows a user's per-value state: of 80
/// distinct values tracked in parallel from two nodes, 64 are listed with counters of their
/// own and the other 16 count in the group's "other values" counter (value null); the ledger
/// names every value, and a reserve of a new value is still refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn tracks_past_64_values_count_in_other_values_and_grow_nothing() {
    let (one, two) = crate::support::two_nodes_with("tv", plan("plan_pv", 1_000)).await;
    let tracks = (0..80).map(|i| {
        let app = if i % 2 == 0 {
            one.clone_for_node()
        } else {
            two.clone_for_node()
        };
        async move {
            let body = json!({ "userId": "tv", "event": "image.render", "metadata": { "model": format!("m{i}") } });
            let (status, answer) = app.json(Method::POST, "/v1/track", Some(body)).await;
            assert_eq!(status, StatusCode::OK, "{answer}");
        }
    });
    join_all(tracks).await;
    let counters = usage(&one, "tv").await;
    let valued = counters.iter().filter(|c| c["value"].is_string()).count();
    let others: Vec<&Value> = counters.iter().filter(|c| c["value"].is_null()).collect();
    assert_eq!(valued, 64, "{counters:?}");
    assert_eq!(others.len(), 1, "{counters:?}");
    assert_eq!(others[0]["used"], 16, "{counters:?}");
    let sum: f64 = counters.iter().map(|c| c["used"].as_f64().unwrap()).sum();
    assert_eq!(sum, 80.0);
    let denied = one.reserve(render("tv", "one-more")).await;
    assert_eq!(denied["reasons"], json!(["too_many_values"]), "{denied}");
    let entries = one.usage_events_all("userId=tv").await;
    let named: std::collections::BTreeSet<&str> = entries
        .iter()
        .filter_map(|e| e["groups"][0]["value"].as_str())
        .collect();
    assert_eq!(named.len(), 80, "the ledger names every value");
}
