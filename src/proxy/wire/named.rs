//! What a call's body names by id that the provider keeps for its account: files (OpenAI's
//! `file_id`s, Google's `fileData` by a Files API URI), a stored response (a Responses call's
//! `previous_response_id`) and a cache (Gemini's `cachedContent`); and what an answer made that
//! later calls may name. The gateway lets a call name only what its user uploaded or made
//! through it (`understand.rs`): the provider would read any of its account's to whoever names
//! it, and the account is every user's.

use std::fmt::Write as _;

use serde_json::{Map, Value};

use crate::proxy::call::wire::Named;
use crate::proxy::call::Operation;

/// Google's APIs' domain, where its Files API keeps a file's URI whatever base URL reached it.
const GOOGLE_API_DOMAIN: &str = "googleapis.com";

fn items(value: Option<&Value>) -> impl Iterator<Item = (usize, &Value)> {
    value.and_then(Value::as_array).into_iter().flatten().enumerate()
}

fn kind(part: &Value) -> &str {
    part.get("type").and_then(Value::as_str).unwrap_or("")
}

/// OpenAI's: a chat message's `file` part (`file.file_id`); a Responses input's `input_file`
/// and `input_image` parts (`file_id`), among its items, their content and its stored prompt's
/// variables, the files a tool's container is given (`tools[].container.file_ids`), and the
/// stored response it continues (`previous_response_id`).
pub(super) fn openai(operation: Operation, body: &Map<String, Value>) -> Vec<Named> {
    let mut found = Vec::new();
    let mut named = |field: String, id: Option<&Value>| {
        if let Some(id) = id.and_then(Value::as_str) {
            found.push(Named {
                field,
                id: id.to_string(),
            });
        }
    };
    match operation {
        Operation::Chat => {
            for (i, message) in items(body.get("messages")) {
                for (j, part) in items(message.get("content")).filter(|(_, p)| kind(p) == "file") {
                    let id = part.get("file").and_then(|f| f.get("file_id"));
                    named(format!("messages[{i}].content[{j}].file.file_id"), id);
                }
            }
        }
        Operation::Responses => {
            let input = |part: &Value| matches!(kind(part), "input_file" | "input_image");
            for (i, item) in items(body.get("input")) {
                if input(item) {
                    named(format!("input[{i}].file_id"), item.get("file_id"));
                }
                for (j, part) in items(item.get("content")).filter(|(_, p)| input(p)) {
                    named(format!("input[{i}].content[{j}].file_id"), part.get("file_id"));
                }
            }
            let variables = body
                .get("prompt")
                .and_then(|p| p.get("variables"))
                .and_then(Value::as_object);
            for (name, part) in variables.into_iter().flatten().filter(|(_, p)| input(p)) {
                named(format!("prompt.variables.{name}.file_id"), part.get("file_id"));
            }
            for (k, tool) in items(body.get("tools")) {
                for (m, id) in items(tool.get("container").and_then(|c| c.get("file_ids"))) {
                    named(format!("tools[{k}].container.file_ids[{m}]"), Some(id));
                }
            }
            // A stored response it continues: its conversation, read to whoever names it.
            if let Some(id) = body.get("previous_response_id").and_then(Value::as_str) {
                found.push(Named {
                    field: "previous_response_id".into(),
                    id: stored("responses/", id),
                });
            }
        }
        _ => {}
    }
    found
}

/// A stored object's id as `Named` writes it (`kind` its prefix); "" for an id no record can
/// have.
fn stored(kind: &str, id: &str) -> String {
    match (1..=256).contains(&id.len()) {
        true => format!("{kind}{id}"),
        false => String::new(),
    }
}

/// The cache a Gemini cache's creation answered (its `name`), kept for later calls.
pub(super) fn gemini_kept(answer: &Value) -> Option<String> {
    let name = answer.get("name")?.as_str()?;
    name.strip_prefix("cachedContents/")
        .filter(|id| super::path_id(id))
        .map(|_| name.to_string())
}

/// The stored response a whole Responses answer, or a stream's `response.created`, made: kept
/// for later calls unless the call said `store: false`.
pub(super) fn openai_kept(answer: &Value) -> Option<String> {
    let response = match answer.get("type").and_then(Value::as_str) {
        Some("response.created") => answer.get("response")?,
        _ => answer,
    };
    if response.get("object").and_then(Value::as_str) != Some("response")
        || response.get("store") == Some(&Value::Bool(false))
    {
        return None;
    }
    Some(stored("responses/", response.get("id")?.as_str()?)).filter(|id| !id.is_empty())
}

/// Google's: the cache a request reads (`cachedContent` or `cached_content`, each read), as
/// `cachedContents/{id}`; and every `fileData` (or `file_data`) anywhere in the body whose
/// `fileUri` (or `file_uri`, each read) names a Files API file: `files/{id}`, or its URL at a
/// host of Google's APIs' domain or the upstream's (`base_url`'s) under any API version. A URL
/// elsewhere (a video's page, a public document) is the provider's to fetch, not an account's
/// file. A Files API URL the gateway cannot read an id from is named with no id: nobody's.
pub(super) fn gemini(body: &Map<String, Value>, base_url: &str) -> Vec<Named> {
    let mut found = Vec::new();
    for key in ["cachedContent", "cached_content"] {
        if let Some(name) = body.get(key).and_then(Value::as_str) {
            // (Any other form of a cache's name is one the gateway does not read: nobody's.)
            let id = name.strip_prefix("cachedContents/").filter(|id| super::path_id(id));
            found.push(Named {
                field: key.into(),
                id: id.map_or_else(String::new, |_| stored("", name)),
            });
        }
    }
    members(body, &mut String::new(), &mut |field, uri| {
        if let Some(id) = google_file(uri, base_url) {
            found.push(Named { field, id });
        }
    });
    found
}

/// Visits an object's members, `at` its path, calling `seen` with each file URI's field and
/// the URI. The path grows and shrinks in place: nothing is allocated but a URI's field.
fn members(map: &Map<String, Value>, at: &mut String, seen: &mut dyn FnMut(String, &str)) {
    for (key, value) in map {
        let before = at.len();
        if before > 0 {
            at.push('.');
        }
        at.push_str(key);
        if let (Value::Object(data), "fileData" | "file_data") = (value, key.as_str()) {
            for name in ["fileUri", "file_uri"] {
                if let Some(uri) = data.get(name).and_then(Value::as_str) {
                    seen(format!("{at}.{name}"), uri);
                }
            }
        }
        walk(value, at, seen);
        at.truncate(before);
    }
}

fn walk(value: &Value, at: &mut String, seen: &mut dyn FnMut(String, &str)) {
    match value {
        Value::Object(map) => members(map, at, seen),
        Value::Array(list) => {
            for (i, item) in list.iter().enumerate() {
                let before = at.len();
                // (Writing to a String cannot fail.)
                let _ = write!(at, "[{i}]");
                walk(item, at, seen);
                at.truncate(before);
            }
        }
        _ => {}
    }
}

/// The Files API id a URI names (`Some("")` for a Files API URL of a form read no other way),
/// None for a URI that names no Files API file.
fn google_file(uri: &str, base_url: &str) -> Option<String> {
    let path = match uri.split_once("://") {
        Some((_, rest)) => {
            let (host, path) = authority(rest);
            let google = host.ends_with(GOOGLE_API_DOMAIN);
            if !google && host != authority(base_url.split_once("://").map_or(base_url, |(_, r)| r)).0 {
                return None;
            }
            // Any path of the API's host may reach a file: only `{version}/files/{id}` is read.
            let mut segments = path.trim_start_matches('/').splitn(3, '/');
            match (segments.next(), segments.next(), segments.next()) {
                (Some(_version), Some("files"), Some(id)) => id,
                _ if path.contains("files") => "",
                _ => return None,
            }
        }
        // (Read as loosely as Google might: any other text naming files is nobody's file.)
        None => match uri.trim().strip_prefix("files/") {
            Some(id) => id,
            None if uri.to_ascii_lowercase().contains("files/") => "",
            None => return None,
        },
    };
    // (An id as the Files API writes them; the upload's record is under the same.)
    let id = (1..=256).contains(&path.len()) && path.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b));
    Some(if id { path.to_string() } else { String::new() })
}

/// What follows a URL's scheme, as its host (lowercased, without user info, port or a trailing
/// dot; an IPv6 address without its brackets) and the rest (its path, query and fragment).
fn authority(rest: &str) -> (String, &str) {
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, path) = rest.split_at(end);
    let authority = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let host = match authority.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or_default(),
        None => authority.split(':').next().unwrap_or_default(),
    };
    (host.trim_end_matches('.').to_ascii_lowercase(), path)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn fields(found: Vec<Named>) -> Vec<(String, String)> {
        found.into_iter().map(|f| (f.field, f.id)).collect()
    }

    fn object(v: Value) -> Map<String, Value> {
        v.as_object().cloned().unwrap_or_default()
    }

    #[test]
    fn openai_names_the_files_a_chat_and_a_response_read() {
        let chat = object(json!({"messages": [
            {"role": "system", "content": "Read it"},
            {"role": "user", "content": [{"type": "text", "text": "file_id"}, {"type": "file", "file": {"file_id": "file-a"}}]},
        ], "metadata": {"file_id": "not-a-file"}}));
        assert_eq!(
            fields(openai(Operation::Chat, &chat)),
            [("messages[1].content[1].file.file_id".to_string(), "file-a".to_string())]
        );
        let response = object(json!({
            "input": [
                {"role": "user", "content": [{"type": "input_text", "text": "x"}, {"type": "input_image", "file_id": "file-b"}]},
                {"type": "input_file", "file_id": "file-c"},
            ],
            "prompt": {"id": "pmpt_1", "variables": {"doc": {"type": "input_file", "file_id": "file-d"}, "name": "x"}},
            "tools": [{"type": "code_interpreter", "container": {"type": "auto", "file_ids": ["file-e"]}}],
        }));
        assert_eq!(
            fields(openai(Operation::Responses, &response)),
            [
                ("input[0].content[1].file_id", "file-b"),
                ("input[1].file_id", "file-c"),
                ("prompt.variables.doc.file_id", "file-d"),
                ("tools[0].container.file_ids[0]", "file-e"),
            ]
            .map(|(f, i)| (f.to_string(), i.to_string()))
        );
        assert!(openai(Operation::Embeddings, &chat).is_empty());
    }

    #[test]
    fn google_names_files_api_files_by_either_spelling_at_its_host_or_the_upstreams() {
        let body = object(json!({
            "contents": [{"role": "user", "parts": [
                {"text": "fileData"},
                {"fileData": {"mimeType": "application/pdf", "fileUri": "https://generativelanguage.googleapis.com/v1beta/files/abc"}},
                {"file_data": {"file_uri": "files/def"}},
                {"fileData": {"fileUri": "http://127.0.0.1:9/v1beta/files/ghi"}},
                {"fileData": {"fileUri": "https://www.youtube.com/watch?v=x"}},
                {"fileData": {"fileUri": "https://GENERATIVELANGUAGE.googleapis.com/v1beta/files/jkl?alt=media"}},
            ]}],
            "systemInstruction": {"parts": [{"fileData": {"fileUri": "files/mno", "file_uri": "files/pqr"}}]},
        }));
        assert_eq!(
            fields(gemini(&body, "http://127.0.0.1:9")),
            [
                ("contents[0].parts[1].fileData.fileUri", "abc"),
                ("contents[0].parts[2].file_data.file_uri", "def"),
                ("contents[0].parts[3].fileData.fileUri", "ghi"),
                // A form the gateway does not read as Google would: named, with no id.
                ("contents[0].parts[5].fileData.fileUri", ""),
                ("systemInstruction.parts[0].fileData.fileUri", "mno"),
                ("systemInstruction.parts[0].fileData.file_uri", "pqr"),
            ]
            .map(|(f, i)| (f.to_string(), i.to_string()))
        );
        // Another host's URL is not the upstream's file.
        assert!(gemini(&body, "https://example.com").iter().all(|f| f.id != "ghi"));
        // An IPv6 upstream's files are read at its address, brackets and port aside.
        let v6 =
            object(json!({"contents": [{"parts": [{"fileData": {"fileUri": "http://[::1]:9/v1beta/files/x1"}}]}]}));
        assert_eq!(fields(gemini(&v6, "http://[::1]:8080"))[0].1, "x1");
    }
}
