//! Who may do what: every key kind against every route class, user tokens for browser reads,
//! revocation on every node, CORS, unknown fields, and no plaintext secret in Redis.

use std::time::{Duration, Instant};

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::support::{
    freemium_free_plan, node_after_steps, redis, spawn_app, spawn_app_on, spawn_app_stepped, unique_prefix, TestApp,
};

/// A project "web" with a secret and a publishable key, and users a and b on the free plan.
struct Browser {
    app: TestApp,
    secret: String,
    publishable: String,
}

/// Mints a key; answers the key and its id.
async fn mint_with_id(app: &TestApp, project: &str, kind: &str) -> (String, String) {
    let res = app
        .call_as(
            &app.root_token,
            Method::POST,
            &format!("/v1/projects/{project}/keys"),
            Some(json!({ "kind": kind })),
        )
        .await;
    assert_eq!(res.status(), 201);
    let body: Value = res.json().await.unwrap();
    (
        body["key"].as_str().unwrap().to_string(),
        body["keyId"].as_str().unwrap().to_string(),
    )
}

async fn mint(app: &TestApp, project: &str, kind: &str) -> String {
    mint_with_id(app, project, kind).await.0
}

async fn browser_setup(app: TestApp, project: &str) -> Browser {
    let created = app
        .call_as(
            &app.root_token,
            Method::POST,
            "/v1/projects",
            Some(json!({ "id": project, "allowedOrigins": ["https://app.example.com"] })),
        )
        .await;
    assert_eq!(created.status(), 201);
    let secret = mint(&app, project, "secret").await;
    let publishable = mint(&app, project, "publishable").await;
    assert!(publishable.starts_with("qg_pk_"));
    app.call_as(&secret, Method::PUT, "/v1/plans/plan_free", Some(freemium_free_plan()))
        .await;
    for user in ["a", "b"] {
        app.call_as(
            &secret,
            Method::PUT,
            &format!("/v1/users/{user}/subscription"),
            Some(json!({ "planId": "plan_free" })),
        )
        .await;
    }
    Browser {
        app,
        secret,
        publishable,
    }
}

impl Browser {
    async fn token(&self, user: &str, ttl: i64) -> String {
        let res = self
            .app
            .call_as(
                &self.secret,
                Method::POST,
                "/v1/user-tokens",
                Some(json!({ "userId": user, "ttlSeconds": ttl })),
            )
            .await;
        assert_eq!(res.status(), 200);
        res.json::<Value>().await.unwrap()["token"]
            .as_str()
            .unwrap()
            .to_string()
    }

    async fn read(&self, user: &str, token: Option<&str>, origin: Option<&str>) -> reqwest::Response {
        let mut req = self
            .app
            .client
            .get(format!("{}/v1/users/{user}/usage", self.app.address))
            .bearer_auth(&self.publishable);
        if let Some(token) = token {
            req = req.header("X-User-Token", token);
        }
        if let Some(origin) = origin {
            req = req.header("Origin", origin);
        }
        req.send().await.unwrap()
    }
}

#[tokio::test]
async fn a_browser_reads_only_its_own_users_usage() {
    let b = browser_setup(spawn_app().await, "web").await;
    let token_a = b.token("a", 900).await;
    let own = b.read("a", Some(&token_a), Some("https://app.example.com")).await;
    assert_eq!(own.status(), 200);
    assert_eq!(own.headers()["access-control-allow-origin"], "https://app.example.com");
    let other_origin = b.read("a", Some(&token_a), Some("https://evil.example")).await;
    assert_eq!(other_origin.status(), 200);
    assert!(
        !other_origin.headers().contains_key("access-control-allow-origin"),
        "no CORS for an unlisted origin"
    );

    assert_eq!(
        b.read("b", Some(&token_a), None).await.status(),
        StatusCode::FORBIDDEN,
        "A's token for B"
    );
    assert_eq!(
        b.read("a", None, None).await.status(),
        StatusCode::UNAUTHORIZED,
        "no token"
    );
    let mut tampered = token_a.clone().into_bytes();
    let at = tampered.len() - 5;
    tampered[at] = if tampered[at] == b'A' { b'B' } else { b'A' };
    assert_eq!(
        b.read("a", Some(&String::from_utf8(tampered).unwrap()), None)
            .await
            .status(),
        401
    );

    // The publishable key may do nothing else.
    for (method, path, body) in [
        (
            Method::POST,
            "/v1/reserve",
            Some(json!({ "userId": "a", "event": "e" })),
        ),
        (Method::GET, "/v1/plans", None),
        (Method::POST, "/v1/user-tokens", Some(json!({ "userId": "a" }))),
        (Method::GET, "/v1/users/a/subscription", None),
    ] {
        let res = b.app.call_as(&b.publishable, method, path, body).await;
        assert_eq!(res.status(), 403, "{path}");
    }
}

#[tokio::test]
async fn a_token_expired_by_one_second_or_from_another_project_is_refused() {
    let (app, clock) = spawn_app_stepped().await;
    let b = browser_setup(app, "web").await;
    let short = b.token("a", 1).await;
    let long = b.token("a", 900).await;
    assert_eq!(b.read("a", Some(&short), None).await.status(), 200);
    // A node judges a token's expiry by its own estimate of Redis time, which lags a step until
    // a script finds it stale: the token is read again on a node started after the step.
    clock.step(2_100);
    let later = Browser {
        app: node_after_steps(&clock, &b.app).await,
        secret: b.secret.clone(),
        publishable: b.publishable.clone(),
    };
    assert_eq!(later.read("a", Some(&short), None).await.status(), 401, "expired");
    assert_eq!(
        later.read("a", Some(&long), None).await.status(),
        200,
        "the later node takes a token that has not expired"
    );

    let other = browser_setup(later.app, "shop").await;
    let shop_token = other.token("a", 900).await;
    assert_eq!(
        b.read("a", Some(&shop_token), None).await.status(),
        401,
        "a token of another project"
    );
}

#[tokio::test]
async fn every_key_kind_against_every_route_class() {
    let app = spawn_app().await;
    let b = browser_setup(
        spawn_app_on(&redis::shared().target(), &app.prefix, Some(&app.key)).await,
        "web",
    )
    .await;
    let token = b.token("a", 900).await;
    let root = app.root_token.clone();
    let unknown = "qg_sk_thisisnotakeythisisnotakey0000000";
    // (token, root route, data route, usage with a user token)
    let matrix = [
        (root.as_str(), 200, 403, 403),
        (b.secret.as_str(), 403, 200, 200),
        (b.publishable.as_str(), 403, 403, 200),
        (unknown, 401, 401, 401),
        ("", 401, 401, 401),
    ];
    for (key, root_route, data_route, usage) in matrix {
        let get = |path: &str| {
            let mut req = app
                .client
                .get(format!("{}{path}", app.address))
                .header("X-User-Token", &token);
            if !key.is_empty() {
                req = req.bearer_auth(key);
            }
            req.send()
        };
        assert_eq!(
            get("/v1/projects").await.unwrap().status().as_u16(),
            root_route,
            "{key} on a root route"
        );
        assert_eq!(
            get("/v1/plans").await.unwrap().status().as_u16(),
            data_route,
            "{key} on a data route"
        );
        assert_eq!(
            get("/v1/users/a/usage").await.unwrap().status().as_u16(),
            usage,
            "{key} reading usage"
        );
    }
}

#[tokio::test]
async fn a_revoked_key_is_refused_by_every_node_within_a_second() {
    let prefix = unique_prefix();
    let a = spawn_app_on(&redis::shared().target(), &prefix, None).await;
    let b = spawn_app_on(&redis::shared().target(), &prefix, Some(&a.key)).await;
    let (key, key_id) = mint_with_id(&a, "default", "secret").await;
    // Both nodes know (and cache) the key.
    for node in [&a, &b] {
        assert_eq!(node.call_as(&key, Method::GET, "/v1/plans", None).await.status(), 200);
    }
    let listed: Value = a
        .call_as(&a.root_token, Method::GET, "/v1/projects/default/keys", None)
        .await
        .json()
        .await
        .unwrap();
    let entry = listed["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["keyId"] == key_id.as_str())
        .unwrap()
        .clone();
    assert!(key.ends_with(entry["hint"].as_str().unwrap().rsplit('…').next().unwrap()));
    assert!(
        !listed.to_string().contains(&key),
        "keys are listed without their secret part"
    );
    let revoked = a
        .call_as(
            &a.root_token,
            Method::DELETE,
            &format!("/v1/projects/default/keys/{key_id}"),
            None,
        )
        .await;
    assert_eq!(revoked.status(), 204);

    let since = Instant::now();
    for node in [&a, &b] {
        let mut status = StatusCode::OK;
        while since.elapsed() < Duration::from_secs(3) {
            status = node.call_as(&key, Method::GET, "/v1/plans", None).await.status();
            if status == 401 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        assert_eq!(status, 401);
    }
    eprintln!("revocation seen by both nodes after {:?}", since.elapsed());
}

#[tokio::test]
async fn unknown_fields_on_every_write_route_are_refused_by_name() {
    let app = spawn_app().await;
    let mut registered = Vec::new();
    actix_web::App::new().configure(|cfg| registered = quota_gateway::api::routes(cfg));
    for (method, path) in registered {
        if matches!(method, "GET" | "DELETE" | "OPTIONS") {
            continue;
        }
        let path = path
            .replace("{projectId}", "default")
            .replace("{planId}", "plan_x")
            .replace("{userId}", "u")
            .replace("{groupId}", "g")
            .replace("{reservationId}", "r_dQ.AAAA")
            .replace("{model}", "gpt-4.1");
        let token = if path.starts_with("/v1/projects") || path.starts_with("/v1/operators") {
            app.root_token.clone()
        } else {
            app.key.clone()
        };
        let method = Method::from_bytes(method.as_bytes()).unwrap();
        let res = app
            .call_as(&token, method.clone(), &path, Some(json!({ "zzUnknown": 1 })))
            .await;
        let status = res.status();
        let body: Value = res.json().await.unwrap();
        assert_eq!(
            (status.as_u16(), body["field"].clone()),
            (400, json!("zzUnknown")),
            "{method} {path}: {body}"
        );
    }
}

#[tokio::test]
async fn a_preflight_from_an_unlisted_origin_gets_no_cors_headers() {
    let b = browser_setup(spawn_app().await, "web").await;
    let preflight = |origin: &'static str| {
        b.app
            .client
            .request(Method::OPTIONS, format!("{}/v1/users/a/usage", b.app.address))
            .header("Origin", origin)
            .header("Access-Control-Request-Method", "GET")
            .header("Access-Control-Request-Headers", "authorization, x-user-token")
            .send()
    };
    let listed = preflight("https://app.example.com").await.unwrap();
    assert_eq!(listed.status(), 204);
    assert_eq!(
        listed.headers()["access-control-allow-origin"],
        "https://app.example.com"
    );
    assert!(listed.headers()["access-control-allow-headers"]
        .to_str()
        .unwrap()
        .contains("X-User-Token"));
    let unlisted = preflight("https://evil.example").await.unwrap();
    assert_eq!(unlisted.status(), 403);
    assert!(!unlisted.headers().contains_key("access-control-allow-origin"));
}

#[tokio::test]
async fn redis_holds_no_plaintext_key_or_token() {
    let app = spawn_app().await;
    let prefix = app.prefix.clone();
    let b = browser_setup(app, "web").await;
    let token = b.token("a", 900).await;
    assert_eq!(b.read("a", Some(&token), None).await.status(), 200);
    b.app
        .call_as(
            &b.secret,
            Method::POST,
            "/v1/reserve",
            Some(json!({ "userId": "a", "event": "image.model_a" })),
        )
        .await;

    let shared = redis::shared();
    let keys = shared.keys(&format!("{prefix}*"));
    assert!(keys.len() > 10, "the scan sees this app's state: {keys:?}");
    let mut everything = keys.join("\n");
    for key in &keys {
        let kind: String = shared.query(&["TYPE", key]);
        let values: Vec<String> = match kind.as_str() {
            "string" => vec![shared.query(&["GET", key])],
            "hash" => shared.query(&["HGETALL", key]),
            "list" => shared.query(&["LRANGE", key, "0", "-1"]),
            "set" => shared.query(&["SMEMBERS", key]),
            "zset" => shared.query(&["ZRANGE", key, "0", "-1"]),
            "stream" => {
                let entries: Vec<(String, Vec<String>)> = shared.query(&["XRANGE", key, "-", "+"]);
                entries
                    .into_iter()
                    .flat_map(|(id, fields)| std::iter::once(id).chain(fields))
                    .collect()
            }
            other => panic!("unexpected type {other} for {key}"),
        };
        everything.push_str(&values.join("\n"));
    }
    for secret in [
        b.secret.as_str(),
        b.publishable.as_str(),
        b.app.key.as_str(),
        b.app.root_token.as_str(),
        token.as_str(),
    ] {
        assert!(!everything.contains(secret), "a plaintext secret is stored in Redis");
    }
}

#[tokio::test]
async fn errors_of_browser_reads_from_an_allowed_origin_carry_cors_headers() {
    let b = browser_setup(spawn_app().await, "web").await;
    let token_b = b.token("b", 900).await;
    let allowed = "https://app.example.com";
    for (token, status) in [
        (None, 401),
        (Some("qg_ut_tampered.x"), 401),
        (Some(token_b.as_str()), 403),
    ] {
        let res = b.read("a", token, Some(allowed)).await;
        assert_eq!(res.status(), status);
        assert_eq!(res.headers()["access-control-allow-origin"], allowed, "{status}");
        assert!(res.headers().contains_key("x-request-id"));
        let body: Value = res.json().await.unwrap();
        assert!(body["requestId"].as_str().is_some_and(|id| !id.is_empty()), "{body}");
    }
    let unlisted = b.read("a", None, Some("https://evil.example")).await;
    assert_eq!(unlisted.status(), 401);
    assert!(!unlisted.headers().contains_key("access-control-allow-origin"));
}

#[tokio::test]
async fn subdomain_patterns_in_allowed_origins_match_subdomains_only() {
    let b = browser_setup(spawn_app().await, "web").await;
    let patch = |origins: Value| {
        b.app.call_as(
            &b.app.root_token,
            Method::PATCH,
            "/v1/projects/web",
            Some(json!({ "allowedOrigins": origins })),
        )
    };
    let refused = patch(json!(["https://a*.example.com"])).await;
    assert_eq!(refused.status(), 400);
    assert_eq!(refused.json::<Value>().await.unwrap()["field"], "allowedOrigins[0]");
    assert_eq!(patch(json!(["https://*.example.com"])).await.status(), 200);
    // Settings reach every node within a second; this node forgets them at once.
    let token = b.token("a", 900).await;
    let sub = b.read("a", Some(&token), Some("https://shop.example.com")).await;
    assert_eq!(sub.status(), 200);
    assert_eq!(sub.headers()["access-control-allow-origin"], "https://shop.example.com");
    for origin in ["https://example.com", "https://example.com.evil.io"] {
        let other = b.read("a", Some(&token), Some(origin)).await;
        assert!(!other.headers().contains_key("access-control-allow-origin"), "{origin}");
    }
}
