//! The data plane's answers written straight into their bytes (`crate::json`): serde_json
//! escapes every field name character by character, and the answer types copy every string
//! they hold and format every instant into a `String` of its own: together a fifth of a
//! reserve's instructions. Here counters are read where they lie.
//! The wire types in `mod.rs` stay the contract (and the OpenAPI schema): the tests assert
//! that both ways write the same bytes.

use actix_web::http::header::{HeaderValue, CONTENT_TYPE};
use actix_web::{HttpResponse, HttpResponseBuilder};

use crate::gateway::Settled;
use crate::json::Json;
use crate::quota::{Counter, Decision, EventInput, FirstFit, Milli, RunProgress};

/// `builder`'s answer with `json` as its body.
pub fn respond(json: Json, mut builder: HttpResponseBuilder) -> HttpResponse {
    // A constant value: `ContentType::json()` formats and copies its text on every answer.
    builder
        .insert_header((CONTENT_TYPE, HeaderValue::from_static("application/json")))
        .body(json.into_bytes())
}

/// One counter as `CounterAnswer` answers it, for a call about `user`.
pub fn counter(json: &mut Json, c: &Counter, user: &str) {
    json.open_object();
    json.name("subjectId").string(c.subject.as_deref().unwrap_or(user));
    json.name("groupId").string(&c.group_id);
    if let Some(value) = &c.value {
        json.name("value").string(value);
    }
    json.name("label").string(&c.label);
    json.name("unit").string(c.unit.as_str());
    json.name("mode").string(c.mode.as_str());
    json.name("quota").milli(c.quota);
    json.name("used").milli(c.used);
    json.name("reserved").milli(c.reserved);
    if c.leased > Milli::ZERO {
        json.name("leased").milli(c.leased);
    }
    json.name("count").milli(c.count());
    json.name("remaining").milli(c.remaining());
    json.name("periodStart").optional(c.period_start_ms, Json::instant);
    json.name("resetsAt").optional(c.resets_at_ms, Json::instant);
    if let Some(ms) = c.rolling_ms {
        json.name("rollingSeconds").integer(ms / 1000);
    }
    json.name("exceeded").boolean(c.exceeded());
    if let Some((name, credit)) = &c.credit {
        json.name("balance").string(name);
        json.name("debt").milli(credit.debt);
        json.name("soonestExpiry")
            .optional(credit.soonest, |json, (amount, at)| {
                json.open_object();
                json.name("amount").milli(amount);
                json.name("at").instant(at);
                json.close_object();
            });
    }
    json.close_object();
}

/// `"counters":[...]` of a call about `user`.
pub fn counters(json: &mut Json, list: &[Counter], user: &str) {
    json.name("counters").open_array();
    for c in list {
        counter(json, c, user);
    }
    json.close_array();
}

/// `"overQuota":[...]`: the ids of the groups now past their quota.
pub fn over_quota(json: &mut Json, list: &[Counter]) {
    json.name("overQuota").open_array();
    for c in list.iter().filter(|c| c.exceeded()) {
        json.string(&c.group_id);
    }
    json.close_array();
}

/// `ReserveAnswer` of `d`, for a call about `user`.
pub fn reserve(d: &Decision, user: &str) -> Json {
    // A counter's object is 300-400 bytes: a team member's answer has its team's too.
    let mut json = Json::with_capacity(640 + 400 * d.counters.len());
    reserve_fields(&mut json, d, user);
    json.close_object();
    json
}

/// `ReserveAnswer` of a reserve of `alternatives` (as asked) that decided `fit`, for a call
/// about `user`: the chosen one's answer (or the denial of all), `chosen`, then each one
/// denied before it (`AlternativeAnswer`).
pub fn reserve_first(fit: &FirstFit, alternatives: &[EventInput], user: &str) -> Json {
    let listed = fit.decision.counters.len() + fit.passed.iter().map(|(_, d)| d.counters.len()).sum::<usize>();
    let mut json = Json::with_capacity(640 * (1 + fit.passed.len()) + 400 * listed);
    reserve_fields(&mut json, &fit.decision, user);
    if let Some(chosen) = fit.chosen {
        json.name("chosen").integer(chosen);
    }
    json.name("alternatives").open_array();
    for (i, d) in &fit.passed {
        json.open_object();
        json.name("index").integer(*i);
        json.name("event")
            .string(alternatives.get(*i).map_or("", |a| a.event.as_str()));
        denial_fields(&mut json, d, user);
        counters(&mut json, &d.counters, user);
        json.close_object();
    }
    json.close_array();
    json.close_object();
    json
}

/// A `ReserveAnswer`'s fields, its object left open.
fn reserve_fields(json: &mut Json, d: &Decision, user: &str) {
    json.open_object();
    json.name("allowed").boolean(d.allowed);
    json.name("reservationId")
        .optional(d.granted.as_ref(), |j, g| j.string(g.reservation_id.as_str()));
    json.name("expiresAt")
        .optional(d.granted.as_ref(), |j, g| j.instant(g.expires_at_ms));
    denial_fields(json, d, user);
    counters(json, &d.counters, user);
    step_run(json, d.run.as_ref());
    if let Some(fitted) = &d.fitted {
        json.name("granted").open_object();
        json.name("quantity").milli(fitted.quantity);
        json.name("outputTokens")
            .optional(fitted.output_tokens.as_ref(), |j, t| j.integer(*t));
        json.close_object();
    }
}

/// A decision's `reasons`, `deniedBy` and `denials`.
fn denial_fields(json: &mut Json, d: &Decision, user: &str) {
    json.name("reasons").open_array();
    for r in &d.reasons {
        json.string(r.code());
    }
    json.close_array();
    json.name("deniedBy").open_array();
    for group in d.denied_by.iter().filter_map(|denial| denial.group.as_deref()) {
        json.string(group);
    }
    json.close_array();
    json.name("denials").open_array();
    for denial in &d.denied_by {
        json.open_object();
        json.name("subjectId").string(denial.subject.as_deref().unwrap_or(user));
        json.name("groupId").optional(denial.group.as_ref(), |j, g| j.string(g));
        json.name("reason").string(denial.reason.code());
        if let Some(id) = &denial.approval_id {
            json.name("approvalId").string(id);
        }
        if let Some(model) = &denial.model {
            json.name("model").string(model);
        }
        json.close_object();
    }
    json.close_array();
}

/// A step's `"run":{...}` (`StepRunAnswer`), nothing for any other call.
fn step_run(json: &mut Json, run: Option<&RunProgress>) {
    let Some(run) = run else {
        return;
    };
    json.name("run").open_object();
    json.name("runId").string(&run.run_id);
    json.name("remaining").open_object();
    let mut remaining: Vec<&(String, Milli)> = run.remaining.iter().collect();
    remaining.sort_by(|a, b| a.0.cmp(&b.0));
    for (group, left) in remaining {
        json.key(group).milli(*left);
    }
    json.close_object();
    json.name("steps").integer(run.steps);
    json.name("fallbacks").integer(run.fallbacks);
    json.close_object();
}

/// `CommitAnswer` of reservation `id`.
pub fn commit(id: &str, s: &Settled, user: &str) -> Json {
    let mut json = ended(id, s);
    json.name("late").boolean(s.late);
    counters(&mut json, &s.counters, user);
    over_quota(&mut json, &s.counters);
    json.close_object();
    json
}

/// `ReleaseAnswer` of reservation `id`.
pub fn release(id: &str, s: &Settled, user: &str) -> Json {
    let mut json = ended(id, s);
    counters(&mut json, &s.counters, user);
    json.close_object();
    json
}

/// What both answers about an ended reservation open with.
fn ended(id: &str, s: &Settled) -> Json {
    let mut json = Json::new();
    json.open_object();
    json.name("reservationId").string(id);
    json.name("status").string(s.status.as_str());
    json
}

/// `TrackAnswer` of a call about `user`.
pub fn track(list: &[Counter], run: Option<&RunProgress>, user: &str) -> Json {
    let mut json = Json::new();
    json.open_object();
    counters(&mut json, list, user);
    over_quota(&mut json, list);
    step_run(&mut json, run);
    json.close_object();
    json
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::dto::{AlternativeAnswer, CommitAnswer, DenialAnswer, ReleaseAnswer, ReserveAnswer, TrackAnswer};
    use crate::gateway::Settled;
    use crate::quota::decision::Granted;
    use crate::quota::{Credit, Denial, Milli, Mode, Reason, ReservationState, Unit};

    fn counter(subject: Option<&str>, label: &str, quota: u64, used: u64, window: Option<(i64, i64)>) -> Counter {
        Counter {
            subject: subject.map(str::to_string),
            group_id: "per-model.gpt".to_string(),
            label: label.to_string(),
            unit: Unit::Tokens,
            mode: Mode::Soft,
            quota: Milli(quota),
            used: Milli(used),
            reserved: Milli(1_500),
            leased: Milli::ZERO,
            period_start_ms: window.map(|w| w.0),
            resets_at_ms: window.map(|w| w.1),
            credit: None,
            value: None,
            outcomes: Default::default(),
            rolling_ms: None,
            fallback_used: Milli::ZERO,
        }
    }

    /// Counters that take every branch: a parent's, labels serde escapes, fractional and whole
    /// amounts, exceeded or not, a window or none (lifetime).
    fn counters() -> Vec<Counter> {
        vec![
            counter(
                None,
                "Monthly \"tokens\" \\ caf\u{e9}\n\u{1}",
                5_000,
                2_250,
                Some((1_764_547_200_000, 1_767_225_600_000)),
            ),
            counter(Some("team:42"), "", 1_000, 999_999, None).of_value(Some("flux \"pro\"")),
            // A rolling window's, which says its length.
            Counter {
                rolling_ms: Some(60_000),
                ..counter(None, "rpm", 60, 1_000, Some((1_764_547_140_000, 1_764_547_203_000)))
            },
            Counter {
                credit: Some((
                    "credits".to_string(),
                    Credit {
                        available: Milli(95_500),
                        held: Milli(10_000),
                        debt: Milli(0),
                        soonest: Some((Milli(40_000), 1_767_225_600_000)),
                    },
                )),
                ..counter(None, "credits", 0, 30_000, Some((1_764_547_200_000, 1_767_225_600_000)))
            },
            Counter {
                credit: Some((
                    "c.2".to_string(),
                    Credit {
                        debt: Milli(1_250),
                        ..Credit::default()
                    },
                )),
                ..counter(Some("team:42"), "credits", 0, 0, None)
            },
            counter(
                None,
                "\u{7f}\u{2028}",
                u64::MAX >> 11,
                0,
                Some((-86_400_001, 253_402_300_799_999)),
            ),
        ]
    }

    fn over(list: &[Counter]) -> Vec<String> {
        list.iter()
            .filter(|c| c.exceeded())
            .map(|c| c.group_id.clone())
            .collect()
    }

    fn progress() -> RunProgress {
        RunProgress {
            run_id: "run_dTE.abc".to_string(),
            remaining: vec![("daily".into(), Milli(2_500)), ("cents \"x\"".into(), Milli(0))],
            steps: 3,
            fallbacks: 1,
        }
    }

    fn step_run_wire(run: &RunProgress) -> crate::api::dto::StepRunAnswer {
        crate::api::dto::StepRunAnswer {
            run_id: run.run_id.clone(),
            remaining: run.remaining.iter().cloned().collect(),
            steps: run.steps,
            fallbacks: run.fallbacks,
        }
    }

    fn text(json: Json) -> String {
        String::from_utf8(json.into_bytes()).unwrap()
    }

    #[test]
    fn a_reserve_answer_is_written_as_serde_writes_its_wire_type() {
        let decisions = [
            Decision {
                allowed: true,
                granted: Some(Granted {
                    reservation_id: crate::quota::ReservationId::answered(
                        "r_u1.abc".into(),
                        &crate::quota::UserId::parse("u1").unwrap(),
                    )
                    .unwrap(),
                    expires_at_ms: 1_764_550_000_123,
                    held: Vec::new(),
                    repeat: false,
                    record: None,
                }),
                reasons: Vec::new(),
                denied_by: Vec::new(),
                counters: counters(),
                decided_at_ms: 0,
                run: Some(progress()),
                fitted: Some(crate::quota::fit::Fitted {
                    quantity: Milli(1_950_000),
                    output_tokens: Some(950),
                }),
            },
            Decision {
                allowed: false,
                granted: None,
                reasons: vec![Reason::LimitReached, Reason::UserBlocked],
                denied_by: vec![
                    Denial {
                        subject: None,
                        group: Some("daily".to_string()),
                        reason: Reason::LimitReached,
                        approval_id: None,
                        model: None,
                        retry_at_ms: None,
                        asked: None,
                    },
                    Denial {
                        subject: Some("te\"am".to_string()),
                        group: Some("monthly".to_string()),
                        reason: Reason::ApprovalPending,
                        approval_id: Some("apr_1".to_string()),
                        model: None,
                        retry_at_ms: None,
                        asked: None,
                    },
                    Denial {
                        subject: Some("org".to_string()),
                        group: None,
                        reason: Reason::UserBlocked,
                        approval_id: None,
                        model: None,
                        retry_at_ms: None,
                        asked: None,
                    },
                ],
                counters: counters(),
                decided_at_ms: 0,
                run: None,
                fitted: None,
            },
            Decision::denied(Reason::NoSubscription, 0),
            Decision::unpriced("dollars", "gpt-x", 0),
        ];
        let user = "user \"1\"";
        for d in &decisions {
            assert_eq!(text(reserve(d, user)), serde_json::to_string(&wire(d, user)).unwrap());
        }
        // A reserve of alternatives: the chosen one's answer, its index and each one denied
        // before it; a denial of all names no choice.
        let alternatives: Vec<EventInput> = ["gpt-4o", "gpt-4o \"mini\"", "o3"]
            .iter()
            .map(|event| EventInput {
                user: crate::quota::UserId::parse("u1").unwrap(),
                event: event.to_string(),
                quantity: Milli(1_000),
                metadata: Default::default(),
                step: None,
                fit: Default::default(),
                fallback: None,
            })
            .collect();
        let passed = vec![(0, decisions[1].clone()), (1, decisions[3].clone())];
        for fit in [
            FirstFit::held(decisions[0].clone(), 2, passed.clone()),
            FirstFit::denied(passed),
        ] {
            let answer = ReserveAnswer {
                chosen: fit.chosen,
                alternatives: Some(
                    fit.passed
                        .iter()
                        .map(|(i, d)| {
                            let w = wire(d, user);
                            AlternativeAnswer {
                                index: *i,
                                event: alternatives[*i].event.clone(),
                                reasons: w.reasons,
                                denied_by: w.denied_by,
                                denials: w.denials,
                                counters: w.counters,
                            }
                        })
                        .collect(),
                ),
                ..wire(&fit.decision, user)
            };
            assert_eq!(
                text(reserve_first(&fit, &alternatives, user)),
                serde_json::to_string(&answer).unwrap()
            );
        }
    }

    /// A decision's wire type, as serde writes it.
    fn wire(d: &Decision, user: &str) -> ReserveAnswer {
        ReserveAnswer {
            allowed: d.allowed,
            reservation_id: d.granted.as_ref().map(|g| g.reservation_id.as_str().to_string()),
            expires_at: d.granted.as_ref().map(|g| crate::json::rfc3339(g.expires_at_ms)),
            reasons: d.reasons.iter().map(|r| r.code()).collect(),
            denied_by: d.denied_by.iter().filter_map(|x| x.group.clone()).collect(),
            denials: d
                .denied_by
                .iter()
                .map(|x| DenialAnswer {
                    subject_id: x.subject.as_deref().unwrap_or(user).to_string(),
                    group_id: x.group.clone(),
                    reason: x.reason.code(),
                    approval_id: x.approval_id.clone(),
                    model: x.model.clone(),
                })
                .collect(),
            counters: crate::api::dto::counters(&d.counters, user),
            run: d.run.as_ref().map(step_run_wire),
            granted: d.fitted.map(|f| crate::api::dto::GrantedAnswer {
                quantity: f.quantity,
                output_tokens: f.output_tokens,
            }),
            chosen: None,
            alternatives: None,
        }
    }

    #[test]
    fn settle_and_track_answers_are_written_as_serde_writes_their_wire_types() {
        let (user, list) = ("u1", counters());
        let settled = Settled {
            status: ReservationState::Committed,
            late: true,
            counters: list.clone(),
            parent: None,
        };
        let commit_wire = CommitAnswer {
            reservation_id: "r_1".to_string(),
            status: "committed",
            late: true,
            counters: crate::api::dto::counters(&list, user),
            over_quota: over(&list),
        };
        assert_eq!(
            text(commit("r_1", &settled, user)),
            serde_json::to_string(&commit_wire).unwrap()
        );
        let release_wire = ReleaseAnswer {
            reservation_id: "r_1".to_string(),
            status: "committed",
            counters: crate::api::dto::counters(&list, user),
        };
        assert_eq!(
            text(release("r_1", &settled, user)),
            serde_json::to_string(&release_wire).unwrap()
        );
        let track_wire = TrackAnswer {
            counters: crate::api::dto::counters(&list, user),
            over_quota: over(&list),
            run: None,
        };
        assert_eq!(
            text(track(&list, None, user)),
            serde_json::to_string(&track_wire).unwrap()
        );
        let step_wire = TrackAnswer {
            run: Some(step_run_wire(&progress())),
            ..track_wire
        };
        assert_eq!(
            text(track(&list, Some(&progress()), user)),
            serde_json::to_string(&step_wire).unwrap()
        );
        assert!(!over(&list).is_empty(), "one counter is past its quota");
    }
}
