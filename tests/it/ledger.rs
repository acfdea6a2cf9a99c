//! The usage ledger: every commit, track and adjustment once, written by the script that
//! changed the counter, so the entries of a user always sum to the counters.

use futures::future::join_all;
use futures::StreamExt;
use reqwest::Method;
use serde_json::{json, Value};

use crate::support::{spawn_app, TestApp};

async fn events(app: &TestApp, user: &str) -> Vec<Value> {
    app.usage_events_all(&format!("userId={user}&limit=7")).await
}

/// Per group, the sum of the ledger's amounts.
/// `quota-gateway export` of every user's whole ledger into `out`, as NDJSON or CSV.
async fn export_all(app: &TestApp, csv: bool, out: &std::path::Path) -> quota_gateway::export::Exported {
    let request = quota_gateway::export::ExportRequest {
        url: &app.address,
        key: &app.key,
        from: None,
        to: None,
        user: None,
        csv,
    };
    quota_gateway::export::export(&request, out, false).await.unwrap()
}

fn sums(entries: &[Value]) -> std::collections::BTreeMap<String, f64> {
    let mut sums = std::collections::BTreeMap::new();
    for e in entries {
        for g in e["groups"].as_array().unwrap() {
            *sums.entry(g["groupId"].as_str().unwrap().to_string()).or_default() += g["amount"].as_f64().unwrap();
        }
    }
    sums
}

async fn plan(app: &TestApp) {
    app.put_plan(json!({ "id": "plan_l", "periodType": "month", "groups": [
        { "id": "all", "unit": "count", "quota": 1000, "matches": [ { "event": "*" } ] },
        { "id": "renders", "unit": "count", "quota": 3, "matches": [ { "event": "render" } ] },
        { "id": "jobs", "unit": "concurrent", "quota": 5, "matches": [ { "event": "render" } ] } ] }))
        .await;
}

#[tokio::test]
async fn every_commit_release_denial_track_and_adjustment_appears_once() {
    let app = spawn_app().await;
    plan(&app).await;
    app.subscribe("alice", "plan_l", None).await;
    let a = app
        .reserve(json!({ "userId": "alice", "event": "render", "metadata": { "model": "x" } }))
        .await;
    let a_id = a["reservationId"].as_str().unwrap().to_string();
    let (status, _) = app.commit(&a_id, Some(json!({ "quantity": 2 }))).await;
    assert_eq!(status, 200);
    assert_eq!(
        app.commit(&a_id, Some(json!({ "quantity": 2 }))).await.0,
        200,
        "a repeat answers, writes nothing"
    );
    let b = app.reserve(json!({ "userId": "alice", "event": "render" })).await;
    app.release(b["reservationId"].as_str().unwrap()).await;
    let denied = app
        .reserve(json!({ "userId": "alice", "event": "render", "quantity": 10 }))
        .await;
    assert_eq!(denied["allowed"], false);
    let keyed = |key: &'static str| {
        app.client
            .post(format!("{}/v1/track", app.address))
            .bearer_auth(&app.key)
            .header("Idempotency-Key", key)
            .json(&json!({ "userId": "alice", "event": "chat", "quantity": 1.5 }))
            .send()
    };
    assert_eq!(keyed("t-1").await.unwrap().status(), 200);
    assert_eq!(
        keyed("t-1").await.unwrap().status(),
        200,
        "an idempotent repeat writes nothing"
    );
    let (status, _) = app
        .json(
            Method::POST,
            "/v1/users/alice/adjustments",
            Some(json!({ "groupId": "all", "amount": -1, "reason": "refund" })),
        )
        .await;
    assert_eq!(status, 200);

    let entries = events(&app, "alice").await;
    let kinds: Vec<&str> = entries.iter().map(|e| e["kind"].as_str().unwrap()).collect();
    assert_eq!(
        kinds,
        ["commit", "release", "denied", "track", "adjustment"],
        "{entries:?}"
    );
    // Each entry says whether it changed usage: a release's and a denial's quantity is what
    // was held or asked, never used.
    let changes: Vec<bool> = entries.iter().map(|e| e["changesUsage"].as_bool().unwrap()).collect();
    assert_eq!(changes, [true, false, false, true, true], "{entries:?}");
    assert_eq!(entries[0]["id"], format!("commit:{a_id}"));
    assert_eq!(entries[0]["event"], "render");
    assert_eq!(entries[0]["quantity"], 2);
    // A hold's end says what it reserved and since when; a release and a denial count nothing.
    assert_eq!(
        (entries[0]["reserved"].clone(), entries[1]["reserved"].clone()),
        (json!(1), json!(1))
    );
    assert!(entries[0]["heldSince"].as_str().unwrap() <= entries[0]["time"].as_str().unwrap());
    assert_eq!(
        entries[1]["id"],
        format!("release:{}", b["reservationId"].as_str().unwrap())
    );
    assert_eq!(
        (entries[2]["quantity"].clone(), entries[2]["deniedBy"].clone()),
        (json!(10), json!(["renders", "jobs"]))
    );
    assert_eq!(
        (entries[1]["groups"].clone(), entries[2]["groups"].clone()),
        (json!([]), json!([]))
    );
    assert_eq!(entries[3]["quantity"], 1.5);
    assert_eq!(entries[4]["reason"], "refund");
    assert!(entries[4]["keyId"].as_str().is_some_and(|k| k.starts_with("key_")));
    // In-flight groups count no usage and so are in no entry.
    let usage = app.usage("alice").await;
    let sums = sums(&entries);
    for group in ["all", "renders"] {
        let used = TestApp::counter(&usage, group)["used"].as_f64().unwrap();
        assert_eq!(sums.get(group).copied().unwrap_or(0.0), used, "{group}: {entries:?}");
    }
    assert!(!sums.contains_key("jobs"));
    // Ids are stable: a second read gives the same ones.
    let again: Vec<Value> = events(&app, "alice")
        .await
        .into_iter()
        .map(|e| e["id"].clone())
        .collect();
    assert_eq!(again, entries.iter().map(|e| e["id"].clone()).collect::<Vec<_>>());
}

/// A user's denials are kept in the ledger up to 100 a day, however many arrive at once, while
/// the day's rollups count every one: 130 denials in parallel leave 100 entries.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn parallel_denials_keep_at_most_a_hundred_entries_a_day_and_the_rollups_count_all() {
    let app = spawn_app().await;
    plan(&app).await;
    app.subscribe("dora", "plan_l", None).await;
    let answers =
        join_all((0..130).map(|i| {
            app.reserve(json!({ "userId": "dora", "event": "render", "quantity": 4, "metadata": { "n": i } }))
        }))
        .await;
    assert!(answers.iter().all(|a| a["allowed"] == false), "{answers:?}");
    let entries = events(&app, "dora").await;
    assert_eq!(entries.len(), 100, "{entries:?}");
    assert!(entries
        .iter()
        .all(|e| e["kind"] == "denied" && e["deniedBy"] == json!(["renders"])));
    let (status, daily) = app.json(Method::GET, "/v1/users/dora/daily-usage", None).await;
    assert_eq!(status, 200, "{daily}");
    let groups = daily["days"].as_array().unwrap().last().unwrap()["groups"]
        .as_array()
        .unwrap()
        .clone();
    let renders = groups.iter().find(|g| g["groupId"] == "renders").unwrap();
    assert_eq!(renders["reservesDenied"], 130, "{daily}");
    assert!(groups.iter().all(|g| g["groupId"] != "~"), "{daily}");
}

/// A ledger written apart from the counters would lose or double entries under concurrency:
/// 200 operations from two nodes at once leave exactly one entry each.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn under_parallel_tracks_and_commits_from_two_nodes_the_ledger_sums_to_the_counters() {
    use crate::support::{redis, spawn_app_on, unique_prefix};

    let prefix = unique_prefix();
    let one = spawn_app_on(&redis::shared().target(), &prefix, None).await;
    let two = spawn_app_on(&redis::shared().target(), &prefix, Some(&one.key)).await;
    plan(&one).await;
    one.subscribe("bob", "plan_l", None).await;
    let nodes = [&one, &two];
    let tracks = (0..120).map(|i| async move {
        let body = json!({ "userId": "bob", "event": "chat", "quantity": (i % 3) + 1 });
        nodes[i % 2].json(Method::POST, "/v1/track", Some(body)).await.0
    });
    let commits = (0..80).map(|i| async move {
        let hold = nodes[i % 2]
            .reserve(json!({ "userId": "bob", "event": "chat", "quantity": 2 }))
            .await;
        let id = hold["reservationId"].as_str().unwrap().to_string();
        nodes[(i + 1) % 2].commit(&id, Some(json!({ "quantity": 1 }))).await.0
    });
    let (tracked, committed) = tokio::join!(join_all(tracks), join_all(commits));
    assert!(tracked.iter().chain(&committed).all(|s| *s == 200));
    let entries = events(&one, "bob").await;
    assert_eq!(entries.len(), 200);
    let used = TestApp::counter(&one.usage("bob").await, "all")["used"]
        .as_f64()
        .unwrap();
    assert_eq!(sums(&entries)["all"], used);
    assert_eq!(used, 120.0 * 2.0 + 80.0, "(1 + 2 + 3) * 40 tracked and 80 committed");
}

/// A hold ends in the ledger once, however many calls end it at once: twelve parallel releases
/// of one reservation from two nodes write one `release` entry, and twelve parallel calls after
/// another expired write one `expiry` entry (written beside the reclaim, in the same script).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_holds_end_is_one_entry_however_many_calls_end_it_at_once() {
    use crate::support::{redis, spawn_app_on, unique_prefix};
    use quota_gateway::surface::store::layout::Layout;

    let prefix = unique_prefix();
    let one = spawn_app_on(&redis::shared().target(), &prefix, None).await;
    let two = spawn_app_on(&redis::shared().target(), &prefix, Some(&one.key)).await;
    plan(&one).await;
    one.subscribe("cleo", "plan_l", None).await;
    let nodes = [&one, &two];
    let released = one.reserve(json!({ "userId": "cleo", "event": "render" })).await;
    let released = released["reservationId"].as_str().unwrap().to_string();
    let statuses = join_all((0..12).map(|i| nodes[i % 2].release(&released))).await;
    assert!(statuses.iter().all(|(s, _)| s.is_success()), "{statuses:?}");

    let expired = one.reserve(json!({ "userId": "cleo", "event": "render" })).await;
    let expired = expired["reservationId"].as_str().unwrap().to_string();
    crate::support::expire_at(&Layout::new(&prefix).user("default", "cleo"), &expired, "1");
    let statuses = join_all((0..12).map(|i| {
        nodes[i % 2].json(
            Method::POST,
            "/v1/track",
            Some(json!({ "userId": "cleo", "event": "chat" })),
        )
    }))
    .await;
    assert!(statuses.iter().all(|(s, _)| s.is_success()), "{statuses:?}");

    let entries = events(&one, "cleo").await;
    let ends: Vec<(&str, &str)> = entries
        .iter()
        .filter(|e| e["kind"] == "release" || e["kind"] == "expiry")
        .map(|e| (e["kind"].as_str().unwrap(), e["id"].as_str().unwrap()))
        .collect();
    assert_eq!(
        ends,
        [
            ("release", format!("release:{released}").as_str()),
            ("expiry", format!("expiry:{expired}").as_str())
        ],
        "{entries:?}"
    );
}

#[tokio::test]
async fn a_project_may_keep_no_ledger() {
    let app = spawn_app().await;
    plan(&app).await;
    let res = app
        .call_as(
            &app.root_token,
            Method::PATCH,
            "/v1/projects/default",
            Some(json!({ "ledger": false })),
        )
        .await;
    let status = res.status();
    let body: Value = res.json().await.unwrap();
    assert_eq!((status.as_u16(), body["ledger"].clone()), (200, json!(false)), "{body}");
    app.subscribe("carol", "plan_l", None).await;
    app.json(
        Method::POST,
        "/v1/track",
        Some(json!({ "userId": "carol", "event": "chat" })),
    )
    .await;
    assert!(events(&app, "carol").await.is_empty());
    assert_eq!(TestApp::counter(&app.usage("carol").await, "all")["used"], 1);
}

/// Every user of the project, paged, each user's entries in time order.
#[tokio::test]
async fn without_a_user_the_ledger_of_every_user_is_paged_user_by_user() {
    let app = spawn_app().await;
    plan(&app).await;
    for user in ["u1", "u2", "u3"] {
        app.subscribe(user, "plan_l", None).await;
        for quantity in [1, 2] {
            app.json(
                Method::POST,
                "/v1/track",
                Some(json!({ "userId": user, "event": "chat", "quantity": quantity })),
            )
            .await;
        }
    }
    let mut seen = Vec::new();
    let mut cursor = String::new();
    loop {
        let (status, page) = app
            .json(Method::GET, &format!("/v1/usage-events?limit=4{cursor}"), None)
            .await;
        assert_eq!(status, 200, "{page}");
        for e in page["data"].as_array().unwrap() {
            seen.push((
                e["userId"].as_str().unwrap().to_string(),
                e["quantity"].as_f64().unwrap(),
            ));
        }
        match page["nextCursor"].as_str() {
            Some(next) => cursor = format!("&cursor={next}"),
            None => break,
        }
    }
    let expected: Vec<(String, f64)> = ["u1", "u2", "u3"]
        .iter()
        .flat_map(|u| [(u.to_string(), 1.0), (u.to_string(), 2.0)])
        .collect();
    assert_eq!(seen, expected);
}

/// An export of 1,000 users, as NDJSON and as CSV (streamed, and through the export command),
/// sums to their counters exactly.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_export_of_a_thousand_users_matches_their_counters() {
    use futures::StreamExt;

    let app = spawn_app().await;
    app.put_plan(json!({ "id": "plan_x", "periodType": "month", "groups": [
        { "id": "tokens", "unit": "tokens", "quota": 1000000, "matches": [ { "event": "*" } ] } ] }))
        .await;
    let app = &app;
    let users: Vec<String> = (0..1000).map(|i| format!("user{i:04}")).collect();
    futures::stream::iter(users.iter().enumerate())
        .for_each_concurrent(32, |(i, user)| async move {
            app.subscribe(user, "plan_x", None).await;
            let body = json!({ "userId": user, "event": "llm", "quantity": (i % 7) as f64 + 0.5 });
            assert_eq!(app.json(Method::POST, "/v1/track", Some(body)).await.0, 200);
        })
        .await;
    let expected: f64 = (0..1000).map(|i| (i % 7) as f64 + 0.5).sum();

    // A thousand users' export takes longer than the test client's 10 s on a busy machine
    // (both topologies' suites at once): these reads have their own bound.
    let stream = |accept: &'static str| async move {
        let res = app
            .client
            .get(format!("{}/v1/usage-events", app.address))
            .bearer_auth(&app.key)
            .header("Accept", accept)
            .timeout(std::time::Duration::from_secs(120))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200);
        res.text().await.unwrap()
    };
    let ndjson = stream("application/x-ndjson").await;
    let lines: Vec<Value> = ndjson.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(lines.len(), 1000);
    let total: f64 = lines.iter().map(|e| e["groups"][0]["amount"].as_f64().unwrap()).sum();
    assert_eq!(total, expected);
    let ids: std::collections::BTreeSet<&str> = lines.iter().map(|e| e["id"].as_str().unwrap()).collect();
    assert_eq!(ids.len(), 1000, "ids are unique");
    assert!(
        lines.iter().all(|e| e["groups"][0]["unit"] == "tokens"),
        "each group names its unit"
    );

    let csv = stream("text/csv").await;
    let mut rows = csv.lines();
    let header: Vec<&str> = rows.next().unwrap().split(',').collect();
    let amount = header.iter().position(|h| *h == "amount").unwrap();
    let unit = header.iter().position(|h| *h == "unit").unwrap();
    let rows: Vec<Vec<&str>> = rows.map(|r| r.split(',').collect()).collect();
    assert_eq!(rows.len(), 1000);
    assert!(rows.iter().all(|r| r[unit] == "tokens"));
    assert_eq!(
        rows.iter().map(|r| r[amount].parse::<f64>().unwrap()).sum::<f64>(),
        expected
    );

    let out = std::env::temp_dir().join(format!("qg-export-{}.ndjson", std::process::id()));
    let exported = export_all(app, false, &out).await;
    assert_eq!(exported.lines, 1000);
    assert_eq!(
        std::fs::read_to_string(&out).unwrap(),
        ndjson,
        "the export is the stream, byte for byte"
    );
    let _ = std::fs::remove_file(&out);
    // Every user's counter says the same.
    let usage_total: f64 = futures::stream::iter(users.iter())
        .map(|user| async move {
            TestApp::counter(&app.usage(user).await, "tokens")["used"]
                .as_f64()
                .unwrap()
        })
        .buffer_unordered(32)
        .collect::<Vec<f64>>()
        .await
        .iter()
        .sum();
    assert_eq!(usage_total, expected);
}

#[tokio::test]
async fn retention_trims_old_entries_and_keeps_the_newest() {
    use crate::support::{redis, spawn_app_with, unique_prefix};

    // A window of no days: every entry is old as soon as the next one is written.
    let app = spawn_app_with(&redis::shared().target(), &unique_prefix(), None, |c| {
        c.ledger_retention_days = 0
    })
    .await;
    plan(&app).await;
    app.subscribe("dave", "plan_l", None).await;
    for quantity in 1..=5 {
        app.json(
            Method::POST,
            "/v1/track",
            Some(json!({ "userId": "dave", "event": "chat", "quantity": quantity })),
        )
        .await;
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    let entries = events(&app, "dave").await;
    assert_eq!(entries.len(), 1, "{entries:?}");
    assert_eq!(entries[0]["quantity"], 5, "the newest entry stays");
    assert_eq!(
        TestApp::counter(&app.usage("dave").await, "all")["used"],
        15,
        "counters are not the ledger"
    );
}

/// Cells a spreadsheet would run as formulas (a user id, an event, an adjustment's reason) come
/// out of the CSV led by a quote, in the stream and in `quota-gateway export`; amounts, negative
/// ones included, stay numbers.
#[tokio::test]
async fn csv_cells_that_would_be_formulas_are_written_as_text() {
    let app = spawn_app().await;
    plan(&app).await;
    let user = "=HYPERLINK(\"http://x\")";
    app.subscribe(user, "plan_l", None).await;
    let body = json!({ "userId": user, "event": "-render", "quantity": 2 });
    assert_eq!(app.json(Method::POST, "/v1/track", Some(body)).await.0, 200);
    let path = format!("/v1/users/{}/adjustments", crate::support::encode(user));
    let body = json!({ "groupId": "all", "amount": -1, "reason": "@SUM(1+1)" });
    assert_eq!(app.json(Method::POST, &path, Some(body)).await.0, 200);

    let res = app
        .client
        .get(format!("{}/v1/usage-events", app.address))
        .bearer_auth(&app.key)
        .header("Accept", "text/csv")
        .send()
        .await
        .unwrap();
    let csv = res.text().await.unwrap();
    let out = std::env::temp_dir().join(format!("qg-export-formulas-{}.csv", std::process::id()));
    export_all(&app, true, &out).await;
    let exported = std::fs::read_to_string(&out).unwrap();
    let _ = std::fs::remove_file(&out);
    for text in [&csv, &exported] {
        assert!(text.contains(r#""'=HYPERLINK(""http://x"")""#), "{text}");
        assert!(text.contains(",'-render,"), "{text}");
        assert!(text.contains(",'@SUM(1+1),"), "{text}");
        assert!(text.contains(",-1,"), "a negative amount stays a number: {text}");
        assert!(
            !text.contains(",=") && !text.contains(",@") && !text.contains(",\"="),
            "{text}"
        );
    }
}

/// A cursor is checked against the query: one written for another user does not lift the
/// `userId` filter, and positions Redis cannot range from are 400 `cursor`, in a page and in a
/// stream alike (never a 500, never a stream cut after its 200).
#[tokio::test]
async fn a_cursor_cannot_lift_the_user_filter_and_a_crafted_one_is_400() {
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use base64::Engine;

    let app = spawn_app().await;
    plan(&app).await;
    for user in ["alice", "mallory"] {
        app.subscribe(user, "plan_l", None).await;
        app.json(
            Method::POST,
            "/v1/track",
            Some(json!({ "userId": user, "event": "chat" })),
        )
        .await;
    }
    let forged = URL_SAFE_NO_PAD.encode("alice\n");
    let (status, problem) = app
        .json(
            Method::GET,
            &format!("/v1/usage-events?userId=mallory&cursor={forged}"),
            None,
        )
        .await;
    assert_eq!(
        (status.as_u16(), problem["field"].clone()),
        (400, json!("cursor")),
        "{problem}"
    );
    for position in ["18446744073709551615-0", "0-18446744073709551615", "1-x", "-1-0"] {
        let crafted = URL_SAFE_NO_PAD.encode(format!("alice\n{position}"));
        for accept in ["application/json", "application/x-ndjson", "text/csv"] {
            let res = app
                .client
                .get(format!("{}/v1/usage-events?cursor={crafted}", app.address))
                .bearer_auth(&app.key)
                .header("Accept", accept)
                .send()
                .await
                .unwrap();
            assert_eq!(res.status(), 400, "{position} as {accept}");
        }
    }
    for cursor in ["0-0", "18446744073709551615-0", "1-18446744073709551615"] {
        let (status, problem) = app
            .json(Method::GET, &format!("/v1/audit-log?cursor={cursor}"), None)
            .await;
        assert_eq!(
            (status.as_u16(), problem["field"].clone()),
            (400, json!("cursor")),
            "{cursor}: {problem}"
        );
    }
}

/// A stream the gateway cut midway (its Redis failed after the 200 went out) makes the export
/// fail as cut, saying how far it got, and leaves no file that looks like a short export.
#[tokio::test]
async fn an_export_cut_midway_is_an_error_and_leaves_no_file() {
    use std::io::{Read, Write};

    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address = format!("http://{}", listener.local_addr().unwrap());
    let server = std::thread::spawn(move || {
        let (mut conn, _) = listener.accept().unwrap();
        let mut head = [0u8; 4096];
        let _ = conn.read(&mut head).unwrap();
        let line = "{\"id\":\"track:dQ.1-0\"}\n";
        let partial = format!(
            "HTTP/1.1 200 OK\r\nContent-Type: application/x-ndjson\r\nTransfer-Encoding: chunked\r\n\r\n{:x}\r\n{line}\r\n",
            line.len()
        );
        conn.write_all(partial.as_bytes()).unwrap();
        // No last chunk: the connection closes as a failing stream's does.
    });
    let dir = std::env::temp_dir().join(format!("qg-export-cut-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let out = dir.join("ledger.ndjson");
    let request = quota_gateway::export::ExportRequest {
        url: &address,
        key: "sk_unused",
        from: None,
        to: None,
        user: None,
        csv: false,
    };
    let err = quota_gateway::export::export(&request, &out, false).await.unwrap_err();
    server.join().unwrap();
    assert!(
        matches!(err, quota_gateway::export::ExportError::Cut { lines: 1, .. }),
        "{err}"
    );
    assert!(err.to_string().contains("ended early after 1 lines"), "{err}");
    let left: Vec<_> = std::fs::read_dir(&dir).unwrap().collect();
    assert!(left.is_empty(), "{left:?}");
    std::fs::remove_dir_all(&dir).unwrap();
}

/// One entry among 300 users: a project-wide page finds it through the ledger index in a few
/// round trips, however many users the project has (walking the users index took one or more
/// per user).
#[tokio::test]
async fn a_project_wide_page_costs_what_its_entries_cost_not_the_projects_size() {
    let app = spawn_app().await;
    plan(&app).await;
    let app = &app;
    futures::stream::iter(0..300)
        .for_each_concurrent(16, |i| async move {
            app.subscribe(&format!("quiet{i:03}"), "plan_l", None).await;
        })
        .await;
    let body = json!({ "userId": "quiet150", "event": "chat", "quantity": 2 });
    assert_eq!(app.json(Method::POST, "/v1/track", Some(body)).await.0, 200);
    let before = app.redis_calls().await;
    let (status, page) = app.json(Method::GET, "/v1/usage-events?limit=10", None).await;
    let calls = app.redis_calls().await - before;
    assert_eq!(status, 200, "{page}");
    assert_eq!(page["data"].as_array().unwrap().len(), 1, "{page}");
    assert_eq!(page["data"][0]["userId"], "quiet150");
    assert_eq!(page["nextCursor"], Value::Null);
    assert!(calls <= 10.0, "the page took {calls} redis round trips");
}

/// Entries written before a deployment kept the ledger index are still read, through the users
/// index: a node that learns the index starts tomorrow finds them, a page visiting at most
/// `limit` users (so some pages hold no entry and still name the next), and then the indexed
/// days.
#[tokio::test]
async fn entries_older_than_the_ledger_index_are_read_through_the_users_index() {
    use crate::support::{redis, spawn_app_on};

    let first = spawn_app().await;
    plan(&first).await;
    for user in ["a1", "a2", "a3", "a4", "a5", "a6"] {
        first.subscribe(user, "plan_l", None).await;
    }
    for (user, quantity) in [("a2", 1), ("a5", 2)] {
        let body = json!({ "userId": user, "event": "chat", "quantity": quantity });
        assert_eq!(first.json(Method::POST, "/v1/track", Some(body)).await.0, 200);
    }
    // As if the entries were written by a version without the index, which starts tomorrow.
    let tomorrow_ms = (chrono::Utc::now().timestamp_millis() / 86_400_000 + 1) * 86_400_000;
    let days: Vec<String> = redis::shared().query(&[
        "ZRANGE",
        &format!("{}:{{default}}:ledger_days", first.prefix),
        "0",
        "-1",
    ]);
    assert!(!days.is_empty(), "today is in the ledger index");
    for day in &days {
        redis::shared().query::<i64>(&["DEL", &format!("{}:{{default}}:ledger_users:{day}", first.prefix)]);
    }
    redis::shared().query::<i64>(&["DEL", &format!("{}:{{default}}:ledger_days", first.prefix)]);
    redis::shared().query::<()>(&[
        "SET",
        &format!("{}:ledger_index_since", first.prefix),
        &tomorrow_ms.to_string(),
    ]);
    let second = spawn_app_on(&redis::shared().target(), &first.prefix, Some(&first.key)).await;

    let mut seen = Vec::new();
    let mut cursor = String::new();
    let mut pages = 0;
    loop {
        let (status, page) = second
            .json(Method::GET, &format!("/v1/usage-events?limit=2{cursor}"), None)
            .await;
        assert_eq!(status, 200, "{page}");
        pages += 1;
        assert!(pages < 20, "the walk ends");
        for e in page["data"].as_array().unwrap() {
            seen.push((
                e["userId"].as_str().unwrap().to_string(),
                e["quantity"].as_f64().unwrap(),
            ));
        }
        match page["nextCursor"].as_str() {
            Some(next) => cursor = format!("&cursor={next}"),
            None => break,
        }
    }
    assert_eq!(seen, [("a2".to_string(), 1.0), ("a5".to_string(), 2.0)]);
    assert!(pages >= 3, "two users visited per page: {pages} pages");
}

/// An entry stamped at the very millisecond a range ends belongs to the next range only: a
/// project-wide read, which reads day by day, would otherwise give an entry at midnight twice.
#[tokio::test]
async fn an_entry_at_the_end_of_a_range_belongs_to_the_next() {
    use crate::support::redis;

    let app = spawn_app().await;
    plan(&app).await;
    app.subscribe("edge", "plan_l", None).await;
    // An entry as track.lua writes one, stamped exactly at a UTC midnight.
    let midnight_ms: i64 = 20_000 * 86_400_000;
    let groups = r#"[{"g":"all","ps":"0","pe":"","a":"1000"}]"#;
    let stream = format!("{}:{{default:edge}}:ledger", app.prefix);
    let _: String = redis::shared().query(&[
        "XADD",
        &stream,
        &format!("{midnight_ms}-0"),
        "kind",
        "track",
        "ref",
        "track:~edge",
        "event",
        "e",
        "metadata",
        "",
        "quantity",
        "1000",
        "groups",
        groups,
    ]);
    let at = |ms: i64| {
        chrono::DateTime::from_timestamp_millis(ms)
            .unwrap()
            .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
    };
    let count = |from: i64, to: i64| {
        let path = format!("/v1/usage-events?userId=edge&from={}&to={}", at(from), at(to));
        let app = &app;
        async move {
            let (status, page) = app.json(Method::GET, &path, None).await;
            assert_eq!(status, 200, "{page}");
            page["data"].as_array().unwrap().len()
        }
    };
    assert_eq!(
        count(midnight_ms - 86_400_000, midnight_ms).await,
        0,
        "the day before ends before it"
    );
    assert_eq!(
        count(midnight_ms, midnight_ms + 86_400_000).await,
        1,
        "its own day has it"
    );
}

/// `quota-gateway export` written to a log or a pipe (no terminal): one closing line, never a
/// progress line redrawn with carriage returns.
#[tokio::test]
async fn the_export_command_writes_one_plain_line_when_standard_error_is_no_terminal() {
    let app = spawn_app().await;
    plan(&app).await;
    app.subscribe("u", "plan_l", None).await;
    app.json(
        Method::POST,
        "/v1/track",
        Some(json!({ "userId": "u", "event": "chat" })),
    )
    .await;
    let out = std::env::temp_dir().join(format!("{}-export.ndjson", crate::support::unique_prefix()));
    // Awaited, not blocking: the gateway under test runs on this test's runtime.
    let run = tokio::process::Command::new(env!("CARGO_BIN_EXE_quota-gateway"))
        .args(["export", "--url", &app.address, "--key", &app.key, "--out"])
        .arg(&out)
        .output()
        .await
        .unwrap();
    assert!(run.status.success(), "{run:?}");
    let said = String::from_utf8(run.stderr).unwrap();
    assert!(!said.contains('\r'), "{said:?}");
    assert!(
        said.starts_with("exported 1 lines, ") && said.ends_with(".ndjson\n"),
        "{said:?}"
    );
    let _ = std::fs::remove_file(out);
}
