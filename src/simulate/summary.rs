//! The finished simulation as the table `quota-gateway simulate` prints on standard output.
//! It formats only: every number comes from the report as the gateway sent it.

use super::wire::{GroupPeak, Percentiles, Report, Totals, UserRow, UserScenario};
use super::Simulated;

/// The most affected users the summary lists.
const TOP_USERS: usize = 10;

/// The report as a table a person reads: what was tried, how faithfully the recorded decisions
/// were reproduced, both plans' totals, the peaks per group and the most affected users.
pub fn summary(simulated: &Simulated) -> String {
    let r = &simulated.report;
    let mut out = String::new();
    let fidelity = match r.recorded_decisions {
        0 => format!("{} (no recorded decisions)", percent(r.fidelity)),
        n => format!(
            "{} ({} of {} reproduced)",
            percent(r.fidelity),
            r.reproduced_decisions,
            counted(n, "recorded decision")
        ),
    };
    for (name, value) in [
        ("simulation", simulated.id.clone()),
        ("candidate", simulated.candidate_plan_id.clone()),
        ("range", format!("{} to {}", simulated.from, simulated.to)),
        ("fidelity", fidelity),
        ("users", r.users.to_string()),
        ("entries", r.entries.to_string()),
    ] {
        out.push_str(&format!("{name:<16}{value}\n"));
    }
    out.push('\n');
    out.push_str(&totals(r));
    out.push('\n');
    for (name, count) in [("newly denied", &r.newly_denied), ("newly admitted", &r.newly_admitted)] {
        let (decisions, users) = (counted(count.decisions, "decision"), counted(count.users, "user"));
        out.push_str(&format!("{name:<16}{decisions}, {users}\n"));
    }
    if !r.peak_share.is_empty() {
        out.push('\n');
        out.push_str(&peaks(&r.peak_share));
    }
    out.push('\n');
    out.push_str(&most_affected(&r.rows));
    out
}

/// Both plans' totals side by side, with the change from baseline to candidate.
fn totals(r: &Report) -> String {
    let (b, c) = (&r.baseline, &r.candidate);
    let difference = |b: u64, c: u64| change((i128::from(c) - i128::from(b)).to_string());
    let mut rows: Vec<[String; 4]> = [("admitted", b.admitted, c.admitted), ("denied", b.denied, c.denied)]
        .into_iter()
        .chain([("estimated", b.estimated, c.estimated)])
        .map(|(name, b, c)| [name.to_string(), b.to_string(), c.to_string(), difference(b, c)])
        .collect();
    for threshold in ["50", "80", "100"] {
        let crossed = |t: &Totals| t.crossed.get(threshold).copied().unwrap_or(0);
        let (b, c) = (crossed(b), crossed(c));
        rows.push([
            format!("users crossing {threshold} %"),
            b.to_string(),
            c.to_string(),
            difference(b, c),
        ]);
    }
    rows.push([
        "credits burned".into(),
        b.credits.to_string(),
        c.credits.to_string(),
        change(r.credits_difference.to_string()),
    ]);
    rows.push([
        "cents burned".into(),
        b.cents.to_string(),
        c.cents.to_string(),
        change(r.cents_difference.to_string()),
    ]);
    let mut out = format!("{:<22}{:>12}{:>12}{:>12}\n", "", "baseline", "candidate", "change");
    for [name, b, c, d] in rows {
        out.push_str(&format!("{name:<22}{b:>12}{c:>12}{d:>12}\n"));
    }
    out
}

/// Per group, where the users' peak shares stand under each plan.
fn peaks(groups: &[GroupPeak]) -> String {
    let width = groups
        .iter()
        .map(|g| g.group_id.chars().count())
        .max()
        .unwrap_or(0)
        .max(10)
        + 2;
    let cells = |p: &Percentiles| {
        [p.p50, p.p90, p.p99, p.max]
            .map(|s| format!("{:>8}", percent(s)))
            .concat()
    };
    let mut out = format!("{:<width$}{:>32}  {:>32}\n", "peak share", "baseline", "candidate");
    let heads = ["p50", "p90", "p99", "max"].map(|h| format!("{h:>8}")).concat();
    out.push_str(&format!("{:<width$}{heads}  {heads}\n", "group"));
    for group in groups {
        let (b, c) = (cells(&group.baseline), cells(&group.candidate));
        out.push_str(&format!("{:<width$}{b}  {c}\n", group.group_id));
    }
    out
}

/// The users whose decisions change most (the gateway sends them first), at most `TOP_USERS`.
fn most_affected(rows: &[UserRow]) -> String {
    let changed: Vec<&UserRow> = rows.iter().filter(|r| r.newly_denied + r.newly_admitted > 0).collect();
    if changed.is_empty() {
        return "no user's decisions change\n".to_string();
    }
    let shown = &changed[..changed.len().min(TOP_USERS)];
    let width = shown
        .iter()
        .map(|r| r.user_id.chars().count())
        .max()
        .unwrap_or(0)
        .max(4)
        + 2;
    let mut out = format!(
        "most affected users ({} of {} whose decisions change)\n",
        shown.len(),
        changed.len()
    );
    out.push_str(&format!(
        "{:<width$}{:>14}{:>16}  {:<14}{:<14}{}\n",
        "user", "newly denied", "newly admitted", "admitted", "denied", "peak share"
    ));
    let peak = |s: &UserScenario| percent(s.peak_share.values().copied().fold(0.0, f64::max));
    for row in shown {
        let (b, c) = (&row.baseline, &row.candidate);
        let admitted = format!("{} -> {}", b.admitted, c.admitted);
        let denied = format!("{} -> {}", b.denied, c.denied);
        out.push_str(&format!(
            "{:<width$}{:>14}{:>16}  {admitted:<14}{denied:<14}{} -> {}\n",
            row.user_id,
            row.newly_denied,
            row.newly_admitted,
            peak(b),
            peak(c)
        ));
    }
    out
}

/// A share (1 is 100 %) as a percentage with at most one decimal; only a whole share is 100 %.
fn percent(share: f64) -> String {
    let mut tenths = (share * 1000.0).round() as i64;
    if tenths == 1000 && share < 1.0 {
        tenths = 999;
    }
    match tenths % 10 {
        0 => format!("{} %", tenths / 10),
        _ => format!("{:.1} %", tenths as f64 / 10.0),
    }
}

/// A signed change: "+2", "-1", "0".
fn change(text: String) -> String {
    match text.as_str() {
        "0" => text,
        t if t.starts_with('-') => text,
        _ => format!("+{text}"),
    }
}

fn counted(n: u64, noun: &str) -> String {
    format!("{n} {noun}{}", if n == 1 { "" } else { "s" })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_whole_share_is_a_hundred_percent() {
        assert_eq!(percent(1.0), "100 %");
        assert_eq!(percent(0.9999), "99.9 %");
        assert_eq!(percent(0.987), "98.7 %");
        assert_eq!(percent(0.333333), "33.3 %");
        assert_eq!(percent(1.5), "150 %");
        assert_eq!(percent(0.0), "0 %");
    }
}
