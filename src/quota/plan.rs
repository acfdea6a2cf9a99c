//! Plans in their validated form, made from the JSON document users write (`plan_doc.rs`).
//! Validation lists every problem at once, so one round of fixes is enough.

use serde_json::{Map, Value};

use super::alerts::{self, DEFAULT_ALERTS};
use super::amount::Milli;
use super::credit::Balance;
use super::ids::check_id;
use super::measure::{Measure, MeasureDoc};
use super::period::{Anchor, Period, PeriodKind, Window, MAX_ROLLING_SECONDS};
use super::plan_doc::{check_pattern, metadata_pattern_ok, ANCHORS, PERIOD_TYPES};
pub use super::plan_doc::{AllowanceDoc, GroupDoc, MatchRule, PeriodDoc, PlanDoc, RolloverDoc};
pub use super::plan_kinds::{Mode, PlanChange, Review, Unit, Unmatched};

pub const MAX_GROUPS: usize = 32;
pub const MAX_RULES: usize = 16;
const MAX_LABEL: usize = 256;
/// The longest `owner`, in bytes.
pub const MAX_OWNER: usize = 128;

/// A validated plan.
#[derive(Debug, Clone)]
pub struct Plan {
    pub id: String,
    pub version: u64,
    pub unmatched: Unmatched,
    /// The plan's default period, the one `usage` reports.
    pub period: Period,
    pub groups: Vec<LimitGroup>,
    /// The document as stored, answered by `GET /v1/plans/{id}`.
    pub doc: PlanDoc,
}

/// "Count these events and stop them at this quota."
#[derive(Debug, Clone)]
pub struct LimitGroup {
    pub id: String,
    pub label: String,
    pub unit: Unit,
    /// 0 on a balance group, whose grants are its limit.
    pub quota: Milli,
    /// Set on a balance group: it counts against the subject's grants of this balance.
    pub balance: Option<Balance>,
    pub matches: Vec<MatchRule>,
    pub period: Period,
    pub mode: Mode,
    pub measure: Measure,
    /// Per match rule, its own measure when it has one: the first rule that matches an event
    /// decides the amount, else the group's `measure` does.
    pub rule_measures: Vec<Option<Measure>>,
    pub on_plan_change: PlanChange,
    /// Thresholds in percent, sorted (the group's own, else the plan's, else the default).
    pub alerts: Vec<u16>,
    /// The same as the scripts take them ("80,100"), made once.
    pub alerts_arg: String,
    /// A metadata key: the group keeps one counter per distinct value of it (`value.rs`).
    pub per: Option<String>,
    /// `fit: "clamp"`: the least a clamped call may be granted (`minFit`, default 1 unit);
    /// None when a hold must fit whole.
    pub fit: Option<Milli>,
    /// Whether any of its measures prices calls by their model.
    pub priced: bool,
    /// Who answers for it and how often they review it: the group's own, else the plan's.
    pub owner: Option<String>,
    pub review_every: Option<Review>,
}

/// One thing wrong with a plan, with the JSON path of the field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub field: String,
    pub detail: String,
}

impl Plan {
    /// Validates `doc` as plan `id`; every problem found is listed.
    pub fn from_doc(id: &str, mut doc: PlanDoc) -> Result<Plan, Vec<Problem>> {
        let mut problems = Vec::new();
        let mut problem = |field: String, detail: &str| {
            problems.push(Problem {
                field,
                detail: detail.to_string(),
            })
        };
        if let Err(detail) = check_id(id) {
            problem("id".into(), detail);
        }
        if doc.id.as_deref().is_some_and(|body_id| body_id != id) {
            problem("id".into(), "must equal the plan id in the path");
        }
        let unmatched = match doc.unmatched.as_deref() {
            None | Some("allow") => Unmatched::Allow,
            Some("deny") => Unmatched::Deny,
            Some(_) => {
                problem("unmatched".into(), "must be \"allow\" or \"deny\"");
                Unmatched::Allow
            }
        };
        let mut default_kind = doc.period_type.as_deref().map(PeriodKind::parse);
        if let Some(None) = default_kind {
            problem("periodType".into(), PERIOD_TYPES);
        }
        if default_kind == Some(Some(PeriodKind::Rolling)) {
            problem(
                "periodType".into(),
                "must be a calendar period: a rolling window is a group's (period: {\"type\": \"rolling\", \"seconds\": 60})",
            );
            default_kind = None;
        }
        let default_anchor = doc.period_anchor.as_deref().map(Anchor::parse);
        if let Some(None) = default_anchor {
            problem("periodAnchor".into(), ANCHORS);
        }
        let plan_period = Period {
            kind: default_kind.flatten().unwrap_or(PeriodKind::Month),
            every: 1,
            anchor: default_anchor.flatten().unwrap_or(Anchor::Calendar),
        };
        let plan_alerts = match doc.alerts.as_deref().map(alerts::thresholds) {
            None => DEFAULT_ALERTS.to_vec(),
            Some(Ok(list)) => list,
            Some(Err(detail)) => {
                problem("alerts".into(), detail);
                Vec::new()
            }
        };
        let mut policy = |field: String, owner: &Option<String>, review: &Option<String>| {
            if owner
                .as_ref()
                .is_some_and(|o| o.is_empty() || o.len() > MAX_OWNER || o.chars().any(char::is_control))
            {
                problem(
                    format!("{field}owner"),
                    "must be 1 to 128 bytes of text without control characters",
                );
            }
            let review = review.as_deref().map(Review::parse);
            if let Some(None) = review {
                problem(format!("{field}reviewEvery"), "must be \"day\", \"week\" or \"month\"");
            }
            review.flatten()
        };
        let plan_review = policy(String::new(), &doc.owner, &doc.review_every);
        let group_reviews: Vec<Option<Review>> = doc
            .groups
            .iter()
            .enumerate()
            .map(|(i, g)| policy(format!("groups[{i}]."), &g.owner, &g.review_every))
            .collect();
        if doc.groups.len() > MAX_GROUPS {
            problem("groups".into(), "must have at most 32 groups");
        }
        let mut groups = Vec::with_capacity(doc.groups.len());
        for (i, g) in doc.groups.iter().enumerate() {
            let at = |field: &str| format!("groups[{i}].{field}");
            if let Err(detail) = check_id(&g.id) {
                problem(at("id"), detail);
            }
            if doc.groups[..i].iter().any(|other| other.id == g.id) {
                problem(at("id"), "must be unique within the plan");
            }
            if g.label.as_ref().is_some_and(|l| l.len() > MAX_LABEL) {
                problem(at("label"), "must be at most 256 bytes");
            }
            let balance = match &g.balance {
                None => None,
                Some(name) => {
                    if check_id(name).is_err() {
                        problem(at("balance"), "must match [A-Za-z0-9_.-]{1,64}");
                    }
                    if g.quota.is_some() {
                        problem(
                            at("quota"),
                            "must be absent on a balance group: its grants are its limit",
                        );
                    }
                    if g.mode.as_deref().is_some_and(|m| m != "hard") {
                        problem(at("mode"), "must be \"hard\" on a balance group");
                    }
                    Some(Balance {
                        name: name.clone(),
                        overdraft: g.overdraft.unwrap_or(Milli::ZERO),
                        rollover: g.allowance.as_ref().and_then(|a| a.rollover.as_ref()).map(|r| r.max),
                    })
                }
            };
            if balance.is_none() {
                if g.quota.is_none() {
                    problem(at("quota"), "is required");
                }
                if g.unit.is_none() {
                    problem(at("unit"), "is required");
                }
                if g.overdraft.is_some() {
                    problem(at("overdraft"), "is only for a balance group");
                }
                if g.allowance.is_some() {
                    problem(at("allowance"), "is only for a balance group");
                }
                if g.low_balance.is_some() {
                    problem(at("lowBalance"), "is only for a balance group");
                }
            }
            let unit = match g.unit.as_deref().map(Unit::parse) {
                None => Unit::Count,
                Some(Some(Unit::Concurrent)) if balance.is_some() => {
                    problem(at("unit"), "must not be concurrent on a balance group");
                    Unit::Count
                }
                Some(Some(unit)) => unit,
                Some(None) => {
                    problem(at("unit"), "must be one of count, tokens, seconds, cents, concurrent");
                    Unit::Count
                }
            };
            let mode = match g.mode.as_deref() {
                None | Some("hard") => Mode::Hard,
                Some("soft") => Mode::Soft,
                // A balance's grants are raised by granting, not by an approval.
                Some("approval") if balance.is_some() => {
                    problem(at("mode"), "must not be \"approval\" on a balance group");
                    Mode::Hard
                }
                Some("approval") => Mode::Approval,
                Some(_) => {
                    problem(at("mode"), "must be \"hard\", \"soft\" or \"approval\"");
                    Mode::Hard
                }
            };
            let spec = g.period.clone().unwrap_or_default();
            let kind = match spec.kind.as_deref().map(PeriodKind::parse) {
                Some(Some(kind)) => kind,
                Some(None) => {
                    problem(at("period.type"), PERIOD_TYPES);
                    plan_period.kind
                }
                // A balance group without an allowance has no period of its own to keep: its
                // counter counts what it burned, for all time.
                None if default_kind.is_none() && g.balance.is_some() && g.allowance.is_none() => PeriodKind::Lifetime,
                None => {
                    if default_kind.is_none() {
                        problem(at("period.type"), "is required when the plan has no periodType");
                    }
                    plan_period.kind
                }
            };
            let anchor = match spec.anchor.as_deref().map(Anchor::parse) {
                Some(Some(anchor)) => anchor,
                Some(None) => {
                    problem(at("period.anchor"), ANCHORS);
                    plan_period.anchor
                }
                None => plan_period.anchor,
            };
            let mut every = spec.every.unwrap_or(1);
            if every == 0 || every > 1000 {
                problem(at("period.every"), "must be 1 to 1000");
            }
            let rolling = kind == PeriodKind::Rolling;
            if rolling {
                every = match spec.seconds {
                    Some(seconds @ 1..=MAX_ROLLING_SECONDS) => seconds,
                    _ => {
                        problem(at("period.seconds"), "must be 1 to 86400 on a rolling period");
                        1
                    }
                };
                for (field, given) in [("every", spec.every.is_some()), ("anchor", spec.anchor.is_some())] {
                    if given {
                        problem(
                            at(&format!("period.{field}")),
                            "must be absent on a rolling period: it rolls with time",
                        );
                    }
                }
                // A rolling window is a rate: of calls, or of tokens; money and credits are budgets.
                if balance.is_some() || !matches!(unit, Unit::Count | Unit::Tokens) {
                    problem(
                        at("period.type"),
                        "rolling windows count calls or tokens: only on a count or tokens group",
                    );
                }
                if mode == Mode::Approval {
                    problem(
                        at("mode"),
                        "must be \"hard\" or \"soft\" on a rolling window: a request is per period",
                    );
                }
                if g.per.is_some() {
                    problem(at("per"), "must not be on a rolling window");
                }
                if g.fit.as_deref() == Some("clamp") {
                    problem(at("fit"), "must not clamp on a rolling window");
                }
                if g.alerts.as_ref().is_some_and(|a| !a.is_empty()) {
                    problem(
                        at("alerts"),
                        "must be absent on a rolling window: it has no period to cross thresholds in",
                    );
                }
            } else if spec.seconds.is_some() {
                problem(at("period.seconds"), "is only for a rolling period");
            }
            if g.matches.is_empty() || g.matches.len() > MAX_RULES {
                problem(at("matches"), "must have 1 to 16 rules");
            }
            let mut rule_measures = Vec::with_capacity(g.matches.len());
            for (j, rule) in g.matches.iter().enumerate() {
                let at = |field: &str| format!("groups[{i}].matches[{j}].{field}");
                if let Err(detail) = check_pattern(&rule.event) {
                    problem(at("event"), detail);
                }
                rule_measures.push(match rule.measure.as_ref().map(MeasureDoc::to_measure) {
                    None => None,
                    Some(Ok(measure)) => Some(measure),
                    Some(Err(detail)) => {
                        problem(at("measure"), &detail);
                        None
                    }
                });
                for (key, value) in &rule.metadata {
                    if !metadata_pattern_ok(value) {
                        problem(
                            at(&format!("metadata.{key}")),
                            "must be a scalar or an array of scalars",
                        );
                    }
                }
            }
            let on_plan_change = match g.on_plan_change.as_deref() {
                None | Some("carry") => PlanChange::Carry,
                Some("reset") => PlanChange::Reset,
                Some("block") => PlanChange::Block,
                Some(_) => {
                    problem(at("onPlanChange"), "must be one of carry, reset, block");
                    PlanChange::Carry
                }
            };
            let measure = match g.measure.as_ref().map(MeasureDoc::to_measure) {
                None => Measure::Quantity,
                Some(Ok(measure)) => measure,
                Some(Err(detail)) => {
                    problem(at("measure"), &detail);
                    Measure::Quantity
                }
            };
            // A price counts money: cents, or a balance's credits at a rate per dollar.
            let mut priced = false;
            for (field, m) in std::iter::once((at("measure"), Some(&measure))).chain(
                rule_measures
                    .iter()
                    .enumerate()
                    .map(|(j, m)| (format!("groups[{i}].matches[{j}].measure"), m.as_ref())),
            ) {
                match m {
                    Some(Measure::Priced(_)) => problem(
                        field,
                        "must not be priced: the gateway writes that in reservations; price with \"price\"",
                    ),
                    Some(Measure::Price(rule)) => {
                        priced = true;
                        match (balance.is_some(), unit, rule.credits_per_dollar_micro) {
                            (true, _, None) => problem(field, "needs creditsPerDollar on a balance group"),
                            (false, Unit::Cents, Some(_)) => problem(
                                field,
                                "must not have creditsPerDollar on a cents group: a dollar is 100 cents",
                            ),
                            (true, _, Some(_)) | (false, Unit::Cents, None) => {}
                            (false, _, _) => problem(field, "can price only a cents group or a balance group"),
                        }
                    }
                    _ => {}
                }
            }
            let fit = match g.fit.as_deref() {
                None | Some("whole") => {
                    if g.min_fit.is_some() {
                        problem(at("minFit"), "goes with fit \"clamp\"");
                    }
                    None
                }
                Some("clamp") => {
                    if balance.is_some() || mode != Mode::Hard || unit == Unit::Concurrent {
                        problem(
                            at("fit"),
                            "can clamp only a hard group that counts usage (not a balance, soft, approval or concurrent group)",
                        );
                    }
                    match g.min_fit {
                        Some(Milli(0)) => {
                            problem(at("minFit"), "must be above 0");
                            None
                        }
                        Some(min) => Some(min),
                        None => Some(Milli::from_units(1)),
                    }
                }
                Some(_) => {
                    problem(at("fit"), "must be \"clamp\" or \"whole\"");
                    None
                }
            };
            let alerts = match g.alerts.as_deref().map(alerts::thresholds) {
                // A balance has no quota to take a percent of.
                None if balance.is_some() => Vec::new(),
                Some(_) if balance.is_some() => {
                    problem(at("alerts"), "must be absent on a balance group");
                    Vec::new()
                }
                // A rolling window fires none: its counters are sub-windows, not periods.
                _ if rolling => Vec::new(),
                None => plan_alerts.clone(),
                Some(Ok(list)) => list,
                Some(Err(detail)) => {
                    problem(at("alerts"), detail);
                    Vec::new()
                }
            };
            groups.push(LimitGroup {
                id: g.id.clone(),
                label: g.label.clone().unwrap_or_else(|| g.id.clone()),
                unit,
                // A balance group's quota is its allowance per period (which overrides change).
                quota: g
                    .quota
                    .or(g.allowance.as_ref().map(|a| a.amount))
                    .unwrap_or(Milli::ZERO),
                balance,
                matches: g.matches.clone(),
                period: Period {
                    kind,
                    every: every.max(1),
                    anchor,
                },
                mode,
                measure,
                rule_measures,
                on_plan_change,
                // A balance group's thresholds are amounts, which the scripts take in
                // milli-units; the percents of a quota group otherwise.
                alerts_arg: match &g.low_balance {
                    Some(amounts) if g.balance.is_some() => {
                        if amounts.len() > 10 {
                            problem(at("lowBalance"), "must list at most 10 amounts");
                        }
                        let mut milli: Vec<u64> = amounts.iter().map(|m| m.0).collect();
                        milli.sort_unstable();
                        milli.dedup();
                        milli.iter().map(u64::to_string).collect::<Vec<_>>().join(",")
                    }
                    _ => alerts::script_list(&alerts),
                },
                alerts,
                per: match &g.per {
                    Some(_) if g.balance.is_some() => {
                        problem(at("per"), "must not be on a balance group");
                        None
                    }
                    Some(key) if key.is_empty() || key.len() > 64 || key.chars().any(char::is_control) => {
                        problem(at("per"), "must name a metadata key of 1 to 64 bytes");
                        None
                    }
                    other => other.clone(),
                },
                fit,
                priced,
                owner: g.owner.clone().or_else(|| doc.owner.clone()),
                review_every: group_reviews[i].or(plan_review),
            });
        }
        if !problems.is_empty() {
            return Err(problems);
        }
        doc.id = Some(id.to_string());
        Ok(Plan {
            id: id.to_string(),
            version: doc.version.unwrap_or(0),
            unmatched,
            period: plan_period,
            groups,
            doc,
        })
    }

    /// Whether `owner` owns the plan or any of its groups.
    pub fn owned_by(&self, owner: &str) -> bool {
        self.doc.owner.as_deref() == Some(owner) || self.groups.iter().any(|g| g.owner.as_deref() == Some(owner))
    }

    /// Whether any group prices calls by their model: only then is an event's price looked up.
    pub fn prices(&self) -> bool {
        self.groups.iter().any(|g| g.priced)
    }

    /// The groups an event hits, in plan order.
    pub fn matched_groups<'p, 'a>(
        &'p self,
        event: &'a str,
        metadata: &'a Map<String, Value>,
    ) -> impl Iterator<Item = &'p LimitGroup> + 'a
    where
        'p: 'a,
    {
        self.groups
            .iter()
            .filter(move |g| g.matches.iter().any(|rule| rule.matches(event, metadata)))
    }
}

impl LimitGroup {
    /// What this group counts of an event it matches: the measure of its first rule that
    /// matches, when that rule has one, else the group's.
    pub fn measure_for(&self, event: &str, metadata: &Map<String, Value>) -> &Measure {
        self.matches
            .iter()
            .zip(&self.rule_measures)
            .find(|(rule, _)| rule.matches(event, metadata))
            .and_then(|(_, own)| own.as_ref())
            .unwrap_or(&self.measure)
    }

    /// The window this group counts in at `now_ms`. In-flight limits have one window forever:
    /// only open reservations count, so there is nothing to reset.
    pub fn window(&self, now_ms: i64, started_ms: i64) -> Window {
        match self.unit {
            Unit::Concurrent => Window::fixed(0, None),
            _ => self.period.window(now_ms, started_ms),
        }
    }
}
