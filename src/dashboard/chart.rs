//! Charts drawn on the server as SVG: no script, nothing to load.

use maud::{html, Markup};

use crate::api::dto::date;
use crate::quota::UsageDay;

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
