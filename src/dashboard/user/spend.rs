//! A team's spend by member: the team's ledger entries of its plan's current default period,
//! summed per member and group. Read a page at a time and bounded, so a busy team's page costs
//! at most `MAX_ENTRIES` entries; it never reads the members' own ledgers.

use std::collections::HashMap;

use crate::dashboard::parts::numbers::when;
use maud::{html, Markup};

use crate::dashboard::parts::ledger::read_bounded;
use crate::dashboard::parts::links::user_link;
use crate::dashboard::parts::shown::Shown;
use crate::gateway::{Gateway, GatewayError, LedgerCursor, LedgerQuery, Usage, UsageEventPage};
use crate::quota::{SignedAmount, Unit, UsageEvent, UserFilter, UserId, Window};

/// Ledger entries one table reads at most.
const MAX_ENTRIES: usize = 10_000;
/// Ledger entries one read asks for.
const PAGE: usize = 1_000;

/// The sums of one member (None: the team's own usage).
#[derive(Debug, Default, PartialEq, Eq)]
struct Row {
    amounts: HashMap<String, i64>,
    entries: usize,
}

/// What was read: sums by member, each group's unit, and whether the bound stopped the reading.
#[derive(Debug, Default)]
struct Tally {
    rows: HashMap<Option<String>, Row>,
    units: HashMap<String, Unit>,
    entries: usize,
    capped: bool,
}

impl Tally {
    fn add(&mut self, events: &[UsageEvent]) {
        for e in events {
            let row = self.rows.entry(e.member.clone()).or_default();
            row.entries += 1;
            for g in &e.groups {
                *row.amounts.entry(g.group_id.clone()).or_default() += g.amount_milli;
                self.units.entry(g.group_id.clone()).or_insert(g.unit);
            }
        }
        self.entries += events.len();
    }

    /// The columns: the plan's groups in its order, then any other group an entry named (one
    /// since removed from the plan), by id.
    fn columns(&self, plan_groups: &[String]) -> Vec<String> {
        let mut others: Vec<&String> = self.units.keys().filter(|g| !plan_groups.contains(g)).collect();
        others.sort();
        plan_groups.iter().chain(others).cloned().collect()
    }

    /// The rows, largest first by the first column's amount, then the next column's, and so
    /// on. Not by a sum across groups: groups count in different units, and two groups may
    /// count the same event.
    fn sorted(&self, columns: &[String]) -> Vec<(&Option<String>, &Row, Vec<i64>)> {
        let mut rows: Vec<_> = self
            .rows
            .iter()
            .map(|(member, row)| {
                let amounts: Vec<i64> = columns
                    .iter()
                    .map(|c| row.amounts.get(c).copied().unwrap_or(0))
                    .collect();
                (member, row, amounts)
            })
            .collect();
        // The member's id breaks ties, so the order is the same on every load.
        rows.sort_by(|a, b| b.2.cmp(&a.2).then_with(|| a.0.cmp(b.0)));
        rows
    }
}

/// Reads pages through `read` (from a cursor, at most so many entries) until the ledger ends
/// or `max` entries were read.
async fn tally(
    max: usize,
    page: usize,
    read: impl AsyncFnMut(Option<LedgerCursor>, usize) -> Result<UsageEventPage, GatewayError>,
) -> Result<Tally, GatewayError> {
    let mut tally = Tally::default();
    let capped = read_bounded(max, page, read, |events| tally.add(&events)).await?;
    tally.capped = capped;
    Ok(tally)
}

/// The table for `team`'s page, or None when nobody draws on its budget. `usage` is the team's
/// (None: it has no plan).
pub(crate) async fn spend_by_member(
    gateway: &Gateway,
    project: &str,
    team: &UserId,
    usage: Option<&Usage>,
) -> Result<Option<Markup>, GatewayError> {
    let members = UserFilter {
        parent_id: Some(team.as_str().to_string()),
        ..UserFilter::default()
    };
    // A page that found none but names a next one stopped at its scanning bound (past former
    // members): there may be members further on, so the table is shown.
    let first = gateway.accounts().users(project, None, 1, &members).await?;
    if first.data.is_empty() && first.next_after.is_none() {
        return Ok(None);
    }
    let period = usage.and_then(|u| u.period);
    // Up to the period's end rather than the node's now: no entry is later than Redis's now,
    // and the node's estimate of that can lag the entry just written by a millisecond.
    let (from_ms, to_ms) = match period {
        Some(Window {
            start_ms,
            end_ms: Some(end_ms),
            ..
        }) => (start_ms, end_ms),
        _ => (0, i64::MAX),
    };
    let query = LedgerQuery {
        user: Some(team),
        member: None,
        from_ms,
        to_ms,
    };
    let tally = tally(MAX_ENTRIES, PAGE, async |cursor, limit| {
        gateway.data().usage_events(project, &query, cursor, limit).await
    })
    .await?;
    let plan_groups: Vec<String> = usage
        .iter()
        .flat_map(|u| u.counters.iter().map(|c| c.group_id.clone()))
        .collect();
    Ok(Some(table(&tally, &plan_groups, period)))
}

fn table(tally: &Tally, plan_groups: &[String], period: Option<Window>) -> Markup {
    let columns = tally.columns(plan_groups);
    let rows = tally.sorted(&columns);
    html! {
        h2 { "Spend by member, this period" }
        p.muted {
            @match period {
                Some(Window { start_ms, end_ms: Some(_), .. }) => { "From " (when(start_ms)) ", the start of the plan's current period, to now." }
                Some(_) => { "The plan's period is lifetime: all time." }
                None => { "The team has no plan: all time." }
            }
            " From the team's ledger; members without entries are not listed. Largest first."
        }
        @if tally.capped {
            p.flash.error { "The figures cover the first " (MAX_ENTRIES) " entries only." }
        }
        table.spend {
            thead { tr {
                th { "Member" }
                @for c in &columns {
                    th.num { (Shown(c)) @if let Some(unit) = tally.units.get(c) { br; span.muted { (unit.as_str()) } } }
                }
                th.num { "Entries" }
            } }
            tbody {
                @for (member, row, amounts) in &rows {
                    tr {
                        td { @match member { Some(m) => { (user_link(m)) } None => { span.muted { "(the team itself)" } } } }
                        @for a in amounts { td.num { (SignedAmount(*a)) } }
                        td.num { (row.entries) }
                    }
                }
                @if rows.is_empty() { tr { td colspan=(columns.len() + 2) .muted { "No usage in this period." } } }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::quota::{UsageGroup, UsageKind};

    fn entry(n: usize, member: Option<&str>, groups: &[(&str, i64)]) -> UsageEvent {
        UsageEvent {
            id: format!("track:{n}"),
            position: format!("{n}-0"),
            kind: UsageKind::Track,
            time_ms: n as i64,
            user: UserId::parse("team").unwrap(),
            event: Some("render".into()),
            metadata: None,
            quantity: None,
            groups: groups
                .iter()
                .map(|(g, milli)| UsageGroup {
                    group_id: g.to_string(),
                    value: None,
                    unit: Unit::Count,
                    period_start_ms: Some(0),
                    amount_milli: *milli,
                    price: None,
                })
                .collect(),
            denied_by: Vec::new(),
            decided_ms: None,
            hold: None,
            outcome: None,
            previous_outcome: None,
            alternatives: None,
            reason: None,
            key_id: None,
            member: member.map(str::to_string),
            credits: Vec::new(),
            step: None,
        }
    }

    /// A ledger of `entries`, read as `usage_events` reads one user's: a full page names the
    /// next.
    fn ledger(entries: &[UsageEvent], cursor: Option<LedgerCursor>, limit: usize) -> UsageEventPage {
        let from = cursor.map_or(0, |c| c.after.unwrap().parse::<usize>().unwrap());
        let data: Vec<UsageEvent> = entries.iter().skip(from).take(limit).cloned().collect();
        let next = (data.len() == limit).then(|| LedgerCursor {
            day: None,
            user: UserId::parse("team").unwrap(),
            after: Some((from + limit).to_string()),
        });
        UsageEventPage { data, next }
    }

    #[tokio::test]
    async fn members_are_summed_per_group_and_sorted_by_the_first_group_largest_first() {
        let entries = vec![
            entry(0, Some("m1"), &[("renders", 3_000), ("all", 3_000)]),
            entry(1, None, &[("renders", 2_000)]),
            entry(2, Some("m2"), &[("renders", 5_000), ("all", 5_000)]),
            entry(3, Some("m1"), &[("all", 4_000), ("gone", 1_000)]),
            entry(4, Some("m2"), &[("renders", -1_000)]),
        ];
        let mut reads = 0;
        let tally = tally(100, 2, async |cursor, limit| {
            reads += 1;
            Ok(ledger(&entries, cursor, limit))
        })
        .await
        .unwrap();
        assert_eq!((tally.entries, tally.capped, reads), (5, false, 3));
        let columns = tally.columns(&["renders".into(), "all".into()]);
        assert_eq!(columns, ["renders", "all", "gone"]);
        let order: Vec<(Option<&str>, Vec<i64>)> = tally
            .sorted(&columns)
            .into_iter()
            .map(|(m, _, amounts)| (m.as_deref(), amounts))
            .collect();
        assert_eq!(
            order,
            [
                (Some("m2"), vec![4_000, 5_000, 0]),
                (Some("m1"), vec![3_000, 7_000, 1_000]),
                (None, vec![2_000, 0, 0]),
            ]
        );
    }

    #[tokio::test]
    async fn reading_stops_at_the_bound_and_says_so() {
        let entries: Vec<UsageEvent> = (0..25).map(|n| entry(n, Some("m"), &[("renders", 1_000)])).collect();
        let mut asked = Vec::new();
        let capped = tally(10, 4, async |cursor, limit| {
            asked.push(limit);
            Ok(ledger(&entries, cursor, limit))
        })
        .await
        .unwrap();
        assert_eq!((capped.entries, capped.capped), (10, true));
        assert_eq!(asked, [4, 4, 2], "never more than the bound");
        assert_eq!(capped.rows[&Some("m".to_string())].amounts["renders"], 10_000);

        let whole = tally(100, 4, async |cursor, limit| Ok(ledger(&entries[..8], cursor, limit)))
            .await
            .unwrap();
        assert_eq!((whole.entries, whole.capped), (8, false));
    }
}
