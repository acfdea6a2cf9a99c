//! Usage: every group of the user's plan in its current window, read without writing; and the
//! same for each parent whose budget the user shares.

use std::time::Instant;

use super::parents::walk_up;
use super::resolve::Freshness;
use super::DataPlane;
use crate::gateway::outcome::{Effect, Observed, Verb};
use crate::gateway::GatewayError;
use crate::quota::{Amounts, Counter, LimitGroup, Milli, Outcomes, Plan, Status, UserId, Window};
use crate::store::{Reply, UsageField};

#[derive(Debug, Clone)]
pub struct Usage {
    /// The plan the user is metered by (their own or the default plan), if any.
    pub plan_id: Option<String>,
    pub status: Status,
    /// The plan's default period.
    pub period: Option<Window>,
    pub counters: Vec<Counter>,
    /// When it was read (Redis time as the node estimates it), for the reset headers.
    pub read_at_ms: i64,
    /// The subject whose budget this one shares, if any.
    pub parent_id: Option<String>,
    /// Each ancestor's usage, nearest first (theirs list no parents of their own).
    pub parents: Vec<(UserId, Usage)>,
}

impl Observed for Usage {
    fn effect(&self) -> Effect<'_> {
        Effect::Answered
    }
}

impl DataPlane {
    /// Reads the subscription fresh: usage is what a person looks at.
    pub async fn usage(&self, project: &str, user: &UserId) -> Result<Usage, GatewayError> {
        let started = Instant::now();
        let answer = async {
            let mut usage = self
                .node
                .drive(project, user, async || self.usage_once(project, user).await)
                .await?;
            let parent = usage.parent_id.clone();
            walk_up(user, parent, async |level| {
                let subject = level.subject;
                let pool = self
                    .node
                    .drive(project, subject, async || self.usage_once(project, subject).await)
                    .await?;
                let above = pool.parent_id.clone();
                usage.parents.push((subject.clone(), pool));
                Ok(above)
            })
            .await?;
            Ok(usage)
        }
        .await;
        self.node.report(Verb::Usage, project, Some(user), started, &answer);
        answer
    }

    async fn usage_once(&self, project: &str, user: &UserId) -> Result<Reply<Usage>, GatewayError> {
        let resolved = self.resolve(project, user, Freshness::Fresh).await?;
        let status = resolved.sub.status;
        let parent_id = resolved.sub.parent_id.clone();
        let Some(plan) = resolved.plan else {
            return Ok(Reply::Done(Usage {
                plan_id: None,
                status,
                period: None,
                counters: Vec::new(),
                read_at_ms: self.node.clock.now_ms(),
                parent_id,
                parents: Vec::new(),
            }));
        };
        let now_ms = self.node.clock.now_ms();
        let mut counters = match self
            .counters_under(project, user, &plan, resolved.started_ms, now_ms)
            .await?
            .done()
        {
            Ok(counters) => counters,
            Err(other) => return Ok(other),
        };
        // A team's groups as its members' slices count them now.
        self.leases().current_slices(project, user, &mut counters).await?;
        Ok(Reply::Done(Usage {
            plan_id: Some(plan.id.clone()),
            status,
            period: Some(plan.period.window(now_ms, resolved.started_ms)),
            counters,
            read_at_ms: self.node.clock.now_ms(),
            parent_id,
            parents: Vec::new(),
        }))
    }

    /// The counters of every group of `plan` for `user`, its windows anchored at `started_ms`:
    /// what usage reads for the user's plan, and what a switch to another plan would find.
    pub(crate) async fn counters_under(
        &self,
        project: &str,
        user: &UserId,
        plan: &Plan,
        started_ms: i64,
        now_ms: i64,
    ) -> Result<Reply<Vec<Counter>>, GatewayError> {
        let windows: Vec<Window> = plan.groups.iter().map(|g| g.window(now_ms, started_ms)).collect();
        // A per-value group has a counter per value it counted this period (none before the
        // first): their list is read first, only when the plan has such a group.
        let per_value: Vec<(&str, Window)> = plan
            .groups
            .iter()
            .zip(&windows)
            .filter(|(g, _)| g.per.is_some())
            .map(|(g, w)| (g.id.as_str(), *w))
            .collect();
        let lists = self.store.listed_values(project, user, &per_value).await?;
        let rows = counter_rows(plan, &windows, lists);
        // A rolling window reads each sub-window it counts (rolling.lua), added up below.
        let counted: Vec<Vec<Window>> = rows
            .iter()
            .map(|(_, w, _)| match w.buckets {
                0 => vec![*w],
                _ => w.counted().into_iter().map(|(sub, _)| sub).collect(),
            })
            .collect();
        let fields: Vec<UsageField> = rows
            .iter()
            .zip(&counted)
            .flat_map(|((g, _, value), windows)| {
                windows.iter().map(move |w| UsageField {
                    group: &g.id,
                    value: value.as_deref(),
                    window: *w,
                    quota: g.quota,
                    balance: g.balance.as_ref(),
                })
            })
            .collect();
        let ledger = self.node.keeps_ledger(project).await?;
        let Reply::Done((redis_ms, amounts, outcomes, fallback)) =
            self.store.usage(project, user, &fields, ledger).await?
        else {
            // More expired holds were due than one read takes: a batch went back; ask again.
            return Ok(Reply::More);
        };
        // A window computed from a clock out of step with Redis would show the wrong period.
        if !plan
            .groups
            .iter()
            .zip(&windows)
            .all(|(g, w)| g.window(redis_ms, started_ms) == *w)
        {
            return Ok(Reply::Stale);
        }
        let summed = summed(&counted, amounts, outcomes, fallback);
        Ok(Reply::Done(
            rows.iter()
                .zip(summed)
                .filter(|((g, _, value), (a, _, _))| {
                    g.per.is_none() || value.is_some() || a.used > Milli::ZERO || a.held > Milli::ZERO
                })
                .map(|((g, w, value), (a, o, f))| {
                    Counter::of(g, *w, &a)
                        .of_value(value.as_deref())
                        .with_outcomes(o)
                        .with_fallback(f)
                })
                .collect(),
        ))
    }
}

/// A counter per group of `plan`, and per value a per-value group counted this period (its
/// `lists`, in the groups' order) before that group's own: "other values", what tracks of
/// values past the period's 64 counted (shown only when it counted any).
fn counter_rows<'p>(
    plan: &'p Plan,
    windows: &[Window],
    lists: impl IntoIterator<Item = Vec<String>>,
) -> Vec<(&'p LimitGroup, Window, Option<String>)> {
    let mut lists = lists.into_iter();
    plan.groups
        .iter()
        .zip(windows)
        .flat_map(|(g, w)| match g.per {
            None => vec![(g, *w, None)],
            Some(_) => lists
                .next()
                .unwrap_or_default()
                .into_iter()
                .map(|v| (g, *w, Some(v)))
                .chain([(g, *w, None)])
                .collect(),
        })
        .collect()
}

/// Per counter, what the usage script read of each window it counts (`counted`: a rolling
/// window's sub-windows), added up.
fn summed(
    counted: &[Vec<Window>],
    amounts: impl IntoIterator<Item = Amounts>,
    outcomes: impl IntoIterator<Item = Outcomes>,
    fallback: impl IntoIterator<Item = Milli>,
) -> Vec<(Amounts, Outcomes, Milli)> {
    let (mut amounts, mut outcomes, mut fallback) = (amounts.into_iter(), outcomes.into_iter(), fallback.into_iter());
    counted
        .iter()
        .map(|windows| {
            let mut sum = amounts.next().unwrap_or_default();
            let mut said = outcomes.next().unwrap_or_default();
            let mut fell_back = fallback.next().unwrap_or_default();
            for _ in 1..windows.len() {
                let (a, o) = (amounts.next().unwrap_or_default(), outcomes.next().unwrap_or_default());
                sum.used = Milli(sum.used.0 + a.used.0);
                sum.held = Milli(sum.held.0 + a.held.0);
                said.add(&o);
                fell_back = Milli(fell_back.0 + fallback.next().unwrap_or_default().0);
            }
            (sum, said, fell_back)
        })
        .collect()
}
