//! Plans in their validated form, made from the JSON document users write (`plan_doc.rs`).
//! Validation lists every problem at once, so one round of fixes is enough; `Plan::from_doc`
//! is its list of steps, each feature's checks in that feature's module.

use serde_json::{Map, Value};

use super::amount::Milli;
use super::credit::Balance;
use super::ids::check_id;
use super::measure::{Measure, MeasureDoc};
use super::period::{Period, PeriodKind, Window};
pub(crate) use super::plan_check::Problem;
use super::plan_check::{GroupCheck, Problems};
pub(crate) use super::plan_doc::{AllowanceDoc, GroupDoc, MatchRule, PeriodDoc, PlanDoc, RolloverDoc};
use super::plan_kinds::Inherited;
pub(crate) use super::plan_kinds::{Mode, PlanChange, Review, Unit, Unmatched};
use super::{alerts, fit, matching, plan_period, value};

pub(crate) const MAX_GROUPS: usize = 32;
const MAX_LABEL: usize = 256;
/// The longest `owner`, in bytes.
pub(crate) const MAX_OWNER: usize = 128;

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
    /// What the attempts after the first of one original action may hold and spend together
    /// in this group (`maxFallbackSpend`; lua/library/modules/fallbacks.lua decides it).
    pub max_fallback_spend: Option<Milli>,
}

impl Plan {
    /// Validates `doc` as plan `id`; every problem found is listed, in the order of the steps
    /// below (the plan's own fields, every owner, then each group in turn).
    pub fn from_doc(id: &str, mut doc: PlanDoc) -> Result<Plan, Vec<Problem>> {
        let mut problems = Problems::default();
        check_plan_id(id, &doc, &mut problems);
        let unmatched = Unmatched::of_plan(doc.unmatched.as_deref(), &mut problems);
        let (period, period_named) = plan_period::of_plan(&doc, &mut problems);
        let alerts = alerts::of_plan(doc.alerts.as_deref(), &mut problems);
        let review = policy(String::new(), &doc.owner, &doc.review_every, &mut problems);
        let group_reviews: Vec<Option<Review>> = doc
            .groups
            .iter()
            .enumerate()
            .map(|(i, g)| policy(format!("groups[{i}]."), &g.owner, &g.review_every, &mut problems))
            .collect();
        if doc.groups.len() > MAX_GROUPS {
            problems.add("groups", "must have at most 32 groups");
        }
        let plan = Inherited {
            period,
            period_named,
            alerts,
            owner: doc.owner.clone(),
            review,
        };
        let groups: Vec<LimitGroup> = doc
            .groups
            .iter()
            .enumerate()
            .map(|(index, g)| {
                let mut check = GroupCheck {
                    doc: g,
                    index,
                    problems: &mut problems,
                };
                LimitGroup::from_doc(&mut check, &doc.groups[..index], &plan, group_reviews[index])
            })
            .collect();
        if !problems.0.is_empty() {
            return Err(problems.0);
        }
        doc.id = Some(id.to_string());
        Ok(Plan {
            id: id.to_string(),
            version: doc.version.unwrap_or(0),
            unmatched,
            period: plan.period,
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

/// The plan's id: one a plan may have, and the document's own `id`, when given, the same.
fn check_plan_id(id: &str, doc: &PlanDoc, problems: &mut Problems) {
    if let Err(detail) = check_id(id) {
        problems.add("id", detail);
    }
    if doc.id.as_deref().is_some_and(|body_id| body_id != id) {
        problems.add("id", "must equal the plan id in the path");
    }
}

/// Who answers for the plan or a group (`field`: "" or "groups[i].") and how often they
/// review it: an owner is short text on one line; the review is a closed choice.
fn policy(field: String, owner: &Option<String>, review: &Option<String>, problems: &mut Problems) -> Option<Review> {
    if owner
        .as_ref()
        .is_some_and(|o| o.is_empty() || o.len() > MAX_OWNER || o.chars().any(char::is_control))
    {
        problems.add(
            format!("{field}owner"),
            "must be 1 to 128 bytes of text without control characters",
        );
    }
    let review = review.as_deref().map(Review::parse);
    if let Some(None) = review {
        problems.add(format!("{field}reviewEvery"), "must be \"day\", \"week\" or \"month\"");
    }
    review.flatten()
}

/// A group's id, unique within the plan, and its label.
fn check_group_id(check: &mut GroupCheck, earlier: &[GroupDoc]) {
    let g = check.doc;
    if let Err(detail) = check_id(&g.id) {
        check.problem("id", detail);
    }
    if earlier.iter().any(|other| other.id == g.id) {
        check.problem("id", "must be unique within the plan");
    }
    if g.label.as_ref().is_some_and(|l| l.len() > MAX_LABEL) {
        check.problem("label", "must be at most 256 bytes");
    }
}

/// What a group counts of an event its rules do not measure themselves: its `measure`, else
/// the quantity.
fn group_measure(check: &mut GroupCheck) -> Measure {
    match check.doc.measure.as_ref().map(MeasureDoc::to_measure) {
        None => Measure::Quantity,
        Some(Ok(measure)) => measure,
        Some(Err(detail)) => {
            check.problem("measure", &detail);
            Measure::Quantity
        }
    }
}

impl LimitGroup {
    /// Validates group `check` of a plan document (`earlier`: the groups before it), taking
    /// from `plan` what it says nothing of, each feature's checks in the feature's module.
    fn from_doc(check: &mut GroupCheck, earlier: &[GroupDoc], plan: &Inherited, review: Option<Review>) -> LimitGroup {
        let g = check.doc;
        check_group_id(check, earlier);
        let balance = Balance::of_group(check);
        let unit = Unit::of_group(check, balance.is_some());
        let mode = Mode::of_group(check, balance.is_some());
        let period = plan_period::of_group(check, plan, (unit, mode, balance.is_some()));
        let rule_measures = matching::rule_measures(check);
        let on_plan_change = PlanChange::of_group(check);
        let measure = group_measure(check);
        let priced = check_prices(check, (&measure, &rule_measures), balance.is_some(), unit);
        let fit = fit::min_fit(check, balance.is_some(), mode, unit);
        let alerts = alerts::of_group(
            check,
            balance.is_some(),
            period.kind == PeriodKind::Rolling,
            &plan.alerts,
        );
        let alerts_arg = alerts::script_arg(check, &alerts);
        let per = value::per_key(check);
        if g.max_fallback_spend.is_some() && unit == Unit::Concurrent {
            check.problem("maxFallbackSpend", "an in-flight group counts no spend");
        }
        LimitGroup {
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
            period,
            mode,
            measure,
            rule_measures,
            on_plan_change,
            alerts,
            alerts_arg,
            per,
            fit,
            priced,
            owner: g.owner.clone().or_else(|| plan.owner.clone()),
            review_every: review.or(plan.review),
            max_fallback_spend: g.max_fallback_spend,
        }
    }

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

/// Whether a group prices calls by their model (its measure, or a rule's): a price counts
/// money, in cents or in a balance's credits at a rate per dollar; a priced record is the
/// gateway's, never a plan's. `measures`: the group's, then each rule's.
fn check_prices(
    check: &mut GroupCheck,
    (measure, rule_measures): (&Measure, &[Option<Measure>]),
    balance: bool,
    unit: Unit,
) -> bool {
    let mut priced = false;
    let fields = std::iter::once(("measure".to_string(), Some(measure)));
    let rules = rule_measures
        .iter()
        .enumerate()
        .map(|(j, m)| (format!("matches[{j}].measure"), m.as_ref()));
    for (field, m) in fields.chain(rules) {
        match m {
            Some(Measure::Priced(_)) => check.problem(
                &field,
                "must not be priced: the gateway writes that in reservations; price with \"price\"",
            ),
            Some(Measure::Price(rule)) => {
                priced = true;
                match (balance, unit, rule.credits_per_dollar_micro) {
                    (true, _, None) => check.problem(&field, "needs creditsPerDollar on a balance group"),
                    (false, Unit::Cents, Some(_)) => check.problem(
                        &field,
                        "must not have creditsPerDollar on a cents group: a dollar is 100 cents",
                    ),
                    (true, _, Some(_)) | (false, Unit::Cents, None) => {}
                    (false, _, _) => check.problem(&field, "can price only a cents group or a balance group"),
                }
            }
            _ => {}
        }
    }
    priced
}
