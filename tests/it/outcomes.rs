//! Every verb of the service layer reports one outcome to its subscribers: what it was, for
//! whom, and what came of it.

use std::sync::{Arc, Mutex};

use quota_gateway::gateway::audit::Actor;
use quota_gateway::gateway::ParentChange;
use quota_gateway::gateway::{Commit, Effect, Outcome, Settlement, Subscriber, Verb};
use quota_gateway::surface::quota::{EventInput, Milli, Plan, UserId};
use serde_json::json;

use crate::support::{service_on_shared, unique_prefix};

/// What a subscriber kept of each outcome: the verb, the user, and a word for the effect.
#[derive(Default)]
struct Recorder(Mutex<Vec<(Verb, Option<String>, String)>>);

impl Subscriber for Recorder {
    fn on_outcome(&self, outcome: &Outcome<'_>) {
        let effect = match &outcome.effect {
            Effect::Decided(d) if d.allowed => "allowed".to_string(),
            Effect::Decided(d) => format!(
                "denied by {}",
                d.denied_by
                    .iter()
                    .filter_map(|d| d.group.as_deref())
                    .collect::<Vec<_>>()
                    .join(",")
            ),
            Effect::Counted(counters) => format!("counted {}", counters.len()),
            Effect::Settled { state, late, .. } => format!("{} late={late}", state.as_str()),
            Effect::Answered => "answered".to_string(),
            Effect::Failed(err) => format!("failed: {err}"),
        };
        let user = outcome.user.map(|u| u.as_str().to_string());
        self.0.lock().unwrap().push((outcome.verb, user, effect));
    }
}

#[tokio::test]
async fn each_call_reports_one_outcome_with_its_verb_user_and_effect() {
    let gateway = service_on_shared(&unique_prefix()).await;
    let recorder = Arc::new(Recorder::default());
    gateway.node().add_subscriber(recorder.clone());

    let doc = serde_json::from_value(json!({ "periodType": "lifetime",
        "groups": [ { "id": "g", "unit": "count", "quota": 1, "matches": [ { "event": "*" } ] } ] }))
    .unwrap();
    let plan = Plan::from_doc("plan_one", doc).unwrap();
    let user = UserId::parse("u").unwrap();
    let input = EventInput {
        user: user.clone(),
        event: "e".into(),
        quantity: Milli::from_units(1),
        metadata: Default::default(),
        step: None,
        fit: Default::default(),
        fallback: None,
    };
    gateway.accounts().put_plan("p", &plan, &Actor::root()).await.unwrap();
    gateway
        .accounts()
        .subscribe("p", &user, &plan, None, None, ParentChange::Keep, &Actor::root())
        .await
        .unwrap();
    let granted = gateway
        .data()
        .reserve("p", &input, 60_000, None)
        .await
        .unwrap()
        .granted
        .unwrap();
    gateway.data().check("p", &input).await.unwrap();
    let id = granted.reservation_id.clone();
    assert!(matches!(
        gateway
            .data()
            .commit(
                "p",
                &id,
                Commit {
                    key_id: "key_test",
                    ..Commit::default()
                }
            )
            .await
            .unwrap(),
        Settlement::Settled(_)
    ));
    gateway.data().release("p", &id).await.unwrap();
    gateway.data().track("p", &input, None, None, "key_test").await.unwrap();

    let u = Some("u".to_string());
    let seen = recorder.0.lock().unwrap().clone();
    assert_eq!(
        seen,
        vec![
            (Verb::PutPlan, None, "answered".to_string()),
            (Verb::Subscribe, u.clone(), "answered".to_string()),
            (Verb::Reserve, u.clone(), "allowed".to_string()),
            (Verb::Check, u.clone(), "denied by g".to_string()),
            (Verb::Commit, u.clone(), "committed late=false".to_string()),
            (Verb::Release, u.clone(), "answered".to_string()),
            (Verb::Track, u.clone(), "counted 1".to_string()),
        ]
    );
}
