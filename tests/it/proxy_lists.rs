//! The providers' lists through the door (`GET v1/batches`, `v1/files`, `v1/videos`,
//! Anthropic's `v1/messages/batches`), answered by the gateway from the caller's own jobs and
//! files, against the provider simulator: two projects with two users each, every list showing
//! exactly its caller's, newest first, and its paging walking them all once; each object as the
//! provider has it now; and a user's list kept to its cap by one script.

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use reqwest::{Method, RequestBuilder, StatusCode};
use serde_json::{json, Value};

use crate::support::provider::{gateway_for, Provider};
use crate::support::redis::shared;
use crate::support::{unique_prefix, TestApp};

fn plan() -> Value {
    json!({ "id": "plan_lists", "periodType": "month", "groups": [
        { "id": "batch", "unit": "tokens", "quota": 1_000_000_000u64,
          "matches": [ { "event": "openai.batches" }, { "event": "anthropic.batches" } ] },
        { "id": "videos", "unit": "count", "quota": 1_000_000, "measure": { "metadata": "video_seconds" },
          "matches": [ { "event": "openai.videos" } ] } ] })
}

/// Who calls: a key, and the user it names in `X-Quota-User` (None: a user key, its own user).
#[derive(Clone)]
struct Caller<'a> {
    app: &'a TestApp,
    key: String,
    user: Option<&'static str>,
}

impl Caller<'_> {
    fn openai(&self, method: Method, path: &str) -> RequestBuilder {
        let req = self
            .app
            .client
            .request(method, format!("{}/proxy/openai/{path}", self.app.address))
            .bearer_auth(&self.key);
        match self.user {
            Some(user) => req.header("X-Quota-User", user),
            None => req,
        }
    }

    fn anthropic(&self, method: Method, path: &str) -> RequestBuilder {
        let req = self
            .app
            .client
            .request(method, format!("{}/proxy/anthropic/{path}", self.app.address))
            .header("x-api-key", &self.key)
            .header("anthropic-version", "2023-06-01");
        match self.user {
            Some(user) => req.header("X-Quota-User", user),
            None => req,
        }
    }

    /// A batch file of one line: its id.
    async fn upload(&self) -> String {
        let boundary = "qglistsboundary";
        let line = json!({ "custom_id": "r0", "method": "POST", "url": "/v1/chat/completions",
            "body": { "model": "gpt-4o-mini", "max_tokens": 10, "messages": [ { "role": "user", "content": "hi" } ] } });
        let body = format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"purpose\"\r\n\r\nbatch\r\n--{boundary}\r\n\
             Content-Disposition: form-data; name=\"file\"; filename=\"b.jsonl\"\r\nContent-Type: application/jsonl\r\n\r\n\
             {line}\n\r\n--{boundary}--\r\n"
        );
        let res = self
            .openai(Method::POST, "v1/files")
            .header("Content-Type", format!("multipart/form-data; boundary={boundary}"))
            .body(body)
            .send()
            .await
            .unwrap();
        id_of(res).await
    }

    /// A batch of `file` that stays open (the simulator ends it only at its 1,000th read).
    async fn batch(&self, file: &str) -> String {
        let res = self
            .openai(Method::POST, "v1/batches")
            .header("x-sim", "reads=1000")
            .json(&json!({ "input_file_id": file, "endpoint": "/v1/chat/completions", "completion_window": "24h" }))
            .send()
            .await
            .unwrap();
        id_of(res).await
    }

    async fn video(&self) -> String {
        let res = self
            .openai(Method::POST, "v1/videos")
            .header("x-sim", "reads=1000")
            .json(&json!({ "model": "sora-2", "prompt": "a cat", "seconds": "4" }))
            .send()
            .await
            .unwrap();
        id_of(res).await
    }

    async fn message_batch(&self) -> String {
        let res = self
            .anthropic(Method::POST, "v1/messages/batches")
            .header("x-sim", "reads=1000")
            .json(
                &json!({ "requests": [ { "custom_id": "r0", "params": { "model": "claude-sonnet-4-5",
                "max_tokens": 10, "messages": [ { "role": "user", "content": "hi" } ] } } ] }),
            )
            .send()
            .await
            .unwrap();
        id_of(res).await
    }

    /// One page of a list: its answer.
    async fn page(&self, anthropic: bool, path: &str) -> Value {
        let req = match anthropic {
            true => self.anthropic(Method::GET, path),
            false => self.openai(Method::GET, path),
        };
        let res = req.send().await.unwrap();
        let status = res.status();
        let page: Value = res.json().await.unwrap();
        assert_eq!(status, StatusCode::OK, "{path}: {page}");
        page
    }

    /// Every id of a list, walked `limit` at a time as the official clients walk it (after the
    /// last id of each page while `has_more`), at most 50 pages.
    async fn walk(&self, anthropic: bool, path: &str, limit: usize) -> Vec<String> {
        let (mut ids, mut after) = (Vec::new(), None::<String>);
        for _ in 0..50 {
            let cursor = match (&after, anthropic) {
                (None, _) => String::new(),
                (Some(id), true) => format!("&after_id={id}"),
                (Some(id), false) => format!("&after={id}"),
            };
            let page = self.page(anthropic, &format!("{path}?limit={limit}{cursor}")).await;
            let data = page["data"].as_array().unwrap();
            assert!(data.len() <= limit, "{page}");
            ids.extend(data.iter().map(|o| o["id"].as_str().unwrap().to_string()));
            assert_eq!(page["first_id"], data.first().map_or(Value::Null, |o| o["id"].clone()));
            assert_eq!(page["last_id"], data.last().map_or(Value::Null, |o| o["id"].clone()));
            if page["has_more"] != true {
                return ids;
            }
            after = data.last().map(|o| o["id"].as_str().unwrap().to_string());
        }
        panic!("{path}: more than 50 pages");
    }
}

async fn id_of(res: reqwest::Response) -> String {
    let status = res.status();
    let body: Value = res.json().await.unwrap();
    assert_eq!(status, StatusCode::OK, "{body}");
    body["id"].as_str().unwrap().to_string()
}

/// What one caller made, newest first, as each list should show it.
#[derive(Default)]
struct Made {
    files: Vec<String>,
    batches: Vec<String>,
    videos: Vec<String>,
    message_batches: Vec<String>,
}

async fn make(caller: &Caller<'_>, n: usize) -> Made {
    let mut made = Made::default();
    for _ in 0..n {
        let file = caller.upload().await;
        made.batches.insert(0, caller.batch(&file).await);
        made.files.insert(0, file);
        made.videos.insert(0, caller.video().await);
        made.message_batches.insert(0, caller.message_batch().await);
    }
    made
}

#[tokio::test]
async fn each_list_shows_exactly_its_callers_own_newest_first_and_its_pages_walk_them_all_once() {
    let provider = Provider::start();
    let app = gateway_for(&provider, json!({}), |_| {}).await;
    // A second project, with a key of its own and the same user names.
    let created = app
        .call_as(
            &app.root_token,
            Method::POST,
            "/v1/projects",
            Some(json!({ "id": "shop" })),
        )
        .await;
    assert_eq!(created.status(), 201);
    let (status, shop) = app
        .json_as(
            &app.root_token,
            Method::POST,
            "/v1/projects/shop/keys",
            Some(json!({ "kind": "secret" })),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{shop}");
    let shop_key = shop["key"].as_str().unwrap().to_string();
    for key in [&app.key, &shop_key] {
        let put = app
            .call_as(key, Method::PUT, "/v1/plans/plan_lists", Some(plan()))
            .await;
        assert_eq!(put.status(), 200);
        for user in ["alice", "bob"] {
            let sub = app
                .call_as(
                    key,
                    Method::PUT,
                    &format!("/v1/users/{user}/subscription"),
                    Some(json!({ "planId": "plan_lists" })),
                )
                .await;
            assert_eq!(sub.status(), 200);
        }
    }
    // Bob of the shop calls with a user key of his own.
    let (status, minted) = app
        .json_as(
            &shop_key,
            Method::POST,
            "/v1/user-keys",
            Some(json!({ "userId": "bob" })),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{minted}");
    let caller = |key: &str, user| Caller {
        app: &app,
        key: key.to_string(),
        user,
    };
    let callers = [
        (caller(&app.key, Some("alice")), 5),
        (caller(&app.key, Some("bob")), 2),
        (caller(&shop_key, Some("alice")), 3),
        (caller(minted["key"].as_str().unwrap(), None), 1),
    ];
    let mut made = Vec::new();
    for (caller, n) in &callers {
        made.push(make(caller, *n).await);
    }
    let mut all = BTreeSet::new();
    for ((caller, _), made) in callers.iter().zip(&made) {
        let lists = [
            (false, "v1/files", &made.files),
            (false, "v1/batches", &made.batches),
            (false, "v1/videos", &made.videos),
            (true, "v1/messages/batches", &made.message_batches),
        ];
        for (anthropic, path, own) in lists {
            // A page of the default size has them all; pages of 2 walk them once each, in order.
            let page = caller.page(anthropic, path).await;
            let shown: Vec<&str> = page["data"]
                .as_array()
                .unwrap()
                .iter()
                .map(|o| o["id"].as_str().unwrap())
                .collect();
            assert_eq!(shown, own.iter().map(String::as_str).collect::<Vec<_>>(), "{path}");
            assert_eq!(page["has_more"], false);
            assert_eq!(
                page.get("object").and_then(Value::as_str),
                (!anthropic).then_some("list")
            );
            assert_eq!(&caller.walk(anthropic, path, 2).await, own, "{path} by pages of 2");
            assert_eq!(&caller.walk(anthropic, path, 1).await, own, "{path} by pages of 1");
            all.extend(own.iter().cloned());
        }
    }
    assert_eq!(all.len(), 4 * (5 + 2 + 3 + 1), "every object is one caller's");
    // Files oldest first, and by purpose.
    let (alice, own) = (&callers[0].0, &made[0]);
    let oldest: Vec<String> = own.files.iter().rev().cloned().collect();
    let page = alice.page(false, "v1/files?order=asc&limit=3").await;
    let ids: Vec<&str> = page["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["id"].as_str().unwrap())
        .collect();
    assert_eq!(
        (ids, &page["has_more"]),
        (vec![&*oldest[0], &*oldest[1], &*oldest[2]], &json!(true))
    );
    let next = alice
        .page(false, &format!("v1/files?order=asc&after={}", oldest[2]))
        .await;
    assert_eq!(next["data"].as_array().unwrap().len(), 2);
    assert_eq!(
        alice.page(false, "v1/files?purpose=batch").await["data"]
            .as_array()
            .unwrap()
            .len(),
        5
    );
    assert_eq!(alice.page(false, "v1/files?purpose=vision").await["data"], json!([]));
    // Anthropic's `before_id` walks back toward the newest.
    let page = alice
        .page(
            true,
            &format!("v1/messages/batches?limit=2&before_id={}", own.message_batches[3]),
        )
        .await;
    let ids: Vec<&str> = page["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, [&*own.message_batches[1], &*own.message_batches[2]]);
    assert_eq!(page["has_more"], true);
    // Another user's id as a cursor shows nothing of theirs.
    let bobs = &made[1].batches[0];
    let page = alice.page(false, &format!("v1/batches?after={bobs}")).await;
    assert_eq!((&page["data"], &page["has_more"]), (&json!([]), &json!(false)));
    // A bad limit is the caller's to fix.
    let res = alice.openai(Method::GET, "v1/batches?limit=zero").send().await.unwrap();
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn a_list_shows_each_object_as_the_provider_has_it_now_and_settles_a_job_it_sees_ended() {
    let provider = Provider::start();
    let app = gateway_for(&provider, json!({}), |_| {}).await;
    app.put_plan(plan()).await;
    app.subscribe("carol", "plan_lists", None).await;
    let carol = Caller {
        app: &app,
        key: app.key.clone(),
        user: Some("carol"),
    };
    let file = carol.upload().await;
    // Ended at its second read: the create, then a list's read of it, then another.
    let res = carol
        .openai(Method::POST, "v1/batches")
        .header("x-sim", "reads=2")
        .json(&json!({ "input_file_id": file, "endpoint": "/v1/chat/completions", "completion_window": "24h" }))
        .send()
        .await
        .unwrap();
    let batch = id_of(res).await;
    assert_eq!(app.usage("carol").await["jobs"].as_array().unwrap().len(), 1);
    let status = |page: &Value| page["data"][0]["status"].as_str().unwrap().to_string();
    assert_eq!(status(&carol.page(false, "v1/batches").await), "in_progress");
    let ended = carol.page(false, "v1/batches").await;
    assert_eq!(
        (status(&ended), ended["data"][0]["id"].as_str()),
        ("completed".to_string(), Some(&*batch))
    );
    let usage = app.usage("carol").await;
    assert_eq!(usage["jobs"], json!([]), "the list's read settled it: {usage}");
    let used = TestApp::counter(&usage, "batch")["used"].as_u64().unwrap();
    assert_eq!(used, ended["data"][0]["usage"]["total_tokens"].as_u64().unwrap());
    // Its output file is carol's now, listed first; a file deleted through the door, or at the
    // provider, leaves the list.
    let output = ended["data"][0]["output_file_id"].as_str().unwrap().to_string();
    let ids = carol.walk(false, "v1/files", 10).await;
    assert_eq!(ids, [output.clone(), file.clone()]);
    let res = carol
        .openai(Method::DELETE, &format!("v1/files/{output}"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(carol.walk(false, "v1/files", 10).await, std::slice::from_ref(&file));
    let res = reqwest::Client::new()
        .delete(format!("{}/v1/files/{file}", provider.url()))
        .bearer_auth(crate::support::provider::PROVIDER_KEY)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(carol.walk(false, "v1/files", 10).await, Vec::<String>::new());
}

/// 400 adds from 8 threads to a list capped at 50, a reader counting it throughout: the list is
/// never seen past its cap (an add and a trim apart would show it so), and ends at it.
#[test]
fn a_users_list_is_never_seen_past_its_cap_under_parallel_adds() {
    use quota_gateway::surface::store::contract::INDEX_LISTED;
    let redis = shared();
    let key = quota_gateway::surface::store::layout::Layout::new(&unique_prefix()).listed("p", "u", "openai", "batch");
    let done = Arc::new(AtomicBool::new(false));
    let reader = {
        let (key, done) = (key.clone(), done.clone());
        std::thread::spawn(move || {
            let mut most = 0;
            for _ in 0..100_000 {
                most = most.max(shared().query::<i64>(&["ZCARD", &key]));
                if done.load(Ordering::SeqCst) {
                    break;
                }
            }
            most
        })
    };
    let writers: Vec<_> = (0..8)
        .map(|t| {
            let key = key.clone();
            std::thread::spawn(move || {
                for i in 0..50 {
                    let args = [format!("id-{t}-{i:02}"), "50".to_string(), "60000".to_string()];
                    shared()
                        .run_script(&INDEX_LISTED, std::slice::from_ref(&key), &args)
                        .unwrap();
                }
            })
        })
        .collect();
    for writer in writers {
        writer.join().unwrap();
    }
    done.store(true, Ordering::SeqCst);
    assert!(reader.join().unwrap() <= 50, "a reader saw the list past its cap");
    assert_eq!(redis.query::<i64>(&["ZCARD", &key]), 50);
    let ttl = redis.query::<i64>(&["PTTL", &key]);
    assert!(ttl > 0 && ttl <= 60_000, "{ttl}");
}
