//! An upstream's `passthrough`: `"METHOD path/pattern"` entries forwarded free for any caller of
//! the project, beside the kind's own paths. Each is checked at start against the kind's whole
//! table, whatever its case (`../paths.rs` matches paths so): an entry that could match a path the
//! kind counts, a job's path served only to its owner, a list the gateway answers with the
//! caller's own, or a path the provider bills that the gateway does not count (`BILLED`) is
//! refused, naming it: forwarded free, it would be a bill no plan holds, or one user's objects
//! shown to another. A pattern is refused when some path could match both it and one of those,
//! so `POST v1/*` is refused for `v1/completions`.

use crate::proxy::call::jobs::JobPath;
use crate::proxy::call::upstream::Kind;
use crate::proxy::{paths, wire};

/// The most entries an upstream lists.
const MAX_ENTRIES: usize = 64;

/// A path a provider bills (or keeps per user) that the gateway does not count: no passthrough
/// entry may reach it. `method` None: any method; `under`: the path and every path below it.
struct Billed {
    method: Option<&'static str>,
    path: &'static str,
    under: bool,
}

const fn any_under(path: &'static str) -> Billed {
    Billed {
        method: None,
        path,
        under: true,
    }
}

const fn post_under(path: &'static str) -> Billed {
    Billed {
        method: Some("POST"),
        path,
        under: true,
    }
}

/// OpenAI's (and a server like it): the legacy completions, Realtime sessions, fine-tuning,
/// image edits and variations, audio and embeddings beyond what is counted, responses' other
/// calls (`compact`), Assistants' runs, evaluations' runs, a container's creation; and the
/// jobs' and files' own paths, which are their owners'.
const OPENAI: &[Billed] = &[
    any_under("v1/completions"),
    any_under("v1/realtime"),
    any_under("v1/fine_tuning"),
    any_under("v1/images"),
    any_under("v1/audio"),
    any_under("v1/embeddings"),
    post_under("v1/responses"),
    post_under("v1/chat"),
    post_under("v1/threads"),
    post_under("v1/evals"),
    Billed {
        method: Some("POST"),
        path: "v1/containers",
        under: false,
    },
    any_under("v1/batches"),
    any_under("v1/files"),
    any_under("v1/videos"),
];

/// Anthropic's: the legacy text completions, and everything under `v1/messages` (counted,
/// counted tokens, or a message batch's).
const ANTHROPIC: &[Billed] = &[any_under("v1/complete"), any_under("v1/messages")];

/// Gemini's, in each of its API versions: the model methods that bill beside the counted
/// ones (embeddings, batches, Imagen's and Veo's predictions, grounded answers), tuned models,
/// cached contents' creation, batch jobs, and the Live API's socket.
const GEMINI: &[Billed] = &[
    post_under("v1beta/models/*:embedContent"),
    post_under("v1beta/models/*:batchEmbedContents"),
    post_under("v1beta/models/*:asyncBatchEmbedContent"),
    post_under("v1beta/models/*:batchGenerateContent"),
    post_under("v1beta/models/*:predict"),
    post_under("v1beta/models/*:predictLongRunning"),
    post_under("v1beta/models/*:generateAnswer"),
    post_under("v1/models/*:embedContent"),
    post_under("v1/models/*:batchEmbedContents"),
    post_under("v1/models/*:batchGenerateContent"),
    post_under("v1/models/*:predict"),
    post_under("v1/models/*:predictLongRunning"),
    post_under("v1alpha/models"),
    any_under("v1beta/tunedModels"),
    any_under("v1/tunedModels"),
    post_under("v1beta/cachedContents"),
    post_under("v1/cachedContents"),
    any_under("v1beta/batches"),
    any_under("v1/batches"),
    any_under("ws"),
];

fn billed(kind: Kind) -> &'static [Billed] {
    match kind {
        Kind::OpenAi | Kind::OpenAiCompatible => OPENAI,
        Kind::Anthropic => ANTHROPIC,
        Kind::Gemini => GEMINI,
        Kind::AzureOpenAi => AZURE,
        Kind::Bedrock => BEDROCK,
        Kind::Vertex => VERTEX,
    }
}

/// Azure OpenAI's: everything under `openai/` (its deployments, its `v1` paths, files,
/// batches, fine-tuning, realtime) bills or is its owner's.
const AZURE: &[Billed] = &[any_under("openai")];

/// Bedrock's runtime: every model's paths bill (converse, invoke, async invoke).
const BEDROCK: &[Billed] = &[any_under("model"), any_under("async-invoke")];

/// Vertex AI's: every model of every publisher, and what a project keeps there (cached
/// contents, batch prediction jobs, endpoints), under `projects/`.
const VERTEX: &[Billed] = &[any_under("v1/projects"), any_under("v1beta1/projects")];

/// A refusal: the place of the entry at fault (None: the list's), and why.
pub(super) type Refused = (Option<usize>, String);

/// The entries of `kind`'s upstream, each as (method, pattern).
pub(super) fn check(kind: Kind, entries: Vec<String>) -> Result<Vec<(String, String)>, Refused> {
    if entries.len() > MAX_ENTRIES {
        return Err((None, format!("must list at most {MAX_ENTRIES} paths")));
    }
    entries
        .iter()
        .enumerate()
        .map(|(i, entry)| one(kind, entry).map_err(|why| (Some(i), why)))
        .collect()
}

fn one(kind: Kind, entry: &str) -> Result<(String, String), String> {
    let shape = || format!("{entry:?} must be a method and a path, like \"GET v1/files/*\"");
    let (method, path) = entry.trim().split_once(' ').ok_or_else(shape)?;
    let path = path.trim().trim_matches('/');
    if !matches!(method, "GET" | "POST" | "PUT" | "PATCH" | "DELETE" | "HEAD") {
        return Err(format!(
            "{entry:?}: {method} is not GET, POST, PUT, PATCH, DELETE or HEAD"
        ));
    }
    if !paths::well_formed(path) || path.contains("..") {
        return Err(shape());
    }
    let wire = wire::of(kind);
    let same = |m: &str| m == method;
    if let Some(c) = wire
        .counted()
        .iter()
        .find(|c| same(c.method) && paths::overlap(path, c.path))
    {
        let what = format!("{} {} ({})", c.method, c.path, c.operation.as_str());
        return Err(refused(entry, &what, "counted by the gateway"));
    }
    if let Some((m, p, job)) = wire.jobs().iter().find(|(m, p, _)| same(m) && paths::overlap(path, p)) {
        let why = match job {
            JobPath::List(_) => "a list the gateway answers with the caller's own",
            JobPath::Submit(_) => "a job the gateway holds for its life",
            JobPath::UploadFile | JobPath::Resumable => "a batch file's upload, priced as it passes",
            JobPath::Owned(..) => "a job's object, served only to its owner",
        };
        return Err(refused(entry, &format!("{m} {p}"), why));
    }
    if let Some(b) = billed(kind).iter().find(|b| {
        b.method.is_none_or(same)
            && match b.under {
                true => paths::overlaps_under(path, b.path),
                false => paths::overlap(path, b.path),
            }
    }) {
        let what = format!(
            "{} {}{}",
            b.method.unwrap_or("any method of"),
            b.path,
            if b.under { " (or below it)" } else { "" }
        );
        return Err(refused(
            entry,
            &what,
            "billed by the provider (or one user's) and not counted by the gateway",
        ));
    }
    Ok((method.to_string(), path.to_string()))
}

fn refused(entry: &str, what: &str, why: &str) -> String {
    format!("{entry:?} could reach {what}, {why}: list only paths that cost nothing and belong to no one user")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused_entry(kind: Kind, entry: &str) -> Option<String> {
        check(kind, vec![entry.to_string()]).err().map(|(_, why)| why)
    }

    #[test]
    fn entries_that_reach_a_counted_an_owned_a_listed_or_a_billed_path_are_refused_naming_them() {
        for (kind, entry) in [
            (Kind::OpenAi, "POST v1/chat/completions"),
            (Kind::OpenAi, "POST v1/Embeddings"),
            (Kind::OpenAi, "POST v1/*"),
            (Kind::OpenAi, "POST v1/*/completions"),
            (Kind::OpenAi, "POST v1/completions"),
            (Kind::OpenAi, "GET v1/realtime"),
            (Kind::OpenAi, "POST v1/realtime/client_secrets"),
            (Kind::OpenAi, "POST v1/fine_tuning/jobs"),
            (Kind::OpenAi, "GET v1/fine_tuning/jobs/*"),
            (Kind::OpenAi, "POST v1/images/edits"),
            (Kind::OpenAi, "POST v1/responses/compact"),
            (Kind::OpenAi, "POST v1/threads/*/runs"),
            (Kind::OpenAi, "POST v1/containers"),
            (Kind::OpenAiCompatible, "GET v1/files"),
            (Kind::OpenAiCompatible, "GET v1/Batches"),
            (Kind::OpenAi, "GET v1/files/*"),
            (Kind::OpenAi, "GET v1/*/*"),
            (Kind::OpenAi, "POST v1/videos/*/remix"),
            (Kind::Anthropic, "POST v1/complete"),
            (Kind::Anthropic, "GET v1/messages/batches"),
            (Kind::Anthropic, "POST v1/*"),
            (Kind::Gemini, "POST v1beta/models/*:embedContent"),
            (Kind::Gemini, "POST v1beta/models/*:batchEmbedContents"),
            (Kind::Gemini, "POST v1beta/models/*:predictLongRunning"),
            (Kind::Gemini, "POST v1beta/models/gemini-*:generateContent"),
            (Kind::Gemini, "POST v1beta/tunedModels/*:generateContent"),
            (Kind::Gemini, "GET v1beta/batches"),
        ] {
            let err = refused_entry(kind, entry).unwrap_or_else(|| panic!("{kind:?} {entry} passed"));
            assert!(err.contains(&format!("{entry:?}")), "{err}");
        }
    }

    #[test]
    fn entries_that_reach_only_free_paths_pass() {
        for (kind, entry) in [
            (Kind::OpenAi, "POST v1/moderations"),
            (Kind::OpenAi, "POST v1/uploads/*/parts"),
            (Kind::OpenAi, "GET v1/containers/*/files/*/content"),
            (Kind::OpenAi, "GET v1/responses/*"),
            (Kind::OpenAi, "GET v1/vector_stores/*"),
            (Kind::Anthropic, "GET v1/models/*"),
            (Kind::Gemini, "GET v1beta/models/*"),
            (Kind::Gemini, "POST v1beta/models/*"),
        ] {
            assert_eq!(refused_entry(kind, entry), None, "{kind:?} {entry}");
        }
    }
}
