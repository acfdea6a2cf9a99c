//! When a routed call moves on to its next target: the user's plan denied this one (nothing
//! held, no provider called), or the provider refused or failed it before any byte of an
//! answer reached the caller. An answer the caller has begun to read is the call's, whatever
//! happens to it after. The rules only, no I/O: `mod.rs` runs them.

use serde_json::Value;

use super::call::context::Ctx;
use super::call::outcome::{Failure, Refusal};
use crate::quota::decision::Reason;

/// How an attempt that did not serve the call ended.
pub(crate) enum Ended<'a> {
    /// The user's plan denied it, for these reasons.
    Denied(&'a [Reason]),
    /// The provider gave no answer.
    Failed(&'a Failure),
    /// The provider answered an error status; `context`: it says the request was longer than
    /// the model takes.
    Refused { status: u16, context: bool },
}

/// Whether the call tries its next target, and why (the ledger's `fallback_reason` and the
/// metrics' label).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Next {
    MoveOn(&'static str),
    Stop,
}

/// The rule: a target the plan denies, one the provider could not take now (429, 500, 503,
/// 529, or a context too long for its model), or one that may have taken the call and did not
/// answer it (502, 504, a time-out or a connection broken after it was sent: its hold is kept
/// and committed `estimated`, `keeps_hold`) gives way to the next. A denial of the user rather
/// than of the target (blocked, no plan, a run's or an action's caps spent) and any other
/// refusal of the provider (the request is wrong, or the key) end the call.
pub(crate) fn next(ended: Ended<'_>) -> Next {
    match ended {
        Ended::Denied(reasons) => {
            let of_the_user = reasons.iter().any(|r| {
                matches!(
                    r,
                    Reason::UserBlocked
                        | Reason::NoSubscription
                        | Reason::RunStepsExhausted
                        | Reason::ActionAttemptsExhausted
                        | Reason::FallbackBudgetExhausted
                        | Reason::RunEnded
                        | Reason::RunTooDeep
                )
            });
            match of_the_user {
                true => Next::Stop,
                false => Next::MoveOn("denied"),
            }
        }
        Ended::Failed(Failure::Unreachable(_)) => Next::MoveOn("unreachable"),
        Ended::Failed(Failure::Broken(_)) => Next::MoveOn("broken"),
        Ended::Failed(Failure::Timeout) => Next::MoveOn("timeout"),
        // The caller's own upload broke off: no target would have it whole.
        Ended::Failed(Failure::Unsent(_)) => Next::Stop,
        Ended::Refused { context: true, .. } => Next::MoveOn("context_length"),
        Ended::Refused { status, .. } => match status {
            429 => Next::MoveOn("status_429"),
            500 => Next::MoveOn("status_500"),
            502 => Next::MoveOn("status_502"),
            503 => Next::MoveOn("status_503"),
            504 => Next::MoveOn("status_504"),
            529 => Next::MoveOn("status_529"),
            _ => Next::Stop,
        },
    }
}

/// Whether a provider's error status keeps the call's hold: a 502 or a 504 may come from a
/// server in between after the provider took the call, which it may bill; the hold is then
/// committed `estimated`, as for a time-out. Any other error status is released.
pub(crate) fn keeps_hold(status: u16) -> bool {
    matches!(status, 502 | 504)
}

impl Refusal {
    /// How the attempt ended, as the rules of `fallback.rs` read it.
    pub(crate) fn ended(&self, ctx: &Ctx) -> Ended<'static> {
        let said = serde_json::from_slice::<Value>(&self.body).unwrap_or(Value::Null);
        Ended::Refused {
            status: self.status.as_u16(),
            context: ctx.wire().context_too_long(self.status.as_u16(), &said),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused(status: u16) -> Next {
        next(Ended::Refused { status, context: false })
    }

    #[test]
    fn a_target_the_plan_denies_gives_way_unless_the_user_or_the_caps_are_denied() {
        assert_eq!(next(Ended::Denied(&[Reason::LimitReached])), Next::MoveOn("denied"));
        assert_eq!(
            next(Ended::Denied(&[Reason::UnpricedModel, Reason::InsufficientBalance])),
            Next::MoveOn("denied")
        );
        assert_eq!(
            next(Ended::Denied(&[Reason::RunBudgetExhausted])),
            Next::MoveOn("denied")
        );
        for stop in [
            Reason::UserBlocked,
            Reason::NoSubscription,
            Reason::FallbackBudgetExhausted,
            Reason::ActionAttemptsExhausted,
            Reason::RunStepsExhausted,
            Reason::RunEnded,
        ] {
            assert_eq!(
                next(Ended::Denied(&[Reason::LimitReached, stop])),
                Next::Stop,
                "{stop:?}"
            );
        }
    }

    #[test]
    fn the_providers_refusals_before_an_answer_give_way_and_its_verdicts_on_the_request_do_not() {
        for (status, reason) in [
            (429, "status_429"),
            (500, "status_500"),
            (502, "status_502"),
            (503, "status_503"),
            (504, "status_504"),
            (529, "status_529"),
        ] {
            assert_eq!(refused(status), Next::MoveOn(reason));
        }
        for status in [400, 401, 403, 404, 408, 409, 413, 422, 501] {
            assert_eq!(refused(status), Next::Stop, "{status}");
        }
        assert_eq!(
            next(Ended::Refused {
                status: 400,
                context: true
            }),
            Next::MoveOn("context_length")
        );
    }

    #[test]
    fn no_answer_gives_way_but_a_broken_upload_ends_the_call() {
        assert_eq!(
            next(Ended::Failed(&Failure::Unreachable("refused".into()))),
            Next::MoveOn("unreachable")
        );
        assert_eq!(next(Ended::Failed(&Failure::Timeout)), Next::MoveOn("timeout"));
        assert_eq!(
            next(Ended::Failed(&Failure::Broken("reset".into()))),
            Next::MoveOn("broken")
        );
        assert_eq!(
            next(Ended::Failed(&Failure::Unsent(
                crate::proxy::call::outcome::Cut::default()
            ))),
            Next::Stop
        );
    }

    #[test]
    fn only_a_502_or_a_504_keeps_its_hold() {
        assert!(keeps_hold(502) && keeps_hold(504));
        for status in [400, 429, 500, 503, 529] {
            assert!(!keeps_hold(status), "{status}");
        }
    }
}
