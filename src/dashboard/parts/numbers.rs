//! Numbers as an operator reads them: thousands separated, cents as dollars, each amount with
//! its unit, and never a sum across units (a token and a cent are not the same thing); and
//! instants to the minute, with the exact one (to the millisecond) on hover.

use std::collections::BTreeMap;

use maud::{html, Markup};

use crate::json::rfc3339;

use crate::quota::{LimitGroup, Plan};

/// What a group counts in, as a word: its unit, or `credits` for a balance group.
pub(crate) fn measure_of(group: &LimitGroup) -> &'static str {
    if group.balance.is_some() {
        "credits"
    } else {
        group.unit.as_str()
    }
}

/// Group id -> what it counts in, over the project's plans (the first plan that has a group
/// of that id names it).
pub(crate) fn measures(plans: &[Plan]) -> BTreeMap<String, &'static str> {
    let mut out = BTreeMap::new();
    for g in plans.iter().flat_map(|p| p.groups.iter()) {
        out.entry(g.id.clone()).or_insert_with(|| measure_of(g));
    }
    out
}

/// `text` (digits, an optional `-` and `.` part) with its whole part in groups of three.
fn separated(text: &str) -> String {
    let (sign, rest) = text.strip_prefix('-').map_or(("", text), |r| ("-", r));
    let (whole, fraction) = rest.split_once('.').map_or((rest, None), |(w, f)| (w, Some(f)));
    let mut grouped = String::with_capacity(whole.len() + whole.len() / 3);
    for (i, c) in whole.chars().enumerate() {
        if i > 0 && (whole.len() - i) % 3 == 0 {
            grouped.push(',');
        }
        grouped.push(c);
    }
    match fraction {
        Some(f) => format!("{sign}{grouped}.{f}"),
        None => format!("{sign}{grouped}"),
    }
}

/// `value` of `measure` for a person: `$1,503.47` for cents, `6,723 tokens`, `2.5 seconds`.
pub(crate) fn amount(value: f64, measure: &str) -> String {
    if measure == "cents" {
        return format!("${}", separated(&format!("{:.2}", value / 100.0)));
    }
    let mut text = format!("{value:.3}");
    while text.contains('.') && (text.ends_with('0') || text.ends_with('.')) {
        text.pop();
    }
    if text == "-0" {
        text = "0".into();
    }
    format!("{} {measure}", separated(&text))
}

/// An instant as an operator reads it, `2026-11-25 14:03 UTC`, in a `time` element whose
/// title and `datetime` are the exact instant (what the API and the ledger say).
pub(crate) fn when(ms: i64) -> Markup {
    let exact = rfc3339(ms);
    let minute = chrono::DateTime::from_timestamp_millis(ms)
        .map(|at| at.format("%Y-%m-%d %H:%M UTC").to_string())
        .unwrap_or_else(|| exact.clone());
    html! { time datetime=(exact) title=(exact) { (minute) } }
}

/// `when` of an instant that may be missing, or `none` in its place.
pub(crate) fn when_or(ms: Option<i64>, none: &str) -> Markup {
    match ms {
        Some(ms) => when(ms),
        None => html! { (none) },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts_read_as_people_read_them() {
        assert_eq!(amount(150346.95, "cents"), "$1,503.47");
        assert_eq!(amount(6723.0, "tokens"), "6,723 tokens");
        assert_eq!(amount(1234567.5, "count"), "1,234,567.5 count");
        assert_eq!(amount(2.25, "credits"), "2.25 credits");
        assert_eq!(amount(-0.0, "tokens"), "0 tokens");
        assert_eq!(amount(999.0, "seconds"), "999 seconds");
        assert_eq!(separated("-1000.5"), "-1,000.5");
    }

    #[test]
    fn instants_read_to_the_minute_with_the_exact_one_on_hover() {
        let shown = when(1_764_079_392_345).into_string();
        assert_eq!(
            shown,
            "<time datetime=\"2025-11-25T14:03:12.345Z\" title=\"2025-11-25T14:03:12.345Z\">2025-11-25 14:03 UTC</time>"
        );
        assert_eq!(when_or(None, "never").into_string(), "never");
    }
}
