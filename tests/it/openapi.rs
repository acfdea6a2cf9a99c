//! The OpenAPI document describes every registered route.

use serde_json::Value;

use crate::support::spawn_app;

#[tokio::test]
async fn every_registered_route_is_in_the_openapi_document() {
    let app = spawn_app().await;
    let doc: Value = app
        .client
        .get(format!("{}/openapi.json", app.address))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    let mut registered = Vec::new();
    actix_web::App::new().configure(|cfg| registered = quota_gateway::api::routes(cfg));
    assert!(registered.len() > 30);
    for (method, path) in registered {
        let operation = &doc["paths"][path][method.to_lowercase()];
        assert!(operation.is_object(), "{method} {path} is missing from /openapi.json");
        assert!(
            operation["responses"].as_object().is_some_and(|r| !r.is_empty()),
            "{method} {path} has no answers"
        );
    }
    // Error answers are problem+json naming their codes.
    let reserve = &doc["paths"]["/v1/reserve"]["post"]["responses"];
    assert!(reserve["422"]["description"]
        .as_str()
        .unwrap()
        .contains("idempotency_key_reused"));
    assert!(doc["components"]["schemas"]["PlanDoc"].is_object());
    // Routes that honour an Idempotency-Key say so.
    for (method, path) in [
        ("post", "/v1/reserve"),
        ("post", "/v1/track"),
        ("post", "/v1/reservations/{reservationId}/commit"),
        ("post", "/v1/webhooks"),
    ] {
        let parameters = doc["paths"][path][method]["parameters"].as_array().unwrap();
        assert!(
            parameters
                .iter()
                .any(|p| p["name"] == "Idempotency-Key" && p["in"] == "header"),
            "{method} {path}"
        );
    }
    // Enabling an endpoint is a route, and a disabled one's refusal a code.
    let test = &doc["paths"]["/v1/webhooks/{webhookId}/test"]["post"]["responses"];
    assert!(test["409"]["description"]
        .as_str()
        .unwrap()
        .contains("webhook_disabled"));
    assert!(doc["paths"]["/v1/webhooks/{webhookId}/enable"]["post"].is_object());
}
