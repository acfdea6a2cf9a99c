//! The last phase: ending a proxied call's hold. Commit what the provider reported (every count
//! in the metadata, beside its status, request id and the call's duration), or the hold itself
//! marked `estimated` when it reported nothing, or release when the provider never took the
//! call. Every failure is settled here: no answer (`Failure`), a refusal (`Refusal`), an
//! answer that broke off. While the call runs, its hold is kept alive.

use std::time::Duration;

use serde_json::{Map, Value};

use actix_web::HttpResponse;

use super::answer::{self, Fault};
use super::call::context::Ctx;
use super::call::hold::{Hold, KeepAlive};
use super::call::outcome::{Answered, Failure, Refusal, StreamEnd, Streamed};
use super::call::usage::{self, Usage};
use super::call::wire::{Final, Wire};
use super::call::Operation;
use super::door::Door;
use super::{fallback, retry, trace};
use crate::gateway::{Commit, GatewayError, Settlement};
use crate::metrics::Metrics;
use crate::quota::Milli;

/// A commit the backend did not answer is tried again after this long, doubling up to the longest.
const COMMIT_FIRST_BACKOFF_MS: u64 = 100;
const COMMIT_LONGEST_BACKOFF_MS: u64 = 2_000;

/// What a commit sends, kept for its retries.
struct Pending {
    quantity: Milli,
    metadata: Map<String, Value>,
    estimated: bool,
    priced_as: Option<String>,
}

/// One commit waiting for Redis, counted in the node's gauge while it lives.
struct Waiting<'a>(&'a Metrics);

impl<'a> Waiting<'a> {
    fn start(metrics: &'a Metrics) -> Waiting<'a> {
        metrics.commits_waiting(1);
        Waiting(metrics)
    }
}

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.0.commits_waiting(-1);
    }
}

impl Hold {
    /// Commits `reported` (counts it left out are what the gateway measured, else 0 when it
    /// reported its bill, the hold's when it did not, and then the entry says `estimated`).
    pub(crate) async fn commit(&self, reported: Usage, answered: Answered) {
        self.commit_as(reported, answered, None).await;
    }

    /// As `commit`, priced at `model` where the provider says another model than the one held
    /// did the work (an async job's).
    pub(crate) async fn commit_as(&self, reported: Usage, answered: Answered, model: Option<&str>) {
        let (counts, estimated) = usage::settled(self.operation, reported, &self.measured, &self.worst);
        trace::settled(self.trace.as_ref(), &counts, estimated);
        let mut metadata = Map::new();
        counts.write(&mut metadata);
        metadata.insert(
            "usage".into(),
            Value::from(if estimated { "estimated" } else { "reported" }),
        );
        if let Some(status) = answered.status {
            metadata.insert("provider_status".into(), Value::from(status));
        }
        if let Some(id) = answered.request_id.filter(|id| id.len() <= 256) {
            metadata.insert("provider_request_id".into(), Value::from(id));
        }
        metadata.insert(
            "duration_ms".into(),
            Value::from(self.started.elapsed().as_millis() as u64),
        );
        metadata.extend(self.labels.clone());
        let quantity = Milli::from_units(counts.quantity(self.operation));
        let commit = Pending {
            quantity,
            metadata,
            estimated,
            priced_as: model.map(str::to_string),
        };
        // The caller's answer does not wait for a Redis that does not answer: after one
        // failed attempt the commit goes on in the background.
        if let Err(err) = self.commit_once(&commit).await {
            tracing::warn!(%err, reservation = self.id.as_str(), "proxy: commit failed; retrying until Redis answers");
            let hold = self.clone();
            actix_web::rt::spawn(async move { hold.commit_until_answered(commit).await });
        }
    }

    /// One attempt of `commit`; Err when Redis did not answer now but may soon.
    async fn commit_once(&self, commit: &Pending) -> Result<(), GatewayError> {
        let answer = self
            .gateway
            .data()
            .commit(
                &self.project,
                &self.id,
                Commit {
                    quantity: Some(commit.quantity),
                    metadata: Some(&commit.metadata),
                    key_id: &self.key_id,
                    priced_as: commit.priced_as.as_deref(),
                    record: self.record.as_deref(),
                    ..Commit::default()
                },
            )
            .await;
        let answer = match answer {
            Ok(answer) => answer,
            Err(err) if err.redis_failed() || matches!(err, GatewayError::Starting | GatewayError::Unsettled(_)) => {
                return Err(err)
            }
            Err(err) => {
                tracing::error!(%err, reservation = self.id.as_str(), "proxy: commit refused; the hold will expire");
                self.count("lost");
                return Ok(());
            }
        };
        match answer {
            Settlement::Settled(settled) => self.count(match (settled.late, commit.estimated) {
                (true, _) => "late",
                (false, true) => "estimated",
                (false, false) => "committed",
            }),
            other => {
                // Ended by someone else (an operator, a repeat's commit): nothing more to do.
                tracing::warn!(
                    reservation = self.id.as_str(),
                    ?other,
                    "proxy: the call's hold had ended before its commit"
                );
                self.count("lost");
            }
        }
        Ok(())
    }

    /// Retries `commit` until Redis answers.
    async fn commit_until_answered(&self, commit: Pending) {
        // The provider has billed the call: its commit is tried until Redis answers, late if
        // the hold expired meanwhile (a late commit counts into the hold's own periods), so
        // no stall or restart of Redis makes a paid call free. The wait is visible in
        // `qg_proxy_commits_waiting`.
        let _waiting = Waiting::start(&self.metrics);
        let mut backoff = Duration::from_millis(COMMIT_FIRST_BACKOFF_MS);
        loop {
            tokio::time::sleep(backoff).await;
            match self.commit_once(&commit).await {
                Ok(()) => return,
                Err(err) => tracing::warn!(%err, reservation = self.id.as_str(), "proxy: commit failed again"),
            }
            backoff = (backoff * 2).min(Duration::from_millis(COMMIT_LONGEST_BACKOFF_MS));
        }
    }

    /// Settles a relayed stream: what it reported when its usage is final, else (a running
    /// total that never reached its end is not what the provider billed) a stream the caller
    /// left with no drain to read it to its usage is charged the output streamed so far (the
    /// input at its hold, unless the provider reported it already), and a stream the provider
    /// broke off the output at its hold. (A running total the provider sent so far,
    /// Anthropic's, counts when it is more.)
    pub(crate) async fn settle_stream(&self, wire: &dyn Wire, streamed: Streamed, answered: Answered) {
        let Streamed {
            end,
            mut seen,
            streamed,
            stopped,
        } = streamed;
        let complete = match wire.final_usage(self.operation) {
            Final::LastEvent => stopped,
            Final::End => end == StreamEnd::Done,
            Final::AnyReport => end == StreamEnd::Done || seen.reported(),
        };
        if !complete {
            let left = end == StreamEnd::Abandoned;
            seen.output_tokens = left.then(|| streamed.max(seen.output_tokens.unwrap_or(0)));
            seen.reasoning_tokens = left.then(|| seen.reasoning_tokens.unwrap_or(0));
        }
        self.commit(seen, answered).await;
    }

    /// Settles an answer passed on as it arrived, with no usage to read in it, at its end
    /// however it ended: committed `estimated`, off the caller's time, at what was measured of
    /// it (`audio`: speech's audio by its length, and the format that counts it; never past
    /// what was held), else at its hold.
    pub(crate) fn settle_passed(mut self, answered: Answered, audio: Option<(u64, &'static dyn Wire)>) {
        if let Some((ms, wire)) = audio {
            let mut audio = wire.delivered_audio(self.operation, ms);
            let most = |count: Option<u64>| count.map(|c| c.min(self.worst.output_tokens.unwrap_or(c)));
            audio.output_tokens = most(audio.output_tokens);
            audio.audio_output_tokens = most(audio.audio_output_tokens);
            self.measured.update(audio);
        }
        actix_web::rt::spawn(async move { self.commit(Usage::default(), answered).await });
    }

    /// Gives the hold back: the provider never took the call.
    pub(crate) async fn release(&self) {
        trace::released(self.trace.as_ref());
        // A job's release names the job, as its commit would.
        let labels = (!self.labels.is_empty()).then_some(&self.labels);
        match self
            .gateway
            .data()
            .release_labelled(&self.project, &self.id, labels)
            .await
        {
            Ok(_) => self.count("released"),
            Err(err) => {
                tracing::warn!(%err, reservation = self.id.as_str(), "proxy: release failed; the hold will expire");
                self.count("lost");
            }
        }
    }

    fn count(&self, outcome: &str) {
        count_call(&self.metrics, &self.upstream, self.operation, outcome);
    }

    /// Counts a failure of the upstream on this call.
    pub(crate) fn upstream_error(&self, kind: &str) {
        self.metrics.count(
            "qg_proxy_upstream_errors_total",
            &[("upstream", &self.upstream), ("kind", kind)],
        );
    }

    /// Extends the hold every half of its time to live, until dropped (the call's end aborts it).
    pub(crate) fn keep_alive(&self) -> KeepAlive {
        let hold = self.clone();
        let task = actix_web::rt::spawn(async move {
            loop {
                tokio::time::sleep(Duration::from_millis((hold.ttl_ms / 2) as u64)).await;
                if let Err(err) = hold.gateway.data().extend(&hold.project, &hold.id, hold.ttl_ms).await {
                    tracing::warn!(%err, reservation = hold.id.as_str(), "proxy: could not extend a running call's hold");
                }
            }
        });
        KeepAlive(task)
    }
}

/// Counts one proxied call's outcome (denied before any hold, or how its hold ended).
pub(crate) fn count_call(metrics: &Metrics, upstream: &str, operation: Operation, outcome: &str) {
    metrics.count(
        "qg_proxy_calls_total",
        &[
            ("upstream", upstream),
            ("operation", operation.as_str()),
            ("outcome", outcome),
        ],
    );
}

impl Door {
    /// Counts one proxied call's outcome (denied before any hold, or how its hold ended).
    pub(crate) fn count_call(&self, upstream: &str, operation: Operation, outcome: &str) {
        count_call(&self.metrics, upstream, operation, outcome);
    }

    /// Settles the call's hold as a failure upstream means: released when the provider never
    /// saw the call, else charged its hold (`estimated`).
    pub(crate) async fn settle_failure(&self, hold: &Hold, failure: &Failure) {
        hold.upstream_error(failure.kind());
        match failure {
            Failure::Unreachable(_) | Failure::Unsent(_) => hold.release().await,
            Failure::Broken(_) | Failure::Timeout => hold.commit(Usage::default(), Answered::nothing()).await,
        }
    }

    /// Settles a refused call: charged its hold where the status says the provider may bill
    /// it, else released; `ends`: no other target follows, so a refusal no retry fixes closes
    /// the caller's action. Answers the provider's refusal as it came.
    pub(crate) async fn settle_refusal(&self, ctx: &Ctx, hold: Hold, refusal: Refusal, ends: bool) -> HttpResponse {
        let Refusal {
            status,
            mut reply,
            answered,
            body,
        } = refusal;
        hold.upstream_error(match status.is_server_error() {
            true => "status_5xx",
            false => "status_4xx",
        });
        match fallback::keeps_hold(status.as_u16()) {
            true => hold.commit(Usage::default(), answered).await,
            false => hold.release().await,
        }
        if ends {
            retry::after_error(&self.gateway, &ctx.caller, status, &body).await;
        }
        reply.body(body)
    }

    /// Settles a whole answer that broke off before its end: charged its hold.
    pub(crate) async fn settle_broken(&self, ctx: &Ctx, hold: Hold, answered: Answered) -> HttpResponse {
        hold.upstream_error("stream_broken");
        hold.commit(Usage::default(), answered).await;
        let message = "the provider's answer broke off; the call was charged its hold";
        answer::error(
            ctx.wire(),
            actix_web::http::StatusCode::BAD_GATEWAY,
            Fault::new("upstream_broken", message),
        )
    }
}
