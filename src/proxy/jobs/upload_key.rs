//! A file upload's Idempotency-Key. An upload holds nothing, so no reserve keeps its key (as a
//! job's submission's hold keeps its): the upload claims the key itself once its end is read
//! and its fingerprint known (its fields and its file's digest, `fingerprint.rs`, never its
//! boundary, which a client's retry draws anew), before its last chunk goes to the provider.
//! The first upload of a key goes on; a repeat is broken off before the provider has it whole
//! and answered the file its first upload made, as the provider tells it now (409
//! `idempotency_key_in_flight` while that one is still in flight, 422 with another body). A
//! first upload the provider made no file of gives its claim up, so its retry goes through;
//! one whose node died lapses past the time the provider had to answer it.

use actix_web::http::header::CONTENT_TYPE;
use actix_web::{HttpRequest, HttpResponse};

use super::end;
use super::JobCall;
use crate::http::idempotency::idempotency;
use crate::http::ApiError;
use crate::proxy::call::context::Ctx;
use crate::proxy::hold;
use crate::proxy::provider;

/// The keys' namespace: an upload's key is not a hold's.
const ROUTE: &str = "upload";
/// Past the provider's time to answer, a claim still lapses this much later.
const CLAIM_MARGIN_MS: u64 = 60_000;

/// What claiming an upload's key found.
pub(super) enum Claimed {
    /// The upload has no key: it goes on.
    Unkeyed,
    /// The key's first upload: it goes on, its claim recorded or given up once the provider
    /// answers.
    First(Claim),
    /// A repeat of an upload that made this file.
    Made(String),
    /// A repeat of an upload still in flight.
    InFlight,
}

/// A key claimed by its first upload: the key's field and the claim's value.
pub(super) struct Claim {
    field: String,
    value: String,
}

/// Whether the upload has an Idempotency-Key (its form is then fingerprinted as it passes),
/// checked before any byte is read: a malformed one is refused before the upload begins.
pub(super) fn check(req: &HttpRequest) -> Result<bool, ApiError> {
    Ok(idempotency(req, ROUTE, "", b"")?.is_some())
}

/// Claims the upload's key, if it has one, for the upload whose form has `fingerprint`.
pub(super) async fn claim(at: JobCall<'_>, fingerprint: &[u8]) -> Result<Claimed, ApiError> {
    let JobCall { door, req, ctx } = at;
    let Some(key) = idempotency(req, ROUTE, &ctx.target.path, fingerprint)? else {
        return Ok(Claimed::Unkeyed);
    };
    let (field, digest) = (key.field(), key.body_digest());
    let value = format!("{digest} {:016x}", end::rand_id());
    let timeouts = &ctx.upstream().timeouts;
    let ttl = (timeouts.first_byte + timeouts.idle).as_millis() as u64 + CLAIM_MARGIN_MS;
    let user = ctx.caller.user.as_str();
    let held = door
        .gateway
        .data()
        .jobs()
        .claim_upload_key(&ctx.caller.project, (user, field), &value, ttl)
        .await?;
    let Some(held) = held else {
        return Ok(Claimed::First(Claim {
            field: field.to_string(),
            value,
        }));
    };
    match held.split_once(' ') {
        Some((first, _)) if first != digest => Err(ApiError::IdempotencyKeyReused),
        Some((_, made)) => Ok(match made.strip_prefix("file:") {
            Some(id) => Claimed::Made(id.to_string()),
            None => Claimed::InFlight,
        }),
        None => Err(ApiError::Internal("an upload key's record is unreadable".into())),
    }
}

impl Claim {
    /// The provider made `id`: the key answers it from now on. Unrecorded, the claim lapses
    /// and a later repeat would upload again: said, not refused (the file is made).
    pub(super) async fn made(self, at: JobCall<'_>, id: &str) {
        let ctx = at.ctx;
        let digest = self.value.split_once(' ').map_or("", |(d, _)| d);
        let value = format!("{digest} file:{id}");
        let key = (ctx.caller.user.as_str(), self.field.as_str());
        let jobs = at.door.gateway.data().jobs();
        if let Err(err) = jobs.record_upload_key(&ctx.caller.project, key, &value).await {
            tracing::warn!(%err, id, "proxy: an upload's Idempotency-Key could not be recorded with its file");
        }
    }

    /// The provider made no file: the key is free again for a retry.
    pub(super) async fn unmade(self, at: JobCall<'_>) {
        let ctx = at.ctx;
        let key = (ctx.caller.user.as_str(), self.field.as_str());
        let jobs = at.door.gateway.data().jobs();
        if let Err(err) = jobs.drop_upload_key(&ctx.caller.project, key, &self.value).await {
            tracing::warn!(%err, "proxy: an upload's Idempotency-Key stays claimed until it lapses");
        }
    }
}

/// The answer to a repeat: the file its first upload made as the provider tells it now, or a
/// 409 while the first is in flight or when the provider no longer has the file.
pub(super) async fn repeated(ctx: &Ctx, claimed: Claimed) -> HttpResponse {
    let Claimed::Made(id) = claimed else {
        return hold::repeat(ctx, true);
    };
    let path = format!("v1/files/{id}");
    let within = (ctx.upstream().timeouts.first_byte, ctx.upstream().timeouts.idle);
    match provider::object(ctx.upstream(), &path, within, super::shapes::MAX_OBJECT_BYTES).await {
        Ok(object) => HttpResponse::Ok()
            .insert_header((CONTENT_TYPE, "application/json"))
            .body(object.to_string()),
        Err(_) => hold::repeat(ctx, false),
    }
}
