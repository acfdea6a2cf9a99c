//! Who is calling: the root token (projects and their keys) or a project's secret key.
//! Keys are looked up by their SHA-256 digest and compared in constant time.

use std::future::{ready, Ready};

use actix_web::dev::Payload;
use actix_web::http::header::AUTHORIZATION;
use actix_web::{web, FromRequest, HttpRequest};

use super::error::ApiError;
use super::AppState;
use crate::secrets::{digest, digests_equal};

/// The caller presented the root token.
pub struct Root;

/// A bearer token that looks like a secret key, not yet checked against the store.
/// Handlers validate their input first and call `project` after, so invalid input never
/// reaches Redis; the project id is only reachable through that check.
pub struct SecretKey {
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

impl FromRequest for Root {
    type Error = ApiError;
    type Future = Ready<Result<Root, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready((|| {
            let state = state(req)?;
            let token = bearer(req).ok_or(ApiError::Unauthorized)?;
            if digests_equal(&digest(token), &state.root_digest) {
                Ok(Root)
            } else if token.starts_with("qg_sk_") {
                // A valid-looking project key on a root route: say which kind of key is needed.
                Err(ApiError::Forbidden)
            } else {
                Err(ApiError::Unauthorized)
            }
        })())
    }
}

impl FromRequest for SecretKey {
    type Error = ApiError;
    type Future = Ready<Result<SecretKey, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready((|| {
            let token = bearer(req).ok_or(ApiError::Unauthorized)?;
            if token.starts_with("qg_sk_") {
                return Ok(SecretKey {
                    token: token.to_string(),
                });
            }
            // The root token on a project route: say which kind of key is needed.
            let state = state(req)?;
            Err(if digests_equal(&digest(token), &state.root_digest) {
                ApiError::Forbidden
            } else {
                ApiError::Unauthorized
            })
        })())
    }
}

impl SecretKey {
    /// The project this key belongs to, or 401 for an unknown key.
    pub async fn project(&self, state: &AppState) -> Result<String, ApiError> {
        let token_digest = digest(&self.token);
        let record = state
            .store
            .find_key(&hex::encode(token_digest))
            .await?
            .ok_or(ApiError::Unauthorized)?;
        // The lookup already matched the digest; the record's own copy is checked again in
        // constant time so a corrupted or crafted record can never grant access.
        let stored = hex::decode(&record.digest_hex)
            .ok()
            .and_then(|d| <[u8; 32]>::try_from(d).ok());
        match stored {
            Some(stored) if digests_equal(&stored, &token_digest) && record.kind == "secret" => {
                Ok(record.project)
            }
            _ => Err(ApiError::Unauthorized),
        }
    }
}
