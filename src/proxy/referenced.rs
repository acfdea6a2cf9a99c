//! The size of an input a call names by id and the provider stores (a Gemini cache, an earlier
//! response of the Responses API), read from the provider before the hold. What the body does
//! not carry is held at what the provider says it is, not at a bound a caller could pass by
//! naming a larger cache; a read that fails, or takes long, leaves the hold at the model's
//! context window, the most any input can be.

use std::time::Duration;

use super::call::Call;
use super::context::Ctx;
use super::fetch;

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
    let object = fetch::object(ctx.upstream(), path, (READ_FOR, READ_FOR), MAX_OBJECT_BYTES)
        .await
        .ok()?;
    ctx.wire().referenced_tokens(&object)
}
