//! What a provider's job object says, kind by kind: its id, whether it ended and how, where its
//! usage is, and the files it made. OpenAI's batch (`status`; `usage`, else its output file's
//! lines), Anthropic's message batch (`processing_status`; its results' lines) and OpenAI's
//! video (`status`; its `seconds`).

use serde_json::{Map, Value};

use crate::gateway::MAX_LIFETIME_MS;
use crate::proxy::call::context::Ctx;
use crate::proxy::call::usage::Usage;
use crate::proxy::call::{Call, Operation};
use crate::quota::JobKind;

/// Where an ended job's usage is read from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Bill {
    /// The job object says it.
    Reported(Usage),
    /// The sum of the per-request usage in a file of results (`v1/files/{id}/content`), by the
    /// operation its lines answered.
    OutputFile(String),
    /// The sum of a message batch's results.
    Results,
    /// It cost nothing (it failed before any work): its hold is released.
    Nothing,
}

/// A job as its object says it is.
#[derive(Debug, Clone, PartialEq, Eq)]
#[allow(clippy::large_enum_variant)] // one a read, never stored
pub(crate) enum Seen {
    Open,
    Ended { status: String, bill: Bill },
}

/// The provider's id of a job object it answered, when it is one the gateway can key by: its
/// `id`, or a Gemini batch's `name` (`batches/{id}`).
pub(crate) fn id(object: &Value) -> Option<&str> {
    let named = || object.get("name")?.as_str()?.strip_prefix("batches/");
    object.get("id").and_then(Value::as_str).or_else(named).filter(|id| {
        !id.is_empty() && id.len() <= 256 && id.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
    })
}

/// A Gemini file's id, from its name (`files/{id}`), when it is one the gateway can key by.
pub(crate) fn file_id(name: &str) -> Option<&str> {
    name.strip_prefix("files/").filter(|id| {
        !id.is_empty() && id.len() <= 256 && id.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
    })
}

/// Files a batch object names (its output and error files), for their owner's reads.
pub(crate) fn files(kind: JobKind, object: &Value) -> Vec<String> {
    match kind {
        JobKind::Batch => ["output_file_id", "error_file_id"]
            .iter()
            .filter_map(|f| object.get(*f).and_then(Value::as_str))
            .filter(|id| !id.is_empty())
            .map(str::to_string)
            .collect(),
        // Its results file, where its requests were a file's.
        JobKind::GeminiBatch => results_file(object).into_iter().map(str::to_string).collect(),
        _ => Vec::new(),
    }
}

/// A Gemini batch's results file's id (`output.responsesFile`, `files/{id}`), if it has one.
fn results_file(object: &Value) -> Option<&str> {
    let batch = object.get("metadata").unwrap_or(object);
    file_id(batch.pointer("/output/responsesFile")?.as_str()?)
}

/// Whether the job ended, and what it cost.
pub(crate) fn seen(kind: JobKind, object: &Value, usage_of: impl Fn(&Value) -> Usage) -> Seen {
    let text = |f: &str| object.get(f).and_then(Value::as_str).unwrap_or("");
    match kind {
        JobKind::Batch => {
            let status = text("status");
            if !matches!(status, "completed" | "failed" | "expired" | "cancelled") {
                return Seen::Open;
            }
            let reported = object.get("usage").filter(|u| u.is_object()).map(|_| usage_of(object));
            let bill = match (reported, object.get("output_file_id").and_then(Value::as_str)) {
                (Some(usage), _) if usage.reported() => Bill::Reported(usage),
                (_, Some(file)) if !file.is_empty() => Bill::OutputFile(file.to_string()),
                // Nothing answered: nothing billed (a batch that failed validation).
                _ => Bill::Reported(zero()),
            };
            Seen::Ended {
                status: status.to_string(),
                bill,
            }
        }
        JobKind::MessageBatch => match text("processing_status") {
            "ended" => Seen::Ended {
                status: "ended".into(),
                bill: Bill::Results,
            },
            _ => Seen::Open,
        },
        JobKind::GeminiBatch => gemini_batch(object, usage_of),
        // Never read from the provider: its session settles it.
        JobKind::RealtimeResponse | JobKind::RealtimeMinute | JobKind::RealtimeSession => Seen::Open,
        JobKind::Video => match text("status") {
            "completed" => Seen::Ended {
                status: "completed".into(),
                bill: match seconds(object.get("seconds")) {
                    Some(seconds) => Bill::Reported(Usage {
                        video_seconds: Some(seconds),
                        ..Usage::default()
                    }),
                    // Done, its length unsaid: the hold, estimated.
                    None => Bill::Reported(Usage::default()),
                },
            },
            "failed" => Seen::Ended {
                status: "failed".into(),
                bill: Bill::Nothing,
            },
            _ => Seen::Open,
        },
    }
}

/// A Gemini batch, as its operation says: ended in a final state, billed the sum of its
/// responses' usage (each as `generateContent` reports it; a request that failed, none),
/// inlined in it or in its results file.
fn gemini_batch(object: &Value, usage_of: impl Fn(&Value) -> Usage) -> Seen {
    let batch = object.get("metadata").unwrap_or(object);
    let state = batch.get("state").and_then(Value::as_str).unwrap_or("");
    if !matches!(
        state,
        "BATCH_STATE_SUCCEEDED" | "BATCH_STATE_FAILED" | "BATCH_STATE_CANCELLED" | "BATCH_STATE_EXPIRED"
    ) {
        return Seen::Open;
    }
    let responses = batch
        .pointer("/output/inlinedResponses/inlinedResponses")
        .and_then(Value::as_array);
    let bill = match (responses, results_file(object)) {
        (Some(responses), _) => {
            let each = responses.iter().filter_map(|r| r.get("response"));
            Bill::Reported(each.fold(zero(), |sum, r| sum.plus(&usage_of(r))))
        }
        // A file's requests: their responses' usage, a line each, in the results file.
        (None, Some(file)) => Bill::OutputFile(file.to_string()),
        // No response: no work billed (a batch that failed, or was cancelled, before any).
        (None, None) => Bill::Nothing,
    };
    Seen::Ended {
        status: state.to_string(),
        bill,
    }
}

/// What the provider says it made, as a commit's metadata carries it: a video's `model` and
/// `size` (its seconds are its bill). A job of another kind: nothing.
pub(crate) fn made(kind: JobKind, object: &Value) -> Map<String, Value> {
    let mut made = Map::new();
    if kind == JobKind::Video {
        for field in ["model", "size"] {
            if let Some(text) = object
                .get(field)
                .and_then(Value::as_str)
                .filter(|t| !t.is_empty() && t.len() <= 256)
            {
                made.insert(field.into(), Value::from(text));
            }
        }
    }
    made
}

/// A usage of no tokens, as reported.
pub(crate) fn zero() -> Usage {
    Usage {
        input_tokens: Some(0),
        output_tokens: Some(0),
        ..Usage::default()
    }
}

/// A video's seconds, written as a number or a string of one ("4").
pub(crate) fn seconds(value: Option<&Value>) -> Option<u64> {
    match value? {
        Value::Number(n) => n
            .as_f64()
            .filter(|s| s.is_finite() && *s >= 0.0)
            .map(|s| s.ceil() as u64),
        Value::String(s) => s
            .trim()
            .parse::<f64>()
            .ok()
            .filter(|s| s.is_finite() && *s >= 0.0)
            .map(|s| s.ceil() as u64),
        _ => None,
    }
}

/// A job object the provider answers is read whole up to this.
pub(crate) const MAX_OBJECT_BYTES: usize = 1 << 20;

/// A job as its submission asks for it: its operation, the model it names, and its worst case.
pub(super) struct Submitted {
    pub operation: Operation,
    pub model: String,
    pub worst: Usage,
}

impl Submitted {
    /// The job's call: held for `ttl_ms` (at most a hold's longest life), its hold's event
    /// carrying `extra` beside the counts.
    pub(super) fn call(self, ctx: &Ctx, extra: Map<String, Value>, ttl_ms: i64) -> Call {
        let Submitted {
            operation,
            model,
            worst,
        } = self;
        Call {
            operation,
            counter: ctx.wire().counter(&model),
            model,
            stream: false,
            caller_wants_usage: false,
            worst: worst.held(operation),
            measured: Usage::default(),
            choices: 1,
            max_field: None,
            extra,
            ttl_ms: Some(ttl_ms.min(MAX_LIFETIME_MS)),
            referenced: None,
            count_after: None,
            named: Vec::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A Gemini batch is known by its operation's name, open until a final state, and billed
    /// the sum of its responses' usage; one ended with no response costs nothing.
    #[test]
    fn a_gemini_batch_is_read_from_its_operation() {
        let usage_of = |r: &Value| Usage {
            input_tokens: r.pointer("/usageMetadata/promptTokenCount").and_then(Value::as_u64),
            output_tokens: Some(1),
            ..Usage::default()
        };
        let running = serde_json::json!({"name": "batches/b-1", "metadata": {"state": "BATCH_STATE_RUNNING"}});
        assert_eq!(id(&running), Some("b-1"));
        assert_eq!(seen(JobKind::GeminiBatch, &running, usage_of), Seen::Open);
        let done = serde_json::json!({"name": "batches/b-1", "done": true, "metadata": {
            "state": "BATCH_STATE_SUCCEEDED", "output": {"inlinedResponses": {"inlinedResponses": [
                {"response": {"usageMetadata": {"promptTokenCount": 5}}},
                {"error": {"code": 400}},
                {"response": {"usageMetadata": {"promptTokenCount": 7}}}]}}}});
        match seen(JobKind::GeminiBatch, &done, usage_of) {
            Seen::Ended {
                status,
                bill: Bill::Reported(u),
            } => {
                assert_eq!(status, "BATCH_STATE_SUCCEEDED");
                assert_eq!((u.input_tokens, u.output_tokens), (Some(12), Some(2)));
            }
            other => panic!("{other:?}"),
        }
        let cancelled = serde_json::json!({"name": "batches/b-2", "metadata": {"state": "BATCH_STATE_CANCELLED"}});
        assert!(matches!(
            seen(JobKind::GeminiBatch, &cancelled, usage_of),
            Seen::Ended {
                bill: Bill::Nothing,
                ..
            }
        ));
    }
    use serde_json::json;

    fn tokens(object: &Value) -> Usage {
        Usage {
            input_tokens: object["usage"]["input_tokens"].as_u64(),
            output_tokens: object["usage"]["output_tokens"].as_u64(),
            ..Usage::default()
        }
    }

    #[test]
    fn a_batch_ends_at_its_terminal_states_billed_by_its_usage_else_its_output_file() {
        let open = json!({"id": "batch_1", "status": "in_progress"});
        assert_eq!(seen(JobKind::Batch, &open, tokens), Seen::Open);
        let done = json!({"status": "completed", "usage": {"input_tokens": 7, "output_tokens": 3}, "output_file_id": "file-o"});
        let Seen::Ended { bill, .. } = seen(JobKind::Batch, &done, tokens) else {
            panic!()
        };
        assert_eq!(
            bill,
            Bill::Reported(Usage {
                input_tokens: Some(7),
                output_tokens: Some(3),
                ..Usage::default()
            })
        );
        let silent = json!({"status": "expired", "output_file_id": "file-o", "error_file_id": "file-e"});
        let Seen::Ended { bill, status } = seen(JobKind::Batch, &silent, tokens) else {
            panic!()
        };
        assert_eq!((bill, status.as_str()), (Bill::OutputFile("file-o".into()), "expired"));
        assert_eq!(
            files(JobKind::Batch, &silent),
            vec!["file-o".to_string(), "file-e".to_string()]
        );
        let failed = json!({"status": "failed", "output_file_id": null});
        let Seen::Ended { bill, .. } = seen(JobKind::Batch, &failed, tokens) else {
            panic!()
        };
        assert_eq!(bill, Bill::Reported(zero()));
    }

    #[test]
    fn a_video_is_billed_its_seconds_when_completed_and_nothing_when_failed() {
        let done = json!({"status": "completed", "seconds": "8"});
        let Seen::Ended { bill, .. } = seen(JobKind::Video, &done, tokens) else {
            panic!()
        };
        assert_eq!(
            bill,
            Bill::Reported(Usage {
                video_seconds: Some(8),
                ..Usage::default()
            })
        );
        let failed = json!({"status": "failed"});
        assert!(matches!(
            seen(JobKind::Video, &failed, tokens),
            Seen::Ended {
                bill: Bill::Nothing,
                ..
            }
        ));
        assert_eq!(seen(JobKind::Video, &json!({"status": "queued"}), tokens), Seen::Open);
        assert_eq!(
            seen(
                JobKind::MessageBatch,
                &json!({"processing_status": "canceling"}),
                tokens
            ),
            Seen::Open
        );
        assert_eq!(id(&json!({"id": "../x"})), None);
        assert_eq!(id(&json!({"id": "msgbatch_01"})), Some("msgbatch_01"));
    }
}
