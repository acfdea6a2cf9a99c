//! The wire formats the door speaks, one module each: which paths are calls, what a body asks
//! for, where an answer and a stream report usage, how the provider wants its credential and
//! how its errors look. The phases around them (`super`) know none of it: a new provider is a
//! new module here and a `Kind`, not a branch in every phase.

mod anthropic;
pub(crate) mod bedrock;
mod gemini;
mod named;
pub(crate) mod openai;
mod vertex;

use std::sync::Arc;

use serde_json::Value;

use super::call::context::Target;
use super::call::jobs::{self, JobPath};
use super::call::upstream::{Kind, Upstream};
use super::call::wire::{Counted, Event, Final, Free, Route, Wire};
use super::call::Operation;
use super::paths;
use crate::quota::JobKind;

const fn counted(method: &'static str, path: &'static str, operation: Operation) -> Counted {
    Counted {
        method,
        path,
        operation,
        stream: None,
        upload: false,
    }
}

/// A counted path that says whether its answer streams (a model's verb in the path).
const fn streams(c: Counted, stream: bool) -> Counted {
    Counted {
        stream: Some(stream),
        ..c
    }
}

/// A path whose body is a multipart upload.
const fn upload(method: &'static str, path: &'static str, operation: Operation) -> Counted {
    Counted {
        upload: true,
        ..counted(method, path, operation)
    }
}

/// What `method` and `path` (after `/proxy/{upstream}/`) name on an upstream of `wire` that
/// also passes `passthrough` (the upstream's own list): a counted call first, else a job's
/// path, else a free path; None for anything else, which is never forwarded.
pub(crate) fn route(wire: &dyn Wire, passthrough: &[(String, String)], method: &str, path: &str) -> Option<Route> {
    let path = path.trim_end_matches('/');
    let first = wire.free_first().iter().filter(|(m, _)| *m == method);
    if first
        .into_iter()
        .any(|(_, pattern)| paths::matches(pattern, path).is_some())
    {
        return Some(Operation::Uncounted.into());
    }
    for c in wire.counted().iter().filter(|c| c.method == method) {
        if let Some(stars) = paths::matches(c.path, path) {
            return Some(Route {
                operation: c.operation,
                // The model is the last `*` (Vertex's path names a project and a location first).
                model: stars.last().map(|m| m.to_string()),
                stream: c.stream,
                upload: c.upload,
                job: None,
            });
        }
    }
    // A job's paths after the calls (no path is both; the calls are the hot path), before the
    // free ones: a job's objects are its owner's, whatever an upstream passes through.
    for (_, pattern, job) in wire.jobs().iter().filter(|(m, ..)| *m == method) {
        if let Some(stars) = paths::matches(pattern, path) {
            let operation = match job {
                JobPath::Submit(JobKind::Video) => Operation::Videos,
                JobPath::Submit(_) => Operation::Batches,
                _ => Operation::Job,
            };
            return Some(Route {
                job: Some((*job, stars.first().map(|id| id.to_string()))),
                ..operation.into()
            });
        }
    }
    let free = wire
        .free()
        .iter()
        .map(|(m, p)| (*m, *p))
        .chain(passthrough.iter().map(|(m, p)| (m.as_str(), p.as_str())));
    for (m, pattern) in free {
        if m == method && paths::matches(pattern, path).is_some() {
            return Some(Operation::Uncounted.into());
        }
    }
    None
}

/// The call's target on `upstream` for `method` at `path` (plain, as it will be forwarded),
/// or the path back when the upstream does not forward it. The identify phase names the first
/// target so, and a routed call's chain each next one.
pub(crate) fn target(upstream: Arc<Upstream>, method: &str, path: String) -> Result<Target, String> {
    let wire = upstream.wire;
    let Some(route) = route(wire, &upstream.passthrough, method, &path) else {
        return Err(path);
    };
    Ok(Target {
        upstream,
        wire,
        route,
        path,
    })
}

/// The wire format of an upstream kind.
pub(crate) fn of(kind: Kind) -> &'static dyn Wire {
    match kind {
        Kind::OpenAi => &openai::OpenAi {
            compatible: false,
            azure: false,
            entra: false,
        },
        Kind::OpenAiCompatible => &openai::OpenAi {
            compatible: true,
            azure: false,
            entra: false,
        },
        Kind::AzureOpenAi => &openai::OpenAi {
            compatible: false,
            azure: true,
            entra: false,
        },
        Kind::Anthropic => &anthropic::Anthropic,
        Kind::Gemini => &gemini::Gemini,
        Kind::Bedrock => &bedrock::Bedrock,
        Kind::Vertex => &vertex::Vertex,
    }
}

/// Azure OpenAI's format with an Entra ID token for its credential (`Authorization: Bearer`)
/// in place of a resource key (`api-key`).
pub(crate) fn azure_with_entra_id() -> &'static dyn Wire {
    &openai::OpenAi {
        compatible: false,
        azure: true,
        entra: true,
    }
}

/// A count at `path` in a JSON value.
fn count(value: &Value, path: &[&str]) -> Option<u64> {
    let mut at = value;
    for key in path {
        at = at.get(key)?;
    }
    at.as_u64()
}

/// Each string among `fields` of `object`, to `each`.
fn texts(object: Option<&Value>, fields: &[&str], each: &mut dyn FnMut(&str)) {
    for field in fields {
        if let Some(t) = object.and_then(|o| o.get(*field)).and_then(Value::as_str) {
            each(t);
        }
    }
}

/// Whether an id a caller names may go into a path the gateway reads: letters, digits, `-`
/// and `_`, 1 to 256 of them, so it names one object and no other path.
pub(crate) fn path_id(id: &str) -> bool {
    (1..=256).contains(&id.len()) && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_name_operations_and_nothing_else_is_forwarded() {
        let op = |kind, method, path| route(of(kind), &[], method, path).map(|r| r.operation);
        assert_eq!(op(Kind::OpenAi, "POST", "v1/chat/completions"), Some(Operation::Chat));
        assert_eq!(
            op(Kind::OpenAiCompatible, "POST", "v1/responses"),
            Some(Operation::Responses)
        );
        assert_eq!(op(Kind::OpenAi, "GET", "v1/models/gpt-4o"), Some(Operation::Uncounted));
        assert_eq!(op(Kind::Anthropic, "POST", "v1/messages"), Some(Operation::Messages));
        assert_eq!(op(Kind::Anthropic, "POST", "v1/chat/completions"), None);
        assert_eq!(op(Kind::OpenAi, "POST", "v1/audio/speech"), Some(Operation::Speech));
        let upload = |kind| route(of(kind), &[], "POST", "v1/audio/transcriptions").map(|r| (r.operation, r.upload));
        assert_eq!(upload(Kind::OpenAiCompatible), Some((Operation::Transcriptions, true)));
        assert_eq!(upload(Kind::Anthropic), None);
        assert_eq!(
            op(Kind::OpenAi, "POST", "v1/audio/translations"),
            Some(Operation::Translations)
        );
        assert_eq!(op(Kind::Gemini, "POST", "v1/audio/speech"), None);
        assert_eq!(op(Kind::OpenAi, "GET", "v1/chat/completions"), None);
        assert_eq!(op(Kind::OpenAi, "GET", "v1/models/../files"), None);
        assert_eq!(op(Kind::OpenAi, "GET", "v1/models/.."), None);
        assert_eq!(op(Kind::OpenAi, "GET", "v1/models/."), None);
        let gemini = route(
            of(Kind::Gemini),
            &[],
            "POST",
            "v1beta/models/gemini-2.5-flash:streamGenerateContent",
        );
        assert_eq!(
            gemini,
            Some(Route {
                operation: Operation::Generate,
                model: Some("gemini-2.5-flash".into()),
                stream: Some(true),
                upload: false,
                job: None,
            })
        );
        assert_eq!(
            op(Kind::Gemini, "POST", "v1/models/gemini-2.5-pro:countTokens"),
            Some(Operation::Uncounted)
        );
        assert_eq!(
            op(Kind::Gemini, "POST", "v1beta/models/x:embedContent"),
            Some(Operation::Embed)
        );
        // An upstream's own passthrough adds paths, free.
        let stores = [("GET".to_string(), "v1/vector_stores/*".to_string())];
        assert_eq!(
            route(of(Kind::OpenAi), &stores, "GET", "v1/vector_stores/vs-1").map(|r| r.operation),
            Some(Operation::Uncounted)
        );
        assert_eq!(op(Kind::OpenAi, "GET", "v1/vector_stores/vs-1"), None);
        // Jobs: submissions held for their life, their objects their owner's.
        assert_eq!(op(Kind::OpenAi, "POST", "v1/batches"), Some(Operation::Batches));
        assert_eq!(op(Kind::OpenAiCompatible, "POST", "v1/videos"), Some(Operation::Videos));
        assert_eq!(
            op(Kind::Anthropic, "POST", "v1/messages/batches"),
            Some(Operation::Batches)
        );
        let owned = route(of(Kind::OpenAi), &[], "GET", "v1/files/file-1").and_then(|r| r.job);
        assert_eq!(
            owned,
            Some((
                JobPath::Owned(jobs::Object::File, jobs::Action::Read),
                Some("file-1".to_string())
            ))
        );
        // A list is the gateway's own, of the caller's objects: the provider's shows every user's.
        let list = |kind, path| route(of(kind), &[], "GET", path).and_then(|r| r.job).map(|(p, _)| p);
        assert_eq!(
            list(Kind::OpenAi, "v1/batches"),
            Some(JobPath::List(jobs::Object::Job(JobKind::Batch)))
        );
        assert_eq!(
            list(Kind::OpenAiCompatible, "v1/files"),
            Some(JobPath::List(jobs::Object::File))
        );
        assert_eq!(
            list(Kind::Anthropic, "v1/messages/batches"),
            Some(JobPath::List(jobs::Object::Job(JobKind::MessageBatch)))
        );
        // A remix submits a video, of the one its path names.
        let remix = route(of(Kind::OpenAi), &[], "POST", "v1/videos/video_1/remix");
        assert_eq!(
            remix.map(|r| (r.operation, r.job)),
            Some((
                Operation::Videos,
                Some((JobPath::Submit(JobKind::Video), Some("video_1".to_string())))
            ))
        );
        assert_eq!(list(Kind::Gemini, "v1/batches"), None);
        assert_eq!(op(Kind::Gemini, "POST", "v1/batches"), None);
    }

    #[test]
    fn bedrock_paths_name_the_model_and_whether_it_streams() {
        let bedrock = |path| route(of(Kind::Bedrock), &[], "POST", path).map(|r| (r.operation, r.model, r.stream));
        let model = || Some("us.anthropic.claude-haiku-4-5-20251001-v1:0".to_string());
        assert_eq!(
            bedrock("model/us.anthropic.claude-haiku-4-5-20251001-v1:0/converse"),
            Some((Operation::Converse, model(), Some(false)))
        );
        assert_eq!(
            bedrock("model/us.anthropic.claude-haiku-4-5-20251001-v1:0/converse-stream"),
            Some((Operation::Converse, model(), Some(true)))
        );
        assert_eq!(
            bedrock("model/us.anthropic.claude-haiku-4-5-20251001-v1:0/invoke-with-response-stream"),
            Some((Operation::Messages, model(), Some(true)))
        );
        assert_eq!(bedrock("model/m/count-tokens").map(|r| r.0), Some(Operation::Uncounted));
        assert_eq!(bedrock("model/m/async-invoke"), None);
        assert_eq!(bedrock("v1/messages"), None);
    }

    #[test]
    fn vertex_paths_name_the_publisher_s_format_and_the_model_last() {
        let vertex = |path: &str| route(of(Kind::Vertex), &[], "POST", path).map(|r| (r.operation, r.model, r.stream));
        let at = "v1/projects/p-1/locations/us-east5/publishers";
        assert_eq!(
            vertex(&format!("{at}/google/models/gemini-2.5-flash:streamGenerateContent")),
            Some((Operation::Generate, Some("gemini-2.5-flash".into()), Some(true)))
        );
        assert_eq!(
            vertex(&format!("{at}/anthropic/models/claude-haiku-4-5@20251001:rawPredict")),
            Some((
                Operation::Messages,
                Some("claude-haiku-4-5@20251001".into()),
                Some(false)
            ))
        );
        assert_eq!(
            vertex("v1beta1/projects/p/locations/global/publishers/google/models/gemini-2.5-pro:generateContent"),
            Some((Operation::Generate, Some("gemini-2.5-pro".into()), Some(false)))
        );
        // Counting tokens is free, Anthropic's too, though its path looks like a model's call.
        let free = Some((Operation::Uncounted, None, None));
        assert_eq!(vertex(&format!("{at}/anthropic/models/count-tokens:rawPredict")), free);
        assert_eq!(
            vertex(&format!("{at}/google/models/gemini-2.5-flash:countTokens")),
            free
        );
        assert_eq!(vertex(&format!("{at}/meta/models/llama:rawPredict")), None);
        assert_eq!(vertex("v1beta/models/gemini-2.5-flash:generateContent"), None);
    }

    #[test]
    fn azure_paths_name_a_deployment_or_take_it_from_the_body() {
        let azure = |method, path| route(of(Kind::AzureOpenAi), &[], method, path).map(|r| (r.operation, r.model));
        assert_eq!(
            azure("POST", "openai/deployments/chat-prod/chat/completions"),
            Some((Operation::Chat, Some("chat-prod".into())))
        );
        assert_eq!(
            azure("POST", "openai/deployments/d/audio/transcriptions"),
            Some((Operation::Transcriptions, Some("d".into())))
        );
        assert_eq!(
            azure("POST", "openai/v1/chat/completions"),
            Some((Operation::Chat, None))
        );
        assert_eq!(azure("POST", "openai/responses"), Some((Operation::Responses, None)));
        assert_eq!(azure("GET", "openai/v1/models"), Some((Operation::Uncounted, None)));
        // OpenAI's own paths are not Azure's.
        assert_eq!(azure("POST", "v1/chat/completions"), None);
        assert_eq!(azure("POST", "openai/deployments/d/completions"), None);
        // Its batches and files are jobs, at both of its shapes.
        assert_eq!(azure("POST", "openai/batches"), Some((Operation::Batches, None)));
        assert_eq!(azure("POST", "openai/v1/batches"), Some((Operation::Batches, None)));
        let job = |method, path| {
            route(of(Kind::AzureOpenAi), &[], method, path)
                .and_then(|r| r.job)
                .map(|(p, _)| p)
        };
        assert_eq!(job("GET", "openai/files"), Some(JobPath::List(jobs::Object::File)));
        assert_eq!(
            job("GET", "openai/v1/files/file-1/content"),
            Some(JobPath::Owned(jobs::Object::File, jobs::Action::Content))
        );
        // What the gateway reads on its own goes to Azure's v1 paths, lines' paths too.
        let wire = of(Kind::AzureOpenAi);
        assert_eq!(wire.own_path("v1/batches/b1"), "openai/v1/batches/b1");
        assert_eq!(wire.own_path("chat/completions"), "openai/v1/chat/completions");
        assert_eq!(of(Kind::OpenAi).own_path("v1/batches/b1"), "v1/batches/b1");
    }
}
