//! A call's targets, tried in turn: the path's upstream alone, or, where the upstreams file
//! routes the model the body asks for (`call/upstream.rs`), the route's targets in its order or the
//! caller's (`X-Quota-Fallback`). Each attempt is its own call to the phases after `understand`:
//! its context names its target, its body the target's model (spliced in, every other byte as
//! the caller sent it), its hold the call it falls back for (`Fallback`, the ledger's
//! `fallback_of`, `attempt`, `target` and `fallback_reason`).

use std::sync::Arc;
use std::time::Instant;

use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::{HttpRequest, HttpResponse};
use bytes::Bytes;
use serde_json::Value;

use super::body::Body;
use super::call::context::{Ctx, Fallback};
use super::call::upstream::{ordered, FallbackRoute, RouteTarget, FALLBACK};
use super::door::Door;
use super::{splice, wire};
use crate::http::ApiError;
use crate::secrets::id_bytes;

/// The answer's header naming what served the call: `<upstream>/<model>`.
pub(crate) const SERVED_BY: &str = "x-quota-served-by";

/// The targets a call has yet to try.
pub(crate) struct Chain {
    route: Option<Arc<FallbackRoute>>,
    /// The route's targets still to try, next first (empty for a call without a route).
    left: Vec<RouteTarget>,
    /// The model the caller's body asked for.
    asked: Option<String>,
    of: String,
    reason: Option<&'static str>,
    started: bool,
}

impl Door {
    /// The call's chain: its route's targets, when its upstream routes the model its body asks
    /// for (a JSON body; an upload goes where its path says), else its path's target alone.
    pub(crate) fn chain(&self, req: &HttpRequest, ctx: &Ctx, body: &Body) -> Result<Chain, ApiError> {
        let given = req
            .headers()
            .get(FALLBACK)
            .map(|v| {
                v.to_str()
                    .map_err(|_| ApiError::invalid("X-Quota-Fallback", "must be visible ASCII"))
            })
            .transpose()?;
        let mut chain = Chain {
            route: None,
            left: Vec::new(),
            asked: None,
            of: String::new(),
            reason: None,
            started: false,
        };
        let routes = &self.upstreams.routes;
        let upstream = &ctx.upstream().name;
        let asked = match body {
            Body::Whole(bytes) if routes.start_at(upstream) => asked_model(bytes),
            _ => None,
        };
        let Some(route) = asked.as_deref().and_then(|m| routes.get(upstream, m)) else {
            return match given {
                Some(_) => Err(ApiError::invalid(
                    "X-Quota-Fallback",
                    format!(
                        "this gateway routes no model {} asked of {upstream}",
                        asked.as_deref().unwrap_or("(none)")
                    ),
                )),
                None => Ok(chain),
            };
        };
        let mut targets = ordered(route, given).map_err(|e| ApiError::invalid("X-Quota-Fallback", e.0))?;
        // A target on an upstream the caller's project may not use is never tried.
        targets.retain(|t| t.upstream.allows(&ctx.caller.project));
        if targets.is_empty() {
            return Err(ApiError::Forbidden);
        }
        targets.reverse();
        chain.route = Some(route.clone());
        chain.left = targets;
        chain.asked = asked;
        chain.of = format!("call_{}", hex::encode(id_bytes::<12>()));
        Ok(chain)
    }
}

impl Chain {
    /// Whether the call has a route (else it is one attempt at its path's target).
    pub(crate) fn routed(&self) -> bool {
        self.route.is_some()
    }

    /// The next attempt's body (the caller's, `bytes`, naming the target's model), with `ctx`
    /// naming its target and its attempt; None when no target is left. A target whose upstream
    /// does not forward the call's path is passed by.
    pub(crate) fn next(&mut self, req: &HttpRequest, ctx: &mut Ctx, bytes: &Bytes) -> Option<Body> {
        while let Some(target) = self.left.pop() {
            // The path is the caller's, as the first target read it; only the upstream changes.
            let path = ctx.target.path.clone();
            let Ok(routed) = wire::target(target.upstream.clone(), req.method().as_str(), path) else {
                continue;
            };
            ctx.target = routed;
            if self.started {
                // (Each attempt's ledger entry says its own duration.)
                ctx.attempt += 1;
                ctx.started = Instant::now();
            }
            self.started = true;
            ctx.fallback = Some(Fallback {
                of: self.of.clone(),
                target: target.label(),
                reason: self.reason,
            });
            return Some(Body::Whole(with_model(bytes, self.asked.as_deref(), &target.model)));
        }
        None
    }

    /// Whether a target is left after this attempt.
    pub(crate) fn has_next(&self) -> bool {
        !self.left.is_empty()
    }

    /// The attempt just made gave way for `reason`: the next one's says so, and it is counted
    /// per route, in the node's metrics (the operator's names only) and, off the call's time,
    /// in the project's counts the dashboard reads (a failure to count is logged, never the
    /// call's).
    pub(crate) fn moved_on(&mut self, door: &Door, project: &str, reason: &'static str) {
        self.reason = Some(reason);
        if let Some(route) = &self.route {
            door.metrics.count(
                "qg_proxy_fallbacks_total",
                &[("route", &route.name), ("reason", reason)],
            );
            let (gateway, project, route) = (door.gateway.clone(), project.to_string(), route.name.clone());
            actix_web::rt::spawn(async move {
                if let Err(err) = gateway.data().fell_back(&project, &route, reason).await {
                    tracing::warn!(%err, "proxy: a fallback was not counted for the dashboard");
                }
            });
        }
    }
}

/// Names the target that answered on the caller's answer.
pub(crate) fn served_by(ctx: &Ctx, model: &str, response: &mut HttpResponse) {
    let label = format!("{}/{}", ctx.upstream().name, model);
    if let Ok(value) = HeaderValue::from_str(&label) {
        response.headers_mut().insert(HeaderName::from_static(SERVED_BY), value);
    }
}

/// The model a JSON body names, if it is an object naming one.
fn asked_model(body: &[u8]) -> Option<String> {
    #[derive(serde::Deserialize)]
    struct Named {
        model: Option<Value>,
    }
    match serde_json::from_slice::<Named>(body).ok()?.model? {
        Value::String(model) => Some(model),
        _ => None,
    }
}

/// The caller's body with `model` in place of the one it asked for (`asked`), spliced: every
/// other byte as it came.
fn with_model(body: &Bytes, asked: Option<&str>, model: &str) -> Bytes {
    if asked == Some(model) {
        return body.clone();
    }
    match splice::set(body, &["model"], &Value::from(model).to_string()) {
        Some(spliced) => Bytes::from(spliced),
        None => body.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_model_is_read_and_replaced_alone() {
        let body = Bytes::from_static(
            b"{\"messages\": [{\"role\": \"user\", \"content\": \"hi \\u00e9\"}],\n \"model\":\"gpt-4o\" , \"n\": 1}",
        );
        assert_eq!(asked_model(&body).as_deref(), Some("gpt-4o"));
        assert_eq!(
            with_model(&body, Some("gpt-4o"), "llama-3/70b"),
            Bytes::from_static(b"{\"messages\": [{\"role\": \"user\", \"content\": \"hi \\u00e9\"}],\n \"model\":\"llama-3/70b\" , \"n\": 1}")
        );
        assert_eq!(with_model(&body, Some("gpt-4o"), "gpt-4o"), body);
        assert_eq!(asked_model(b"{\"model\": 3}"), None);
        assert_eq!(asked_model(b"[1]"), None);
    }
}
