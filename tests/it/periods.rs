//! Monthly windows over HTTP: calendar months and months from the subscription's start.

use chrono::{Datelike, Duration, Months, SecondsFormat, Timelike, Utc};
use serde_json::json;

use crate::support::{spawn_app, TestApp};

#[tokio::test]
async fn monthly_counters_follow_their_anchor() {
    let app = spawn_app().await;
    app.put_plan(json!({
        "id": "plan_pro", "periodType": "monthly", "periodAnchor": "subscription_start",
        "groups": [
            { "id": "by_subscription", "unit": "count", "quota": 20, "matches": [ { "event": "*" } ] },
            { "id": "by_calendar", "unit": "count", "quota": 20, "period": { "anchor": "calendar" }, "matches": [ { "event": "*" } ] }
        ]
    }))
    .await;
    let now = Utc::now();
    let started = (now - Duration::days(40)).with_nanosecond(0).unwrap();
    let started_text = started.to_rfc3339_opts(SecondsFormat::Millis, true);
    app.subscribe("pat", "plan_pro", Some(&started_text)).await;

    let usage = app.usage("pat").await;
    // 40 days ago plus one calendar month (day clamped) is at most 40 days, so it has begun.
    let boundary = started.checked_add_months(Months::new(1)).unwrap();
    let expected = if boundary <= now { boundary } else { started };
    let by_sub = TestApp::counter(&usage, "by_subscription");
    assert_eq!(
        by_sub["periodStart"],
        expected.to_rfc3339_opts(SecondsFormat::Millis, true)
    );
    assert_eq!(usage["period"]["start"], by_sub["periodStart"]);

    let by_cal = TestApp::counter(&usage, "by_calendar");
    let first_of_month = now
        .date_naive()
        .with_day(1)
        .unwrap()
        .and_hms_opt(0, 0, 0)
        .unwrap()
        .and_utc();
    assert_eq!(
        by_cal["periodStart"],
        first_of_month.to_rfc3339_opts(SecondsFormat::Millis, true)
    );
    let next_month = first_of_month.checked_add_months(Months::new(1)).unwrap();
    assert_eq!(
        by_cal["resetsAt"],
        next_month.to_rfc3339_opts(SecondsFormat::Millis, true)
    );
}

#[tokio::test]
async fn a_new_start_date_starts_new_subscription_periods() {
    let app = spawn_app().await;
    app.put_plan(json!({
        "id": "plan_pro", "periodType": "month", "periodAnchor": "subscription_start",
        "groups": [ { "id": "renders", "unit": "count", "quota": 1, "matches": [ { "event": "*" } ] } ]
    }))
    .await;
    let long_ago = (Utc::now() - Duration::days(10)).to_rfc3339_opts(SecondsFormat::Millis, true);
    app.subscribe("ren", "plan_pro", Some(&long_ago)).await;
    let first = app.reserve(json!({ "userId": "ren", "event": "e" })).await;
    app.commit(first["reservationId"].as_str().unwrap(), None).await;
    assert_eq!(
        app.reserve(json!({ "userId": "ren", "event": "e" })).await["allowed"],
        false
    );

    // A renewal: the subscription starts again now, with a fresh month.
    let renewed = Utc::now().to_rfc3339_opts(SecondsFormat::Millis, true);
    app.subscribe("ren", "plan_pro", Some(&renewed)).await;
    assert_eq!(
        app.reserve(json!({ "userId": "ren", "event": "e" })).await["allowed"],
        true
    );
}

#[tokio::test]
async fn what_is_decided_just_before_a_start_counts_in_the_first_period() {
    let app = spawn_app().await;
    app.put_plan(json!({
        "id": "plan_pro", "periodType": "month", "periodAnchor": "subscription_start",
        "groups": [ { "id": "renders", "unit": "count", "quota": 1, "matches": [ { "event": "*" } ] } ]
    }))
    .await;
    // A start a few seconds ahead of the gateway's clock (a caller whose clock runs ahead) is
    // taken; what the user is admitted until then is the first month's, not the month before.
    let started = (Utc::now() + Duration::seconds(3)).with_nanosecond(0).unwrap();
    let started_text = started.to_rfc3339_opts(SecondsFormat::Millis, true);
    app.subscribe("early", "plan_pro", Some(&started_text)).await;
    let first = app.reserve(json!({ "userId": "early", "event": "e" })).await;
    assert_eq!(first["allowed"], true);
    app.commit(first["reservationId"].as_str().unwrap(), None).await;

    let usage = app.usage("early").await;
    let renders = TestApp::counter(&usage, "renders");
    assert_eq!(renders["periodStart"], started_text);
    let month_later = started.checked_add_months(Months::new(1)).unwrap();
    assert_eq!(
        renders["resetsAt"],
        month_later.to_rfc3339_opts(SecondsFormat::Millis, true)
    );
    assert_eq!(renders["used"], 1);
    // The month's one render is spent, before its start as after it.
    assert_eq!(
        app.reserve(json!({ "userId": "early", "event": "e" })).await["allowed"],
        false
    );
}
