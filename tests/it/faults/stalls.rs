//! A Redis that stalls (`DEBUG SLEEP`: it answers nothing, to anyone) is told apart from one
//! busy with the node's own queue of calls: every call waiting on it answers 503 well before
//! the stall ends, measured against the stall's own length.

use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::future::join_all;
use reqwest::Method;
use serde_json::json;

use crate::support::{freemium_free_plan, redis, spawn_app_on, unique_prefix, TestApp};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore = "a fault test: scripts/test runs these alone, serially"]
async fn calls_to_a_stalled_redis_answer_503_long_before_the_stall_ends() {
    let own = redis::TestRedis::start_with(&["--enable-debug-command", "yes"]);
    let app = spawn_app_on(&own.target(), &unique_prefix(), None).await;
    let mut plan = freemium_free_plan();
    plan["groups"][0]["quota"] = json!(100000);
    app.put_plan(plan).await;
    app.subscribe("st", "plan_free", None).await;
    let render = json!({ "userId": "st", "event": "image.model_a", "metadata": { "variant": "1k" } });
    assert_eq!(app.json(Method::POST, "/v1/reserve", Some(render.clone())).await.0, 200);

    // A stall of 4 s, from a connection of its own; fifty calls sent once it began.
    let stall = Duration::from_secs(4);
    let url = own.url();
    let stalled = tokio::task::spawn_blocking(move || {
        let mut conn = ::redis::Client::open(url).unwrap().get_connection().unwrap();
        let began = Instant::now();
        let _: () = ::redis::cmd("DEBUG").arg("SLEEP").arg("4").query(&mut conn).unwrap();
        began.elapsed()
    });
    tokio::time::sleep(Duration::from_millis(100)).await;
    let calls = (0..50).map(|_| {
        let (app, render) = (&app, render.clone());
        async move {
            let started = Instant::now();
            let status = app.call(Method::POST, "/v1/reserve", Some(render)).await.status();
            (status.as_u16(), started.elapsed())
        }
    });
    let answers = join_all(calls).await;
    let lasted = stalled.await.unwrap();
    assert!(lasted >= stall, "the stall lasted {lasted:?}");
    assert!(answers.iter().all(|(s, _)| *s == 503), "{answers:?}");
    let slowest = answers.iter().map(|(_, d)| *d).max().unwrap();
    assert!(
        slowest.as_secs_f64() < lasted.as_secs_f64() / 4.0,
        "the slowest 503 took {slowest:?} of a {lasted:?} stall"
    );
    // Once it answers again, so do the calls.
    assert_eq!(app.json(Method::POST, "/v1/reserve", Some(render)).await.0, 200);
}

/// Whether `node` holds `user`'s slot (project "default"): a key of its tag is not MOVED.
fn holds(node: &redis::TestRedis, user: &str) -> bool {
    keeps(node, &format!("{{default:{user}}}:probe"))
}

/// Whether `key`'s slot is this node's (it answers rather than redirects).
fn keeps(node: &redis::TestRedis, key: &str) -> bool {
    node.try_query::<i64>(&["EXISTS", key]).is_ok()
}

/// A secret key minted until one's record is kept by `node` (a third of them are).
async fn a_key_kept_by(app: &TestApp, node: &redis::TestRedis) -> String {
    let pattern = format!("{}:key:*", app.prefix);
    let kept = || node.query::<Vec<String>>(&["KEYS", &pattern]).len();
    for _ in 0..40 {
        let before = kept();
        let body = json!({ "kind": "secret", "label": "stalled" });
        let (status, minted) = app
            .json_as(&app.root_token, Method::POST, "/v1/projects/default/keys", Some(body))
            .await;
        assert_eq!(status, 201, "{minted}");
        if kept() > before {
            return minted["key"].as_str().unwrap().to_string();
        }
    }
    panic!("no key of 40 kept by the node");
}

/// On a Cluster, one master stalls while the others answer: the node's calls to the stalled
/// master answer 503 before the stall ends (the node sees Redis answering, on the other
/// masters, so it gives a call the longer bound a queue is given: twenty command timeouts),
/// and the other masters' users are answered 200 throughout: the node's poll of the config
/// epoch fails on the stalled master meanwhile, and the node keeps the config it holds (the
/// key the others call with, whose record is on that master too).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore = "a fault test: scripts/test runs these alone, serially"]
async fn on_a_cluster_a_stalled_master_answers_its_users_503_before_the_stall_ends_and_no_one_else() {
    // A node time-out past the stall: the other masters must not fail the stalled one over
    // (the cluster would refuse every shard's calls while it has no replica to promote).
    let cluster = redis::TestCluster::start_with(&["--enable-debug-command", "yes", "--cluster-node-timeout", "20000"]);
    let target = redis::Target {
        url: cluster.url(),
        mode: quota_gateway::surface::store::RedisMode::Cluster,
    };
    // A prefix whose config epoch the stalled master keeps: the node's poll of it fails too.
    let prefix = std::iter::repeat_with(unique_prefix)
        .find(|p| keeps(&cluster.nodes[0], &format!("{p}:epoch")))
        .unwrap();
    let app = spawn_app_on(&target, &prefix, None).await;
    let mut plan = freemium_free_plan();
    plan["groups"][0]["quota"] = json!(100000);
    app.put_plan(plan).await;
    let users: Vec<String> = (0..200).map(|n| format!("u{n}")).collect();
    let stalled_user = users.iter().find(|u| holds(&cluster.nodes[0], u)).unwrap().clone();
    let other_user = users.iter().find(|u| !holds(&cluster.nodes[0], u)).unwrap().clone();
    let render = |user: &str| json!({ "userId": user, "event": "image.model_a", "metadata": { "variant": "1k" } });
    let key = a_key_kept_by(&app, &cluster.nodes[0]).await;
    for user in [&stalled_user, &other_user] {
        app.subscribe(user, "plan_free", None).await;
        let answer = app.call_as(&key, Method::POST, "/v1/reserve", Some(render(user))).await;
        assert_eq!(answer.status(), 200);
    }

    // A stall of 8 s of the first master; twenty calls to it, and calls to another master one
    // after another meanwhile, until the stall is over and the stalled calls are answered (at
    // most 800): the epoch poll in flight when it began has failed by then.
    let url = cluster.nodes[0].url();
    let stall_over = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let stall_ending = stall_over.clone();
    let stalled = tokio::task::spawn_blocking(move || {
        let mut conn = ::redis::Client::open(url).unwrap().get_connection().unwrap();
        let began = Instant::now();
        let _: () = ::redis::cmd("DEBUG").arg("SLEEP").arg("8").query(&mut conn).unwrap();
        stall_ending.store(true, std::sync::atomic::Ordering::Relaxed);
        began.elapsed()
    });
    tokio::time::sleep(Duration::from_millis(100)).await;
    let done = std::sync::atomic::AtomicBool::new(false);
    let calls = (0..20).map(|_| {
        let (app, body) = (&app, render(&stalled_user));
        async move {
            let started = Instant::now();
            let status = app.call(Method::POST, "/v1/reserve", Some(body)).await.status();
            (status.as_u16(), started.elapsed())
        }
    });
    let stalled_calls = async {
        let answers = join_all(calls).await;
        done.store(true, std::sync::atomic::Ordering::Relaxed);
        answers
    };
    let others = async {
        let mut statuses = Vec::new();
        let going = || {
            !done.load(std::sync::atomic::Ordering::Relaxed) || !stall_over.load(std::sync::atomic::Ordering::Relaxed)
        };
        while going() && statuses.len() < 800 {
            let status = app
                .call_as(&key, Method::POST, "/v1/reserve", Some(render(&other_user)))
                .await
                .status();
            statuses.push(status.as_u16());
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        statuses
    };
    let (answers, others) = futures::join!(stalled_calls, others);
    let lasted = stalled.await.unwrap();
    assert!(answers.iter().all(|(s, _)| *s == 503), "{answers:?}");
    let slowest = answers.iter().map(|(_, d)| *d).max().unwrap();
    assert!(
        slowest < lasted,
        "the slowest 503 took {slowest:?} of a {lasted:?} stall"
    );
    assert!(!others.is_empty() && others.iter().all(|s| *s == 200), "{others:?}");
}
