//! Redis unreachable, silent, stopped, restarted, or evicting: fast 503s, never an allow, and
//! recovery without a restart.

use std::time::Duration;

use reqwest::Method;
use serde_json::{json, Value};

use crate::support::proxy::Proxy;
use crate::support::{freemium_free_plan, redis, spawn_app_on, unique_prefix};

#[tokio::test]
async fn a_silent_redis_gives_503_then_recovers_and_bad_input_never_waits_for_it() {
    let own = redis::TestRedis::start();
    let proxy = Proxy::start(own.port).await;
    let app = spawn_app_on(&proxy.target(), &unique_prefix(), None).await;
    app.put_plan(freemium_free_plan()).await;
    app.subscribe("u", "plan_free", None).await;
    let render = json!({ "userId": "u", "event": "image.model_a", "metadata": { "variant": "1k" } });

    proxy.freeze();
    let res = app.call(Method::POST, "/v1/reserve", Some(render.clone())).await;
    assert_eq!(res.status(), 503);
    assert_eq!(res.headers()["retry-after"], "1");
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["code"], "backend_unavailable");
    assert!(
        !body.to_string().contains("redis://"),
        "no internals in the body: {body}"
    );

    // Validation happens before any Redis call, so a bad request is answered at once.
    let (status, _) = app
        .json(
            Method::POST,
            "/v1/reserve",
            Some(json!({ "userId": "u", "event": "bad event" })),
        )
        .await;
    assert_eq!(status, 400);
    let ready = app.client.get(format!("{}/readyz", app.address)).send().await.unwrap();
    assert_eq!(ready.status(), 503);

    proxy.thaw();
    let mut answer = Value::Null;
    for _ in 0..50 {
        let res = app.call(Method::POST, "/v1/reserve", Some(render.clone())).await;
        if res.status() == 200 {
            answer = res.json().await.unwrap();
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(answer["allowed"], true, "recovered without a restart");
}

#[tokio::test]
async fn a_stopped_redis_gives_503_not_an_allow() {
    let own = redis::TestRedis::start();
    let app = spawn_app_on(&own.target(), &unique_prefix(), None).await;
    app.put_plan(freemium_free_plan()).await;
    app.subscribe("u", "plan_free", None).await;
    own.stop();
    let res = app
        .call(
            Method::POST,
            "/v1/reserve",
            Some(json!({ "userId": "u", "event": "image.model_a", "metadata": { "variant": "1k" } })),
        )
        .await;
    assert_eq!(res.status(), 503);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["code"], "backend_unavailable");
}

#[tokio::test]
async fn readyz_refuses_a_redis_that_may_evict() {
    let own = redis::TestRedis::start();
    let app = spawn_app_on(&own.target(), &unique_prefix(), None).await;
    let _: String = own.query(&["CONFIG", "SET", "maxmemory-policy", "allkeys-lru"]);
    let res = app.client.get(format!("{}/readyz", app.address)).send().await.unwrap();
    assert_eq!(res.status(), 503);
    let body: Value = res.json().await.unwrap();
    assert!(body["reason"].as_str().unwrap().contains("allkeys-lru"), "{body}");
    own.stop();
}
