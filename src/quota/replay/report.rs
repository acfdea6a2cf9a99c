//! A simulation's report: per user what the plans as they were (the baseline) and the
//! candidate decided of the same recorded demand, and the cohort's totals. Serde's derives are
//! the form the gateway keeps a finished report in, not a wire format.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use super::engine::Outcome;

/// The alert thresholds a report counts users across, in percent.
pub(crate) const THRESHOLDS: [u16; 3] = [50, 80, 100];

/// What one plan did with one user's demand.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Scenario {
    pub admitted: u64,
    pub denied: u64,
    /// Denials admitted and counted at their quantity: an estimate.
    pub estimated: u64,
    /// Per group, the highest share of its quota reached, in millionths.
    pub peak_ppm: BTreeMap<String, u64>,
    /// The thresholds of `THRESHOLDS` some group's peak reached.
    pub crossed: Vec<u16>,
    /// Milli-credits burned by balance groups; milli-cents counted by groups of unit cents.
    pub credits: u64,
    pub cents: u64,
}

impl Scenario {
    /// The highest share of any group's quota the user reached, in millionths.
    pub fn top_ppm(&self) -> u64 {
        self.peak_ppm.values().copied().max().unwrap_or(0)
    }
}

impl From<&Outcome> for Scenario {
    fn from(o: &Outcome) -> Scenario {
        let mut s = Scenario {
            admitted: o.admitted,
            denied: o.denied,
            estimated: o.estimated,
            peak_ppm: o.peak_ppm.clone(),
            crossed: Vec::new(),
            credits: o.credits,
            cents: o.cents,
        };
        let top = s.top_ppm();
        s.crossed = THRESHOLDS
            .into_iter()
            .filter(|t| top >= u64::from(*t) * 10_000)
            .collect();
        s
    }
}

/// One user of the cohort.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserRow {
    pub user: String,
    /// Decisions the ledger recorded (admitted holds and denials), and how many of them the
    /// baseline decided alike.
    pub recorded: u64,
    pub reproduced: u64,
    pub baseline: Scenario,
    pub candidate: Scenario,
    /// Decisions the baseline admitted and the candidate denies, and the other way round.
    pub newly_denied: u64,
    pub newly_admitted: u64,
}

impl UserRow {
    /// The row of `user` from the two replays of its ledger over one range.
    pub fn of(user: &str, baseline: &Outcome, candidate: &Outcome) -> UserRow {
        let recorded = &baseline.recorded;
        let both = baseline.decisions.iter().zip(&candidate.decisions);
        UserRow {
            user: user.to_string(),
            recorded: recorded.len() as u64,
            reproduced: recorded.iter().zip(&baseline.decisions).filter(|(r, b)| r == b).count() as u64,
            newly_denied: both.clone().filter(|(b, c)| **b && !**c).count() as u64,
            newly_admitted: both.filter(|(b, c)| !**b && **c).count() as u64,
            baseline: baseline.into(),
            candidate: candidate.into(),
        }
    }
}

/// The cohort's sums under one plan.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Totals {
    pub admitted: u64,
    pub denied: u64,
    pub estimated: u64,
    /// Users whose peak reached each of `THRESHOLDS`.
    pub crossed: BTreeMap<u16, u64>,
    pub credits: u64,
    pub cents: u64,
}

/// Percentiles of users' peak share of one group, in millionths.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Percentiles {
    pub p50: u64,
    pub p90: u64,
    pub p99: u64,
    pub max: u64,
}

impl Percentiles {
    /// Nearest-rank percentiles of `values`.
    pub fn of(mut values: Vec<u64>) -> Percentiles {
        if values.is_empty() {
            return Percentiles::default();
        }
        values.sort_unstable();
        let rank = |p: usize| values[((values.len() * p).div_ceil(100)).max(1) - 1];
        Percentiles {
            p50: rank(50),
            p90: rank(90),
            p99: rank(99),
            max: values[values.len() - 1],
        }
    }
}

/// The cohort's aggregate.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Aggregate {
    pub users: u64,
    pub entries: u64,
    pub recorded: u64,
    pub reproduced: u64,
    pub baseline: Totals,
    pub candidate: Totals,
    pub newly_denied: u64,
    pub newly_denied_users: u64,
    pub newly_admitted: u64,
    pub newly_admitted_users: u64,
    /// Per group, the percentiles of the users' peak share: baseline, candidate. A user who
    /// never reached a group counts as 0.
    pub peaks: BTreeMap<String, (Percentiles, Percentiles)>,
}

impl Aggregate {
    /// The share of recorded decisions the baseline reproduced (1 when none were recorded).
    pub fn fidelity(&self) -> f64 {
        if self.recorded == 0 {
            1.0
        } else {
            self.reproduced as f64 / self.recorded as f64
        }
    }

    /// The aggregate of `rows`, which replayed `entries` ledger entries.
    pub fn of(rows: &[UserRow], entries: u64) -> Aggregate {
        let mut a = Aggregate {
            users: rows.len() as u64,
            entries,
            ..Aggregate::default()
        };
        let add = |t: &mut Totals, s: &Scenario| {
            t.admitted += s.admitted;
            t.denied += s.denied;
            t.estimated += s.estimated;
            t.credits += s.credits;
            t.cents += s.cents;
            for threshold in &s.crossed {
                *t.crossed.entry(*threshold).or_default() += 1;
            }
        };
        for row in rows {
            a.recorded += row.recorded;
            a.reproduced += row.reproduced;
            add(&mut a.baseline, &row.baseline);
            add(&mut a.candidate, &row.candidate);
            a.newly_denied += row.newly_denied;
            a.newly_admitted += row.newly_admitted;
            a.newly_denied_users += u64::from(row.newly_denied > 0);
            a.newly_admitted_users += u64::from(row.newly_admitted > 0);
        }
        for t in [&mut a.baseline, &mut a.candidate] {
            for threshold in THRESHOLDS {
                t.crossed.entry(threshold).or_default();
            }
        }
        let groups: BTreeSet<&String> = rows
            .iter()
            .flat_map(|r| r.baseline.peak_ppm.keys().chain(r.candidate.peak_ppm.keys()))
            .collect();
        for g in groups {
            let of = |pick: fn(&UserRow) -> &Scenario| {
                Percentiles::of(
                    rows.iter()
                        .map(|r| pick(r).peak_ppm.get(g).copied().unwrap_or(0))
                        .collect(),
                )
            };
            a.peaks.insert(g.clone(), (of(|r| &r.baseline), of(|r| &r.candidate)));
        }
        a
    }
}

/// A simulation's result: the aggregate and every user's row, most affected first (newly
/// denied, then newly admitted, then by id).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Report {
    pub aggregate: Aggregate,
    pub users: Vec<UserRow>,
}

impl Report {
    pub fn of(mut users: Vec<UserRow>, entries: u64) -> Report {
        users.sort_by(|a, b| {
            (b.newly_denied, b.newly_admitted)
                .cmp(&(a.newly_denied, a.newly_admitted))
                .then_with(|| a.user.cmp(&b.user))
        });
        Report {
            aggregate: Aggregate::of(&users, entries),
            users,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_take_the_nearest_rank() {
        let p = Percentiles::of((1..=100).collect());
        assert_eq!((p.p50, p.p90, p.p99, p.max), (50, 90, 99, 100));
        assert_eq!(Percentiles::of(vec![7]).p50, 7);
        assert_eq!(Percentiles::of(Vec::new()), Percentiles::default());
    }
}
