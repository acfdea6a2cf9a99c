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
    let csv = app
        .client
        .get(format!("{}/v1/usage-events?userId=team_acme", app.address))
        .bearer_auth(&app.key)
        .header("Accept", "text/csv")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    // memberId is the last column (metadata, before it, holds commas of its own).
    let mut lines = csv.lines();
    assert!(lines.next().unwrap().ends_with(",keyId,metadata,memberId"), "{csv}");
    let rows: Vec<&str> = lines.collect();
    assert_eq!(rows.len(), 3, "{csv}");
    assert!(
        rows.iter()
            .all(|r| r.contains(&format!(",{key_id},")) && (r.ends_with(",m1") || r.ends_with(",m2"))),
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
