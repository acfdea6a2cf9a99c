//! A balance group's allowance as usage reads it: the quota in force, whether or not a reserve
//! opened it since the plan changed, read in the same call as the counters it sits beside.

use futures::future::join_all;
use serde_json::{json, Value};

use crate::support::{spawn_app, TestApp};

/// A plan whose `credits` group has an allowance of `amount` a month, chats at 10 credits each.
fn plan(id: &str, amount: u32) -> Value {
    json!({ "id": id, "periodType": "month", "groups": [
        { "id": "credits", "balance": "credits", "allowance": { "amount": amount },
          "matches": [ { "event": "chat", "measure": { "rate": 10 } } ] } ] })
}

fn chat(user: &str) -> Value {
    json!({ "userId": user, "event": "chat" })
}

/// quota, used, reserved and remaining of the user's `credits` counter.
async fn credits(app: &TestApp, user: &str) -> (Value, Value, Value, Value) {
    let usage = app.usage(user).await;
    let c = TestApp::counter(&usage, "credits");
    (
        c["quota"].clone(),
        c["used"].clone(),
        c["reserved"].clone(),
        c["remaining"].clone(),
    )
}

async fn spend(app: &TestApp, user: &str, times: usize) {
    for _ in 0..times {
        let held = app.reserve(chat(user)).await;
        assert_eq!(held["allowed"], true, "{held}");
        let (status, body) = app.commit(held["reservationId"].as_str().unwrap(), None).await;
        assert_eq!(status, 200, "{body}");
    }
}

/// 50 of 100 spent, then moved to a plan of 1,000: usage at once says 950 remain, as the
/// reserve that would open the new amount would find.
#[tokio::test]
async fn usage_right_after_an_upgrade_reads_the_new_allowance_less_what_was_spent() {
    let app = spawn_app().await;
    app.put_plan(plan("plan_cu_free", 100)).await;
    app.put_plan(plan("plan_cu_pro", 1_000)).await;
    app.subscribe("cu", "plan_cu_free", None).await;
    spend(&app, "cu", 5).await;
    assert_eq!(credits(&app, "cu").await, (json!(100), json!(50), json!(0), json!(50)));

    app.subscribe("cu", "plan_cu_pro", None).await;
    assert_eq!(
        credits(&app, "cu").await,
        (json!(1000), json!(50), json!(0), json!(950))
    );
    // And back down: 50 remain of 100, not 950.
    app.subscribe("cu", "plan_cu_free", None).await;
    assert_eq!(credits(&app, "cu").await, (json!(100), json!(50), json!(0), json!(50)));
}

/// Before any reserve of the period opened it, the allowance is read whole.
#[tokio::test]
async fn usage_before_any_reserve_reads_the_whole_allowance() {
    let app = spawn_app().await;
    app.put_plan(plan("plan_cu_fresh", 100)).await;
    app.subscribe("fresh", "plan_cu_fresh", None).await;
    assert_eq!(
        credits(&app, "fresh").await,
        (json!(100), json!(0), json!(0), json!(100))
    );
}

/// Reserves, commits and plan changes racing usage reads: every read adds up in one instant
/// (used + reserved + remaining = the quota in force, with no grants beside the allowance),
/// which a read of the counters and of the wallet at two instants would not. Ten rounds of
/// eight reserves (half committed), a plan change and eight reads, all in parallel.
#[tokio::test]
async fn usage_read_while_reserves_and_plan_changes_race_always_adds_up() {
    let app = spawn_app().await;
    app.put_plan(plan("plan_cu_small", 1_000)).await;
    app.put_plan(plan("plan_cu_big", 2_000)).await;
    app.subscribe("race", "plan_cu_small", None).await;
    for round in 0..10 {
        let writers = (0..9).map(|i| {
            let app = &app;
            async move {
                if i == 0 {
                    let to = if round % 2 == 0 { "plan_cu_big" } else { "plan_cu_small" };
                    app.subscribe("race", to, None).await;
                    return;
                }
                let held = app.reserve(chat("race")).await;
                if held["allowed"] == true && i % 2 == 0 {
                    app.commit(held["reservationId"].as_str().unwrap(), None).await;
                }
            }
        });
        let readers = (0..8).map(|_| credits(&app, "race"));
        let (_, reads) = futures::join!(join_all(writers), join_all(readers));
        for (quota, used, reserved, remaining) in reads {
            let sum = used.as_f64().unwrap() + reserved.as_f64().unwrap() + remaining.as_f64().unwrap();
            assert_eq!(
                sum,
                quota.as_f64().unwrap(),
                "round {round}: quota {quota}, used {used}, reserved {reserved}, remaining {remaining}"
            );
        }
    }
}
