//! What the caller's headers say: the key (`Authorization: Bearer` from OpenAI's SDKs,
//! `x-api-key` from Anthropic's, `x-goog-api-key` or `?key=` from Google's), the user a secret
//! key names in `X-Quota-User`, `X-Quota-Metadata`, the fit and the run headers. Read before
//! anything reaches Redis; none of these goes upstream (`identify.rs` looks the key up).

use actix_web::http::header::{HeaderMap, AUTHORIZATION};
use serde_json::{Map, Value};

use super::call::caller::{reserved, ACTION, FIT, KIND, METADATA, MIN_FIT, RUN, USER};
use crate::http::step::{fit, step};
use crate::http::ApiError;
use crate::quota::event::{check_metadata, FitAsk};
use crate::quota::{Milli, Step, UserId};
use crate::secrets::api_key_well_formed;

/// Room left for the proxy's own keys within an event's 32.
const MAX_CALLER_METADATA_KEYS: usize = 16;

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

/// The key presented: a bearer token, or the header a provider's own clients send theirs in
/// (Anthropic's `x-api-key`, Gemini's `x-goog-api-key`, Azure OpenAI's `api-key`), or the query.
fn presented<'a>(headers: &'a HeaderMap, in_query: Option<&'a str>) -> Option<&'a str> {
    let bearer = headers
        .get(AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer ").or_else(|| v.strip_prefix("bearer ")));
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    bearer
        .or_else(|| header("x-api-key"))
        .or_else(|| header("x-goog-api-key"))
        .or_else(|| header("api-key"))
        .or(in_query)
        .or_else(|| in_protocols(header("sec-websocket-protocol")?))
        .map(str::trim)
        .filter(|t| !t.is_empty())
}

/// The key a browser's WebSocket names among its subprotocols, where no header can carry one
/// (`realtime, openai-insecure-api-key.<key>`, as OpenAI's browser clients send it).
fn in_protocols(offered: &str) -> Option<&str> {
    offered
        .split(',')
        .find_map(|p| p.trim().strip_prefix("openai-insecure-api-key."))
}

/// What the caller's headers say of the call before its key is looked up: the user it names,
/// its metadata and its fit. Bad input is refused here, without a lookup.
pub(crate) struct Said {
    pub named: Option<UserId>,
    pub metadata: Map<String, Value>,
    pub fit: FitAsk,
}

/// Reads `X-Quota-User`, `X-Quota-Metadata`, `X-Quota-Fit` and `X-Quota-Min-Fit`.
pub(crate) fn said(headers: &HeaderMap) -> Result<Said, ApiError> {
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
    Ok(Said { named, metadata, fit })
}

/// The key presented, well formed; `in_query`: the key a format's clients may send in the
/// query (Gemini's `?key=`).
pub(crate) fn key<'a>(headers: &'a HeaderMap, in_query: Option<&'a str>) -> Result<&'a str, ApiError> {
    let token = presented(headers, in_query).ok_or(ApiError::Unauthorized)?;
    match api_key_well_formed(token) {
        true => Ok(token),
        false => Err(ApiError::Unauthorized),
    }
}

/// A secret key's user: the one `X-Quota-User` names, which it requires.
pub(crate) fn named_user(named: Option<UserId>) -> Result<UserId, ApiError> {
    named.ok_or_else(|| {
        ApiError::invalid(
            name_of(USER),
            "is required with a secret key: name the end user who pays",
        )
    })
}

/// The call's step of a run (`X-Quota-Run`, `X-Quota-Action`, `X-Quota-Kind`), errors naming
/// the headers.
pub(crate) fn step_of(headers: &HeaderMap, user: &UserId) -> Result<Option<Step>, ApiError> {
    let run = header(headers, RUN)?.map(str::to_string);
    let action = header(headers, ACTION)?.map(str::to_string);
    let kind = header(headers, KIND)?.map(str::to_string);
    step(user, run, action, kind).map_err(|err| match err {
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
    })
}

/// The query without the parameter `name` (a caller's key never goes upstream).
pub(crate) fn query_without(query: &str, name: &str) -> String {
    let kept: Vec<&str> = query
        .split('&')
        .filter(|pair| !pair.is_empty() && pair.split('=').next() != Some(name))
        .collect();
    kept.join("&")
}

/// The value of the query parameter `name`, as sent (a key has no characters to decode).
pub(crate) fn query_value<'a>(query: &'a str, name: &str) -> Option<&'a str> {
    query
        .split('&')
        .find_map(|pair| pair.split_once('=').filter(|(k, _)| *k == name).map(|(_, v)| v))
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
    if let Some(key) = map.keys().find(|k| reserved(k)) {
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
        // A usage count's name is the proxy's too.
        assert!(caller_metadata(r#"{"input_tokens": 1}"#).is_err());
        assert!(caller_metadata("[1]").is_err());
    }
}
