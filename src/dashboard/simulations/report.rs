//! A finished simulation's report as a page's sections: the fidelity, the decisions that
//! change, the cohort's totals under the baseline and the candidate, per group a histogram of
//! the users' peak share under each, and the most affected users linked to their pages.
//! Shares are the report's millionths, shown as percentages; it reads nothing.

use maud::{html, Markup};

use crate::dashboard::parts::chart::{share_bucket, share_histogram, SHARE_BUCKETS};
use crate::dashboard::parts::links::user_link;
use crate::dashboard::parts::shown::Shown;
use crate::quota::replay::{Percentiles, Report, Scenario, Totals, UserRow, THRESHOLDS};
use crate::quota::{Milli, SignedAmount};

/// Users the most affected table lists.
pub(crate) const AFFECTED: usize = 20;

/// A share in millionths as a percentage.
fn percent(ppm: u64) -> String {
    format!("{:.1} %", ppm as f64 / 10_000.0)
}

/// A difference of milli-unit amounts with its sign, `+` included.
fn signed(difference: SignedAmount) -> String {
    if difference.0 > 0 {
        format!("+{difference}")
    } else {
        difference.to_string()
    }
}

/// The difference of two counts, with its sign.
fn count_difference(candidate: u64, baseline: u64) -> String {
    let difference = candidate as i64 - baseline as i64;
    if difference > 0 {
        format!("+{difference}")
    } else {
        difference.to_string()
    }
}

/// Users of `rows` per bucket of `SHARE_BUCKETS` by their peak share of `group` (0 when they
/// never used it, as the report's percentiles count them), under one plan.
fn histogram(rows: &[UserRow], group: &str, pick: fn(&UserRow) -> &Scenario) -> Vec<u64> {
    let mut counts = vec![0; SHARE_BUCKETS.len()];
    for row in rows {
        counts[share_bucket(pick(row).peak_ppm.get(group).copied().unwrap_or(0))] += 1;
    }
    counts
}

/// The report's sections.
pub(crate) fn report(report: &Report) -> Markup {
    let a = &report.aggregate;
    html! {
        h2 { "Fidelity" }
        p.fidelity {
            "Fidelity " strong { (format!("{:.1} %", a.fidelity() * 100.0)) } ": the share of recorded decisions ("
            (a.reproduced) " of " (a.recorded) ") the replay of the current plans reproduced."
        }
        p.muted { (a.users) " users with a plan, " (a.entries) " ledger entries replayed." }
        h2 { "Decisions that change" }
        table.report {
            thead { tr { th { "Under the candidate" } th.num { "Decisions" } th.num { "Users" } } }
            tbody {
                tr { td { "Newly denied" } td.num { (a.newly_denied) } td.num { (a.newly_denied_users) } }
                tr { td { "Newly admitted" } td.num { (a.newly_admitted) } td.num { (a.newly_admitted_users) } }
            }
        }
        h2 { "Baseline and candidate" }
        (totals(&a.baseline, &a.candidate))
        h2 { "Peak share per group" }
        p.muted { "Users by the highest share of the group's quota they reached: the current plans (light) and the candidate side by side. A user who never used the group counts at 0 %." }
        @for (group, (baseline, candidate)) in &a.peaks {
            h3 { code { (Shown(group)) } }
            (share_histogram(
                group,
                &histogram(&report.users, group, |r| &r.baseline),
                &histogram(&report.users, group, |r| &r.candidate),
            ))
            p.muted { (percentiles(baseline, candidate)) }
        }
        @if a.peaks.is_empty() { p.muted { "No user's demand reached a group with a quota." } }
        (affected(&report.users))
    }
}

/// The cohort's totals, one row per measure: baseline, candidate, difference.
fn totals(b: &Totals, c: &Totals) -> Markup {
    let crossed = |t: &Totals, threshold: u16| t.crossed.get(&threshold).copied().unwrap_or(0);
    let money = |x: u64| Milli(x).to_string();
    let money_difference = |c: u64, b: u64| signed(SignedAmount(c as i64 - b as i64));
    let mut rows: Vec<(String, String, String, String)> = vec![
        (
            "Admitted".into(),
            b.admitted.to_string(),
            c.admitted.to_string(),
            count_difference(c.admitted, b.admitted),
        ),
        (
            "Denied".into(),
            b.denied.to_string(),
            c.denied.to_string(),
            count_difference(c.denied, b.denied),
        ),
        (
            "Recorded denials admitted (counted at their requested quantity: an estimate)".into(),
            b.estimated.to_string(),
            c.estimated.to_string(),
            count_difference(c.estimated, b.estimated),
        ),
    ];
    for threshold in THRESHOLDS {
        let (bn, cn) = (crossed(b, threshold), crossed(c, threshold));
        let label = format!("Users crossing {threshold} % of a quota");
        rows.push((label, bn.to_string(), cn.to_string(), count_difference(cn, bn)));
    }
    rows.push((
        "Credits burned".into(),
        money(b.credits),
        money(c.credits),
        money_difference(c.credits, b.credits),
    ));
    rows.push((
        "Cents counted".into(),
        money(b.cents),
        money(c.cents),
        money_difference(c.cents, b.cents),
    ));
    html! {
        table.report {
            thead { tr { th { span.sr { "Measure" } } th.num { "Baseline (current plans)" } th.num { "Candidate" } th.num { "Difference" } } }
            tbody {
                @for (label, baseline, candidate, difference) in rows {
                    tr { td { (label) } td.num { (baseline) } td.num { (candidate) } td.num { (difference) } }
                }
            }
        }
    }
}

fn percentiles(b: &Percentiles, c: &Percentiles) -> Markup {
    let pairs = [
        ("p50", b.p50, c.p50),
        ("p90", b.p90, c.p90),
        ("p99", b.p99, c.p99),
        ("max", b.max, c.max),
    ];
    html! {
        @for (i, (name, b, c)) in pairs.into_iter().enumerate() {
            @if i > 0 { " · " }
            (name) " " (percent(b)) " → " (percent(c))
        }
    }
}

/// The first `AFFECTED` rows (the report keeps them most affected first), each user linked.
fn affected(rows: &[UserRow]) -> Markup {
    html! {
        h2 { "Most affected users" }
        p.muted {
            @if rows.len() > AFFECTED { "The first " (AFFECTED) " of " (rows.len()) " users" } @else { "All " (rows.len()) " users" }
            ", most newly denied first, then most newly admitted. Peak share: the user's highest share of a group's quota."
        }
        table.report {
            thead { tr { th { "User" } th.num { "Newly denied" } th.num { "Newly admitted" } th.num { "Peak share, baseline → candidate" } } }
            tbody {
                @for row in rows.iter().take(AFFECTED) {
                    tr {
                        td { (user_link(&row.user)) }
                        td.num { (row.newly_denied) }
                        td.num { (row.newly_admitted) }
                        td.num { (percent(row.baseline.top_ppm())) " → " (percent(row.candidate.top_ppm())) }
                    }
                }
                @if rows.is_empty() { tr { td colspan="4" .muted { "No user of the cohort is on a plan." } } }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn peak_shares_fall_in_tenths_and_over_the_quota_in_the_last_bucket() {
        let buckets: Vec<usize> = [
            0,
            99_999,
            100_000,
            333_333,
            899_999,
            900_000,
            1_000_000,
            1_000_001,
            u64::MAX,
        ]
        .into_iter()
        .map(share_bucket)
        .collect();
        assert_eq!(buckets, [0, 0, 1, 3, 8, 9, 9, 10, 10]);
    }

    #[test]
    fn differences_carry_their_sign() {
        assert_eq!(count_difference(7, 5), "+2");
        assert_eq!(count_difference(5, 7), "-2");
        assert_eq!(count_difference(5, 5), "0");
        assert_eq!(signed(SignedAmount(-12_500)), "-12.5");
        assert_eq!(percent(333_333), "33.3 %");
    }
}
