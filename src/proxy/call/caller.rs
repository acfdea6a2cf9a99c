//! Who pays for a proxied call, once known (`identify.rs` resolves it), and the headers that
//! say it: the gateway's own, never forwarded upstream.

use serde_json::{Map, Value};

use crate::quota::event::FitAsk;
use crate::quota::{Step, UserId};

pub(crate) const USER: &str = "x-quota-user";
pub(crate) const METADATA: &str = "x-quota-metadata";
pub(crate) const RUN: &str = "x-quota-run";
pub(crate) const ACTION: &str = "x-quota-action";
pub(crate) const KIND: &str = "x-quota-kind";
pub(crate) const FIT: &str = "x-quota-fit";
pub(crate) const MIN_FIT: &str = "x-quota-min-fit";

/// Metadata names the proxy writes itself; a caller's metadata may not use them.
pub(crate) const RESERVED: [&str; 27] = [
    "model",
    "calls",
    "upstream",
    "operation",
    "stream",
    "input_tokens",
    "output_tokens",
    "cached_input_tokens",
    "cache_write_tokens",
    "reasoning_tokens",
    "images",
    "audio_seconds",
    "input_characters",
    "audio_input_tokens",
    "audio_output_tokens",
    "video_seconds",
    "batch",
    "job_id",
    "job_kind",
    "usage",
    "provider_status",
    "provider_request_id",
    "duration_ms",
    "fallback_of",
    "attempt",
    "target",
    "fallback_reason",
];

/// The caller, resolved.
pub(crate) struct Caller {
    pub project: String,
    pub user: UserId,
    /// The key that made the call, for the ledger.
    pub key_id: String,
    pub metadata: Map<String, Value>,
    pub step: Option<Step>,
    /// `X-Quota-Fit` and `X-Quota-Min-Fit`, as a reserve's `fit` and `minFit`.
    pub fit: FitAsk,
}
