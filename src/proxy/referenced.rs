//! The size of an input a call names by id and the provider stores (a Gemini cache, an earlier
//! response of the Responses API), read from the provider before the hold. What the body does
//! not carry is held at what the provider says it is, not at a bound a caller could pass by
//! naming a larger cache; a read that fails, or takes long, leaves the hold at the model's
//! context window, the most any input can be.

use std::time::Duration;

use serde_json::Value;

use super::call::Call;
use super::context::Ctx;
use super::read;

/// How long the provider has to answer the read, and to send its answer.
const READ_FOR: Duration = Duration::from_secs(5);
/// The largest answer read (a stored response carries its output).
const MAX_OBJECT_BYTES: usize = 8 << 20;

/// Holds the call's referenced input, if any, at its size as the provider reads it.
pub(crate) async fn size(ctx: &Ctx, call: &mut Call) {
    let Some((path, _)) = &call.referenced else {
        return;
    };
    match read_tokens(ctx, path).await {
        Some(tokens) => call.referenced_is(tokens),
        None => call.referenced = None,
    }
}

async fn read_tokens(ctx: &Ctx, path: &str) -> Option<u64> {
    let upstream = ctx.upstream();
    let request = upstream.client.get(format!("{}/{}", upstream.base_url, path));
    let request = ctx.wire().authorize(
        request,
        upstream.credential.as_deref(),
        &actix_web::http::header::HeaderMap::new(),
    );
    let response = tokio::time::timeout(READ_FOR, request.send()).await.ok()?.ok()?;
    if !response.status().is_success() {
        return None;
    }
    let body = read::within(response, READ_FOR, MAX_OBJECT_BYTES).await.ok()?;
    let object: Value = serde_json::from_slice(&body).ok()?;
    ctx.wire().referenced_tokens(&object)
}
