//! Charts drawn on the server as SVG: no script, nothing to load.

use std::collections::BTreeMap;

use maud::{html, Markup};

use super::numbers::amount;

use crate::json::date;
use crate::quota::{Milli, UsageDay};

const WIDTH: f64 = 600.0;
const HEIGHT: f64 = 120.0;

/// Bars of each day's usage of the groups that count in `measure` (never a sum across
/// measures), oldest left; labelled with the first and last dates and the highest day.
pub(crate) fn daily_chart(days: &[UsageDay], measure: &str, measures: &BTreeMap<String, &'static str>) -> Markup {
    let of_measure = |group: &str| measures.get(group).is_some_and(|m| *m == measure);
    let totals: Vec<f64> = days
        .iter()
        .map(|d| {
            let milli: i64 = d
                .groups
                .iter()
                .filter(|(g, _)| of_measure(g))
                .map(|(_, a)| a.used_milli.max(0))
                .sum();
            milli as f64 / 1000.0
        })
        .collect();
    let top = totals.iter().copied().fold(0.0, f64::max);
    let step = WIDTH / totals.len().max(1) as f64;
    html! {
        svg.chart viewBox=(format!("0 0 {WIDTH} {}", HEIGHT + 16.0)) width="100%" role="img" aria-label=(format!("{measure} used per day")) {
            @for (i, total) in totals.iter().enumerate() {
                @let h = if top > 0.0 { total / top * HEIGHT } else { 0.0 };
                rect x=(format!("{:.1}", i as f64 * step + 1.0)) y=(format!("{:.1}", HEIGHT - h))
                    width=(format!("{:.1}", (step - 2.0).max(1.0))) height=(format!("{h:.1}")) {
                    title { (amount(*total, measure)) " used on " (date(days[i].day)) }
                }
            }
            @if let (Some(first), Some(last)) = (days.first(), days.last()) {
                text x="0" y=(HEIGHT + 12.0) { (date(first.day)) }
                text x=(WIDTH) y=(HEIGHT + 12.0) text-anchor="end" { (date(last.day)) }
            }
            text x="0" y="10" { "max " (amount(top, measure)) }
        }
    }
}

/// Two bars a day, admitted and denied reserves, oldest left.
pub(crate) fn decisions_chart(days: &[(i64, (i64, i64))]) -> Markup {
    let top = days.iter().map(|(_, (a, d))| (*a).max(*d)).max().unwrap_or(0).max(1) as f64;
    let step = WIDTH / days.len().max(1) as f64;
    let bar = (step / 2.0 - 1.0).max(1.0);
    html! {
        svg.chart viewBox=(format!("0 0 {WIDTH} {}", HEIGHT + 16.0)) width="100%" role="img" aria-label="decisions per day" {
            @for (i, (day, (admitted, denied))) in days.iter().enumerate() {
                @let (ha, hd) = (*admitted as f64 / top * HEIGHT, *denied as f64 / top * HEIGHT);
                rect x=(format!("{:.1}", i as f64 * step)) y=(format!("{:.1}", HEIGHT - ha)) width=(format!("{bar:.1}")) height=(format!("{ha:.1}")) {
                    title { (admitted) " admitted on " (date(*day)) }
                }
                rect.denied x=(format!("{:.1}", i as f64 * step + bar + 1.0)) y=(format!("{:.1}", HEIGHT - hd)) width=(format!("{bar:.1}")) height=(format!("{hd:.1}")) {
                    title { (denied) " denied on " (date(*day)) }
                }
            }
            @if let (Some((first, _)), Some((last, _))) = (days.first(), days.last()) {
                text x="0" y=(HEIGHT + 12.0) { (date(*first)) }
                text x=(WIDTH) y=(HEIGHT + 12.0) text-anchor="end" { (date(*last)) }
            }
            text x="0" y="10" { "max " (top) }
        }
    }
}

/// A bar of `used` and `held` against `quota` (full when the quota is 0).
pub(crate) fn bar(used: Milli, held: Milli, quota: Milli) -> Markup {
    let pct = |m: Milli| {
        if quota.0 == 0 {
            100.0
        } else {
            (m.0 as f64 * 100.0 / quota.0 as f64).min(100.0)
        }
    };
    let (u, h) = (pct(used), pct(held));
    // SVG attributes, not inline styles: the Content-Security-Policy allows no inline style.
    html! {
        svg.bar viewBox="0 0 100 10" preserveAspectRatio="none" role="img" aria-label=(format!("{u:.0}% used")) {
            rect.track x="0" y="0" width="100" height="10" {}
            rect.used x="0" y="0" width=(format!("{u:.1}")) height="10" {}
            rect.held x=(format!("{u:.1}")) y="0" width=(format!("{:.1}", h.min(100.0 - u))) height="10" {}
        }
    }
}

/// The buckets of a share histogram: tenths of the quota, then over it.
pub(crate) const SHARE_BUCKETS: [&str; 11] = [
    "0–10", "10–20", "20–30", "30–40", "40–50", "50–60", "60–70", "70–80", "80–90", "90–100", "over 100",
];

/// The bucket of `SHARE_BUCKETS` a share in millionths falls in: a tenth includes its lower
/// bound, the last tenth its upper too (a user at exactly their quota is in 90–100).
pub(crate) fn share_bucket(ppm: u64) -> usize {
    if ppm > 1_000_000 {
        SHARE_BUCKETS.len() - 1
    } else {
        ((ppm / 100_000) as usize).min(SHARE_BUCKETS.len() - 2)
    }
}

/// Users per bucket of `SHARE_BUCKETS`, two bars a bucket: under the baseline (left, light)
/// and under the candidate; labelled with the buckets and the highest count.
pub(crate) fn share_histogram(group: &str, baseline: &[u64], candidate: &[u64]) -> Markup {
    const TOP: f64 = 14.0;
    let top = baseline.iter().chain(candidate).copied().max().unwrap_or(0).max(1) as f64;
    let step = WIDTH / SHARE_BUCKETS.len() as f64;
    let bar = (step / 2.0 - 2.0).max(1.0);
    let label = format!("users by peak share of {group}'s quota, baseline and candidate");
    html! {
        svg.chart.histogram viewBox=(format!("0 0 {WIDTH} {}", TOP + HEIGHT + 16.0)) width="100%" role="img" aria-label=(label) {
            text x="0" y="10" { "max " (top) " users" }
            rect.baseline x=(WIDTH - 150.0) y="2" width="10" height="10" {}
            text x=(WIDTH - 136.0) y="10" { "baseline" }
            rect x=(WIDTH - 70.0) y="2" width="10" height="10" {}
            text x=(WIDTH - 56.0) y="10" { "candidate" }
            @for (i, name) in SHARE_BUCKETS.iter().enumerate() {
                @let x = i as f64 * step + 1.0;
                @for (side, counts, dx) in [("baseline", baseline, 0.0), ("candidate", candidate, bar + 1.0)] {
                    @let n = counts.get(i).copied().unwrap_or(0);
                    @let h = n as f64 / top * HEIGHT;
                    rect class=[(side == "baseline").then_some("baseline")]
                        x=(format!("{:.1}", x + dx)) y=(format!("{:.1}", TOP + HEIGHT - h))
                        width=(format!("{bar:.1}")) height=(format!("{h:.1}")) {
                        title { (n) @if n == 1 { " user" } @else { " users" } " at " (name) " % under the " (side) }
                    }
                }
                text x=(format!("{:.1}", x + bar)) y=(TOP + HEIGHT + 12.0) text-anchor="middle" { (name) }
            }
        }
    }
}
