//! `/v1/webhooks`: a project's webhook endpoints (secret keys only). The secret is answered
//! when an endpoint is made (and to a repeat of that request with its Idempotency-Key) and when
//! it is rotated, never again.

use actix_web::{web, HttpRequest, HttpResponse};

use super::auth::ApiKey;
use super::dto::{
    DeliveryAnswer, DeliveryIdAnswer, DeliveryList, EmptyBody, SecretAnswer, WebhookAnswer, WebhookBody, WebhookList,
};
use super::{body, query};
use crate::gateway::webhooks::{event_type_known, event_types};
use crate::http::idempotency::idempotency;
use crate::http::ApiError;
use crate::http::AppState;

const MAX_DESCRIPTION_BYTES: usize = 256;

/// The body's own rules; the URL's are the gateway's (`webhooks::guard`), which the dashboard
/// meets too.
fn checked(body: &WebhookBody) -> Result<(), ApiError> {
    for (i, kind) in body.events.iter().enumerate() {
        if !event_type_known(kind) {
            return Err(ApiError::invalid(
                format!("events[{i}]"),
                format!("must be one of {}", event_types()),
            ));
        }
    }
    if body
        .description
        .as_ref()
        .is_some_and(|d| d.len() > MAX_DESCRIPTION_BYTES || d.chars().any(char::is_control))
    {
        return Err(ApiError::invalid(
            "description",
            "must be at most 256 bytes without control characters",
        ));
    }
    Ok(())
}

pub(crate) async fn create_webhook(
    key: ApiKey,
    state: web::Data<AppState>,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let bytes = body::read(&req, payload).await?;
    let body: WebhookBody = body::parse(&bytes)?;
    checked(&body)?;
    let idempotency = idempotency(&req, "webhooks", "", &bytes)?;
    let (project, actor) = key.actor(&state).await?;
    let mut events = body.events;
    events.sort();
    events.dedup();
    let made = state
        .gateway
        .accounts()
        .create_webhook(
            &project,
            &body.url,
            events,
            body.description.unwrap_or_default(),
            idempotency.as_ref(),
            &actor,
        )
        .await?;
    Ok(HttpResponse::Created().json(WebhookAnswer::new(made.id, made.record, true)))
}

pub(crate) async fn list_webhooks(key: ApiKey, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let project = key.project(&state).await?;
    let data = state
        .gateway
        .accounts()
        .webhooks(&project)
        .await?
        .into_iter()
        .map(|(id, e)| WebhookAnswer::new(id, e, false))
        .collect();
    Ok(HttpResponse::Ok().json(WebhookList {
        data,
        next_cursor: None,
    }))
}

pub(crate) async fn get_webhook(
    key: ApiKey,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id = path.into_inner();
    let project = key.project(&state).await?;
    let record = state.gateway.accounts().webhook(&project, &id).await?;
    let record = record.ok_or_else(|| ApiError::WebhookNotFound(id.clone()))?;
    Ok(HttpResponse::Ok().json(WebhookAnswer::new(id, record, false)))
}

pub(crate) async fn delete_webhook(
    key: ApiKey,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id = path.into_inner();
    let (project, actor) = key.actor(&state).await?;
    if !state
        .gateway
        .accounts()
        .delete_webhook(&project, &id, None, &actor)
        .await?
    {
        return Err(ApiError::WebhookNotFound(id));
    }
    Ok(HttpResponse::NoContent().finish())
}

pub(crate) async fn rotate_secret(
    key: ApiKey,
    state: web::Data<AppState>,
    path: web::Path<String>,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let _: EmptyBody = body::parse_optional(&body::read(&req, payload).await?)?;
    let id = path.into_inner();
    let (project, actor) = key.actor(&state).await?;
    let secret = state
        .gateway
        .accounts()
        .rotate_webhook_secret(&project, &id, &actor)
        .await?;
    Ok(HttpResponse::Ok().json(SecretAnswer { secret }))
}

/// `POST /v1/webhooks/{id}/enable` and `.../disable`.
async fn set_enabled(
    enabled: bool,
    key: ApiKey,
    state: web::Data<AppState>,
    path: web::Path<String>,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let _: EmptyBody = body::parse_optional(&body::read(&req, payload).await?)?;
    let id = path.into_inner();
    let (project, actor) = key.actor(&state).await?;
    let record = state
        .gateway
        .accounts()
        .set_webhook_enabled(&project, &id, enabled, &actor)
        .await?;
    Ok(HttpResponse::Ok().json(WebhookAnswer::new(id, record, false)))
}

pub(crate) async fn enable_webhook(
    key: ApiKey,
    state: web::Data<AppState>,
    path: web::Path<String>,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    set_enabled(true, key, state, path, req, payload).await
}

pub(crate) async fn disable_webhook(
    key: ApiKey,
    state: web::Data<AppState>,
    path: web::Path<String>,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    set_enabled(false, key, state, path, req, payload).await
}

pub(crate) async fn test_webhook(
    key: ApiKey,
    state: web::Data<AppState>,
    path: web::Path<String>,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let _: EmptyBody = body::parse_optional(&body::read(&req, payload).await?)?;
    let id = path.into_inner();
    let project = key.project(&state).await?;
    let delivery_id = state.gateway.accounts().test_webhook(&project, &id).await?;
    Ok(HttpResponse::Accepted().json(DeliveryIdAnswer { delivery_id }))
}

pub(crate) async fn list_deliveries(
    key: ApiKey,
    state: web::Data<AppState>,
    path: web::Path<String>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let id = path.into_inner();
    let [limit] = query::params(req.query_string(), ["limit"])?;
    let limit = query::limit(limit.as_deref(), 50, 200)?;
    let project = key.project(&state).await?;
    if state.gateway.accounts().webhook(&project, &id).await?.is_none() {
        return Err(ApiError::WebhookNotFound(id));
    }
    let data = state
        .gateway
        .accounts()
        .webhook_deliveries(&project, &id, limit)
        .await?
        .into_iter()
        .map(|(id, d)| DeliveryAnswer::new(id, d))
        .collect();
    Ok(HttpResponse::Ok().json(DeliveryList {
        data,
        next_cursor: None,
    }))
}

pub(crate) async fn retry_delivery(
    key: ApiKey,
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let _: EmptyBody = body::parse_optional(&body::read(&req, payload).await?)?;
    let (id, delivery_id) = path.into_inner();
    let project = key.project(&state).await?;
    if !state
        .gateway
        .accounts()
        .retry_delivery(&project, &id, &delivery_id)
        .await?
    {
        return Err(ApiError::DeliveryNotFound(delivery_id));
    }
    Ok(HttpResponse::Accepted().json(DeliveryIdAnswer { delivery_id }))
}
