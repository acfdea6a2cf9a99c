//! The first phase: where the path sends the call (its upstream, wire format and operation,
//! refused when the path is not one the gateway forwards), then who pays: the project's secret
//! key naming its user in `X-Quota-User`, or a user key, which spends as its own user only
//! (what the headers say is `headers.rs`'s to read).

use std::sync::Arc;

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse};

use super::answer::{self, Fault};
use super::call::caller::Caller;
use super::call::context::{Ctx, Target};
use super::call::jobs::JobPath;
use super::call::upstream::{Kind, Upstream};
use super::call::wire::Wire;
use super::door::Door;
use super::headers::{self, Said};
use super::wire;
use crate::http::ApiError;
use crate::quota::UserId;
use crate::secrets::USER_KEY_PREFIX;

/// A path the gateway does not forward: answered 404 in the wire format it was meant for.
pub(crate) struct Unrouted {
    wire: &'static dyn Wire,
    code: &'static str,
    message: String,
}

impl Unrouted {
    pub(crate) fn answer(&self) -> HttpResponse {
        answer::error(self.wire, StatusCode::NOT_FOUND, Fault::new(self.code, &self.message))
    }
}

impl Door {
    /// The upstream the path names.
    pub(crate) fn upstream(&self, req: &HttpRequest) -> Result<Arc<Upstream>, Unrouted> {
        let name = req.match_info().get("upstream").unwrap_or_default();
        self.upstreams.by_name.get(name).cloned().ok_or_else(|| Unrouted {
            wire: wire::of(Kind::OpenAi),
            code: "upstream_not_found",
            message: format!("this gateway has no upstream named {name}"),
        })
    }

    /// The call's target on `upstream`.
    pub(crate) fn target(&self, upstream: Arc<Upstream>, req: &HttpRequest) -> Result<Target, Unrouted> {
        let wire = upstream.wire;
        let unrouted = |message: String| Unrouted {
            wire,
            code: "route_not_found",
            message,
        };
        let arns = upstream.kind == Kind::Bedrock;
        let Some(path) = normal_path(req, arns) else {
            let message = "the path has a dot segment or an encoded separator; the gateway forwards plain paths only";
            return Err(unrouted(message.to_string()));
        };
        let method = req.method();
        // A Bedrock model named by its ARN: routed by its last part, held as the ARN names it,
        // forwarded as it came.
        if let Some((routed, arn)) = arns.then(|| wire::bedrock::arn_path(&path)).flatten() {
            let mut target = wire::target(upstream, method.as_str(), routed)
                .map_err(|_| unrouted(format!("the gateway does not forward {method} /{path}")))?;
            target.route.model = Some(arn);
            target.path = path;
            return Ok(target);
        }
        wire::target(upstream, method.as_str(), path)
            .map_err(|path| unrouted(format!("the gateway does not forward {method} /{path}")))
    }

    /// Who pays for the call: everything about the caller, checked before anything reaches
    /// Redis but the key's lookup.
    pub(crate) async fn caller(&self, req: &HttpRequest, target: &Target) -> Result<Caller, ApiError> {
        if let Some(upload) = session_of(req, target) {
            return self.uploader(upload).await;
        }
        let in_query = target
            .wire
            .key_param()
            .and_then(|name| headers::query_value(req.query_string(), name));
        let said = headers::said(req.headers())?;
        let token = headers::key(req.headers(), in_query)?;
        let (project, user, key_id) = match token.starts_with(USER_KEY_PREFIX) {
            true => self.user_key(token, said.named.as_ref()).await?,
            false => self.secret_key(token, said.named.as_ref()).await?,
        };
        let step = headers::step_of(req.headers(), &user)?;
        let Said { metadata, fit, .. } = said;
        Ok(Caller {
            project,
            user,
            key_id,
            metadata,
            step,
            fit,
        })
    }

    /// A user key's project, user and key id: it spends as its own user, and naming another
    /// is refused, not ignored.
    async fn user_key(&self, token: &str, named: Option<&UserId>) -> Result<(String, UserId, String), ApiError> {
        let owner = self
            .gateway
            .accounts()
            .key_user(token)
            .await?
            .ok_or(ApiError::Unauthorized)?;
        if let Some(named) = named.filter(|n| **n != owner.user) {
            return Err(ApiError::OtherUser {
                own: owner.user.to_string(),
                named: named.to_string(),
            });
        }
        Ok((owner.project, owner.user, owner.key_id))
    }

    /// A secret key's project, the user it names (which it must) and the key's id.
    async fn secret_key(&self, token: &str, named: Option<&UserId>) -> Result<(String, UserId, String), ApiError> {
        let record = self
            .gateway
            .node()
            .authenticate(token)
            .await?
            .ok_or(ApiError::Unauthorized)?;
        if record.kind != "secret" {
            return Err(ApiError::Forbidden);
        }
        let user = headers::named_user(named.cloned())?;
        Ok((record.project.clone(), user, record.key_id.clone()))
    }

    /// The caller of a resumable upload's chunk: whoever started the upload. Its URL at the
    /// gateway is its credential, as the provider's is (the clients send its chunks no key).
    async fn uploader(&self, (project, id): (&str, &str)) -> Result<Caller, ApiError> {
        let unknown = || {
            ApiError::invalid(
                "upload_id",
                "names no upload in flight (it was finalized, or it expired): start the upload again",
            )
        };
        let session = self
            .gateway
            .data()
            .jobs()
            .upload_session(project, id)
            .await?
            .ok_or_else(unknown)?;
        Ok(Caller {
            project: project.to_string(),
            user: UserId::parse(&session.user).map_err(|_| unknown())?,
            key_id: session.key_id,
            metadata: Default::default(),
            step: None,
            fit: Default::default(),
        })
    }

    /// Whether the caller's project may use the upstream.
    pub(crate) fn allowed(&self, ctx: &Ctx) -> Result<(), ApiError> {
        match ctx.upstream().allows(&ctx.caller.project) {
            true => Ok(()),
            false => Err(ApiError::Forbidden),
        }
    }
}

/// The project and session a resumable upload's chunk names in its `upload_id`
/// (`<project>.<session>`), on the path of uploads.
pub(crate) fn session_of<'a>(req: &'a HttpRequest, target: &Target) -> Option<(&'a str, &'a str)> {
    if !matches!(target.route.job, Some((JobPath::Resumable, _))) {
        return None;
    }
    headers::query_value(req.query_string(), "upload_id")?.rsplit_once('.')
}

/// The path after `/proxy/{upstream}/` as it will be forwarded, or None when it has a `.` or
/// `..` segment (as written or percent-encoded) or an encoded `/` or `\`: the upstream's URL
/// would resolve those to another path than the one the allow-list read. Where `arns`, a
/// segment that is an ARN (`arn:...`, Bedrock's model, which boto3 sends with its `/` encoded)
/// may hold an encoded `/`: it stays encoded, one segment to the provider as to the gateway.
fn normal_path(req: &HttpRequest, arns: bool) -> Option<String> {
    let raw = req.uri().path();
    let lower = raw.to_ascii_lowercase();
    let arn = |segment: &str| arns && (segment.starts_with("arn:") || segment.starts_with("arn%3a"));
    let slashed = lower.split('/').any(|s| s.contains("%2f") && !arn(s));
    if slashed || lower.contains("%5c") || raw.contains('\\') {
        return None;
    }
    // A client whose base URL ends in `/` asks for `//path`: the same path.
    let path = req.match_info().get("path").unwrap_or_default().trim_start_matches('/');
    let dotted = |segment: &str| {
        let decoded = segment.to_ascii_lowercase().replace("%2e", ".");
        decoded == "." || decoded == ".."
    };
    let raw_tail = raw.splitn(4, '/').nth(3).unwrap_or_default();
    if path.split('/').any(dotted) || raw_tail.split('/').any(dotted) {
        return None;
    }
    Some(path.to_string())
}
