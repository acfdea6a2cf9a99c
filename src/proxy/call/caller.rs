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

/// Metadata names the proxy writes itself, besides the usage counts' (`usage::NAMES`).
const OWN: [&str; 16] = [
    "model",
    "calls",
    "upstream",
    "operation",
    "stream",
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

/// Whether a caller's metadata name is one the proxy writes itself, which it may not use.
pub(crate) fn reserved(name: &str) -> bool {
    OWN.contains(&name) || super::usage::NAMES.contains(&name)
}

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
