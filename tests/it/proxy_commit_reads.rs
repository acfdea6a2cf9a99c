//! A proxied call's commit reads back no record its node knows: the node that held the call
//! commits it by the record it encoded, where that is provably the one Redis keeps, and reads
//! the record back wherever it may not be (a hold that clamped, a team member's holds on its
//! slices of the team's budget). Counted in Redis's slow log with every command logged, by the
//! client that sent it: a script's own reads of the record are logged as its own client's.

use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::support::provider::{gateway_on, Provider};
use crate::support::redis::{Target, TestCluster, TestRedis};
use crate::support::TestApp;
use quota_gateway::surface::store::RedisMode;

/// Proxied calls a user makes on each path.
const CALLS: usize = 10;

/// A Redis of the test's own on the topology the suite runs on, so its log is this test's.
enum Own {
    Standalone(TestRedis),
    Cluster(TestCluster),
}

impl Own {
    fn start() -> Own {
        match std::env::var("QG_TEST_TOPOLOGY").as_deref() {
            Ok("cluster") => Own::Cluster(TestCluster::start()),
            _ => Own::Standalone(TestRedis::start()),
        }
    }

    fn target(&self) -> Target {
        match self {
            Own::Standalone(redis) => redis.target(),
            Own::Cluster(cluster) => Target {
                url: cluster.url(),
                mode: RedisMode::Cluster,
            },
        }
    }

    fn servers(&self) -> Vec<&TestRedis> {
        match self {
            Own::Standalone(redis) => vec![redis],
            Own::Cluster(cluster) => cluster.nodes.iter().collect(),
        }
    }

    /// Logs every command clients send from now on, and nothing before.
    fn log_every_command(&self) {
        for server in self.servers() {
            server.log_every_command();
        }
    }

    /// How many HGETs the node sent of `user`'s reservation records since the log was reset.
    /// A script's own commands are logged too: by Redis as the client "?:0", by Valkey as the
    /// client that called the script. Either way a commit's own read of its record is followed
    /// by the `ZSCORE` that asks whether it is still open (changes.lua's state_of), and the
    /// node's read by the commit that follows it.
    fn record_reads(&self, user: &str) -> usize {
        let key = format!(":{{default:{user}}}:res");
        self.servers()
            .iter()
            .map(|server| {
                let log = server.slowlog();
                let command = |i: usize| log.get(i).and_then(|l| l.args.first()).map(|c| c.to_ascii_lowercase());
                (0..log.len())
                    .filter(|&i| {
                        let from_node = log[i].client.starts_with("127.0.0.1:");
                        let first = log[i].args.get(1).map_or("", String::as_str);
                        let next_is_zscore = command(i + 1).as_deref() == Some("zscore");
                        from_node && command(i).as_deref() == Some("hget") && first.ends_with(&key) && !next_is_zscore
                    })
                    .count()
            })
            .sum()
    }
}

/// Per user: output tokens (a budget `fit` clamps), all tokens, and cents at the catalog's
/// price of the model.
fn plan(output: u64) -> Value {
    let events = json!([ { "event": "openai.chat" } ]);
    json!({ "id": format!("plan_{output}"), "periodType": "month", "groups": [
        { "id": "output", "unit": "tokens", "quota": output, "measure": { "metadata": "output_tokens" }, "matches": events },
        { "id": "tokens", "unit": "tokens", "quota": 100000000, "matches": events },
        { "id": "cents", "unit": "cents", "quota": 1000000, "measure": { "price": "catalog" }, "matches": events } ] })
}

/// A chat call of `user` whose answer has `output` tokens; with a maximum output, or none (it
/// is held at what is left of its budget).
async fn call(app: &TestApp, user: &str, output: u64, max_tokens: Option<u64>) {
    let mut body = json!({ "model": "gpt-4o-mini",
        "messages": [ { "role": "user", "content": "Say hello to the world in five words" } ] });
    if let Some(max) = max_tokens {
        body["max_tokens"] = json!(max);
    }
    let res = app
        .client
        .post(format!("{}/proxy/openai/v1/chat/completions", app.address))
        .bearer_auth(&app.key)
        .header("X-Quota-User", user)
        .header("x-sim", format!("output={output}"))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK, "{}", res.text().await.unwrap_or_default());
}

/// `user`'s own counters (used, as answered: cents have decimals) of every group, once nothing
/// is held (at most 10 s).
async fn settled(app: &TestApp, user: &str) -> Vec<(String, Value)> {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let usage = app.usage(user).await;
        let own: Vec<&Value> = usage["counters"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|c| c["subjectId"].is_null() || c["subjectId"] == user)
            .collect();
        if own.iter().all(|c| c["reserved"] == 0) {
            let mut used: Vec<(String, Value)> = own
                .iter()
                .map(|c| (c["groupId"].as_str().unwrap().to_string(), c["used"].clone()))
                .collect();
            used.sort_by(|a, b| a.0.cmp(&b.0));
            return used;
        }
        assert!(Instant::now() < deadline, "{user} still holds: {usage}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn a_plain_proxied_call_commits_without_reading_its_record_and_others_read_it_and_settle_alike() {
    let own = Own::start();
    let provider = Provider::start();
    let app = gateway_on(&own.target(), &provider, json!({}), |_| {}).await;
    app.put_plan(plan(1_000_000)).await;
    app.put_plan(plan(50)).await;
    app.put_plan(json!({ "id": "plan_team", "periodType": "month", "groups": [
        { "id": "pool", "unit": "tokens", "quota": 100000000, "matches": [ { "event": "openai.chat" } ] } ] }))
        .await;
    app.subscribe("alice", "plan_1000000", None).await;
    app.subscribe("team_acme", "plan_team", None).await;
    let (status, body) = app
        .json(
            reqwest::Method::PUT,
            "/v1/users/bob/subscription",
            Some(json!({ "planId": "plan_1000000", "parentId": "team_acme" })),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    app.subscribe("carol", "plan_50", None).await;
    // A first call each warms the node's caches (plans, subscriptions, prices).
    for user in ["alice", "bob"] {
        call(&app, user, 3, Some(16)).await;
    }
    settled(&app, "bob").await;
    own.log_every_command();
    for i in 0..CALLS as u64 {
        call(&app, "alice", 1 + i % 7, Some(16)).await;
        call(&app, "bob", 1 + i % 7, Some(16)).await;
    }
    let (alice, bob) = (settled(&app, "alice").await, settled(&app, "bob").await);
    // The plain path reads no record; a team member's holds on slices of its team's budget
    // were placed on leases only the script knew, so its commit reads the record, as before.
    assert_eq!(own.record_reads("alice"), 0);
    assert_eq!(own.record_reads("bob"), CALLS);
    // Both settled the same calls alike, to the cent.
    assert_eq!(alice, bob);
    let output: u64 = 3 + (0..CALLS as u64).map(|i| 1 + i % 7).sum::<u64>();
    assert!(alice.contains(&("output".to_string(), json!(output))), "{alice:?}");
    assert!(
        alice.iter().any(|(g, used)| g == "cents" && used.as_f64() > Some(0.0)),
        "{alice:?}"
    );
    // A call naming no maximum is held at the 50 tokens carol has left: the hold clamped, so
    // its record is fits.lua's and is read back; it settles at what the provider reported.
    own.log_every_command();
    call(&app, "carol", 7, None).await;
    let carol = settled(&app, "carol").await;
    assert_eq!(own.record_reads("carol"), 1);
    assert!(carol.contains(&("output".to_string(), json!(7))), "{carol:?}");
}
