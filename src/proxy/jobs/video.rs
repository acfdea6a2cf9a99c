//! A video's submission as the gateway reads it: its seconds (OpenAI's default 4) at its
//! size's price (`size`, default 720x1280), what its provider's object will echo of it (for a
//! sweeper looking for it, `pending.rs`), and, sent as a form (as the official clients send
//! it), what a repeat of its Idempotency-Key must match: its fields and a digest of each file
//! part's bytes (`fingerprint.rs`), never its boundary, which a client draws anew on each try.

use actix_web::http::header::CONTENT_TYPE;
use actix_web::HttpRequest;
use bytes::Bytes;
use serde_json::{Map, Value};

use super::shapes::Submitted;
use super::{pending, shapes};
use crate::http::ApiError;
use crate::proxy::body;
use crate::proxy::call::context::Ctx;
use crate::proxy::call::jobs::JobSettings;
use crate::proxy::call::usage::Usage;
use crate::proxy::call::{Call, Operation};
use crate::proxy::multipart;

/// A video's call, what its object will show, and its form's fingerprint (None for JSON,
/// whose bytes are their own).
pub(super) type Video = (Call, Map<String, Value>, Option<Vec<u8>>);

/// Reads a video's submission.
pub(super) fn video(req: &HttpRequest, ctx: &Ctx, bytes: &Bytes, jobs: &JobSettings) -> Result<Video, ApiError> {
    let content_type = req
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let (fields, fingerprint) = match multipart::boundary(content_type) {
        Some(boundary) => {
            let (fields, fingerprint) = form(&boundary, bytes)?;
            (fields, Some(fingerprint))
        }
        None => (
            serde_json::from_slice(bytes)
                .map_err(|_| ApiError::invalid("body", "must be a JSON object or a multipart form"))?,
            None,
        ),
    };
    let (call, shows) = priced(ctx, &fields, jobs)?;
    Ok((call, shows, fingerprint))
}

/// A video's call and what its object will show, from its fields (a submission's, or a remix's:
/// the video it remixes, with its prompt).
pub(super) fn priced(
    ctx: &Ctx,
    fields: &Map<String, Value>,
    jobs: &JobSettings,
) -> Result<(Call, Map<String, Value>), ApiError> {
    let model = fields
        .get("model")
        .and_then(Value::as_str)
        .filter(|m| !m.is_empty() && m.len() <= 256)
        .unwrap_or("sora-2")
        .to_string();
    let seconds = match fields.get("seconds") {
        None | Some(Value::Null) => 4,
        given => shapes::seconds(given)
            .filter(|s| (1..=600).contains(s))
            .ok_or_else(|| ApiError::invalid("seconds", "must be a whole number of seconds, 1 to 600"))?,
    };
    let size = match fields.get("size") {
        None | Some(Value::Null) => "720x1280".to_string(),
        Some(Value::String(s)) if !s.is_empty() && s.len() <= 32 => s.clone(),
        Some(_) => return Err(ApiError::invalid("size", "must be a size, as 720x1280")),
    };
    let prompt = fields.get("prompt").and_then(Value::as_str);
    let shows = pending::video_shows(&model, seconds, &size, prompt);
    let mut extra = Map::new();
    extra.insert("size".into(), Value::String(size));
    let worst = Usage {
        video_seconds: Some(seconds),
        ..Usage::default()
    };
    let asked = Submitted {
        operation: Operation::Videos,
        model,
        worst,
    };
    let call = asked.call(ctx, extra, jobs.ttl(jobs.video_window_ms));
    Ok((call, shows))
}

/// A form's text fields, and its fingerprint.
fn form(boundary: &[u8], bytes: &[u8]) -> Result<(Map<String, Value>, Vec<u8>), ApiError> {
    let form = body::form::read(boundary, bytes)?;
    Ok((form.fields, form.fingerprint))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(boundary: &str) -> Vec<u8> {
        format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"prompt\"\r\n\r\na cat\r\n\
             --{boundary}\r\nContent-Disposition: form-data; name=\"seconds\"\r\n\r\n8\r\n\
             --{boundary}\r\nContent-Disposition: form-data; name=\"input_reference\"; filename=\"r.png\"\r\n\
             Content-Type: image/png\r\n\r\nPNGBYTES\r\n--{boundary}--\r\n"
        )
        .into_bytes()
    }

    #[test]
    fn a_form_resent_under_another_boundary_has_the_same_fingerprint_and_another_file_not() {
        let (fields, one) = form(b"aaaa", &body("aaaa")).unwrap();
        let (_, two) = form(b"bbbbbbbb", &body("bbbbbbbb")).unwrap();
        assert_eq!(one, two);
        assert_eq!(fields["seconds"], "8");
        let other = body("aaaa")
            .iter()
            .map(|&b| if b == b'P' { b'Q' } else { b })
            .collect::<Vec<u8>>();
        let (_, three) = form(b"aaaa", &other).unwrap();
        assert_ne!(one, three);
    }
}
