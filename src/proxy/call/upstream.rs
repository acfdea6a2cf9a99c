//! The upstreams a node forwards to, as the door holds them once read (`upstreams/` reads and
//! checks the file): each upstream's kind, address, credential and bounds, and the fallback
//! routes over them, each a model asked of an upstream and the targets to try in order.

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use super::google_token::TokenSource;
use super::sigv4::Signer;
use super::wire::Wire;

/// The wire format an upstream speaks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    OpenAi,
    Anthropic,
    /// Any server speaking OpenAI's format (a model served on the same host, a router).
    OpenAiCompatible,
    /// Google's Generative Language API.
    Gemini,
    /// OpenAI's models through Azure: OpenAI's bodies at Azure's paths (a deployment in the
    /// path, or the `openai/v1` paths naming it in the body), the key in `api-key`.
    AzureOpenAi,
    /// Models through Amazon Bedrock's runtime: its Converse API and Anthropic's Messages by
    /// `invoke`, the model in the path, streams in AWS's event stream framing, each request
    /// signed (Signature Version 4) or carrying a Bedrock API key.
    Bedrock,
    /// Google's Vertex AI: Gemini (`publishers/google`) and Anthropic's models
    /// (`publishers/anthropic`, `rawPredict`) in a project's location, each request with an
    /// access token minted from a service account's key.
    Vertex,
}

/// How long to wait, per call.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Timeouts {
    pub connect: Duration,
    /// From the request sent to the answer's status line (a non-streamed answer's whole
    /// generation happens before it).
    pub first_byte: Duration,
    /// Between two reads of an answer's body (a stream's events).
    pub idle: Duration,
}

/// One upstream, ready to call.
pub(crate) struct Upstream {
    pub name: String,
    pub kind: Kind,
    /// The wire format of its kind (`wire::of`).
    pub wire: &'static dyn Wire,
    /// Without a trailing slash; the path after `/proxy/{name}/` is appended.
    pub base_url: String,
    /// The provider's key, from the environment; never logged, stored or answered.
    pub credential: Option<String>,
    /// The projects allowed to use it; None: all.
    pub projects: Option<Vec<String>>,
    pub timeouts: Timeouts,
    /// What a call that names no maximum output is held for when the catalog does not know its
    /// model.
    pub max_output_tokens: u64,
    /// The operator's own bound on any call's maximum output (`maxOutputTokens` when set): a
    /// catalog's output limit above it is cut to it.
    pub output_cap: Option<u64>,
    /// What a call whose input the gateway cannot see whole (it names a stored conversation)
    /// is held for, in input tokens.
    pub context_tokens: u64,
    /// What an input the provider fetches or expands (a file, a document, a search) is held
    /// for, in input tokens, when the operator says so; else the model's context window.
    pub fetched_input_tokens: Option<u64>,
    /// Request headers forwarded beside the built-in allow-list (lowercase names).
    pub forward_headers: Vec<String>,
    /// Paths forwarded free beside the kind's own (`passthrough.rs`): method and pattern.
    pub passthrough: Vec<(String, String)>,
    /// An Azure OpenAI upstream's deployments, each with the model it serves: a call to a
    /// deployment is held, priced and counted as its model (one not listed as its own name).
    pub deployments: HashMap<String, String>,
    /// A Bedrock upstream without an API key: how each of its requests is signed.
    pub signer: Option<Arc<Signer>>,
    /// A Vertex AI upstream: where each request's access token comes from.
    pub google: Option<Arc<TokenSource>>,
    /// Pooled, kept-alive connections to this upstream.
    pub client: reqwest::Client,
}

impl fmt::Debug for Upstream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Upstream")
            .field("name", &self.name)
            .field("kind", &self.kind)
            .field("base_url", &self.base_url)
            .field("credential", &self.credential.as_ref().map(|_| "<redacted>"))
            .field("projects", &self.projects)
            .finish()
    }
}

impl Upstream {
    /// The model a call names as the upstream serves it: an Azure deployment's model, a Bedrock
    /// id decoded, a Vertex version's `@` as `-`, a Gemini resource's name without `models/`,
    /// else the name itself.
    pub(crate) fn model_of(&self, named: String) -> String {
        match self.kind {
            // An application inference profile's model is the operator's to name.
            Kind::Bedrock => {
                return self
                    .deployments
                    .get(&named)
                    .cloned()
                    .unwrap_or_else(|| bedrock_model(&named))
            }
            // Vertex names a model's version after `@` (`claude-haiku-4-5@20251001`), where
            // Anthropic's own names put a `-`: priced as the same model.
            Kind::Vertex => return named.replace('@', "-"),
            // A cache's body names its model as Google's resource (`models/gemini-2.5-flash`).
            Kind::Gemini if named.starts_with("models/") => return named["models/".len()..].to_string(),
            _ => {}
        }
        match self.deployments.get(&named) {
            Some(model) => model.clone(),
            None => named,
        }
    }

    /// Sends a request built for this upstream, with the access token its credential mints,
    /// or signed, where the upstream does either.
    pub(crate) async fn send(&self, request: reqwest::RequestBuilder) -> Result<reqwest::Response, SendError> {
        let mut request = request.build().map_err(SendError::Http)?;
        if let Some(google) = &self.google {
            let token = google.token(&self.client).await.map_err(SendError::Credential)?;
            let bearer = reqwest::header::HeaderValue::from_str(&format!("Bearer {token}"))
                .map_err(|_| SendError::Credential("the access token minted is no header value".into()))?;
            request.headers_mut().insert(reqwest::header::AUTHORIZATION, bearer);
        }
        if let Some(signer) = &self.signer {
            if let Err(why) = signer.sign(&mut request) {
                // Sent unsigned: the provider refuses it, and the caller hears so.
                tracing::warn!(upstream = %self.name, why, "proxy: a request could not be signed");
            }
        }
        self.client.execute(request).await.map_err(SendError::Http)
    }

    pub(crate) fn allows(&self, project: &str) -> bool {
        self.projects
            .as_ref()
            .is_none_or(|p| p.iter().any(|one| one == project))
    }
}

/// Why a request was not sent, or no answer came.
#[derive(Debug)]
pub(crate) enum SendError {
    Http(reqwest::Error),
    /// The upstream's credential could not be had (an access token not minted): never sent.
    Credential(String),
}

impl fmt::Display for SendError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SendError::Http(err) => err.fmt(f),
            SendError::Credential(why) => f.write_str(why),
        }
    }
}

/// A model as Bedrock's path names it (percent-encoded, as AWS's clients send it), decoded; of
/// an ARN (an inference profile's, a provisioned model's), its last part.
fn bedrock_model(named: &str) -> String {
    let decoded = percent_encoding::percent_decode_str(named).decode_utf8_lossy();
    match decoded.rsplit_once('/') {
        Some((_, last)) if decoded.starts_with("arn:") => last.to_string(),
        _ => decoded.into_owned(),
    }
}

/// Every upstream of the node, by name, and the fallback routes over them (read by `upstreams/routes.rs`).
#[derive(Debug, Default)]
pub(crate) struct Upstreams {
    pub by_name: HashMap<String, Arc<Upstream>>,
    pub routes: Routes,
}

/// The most targets a route lists: each is an attempt held and settled on its own.
pub(crate) const MAX_TARGETS: usize = 5;
/// The caller's own order of a route's targets: `upstream/model, upstream/model`.
pub(crate) const FALLBACK: &str = "x-quota-fallback";

/// One target of a route: the upstream to call, and the model its body then names.
#[derive(Debug, Clone)]
pub(crate) struct RouteTarget {
    pub upstream: Arc<Upstream>,
    pub model: String,
}

impl RouteTarget {
    /// `upstream/model`, as `X-Quota-Served-By`, the ledger and the caller's order name it.
    pub(crate) fn label(&self) -> String {
        format!("{}/{}", self.upstream.name, self.model)
    }
}

/// One route: its targets in order, and whether a caller may order them itself.
#[derive(Debug)]
pub(crate) struct FallbackRoute {
    /// `upstream/model` of the call it serves: the metrics' label (the operator's words, never
    /// a caller's).
    pub name: String,
    pub targets: Vec<RouteTarget>,
    pub caller_order: bool,
}

/// Every route of the node, by the upstream and then the model a call asks for: a call asks
/// its upstream's routes with two lookups of what it has, copying nothing.
#[derive(Debug, Default)]
pub(crate) struct Routes {
    pub by_model: HashMap<String, HashMap<String, Arc<FallbackRoute>>>,
}

impl Routes {
    /// Whether any route starts at `upstream` (else a call there reads no model for one).
    pub(crate) fn start_at(&self, upstream: &str) -> bool {
        self.by_model.contains_key(upstream)
    }

    /// The route for `model` asked of `upstream`.
    pub(crate) fn get(&self, upstream: &str, model: &str) -> Option<&Arc<FallbackRoute>> {
        self.by_model.get(upstream)?.get(model)
    }
}

/// What is wrong with a caller's order (`X-Quota-Fallback`).
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct OrderError(pub String);

/// The targets to try for `route`: its own order, or the caller's (`given`, the header's
/// text) where the route takes one, each of the caller's among the route's targets, once.
pub(crate) fn ordered(route: &FallbackRoute, given: Option<&str>) -> Result<Vec<RouteTarget>, OrderError> {
    let Some(given) = given else {
        return Ok(route.targets.clone());
    };
    if !route.caller_order {
        return Err(OrderError(format!(
            "the route for {} keeps its own order (its callerOrder is not true)",
            route.name
        )));
    }
    let mut chosen: Vec<RouteTarget> = Vec::new();
    for entry in given.split(',').map(str::trim) {
        let found = route.targets.iter().find(|t| {
            entry
                .split_once('/')
                .is_some_and(|(u, m)| u.trim() == t.upstream.name && m.trim() == t.model)
        });
        let Some(found) = found else {
            let listed: Vec<String> = route.targets.iter().map(RouteTarget::label).collect();
            return Err(OrderError(format!(
                "{entry:?} is not a target of the route for {} ({})",
                route.name,
                listed.join(", ")
            )));
        };
        if chosen.iter().any(|t| t.label() == found.label()) {
            return Err(OrderError(format!("{entry:?} is named twice")));
        }
        chosen.push(found.clone());
    }
    Ok(chosen)
}
