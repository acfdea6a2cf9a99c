//! `RateLimit-Policy` and `RateLimit` (draft-ietf-httpapi-ratelimit-headers-10) from counters,
//! and `Retry-After` on denials; and what a request's `Accept` asks for.

use actix_web::http::header::{HeaderName, HeaderValue, ACCEPT, RETRY_AFTER};
use actix_web::{HttpRequest, HttpResponseBuilder};

use crate::quota::{Counter, Denial};

// Names given as constants: a name given as text is parsed, lower-cased and copied on every
// answer, and these two are on every data-plane answer.
const RATE_LIMIT_POLICY: HeaderName = HeaderName::from_static("ratelimit-policy");
const RATE_LIMIT: HeaderName = HeaderName::from_static("ratelimit");

/// Whether the request's `Accept` names `media` (routes that answer CSV or NDJSON beside JSON).
pub(crate) fn accepts(req: &HttpRequest, media: &str) -> bool {
    req.headers()
        .get(ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains(media))
}

/// One policy and one limit item per counter: quota and remaining in whole units rounded down,
/// the window and the time to reset in seconds; lifetime and in-flight counters have neither.
/// Names are structured-field strings: group ids are `[A-Za-z0-9_.-]`, so quoting is all they
/// need.
/// A parent's counters are named by their level (`up1.<group>`, `up2.<group>`): subject ids
/// may hold what a structured-field string cannot.
pub(crate) fn rate_limit(response: &mut HttpResponseBuilder, counters: &[Counter], now_ms: i64) {
    // A balance is not a quota per window: balance groups have no item.
    if counters.iter().all(|c| c.credit.is_some()) {
        return;
    }
    // Both values are written into one buffer each, without `format!`'s machinery: they are
    // on every data-plane answer.
    let mut policies = String::with_capacity(48 * counters.len());
    let mut limits = String::with_capacity(48 * counters.len());
    let (mut level, mut subject) = (0, None);
    for c in counters {
        if c.subject.as_ref() != subject {
            level += 1;
            subject = c.subject.as_ref();
        }
        if c.credit.is_some() {
            continue;
        }
        if !policies.is_empty() {
            policies.push_str(", ");
            limits.push_str(", ");
        }
        for header in [&mut policies, &mut limits] {
            header.push('"');
            if c.subject.is_some() {
                header.push_str("up");
                header.push_str(itoa::Buffer::new().format(level));
                header.push('.');
            }
            header.push_str(&c.group_id);
            header.push('"');
        }
        let mut number = itoa::Buffer::new();
        policies.push_str(";q=");
        policies.push_str(number.format(c.quota.whole_units()));
        limits.push_str(";r=");
        limits.push_str(number.format(c.remaining().whole_units()));
        if let (Some(start), Some(end)) = (c.period_start_ms, c.resets_at_ms) {
            policies.push_str(";w=");
            // A rolling window's policy is its length; its reset, when all it counts is out.
            policies.push_str(number.format(c.rolling_ms.unwrap_or(end - start) / 1000));
            limits.push_str(";t=");
            limits.push_str(number.format(seconds_until(end, now_ms)));
        }
    }
    for (name, value) in [(RATE_LIMIT_POLICY, policies), (RATE_LIMIT, limits)] {
        if let Ok(value) = HeaderValue::try_from(value) {
            response.insert_header((name, value));
        }
    }
}

/// Seconds, rounded up, until the earliest reset of a denying group; nothing when none resets
/// (a balance never does: credits come back by a grant, not by time).
pub(crate) fn retry_after(response: &mut HttpResponseBuilder, counters: &[Counter], denied_by: &[Denial], now_ms: i64) {
    if let Some(seconds) = retry_after_seconds(counters, denied_by, now_ms) {
        response.insert_header((RETRY_AFTER, seconds));
    }
}

/// What `Retry-After` says: seconds until the earliest reset of a denying group, or until a
/// denial says room comes back (capacity leased to members' slices), if any.
pub(crate) fn retry_after_seconds(counters: &[Counter], denied_by: &[Denial], now_ms: i64) -> Option<i64> {
    let resets = counters
        .iter()
        .filter(|c| c.credit.is_none())
        .filter(|c| {
            denied_by
                .iter()
                .any(|d| d.group.as_deref() == Some(c.group_id.as_str()) && d.subject == c.subject)
        })
        .filter_map(|c| c.resets_at_ms);
    let back = denied_by.iter().filter_map(|d| d.retry_at_ms);
    resets.chain(back).min().map(|at| seconds_until(at, now_ms))
}

fn seconds_until(at_ms: i64, now_ms: i64) -> i64 {
    // i64::div_ceil is unstable; the difference is never negative here.
    ((at_ms - now_ms).max(0) + 999) / 1000
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::quota::{Milli, Mode, Reason, Unit};
    use actix_web::HttpResponse;

    fn counter(id: &str, quota: u64, used: u64, window: Option<(i64, i64)>) -> Counter {
        Counter {
            subject: None,
            group_id: id.into(),
            label: id.into(),
            unit: Unit::Count,
            mode: Mode::Hard,
            quota: Milli::from_units(quota),
            used: Milli(used),
            reserved: Milli::ZERO,
            leased: Milli::ZERO,
            period_start_ms: window.map(|w| w.0),
            resets_at_ms: window.map(|w| w.1),
            credit: None,
            value: None,
            outcomes: Default::default(),
            rolling_ms: None,
            fallback_used: Milli::ZERO,
        }
    }

    #[test]
    fn one_policy_per_counter_and_no_window_for_lifetime() {
        let counters = [
            counter("minute", 60, 1_500, Some((0, 60_000))),
            counter("life", 2, 0, None),
        ];
        let mut response = HttpResponse::Ok();
        rate_limit(&mut response, &counters, 30_500);
        let denied = |group: &str| Denial {
            subject: None,
            group: Some(group.into()),
            reason: Reason::LimitReached,
            approval_id: None,
            model: None,
            retry_at_ms: None,
            asked: None,
        };
        retry_after(&mut response, &counters, &[denied("minute"), denied("life")], 30_500);
        let response = response.finish();
        let header = |name: &str| response.headers().get(name).unwrap().to_str().unwrap().to_string();
        assert_eq!(header("RateLimit-Policy"), "\"minute\";q=60;w=60, \"life\";q=2");
        assert_eq!(header("RateLimit"), "\"minute\";r=58;t=30, \"life\";r=2");
        assert_eq!(header("Retry-After"), "30");
    }

    #[test]
    fn a_parents_counters_are_named_by_level_and_deny_by_subject() {
        let mut pool = counter("minute", 10, 10_000, Some((0, 10_000)));
        pool.subject = Some("team \"a\"".into());
        let counters = [counter("minute", 60, 0, Some((0, 60_000))), pool];
        let mut response = HttpResponse::Ok();
        rate_limit(&mut response, &counters, 0);
        let denial = Denial {
            subject: Some("team \"a\"".into()),
            group: Some("minute".into()),
            reason: Reason::LimitReached,
            approval_id: None,
            model: None,
            retry_at_ms: None,
            asked: None,
        };
        retry_after(&mut response, &counters, &[denial], 0);
        let response = response.finish();
        let header = |name: &str| response.headers().get(name).unwrap().to_str().unwrap().to_string();
        assert_eq!(
            header("RateLimit-Policy"),
            "\"minute\";q=60;w=60, \"up1.minute\";q=10;w=10"
        );
        // The pool's window denied, not the member's.
        assert_eq!(header("Retry-After"), "10");
    }

    #[test]
    fn capacity_leased_to_members_says_when_their_slices_end_when_that_is_sooner() {
        let counters = [counter("month", 100, 90_000, Some((0, 2_592_000_000)))];
        let leased = Denial {
            subject: None,
            group: Some("month".into()),
            reason: Reason::ParentCapacityLeased,
            approval_id: None,
            model: None,
            retry_at_ms: Some(12_500),
            asked: None,
        };
        assert_eq!(
            retry_after_seconds(&counters, std::slice::from_ref(&leased), 2_000),
            Some(11)
        );
        // A period that resets sooner still says its reset.
        let soon = [counter("month", 100, 90_000, Some((0, 5_000)))];
        assert_eq!(retry_after_seconds(&soon, &[leased], 2_000), Some(3));
    }
}
