//! Redis unreachable, silent, stopped, restarted, or evicting: fast 503s, never an allow, and
//! recovery without a restart.

use std::time::Duration;

use reqwest::Method;
use serde_json::{json, Value};

use crate::support::proxy::Proxy;
use crate::support::{freemium_free_plan, redis, spawn_app_on, spawn_app_with, unique_prefix};

#[tokio::test]
#[ignore = "a fault test: scripts/test runs these alone, serially"]
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

/// A call that gave up (the command timeout) leaves its late reply behind on the node's
/// connection: it must go nowhere, never to the call queued after it. One worker, so both
/// calls share one connection; a check gives up, a reserve waits behind it, and Redis answers
/// both once thawed: the reserve must get its own answer, not the check's.
#[tokio::test]
#[ignore = "a fault test: scripts/test runs these alone, serially"]
async fn a_late_reply_of_a_timed_out_call_never_answers_the_next_call() {
    let own = redis::TestRedis::start();
    let proxy = Proxy::start(own.port).await;
    let app = spawn_app_with(&proxy.target(), &unique_prefix(), None, |config| config.workers = 1).await;
    app.put_plan(json!({ "id": "plan_late", "periodType": "month",
        "groups": [ { "id": "g", "unit": "count", "quota": 1000, "matches": [ { "event": "*" } ] } ] }))
        .await;
    app.subscribe("u", "plan_late", None).await;
    let reserve = json!({ "userId": "u", "event": "e" });
    // Warm the node's caches, so the check's only Redis call is its script.
    assert_eq!(app.json(Method::POST, "/v1/check", Some(reserve.clone())).await.0, 200);

    let mut answered = 0;
    for _ in 0..6 {
        proxy.freeze();
        // The command timeout is 250 ms: the check gives up while the reserve still waits.
        let read = app.json(Method::POST, "/v1/check", Some(reserve.clone()));
        let held = async {
            tokio::time::sleep(Duration::from_millis(150)).await;
            app.json(Method::POST, "/v1/reserve", Some(reserve.clone())).await
        };
        let thaw = async {
            tokio::time::sleep(Duration::from_millis(300)).await;
            proxy.thaw();
        };
        let ((read_status, _), (status, answer), ()) = tokio::join!(read, held, thaw);
        assert_eq!(read_status, 503);
        // The reserve has 150 ms left after the thaw; one that timed out too proves nothing
        // (a reserve handed the check's reply fails as well, so most must be answered).
        if status == 503 {
            continue;
        }
        assert_eq!(status, 200, "{answer}");
        let id = answer["reservationId"].as_str().expect("a reserve's own answer");
        let (status, read) = app.json(Method::GET, &format!("/v1/reservations/{id}"), None).await;
        assert_eq!(
            (status.as_u16(), read["reservationId"].as_str()),
            (200, Some(id)),
            "{read}"
        );
        answered += 1;
    }
    assert!(
        answered >= 4,
        "only {answered} of 6 reserves were answered after the thaw"
    );
}

#[tokio::test]
#[ignore = "a fault test: scripts/test runs these alone, serially"]
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
#[ignore = "a fault test: scripts/test runs these alone, serially"]
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

/// Reserves from `workers` tasks for `calls` rounds each, recording each answer's status and
/// how long it took; every call is bounded by the client's timeout.
async fn load(app: &crate::support::TestApp, workers: usize, calls: usize) -> Vec<(u16, Duration, Option<String>)> {
    let tasks = (0..workers).map(|w| async move {
        let mut seen = Vec::new();
        for _ in 0..calls {
            let started = std::time::Instant::now();
            let res = app
                .client
                .post(format!("{}/v1/reserve", app.address))
                .bearer_auth(&app.key)
                .json(&json!({ "userId": format!("w{w}"), "event": "image.model_a", "metadata": { "variant": "1k" } }))
                .timeout(Duration::from_secs(1))
                .send()
                .await;
            let elapsed = started.elapsed();
            match res {
                Ok(res) => {
                    let status = res.status().as_u16();
                    let retry = res
                        .headers()
                        .get("retry-after")
                        .map(|v| v.to_str().unwrap_or_default().to_string());
                    seen.push((status, elapsed, retry));
                }
                Err(err) => panic!("a request waited longer than 1 s or failed: {err}"),
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        seen
    });
    futures::future::join_all(tasks).await.into_iter().flatten().collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore = "a fault test: scripts/test runs these alone, serially"]
async fn redis_stopped_under_load_gives_fast_503s_then_recovers_without_a_restart() {
    let own = redis::TestRedis::start_with(&["--appendonly", "yes", "--appendfsync", "always"]);
    let app = spawn_app_on(&own.target(), &unique_prefix(), None).await;
    let mut plan = freemium_free_plan();
    plan["groups"][0]["quota"] = json!(100000);
    app.put_plan(plan).await;
    for w in 0..4 {
        app.subscribe(&format!("w{w}"), "plan_free", None).await;
    }
    let healthy = load(&app, 4, 5).await;
    assert!(healthy.iter().all(|(s, _, _)| *s == 200));

    own.stop();
    let down = load(&app, 4, 10).await;
    assert!(
        down.iter().all(|(s, _, r)| *s == 503 && r.as_deref() == Some("1")),
        "{down:?}"
    );
    let slowest = down.iter().map(|(_, d, _)| *d).max().unwrap();
    eprintln!("slowest answer while redis was down: {slowest:?}");

    let (port, dir) = (own.port, own.dir.clone());
    let _back = redis::TestRedis::spawn(port, dir, &["--appendonly", "yes", "--appendfsync", "always"])
        .expect("redis restarts");
    // Every worker thread's connection reconnects by itself; wait until a whole round passes.
    let mut recovered = false;
    for _ in 0..100 {
        if load(&app, 4, 5).await.iter().all(|(s, _, _)| *s == 200) {
            recovered = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(recovered, "the gateway recovers when redis returns, without a restart");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore = "a fault test: scripts/test runs these alone, serially"]
async fn script_and_function_flushes_under_load_are_invisible_to_clients() {
    let own = redis::TestRedis::start();
    let app = spawn_app_on(&own.target(), &unique_prefix(), None).await;
    let mut plan = freemium_free_plan();
    plan["groups"][0]["quota"] = json!(100000);
    app.put_plan(plan).await;
    for w in 0..4 {
        app.subscribe(&format!("w{w}"), "plan_free", None).await;
    }
    // The scripts (the control plane's) and the function library (the data plane's), each
    // flushed five times while the load runs: every call that finds its code gone loads it
    // again and is answered as if nothing happened.
    let flusher = async {
        for i in 0..10 {
            tokio::time::sleep(Duration::from_millis(30)).await;
            let what = if i % 2 == 0 { "FUNCTION" } else { "SCRIPT" };
            let _: String = own.query(&[what, "FLUSH"]);
        }
    };
    let (answers, ()) = futures::join!(load(&app, 4, 40), flusher);
    assert!(
        answers.iter().all(|(s, _, _)| *s == 200),
        "{:?}",
        answers.iter().filter(|a| a.0 != 200).collect::<Vec<_>>()
    );
}

/// The dashboard with its Redis silent: a page that says so and asks again by itself, quickly,
/// never the API's problem+json.
#[tokio::test]
#[ignore = "a fault test: scripts/test runs these alone, serially"]
async fn a_silent_redis_gives_the_dashboard_a_page_that_tries_again() {
    let own = redis::TestRedis::start();
    let proxy = Proxy::start(own.port).await;
    let app = spawn_app_on(&proxy.target(), &unique_prefix(), None).await;
    let dash = crate::dashboard::Dashboard::sign_in(&app).await;

    proxy.freeze();
    let res = dash
        .client
        .get(format!("{}/dashboard/users", app.address))
        .header(reqwest::header::COOKIE, &dash.cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 503);
    assert_eq!(res.headers()["retry-after"], "1");
    assert!(res.headers()["content-type"].to_str().unwrap().starts_with("text/html"));
    let page = res.text().await.unwrap();
    assert!(page.contains("The store is not answering"), "{page}");
    assert!(page.contains("http-equiv=\"refresh\""), "{page}");
    assert!(!page.contains("redis://"), "no internals on the page: {page}");
    proxy.thaw();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore = "a fault test: scripts/test runs these alone, serially"]
async fn after_redis_restarts_no_call_meets_a_connection_of_the_server_before() {
    let args = ["--appendonly", "yes", "--appendfsync", "always"];
    let own = redis::TestRedis::start_with(&args);
    let app = spawn_app_on(&own.target(), &unique_prefix(), None).await;
    app.put_plan(freemium_free_plan()).await;
    app.subscribe("u", "plan_free", None).await;
    let render = json!({ "userId": "u", "event": "image.model_a", "metadata": { "variant": "1k" } });
    // Reads and writes in parallel, so the node's pool holds several connections.
    let warm = (0..16).map(|_| app.call(Method::GET, "/v1/users/u/usage", None));
    futures::future::join_all(warm).await;
    own.kill();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let _again = redis::TestRedis::spawn(own.port, own.dir.clone(), &args).expect("redis restarts on its data");
    // Once Redis answers again, every call answers: none fails on a connection the restart closed.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while app.call(Method::GET, "/readyz", None).await.status() != 200 {
        assert!(std::time::Instant::now() < deadline, "not ready again");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let mut statuses = Vec::new();
    for _ in 0..8 {
        let res = app.call(Method::POST, "/v1/reserve", Some(render.clone())).await;
        let status = res.status().as_u16();
        if status != 200 {
            eprintln!("reserve answered {status}: {}", res.text().await.unwrap_or_default());
        }
        statuses.push(status);
        let reads = (0..8).map(|_| app.call(Method::GET, "/v1/users/u/usage", None));
        for res in futures::future::join_all(reads).await {
            statuses.push(res.status().as_u16());
        }
    }
    assert!(statuses.iter().all(|s| *s == 200), "{statuses:?}");
}
