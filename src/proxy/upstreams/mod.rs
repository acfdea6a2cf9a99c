//! The upstreams a node forwards to, from the JSON file `QG_UPSTREAMS` names: checked whole at
//! start, with an error naming the field at fault, so a node never serves with half a file.
//! Credentials come from environment variables and live only in this process's memory.

mod passthrough;
mod routes;

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use serde::Deserialize;

use self::routes::RouteDoc;
use super::call::google_token::TokenSource;
use super::call::sigv4::Signer;
use super::call::upstream::{Kind, Timeouts, Upstream, Upstreams};
use super::call::wire::Wire;

/// The file is unreadable or wrong; `field` is the JSON path at fault.
#[derive(Debug, thiserror::Error)]
#[error("{file}: {field}: {detail}")]
pub struct UpstreamsError {
    pub file: String,
    pub field: String,
    pub detail: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FileDoc {
    upstreams: Vec<UpstreamDoc>,
    routes: Option<Vec<RouteDoc>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct UpstreamDoc {
    name: String,
    kind: String,
    base_url: String,
    credential_env: Option<String>,
    projects: Option<Vec<String>>,
    timeouts: Option<TimeoutsDoc>,
    max_output_tokens: Option<u64>,
    context_tokens: Option<u64>,
    fetched_input_tokens: Option<u64>,
    forward_headers: Option<Vec<String>>,
    passthrough: Option<Vec<String>>,
    deployments: Option<HashMap<String, String>>,
    azure_auth: Option<String>,
    region: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct TimeoutsDoc {
    connect_ms: Option<u64>,
    first_byte_ms: Option<u64>,
    idle_ms: Option<u64>,
}

const DEFAULT_CONNECT_MS: u64 = 5_000;
const DEFAULT_FIRST_BYTE_MS: u64 = 600_000;
const DEFAULT_IDLE_MS: u64 = 120_000;
/// Held when a request names no maximum output: above every current model's default.
const DEFAULT_MAX_OUTPUT_TOKENS: u64 = 32_768;
const DEFAULT_CONTEXT_TOKENS: u64 = 200_000;
/// A ceiling for any one count, far below the counters' exact range.
const MAX_TOKENS_SETTING: u64 = 10_000_000;

/// Reads and checks the file at `path`; `env` reads an environment variable (the process's
/// own, or a test's).
pub(crate) fn load(path: &Path, env: impl Fn(&str) -> Option<String>) -> Result<Upstreams, UpstreamsError> {
    let file = path.display().to_string();
    let fail = |field: &str, detail: String| UpstreamsError {
        file: file.clone(),
        field: field.to_string(),
        detail,
    };
    let text = std::fs::read_to_string(path).map_err(|e| fail("(file)", format!("cannot read it: {e}")))?;
    let doc: FileDoc =
        serde_json::from_str(&text).map_err(|e| fail("(file)", format!("not a valid upstreams file: {e}")))?;
    let mut upstreams = Upstreams::default();
    for (i, one) in doc.upstreams.into_iter().enumerate() {
        let at = |field: &str| format!("upstreams[{i}].{field}");
        let upstream = check(one, &at, &env).map_err(|(field, detail)| fail(&field, detail))?;
        if upstreams.by_name.contains_key(&upstream.name) {
            return Err(fail(&at("name"), format!("{} is named twice", upstream.name)));
        }
        upstreams.by_name.insert(upstream.name.clone(), Arc::new(upstream));
    }
    if upstreams.by_name.is_empty() {
        return Err(fail("upstreams", "must list at least one upstream".into()));
    }
    upstreams.routes = routes::check(doc.routes.unwrap_or_default(), &upstreams.by_name)
        .map_err(|(field, detail)| fail(&field, detail))?;
    Ok(upstreams)
}

fn check(
    doc: UpstreamDoc,
    at: &impl Fn(&str) -> String,
    env: &impl Fn(&str) -> Option<String>,
) -> Result<Upstream, (String, String)> {
    if !name_ok(&doc.name) {
        return Err((at("name"), "must be 1 to 32 of a-z, 0-9, - and _".into()));
    }
    let kind = kind_of(&doc.kind).ok_or_else(|| {
        (
            at("kind"),
            "must be openai, anthropic, openai-compatible, gemini, azure-openai, bedrock or vertex".to_string(),
        )
    })?;
    let base_url = base_url(&doc.base_url).map_err(|d| (at("baseUrl"), d))?;
    let (credential, signer, google) = credentials(kind, &doc, env).map_err(|(field, d)| (at(field), d))?;
    if let Some(projects) = &doc.projects {
        if projects.is_empty() {
            return Err((
                at("projects"),
                "must list at least one project (leave it out for all)".into(),
            ));
        }
    }
    let timeouts =
        timeouts(doc.timeouts.unwrap_or_default()).map_err(|(field, d)| (at(&format!("timeouts.{field}")), d))?;
    let tokens = |value: Option<u64>, default: u64, field: &str| match value {
        Some(v) if v == 0 || v > MAX_TOKENS_SETTING => Err((at(field), format!("must be 1 to {MAX_TOKENS_SETTING}"))),
        Some(v) => Ok(v),
        None => Ok(default),
    };
    let max_output_tokens = tokens(doc.max_output_tokens, DEFAULT_MAX_OUTPUT_TOKENS, "maxOutputTokens")?;
    let context_tokens = tokens(doc.context_tokens, DEFAULT_CONTEXT_TOKENS, "contextTokens")?;
    let fetched_input_tokens = doc
        .fetched_input_tokens
        .map(|v| tokens(Some(v), 0, "fetchedInputTokens"))
        .transpose()?;
    let forward_headers =
        forward_headers(doc.forward_headers.unwrap_or_default()).map_err(|d| (at("forwardHeaders"), d))?;
    let passthrough = passthrough::check(kind, doc.passthrough.unwrap_or_default()).map_err(|(i, d)| {
        let field = i.map_or_else(|| "passthrough".to_string(), |i| format!("passthrough[{i}]"));
        (at(&field), d)
    })?;
    let deployments = deployments(kind, doc.deployments).map_err(|(field, d)| (at(&field), d))?;
    let wire = wire(kind, doc.azure_auth.as_deref()).map_err(|d| (at("azureAuth"), d))?;
    let client = client(timeouts.connect).map_err(|e| (at("baseUrl"), format!("cannot build a client for it: {e}")))?;
    Ok(Upstream {
        wire,
        name: doc.name,
        kind,
        base_url,
        credential,
        projects: doc.projects,
        timeouts,
        max_output_tokens,
        output_cap: doc.max_output_tokens,
        context_tokens,
        fetched_input_tokens,
        forward_headers,
        passthrough,
        deployments,
        signer,
        google,
        client,
    })
}

/// An upstream's credentials: the key `credentialEnv` names, sent as the kind sends it; a
/// Bedrock upstream's signer without one; a Vertex AI upstream's token source, which its key
/// mints with (never sent itself). Err names the field at fault.
type Credentials = (Option<String>, Option<Arc<Signer>>, Option<Arc<TokenSource>>);

fn credentials(
    kind: Kind,
    doc: &UpstreamDoc,
    env: &impl Fn(&str) -> Option<String>,
) -> Result<Credentials, (&'static str, String)> {
    let credential = match &doc.credential_env {
        None => None,
        Some(var) => match env(var) {
            Some(value) if !value.is_empty() => Some(value),
            _ => return Err(("credentialEnv", format!("the environment variable {var} is not set"))),
        },
    };
    let signer = signer(kind, credential.is_some(), doc.region.clone(), env)?;
    match kind {
        Kind::Vertex => {
            let google = google(credential, env).map_err(|d| ("credentialEnv", d))?;
            Ok((None, signer, Some(google)))
        }
        _ => Ok((credential, signer, None)),
    }
}

/// A Vertex AI upstream's token source: from the service account's JSON key that
/// `credentialEnv` holds (its text, or the path of its file), else the file
/// `GOOGLE_APPLICATION_CREDENTIALS` names, as Google's own clients find it.
fn google(credential: Option<String>, env: &impl Fn(&str) -> Option<String>) -> Result<Arc<TokenSource>, String> {
    let given = credential
        .or_else(|| env("GOOGLE_APPLICATION_CREDENTIALS").filter(|v| !v.is_empty()))
        .ok_or("names no service account key, and GOOGLE_APPLICATION_CREDENTIALS is unset")?;
    let json = match given.trim_start().starts_with('{') {
        true => given,
        false => std::fs::read_to_string(&given).map_err(|e| format!("cannot read the key file {given}: {e}"))?,
    };
    TokenSource::from_key(&json)
        .map(Arc::new)
        .map_err(|e| format!("the key {e}"))
}

/// How a Bedrock upstream without an API key (`credentialEnv`) signs its requests: with the
/// standard AWS credentials of the node's environment (`AWS_ACCESS_KEY_ID`,
/// `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`), for its `region` (else `AWS_REGION`, else
/// `AWS_DEFAULT_REGION`). Err names the field at fault and what is missing; only Bedrock has
/// a region.
fn signer(
    kind: Kind,
    has_key: bool,
    region: Option<String>,
    env: &impl Fn(&str) -> Option<String>,
) -> Result<Option<Arc<Signer>>, (&'static str, String)> {
    if kind != Kind::Bedrock {
        return match region {
            Some(_) => Err(("region", "is for a bedrock upstream only".into())),
            None => Ok(None),
        };
    }
    let set = |name: &str| env(name).filter(|v| !v.is_empty());
    let region = region
        .or_else(|| set("AWS_REGION"))
        .or_else(|| set("AWS_DEFAULT_REGION"));
    let region_ok = |r: &str| {
        (1..=32).contains(&r.len())
            && r.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
    };
    if let Some(region) = region.as_deref().filter(|r| !region_ok(r)) {
        return Err(("region", format!("{region:?} must be an AWS region, like us-east-1")));
    }
    if has_key {
        return Ok(None);
    }
    let Some(region) = region else {
        let why = "is needed to sign Bedrock's requests: name it here or set AWS_REGION (or name a Bedrock API key \
                   in credentialEnv)";
        return Err(("region", why.into()));
    };
    match (set("AWS_ACCESS_KEY_ID"), set("AWS_SECRET_ACCESS_KEY")) {
        (Some(id), Some(secret)) => {
            let token = set("AWS_SESSION_TOKEN");
            Ok(Some(Arc::new(Signer::new(id, secret, token, region))))
        }
        _ => {
            let why = "is unset, so Bedrock's requests are signed: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY \
                       in the node's environment, or name a Bedrock API key here";
            Err(("credentialEnv", why.into()))
        }
    }
}

/// An upstream's name: 1 to 32 of a-z, 0-9, - and _ (it is a path segment and half of an
/// event's name).
fn name_ok(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 32
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
}

/// The wire format a kind names.
fn kind_of(kind: &str) -> Option<Kind> {
    match kind {
        "openai" => Some(Kind::OpenAi),
        "anthropic" => Some(Kind::Anthropic),
        "openai-compatible" => Some(Kind::OpenAiCompatible),
        "gemini" => Some(Kind::Gemini),
        "azure-openai" => Some(Kind::AzureOpenAi),
        "bedrock" => Some(Kind::Bedrock),
        "vertex" => Some(Kind::Vertex),
        _ => None,
    }
}

/// The wire format of an upstream of `kind`: an Azure OpenAI upstream's with its credential
/// sent as a resource key (`azureAuth` "key", the default) or an Entra ID token ("entra").
fn wire(kind: Kind, azure_auth: Option<&str>) -> Result<&'static dyn Wire, String> {
    match (azure_auth, kind) {
        (None, _) | (Some("key"), Kind::AzureOpenAi) => Ok(super::wire::of(kind)),
        (Some("entra"), Kind::AzureOpenAi) => Ok(super::wire::azure_with_entra_id()),
        (Some(_), Kind::AzureOpenAi) => Err("must be key or entra".into()),
        (Some(_), _) => Err("is for an azure-openai upstream only".into()),
    }
}

/// The most deployments an Azure OpenAI upstream lists.
const MAX_DEPLOYMENTS: usize = 256;

/// An Azure OpenAI upstream's deployments, or a Bedrock upstream's application inference
/// profiles (each name, or ARN, to its model), checked; the field at fault and why otherwise.
/// Only those kinds have deployments.
fn deployments(
    kind: Kind,
    given: Option<HashMap<String, String>>,
) -> Result<HashMap<String, String>, (String, String)> {
    let Some(given) = given else {
        return Ok(HashMap::new());
    };
    if !matches!(kind, Kind::AzureOpenAi | Kind::Bedrock) {
        return Err((
            "deployments".into(),
            "is for an azure-openai or bedrock upstream only".into(),
        ));
    }
    if given.len() > MAX_DEPLOYMENTS {
        return Err(("deployments".into(), format!("must list at most {MAX_DEPLOYMENTS}")));
    }
    // A deployment is one path segment at Azure: letters, digits, `.`, `_` and `-`; a Bedrock
    // profile's ARN has `:` and `/` too.
    let (longest, more): (usize, &[u8]) = match kind {
        Kind::Bedrock => (2048, b":/"),
        _ => (64, b""),
    };
    let name_ok = |n: &str| {
        !n.is_empty()
            && n.len() <= longest
            && n.bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-') || more.contains(&b))
    };
    for (name, model) in &given {
        if !name_ok(name) {
            return Err((
                "deployments".into(),
                format!("{name:?} must be 1 to {longest} of letters, digits, ., _ and - (and : and / on bedrock)"),
            ));
        }
        if model.is_empty() || model.len() > 256 {
            return Err((
                format!("deployments.{name}"),
                "must be a model's name, 1 to 256 bytes".into(),
            ));
        }
    }
    Ok(given)
}

/// An upstream's base URL without its trailing slash: http or https, with a host, and no
/// query or fragment.
fn base_url(given: &str) -> Result<String, String> {
    let base_url = given.trim_end_matches('/').to_string();
    let parsed = reqwest::Url::parse(&base_url).map_err(|e| format!("is not a URL: {e}"))?;
    if !matches!(parsed.scheme(), "http" | "https") || parsed.host_str().is_none() {
        return Err("must be an http or https URL with a host".into());
    }
    if parsed.query().is_some() || parsed.fragment().is_some() {
        return Err("must have no query or fragment".into());
    }
    Ok(base_url)
}

/// Pooled, kept-alive connections to an upstream, each made within `connect`.
fn client(connect: Duration) -> reqwest::Result<reqwest::Client> {
    reqwest::Client::builder()
        .connect_timeout(connect)
        .pool_idle_timeout(Duration::from_secs(90))
        .tcp_nodelay(true)
        // Answers are relayed as they come: a compressed one could not be read for its usage.
        .no_gzip()
        .redirect(reqwest::redirect::Policy::none())
        .build()
}

/// An upstream's timeouts, each its default unless given; Err names the field at fault.
fn timeouts(t: TimeoutsDoc) -> Result<Timeouts, (&'static str, String)> {
    let ms = |value: Option<u64>, default: u64, field: &'static str| match value {
        Some(0) => Err((field, "must be at least 1".to_string())),
        Some(v) => Ok(Duration::from_millis(v)),
        None => Ok(Duration::from_millis(default)),
    };
    Ok(Timeouts {
        connect: ms(t.connect_ms, DEFAULT_CONNECT_MS, "connectMs")?,
        first_byte: ms(t.first_byte_ms, DEFAULT_FIRST_BYTE_MS, "firstByteMs")?,
        idle: ms(t.idle_ms, DEFAULT_IDLE_MS, "idleMs")?,
    })
}

/// Headers the gateway itself reads or sets: an upstream's `forwardHeaders` may not list them.
const NEVER_FORWARDED: [&str; 8] = [
    "authorization",
    "x-api-key",
    "host",
    "content-length",
    "content-encoding",
    "transfer-encoding",
    "connection",
    "idempotency-key",
];

/// `forwardHeaders`: header names (lowercased), none the gateway's own or a credential.
fn forward_headers(names: Vec<String>) -> Result<Vec<String>, String> {
    if names.len() > 32 {
        return Err("must list at most 32 headers".into());
    }
    names
        .into_iter()
        .map(|name| {
            let lower = name.to_ascii_lowercase();
            let token =
                !lower.is_empty() && lower.len() <= 64 && lower.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-');
            if !token {
                return Err(format!("{name:?} is not a header name"));
            }
            if NEVER_FORWARDED.contains(&lower.as_str()) || lower.starts_with("x-quota-") || lower.starts_with("proxy-")
            {
                return Err(format!("{lower} is the gateway's own or a credential, never forwarded"));
            }
            Ok(lower)
        })
        .collect()
}

/// Loads a file of `text`, as a test writes it (the variable `KEY` set).
#[cfg(test)]
pub(super) fn load_text(text: &str) -> Result<Upstreams, UpstreamsError> {
    use std::sync::atomic::{AtomicUsize, Ordering};
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let dir = std::env::temp_dir().join(format!("qg-upstreams-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(format!("{}.json", NEXT.fetch_add(1, Ordering::SeqCst)));
    std::fs::write(&path, text).unwrap();
    load(&path, |var| (var == "KEY").then(|| "sk-test".to_string()))
}

/// An upstream of `kind` (its name too) at a loopback address, for a test.
#[cfg(test)]
pub(crate) fn of_kind(kind: &str) -> std::sync::Arc<Upstream> {
    let text = format!(r#"{{"upstreams": [{{"name": "{kind}", "kind": "{kind}", "baseUrl": "http://127.0.0.1:9"}}]}}"#);
    load_text(&text).unwrap().by_name[kind].clone()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_good_file_loads_with_defaults() {
        let up = load_text(
            r#"{"upstreams": [{"name": "openai", "kind": "openai", "baseUrl": "http://127.0.0.1:9/", "credentialEnv": "KEY"}]}"#,
        )
        .unwrap();
        let one = &up.by_name["openai"];
        assert_eq!(one.base_url, "http://127.0.0.1:9");
        assert_eq!(one.credential.as_deref(), Some("sk-test"));
        assert!(one.allows("any"));
        assert!(!format!("{one:?}").contains("sk-test"));
    }

    #[test]
    fn errors_name_the_field() {
        let cases = [
            (
                r#"{"upstreams": [{"name": "Open AI", "kind": "openai", "baseUrl": "http://x"}]}"#,
                "upstreams[0].name",
            ),
            (
                r#"{"upstreams": [{"name": "a", "kind": "bard", "baseUrl": "http://x"}]}"#,
                "upstreams[0].kind",
            ),
            (
                r#"{"upstreams": [{"name": "a", "kind": "openai", "baseUrl": "ftp://x"}]}"#,
                "upstreams[0].baseUrl",
            ),
            (
                r#"{"upstreams": [{"name": "a", "kind": "openai", "baseUrl": "http://x", "credentialEnv": "NOPE"}]}"#,
                "upstreams[0].credentialEnv",
            ),
            (
                r#"{"upstreams": [{"name": "a", "kind": "openai", "baseUrl": "http://x", "timeouts": {"idleMs": 0}}]}"#,
                "upstreams[0].timeouts.idleMs",
            ),
            (
                r#"{"upstreams": [{"name": "a", "kind": "openai", "baseUrl": "http://x", "forwardHeaders": ["Authorization"]}]}"#,
                "upstreams[0].forwardHeaders",
            ),
            (r#"{"upstreams": []}"#, "upstreams"),
            (
                r#"{"upstreams": [{"name": "a", "kind": "openai", "baseUrl": "http://x", "passthrough": ["GET"]}]}"#,
                "upstreams[0].passthrough[0]",
            ),
            (
                r#"{"upstreams": [{"name": "a", "kind": "openai", "baseUrl": "http://x", "passthrough": ["TRACE v1/x"]}]}"#,
                "upstreams[0].passthrough[0]",
            ),
            // A counted path, and a job's file served only to its owner, are the kind's own.
            (
                r#"{"upstreams": [{"name": "a", "kind": "openai", "baseUrl": "http://x", "passthrough": ["POST v1/chat/completions"]}]}"#,
                "upstreams[0].passthrough[0]",
            ),
            (
                r#"{"upstreams": [{"name": "a", "kind": "openai", "baseUrl": "http://x", "passthrough": ["POST v1/moderations", "POST v1/*"]}]}"#,
                "upstreams[0].passthrough[1]",
            ),
        ];
        for (text, field) in cases {
            let err = load_text(text).unwrap_err();
            assert_eq!(err.field, field, "{text}: {err}");
        }
    }

    #[test]
    fn a_bedrock_upstream_signs_with_the_environments_credentials_or_sends_its_key() {
        let path = std::env::temp_dir().join(format!("qg-upstreams-bedrock-{}.json", std::process::id()));
        let aws = |var: &str| {
            let value = match var {
                "AWS_ACCESS_KEY_ID" => "AKID",
                "AWS_SECRET_ACCESS_KEY" => "secret",
                "AWS_REGION" => "eu-west-1",
                "KEY" => "bedrock-api-key",
                _ => return None,
            };
            Some(value.to_string())
        };
        std::fs::write(
            &path,
            r#"{"upstreams": [{"name": "signed", "kind": "bedrock", "baseUrl": "https://bedrock-runtime.eu-west-1.amazonaws.com"},
                {"name": "keyed", "kind": "bedrock", "baseUrl": "http://x", "credentialEnv": "KEY"}]}"#,
        )
        .unwrap();
        let up = load(&path, aws).unwrap();
        assert!(up.by_name["signed"].signer.is_some() && up.by_name["signed"].credential.is_none());
        assert!(up.by_name["keyed"].signer.is_none() && up.by_name["keyed"].credential.is_some());
        // Models as AWS's clients send them: percent-encoded, an ARN's last part.
        let signed = &up.by_name["signed"];
        assert_eq!(
            signed.model_of("anthropic.claude-v1%3A0".into()),
            "anthropic.claude-v1:0"
        );
        assert_eq!(
            signed.model_of("arn%3Aaws%3Abedrock%3Aus-east-1%3A1%3Ainference-profile%2Fus.anthropic.c-v1%3A0".into()),
            "us.anthropic.c-v1:0"
        );
        let cases = [
            (
                r#"{"name": "a", "kind": "bedrock", "baseUrl": "http://x"}"#,
                "upstreams[0].region",
            ),
            (
                r#"{"name": "a", "kind": "bedrock", "baseUrl": "http://x", "region": "us-east-1"}"#,
                "upstreams[0].credentialEnv",
            ),
            (
                r#"{"name": "a", "kind": "bedrock", "baseUrl": "http://x", "region": "US East", "credentialEnv": "KEY"}"#,
                "upstreams[0].region",
            ),
            (
                r#"{"name": "a", "kind": "openai", "baseUrl": "http://x", "region": "us-east-1"}"#,
                "upstreams[0].region",
            ),
        ];
        for (upstream, field) in cases {
            let err = load_text(&format!(r#"{{"upstreams": [{upstream}]}}"#)).unwrap_err();
            assert_eq!(err.field, field, "{upstream}: {err}");
        }
    }

    #[test]
    fn a_vertex_upstream_needs_a_service_account_key_it_can_mint_with() {
        let cases = [
            // No key named, and no GOOGLE_APPLICATION_CREDENTIALS.
            r#"{"name": "v", "kind": "vertex", "baseUrl": "https://us-east5-aiplatform.googleapis.com"}"#,
            // A key that is no service account's (load_text's KEY is a provider's key).
            r#"{"name": "v", "kind": "vertex", "baseUrl": "https://x", "credentialEnv": "KEY"}"#,
        ];
        for upstream in cases {
            let err = load_text(&format!(r#"{{"upstreams": [{upstream}]}}"#)).unwrap_err();
            assert_eq!(err.field, "upstreams[0].credentialEnv", "{upstream}: {err}");
        }
        let up = load_text(
            r#"{"upstreams": [{"name": "v", "kind": "vertex", "baseUrl": "https://x", "credentialEnv": "KEY"}]}"#,
        );
        assert!(up.unwrap_err().detail.contains("the key"));
    }

    #[test]
    fn an_azure_upstream_maps_its_deployments_and_no_other_kind_has_any() {
        let up = load_text(
            r#"{"upstreams": [{"name": "az", "kind": "azure-openai", "baseUrl": "https://r.openai.azure.com", "credentialEnv": "KEY",
                "deployments": {"chat-prod": "gpt-4o-mini"}}]}"#,
        )
        .unwrap();
        let az = &up.by_name["az"];
        assert_eq!(az.kind, Kind::AzureOpenAi);
        assert_eq!(az.model_of("chat-prod".into()), "gpt-4o-mini");
        assert_eq!(
            az.model_of("gpt-4o".into()),
            "gpt-4o",
            "a deployment not listed is its own model"
        );
        let cases = [
            (
                r#"{"upstreams": [{"name": "a", "kind": "openai", "baseUrl": "http://x", "deployments": {"d": "m"}}]}"#,
                "upstreams[0].deployments",
            ),
            (
                r#"{"upstreams": [{"name": "a", "kind": "azure-openai", "baseUrl": "http://x", "deployments": {"a/b": "m"}}]}"#,
                "upstreams[0].deployments",
            ),
            (
                r#"{"upstreams": [{"name": "a", "kind": "azure-openai", "baseUrl": "http://x", "deployments": {"d": ""}}]}"#,
                "upstreams[0].deployments.d",
            ),
            (
                r#"{"upstreams": [{"name": "a", "kind": "azure-openai", "baseUrl": "http://x", "azureAuth": "password"}]}"#,
                "upstreams[0].azureAuth",
            ),
            (
                r#"{"upstreams": [{"name": "a", "kind": "gemini", "baseUrl": "http://x", "azureAuth": "entra"}]}"#,
                "upstreams[0].azureAuth",
            ),
            // Everything under `openai/` bills or is its owner's: never free.
            (
                r#"{"upstreams": [{"name": "a", "kind": "azure-openai", "baseUrl": "http://x", "passthrough": ["GET openai/files"]}]}"#,
                "upstreams[0].passthrough[0]",
            ),
        ];
        for (text, field) in cases {
            let err = load_text(text).unwrap_err();
            assert_eq!(err.field, field, "{text}: {err}");
        }
    }
}
