//! Who pays for a proxied call: the project's secret key naming its user in `X-Quota-User`, or
//! a user key, which spends as its own user only. The key comes as `Authorization: Bearer`
//! (OpenAI's SDKs), `x-api-key` (Anthropic's) or `x-goog-api-key` or `?key=` (Google's).
//! `X-Quota-Metadata` and the run headers say the rest. None of these goes upstream.

use actix_web::http::header::{HeaderMap, AUTHORIZATION};
use serde_json::{Map, Value};

use crate::http::step::{fit, step};
use crate::http::{ApiError, AppState};
use crate::quota::event::{check_metadata, FitAsk};
use crate::quota::{Milli, Step, UserId};
use crate::secrets::{api_key_well_formed, USER_KEY_PREFIX};

pub(crate) const USER: &str = "x-quota-user";
pub(crate) const METADATA: &str = "x-quota-metadata";
pub(crate) const RUN: &str = "x-quota-run";
pub(crate) const ACTION: &str = "x-quota-action";
pub(crate) const KIND: &str = "x-quota-kind";
pub(crate) const FIT: &str = "x-quota-fit";
pub(crate) const MIN_FIT: &str = "x-quota-min-fit";

/// Metadata names the proxy writes itself; a caller's metadata may not use them.
pub(crate) const RESERVED: [&str; 27] = [
    "model",
    "calls",
    "upstream",
    "operation",
    "stream",
    "input_tokens",
    "output_tokens",
    "cached_input_tokens",
    "cache_write_tokens",
    "reasoning_tokens",
    "images",
    "audio_seconds",
    "input_characters",
    "audio_input_tokens",
    "audio_output_tokens",
    "video_seconds",
    "batch",
    "job_id",
    "job_kind",
    "usage",
    "provider_status",
    "provider_request_id",
    "duration_ms",
    "fallback_of",
    "attempt",
    "target",
    "fallback_reason",
];

/// Room left for the proxy's own keys within an event's 32.
const MAX_CALLER_METADATA_KEYS: usize = 16;

/// The caller, resolved.
pub(crate) struct Caller {
    pub project: String,
    pub user: UserId,
    /// The key that made the call, for the ledger.
    pub key_id: String,
    pub metadata: Map<String, Value>,
    pub step: Option<Step>,
    /// `X-Quota-Fit` and `X-Quota-Min-Fit`, as a reserve's `fit` and `minFit`.
    pub fit: FitAsk,
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Result<Option<&'a str>, ApiError> {
    match headers.get(name) {
        None => Ok(None),
        Some(v) => v
            .to_str()
            .map(Some)
            .map_err(|_| ApiError::invalid(name_of(name), "must be visible ASCII")),
    }
}

/// A header's name as the error names it.
fn name_of(name: &str) -> String {
    name.split('-')
        .map(|part| {
            let mut chars = part.chars();
            chars
                .next()
                .map_or(String::new(), |c| c.to_ascii_uppercase().to_string() + chars.as_str())
        })
        .collect::<Vec<_>>()
        .join("-")
}

/// The key presented, from either header.
fn presented<'a>(headers: &'a HeaderMap, in_query: Option<&'a str>) -> Option<&'a str> {
    let bearer = headers
        .get(AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer ").or_else(|| v.strip_prefix("bearer ")));
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    bearer
        .or_else(|| header("x-api-key"))
        .or_else(|| header("x-goog-api-key"))
        .or(in_query)
        .map(str::trim)
        .filter(|t| !t.is_empty())
}

/// Everything about the caller, checked before anything reaches Redis but the key's lookup.
/// `in_query`: the key a format's clients may send in the query (Gemini's `?key=`).
pub(crate) async fn identify(
    state: &AppState,
    headers: &HeaderMap,
    in_query: Option<&str>,
) -> Result<Caller, ApiError> {
    // The headers first: bad input is refused without a lookup.
    let named = header(headers, USER)?
        .map(|u| {
            let id = percent_decoded(u)
                .ok_or_else(|| ApiError::invalid(name_of(USER), "must be UTF-8 once percent-decoded"))?;
            UserId::parse(&id).map_err(|d| ApiError::invalid(name_of(USER), d))
        })
        .transpose()?;
    let metadata = match header(headers, METADATA)? {
        None => Map::new(),
        Some(text) => caller_metadata(text)?,
    };
    let min_fit = header(headers, MIN_FIT)?
        .map(|m| Milli::parse(m).map_err(|e| ApiError::invalid(name_of(MIN_FIT), e.to_string())))
        .transpose()?;
    let fit = fit(header(headers, FIT)?, min_fit).map_err(|err| match err {
        ApiError::Invalid { field, detail } => ApiError::Invalid {
            field: if field == "fit" { name_of(FIT) } else { name_of(MIN_FIT) },
            detail,
        },
        other => other,
    })?;
    let token = presented(headers, in_query).ok_or(ApiError::Unauthorized)?;
    if !api_key_well_formed(token) {
        return Err(ApiError::Unauthorized);
    }
    let (project, user, key_id) = if token.starts_with(USER_KEY_PREFIX) {
        let owner = state
            .gateway
            .accounts()
            .key_user(token)
            .await?
            .ok_or(ApiError::Unauthorized)?;
        // A user key spends as its own user: naming another is refused, not ignored.
        if let Some(named) = named.filter(|n| *n != owner.user) {
            return Err(ApiError::OtherUser {
                own: owner.user.to_string(),
                named: named.to_string(),
            });
        }
        (owner.project, owner.user, owner.key_id)
    } else {
        let record = state
            .gateway
            .node()
            .authenticate(token)
            .await?
            .ok_or(ApiError::Unauthorized)?;
        if record.kind != "secret" {
            return Err(ApiError::Forbidden);
        }
        let user = named.ok_or_else(|| {
            ApiError::invalid(
                name_of(USER),
                "is required with a secret key: name the end user who pays",
            )
        })?;
        (record.project.clone(), user, record.key_id.clone())
    };
    let run = header(headers, RUN)?.map(str::to_string);
    let action = header(headers, ACTION)?.map(str::to_string);
    let kind = header(headers, KIND)?.map(str::to_string);
    let step = step(&user, run, action, kind).map_err(|err| match err {
        ApiError::Invalid { field, detail } => {
            let field = match field.as_str() {
                "runId" => name_of(RUN),
                "actionId" => name_of(ACTION),
                "kind" => name_of(KIND),
                _ => field,
            };
            ApiError::Invalid {
                field,
                detail: detail.replace("give runId", "give X-Quota-Run"),
            }
        }
        other => other,
    })?;
    Ok(Caller {
        project,
        user,
        key_id,
        metadata,
        step,
        fit,
    })
}

/// A header value percent-decoded as UTF-8: HTTP headers carry ASCII only, so a user id such as
/// `Zoë` is sent as `Zo%C3%AB` (and a `%` of an id as `%25`). None: not UTF-8 once decoded.
fn percent_decoded(value: &str) -> Option<String> {
    if !value.contains('%') {
        return Some(value.to_string());
    }
    let (bytes, well_formed) = crate::http::paths::percent_decode(value);
    well_formed.then(|| String::from_utf8(bytes).ok()).flatten()
}

/// `X-Quota-Metadata`: a JSON object under the event metadata's rules, at most 16 keys, none
/// the proxy writes itself.
fn caller_metadata(text: &str) -> Result<Map<String, Value>, ApiError> {
    let field = name_of(METADATA);
    let map: Map<String, Value> =
        serde_json::from_str(text).map_err(|_| ApiError::invalid(&field, "must be a JSON object"))?;
    if map.len() > MAX_CALLER_METADATA_KEYS {
        return Err(ApiError::invalid(&field, "must have at most 16 keys"));
    }
    if let Some(key) = map.keys().find(|k| RESERVED.contains(&k.as_str())) {
        return Err(ApiError::invalid(
            format!("{field}.{key}"),
            "is written by the proxy itself",
        ));
    }
    check_metadata(&map)
        .map_err(|(at, detail)| ApiError::invalid(format!("{field}{}", at.trim_start_matches("metadata")), detail))?;
    Ok(map)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_named_user_is_percent_decoded_as_utf8() {
        assert_eq!(percent_decoded("Zo%C3%AB").as_deref(), Some("Zoë"));
        assert_eq!(percent_decoded("alice").as_deref(), Some("alice"));
        assert_eq!(percent_decoded("a%25b").as_deref(), Some("a%b"));
        assert_eq!(percent_decoded("%FF"), None);
        assert_eq!(percent_decoded("50%"), None);
    }

    #[test]
    fn headers_are_named_as_written() {
        assert_eq!(name_of(USER), "X-Quota-User");
        assert_eq!(name_of(METADATA), "X-Quota-Metadata");
    }

    #[test]
    fn caller_metadata_may_not_write_the_proxys_names() {
        assert!(caller_metadata(r#"{"feature": "chat"}"#).is_ok());
        let err = caller_metadata(r#"{"model": "free"}"#).unwrap_err();
        assert!(matches!(err, ApiError::Invalid { field, .. } if field == "X-Quota-Metadata.model"));
        assert!(caller_metadata("[1]").is_err());
    }
}
