//! Approval gates: an approval group denies like a hard one, and its first denial of a user in a
//! period opens exactly one approval request, decided in the script that denies, whatever the
//! concurrency; approving raises the quota (an override), declining keeps the group hard.

use std::collections::BTreeSet;
use std::time::Duration;

use futures::future::join_all;
use reqwest::Method;
use serde_json::{json, Value};

use crate::support::receiver::Receiver;
use crate::support::{unique_prefix, TestApp};
use crate::webhooks::{endpoint, node};

fn plan() -> Value {
    json!({ "id": "plan_gate", "periodType": "month", "groups": [
        { "id": "launches", "unit": "count", "quota": 5, "mode": "approval",
          "matches": [ { "event": "campaign.launch" } ] } ] })
}

fn launch(user: &str) -> Value {
    json!({ "userId": user, "event": "campaign.launch", "ttlSeconds": 60 })
}

/// The project's requests of `status`, once `want` are listed (the list follows the script
/// that opened them by a moment).
async fn listed(app: &TestApp, query: &str, want: usize) -> Vec<Value> {
    for _ in 0..100 {
        let (status, page) = app.json(Method::GET, &format!("/v1/approvals?{query}"), None).await;
        assert_eq!(status, 200, "{page}");
        let list = page["data"].as_array().unwrap().clone();
        if list.len() >= want {
            return list;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("{want} approval requests were never listed for {query}");
}

async fn admitted(apps: [&TestApp; 2], user: &str, calls: usize) -> Vec<Value> {
    join_all((0..calls).map(|i| apps[i % 2].reserve(launch(user))))
        .await
        .into_iter()
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn fifty_parallel_denials_open_one_request_and_an_approval_admits_exactly_up_to_its_quota() {
    let prefix = unique_prefix();
    let one = node(&prefix, None, false).await;
    let two = node(&prefix, Some(&one.key), false).await;
    let receiver = Receiver::start().await;
    endpoint(&one, &receiver.url).await;
    one.put_plan(plan()).await;
    one.subscribe("ann", "plan_gate", None).await;
    tokio::time::sleep(quota_gateway::gateway::EPOCH_POLL * 3).await;

    // 55 launches from two nodes: 5 fit, 50 are denied, and open one request between them.
    let answers = admitted([&one, &two], "ann", 55).await;
    assert_eq!(answers.iter().filter(|a| a["allowed"] == true).count(), 5);
    let denied: Vec<&Value> = answers.iter().filter(|a| a["allowed"] == false).collect();
    assert!(
        denied.iter().all(|a| a["reasons"] == json!(["approval_pending"])),
        "{denied:?}"
    );
    let ids: BTreeSet<&str> = denied
        .iter()
        .map(|a| a["denials"][0]["approvalId"].as_str().unwrap())
        .collect();
    assert_eq!(ids.len(), 1, "{ids:?}");
    let id = ids.into_iter().next().unwrap().to_string();

    let pending = listed(&one, "status=pending", 1).await;
    assert_eq!(pending.len(), 1, "{pending:?}");
    let request = &pending[0];
    assert_eq!(request["approvalId"], id.as_str());
    assert_eq!(
        (
            request["userId"].clone(),
            request["groupId"].clone(),
            request["status"].clone()
        ),
        (json!("ann"), json!("launches"), json!("pending"))
    );
    assert_eq!(
        (
            request["event"].clone(),
            request["amount"].clone(),
            request["used"].clone(),
            request["quota"].clone()
        ),
        (json!("campaign.launch"), json!(1), json!(0), json!(5))
    );
    assert_eq!(request["reserved"], 5);

    // One webhook for the request, however many denials.
    receiver.wait_for(1, Duration::from_secs(20)).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let requested: BTreeSet<String> = receiver
        .received()
        .iter()
        .filter(|r| r.body.contains("quota.approval_requested"))
        .map(|r| r.headers["webhook-id"].clone())
        .collect();
    assert_eq!(requested.len(), 1);

    // Approved at 8: 3 more fit, under 20 parallel launches from both nodes.
    let (status, approved) = one
        .json(
            Method::POST,
            &format!("/v1/approvals/{id}/approve"),
            Some(json!({ "quota": 8 })),
        )
        .await;
    assert_eq!(status, 200, "{approved}");
    assert_eq!(
        (approved["status"].clone(), approved["approvedQuota"].clone()),
        (json!("approved"), json!(8))
    );
    assert_eq!(approved["expiresAt"], request["resetsAt"]);
    let answers = admitted([&one, &two], "ann", 20).await;
    assert_eq!(answers.iter().filter(|a| a["allowed"] == true).count(), 3);
    // Past the approved quota the group denies as hard, with no second request.
    let over = answers.iter().find(|a| a["allowed"] == false).unwrap();
    assert_eq!(over["reasons"], json!(["limit_reached"]), "{over}");
    assert!(listed(&one, "status=pending", 0).await.is_empty());

    // Deciding again is a conflict; the decision is in the audit log and told once.
    let (status, again) = two
        .json(
            Method::POST,
            &format!("/v1/approvals/{id}/decline"),
            Some(json!({ "reason": "too late" })),
        )
        .await;
    assert_eq!(
        (status.as_u16(), again["code"].clone()),
        (409, json!("approval_decided")),
        "{again}"
    );
    let (_, audit) = one.json(Method::GET, "/v1/audit-log?userId=ann", None).await;
    let actions: Vec<&str> = audit["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert!(actions.contains(&"approval.approve"), "{actions:?}");
    // Deliveries are at least once: the request's may come twice before the decision's.
    let mut decided = None;
    for _ in 0..1_000 {
        decided = receiver
            .received()
            .iter()
            .find(|r| r.body.contains("quota.approval_decided"))
            .map(|r| serde_json::from_str::<Value>(&r.body).unwrap());
        if decided.is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let decided = decided.expect("the decision is delivered within 20 s");
    assert_eq!(
        (decided["data"]["approvalId"].clone(), decided["data"]["status"].clone()),
        (json!(id), json!("approved"))
    );
}

#[tokio::test]
async fn a_declined_request_keeps_the_group_hard_and_check_reports_pending_without_opening_one() {
    let app = crate::support::spawn_app().await;
    app.put_plan(plan()).await;
    app.subscribe("bo", "plan_gate", None).await;
    for _ in 0..5 {
        assert_eq!(app.reserve(launch("bo")).await["allowed"], true);
    }
    // A check says what a reserve would, and opens nothing.
    let (status, checked) = app.json(Method::POST, "/v1/check", Some(launch("bo"))).await;
    assert_eq!(status, 200);
    assert_eq!(checked["reasons"], json!(["approval_pending"]), "{checked}");
    assert!(listed(&app, "userId=bo", 0).await.is_empty());

    let denied = app.reserve(launch("bo")).await;
    let id = denied["denials"][0]["approvalId"].as_str().unwrap().to_string();
    // The denial that opened the request answered once the list had it: readable at once.
    let (status, pending) = app.json(Method::GET, &format!("/v1/approvals/{id}"), None).await;
    assert_eq!(
        (status.as_u16(), pending["status"].clone()),
        (200, json!("pending")),
        "{pending}"
    );
    listed(&app, "userId=bo&status=pending", 1).await;
    for (body, field) in [
        (json!({}), "reason"),
        (json!({ "reason": " " }), "reason"),
        (json!({ "reason": "no", "extra": 1 }), "extra"),
    ] {
        let (status, answer) = app
            .json(Method::POST, &format!("/v1/approvals/{id}/decline"), Some(body))
            .await;
        assert_eq!(status, 400, "{answer}");
        assert!(answer.to_string().contains(field), "{answer}");
    }
    let (status, declined) = app
        .json(
            Method::POST,
            &format!("/v1/approvals/{id}/decline"),
            Some(json!({ "reason": "campaign not reviewed" })),
        )
        .await;
    assert_eq!(status, 200, "{declined}");
    assert_eq!(
        (declined["status"].clone(), declined["reason"].clone()),
        (json!("declined"), json!("campaign not reviewed"))
    );
    // A key made without a label is named by its id.
    let by = declined["decidedBy"].as_str().unwrap_or_default().to_string();
    assert!(!by.is_empty(), "{declined}");
    let (_, listed_copy) = app.json(Method::GET, &format!("/v1/approvals/{id}"), None).await;
    assert_eq!(listed_copy["decidedBy"], by.as_str(), "{listed_copy}");
    let after = app.reserve(launch("bo")).await;
    assert_eq!(after["reasons"], json!(["limit_reached"]), "{after}");
    assert_eq!(listed(&app, "status=declined", 1).await[0]["approvalId"], id.as_str());
    let (status, missing) = app
        .json(
            Method::POST,
            "/v1/approvals/apr_nothing/approve",
            Some(json!({ "quota": 9 })),
        )
        .await;
    assert_eq!(
        (status.as_u16(), missing["code"].clone()),
        (404, json!("approval_not_found"))
    );
}

#[tokio::test]
async fn approval_mode_is_refused_on_a_balance_group() {
    let app = crate::support::spawn_app().await;
    let (status, answer) = app
        .json(
            Method::PUT,
            "/v1/plans/plan_bad",
            Some(json!({ "periodType": "month", "groups": [
                { "id": "credits", "balance": "credits", "mode": "approval",
                  "matches": [ { "event": "render" } ] } ] })),
        )
        .await;
    assert_eq!(status, 400, "{answer}");
    assert!(answer.to_string().contains("groups[0].mode"), "{answer}");
}

/// The README's recipes, from `examples/approvals.json`: a production API key under its
/// customer whose monthly cap needs an approval above it, and a launch campaign gate.
#[tokio::test]
async fn the_recipes_pause_a_hot_production_key_and_the_sixth_launch_for_a_person() {
    let app = crate::support::spawn_app().await;
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/approvals.json");
    quota_gateway::apply::apply(&app.address, &app.key, &path)
        .await
        .unwrap();
    for (user, plan, parent) in [
        ("acme", "plan_gated_account", None),
        ("key_prod", "plan_production_key", Some("acme")),
        ("marketing", "plan_campaigns", None),
    ] {
        let body = json!({ "planId": plan, "parentId": parent });
        let (status, answer) = app
            .json(Method::PUT, &format!("/v1/users/{user}/subscription"), Some(body))
            .await;
        assert_eq!(status, 200, "{answer}");
    }
    let call = |cents: u32| json!({ "userId": "key_prod", "event": "llm.chat", "metadata": { "cost_cents": cents } });
    assert_eq!(app.reserve(call(3000)).await["allowed"], true);
    // The key runs hot: it pauses for a person, named by the key's level, not the account's.
    let paused = app.reserve(call(3000)).await;
    assert_eq!(paused["reasons"], json!(["approval_pending"]), "{paused}");
    assert_eq!(paused["denials"][0]["subjectId"], "key_prod");
    let id = paused["denials"][0]["approvalId"].as_str().unwrap().to_string();
    listed(&app, "status=pending&userId=key_prod", 1).await;
    let (status, _) = app
        .json(
            Method::POST,
            &format!("/v1/approvals/{id}/approve"),
            Some(json!({ "quota": 10000 })),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(app.reserve(call(3000)).await["allowed"], true);

    let launch = json!({ "userId": "marketing", "event": "campaign.launch" });
    for _ in 0..5 {
        assert_eq!(app.reserve(launch.clone()).await["allowed"], true);
    }
    let sixth = app.reserve(launch).await;
    assert_eq!(sixth["reasons"], json!(["approval_pending"]), "{sixth}");
}

/// Ten operators deciding one request at once, from two nodes, decide it once: the script in
/// the user's slot changes a pending request only, so one call wins and the others are told.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn parallel_decisions_of_one_request_decide_it_once() {
    let prefix = unique_prefix();
    let one = node(&prefix, None, false).await;
    let two = node(&prefix, Some(&one.key), false).await;
    one.put_plan(plan()).await;
    one.subscribe("cy", "plan_gate", None).await;
    for _ in 0..5 {
        one.reserve(launch("cy")).await;
    }
    let denied = one.reserve(launch("cy")).await;
    let id = denied["denials"][0]["approvalId"].as_str().unwrap().to_string();
    listed(&one, "status=pending&userId=cy", 1).await;
    let nodes = [&one, &two];
    let calls = (0..10).map(|i| {
        let (app, id) = (nodes[i % 2], id.clone());
        async move {
            let (path, body) = if i % 2 == 0 {
                (format!("/v1/approvals/{id}/approve"), json!({ "quota": 6 + i }))
            } else {
                (format!("/v1/approvals/{id}/decline"), json!({ "reason": "no" }))
            };
            app.json(Method::POST, &path, Some(body)).await.0.as_u16()
        }
    });
    let statuses = join_all(calls).await;
    assert_eq!(statuses.iter().filter(|s| **s == 200).count(), 1, "{statuses:?}");
    assert_eq!(statuses.iter().filter(|s| **s == 409).count(), 9, "{statuses:?}");
    let (_, audit) = one.json(Method::GET, "/v1/audit-log?userId=cy", None).await;
    let decisions = audit["data"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["action"].as_str().unwrap().starts_with("approval."))
        .count();
    assert_eq!(decisions, 1);
}

#[tokio::test]
async fn a_list_of_one_users_requests_pages_through_theirs_alone() {
    let app = crate::support::spawn_app().await;
    // Three approval groups that deny at once: each user's first event of each opens a request.
    let groups: Vec<Value> = (1..=3)
        .map(|i| {
            json!({ "id": format!("gate{i}"), "unit": "count", "quota": 0, "mode": "approval",
                    "matches": [ { "event": format!("launch.{i}") } ] })
        })
        .collect();
    app.put_plan(json!({ "id": "plan_gates", "periodType": "month", "groups": groups }))
        .await;
    // Ten users' requests, one group at a time, so each user's are spread through the queue.
    for i in 1..=3 {
        for u in 0..10 {
            let user = format!("u{u}");
            if i == 1 {
                app.subscribe(&user, "plan_gates", None).await;
            }
            let denied = app
                .reserve(json!({ "userId": user, "event": format!("launch.{i}") }))
                .await;
            assert_eq!(denied["reasons"], json!(["approval_pending"]), "{denied}");
        }
    }
    let page = |query: String| {
        let app = &app;
        async move {
            let (status, page) = app.json(Method::GET, &format!("/v1/approvals?{query}"), None).await;
            assert_eq!(status, 200, "{page}");
            page
        }
    };
    let first = page("userId=u3&limit=2".into()).await;
    let groups_of = |page: &Value| -> Vec<String> {
        let list = page["data"].as_array().unwrap();
        assert!(list.iter().all(|a| a["userId"] == "u3"), "{page}");
        list.iter()
            .map(|a| a["groupId"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(groups_of(&first), ["gate1", "gate2"]);
    let cursor = first["nextCursor"].as_str().expect("a next page").to_string();
    let second = page(format!("userId=u3&limit=2&cursor={cursor}")).await;
    assert_eq!(groups_of(&second), ["gate3"]);
    assert!(second["nextCursor"].is_null(), "{second}");

    // Filtered by status too: a declined request leaves the user's pending ones.
    let id = first["data"][1]["approvalId"].as_str().unwrap();
    let (status, _) = app
        .json(
            Method::POST,
            &format!("/v1/approvals/{id}/decline"),
            Some(json!({ "reason": "no" })),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(
        groups_of(&page("userId=u3&status=pending".into()).await),
        ["gate1", "gate3"]
    );
    assert_eq!(groups_of(&page("userId=u3&status=declined".into()).await), ["gate2"]);
    assert!(page("userId=nobody".into()).await["data"]
        .as_array()
        .unwrap()
        .is_empty());
}

/// A request whose period ended undecided is moot: approving it answers it closed (no
/// `expiresAt` error for a field nobody sent), and the queue drops it once it is read.
#[tokio::test]
async fn a_request_whose_period_ended_is_closed_not_left_pending() {
    let app = crate::support::spawn_app().await;
    app.put_plan(plan()).await;
    let approvals = quota_gateway::surface::store::layout::Layout::new(&app.prefix).approvals("default")[0].clone();
    // The copy of a user's request, its period moved into the past as time passing would.
    let open_and_end = |user: &'static str| {
        let app = app.clone_for_node();
        let approvals = approvals.clone();
        async move {
            app.subscribe(user, "plan_gate", None).await;
            admitted([&app, &app], user, 6).await;
            let id = listed(&app, &format!("status=pending&userId={user}"), 1).await[0]["approvalId"]
                .as_str()
                .unwrap()
                .to_string();
            let raw: String = crate::support::redis::shared().query(&["HGET", &approvals, &id]);
            let mut copy: Value = serde_json::from_str(&raw).unwrap();
            copy["periodEndMs"] = json!(1_000);
            let _: i64 = crate::support::redis::shared().query(&["HSET", &approvals, &id, &copy.to_string()]);
            id
        }
    };
    let approved = open_and_end("late").await;
    let (status, answer) = app
        .json(
            Method::POST,
            &format!("/v1/approvals/{approved}/approve"),
            Some(json!({ "quota": 10 })),
        )
        .await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(
        (answer["status"].clone(), answer["reason"].clone()),
        (json!("declined"), json!("its period ended before a decision")),
        "{answer}"
    );
    let unread = open_and_end("later").await;
    let (_, page) = app.json(Method::GET, "/v1/approvals?status=pending", None).await;
    assert_eq!(page["data"], json!([]), "{page}");
    let (_, read) = app.json(Method::GET, &format!("/v1/approvals/{unread}"), None).await;
    assert_eq!(read["status"], "declined", "{read}");
    // Neither raised the quota: the group still denies.
    assert_eq!(app.reserve(launch("late")).await["allowed"], false);
}

/// A per-value approval group opens one request per value, each decided on its own: approving
/// one model's raises that model's quota only, declining another's keeps it hard.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_per_value_approval_group_opens_and_decides_one_request_per_value() {
    let prefix = unique_prefix();
    let one = node(&prefix, None, false).await;
    let two = node(&prefix, Some(&one.key), false).await;
    one.put_plan(json!({ "id": "plan_models", "periodType": "month", "groups": [
        { "id": "premium", "unit": "count", "quota": 1, "mode": "approval", "per": "model",
          "matches": [ { "event": "render" } ] } ] }))
        .await;
    one.subscribe("pv", "plan_models", None).await;
    let render = |model: &str| json!({ "userId": "pv", "event": "render", "metadata": { "model": model } });
    for model in ["flux", "sdxl"] {
        assert_eq!(one.reserve(render(model)).await["allowed"], true);
        // Parallel denials of one value from two nodes open one request for it.
        let denials = join_all((0..10).map(|i| [&one, &two][i % 2].reserve(render(model)))).await;
        assert!(denials.iter().all(|d| d["allowed"] == false), "{denials:?}");
    }
    let pending = listed(&one, "status=pending&userId=pv", 2).await;
    assert_eq!(pending.len(), 2, "{pending:?}");
    let id_of = |model: &str| {
        pending
            .iter()
            .find(|a| a["value"] == model)
            .unwrap_or_else(|| panic!("no request for {model}: {pending:?}"))["approvalId"]
            .as_str()
            .unwrap()
            .to_string()
    };
    let (flux, sdxl) = (id_of("flux"), id_of("sdxl"));
    assert_ne!(flux, sdxl);
    let (status, approved) = one
        .json(
            Method::POST,
            &format!("/v1/approvals/{flux}/approve"),
            Some(json!({ "quota": 3 })),
        )
        .await;
    assert_eq!(
        (status.as_u16(), approved["status"].clone()),
        (200, json!("approved")),
        "{approved}"
    );
    let (status, declined) = two
        .json(
            Method::POST,
            &format!("/v1/approvals/{sdxl}/decline"),
            Some(json!({ "reason": "not on this plan" })),
        )
        .await;
    assert_eq!(
        (status.as_u16(), declined["status"].clone()),
        (200, json!("declined")),
        "{declined}"
    );
    // flux has room for two more; sdxl stays at its quota.
    let after = join_all((0..4).map(|i| [&one, &two][i % 2].reserve(render("flux")))).await;
    assert_eq!(after.iter().filter(|a| a["allowed"] == true).count(), 2, "{after:?}");
    let sdxl_again = two.reserve(render("sdxl")).await;
    assert_eq!(sdxl_again["allowed"], false, "{sdxl_again}");
    assert_eq!(sdxl_again["reasons"], json!(["limit_reached"]), "{sdxl_again}");
}
