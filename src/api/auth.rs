//! Who is calling: the root token (projects and their keys), a project's secret key (everything
//! in the project), or a publishable key with a user token (that user's usage, from a browser).
//! Keys are looked up by their SHA-256 digest and compared in constant time.

use std::future::{ready, Ready};
use std::sync::Arc;

use futures_util::future::LocalBoxFuture;

use actix_web::dev::Payload;
use actix_web::http::header::AUTHORIZATION;
use actix_web::{web, FromRequest, HttpRequest};

use crate::gateway::audit::Actor;
use crate::http::ApiError;
use crate::http::AppState;
use crate::quota::KeyRecord;
use crate::quota::UserId;
use crate::secrets::api_key_well_formed;

/// The header a browser sends its user token in.
pub(crate) const USER_TOKEN_HEADER: &str = "X-User-Token";

/// The caller presented the root token.
pub(crate) struct Root;

/// A bearer token shaped like an API key (prefix and checksum right), not yet looked up.
/// Handlers validate their input first and resolve the key after, so invalid input never
/// reaches Redis; the project id is only reachable through that check.
pub(crate) struct ApiKey {
    token: String,
}

fn bearer(req: &HttpRequest) -> Option<&str> {
    let value = req.headers().get(AUTHORIZATION)?.to_str().ok()?;
    let token = value
        .strip_prefix("Bearer ")
        .or_else(|| value.strip_prefix("bearer "))?;
    Some(token.trim()).filter(|t| !t.is_empty())
}

fn state(req: &HttpRequest) -> Result<web::Data<AppState>, ApiError> {
    req.app_data::<web::Data<AppState>>()
        .cloned()
        .ok_or_else(|| ApiError::Internal("application state is missing".into()))
}

fn is_root(state: &AppState, token: &str) -> Result<bool, ApiError> {
    Ok(state.gateway.node().is_root(token)?)
}

impl FromRequest for Root {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Root, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let checked = (|| {
            let state = state(req)?;
            let token = bearer(req).ok_or(ApiError::Unauthorized)?;
            Ok::<_, ApiError>((is_root(&state, token)?, state, token.to_string()))
        })();
        Box::pin(async move {
            let (root, state, token) = checked?;
            if root {
                return Ok(Root);
            }
            if !api_key_well_formed(&token) {
                return Err(ApiError::Unauthorized);
            }
            // A live key of the wrong kind for this route: say so rather than "unknown"; a
            // revoked or unknown one is 401 like anywhere else.
            match state.gateway.node().authenticate(&token).await? {
                Some(_) => Err(ApiError::Forbidden),
                None => Err(ApiError::Unauthorized),
            }
        })
    }
}

impl FromRequest for ApiKey {
    type Error = ApiError;
    type Future = Ready<Result<ApiKey, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready((|| {
            let token = bearer(req).ok_or(ApiError::Unauthorized)?;
            if api_key_well_formed(token) {
                return Ok(ApiKey {
                    token: token.to_string(),
                });
            }
            Err(if is_root(&*state(req)?, token)? {
                ApiError::Forbidden
            } else {
                ApiError::Unauthorized
            })
        })())
    }
}

impl ApiKey {
    /// The key's record, or 401 for an unknown or revoked key.
    async fn record(&self, state: &AppState) -> Result<Arc<KeyRecord>, ApiError> {
        state
            .gateway
            .node()
            .authenticate(&self.token)
            .await?
            .ok_or(ApiError::Unauthorized)
    }

    /// The project of a secret key; a publishable key may not use this route (403).
    pub(crate) async fn project(&self, state: &AppState) -> Result<String, ApiError> {
        Ok(self.secret(state).await?.project.clone())
    }

    /// The project of a secret key and who it is, for the audit log of a change it makes.
    pub(crate) async fn actor(&self, state: &AppState) -> Result<(String, Actor), ApiError> {
        let record = self.secret(state).await?;
        let actor = Actor::new(record.key_id.clone(), record.label.clone());
        Ok((record.project.clone(), actor))
    }

    /// The record of a secret key (its project and id); a publishable key is 403.
    pub(crate) async fn secret(&self, state: &AppState) -> Result<Arc<KeyRecord>, ApiError> {
        let record = self.record(state).await?;
        if record.kind != "secret" {
            return Err(ApiError::Forbidden);
        }
        Ok(record)
    }

    /// The project for reading `user`'s usage: a secret key, or a publishable key with a valid
    /// user token of the same project (401 otherwise) minted for this user (403 otherwise).
    pub(crate) async fn reader_project(
        &self,
        state: &AppState,
        req: &HttpRequest,
        user: &UserId,
    ) -> Result<String, ApiError> {
        let record = self.record(state).await?;
        if record.kind == "secret" {
            return Ok(record.project.clone());
        }
        // A user key is the proxy's only: a live one is refused here as on every other route.
        if record.kind == "user" {
            return Err(ApiError::Forbidden);
        }
        let token = req
            .headers()
            .get(USER_TOKEN_HEADER)
            .and_then(|v| v.to_str().ok())
            .ok_or(ApiError::Unauthorized)?;
        let claims = state
            .gateway
            .node()
            .verify_user_token(token)?
            .ok_or(ApiError::Unauthorized)?;
        if claims.project != record.project {
            return Err(ApiError::Unauthorized);
        }
        if claims.user != user.as_str() {
            return Err(ApiError::Forbidden);
        }
        Ok(record.project.clone())
    }
}
