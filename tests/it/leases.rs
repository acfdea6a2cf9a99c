//! Team budgets on leased slices, through the API (docs/decisions/0060-leased-slices.md):
//! members decide in their own slot on slices of their team's pool, the pool counts what it
//! leased as held so it is never passed, and what a slice used reaches the pool exactly once
//! when the slice closes, its rest going back.

use futures_util::future::join_all;
use serde_json::{json, Value};

use crate::support::redis::{self, Stepped};
use crate::support::{spawn_app_with, unique_prefix, TestApp};

/// Members of 1,000 each under a team pool of `pool`.
pub(crate) async fn plans(app: &TestApp, pool: u64) {
    plans_of(app, 1000, pool).await;
}

/// Members of `own` each under a team pool of `pool`.
async fn plans_of(app: &TestApp, own: u64, pool: u64) {
    app.put_plan(json!({ "id": "plan_member", "periodType": "month", "groups": [
        { "id": "own", "unit": "count", "quota": own, "matches": [ { "event": "*" } ] } ] }))
        .await;
    app.put_plan(json!({ "id": "plan_team", "periodType": "month", "groups": [
        { "id": "pool", "unit": "count", "quota": pool, "matches": [ { "event": "*" } ] } ] }))
        .await;
}

pub(crate) async fn member_of(app: &TestApp, user: &str, team: &str) {
    let (status, body) = app
        .json(
            reqwest::Method::PUT,
            &format!("/v1/users/{user}/subscription"),
            Some(json!({ "planId": "plan_member", "parentId": team })),
        )
        .await;
    assert!(status.is_success(), "{status} {body}");
}

/// A node that leases, with slices of `slice_seconds` however far the team is from its limit.
/// Its Redis calls may take 5 s rather than the tests' 250 ms: these tests load a shared
/// machine with thousands of parallel calls, and what they test is exactness, not latency (a
/// call past the timeout answers 503).
pub(crate) async fn leasing(target: &redis::Target, prefix: &str, key: Option<&str>, slice_seconds: u64) -> TestApp {
    leasing_up_to(target, prefix, key, slice_seconds, slice_seconds).await
}

/// `leasing`'s, its slices living up to `longest` seconds far from the team's limit.
pub(crate) async fn leasing_up_to(
    target: &redis::Target,
    prefix: &str,
    key: Option<&str>,
    slice_seconds: u64,
    longest: u64,
) -> TestApp {
    spawn_app_with(target, prefix, key, |c| {
        c.leases = true;
        c.slice_seconds = slice_seconds;
        c.slice_max_seconds = longest;
        c.command_timeout_ms = 5_000;
    })
    .await
}

/// A team of `members` members (m0, m1, ...) under a pool of `pool` units, on a stepped clock,
/// with a node whose slices last a second near the pool's limit and up to three far from it.
pub(crate) async fn team(members: usize, pool: u64) -> (Stepped, TestApp, Vec<String>) {
    team_with_slices_of(members, pool, 1, 3).await
}

/// `team`'s, with slices of `slice_seconds` up to `longest`.
async fn team_with_slices_of(
    members: usize,
    pool: u64,
    slice_seconds: u64,
    longest: u64,
) -> (Stepped, TestApp, Vec<String>) {
    let clock = Stepped::start();
    let app = leasing_up_to(&clock.target(), &unique_prefix(), None, slice_seconds, longest).await;
    plans(&app, pool).await;
    app.subscribe("team_acme", "plan_team", None).await;
    let names: Vec<String> = (0..members).map(|i| format!("m{i}")).collect();
    for m in &names {
        member_of(&app, m, "team_acme").await;
    }
    (clock, app, names)
}

/// The leases the team's slot holds (its reservations whose ids are leases').
fn leases_of(prefix: &str, team: &str) -> usize {
    let res = format!("{prefix}:{{default:{team}}}:res");
    let ids: Vec<String> = redis::shared().query(&["HKEYS", &res]);
    ids.iter().filter(|id| id.starts_with('l')).count()
}

pub(crate) fn pool(usage: &Value) -> (f64, f64) {
    let c = TestApp::counter(usage, "pool");
    (c["used"].as_f64().unwrap(), c["reserved"].as_f64().unwrap())
}

/// What the pool has leased that members have neither used nor hold (0 when absent).
pub(crate) fn leased(usage: &Value) -> f64 {
    TestApp::counter(usage, "pool")["leased"].as_f64().unwrap_or(0.0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn members_decide_on_slices_in_their_own_slot_and_the_pool_counts_what_it_leased() {
    let prefix = unique_prefix();
    let target = redis::shared().target();
    let one = leasing(&target, &prefix, None, 10).await;
    let two = leasing(&target, &prefix, Some(&one.key), 10).await;
    plans(&one, 10_000).await;
    one.subscribe("team_acme", "plan_team", None).await;
    let members: Vec<String> = (0..10).map(|i| format!("m{i}")).collect();
    for m in &members {
        member_of(&one, m, "team_acme").await;
    }
    let nodes = [&one, &two];
    let answers =
        join_all((0..300).map(|i| nodes[i % 2].reserve(json!({ "userId": members[i % 10], "event": "render" })))).await;
    for a in &answers {
        assert_eq!(a["allowed"], true, "{a}");
        // The pool's counter is answered with its subject, as the walk answers it.
        let counters = a["counters"].as_array().unwrap();
        assert!(
            counters
                .iter()
                .any(|c| c["groupId"] == "pool" && c["subjectId"] == "team_acme"),
            "{a}"
        );
    }
    // The pool ran a take per slice, not a script per reserve: a slice serves 32 reserves or
    // more, and racing reserves of one member may take a slice each that is then given back.
    let leases = leases_of(&prefix, "team_acme");
    assert!((1..=30).contains(&leases), "{leases} leases for 300 reserves");
    // Usage reads the slices: the 300 holds are the pool's reserved, and what its slices have
    // left is leased apart; used, held and leased never pass its quota.
    let usage = one.usage("team_acme").await;
    let (used, reserved) = pool(&usage);
    assert_eq!((used, reserved), (0.0, 300.0));
    assert!(leased(&usage) > 0.0 && reserved + leased(&usage) <= 10_000.0, "{usage}");

    // Commits count on each member at once, and on its slice.
    let ids: Vec<&str> = answers.iter().map(|a| a["reservationId"].as_str().unwrap()).collect();
    for (i, outcome) in join_all(ids.iter().enumerate().map(|(i, id)| nodes[i % 2].commit(id, None)))
        .await
        .into_iter()
        .enumerate()
    {
        assert!(outcome.0.is_success(), "commit {i}: {outcome:?}");
    }
    for m in &members {
        assert_eq!(TestApp::counter(&one.usage(m).await, "own")["used"], 30);
    }
    // The team's ledger has each commit as its level's entry, naming the member, moved from
    // the members' slots after their commits (waited for: the moves run after the answers).
    let mut team = Vec::new();
    for _ in 0..100 {
        team = one.usage_events_all("userId=team_acme&limit=1000").await;
        if team.len() >= 300 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(team.len(), 300);
    for m in &members {
        let theirs: Vec<&Value> = team.iter().filter(|e| e["memberId"] == json!(m)).collect();
        assert_eq!(theirs.len(), 30, "{m}");
        assert!(theirs.iter().all(|e| e["kind"] == "commit"), "{:?}", theirs[0]);
    }
    // ... and the members' own ledgers none of the team's group.
    let own = one.usage_events_all("userId=m0&limit=1000").await;
    assert_eq!(own.len(), 30);
    assert!(
        own.iter()
            .all(|e| e.to_string().contains("\"own\"") && !e.to_string().contains("\"pool\"")),
        "{}",
        own[0]
    );
}

/// Another node of `app`'s on `clock`'s Redis that leases slices of a second, started now (after
/// the test's steps).
pub(crate) async fn leasing_after_steps(clock: &Stepped, app: &TestApp) -> TestApp {
    leasing(&clock.target(), &app.prefix, Some(&app.key), 1).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn what_a_slice_used_reaches_the_pool_once_when_it_closes_and_its_rest_goes_back() {
    let clock = Stepped::start();
    let prefix = unique_prefix();
    let app = leasing(&clock.target(), &prefix, None, 1).await;
    plans(&app, 10_000).await;
    app.subscribe("team_acme", "plan_team", None).await;
    let members = ["a", "b", "c"];
    for m in members {
        member_of(&app, m, "team_acme").await;
    }
    for m in members {
        for i in 0..5 {
            let held = app.reserve(json!({ "userId": m, "event": "render" })).await;
            if (m, i) == ("a", 0) {
                // The pool's counter as the member's slice shows it: as its take left it, the
                // slice of 32 held there.
                let pool = TestApp::counter(&held, "pool");
                assert_eq!(
                    (pool["used"].as_f64(), pool["reserved"].as_f64()),
                    (Some(0.0), Some(32.0)),
                    "{held}"
                );
            }
            let (status, body) = app.commit(held["reservationId"].as_str().unwrap(), None).await;
            assert!(status.is_success(), "{body}");
        }
    }
    // Nothing stated yet: the pool's level holds three slices of 32 and has counted no use;
    // its usage reads the slices, so shows their 15 used and 81 left leased.
    let usage = app.usage("team_acme").await;
    assert_eq!((pool(&usage), leased(&usage)), ((15.0, 0.0), 81.0));
    // The team's page says it beside what is held.
    let (_, page) = crate::dashboard::Dashboard::sign_in(&app)
        .await
        .get("/dashboard/users/team_acme")
        .await;
    assert!(page.contains("81 leased"), "{page}");

    // Past the slices' end, each member's next reserve closes its slice: its 5 reach the
    // pool, its 27 unused go back, and a new slice is leased.
    clock.step(2_000);
    let later = leasing_after_steps(&clock, &app).await;
    let mut open = Vec::new();
    for m in members {
        let held = later.reserve(json!({ "userId": m, "event": "render" })).await;
        assert_eq!(held["allowed"], true, "{held}");
        open.push(held["reservationId"].as_str().unwrap().to_string());
    }
    // The new slices: 32 each, twice what the last one used being less, one unit of each held.
    let usage = later.usage("team_acme").await;
    assert_eq!((pool(&usage), leased(&usage)), ((15.0, 3.0), 93.0));
    // Each renewal ran one script at the team's slot: its take applied the closed slice's
    // statement, and the reserve placing the new lease removed it from the outbox, so nothing
    // settles it again.
    let metrics = later.metrics().await;
    let script = |name: &str| {
        TestApp::metric(
            &metrics,
            &format!(r#"qg_script_duration_seconds_count{{script="{name}"}}"#),
        )
    };
    assert_eq!((script("take_slice"), script("settle_slice")), (3, 0), "{metrics}");
    let outboxes: Vec<String> = clock.redis.query(&["KEYS", &format!("{prefix}:*:outbox")]);
    for outbox in outboxes {
        let entries: Vec<(String, Vec<String>)> = clock.redis.query(&["XRANGE", &outbox, "-", "+"]);
        assert!(
            !entries
                .iter()
                .any(|(_, kv)| kv.chunks(2).any(|p| p == ["type", "slice"])),
            "{entries:?}"
        );
    }
    // The pool's level counted the closed slices' 15 once: the same whatever reads it.
    let ctr = format!("{}:{{default:team_acme}}:ctr", later.prefix);
    let fields: Vec<(String, String)> = clock.redis.query(&["HGETALL", &ctr]);
    let level_used = fields
        .iter()
        .find(|(f, _)| f.starts_with("pool@") && f.ends_with(":u"))
        .unwrap();
    assert_eq!(level_used.1, "15000");
    // A release gives the hold back to the slice, not to the pool: the slice is still leased.
    for id in &open {
        assert!(later.release(id).await.0.is_success());
    }
    let usage = later.usage("team_acme").await;
    assert_eq!((pool(&usage), leased(&usage)), ((15.0, 0.0), 96.0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_slice_spent_before_its_end_is_followed_by_a_lifes_worth_at_the_rate_it_was_spent() {
    // Slices of ten minutes, of a lifetime pool (no period's end cuts them short). "fast"
    // spends its first slice (32) at once, "steady" in a quarter of its life: each next slice
    // is twice what the last met, scaled to a whole life at the rate it was met, at most
    // sixteen times over (a burst does not lease a team's headroom in one take).
    let clock = Stepped::start();
    let app = leasing(&clock.target(), &unique_prefix(), None, 600).await;
    app.put_plan(json!({ "id": "plan_member", "groups": [
        { "id": "own", "unit": "count", "quota": 1000, "period": { "type": "lifetime" }, "matches": [ { "event": "*" } ] } ] }))
        .await;
    app.put_plan(json!({ "id": "plan_team", "groups": [
        { "id": "pool", "unit": "count", "quota": 100000, "period": { "type": "lifetime" }, "matches": [ { "event": "*" } ] } ] }))
        .await;
    app.subscribe("team_acme", "plan_team", None).await;
    for m in ["fast", "steady"] {
        member_of(&app, m, "team_acme").await;
    }
    async fn spend(app: &TestApp, m: &str) {
        let held = app.reserve(json!({ "userId": m, "event": "render" })).await;
        assert_eq!(held["allowed"], true, "{held}");
        let (status, body) = app.commit(held["reservationId"].as_str().unwrap(), None).await;
        assert!(status.is_success(), "{body}");
    }
    for _ in 0..32 {
        spend(&app, "fast").await;
        spend(&app, "steady").await;
    }
    // The 33rd of "fast" finds its slice spent within seconds of its take: 2 x 32 x 16. (The
    // team's usage reads the members' slices: the 64 they used, and what they hold.)
    let next = app.reserve(json!({ "userId": "fast", "event": "render" })).await;
    assert_eq!(next["allowed"], true, "{next}");
    let usage = app.usage("team_acme").await;
    assert_eq!((pool(&usage), leased(&usage)), ((64.0, 1.0), 1023.0), "{usage}");
    // A quarter of a life (and the seconds this test took) later, "steady" finds its slice
    // spent: twice 32, scaled by a little under 4, rounded up to whole units (a count group's
    // team never reads a fraction of a call leased).
    clock.step(150_000);
    let later = leasing(&clock.target(), &app.prefix, Some(&app.key), 600).await;
    let next = later.reserve(json!({ "userId": "steady", "event": "render" })).await;
    assert_eq!(next["allowed"], true, "{next}");
    let usage = later.usage("team_acme").await;
    assert_eq!(pool(&usage), (64.0, 2.0), "{usage}");
    let steady = leased(&usage) - 1023.0 + 1.0;
    assert!(steady > 250.0 && steady <= 256.0, "{usage}");
    assert_eq!(steady.fract(), 0.0, "{usage}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_lease_is_named_apart_from_its_members_id_so_a_long_id_never_lengthens_a_slice() {
    // A member's id of the longest kind (256 bytes): its reservation ids carry it, base64url;
    // its leases, named in every slice line, closed lease's fields and record, must not.
    let (clock, app, _) = team(0, 10_000).await;
    let prefix = app.prefix.clone();
    let member = "m".repeat(256);
    member_of(&app, &member, "team_acme").await;
    let first = app.reserve(json!({ "userId": member, "event": "render" })).await;
    assert_eq!(first["allowed"], true, "{first}");
    // Past the slice's end (three seconds: the team is far from its limit), with the first
    // hold still open: the renewal closes the slice and keeps its lease's counters (the open
    // hold settles there), then places the next.
    clock.step(4_000);
    let later = leasing_after_steps(&clock, &app).await;
    let second = later.reserve(json!({ "userId": member, "event": "render" })).await;
    assert_eq!(second["allowed"], true, "{second}");

    let ctr = format!("{prefix}:{{default:{member}}}:ctr");
    let fields: Vec<(String, String)> = clock.redis.query(&["HGETALL", &ctr]);
    let lines: Vec<&String> = fields
        .iter()
        .filter(|(f, _)| f.starts_with('^') && !f.contains(':'))
        .map(|(_, v)| v)
        .collect();
    assert_eq!(lines.len(), 1, "{fields:?}");
    let lease = lines[0].split('|').nth(3).unwrap();
    // "l", the call's 22 random characters, ".", the hold's index.
    assert!(lease.starts_with('l') && lease.len() < 30, "{lease}");
    assert!(
        fields.iter().any(|(f, _)| f.contains('^') && f.ends_with(":n")),
        "no closed lease: {fields:?}"
    );
    for (field, value) in &fields {
        assert!(field.len() < 80 && value.len() < 80, "{field} = {value}");
    }
    // The team's leases and the member's records name them the same short way.
    let team_res = format!("{prefix}:{{default:team_acme}}:res");
    let leases: Vec<String> = clock.redis.query(&["HKEYS", &team_res]);
    assert!(leases.iter().any(|id| id == lease), "{leases:?}");
    assert!(leases.iter().all(|id| id.len() < 30), "{leases:?}");
    let res = format!("{prefix}:{{default:{member}}}:res");
    let record: String = clock
        .redis
        .query(&["HGET", &res, second["reservationId"].as_str().unwrap()]);
    assert!(record.contains(&format!(r#""sl":{{"2":"{lease}"}}"#)), "{record}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_intent_a_dead_node_left_is_ended_by_a_sweeper_and_its_lease_can_never_be_taken() {
    use base64::Engine;
    let prefix = unique_prefix();
    let target = redis::shared().target();
    // The sweeper's pace scaled down: a grace of 0.1 s, a sweep every 5 s.
    let app = spawn_app_with(&target, &prefix, None, |c| {
        c.leases = true;
        c.webhook_retry_scale = 0.01;
    })
    .await;
    plans(&app, 10_000).await;
    app.subscribe("team_acme", "plan_team", None).await;
    member_of(&app, "m1", "team_acme").await;
    let calls = app.redis_calls().await;
    // A node wrote m1's intent to take a lease (its reserve was short), then died.
    let keys = quota_gateway::surface::store::layout::Layout::new(&prefix).user("default", "m1");
    let tag = keys
        .ctr()
        .split_once('{')
        .unwrap()
        .1
        .split_once('}')
        .unwrap()
        .0
        .to_string();
    let team = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode("team_acme");
    let _: String = redis::shared().query(&[
        "XADD",
        keys.outbox(),
        "*",
        "type",
        "lease",
        "tag",
        &tag,
        "p",
        &team,
        "ls",
        "lr_dead.1",
    ]);
    // Another node's sweeper ends it: gone from the outbox, and the lease settled at the team
    // as nothing, so a take arriving late under its id leases nothing.
    let team_res = format!("{prefix}:{{default:team_acme}}:res");
    let named = |kv: &Vec<String>| kv.contains(&"lr_dead.1".to_string());
    let (mut ended, mut left) = (None, Vec::new());
    for _ in 0..150 {
        ended = redis::shared().query::<Option<String>>(&["HGET", &team_res, "lr_dead.1"]);
        left = redis::shared().query::<Vec<(String, Vec<String>)>>(&["XRANGE", keys.outbox(), "-", "+"]);
        if ended.is_some() && !left.iter().any(|(_, kv)| named(kv)) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let ended = ended.expect("the sweeper settles the intent's lease within 15 s");
    assert!(ended.contains(r#""s":"released""#), "{ended}");
    assert!(!left.iter().any(|(_, kv)| named(kv)), "{left:?}");
    // On one server the sweep read the 16,384 slots' outboxes in pipelines, not a round trip
    // each (a Cluster reads one slot a call: a pipeline keeps to one slot there).
    if std::env::var("QG_TEST_TOPOLOGY").as_deref() != Ok("cluster") {
        let sweeping = app.redis_calls().await - calls;
        assert!(sweeping < 16_384.0, "{sweeping} round trips while the sweeper ran");
    }
}

/// The fields `member`'s counters keep of its closed leases (`<slice>^<lease>:<name>`).
fn closed_lease_fields(clock: &Stepped, prefix: &str, member: &str) -> Vec<String> {
    let fields: Vec<String> = clock
        .redis
        .query(&["HKEYS", &format!("{prefix}:{{default:{member}}}:ctr")]);
    fields.into_iter().filter(|f| f.matches('^').count() == 3).collect()
}

/// Waits until team_acme's own counter of its pool has counted `used` milli-units (what
/// statements of its members' slices brought), at most 5 s.
async fn counted_at_the_team(clock: &Stepped, prefix: &str, used: i64) {
    let counted = || {
        let fields: Vec<String> = clock
            .redis
            .query(&["HGETALL", &format!("{prefix}:{{default:team_acme}}:ctr")]);
        fields
            .chunks(2)
            .filter(|kv| kv[0].starts_with("pool@") && kv[0].ends_with(":u"))
            .map(|kv| kv[1].parse::<i64>().unwrap())
            .sum::<i64>()
    };
    for _ in 0..100 {
        if counted() == used {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("the pool counted {} of {used}", counted());
}

/// A hold of `ttl` seconds by m0, admitted: its reservation id.
async fn hold(app: &TestApp, ttl: u64) -> String {
    let held = app
        .reserve(json!({ "userId": "m0", "event": "render", "ttlSeconds": ttl }))
        .await;
    assert_eq!(held["allowed"], true, "{held}");
    held["reservationId"].as_str().unwrap().to_string()
}

/// A node of minute-long slices, `ms` after the clock's time (Redis's, stepped).
async fn after(clock: &Stepped, ms: i64, app: &TestApp) -> TestApp {
    clock.step(ms);
    leasing(&clock.target(), &app.prefix, Some(&app.key), 60).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_closed_lease_keeps_its_fields_only_while_a_hold_on_it_may_still_change() {
    // Slices of a minute, so no slice ends but where the test steps the clock past it.
    let (clock, app, _) = team_with_slices_of(1, 10_000, 60, 60).await;
    let prefix = app.prefix.clone();
    let fields = || closed_lease_fields(&clock, &prefix, "m0");

    // Eight holds on a slice that then ends: the reserve closing it keeps its lease's fields,
    // where those holds still count.
    let mut open = Vec::new();
    for _ in 0..8 {
        open.push(hold(&app, 600).await);
    }
    let app = after(&clock, 61_000, &app).await;
    let live = hold(&app, 600).await;
    assert_eq!(fields().len(), 4);
    // Four committed and four released at once: the last to end states the lease's last, the
    // pool counts the four exactly once, and the fields stay a while (the team's usage reads
    // them until that statement has arrived).
    let ends = open.iter().enumerate().map(|(i, id)| {
        let app = &app;
        async move {
            if i % 2 == 0 {
                app.commit(id, None).await
            } else {
                app.release(id).await
            }
        }
    });
    assert!(join_all(ends).await.iter().all(|(status, _)| status.is_success()));
    let usage = team_usage_until(&app, |u| pool(u).0 == 4.0).await;
    assert_eq!(pool(&usage).0, 4.0);
    assert_eq!(fields().len(), 4);
    // Two minutes on, the next call that prunes takes them. (The commits' statements reach the
    // pool's own counter within moments, in the node's next batch of notes: waited for here, as
    // the clock steps two minutes at once.)
    assert!(app.release(&live).await.0.is_success());
    counted_at_the_team(&clock, &prefix, 4_000).await;
    let app = after(&clock, 121_000, &app).await;
    let id = hold(&app, 600).await;
    assert!(app.commit(&id, None).await.0.is_success());
    assert_eq!(fields(), Vec::<String>::new());
    assert_eq!(pool(&app.usage("team_acme").await).0, 5.0);

    // A hold that expires on its slice may still be committed late: the closed lease keeps its
    // fields (and says a hold of it expired), and the late commit reaches the pool.
    let late = hold(&app, 1).await;
    let app = after(&clock, 61_000, &app).await;
    let next = hold(&app, 600).await;
    let kept = fields();
    let expired: Vec<String> = clock.redis.query(&[
        "HMGET",
        &format!("{prefix}:{{default:m0}}:ctr"),
        kept.iter().find(|f| f.ends_with(":e")).unwrap(),
    ]);
    assert_eq!(expired, ["1"], "{kept:?}");
    let (status, body) = app.commit(&late, None).await;
    assert!(status.is_success() && body["late"] == true, "{status} {body}");
    // (Its lease had ended at the team, which counts the late use as its statement arrives.)
    let usage = team_usage_until(&app, |u| pool(u).0 == 6.0).await;
    assert_eq!(pool(&usage).0, 6.0);
    assert_eq!(fields(), kept);
    // Once no record of its holds can be left (a reservation's longest life, then the
    // retention), the next call that prunes takes them.
    assert!(app.release(&next).await.0.is_success());
    let app = after(&clock, 3 * 86_400_000 + 60_000, &app).await;
    let id = hold(&app, 600).await;
    assert!(app.commit(&id, None).await.0.is_success());
    assert_eq!(fields(), Vec::<String>::new());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_team_short_only_of_what_it_leased_recalls_its_idle_slices_and_admits_the_call() {
    let clock = Stepped::start();
    let prefix = unique_prefix();
    // Slices of an hour: none ends by its time within the test.
    let app = leasing(&clock.target(), &prefix, None, 3_600).await;
    plans(&app, 100).await;
    app.subscribe("team_acme", "plan_team", None).await;
    for m in ["a", "b", "c"] {
        member_of(&app, m, "team_acme").await;
    }
    // a and b each take a slice (32, then the 4 the threshold of 64 leaves) and use 1 of it.
    for m in ["a", "b"] {
        let held = app.reserve(json!({ "userId": m, "event": "render" })).await;
        let (status, body) = app.commit(held["reservationId"].as_str().unwrap(), None).await;
        assert!(status.is_success(), "{body}");
    }
    let usage = app.usage("team_acme").await;
    assert_eq!((pool(&usage), leased(&usage)), ((2.0, 0.0), 34.0));
    // 70 would fit the pool but for the 34 idle in a's and b's slices: the denial recalls
    // them (each used 1, the rest is back) and the call is decided again, and admitted.
    let admitted = app
        .reserve(json!({ "userId": "c", "event": "render", "quantity": 70 }))
        .await;
    assert_eq!(admitted["allowed"], true, "{admitted}");
    let usage = app.usage("team_acme").await;
    assert_eq!((pool(&usage), leased(&usage)), ((2.0, 70.0), 0.0));
    // Nothing is leased any more, so a call the pool cannot hold is refused as over its quota.
    let over = app
        .reserve(json!({ "userId": "c", "event": "render", "quantity": 29 }))
        .await;
    assert_eq!(over["reasons"], json!(["limit_reached"]), "{over}");
}

/// The team's usage, asked until `done` holds of it (slices end in the background).
async fn team_usage_until(app: &TestApp, done: impl Fn(&Value) -> bool) -> Value {
    let mut usage = app.usage("team_acme").await;
    for _ in 0..100 {
        if done(&usage) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        usage = app.usage("team_acme").await;
    }
    usage
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_member_leaving_its_team_or_a_change_of_the_teams_subscription_ends_their_slices_at_once() {
    let prefix = unique_prefix();
    // Slices of an hour: only the changes can end them within the test.
    let app = leasing(&redis::shared().target(), &prefix, None, 3_600).await;
    plans(&app, 10_000).await;
    app.subscribe("team_acme", "plan_team", None).await;
    for (m, units) in [("a", 1), ("b", 2)] {
        member_of(&app, m, "team_acme").await;
        let held = app
            .reserve(json!({ "userId": m, "event": "render", "quantity": units }))
            .await;
        assert!(app
            .commit(held["reservationId"].as_str().unwrap(), None)
            .await
            .0
            .is_success());
    }
    // Two slices: a's of 32, b's of 64 (32 calls of 2).
    let usage = app.usage("team_acme").await;
    assert_eq!((pool(&usage), leased(&usage)), ((3.0, 0.0), 93.0));

    // a leaves the team: its slice ends, its 1 used stays counted and its 31 go back.
    let (status, body) = app
        .json(
            reqwest::Method::PUT,
            "/v1/users/a/subscription",
            Some(json!({ "planId": "plan_member", "parentId": null })),
        )
        .await;
    assert!(status.is_success(), "{body}");
    let usage = team_usage_until(&app, |u| leased(u) == 62.0).await;
    assert_eq!((pool(&usage), leased(&usage)), ((3.0, 0.0), 62.0));

    // The team's quota changes: every slice it leased ends, under the old version.
    let (status, body) = app
        .json(
            reqwest::Method::PUT,
            "/v1/users/team_acme/overrides/pool",
            Some(json!({ "quota": 20_000 })),
        )
        .await;
    assert!(status.is_success(), "{body}");
    let usage = team_usage_until(&app, |u| leased(u) == 0.0).await;
    assert_eq!((pool(&usage), leased(&usage)), ((3.0, 0.0), 0.0));
    // What they used is the team level's own count now.
    let ctr = format!("{prefix}:{{default:team_acme}}:ctr");
    let fields: Vec<(String, String)> = redis::shared().query(&["HGETALL", &ctr]);
    let level = |suffix: &str| {
        fields
            .iter()
            .find(|(f, _)| f.starts_with("pool@") && f.ends_with(suffix))
            .map(|(_, v)| v.clone())
    };
    assert_eq!((level(":u"), level(":l")), (Some("3000".into()), Some("0".into())));
}

/// A member denied by its own group while it has no slice of its team's: the team's counter is
/// not known in the member's slot, so the denial answers none for it (as the walk answers no
/// level above the one that denied), never a made-up one of quota 0.
#[tokio::test]
async fn a_denial_on_slices_answers_no_team_counter_the_members_slot_does_not_know() {
    let app = leasing(&redis::shared().target(), &unique_prefix(), None, 10).await;
    // A pool of 2 is at its threshold from the start: members decide at the team, by the walk.
    plans_of(&app, 2, 2).await;
    app.subscribe("team_acme", "plan_team", None).await;
    member_of(&app, "m1", "team_acme").await;
    for _ in 0..2 {
        let held = app.reserve(json!({ "userId": "m1", "event": "e" })).await;
        assert_eq!(held["allowed"], true, "{held}");
    }
    let denied = app.reserve(json!({ "userId": "m1", "event": "e" })).await;
    assert_eq!(denied["allowed"], false, "{denied}");
    assert_eq!(denied["denials"][0]["subjectId"], "m1", "{denied}");
    let counters = denied["counters"].as_array().unwrap();
    assert!(counters.iter().any(|c| c["subjectId"] == "m1"), "{denied}");
    for c in counters.iter().filter(|c| c["subjectId"] == "team_acme") {
        assert_eq!(c["quota"], 2, "{denied}");
    }
}

/// A team pool of 3,000 edited down to 500 (its plan's text, not an override), with slices of
/// ten calls of 10 leased to each member under the old text, then a burst a second after the
/// edit from two nodes: the pool is never spent past 500. (Left to their life, the slices
/// leased under 3,000 were spent whole.)
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_plan_edit_lowering_a_pool_ends_its_slices_and_the_pool_holds_the_new_quota() {
    let prefix = unique_prefix();
    // Slices of an hour: only the edit can end them within the test.
    let target = redis::shared().target();
    let one = leasing(&target, &prefix, None, 3_600).await;
    let two = leasing(&target, &prefix, Some(&one.key), 3_600).await;
    plans(&one, 3_000).await;
    one.subscribe("team_acme", "plan_team", None).await;
    let members: Vec<String> = (0..10).map(|i| format!("m{i}")).collect();
    for m in &members {
        member_of(&one, m, "team_acme").await;
        // A first call of 10 leases the member a slice under the pool of 3,000.
        let held = one
            .reserve(json!({ "userId": m, "event": "render", "quantity": 10 }))
            .await;
        assert!(one
            .commit(held["reservationId"].as_str().unwrap(), None)
            .await
            .0
            .is_success());
    }
    let usage = one.usage("team_acme").await;
    assert!(leased(&usage) > 500.0, "slices past the new quota were leased: {usage}");
    plans(&one, 500).await;
    tokio::time::sleep(std::time::Duration::from_millis(1_000)).await;
    let calls = (0..400).map(|i| {
        let (app, m) = (if i % 2 == 0 { &one } else { &two }, &members[i % members.len()]);
        async move {
            let (status, body) = app
                .json(
                    reqwest::Method::POST,
                    "/v1/reserve",
                    Some(json!({ "userId": m, "event": "render", "quantity": 10 })),
                )
                .await;
            status.is_success() && body["allowed"] == true
        }
    });
    let admitted = join_all(calls).await.iter().filter(|a| **a).count();
    let usage = one.usage("team_acme").await;
    let (used, reserved) = pool(&usage);
    // A hundred were used before the edit: at most 40 calls of 10 more fit under 500.
    assert!(admitted <= 40, "{admitted} admitted past the new quota: {usage}");
    assert!(used + reserved + leased(&usage) <= 500.0, "{usage}");
}
