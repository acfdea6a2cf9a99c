//! An attributable ledger: every usage entry says what was used (the reservation's metadata
//! and quantity), through which key, and, in a parent's ledger, by which member, with the
//! member's entry's id.

use std::time::{Duration, Instant};

use reqwest::Method;
use serde_json::{json, Value};

use crate::support::{spawn_app, TestApp};

/// A team pool over members, each entry-bearing group matching every event.
async fn team(app: &TestApp) {
    for (id, quota) in [("plan_member", 100), ("plan_team", 1000)] {
        app.put_plan(json!({ "id": id, "periodType": "month", "groups": [
            { "id": "renders", "unit": "count", "quota": quota, "matches": [ { "event": "*" } ] } ] }))
            .await;
    }
    app.subscribe("team_acme", "plan_team", None).await;
    for member in ["m1", "m2"] {
        let body = json!({ "planId": "plan_member", "parentId": "team_acme" });
        let (status, answer) = app
            .json(Method::PUT, &format!("/v1/users/{member}/subscription"), Some(body))
            .await;
        assert_eq!(status, 200, "{answer}");
    }
}

/// The id of a key minted for this test, and the key.
async fn minted(app: &TestApp) -> (String, String) {
    let (status, minted) = app
        .json_as(
            &app.root_token,
            Method::POST,
            "/v1/projects/default/keys",
            Some(json!({ "kind": "secret", "label": "render worker" })),
        )
        .await;
    assert_eq!(status, 201, "{minted}");
    (
        minted["keyId"].as_str().unwrap().to_string(),
        minted["key"].as_str().unwrap().to_string(),
    )
}

/// Every entry of `user`'s ledger (with `query` added), oldest first.
async fn entries(app: &TestApp, user: &str, query: &str) -> Vec<Value> {
    let (status, page) = app
        .json(
            Method::GET,
            &format!("/v1/usage-events?userId={user}&limit=1000{query}"),
            None,
        )
        .await;
    assert_eq!(status, 200, "{page}");
    assert_eq!(page["nextCursor"], Value::Null);
    page["data"].as_array().unwrap().clone()
}

fn by_id<'a>(entries: &'a [Value], id: &str) -> &'a Value {
    entries
        .iter()
        .find(|e| e["id"] == id)
        .unwrap_or_else(|| panic!("no entry {id} in {entries:?}"))
}

#[tokio::test]
async fn every_commit_says_what_was_used_through_which_key_and_by_which_member() {
    let app = spawn_app().await;
    team(&app).await;
    let (key_id, key) = minted(&app).await;
    let call = |method: Method, path: String, body: Value| {
        let (key, app) = (&key, &app);
        async move { app.json_as(key, method, &path, Some(body)).await }
    };
    let reserve = |user: &'static str, ttl: u64| {
        call(
            Method::POST,
            "/v1/reserve".into(),
            json!({ "userId": user, "event": "image.render", "quantity": 3,
                    "metadata": { "model": "flux-pro", "variant": "1k" }, "ttlSeconds": ttl }),
        )
    };

    // Committed as reserved: the reservation's metadata and quantity.
    let (_, held) = reserve("m1", 60).await;
    let plain = held["reservationId"].as_str().unwrap().to_string();
    let (status, view) = app.json(Method::GET, &format!("/v1/reservations/{plain}"), None).await;
    assert_eq!(status, 200);
    assert_eq!(
        (&view["quantity"], &view["metadata"]["model"]),
        (&json!(3), &json!("flux-pro"))
    );
    assert_eq!(
        call(Method::POST, format!("/v1/reservations/{plain}/commit"), json!({}))
            .await
            .0,
        200
    );

    // Committed with the actual amount and more metadata: the commit's on top of the reserve's.
    let (_, held) = reserve("m2", 60).await;
    let actual = held["reservationId"].as_str().unwrap().to_string();
    let body = json!({ "quantity": 2, "metadata": { "seed": 7, "variant": "2k" } });
    assert_eq!(
        call(Method::POST, format!("/v1/reservations/{actual}/commit"), body)
            .await
            .0,
        200
    );

    // Committed after it expired: late, and still attributed.
    let (_, held) = reserve("m1", 1).await;
    let late = held["reservationId"].as_str().unwrap().to_string();
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let (_, view) = app.json(Method::GET, &format!("/v1/reservations/{late}"), None).await;
        if view["status"] == "expired" {
            break;
        }
        assert!(Instant::now() < deadline, "the reservation expires: {view}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // A reader judges expiry by the node's clock; the script by Redis time, a hair apart.
    tokio::time::sleep(Duration::from_millis(250)).await;
    assert_eq!(
        call(Method::POST, format!("/v1/reservations/{late}/commit"), json!({}))
            .await
            .0,
        200
    );

    let m1 = entries(&app, "m1", "").await;
    let m2 = entries(&app, "m2", "").await;
    // The members' three commits reach the team's ledger with the node's next batch of notes.
    app.usage_events_at_least("userId=team_acme", 3).await;
    let pool = entries(&app, "team_acme", "").await;
    let flux = json!({ "model": "flux-pro", "variant": "1k" });
    for (entries, member) in [(&m1, None), (&pool, Some("m1"))] {
        let e = by_id(entries, &format!("commit:{plain}"));
        assert_eq!(
            (&e["metadata"], &e["quantity"], &e["keyId"]),
            (&flux, &json!(3), &json!(key_id))
        );
        assert_eq!(e["memberId"], json!(member), "{e}");
        let e = by_id(entries, &format!("late_commit:{late}"));
        assert_eq!(
            (&e["metadata"], &e["quantity"], &e["keyId"]),
            (&flux, &json!(3), &json!(key_id))
        );
        assert_eq!(e["memberId"], json!(member), "{e}");
    }
    let merged = json!({ "model": "flux-pro", "seed": 7, "variant": "2k" });
    for (entries, member) in [(&m2, None), (&pool, Some("m2"))] {
        let e = by_id(entries, &format!("commit:{actual}"));
        assert_eq!(
            (&e["metadata"], &e["quantity"], &e["keyId"]),
            (&merged, &json!(2), &json!(key_id))
        );
        assert_eq!(e["memberId"], json!(member), "{e}");
    }
    // The team's ledger by member, and the CSV's column.
    let only_m2 = entries(&app, "team_acme", "&memberId=m2").await;
    assert_eq!(only_m2.len(), 1, "{only_m2:?}");
    assert_eq!(only_m2[0]["id"], format!("commit:{actual}"));
    let (status, refused) = app.json(Method::GET, "/v1/usage-events?memberId=m2", None).await;
    assert_eq!(
        (status.as_u16(), refused["field"].as_str()),
        (400, Some("memberId")),
        "{refused}"
    );
    let csv = app.usage_events_csv("userId=team_acme").await;
    // memberId follows metadata (which holds commas of its own), before the credits' columns
    // and the value, empty here.
    let mut lines = csv.lines();
    assert!(
        lines.next().unwrap().ends_with(
            ",keyId,metadata,memberId,balance,grantId,credits,category,costBasis,value,runId,actionId,stepKind,deniedBy,heldSince,reserved,heldUntil,changesUsage,priceSource,outcome,previousOutcome,fallbackOf,attempt"
        ),
        "{csv}"
    );
    // The expiry's row ends a hold and counts nothing: it names no key or member.
    let rows: Vec<&str> = lines.filter(|r| !r.starts_with("expiry:")).collect();
    assert_eq!(rows.len(), 3, "{csv}");
    assert!(
        rows.iter().all(|r| r.contains(&format!(",{key_id},"))
            && (r.contains("}\",m1,,,,,,,,,,,") || r.contains("}\",m2,,,,,,,,,,,"))),
        "{csv}"
    );
}

#[tokio::test]
async fn a_track_at_every_level_has_one_id_the_member_and_the_key() {
    let app = spawn_app().await;
    team(&app).await;
    let (key_id, key) = minted(&app).await;
    let track = |idempotency: Option<&'static str>| {
        let mut request = app
            .client
            .post(format!("{}/v1/track", app.address))
            .bearer_auth(&key)
            .json(
                &json!({ "userId": "m1", "event": "llm.tokens", "quantity": 1200, "metadata": { "model": "gpt-4o" } }),
            );
        if let Some(k) = idempotency {
            request = request.header("Idempotency-Key", k);
        }
        async move { request.send().await.unwrap().status() }
    };
    assert_eq!(track(Some("job-1")).await, 200);
    assert_eq!(track(None).await, 200);
    let mine = entries(&app, "m1", "").await;
    let pool = entries(&app, "team_acme", "").await;
    assert_eq!((mine.len(), pool.len()), (2, 2), "{mine:?} {pool:?}");
    for (own, shared) in mine.iter().zip(&pool) {
        assert_eq!(own["id"], shared["id"], "one id at both levels");
        assert_eq!((&own["memberId"], &shared["memberId"]), (&Value::Null, &json!("m1")));
        for e in [own, shared] {
            assert_eq!(
                (&e["keyId"], &e["metadata"]["model"], &e["quantity"]),
                (&json!(key_id), &json!("gpt-4o"), &json!(1200))
            );
        }
    }
    assert_ne!(mine[0]["id"], mine[1]["id"]);
}

/// Every entry of `user`'s ledger, read a page at a time.
/// The entries that counted usage (holds' ends and denials count none).
async fn entries_of(app: &TestApp, user: &str) -> Vec<Value> {
    let mut entries = app.usage_events_all(&format!("userId={user}&limit=1000")).await;
    entries.retain(|e| e["groups"].as_array().is_some_and(|g| !g.is_empty()));
    entries
}

/// Twenty members of a team reserve, check and track in parallel while Redis time (a fast
/// clock, six times the machine's) crosses two minute boundaries: every answer counts the event in
/// the same window at the member and at the team, since every level decides at the instant the
/// request read once; and the team's ledger, window by window, sums to the team's counters.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn one_event_is_counted_in_one_window_at_every_level_across_a_boundary() {
    use std::collections::BTreeMap;

    use futures::future::join_all;
    use futures::StreamExt;
    use quota_gateway::gateway::Clock;

    use crate::support::{redis::TestRedis, spawn_app_with, unique_prefix};

    let next_minute_ms = (Clock::local_ms() / 60_000 + 1) * 60_000;
    let own = TestRedis::start_fast_clock(next_minute_ms - 4_000, 6);
    let redis_minute = || own.query::<Vec<String>>(&["TIME"])[0].parse::<i64>().unwrap() / 60;
    // A wait between levels widens the time between a member's level and the team's, as a
    // loaded node's would: with a clock read per level, events at a boundary split windows.
    // Each level by a script of its own (leases off): on slices a member's one script decides
    // every level at one instant, and the team's counters lag its live slices by design.
    let app = &spawn_app_with(&own.target(), &unique_prefix(), None, |c| {
        c.test.level_pause_ms = 50;
        c.leases = false;
    })
    .await;
    for id in ["plan_member", "plan_team"] {
        app.put_plan(json!({ "id": id, "periodType": "minute", "groups": [
            { "id": "calls", "unit": "count", "quota": 1000000, "matches": [ { "event": "*" } ] } ] }))
            .await;
    }
    app.subscribe("team_b", "plan_team", None).await;
    let members: Vec<String> = (0..20).map(|i| format!("b{i:02}")).collect();
    for m in &members {
        let body = json!({ "planId": "plan_member", "parentId": "team_b" });
        assert_eq!(
            app.json(Method::PUT, &format!("/v1/users/{m}/subscription"), Some(body))
                .await
                .0,
            200
        );
    }
    // Windows of the member and the team in an answer's counters.
    let windows = |answer: &Value, member: &str| {
        let of = |subject: &str| {
            answer["counters"]
                .as_array()
                .and_then(|cs| cs.iter().find(|c| c["subjectId"] == subject))
                .map(|c| c["periodStart"].clone())
                .unwrap_or_else(|| panic!("no counter of {subject} in {answer}"))
        };
        (of(member), of("team_b"))
    };
    let start = redis_minute();
    let deadline = Instant::now() + Duration::from_secs(40);
    let (mut seen, mut held) = (BTreeMap::<String, usize>::new(), Vec::new());
    for round in 0..2_000 {
        if redis_minute() >= start + 2 || Instant::now() > deadline {
            break;
        }
        let path = ["/v1/reserve", "/v1/check", "/v1/track"][round % 3];
        let answers = join_all(members.iter().map(|m| {
            let body = json!({ "userId": m, "event": "llm.call" });
            async move { (m, app.json(Method::POST, path, Some(body)).await) }
        }))
        .await;
        for (m, (status, answer)) in answers {
            assert_eq!(status, 200, "{path}: {answer}");
            if path == "/v1/check" {
                let (own, pool) = windows(&answer, m);
                assert_eq!(own, pool, "{path} of {m}: {answer}");
                continue;
            }
            let (own, pool) = windows(&answer, m);
            assert_eq!(own, pool, "{path} of {m}: {answer}");
            *seen.entry(own.as_str().unwrap().to_string()).or_default() += 1;
            if let Some(id) = answer["reservationId"].as_str() {
                held.push(id.to_string());
            }
        }
    }
    assert!(seen.len() >= 2, "the run crossed a boundary: {seen:?}");
    // Committed 32 at a time: each waits between levels.
    futures::stream::iter(&held)
        .for_each_concurrent(32, |id| async move {
            assert_eq!(app.commit(id, None).await.1["status"], "committed");
        })
        .await;
    // The team's ledger by window equals its counters by window.
    let entries = entries_of(app, "team_b").await;
    let mut ledger = BTreeMap::<String, f64>::new();
    // Every entry of the team is in its member's entry's window, commits included.
    let mut members_windows = BTreeMap::new();
    for m in &members {
        for e in entries_of(app, m).await {
            members_windows.insert(
                e["id"].as_str().unwrap().to_string(),
                e["groups"][0]["periodStart"].clone(),
            );
        }
    }
    for e in &entries {
        let own = members_windows.get(e["id"].as_str().unwrap());
        assert_eq!(own, Some(&e["groups"][0]["periodStart"]), "{e}");
    }
    for e in &entries {
        let g = &e["groups"][0];
        let start_ms = chrono::DateTime::parse_from_rfc3339(g["periodStart"].as_str().unwrap())
            .unwrap()
            .timestamp_millis();
        *ledger.entry(start_ms.to_string()).or_default() += g["amount"].as_f64().unwrap();
    }
    let fields: Vec<String> = own.query(&["HGETALL", &format!("{}:{{default:team_b}}:ctr", app.prefix)]);
    let counters: BTreeMap<String, f64> = fields
        .chunks(2)
        .filter_map(|kv| {
            let window = kv[0].strip_prefix("calls@")?.strip_suffix(":u")?;
            Some((window.to_string(), kv[1].parse::<f64>().unwrap() / 1000.0))
        })
        .collect();
    assert!(counters.len() >= 2, "{counters:?}");
    assert_eq!(ledger, counters, "the team's ledger by window is its counters");
}
