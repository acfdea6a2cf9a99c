//! Prices: groups priced by the model catalog with a markup, project prices that beat it,
//! unpriced models denied before the provider is called, where each entry's price came from,
//! and holds that fit what is left. Through the proxy (against the provider simulator) and
//! through the API as the SDKs call it.

use futures::future::join_all;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::support::provider::{gateway_for, Provider};
use crate::support::{spawn_app, TestApp};

/// "$20 a month of any model, at cost plus 20 %": one group, no price written by hand.
fn dollars_plan(extra: Value) -> Value {
    let mut group = json!({ "id": "dollars", "unit": "cents", "quota": 2000,
        "measure": { "price": "catalog", "markup": 1.2 }, "matches": [ { "event": "*" } ] });
    for (k, v) in extra.as_object().unwrap() {
        group[k] = v.clone();
    }
    json!({ "id": "plan_dollars", "periodType": "month", "groups": [ group ] })
}

/// A price of the catalog in micro-dollars.
fn micro(v: &Value) -> u128 {
    (v.as_f64().unwrap() * 1_000_000.0).round() as u128
}

/// What `input` and `output` tokens cost at `model`'s price (per million, micro-dollars) times
/// `markup_ppm`, in milli-cents, rounded up: the gateway's arithmetic done apart.
fn milli_cents(price: &Value, input: u128, output: u128, markup_ppm: u128) -> u128 {
    let femto = input * 1000 * micro(&price["inputPerMillion"]) + output * 1000 * micro(&price["outputPerMillion"]);
    (femto * 100_000_000 * markup_ppm).div_ceil(1_000_000_000_000_000_000_000_000)
}

/// A chat call through the proxy as the OpenAI SDK sends it, for alice, with `headers` beside.
fn chat_call(app: &TestApp, headers: &[(&str, &str)], body: Value) -> reqwest::RequestBuilder {
    let mut req = app
        .client
        .post(format!("{}/proxy/openai/v1/chat/completions", app.address))
        .bearer_auth(&app.key)
        .header("X-Quota-User", "alice");
    for (name, value) in headers {
        req = req.header(*name, *value);
    }
    req.json(&body)
}

/// The body of the last request the simulator received.
async fn last_body(provider: &Provider) -> Value {
    let stats = provider.stats().await;
    let last = stats["requests"].as_array().unwrap().last().unwrap().clone();
    match &last["body"] {
        Value::String(text) => serde_json::from_str(text).unwrap(),
        other => other.clone(),
    }
}

async fn catalog_price(app: &TestApp, model: &str) -> (Value, String) {
    let (status, catalog) = app.json(Method::GET, "/v1/catalog", None).await;
    assert_eq!(status, 200);
    let entry = catalog["models"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["model"] == model)
        .unwrap_or_else(|| panic!("the catalog lists {model}"))
        .clone();
    assert!(entry["asOf"].is_string() && entry["source"].as_str().unwrap().starts_with("https://"));
    (entry, catalog["version"].as_str().unwrap().to_string())
}

fn used_milli(answer: &Value, group: &str) -> u128 {
    let c = TestApp::counter(answer, group);
    (c["used"].as_f64().unwrap() * 1000.0).round() as u128
}

fn priced_groups(entries: &[Value]) -> Vec<Value> {
    entries
        .iter()
        .filter(|e| e["kind"] == "commit")
        .flat_map(|e| e["groups"].as_array().unwrap().clone())
        .collect()
}

#[tokio::test]
async fn a_proxied_call_and_an_sdk_commit_count_the_catalog_price_times_the_counts_times_the_markup() {
    let provider = Provider::start();
    let app = gateway_for(&provider, json!({}), |_| {}).await;
    app.put_plan(dollars_plan(json!({}))).await;
    app.subscribe("alice", "plan_dollars", None).await;
    let (gpt, version) = catalog_price(&app, "gpt-4.1").await;

    // Through the proxy: the provider reports 1,200 input and 300 output tokens.
    let res = chat_call(
        &app,
        &[("x-sim", "input=1200, output=300")],
        json!({ "model": "gpt-4.1", "max_tokens": 400,
            "messages": [ { "role": "user", "content": "hello" } ] }),
    )
    .send()
    .await
    .unwrap();
    assert_eq!(res.status(), 200);
    let proxied = milli_cents(&gpt, 1200, 300, 1_200_000);
    assert_eq!(used_milli(&app.usage("alice").await, "dollars"), proxied);

    // As the SDKs call it: a reserve naming the model and its worst case, a commit with the
    // counts the provider reported.
    let held = app
        .reserve(json!({ "userId": "alice", "event": "llm.call",
            "metadata": { "model": "gpt-4.1", "input_tokens": 5000, "output_tokens": 2000 } }))
        .await;
    assert_eq!(held["allowed"], true, "{held}");
    let worst = milli_cents(&gpt, 5000, 2000, 1_200_000);
    let reserved = TestApp::counter(&held, "dollars")["reserved"].as_f64().unwrap();
    assert_eq!((reserved * 1000.0).round() as u128, worst);
    let id = held["reservationId"].as_str().unwrap();
    let (status, _) = app
        .commit(
            id,
            Some(json!({ "metadata": { "input_tokens": 4000, "output_tokens": 1500 } })),
        )
        .await;
    assert_eq!(status, 200);
    let sdk = milli_cents(&gpt, 4000, 1500, 1_200_000);
    assert_eq!(used_milli(&app.usage("alice").await, "dollars"), proxied + sdk);

    // Each entry says the catalog priced it, and which catalog.
    let entries = app.usage_events_all("userId=alice").await;
    let groups = priced_groups(&entries);
    assert_eq!(groups.len(), 2, "{entries:?}");
    for g in &groups {
        assert_eq!(g["price"]["source"], "catalog");
        assert_eq!(g["price"]["catalogVersion"], version.as_str());
        assert_eq!(g["price"]["model"], "gpt-4.1");
    }
    // The export carries it too.
    let csv = app.usage_events_csv("userId=alice").await;
    assert!(
        csv.lines()
            .next()
            .unwrap()
            .ends_with(",priceSource,outcome,previousOutcome,fallbackOf,attempt"),
        "{csv}"
    );
    assert!(csv.contains(&format!("catalog:{version}:gpt-4.1")), "{csv}");
}

#[tokio::test]
async fn a_project_price_beats_the_catalog_says_so_and_never_reaches_another_project() {
    let app = spawn_app().await;
    app.put_plan(dollars_plan(json!({}))).await;
    app.subscribe("alice", "plan_dollars", None).await;

    // A negotiated rate: $1 per million input and $2 per million output tokens.
    let (status, stored) = app
        .json(
            Method::PUT,
            "/v1/prices/gpt-4.1",
            Some(json!({ "inputPerMillion": 1, "outputPerMillion": 2 })),
        )
        .await;
    assert_eq!(status, 200, "{stored}");
    assert_eq!(stored["model"], "gpt-4.1");
    assert!(stored["catalog"]["inputPerMillion"].is_number());
    let (_, listed) = app.json(Method::GET, "/v1/prices", None).await;
    assert_eq!(listed["data"].as_array().unwrap().len(), 1);

    let call = json!({ "userId": "alice", "event": "llm.call",
        "metadata": { "model": "gpt-4.1", "input_tokens": 1_000_000, "output_tokens": 1_000_000 } });
    let held = app.reserve(call.clone()).await;
    let (status, _) = app.commit(held["reservationId"].as_str().unwrap(), None).await;
    assert_eq!(status, 200);
    // $3 at cost, $3.60 with the markup: 360 cents.
    assert_eq!(used_milli(&app.usage("alice").await, "dollars"), 360_000);
    let groups = priced_groups(&app.usage_events_all("userId=alice").await);
    assert_eq!(groups[0]["price"]["source"], "override");
    assert!(groups[0]["price"].get("catalogVersion").is_none());

    // Audited.
    let (_, log) = app.json(Method::GET, "/v1/audit-log", None).await;
    assert_eq!(log["data"][0]["action"], "price.put", "{log}");

    // Another project of the same deployment prices by the catalog.
    let root = app.root_token.clone();
    let res = app
        .call_as(&root, Method::POST, "/v1/projects", Some(json!({ "id": "other" })))
        .await;
    assert_eq!(res.status(), 201);
    let (_, made) = app
        .json_as(
            &root,
            Method::POST,
            "/v1/projects/other/keys",
            Some(json!({ "kind": "secret", "label": "api" })),
        )
        .await;
    let other_key = made["key"].as_str().unwrap().to_string();
    let (status, _) = app
        .json_as(
            &other_key,
            Method::PUT,
            "/v1/plans/plan_dollars",
            Some(dollars_plan(json!({}))),
        )
        .await;
    assert_eq!(status, 200);
    let (_, prices) = app.json_as(&other_key, Method::GET, "/v1/prices", None).await;
    assert_eq!(prices["data"], json!([]));
    let (_, answer) = app
        .json_as(
            &other_key,
            Method::PUT,
            "/v1/users/bob/subscription",
            Some(json!({ "planId": "plan_dollars" })),
        )
        .await;
    assert_eq!(answer["planId"], "plan_dollars");
    let mut bob = call.clone();
    bob["userId"] = json!("bob");
    let (_, held) = app.json_as(&other_key, Method::POST, "/v1/reserve", Some(bob)).await;
    let (gpt, _) = catalog_price(&app, "gpt-4.1").await;
    let reserved = TestApp::counter(&held, "dollars")["reserved"].as_f64().unwrap();
    assert_eq!(
        (reserved * 1000.0).round() as u128,
        milli_cents(&gpt, 1_000_000, 1_000_000, 1_200_000)
    );

    // Deleted: the catalog prices it again; a second delete finds none.
    let res = app.call(Method::DELETE, "/v1/prices/gpt-4.1", None).await;
    assert_eq!(res.status(), 204);
    let (status, gone) = app.json(Method::DELETE, "/v1/prices/gpt-4.1", None).await;
    assert_eq!(
        (status, gone["code"].as_str()),
        (StatusCode::NOT_FOUND, Some("price_not_found"))
    );
}

#[tokio::test]
async fn a_bad_price_is_refused_naming_its_field() {
    let app = spawn_app().await;
    for (body, field) in [
        (
            json!({ "inputPerMillion": -1, "outputPerMillion": 1 }),
            "inputPerMillion",
        ),
        (
            json!({ "inputPerMillion": 1, "outputPerMillion": "2" }),
            "outputPerMillion",
        ),
        (
            json!({ "inputPerMillion": 1, "outputPerMillion": 1, "cachedInputPerMillion": 0.0000001 }),
            "cachedInputPerMillion",
        ),
        (json!({ "inputPerMillion": 1 }), "outputPerMillion"),
        (
            json!({ "inputPerMillion": 1, "outputPerMillion": 1, "extra": 1 }),
            "extra",
        ),
        (
            json!({ "inputPerMillion": 1, "outputPerMillion": 1,
                "longContext": { "overInputTokens": 0, "inputPerMillion": 2, "outputPerMillion": 2 } }),
            "longContext.overInputTokens",
        ),
        (
            json!({ "inputPerMillion": 1, "outputPerMillion": 1,
                "longContext": { "overInputTokens": 1000, "inputPerMillion": 2, "outputPerMillion": -2 } }),
            "longContext.outputPerMillion",
        ),
        (
            json!({ "inputPerMillion": 1, "outputPerMillion": 1, "batch": { "inputPerMillion": 0.5 } }),
            "batch.outputPerMillion",
        ),
    ] {
        let (status, problem) = app.json(Method::PUT, "/v1/prices/my-model", Some(body)).await;
        assert_eq!(status, 400, "{problem}");
        assert_eq!(problem["field"], field, "{problem}");
    }
    let (status, problem) = app
        .json(
            Method::PUT,
            "/v1/prices/bad%20name",
            Some(json!({ "inputPerMillion": 1, "outputPerMillion": 1 })),
        )
        .await;
    assert_eq!((status.as_u16(), problem["field"].as_str()), (400, Some("model")));
    // A plan that prices a group it cannot is refused, naming it.
    let (status, problem) = app
        .json(
            Method::PUT,
            "/v1/plans/p",
            Some(
                json!({ "periodType": "month", "groups": [ { "id": "t", "unit": "tokens", "quota": 1,
                "measure": { "price": "catalog" }, "matches": [ { "event": "*" } ] } ] }),
            ),
        )
        .await;
    assert_eq!(status, 400);
    assert_eq!(problem["problems"][0]["field"], "groups[0].measure", "{problem}");
}

#[tokio::test]
async fn an_unpriced_model_is_denied_before_the_provider_is_called_unless_the_group_allows_it() {
    let provider = Provider::start();
    let app = gateway_for(&provider, json!({}), |_| {}).await;
    app.put_plan(dollars_plan(json!({}))).await;
    app.subscribe("alice", "plan_dollars", None).await;

    let res = chat_call(
        &app,
        &[],
        json!({ "model": "my-fine-tune-7", "max_tokens": 10,
            "messages": [ { "role": "user", "content": "hello" } ] }),
    )
    .send()
    .await
    .unwrap();
    assert_eq!(res.status(), 429);
    assert_eq!(res.headers()["x-quota-reasons"], "unpriced_model");
    assert_eq!(provider.calls().await, 0);

    // Through the API: the denial names the model.
    let call = json!({ "userId": "alice", "event": "llm.call",
        "metadata": { "model": "my-fine-tune-7", "input_tokens": 10, "output_tokens": 10 } });
    let denied = app.reserve(call.clone()).await;
    assert_eq!(denied["allowed"], false);
    assert_eq!(denied["reasons"], json!(["unpriced_model"]));
    assert_eq!(denied["denials"][0]["model"], "my-fine-tune-7");
    assert_eq!(denied["denials"][0]["groupId"], "dollars");
    // A track of it is refused whole, never counted as free.
    let (status, problem) = app.json(Method::POST, "/v1/track", Some(call.clone())).await;
    assert_eq!(
        (status.as_u16(), problem["code"].as_str()),
        (422, Some("unpriced_model"))
    );

    // A group that allows unpriced models lets it through at zero, and says so.
    app.put_plan(dollars_plan(
        json!({ "measure": { "price": "catalog", "markup": 1.2, "unpriced": "allow" } }),
    ))
    .await;
    let held = app.reserve(call).await;
    assert_eq!(held["allowed"], true, "{held}");
    let (status, _) = app.commit(held["reservationId"].as_str().unwrap(), None).await;
    assert_eq!(status, 200);
    assert_eq!(used_milli(&app.usage("alice").await, "dollars"), 0);
    let groups = priced_groups(&app.usage_events_all("userId=alice").await);
    assert_eq!(groups[0]["price"]["source"], "unpriced");
    assert_eq!(groups[0]["price"]["model"], "my-fine-tune-7");
}

#[tokio::test]
async fn a_group_priced_by_the_provider_counts_the_cost_it_reported() {
    let provider = Provider::start();
    let app = gateway_for(&provider, json!({}), |_| {}).await;
    app.put_plan(dollars_plan(json!({ "measure": { "price": "provider" } })))
        .await;
    app.subscribe("alice", "plan_dollars", None).await;
    // The provider says the call cost $0.012345: 1.2345 cents, rounded up to 1.235.
    let res = chat_call(
        &app,
        &[("x-sim", "cost=12345")],
        json!({ "model": "gpt-4.1", "max_tokens": 10,
            "messages": [ { "role": "user", "content": "hello" } ] }),
    )
    .send()
    .await
    .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(used_milli(&app.usage("alice").await, "dollars"), 1_235);
    let groups = priced_groups(&app.usage_events_all("userId=alice").await);
    assert_eq!(groups[0]["price"]["source"], "provider");
}

#[tokio::test]
async fn a_hundred_parallel_clamping_reserves_against_ten_and_a_half_worst_cases_hold_ten_whole_and_one_half() {
    let app = spawn_app().await;
    let two = app.clone_for_node();
    app.put_plan(json!({ "id": "plan_fit", "periodType": "month", "groups": [
        { "id": "renders", "unit": "count", "quota": 105, "fit": "clamp", "minFit": 1,
          "matches": [ { "event": "render" } ] } ] }))
        .await;
    app.subscribe("alice", "plan_fit", None).await;
    let calls = (0..100).map(|i| {
        let app = if i % 2 == 0 { &app } else { &two };
        async move {
            app.reserve(json!({ "userId": "alice", "event": "render", "quantity": 10 }))
                .await
        }
    });
    let answers = join_all(calls).await;
    let whole = answers
        .iter()
        .filter(|a| a["allowed"] == true && a.get("granted").is_none())
        .count();
    let clamped: Vec<&Value> = answers.iter().filter(|a| a.get("granted").is_some()).collect();
    let denied = answers.iter().filter(|a| a["allowed"] == false).count();
    assert_eq!((whole, clamped.len(), denied), (10, 1, 89));
    assert_eq!(clamped[0]["granted"]["quantity"], json!(5));
    assert_eq!(clamped[0]["granted"]["outputTokens"], Value::Null);
    // Never over: everything held is the quota, and the clamped reservation holds its half.
    let usage = app.usage("alice").await;
    let counter = TestApp::counter(&usage, "renders");
    assert_eq!(counter["reserved"], json!(105));
    let id = clamped[0]["reservationId"].as_str().unwrap();
    let (_, reservation) = app.json(Method::GET, &format!("/v1/reservations/{id}"), None).await;
    assert_eq!(reservation["holds"][0]["amount"], json!(5), "{reservation}");
    assert_eq!(reservation["quantity"], json!(5), "{reservation}");
    // A reserve may refuse to clamp where its group would.
    let whole_only = app
        .reserve(json!({ "userId": "alice", "event": "render", "quantity": 10, "fit": "whole" }))
        .await;
    assert_eq!(whole_only["allowed"], false);
}

#[tokio::test]
async fn parallel_clamped_reserves_each_record_what_they_were_granted_in_their_one_round_trip() {
    let app = spawn_app().await;
    let two = app.clone_for_node();
    // Cents: 0.3 a thousand input tokens, 1.1 a thousand output and 0.7 a thousand reasoning
    // (which shrink with the output), on 40 cents a month, clamping to at least 10 tokens: ten
    // calls of 3.87 cents fit whole, the eleventh clamps.
    app.put_plan(json!({ "id": "plan_cents", "periodType": "month", "groups": [
        { "id": "cents", "unit": "cents", "quota": 40, "fit": "clamp", "minFit": 10,
          "measure": { "weights": { "input_tokens": 0.0003, "output_tokens": 0.0011,
                                    "reasoning_tokens": 0.0007 } },
          "matches": [ { "event": "llm" } ] } ] }))
        .await;
    for user in ["alice", "bob", "carol", "dave"] {
        app.subscribe(user, "plan_cents", None).await;
    }
    let call_of = |user: &str| {
        json!({ "userId": user, "event": "llm", "quantity": 4_400,
            "metadata": { "input_tokens": 2_000, "output_tokens": 2_400, "reasoning_tokens": 900 } })
    };
    // Per user: warm, then one whole reserve and one clamped, each one's round trips counted.
    // The node's count has its background calls too (they only add), so the least of three
    // users' counts is each reserve's own: a clamped reserve takes as many as a whole one.
    let (mut whole_trips, mut clamped_trips, mut clamped) = (f64::MAX, f64::MAX, Value::Null);
    for user in ["alice", "carol", "dave"] {
        let call = call_of(user);
        let warm = app.reserve(call.clone()).await;
        assert_eq!(
            (warm["allowed"].clone(), warm.get("granted")),
            (json!(true), None),
            "{warm}"
        );
        let before = app.redis_calls().await;
        let whole = app.reserve(call.clone()).await;
        whole_trips = whole_trips.min(app.redis_calls().await - before);
        assert_eq!(whole["allowed"], true);
        for _ in 0..8 {
            app.reserve(call.clone()).await;
        }
        let at_clamp = app.redis_calls().await;
        let answer = app.reserve(call.clone()).await;
        clamped_trips = clamped_trips.min(app.redis_calls().await - at_clamp);
        assert!(answer.get("granted").is_some(), "{answer}");
        if user == "alice" {
            clamped = answer;
        }
    }
    assert_eq!(clamped_trips, whole_trips);
    // Then many at once from two nodes: each clamped record says what its answer granted.
    let calls = (0..24).map(|i| {
        let (app, call) = (if i % 2 == 0 { &app } else { &two }, call_of("bob"));
        async move { app.reserve(call).await }
    });
    let mut answers = join_all(calls).await;
    answers.push(clamped);
    let mut seen = 0;
    for answer in answers.iter().filter(|a| a.get("granted").is_some()) {
        let id = answer["reservationId"].as_str().unwrap();
        let (_, record) = app.json(Method::GET, &format!("/v1/reservations/{id}"), None).await;
        assert_eq!(record["quantity"], answer["granted"]["quantity"], "{record} {answer}");
        let tokens = answer["granted"]["outputTokens"].as_u64().unwrap();
        assert!((10..2_400).contains(&tokens), "{answer}");
        seen += 1;
    }
    assert_eq!(seen, 2, "one reserve of each user clamped");
    for user in ["alice", "bob"] {
        let usage = app.usage(user).await;
        assert_eq!(TestApp::counter(&usage, "cents")["reserved"], json!(40), "{usage}");
    }
}

#[tokio::test]
async fn a_clamped_proxied_call_asks_the_provider_for_no_more_than_was_held() {
    let provider = Provider::start();
    let app = gateway_for(&provider, json!({}), |_| {}).await;
    // 100 output tokens a month, clamping down to at least 10.
    app.put_plan(json!({ "id": "plan_out", "periodType": "month", "groups": [
        { "id": "output", "unit": "tokens", "quota": 100, "fit": "clamp", "minFit": 10,
          "measure": { "metadata": "output_tokens" }, "matches": [ { "event": "openai.chat" } ] } ] }))
        .await;
    app.subscribe("alice", "plan_out", None).await;
    let call = |max: u64, sim: &'static str| {
        chat_call(
            &app,
            &[("x-sim", sim)],
            json!({ "model": "gpt-4.1", "max_tokens": max,
                "messages": [ { "role": "user", "content": "write a long story" } ] }),
        )
        .send()
    };
    assert_eq!(call(70, "output=70").await.unwrap().status(), 200);
    // 30 are left: a call asking for 50 is sent with max_tokens 30 and charged what it wrote.
    assert_eq!(call(50, "output=50").await.unwrap().status(), 200);
    let body = last_body(&provider).await;
    assert_eq!(body["max_tokens"], 30, "{body}");
    let usage = app.usage("alice").await;
    assert_eq!(TestApp::counter(&usage, "output")["used"], json!(100));
    // Nothing left: below the least, denied.
    assert_eq!(call(50, "output=50").await.unwrap().status(), 429);
}

#[tokio::test]
async fn a_catalog_file_with_a_malformed_entry_stops_the_node_naming_it() {
    let mut catalog: Value = serde_json::from_str(quota_gateway::surface::quota::catalog::BUILT_IN).unwrap();
    let name = catalog["models"][2]["model"].as_str().unwrap().to_string();
    catalog["models"][2]["outputPerMillion"] = json!("a lot");
    let path = std::env::temp_dir().join(format!("{}-catalog.json", crate::support::unique_prefix()));
    std::fs::write(&path, catalog.to_string()).unwrap();
    let target = crate::support::redis::shared().target();
    let mut config = crate::support::test_config(&crate::support::unique_prefix(), "root");
    config.redis_mode = target.mode;
    config.catalog = Some(path.clone());
    let err = match quota_gateway::startup::Application::build(&config, &target.url).await {
        Ok(_) => panic!("a malformed catalog must stop the node"),
        Err(err) => err.to_string(),
    };
    assert!(err.contains(&format!("models[2] ({name}).outputPerMillion")), "{err}");
    assert!(err.starts_with("QG_CATALOG"), "{err}");
    // A good file is loaded, and its version answered.
    catalog["models"][2]["outputPerMillion"] = json!(1);
    catalog["version"] = json!("2099-01-01");
    std::fs::write(&path, catalog.to_string()).unwrap();
    let app = crate::support::spawn_app_with(&target, &crate::support::unique_prefix(), None, |c| {
        c.catalog = Some(path.clone());
    })
    .await;
    let (_, answer) = app.json(Method::GET, "/v1/catalog", None).await;
    assert_eq!(answer["version"], "2099-01-01");
}

#[tokio::test]
async fn a_balance_group_priced_at_a_thousand_credits_a_dollar_burns_the_calls_cost_in_credits() {
    let app = spawn_app().await;
    app.put_plan(json!({ "id": "plan_credits", "periodType": "month", "groups": [
        { "id": "wallet", "balance": "credits",
          "measure": { "price": "catalog", "creditsPerDollar": 1000 }, "matches": [ { "event": "llm.call" } ] } ] }))
        .await;
    app.subscribe("alice", "plan_credits", None).await;
    let (status, _) = app
        .json(
            Method::POST,
            "/v1/users/alice/grants",
            Some(json!({ "balance": "credits", "amount": 500, "source": "purchase" })),
        )
        .await;
    assert_eq!(status, 201);
    let (gpt, _) = catalog_price(&app, "gpt-4.1").await;
    let held = app
        .reserve(json!({ "userId": "alice", "event": "llm.call",
            "metadata": { "model": "gpt-4.1", "input_tokens": 20000, "output_tokens": 5000 } }))
        .await;
    assert_eq!(held["allowed"], true, "{held}");
    let (status, _) = app
        .commit(
            held["reservationId"].as_str().unwrap(),
            Some(json!({ "metadata": { "input_tokens": 10000, "output_tokens": 2000 } })),
        )
        .await;
    assert_eq!(status, 200);
    // A thousand credits a dollar is ten a cent.
    let burned = milli_cents(&gpt, 10000, 2000, 1_000_000) * 10;
    let (_, balances) = app.json(Method::GET, "/v1/users/alice/balances", None).await;
    let available = balances["data"][0]["available"].as_f64().unwrap();
    assert_eq!(500_000 - (available * 1000.0).round() as u128, burned, "{balances}");
    let groups = priced_groups(&app.usage_events_all("userId=alice").await);
    assert_eq!(groups[0]["price"]["source"], "catalog");
}

#[tokio::test]
async fn a_proxied_call_asks_to_clamp_with_a_header_and_a_bad_one_is_named() {
    let provider = Provider::start();
    let app = gateway_for(&provider, json!({}), |_| {}).await;
    app.put_plan(json!({ "id": "plan_out", "periodType": "month", "groups": [
        { "id": "output", "unit": "tokens", "quota": 40, "measure": { "metadata": "output_tokens" },
          "matches": [ { "event": "openai.chat" } ] } ] }))
        .await;
    app.subscribe("alice", "plan_out", None).await;
    let call = |fit: &'static str| {
        chat_call(
            &app,
            &[("X-Quota-Fit", fit), ("X-Quota-Min-Fit", "5")],
            json!({ "model": "gpt-4.1", "max_completion_tokens": 100,
                "messages": [ { "role": "user", "content": "hi" } ] }),
        )
        .send()
    };
    let refused = call("squeeze").await.unwrap();
    assert_eq!(refused.status(), 400);
    assert_eq!(refused.headers()["x-quota-code"], "invalid_request");
    assert!(refused.text().await.unwrap().contains("X-Quota-Fit"));
    // The group holds whole by itself; the header lets this call clamp to the 40 left.
    assert_eq!(call("clamp").await.unwrap().status(), 200);
    let body = last_body(&provider).await;
    assert_eq!(body["max_completion_tokens"], 40, "{body}");
}

#[tokio::test]
async fn a_call_naming_no_maximum_output_is_held_at_the_catalogs_output_limit_capped_by_the_upstreams() {
    let provider = Provider::start();
    // The upstream allows far more than the model can write: the catalog's limit holds.
    let app = gateway_for(&provider, json!({ "maxOutputTokens": 10_000_000 }), |_| {}).await;
    app.put_plan(json!({ "id": "plan_out", "periodType": "month", "groups": [
        { "id": "output", "unit": "tokens", "quota": 100000000, "measure": { "metadata": "output_tokens" },
          "matches": [ { "event": "openai.chat" } ] } ] }))
        .await;
    app.subscribe("alice", "plan_out", None).await;
    let (gpt, _) = catalog_price(&app, "gpt-4.1").await;
    let limit = gpt["maxOutputTokens"].as_u64().unwrap();
    let pending = chat_call(
        &app,
        &[("x-sim", "stall=1500")],
        json!({ "model": "gpt-4.1", "messages": [ { "role": "user", "content": "hi" } ] }),
    )
    .send();
    let watch = async {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        loop {
            let usage = app.usage("alice").await;
            let reserved = TestApp::counter(&usage, "output")["reserved"].as_u64().unwrap_or(0);
            if reserved > 0 || std::time::Instant::now() > deadline {
                return reserved;
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
    };
    let (answer, reserved) = tokio::join!(pending, watch);
    assert_eq!(answer.unwrap().status(), 200);
    assert_eq!(reserved, limit);
}

#[tokio::test]
async fn catalog_diff_prints_every_changed_price_for_review() {
    let mut newer: Value = serde_json::from_str(quota_gateway::surface::quota::catalog::BUILT_IN).unwrap();
    let model = newer["models"][0]["model"].as_str().unwrap().to_string();
    newer["models"][0]["outputPerMillion"] = json!(123.5);
    newer["version"] = json!("2099-01-01");
    let path = std::env::temp_dir().join(format!("{}-newer.json", crate::support::unique_prefix()));
    std::fs::write(&path, newer.to_string()).unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_quota-gateway"))
        .args(["catalog", "diff", "built-in"])
        .arg(&path)
        .output()
        .unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains(&format!("~ {model} outputPerMillion: ")), "{text}");
    assert!(text.contains("-> 123.5") && text.contains("1 change(s)"), "{text}");
    // A long-context tier's and a batch price's changes are shown too.
    let pro = newer["models"]
        .as_array_mut()
        .unwrap()
        .iter_mut()
        .find(|m| m["model"] == "gemini-2.5-pro")
        .unwrap();
    pro["longContext"]["outputPerMillion"] = json!(16);
    pro["batch"]["inputPerMillion"] = json!(0.6);
    std::fs::write(&path, newer.to_string()).unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_quota-gateway"))
        .args(["catalog", "diff", "built-in"])
        .arg(&path)
        .output()
        .unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.contains("~ gemini-2.5-pro longContext.outputPerMillion: 15 -> 16")
            && text.contains("~ gemini-2.5-pro batch.inputPerMillion: 0.625 -> 0.6")
            && text.contains("3 change(s)"),
        "{text}"
    );
    // A malformed file is refused, naming the entry, with a failing exit.
    newer["models"][0]["asOf"] = json!("soon");
    std::fs::write(&path, newer.to_string()).unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_quota-gateway"))
        .args(["catalog", "check"])
        .arg(&path)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(err.contains(&format!("models[0] ({model}).asOf")), "{err}");
}

/// The community's price list, converted by `catalog import` and loaded by a node with
/// `QG_CATALOG`: a priced group then prices an imported model at the list's price exactly.
/// `catalog import` of a price list in the community's format (`list`, as its text): the
/// catalog file it wrote, and its report of what it imported and left out.
fn import(list: &str) -> (std::path::PathBuf, String) {
    import_within(list, None)
}

/// As `import`, the process limited to `memory_kb` of address space when given.
pub(crate) fn import_within(list: &str, memory_kb: Option<u64>) -> (std::path::PathBuf, String) {
    let dir = std::env::temp_dir().join(crate::support::unique_prefix());
    std::fs::create_dir_all(&dir).unwrap();
    let (input, output) = (dir.join("list.json"), dir.join("catalog.json"));
    std::fs::write(&input, list).unwrap();
    let binary = env!("CARGO_BIN_EXE_quota-gateway");
    let mut command = match memory_kb {
        Some(kb) => {
            let mut sh = std::process::Command::new("sh");
            sh.args(["-c", &format!(r#"ulimit -v {kb} && exec "$0" "$@""#), binary]);
            sh
        }
        None => std::process::Command::new(binary),
    };
    let out = command
        .args(["catalog", "import"])
        .arg(&input)
        .args([
            "--source",
            "https://example.com/prices.json",
            "--as-of",
            "2026-11-28",
            "--out",
        ])
        .arg(&output)
        .output()
        .unwrap();
    let report = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "{report}");
    (output, report)
}

/// A node pricing by the catalog file `catalog`.
async fn node_with_catalog(catalog: &std::path::Path) -> TestApp {
    crate::support::spawn_app_with(
        &crate::support::redis::shared().target(),
        &crate::support::unique_prefix(),
        None,
        |c| c.catalog = Some(catalog.to_path_buf()),
    )
    .await
}

#[tokio::test]
async fn an_imported_price_list_prices_its_models_exactly_once_a_node_loads_it() {
    let list = json!({
        "sample_spec": { "max_tokens": "set to max_output_tokens" },
        "house/llm-7b": { "max_input_tokens": 32000, "max_output_tokens": 4096,
            "input_cost_per_token": 2.5e-7, "output_cost_per_token": 1e-6,
            "input_cost_per_token_batches": 1.25e-7, "litellm_provider": "together_ai", "mode": "chat" },
        "whisper-1": { "mode": "audio_transcription", "input_cost_per_second": 0.0001, "litellm_provider": "openai" },
        "dall-e-3": { "mode": "image_generation", "input_cost_per_pixel": 4.0054321e-8, "litellm_provider": "openai" },
        "odd": { "input_cost_per_token": "cheap", "output_cost_per_token": 1e-6, "max_tokens": 10, "litellm_provider": "x" }
    });
    let (output, report) = import(&list.to_string());
    assert!(report.contains("imported 2 models; left out 2"), "{report}");
    assert!(
        report.contains("left out odd: input_cost_per_token is not a number"),
        "{report}"
    );
    assert!(
        report.contains("left out dall-e-3: has no price per input and output token"),
        "{report}"
    );
    assert!(!report.contains("input_cost_per_token_batches"), "{report}");
    let imported: Value = serde_json::from_str(&std::fs::read_to_string(&output).unwrap()).unwrap();
    assert_eq!(imported["models"][0]["inputPerMillion"], json!(0.25));
    assert_eq!(
        imported["models"][0]["batch"],
        json!({ "inputPerMillion": 0.125, "outputPerMillion": 1 })
    );
    assert_eq!(imported["models"][0]["source"], "https://example.com/prices.json");

    let catalog = quota_gateway::surface::quota::catalog::Catalog::parse(&imported.to_string()).unwrap();
    let app = node_with_catalog(&output).await;
    assert_eq!(catalog.version(), "imported-2026-11-28");
    app.put_plan(dollars_plan(json!({}))).await;
    app.subscribe("alice", "plan_dollars", None).await;
    // 1,000,000 in at $0.25 and 1,000,000 out at $1: $1.25, 150 cents with the markup.
    let track = json!({ "userId": "alice", "event": "llm.call",
        "metadata": { "model": "house/llm-7b", "input_tokens": 1_000_000, "output_tokens": 1_000_000 } });
    let (status, tracked) = app.json(Method::POST, "/v1/track", Some(track)).await;
    assert_eq!(status, 200, "{tracked}");
    assert_eq!(used_milli(&app.usage("alice").await, "dollars"), 150_000);
    // Audio by the second: 90 s of whisper-1 at $0.0001 is $0.009, 1.08 cents with the markup.
    let track = json!({ "userId": "alice", "event": "llm.call",
        "metadata": { "model": "whisper-1", "audio_seconds": 90 } });
    let (status, tracked) = app.json(Method::POST, "/v1/track", Some(track)).await;
    assert_eq!(status, 200, "{tracked}");
    assert_eq!(used_milli(&app.usage("alice").await, "dollars"), 151_080);
}

#[tokio::test]
async fn a_price_list_of_five_thousand_models_imports_loads_and_prices_its_last_model_exactly() {
    // The community list holds thousands of models: each one priced as written, the node
    // loading them all, the last as exactly as the first.
    // Written as text, as the list writes its prices: `{i + 1}e-9` dollars a token.
    let entries: Vec<String> = (0..5_000u64)
        .map(|i| {
            format!(
                r#""house/model-{i}": {{"mode": "chat", "litellm_provider": "house", "max_input_tokens": 128000,
                    "max_output_tokens": 4096, "input_cost_per_token": {}e-9, "output_cost_per_token": 2e-6}}"#,
                i + 1
            )
        })
        .collect();
    let (output, report) = import(&format!("{{{}}}", entries.join(",")));
    assert!(report.contains("imported 5000 models; left out 0"), "{report}");
    let app = node_with_catalog(&output).await;
    let (status, catalog) = app.json(Method::GET, "/v1/catalog", None).await;
    assert_eq!(status, 200);
    let models = catalog["models"].as_array().unwrap();
    assert_eq!(models.len(), 5_000);
    let last = models.iter().find(|m| m["model"] == "house/model-4999").unwrap();
    assert_eq!(last["inputPerMillion"], json!(5), "{last}");
    app.put_plan(dollars_plan(json!({}))).await;
    app.subscribe("alice", "plan_dollars", None).await;
    // 1,000,000 in at $5 and 1,000,000 out at $2: $7, 840 cents with the markup.
    let track = json!({ "userId": "alice", "event": "llm.call",
        "metadata": { "model": "house/model-4999", "input_tokens": 1_000_000, "output_tokens": 1_000_000 } });
    let (status, tracked) = app.json(Method::POST, "/v1/track", Some(track)).await;
    assert_eq!(status, 200, "{tracked}");
    assert_eq!(used_milli(&app.usage("alice").await, "dollars"), 840_000);
}

#[tokio::test]
async fn a_commit_that_leaves_a_count_out_is_priced_at_what_was_held_for_it() {
    let app = spawn_app().await;
    app.put_plan(dollars_plan(json!({}))).await;
    app.subscribe("alice", "plan_dollars", None).await;
    let (status, _) = app
        .json(
            Method::PUT,
            "/v1/prices/house-model",
            Some(json!({ "inputPerMillion": 1, "outputPerMillion": 2 })),
        )
        .await;
    assert_eq!(status, 200);
    let held = app
        .reserve(json!({ "userId": "alice", "event": "llm.call",
            "metadata": { "model": "house-model", "input_tokens": 1_000_000, "output_tokens": 1_000_000 } }))
        .await;
    // The commit reports the output only: the input stays at its 1,000,000 held ($1), the
    // output is 500,000 ($1): $2, 240 cents with the markup.
    let (status, _) = app
        .commit(
            held["reservationId"].as_str().unwrap(),
            Some(json!({ "metadata": { "output_tokens": 500_000 } })),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(used_milli(&app.usage("alice").await, "dollars"), 240_000);
}

/// A project's price with a long-context tier: a call whose input tokens pass the threshold
/// costs the tier's prices on every token, one at the threshold the base prices; a hold is
/// priced at the tier its worst case reaches and its commit at the tier of what was reported.
/// The catalog's gemini-2.5-pro has its tier over 200k tokens too.
#[tokio::test]
async fn a_call_past_a_long_context_threshold_costs_the_tiers_prices_and_one_at_it_the_base() {
    let app = spawn_app().await;
    app.put_plan(dollars_plan(json!({}))).await;
    app.subscribe("alice", "plan_dollars", None).await;
    let tier = json!({ "overInputTokens": 200000, "inputPerMillion": 2.5, "cachedInputPerMillion": 0.25,
        "outputPerMillion": 15 });
    let batch = json!({ "inputPerMillion": 0.625, "outputPerMillion": 5 });
    let (status, stored) = app
        .json(
            Method::PUT,
            "/v1/prices/house-pro",
            Some(
                json!({ "inputPerMillion": 1.25, "cachedInputPerMillion": 0.125, "outputPerMillion": 10,
                "longContext": tier, "batch": batch }),
            ),
        )
        .await;
    assert_eq!(status, 200, "{stored}");
    assert_eq!((&stored["longContext"], &stored["batch"]), (&tier, &batch));
    let (_, read) = app.json(Method::GET, "/v1/prices/house-pro", None).await;
    assert_eq!(read, stored);

    let track = |input: u64, output: u64| {
        json!({ "userId": "alice", "event": "llm.call",
            "metadata": { "model": "house-pro", "input_tokens": input, "output_tokens": output } })
    };
    let mut used = 0;
    // At the threshold: 200,000 in at $1.25/M and 1,000 out at $10/M, $0.26: 31.2 cents with
    // the markup.
    let (status, answer) = app.json(Method::POST, "/v1/track", Some(track(200_000, 1_000))).await;
    assert_eq!(status, 200, "{answer}");
    used += 31_200;
    assert_eq!(used_milli(&answer, "dollars"), used);
    // One token over: every token at the tier, 200,001 at $2.50/M and 1,000 at $15/M,
    // $0.5150025: 61.8003 cents, rounded up to 61.801.
    let (_, answer) = app.json(Method::POST, "/v1/track", Some(track(200_001, 1_000))).await;
    used += 61_801;
    assert_eq!(used_milli(&answer, "dollars"), used);

    // A hold of a worst case of 250,000 input and 8,000 output tokens is at the tier: $0.745,
    // 89.4 cents. Its commit at the 150,000 and 2,000 reported is at the base: $0.2075, 24.9.
    let held = app.reserve(track(250_000, 8_000)).await;
    assert_eq!(held["allowed"], true, "{held}");
    let reserved = TestApp::counter(&held, "dollars")["reserved"].as_f64().unwrap();
    assert_eq!((reserved * 1000.0).round() as u128, 89_400);
    let (status, committed) = app
        .commit(
            held["reservationId"].as_str().unwrap(),
            Some(json!({ "metadata": { "input_tokens": 150_000, "output_tokens": 2_000 } })),
        )
        .await;
    assert_eq!(status, 200, "{committed}");
    used += 24_900;
    assert_eq!(used_milli(&committed, "dollars"), used);

    // The catalog's gemini-2.5-pro: over 200,000 input tokens, at its tier's prices.
    let (pro, _) = catalog_price(&app, "gemini-2.5-pro").await;
    assert_eq!(pro["longContext"]["overInputTokens"], 200_000, "{pro}");
    assert!(pro["batch"]["inputPerMillion"].is_number(), "{pro}");
    let call = json!({ "userId": "alice", "event": "llm.call",
        "metadata": { "model": "gemini-2.5-pro", "input_tokens": 300_000, "output_tokens": 1_000 } });
    let (_, answer) = app.json(Method::POST, "/v1/track", Some(call)).await;
    used += milli_cents(&pro["longContext"], 300_000, 1_000, 1_200_000);
    assert_eq!(used_milli(&answer, "dollars"), used);
    assert!(milli_cents(&pro["longContext"], 300_000, 1_000, 1_200_000) > milli_cents(&pro, 300_000, 1_000, 1_200_000));
}
