//! Charts drawn on the server as SVG: no script, nothing to load.

use maud::{html, Markup};

use crate::json::date;
use crate::quota::{Milli, UsageDay};

const WIDTH: f64 = 600.0;
const HEIGHT: f64 = 120.0;

/// Bars of each day's usage (all groups summed, in units), oldest left; labelled with the
/// first and last dates and the highest day.
pub fn daily_chart(days: &[UsageDay]) -> Markup {
    let totals: Vec<f64> = days
        .iter()
        .map(|d| d.groups.iter().map(|(_, a)| a.used_milli.max(0) as f64 / 1000.0).sum())
        .collect();
    let top = totals.iter().copied().fold(0.0, f64::max);
    let step = WIDTH / totals.len().max(1) as f64;
    html! {
        svg.chart viewBox=(format!("0 0 {WIDTH} {}", HEIGHT + 16.0)) width="100%" role="img" aria-label="daily usage" {
            @for (i, total) in totals.iter().enumerate() {
                @let h = if top > 0.0 { total / top * HEIGHT } else { 0.0 };
                rect x=(format!("{:.1}", i as f64 * step + 1.0)) y=(format!("{:.1}", HEIGHT - h))
                    width=(format!("{:.1}", (step - 2.0).max(1.0))) height=(format!("{h:.1}")) {
                    title { (days[i].groups.len()) " groups, " (total) " used on " (date(days[i].day)) }
                }
            }
            @if let (Some(first), Some(last)) = (days.first(), days.last()) {
                text x="0" y=(HEIGHT + 12.0) { (date(first.day)) }
                text x=(WIDTH) y=(HEIGHT + 12.0) text-anchor="end" { (date(last.day)) }
            }
            text x="0" y="10" { "max " (top) }
        }
    }
}

/// Two bars a day, admitted and denied reserves, oldest left.
pub fn decisions_chart(days: &[(i64, (i64, i64))]) -> Markup {
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
pub fn bar(used: Milli, held: Milli, quota: Milli) -> Markup {
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
