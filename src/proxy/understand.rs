//! The second phase: the caller's body, read as its route takes it (`body/`), and what it asks
//! for: the call's worst case in its wire format, with an input it names that the provider
//! stores held at its size as the provider reads it. A large body is read on a counting
//! thread in its project's turn (`counting.rs`): parsing and tokenizing megabytes on a request
//! thread would stall every other caller of the node.

use std::time::Duration;

use actix_web::{web, HttpRequest};
use serde_json::{Map, Value};

use super::body::{self, Body, BodyReader};
use super::call::caller::Caller;
use super::call::context::{Ctx, Target};
use super::call::wire::{self, Named, MAX_NAMED};
use super::call::{Audio, Call, ModelLimits};
use super::counting;
use super::door::Door;
use super::multipart;
use super::provider;
use crate::http::ApiError;
use crate::quota::catalog::Catalog;
use crate::quota::{job_key, FileRecord};

/// How long the provider has to answer the read of a referenced input, and to send its answer.
const REFERENCED_READ_FOR: Duration = Duration::from_secs(5);
/// The largest referenced input read (a stored response carries its output).
const MAX_REFERENCED_BYTES: usize = 8 << 20;

impl Door {
    /// How `caller`'s body is read before its hold: at most the node's body bound, each chunk
    /// within its idle time, leased from its budget.
    pub(crate) fn reader<'a>(&'a self, caller: &'a Caller) -> BodyReader<'a> {
        BodyReader::new(self.max_body_bytes, self.read_idle, &self.read_budget, caller)
    }

    /// Reads the caller's body as its route takes it: an upload (`Route::upload`) as far as its
    /// hold needs, anything else whole.
    pub(crate) async fn body(&self, req: &HttpRequest, payload: web::Payload, ctx: &Ctx) -> Result<Body, ApiError> {
        let reader = self.reader(&ctx.caller);
        let route = &ctx.target.route;
        match route.upload {
            true if ctx.wire().form_read_whole(route.operation) => {
                let bytes = body::bytes(req, payload, &reader).await?;
                whole_form(req, bytes).map(|u| Body::Upload(Box::new(u)))
            }
            true => body::read_upload(req, payload, &reader, self.max_upload_bytes)
                .await
                .map(|u| Body::Upload(Box::new(u))),
            false => body::json(req, payload, &reader).await.map(Body::Whole),
        }
    }

    /// The call's worst case, from its body and the catalog's limits of its model, with an
    /// input it names that the provider stores held at its size as the provider reads it.
    pub(crate) async fn understand(&self, ctx: &Ctx, body: &Body) -> Result<Call, ApiError> {
        let mut call = self.counted(ctx, body).await?;
        self.owned_objects(ctx, &call.named).await?;
        self.referenced(ctx, &mut call).await;
        Ok(call)
    }

    /// Refuses a call that names a file, a stored response or a cache its user did not upload or
    /// make through this gateway, naming the first such field, as it would a batch of such a
    /// file: the provider reads any object of its account to whoever names one, and the account
    /// is every user's.
    pub(crate) async fn owned_objects(&self, ctx: &Ctx, named: &[Named]) -> Result<(), ApiError> {
        let ids: Vec<&str> = named.iter().map(|f| f.id.as_str()).collect();
        let Some(i) = self.not_owned(ctx, &ids).await? else {
            return Ok(());
        };
        let why = match i == MAX_NAMED {
            true => "is past the most files, responses and caches one call may name (512)",
            false => wire::not_owned(&named[i].id),
        };
        Err(ApiError::invalid(&named[i].field, why))
    }

    /// The place of the first of `ids` (objects at the call's upstream, as `Named` names them)
    /// that is not the caller's user's through this gateway, in one round trip (none for no
    /// id); past the most one call may name, the first past it.
    pub(crate) async fn not_owned(&self, ctx: &Ctx, ids: &[&str]) -> Result<Option<usize>, ApiError> {
        if ids.len() > MAX_NAMED {
            return Ok(Some(MAX_NAMED));
        }
        if ids.is_empty() {
            return Ok(None);
        }
        let keys: Vec<String> = ids.iter().map(|id| job_key(&ctx.upstream().name, id)).collect();
        let records = self
            .gateway
            .data()
            .jobs()
            .job_files_of(&ctx.caller.project, &keys)
            .await?;
        let user = ctx.caller.user.as_str();
        let owned =
            |(id, record): (&&str, Option<FileRecord>)| !id.is_empty() && record.is_some_and(|r| r.user == user);
        Ok(ids.iter().zip(records).position(|pair| !owned(pair)))
    }

    /// The call's worst case as its body says: inline for a small body or an upload's fields,
    /// on a counting thread in the project's turn for a large one.
    async fn counted(&self, ctx: &Ctx, body: &Body) -> Result<Call, ApiError> {
        let catalog = self.gateway.node().catalog();
        let body = match body {
            Body::Upload(upload) => return of_fields(&ctx.target, &upload.fields, Some(&upload.audio), catalog),
            Body::Whole(body) => body,
        };
        if body.len() <= counting::INLINE_BYTES {
            return of_json(&ctx.target, body, catalog);
        }
        let (body, catalog, target) = (body.clone(), catalog.clone(), ctx.target.clone());
        self.counting
            .run(&ctx.caller.project, move || of_json(&target, &body, &catalog))
            .await
            .map_err(|_| ApiError::CountingBusy)?
    }

    /// Holds the call's referenced input, if any, at its size as the provider reads it: what
    /// the body does not carry is held at what the provider says it is, not at a bound a caller
    /// could pass by naming a larger cache; a read that fails, or takes long, leaves the hold at
    /// the model's context window, the most any input can be.
    async fn referenced(&self, ctx: &Ctx, call: &mut Call) {
        let Some((path, _)) = &call.referenced else {
            return;
        };
        let read = (REFERENCED_READ_FOR, REFERENCED_READ_FOR);
        let object = provider::object(ctx.upstream(), path, read, MAX_REFERENCED_BYTES).await;
        match object.ok().and_then(|object| ctx.wire().referenced_tokens(&object)) {
            Some(tokens) => call.referenced_is(tokens),
            None => call.referenced = None,
        }
    }
}

/// A form read whole: its text fields, and each file part's name with how many came under it
/// (an array's `[]` left off), which a text field of that name may not also be.
fn whole_form(req: &HttpRequest, bytes: bytes::Bytes) -> Result<body::Upload, ApiError> {
    let content_type = req
        .headers()
        .get(actix_web::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let boundary = multipart::boundary(content_type)
        .ok_or_else(|| ApiError::invalid("body", "must be a multipart/form-data form"))?;
    let form = body::form::read(&boundary, &bytes)?;
    let mut fields = form.fields;
    for (name, count) in form.files {
        let name = name.trim_end_matches("[]");
        if fields.get(name).is_some_and(|v| !v.is_u64()) {
            return Err(ApiError::invalid(name, "is given as text and as a file"));
        }
        let before = fields.get(name).and_then(Value::as_u64).unwrap_or(0);
        fields.insert(name.to_string(), Value::from(before + count));
    }
    Ok(body::Upload::whole(bytes, form.fingerprint).with_fields(fields))
}

/// The call a JSON body asks for.
fn of_json(target: &Target, body: &[u8], catalog: &Catalog) -> Result<Call, ApiError> {
    let json: Map<String, Value> =
        serde_json::from_slice(body).map_err(|_| ApiError::invalid("body", "must be a JSON object"))?;
    of_fields(target, &json, None, catalog)
}

/// The call a body's fields ask for (an upload's, with what its audio's header said).
fn of_fields(
    target: &Target,
    fields: &Map<String, Value>,
    audio: Option<&Audio>,
    catalog: &Catalog,
) -> Result<Call, ApiError> {
    Call::from_body(target, fields, audio, |model| {
        catalog.find(model).map(|m| ModelLimits {
            output: m.entry.max_output_tokens,
            context: m.entry.context_window,
        })
    })
    .map_err(|e| ApiError::invalid(e.field, e.detail))
}
