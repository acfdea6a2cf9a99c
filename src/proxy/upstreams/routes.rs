//! Fallback routes, from the upstreams file's `routes`: for a model asked of an upstream, the
//! targets to try in order (an upstream and the model to ask it for), every one speaking the
//! same wire format. Checked whole at load, with an error naming the field at fault; a caller
//! may give its own order (`X-Quota-Fallback`) where its route says so, among its targets only.

use std::collections::HashMap;
use std::sync::Arc;

use serde::Deserialize;

use crate::proxy::call::upstream::{FallbackRoute, Kind, RouteTarget, Routes, Upstream, MAX_TARGETS};

/// The most routes a file declares.
const MAX_ROUTES: usize = 256;

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(super) struct RouteDoc {
    upstream: String,
    model: String,
    targets: Vec<TargetDoc>,
    caller_order: Option<bool>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TargetDoc {
    upstream: String,
    model: String,
}

/// Whether two kinds take the same body: OpenAI's format, from OpenAI or a server like it.
fn same_format(a: Kind, b: Kind) -> bool {
    let family = |k| match k {
        Kind::OpenAi | Kind::OpenAiCompatible => 0,
        Kind::Anthropic => 1,
        Kind::Gemini => 2,
        Kind::AzureOpenAi => 3,
        Kind::Bedrock => 4,
        Kind::Vertex => 5,
    };
    family(a) == family(b)
}

/// A model as a route names it: 1 to 256 bytes, no comma, no space at either end (the caller's
/// order separates targets by commas).
fn model_ok(model: &str) -> bool {
    !model.is_empty() && model.len() <= 256 && !model.contains(',') && model.trim() == model
}

/// The routes of `docs`, over `upstreams`; Err names the field at fault and what is wrong.
pub(super) fn check(
    docs: Vec<RouteDoc>,
    upstreams: &HashMap<String, Arc<Upstream>>,
) -> Result<Routes, (String, String)> {
    if docs.len() > MAX_ROUTES {
        return Err(("routes".into(), format!("must list at most {MAX_ROUTES} routes")));
    }
    let mut routes = Routes::default();
    for (i, doc) in docs.into_iter().enumerate() {
        let at = |field: &str| format!("routes[{i}].{field}");
        let from = upstreams
            .get(&doc.upstream)
            .ok_or_else(|| (at("upstream"), format!("{} is no upstream of this file", doc.upstream)))?;
        if matches!(
            from.kind,
            Kind::Gemini | Kind::AzureOpenAi | Kind::Bedrock | Kind::Vertex
        ) {
            return Err((
                at("upstream"),
                "a gemini, azure-openai, bedrock or vertex upstream names the model in the path: routes are for models \
                 named in the body"
                    .into(),
            ));
        }
        if !model_ok(&doc.model) {
            return Err((at("model"), "must be 1 to 256 bytes, no comma".into()));
        }
        if doc.targets.is_empty() || doc.targets.len() > MAX_TARGETS {
            return Err((at("targets"), format!("must list 1 to {MAX_TARGETS} targets")));
        }
        let mut targets: Vec<RouteTarget> = Vec::with_capacity(doc.targets.len());
        for (j, t) in doc.targets.into_iter().enumerate() {
            let field = |name: &str| at(&format!("targets[{j}].{name}"));
            let upstream = upstreams
                .get(&t.upstream)
                .ok_or_else(|| (field("upstream"), format!("{} is no upstream of this file", t.upstream)))?;
            if !same_format(upstream.kind, from.kind) {
                return Err((
                    field("upstream"),
                    format!("{} does not speak the wire format of {}", t.upstream, doc.upstream),
                ));
            }
            if !model_ok(&t.model) {
                return Err((field("model"), "must be 1 to 256 bytes, no comma".into()));
            }
            if targets
                .iter()
                .any(|o| o.upstream.name == t.upstream && o.model == t.model)
            {
                return Err((field("model"), format!("{}/{} is listed twice", t.upstream, t.model)));
            }
            targets.push(RouteTarget {
                upstream: upstream.clone(),
                model: t.model,
            });
        }
        let name = format!("{}/{}", doc.upstream, doc.model);
        let of_upstream = routes.by_model.entry(doc.upstream).or_default();
        if of_upstream.contains_key(&doc.model) {
            return Err((at("model"), format!("{name} has a route already")));
        }
        let route = FallbackRoute {
            name,
            targets,
            caller_order: doc.caller_order.unwrap_or(false),
        };
        of_upstream.insert(doc.model, Arc::new(route));
    }
    Ok(routes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proxy::call::upstream::ordered;
    use crate::proxy::upstreams::load_text;

    const UPSTREAMS: &str = r#"
        {"name": "openai", "kind": "openai", "baseUrl": "http://127.0.0.1:9"},
        {"name": "local", "kind": "openai-compatible", "baseUrl": "http://127.0.0.1:9"},
        {"name": "claude", "kind": "anthropic", "baseUrl": "http://127.0.0.1:9"},
        {"name": "gem", "kind": "gemini", "baseUrl": "http://127.0.0.1:9"}"#;

    fn file(routes: &str) -> String {
        format!(r#"{{"upstreams": [{UPSTREAMS}], "routes": [{routes}]}}"#)
    }

    #[test]
    fn a_route_loads_with_its_targets_in_order() {
        let loaded = load_text(&file(
            r#"{"upstream": "openai", "model": "gpt-4o", "callerOrder": true, "targets": [
                {"upstream": "openai", "model": "gpt-4o"}, {"upstream": "local", "model": "llama-3/70b"}]}"#,
        ))
        .unwrap();
        let route = loaded.routes.get("openai", "gpt-4o").unwrap();
        let labels: Vec<String> = route.targets.iter().map(RouteTarget::label).collect();
        assert_eq!(labels, ["openai/gpt-4o", "local/llama-3/70b"]);
        assert!(route.caller_order);
        assert!(loaded.routes.start_at("openai"));
        assert!(!loaded.routes.start_at("local"));
        assert!(loaded.routes.get("openai", "gpt-4o-mini").is_none());
    }

    #[test]
    fn route_errors_name_the_field() {
        let six = (0..6)
            .map(|i| format!(r#"{{"upstream": "openai", "model": "m{i}"}}"#))
            .collect::<Vec<_>>()
            .join(",");
        let cases = [
            (
                r#"{"upstream": "nope", "model": "m", "targets": [{"upstream": "openai", "model": "m"}]}"#.to_string(),
                "routes[0].upstream",
            ),
            (
                r#"{"upstream": "gem", "model": "m", "targets": [{"upstream": "gem", "model": "m"}]}"#.to_string(),
                "routes[0].upstream",
            ),
            (
                r#"{"upstream": "openai", "model": "", "targets": [{"upstream": "openai", "model": "m"}]}"#.to_string(),
                "routes[0].model",
            ),
            (
                r#"{"upstream": "openai", "model": "m", "targets": []}"#.to_string(),
                "routes[0].targets",
            ),
            (
                format!(r#"{{"upstream": "openai", "model": "m", "targets": [{six}]}}"#),
                "routes[0].targets",
            ),
            (
                r#"{"upstream": "openai", "model": "m", "targets": [{"upstream": "claude", "model": "c"}]}"#.to_string(),
                "routes[0].targets[0].upstream",
            ),
            (
                r#"{"upstream": "openai", "model": "m", "targets": [{"upstream": "ghost", "model": "c"}]}"#.to_string(),
                "routes[0].targets[0].upstream",
            ),
            (
                r#"{"upstream": "openai", "model": "m", "targets": [{"upstream": "openai", "model": "a,b"}]}"#.to_string(),
                "routes[0].targets[0].model",
            ),
            (
                r#"{"upstream": "openai", "model": "m", "targets": [{"upstream": "openai", "model": "m"}, {"upstream": "openai", "model": "m"}]}"#.to_string(),
                "routes[0].targets[1].model",
            ),
            (
                r#"{"upstream": "openai", "model": "m", "targets": [{"upstream": "openai", "model": "m"}]},
                   {"upstream": "openai", "model": "m", "targets": [{"upstream": "local", "model": "m"}]}"#.to_string(),
                "routes[1].model",
            ),
        ];
        for (routes, field) in cases {
            let err = load_text(&file(&routes)).unwrap_err();
            assert_eq!(err.field, field, "{routes}: {err}");
        }
    }

    #[test]
    fn a_callers_order_is_taken_only_where_the_route_allows_and_only_among_its_targets() {
        let loaded = load_text(&file(
            r#"{"upstream": "openai", "model": "gpt-4o", "callerOrder": true, "targets": [
                    {"upstream": "openai", "model": "gpt-4o"}, {"upstream": "local", "model": "llama"}]},
               {"upstream": "claude", "model": "opus", "targets": [{"upstream": "claude", "model": "opus"}]}"#,
        ))
        .unwrap();
        let open = loaded.routes.get("openai", "gpt-4o").unwrap();
        let labels = |given| ordered(open, given).map(|ts| ts.iter().map(RouteTarget::label).collect::<Vec<_>>());
        assert_eq!(labels(None).unwrap(), ["openai/gpt-4o", "local/llama"]);
        assert_eq!(
            labels(Some("local/llama , openai/gpt-4o")).unwrap(),
            ["local/llama", "openai/gpt-4o"]
        );
        assert_eq!(labels(Some("local/llama")).unwrap(), ["local/llama"]);
        assert!(labels(Some("local/other")).is_err());
        assert!(labels(Some("local/llama, local/llama")).is_err());
        assert!(labels(Some("llama")).is_err());
        let closed = loaded.routes.get("claude", "opus").unwrap();
        assert!(ordered(closed, Some("claude/opus")).is_err());
        assert_eq!(ordered(closed, None).unwrap().len(), 1);
    }
}
