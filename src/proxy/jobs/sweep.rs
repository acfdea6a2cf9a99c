//! The sweeper: every node, every little while, polls the open jobs whose next poll is due
//! (first a lead before their hold would expire, then every third of that lead, and last at
//! the hold's end), each under a lease as long as a poll so two nodes do not poll one job at
//! once. A job it finds ended is settled as a caller's read would settle it; one still running
//! at its hold's end has its hold committed as `estimated` (the provider may bill it whenever
//! it ends), and never before: a poll whose next would land past the end makes the hold
//! outlive that last poll instead. A pending job (its node never recorded the provider's
//! answer) is looked for at the provider (`pending.rs`).
//!
//! Polls run at once, at most a few per upstream, each waiting at most the poll time-out for
//! its provider: a provider that hangs holds only its own jobs' turns, never another's.

use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;
use std::sync::Arc;

use actix_web::web;

use super::end::{self, By, Job, JobError};
use super::pending;
use crate::proxy::call::jobs::read_path;
use crate::proxy::door::Door;
use crate::quota::{pending_hold, JobEnd, JobKind, JobRecord, ReservationId, ReservationState};

/// Jobs one sweep starts polling at most.
const PER_SWEEP: usize = 32;
/// Polls of one upstream's jobs in flight at once, at most.
const PER_UPSTREAM: usize = 4;

/// Polls in flight, by upstream.
type InFlight = Rc<RefCell<HashMap<String, usize>>>;

/// Starts the node's sweeper on a thread of its own, with its own event loop: settling a job
/// commits as a request does, on a loop that need not pass work between threads. It stops
/// once its node's proxy is gone.
pub(crate) fn start(door: web::Data<Door>) {
    let door = Arc::downgrade(&door.into_inner());
    let spawned = std::thread::Builder::new().name("qg-jobs".into()).spawn(move || {
        actix_web::rt::System::new().block_on(async move {
            let in_flight = InFlight::default();
            loop {
                let Some(every) = door.upgrade().map(|d| d.jobs.sweep_every) else {
                    return;
                };
                tokio::time::sleep(every).await;
                let Some(door) = door.upgrade() else {
                    return;
                };
                sweep(&door, &in_flight).await;
            }
        })
    });
    if let Err(err) = spawned {
        tracing::error!(%err, "proxy: could not start the job sweeper");
    }
}

/// One sweep: starts polling the jobs due now, each upstream's within its share; a job whose
/// upstream has its share in flight waits a sweep, behind the others due.
async fn sweep(door: &Arc<Door>, in_flight: &InFlight) {
    let data = door.gateway.data();
    let now = data.now_ms();
    let due = match data.jobs().due_jobs(now, 4 * PER_SWEEP).await {
        Ok(due) => due,
        Err(err) => {
            tracing::warn!(%err, "proxy: the job sweeper could not read its list");
            return;
        }
    };
    let mut started = 0;
    for (project, key) in due {
        let upstream = key.split_once('/').map_or("", |(u, _)| u).to_string();
        let busy = in_flight.borrow().get(&upstream).copied().unwrap_or(0);
        if started == PER_SWEEP || busy >= PER_UPSTREAM {
            let later = now + door.jobs.sweep_every.as_millis() as i64;
            if let Err(err) = data.jobs().schedule_job(&project, &key, later).await {
                tracing::warn!(%err, "proxy: the job sweeper could not put a job off");
            }
            continue;
        }
        started += 1;
        *in_flight.borrow_mut().entry(upstream.clone()).or_default() += 1;
        let (door, in_flight) = (door.clone(), in_flight.clone());
        actix_web::rt::spawn(async move {
            let outcome = match poll(&door, &project, &key, now).await {
                Ok(outcome) => outcome,
                Err(err) => {
                    tracing::warn!(%err, project, job = key, "proxy: the job sweeper could not poll a job");
                    "failed"
                }
            };
            door.metrics.count("qg_proxy_job_polls_total", &[("outcome", outcome)]);
            if let Some(n) = in_flight.borrow_mut().get_mut(&upstream) {
                *n = n.saturating_sub(1);
            }
        });
    }
}

/// Polls one job: answers how it went (`open`, `ended`, `expired`, `skipped`, `adopted`).
async fn poll(door: &Door, project: &str, key: &str, now: i64) -> Result<&'static str, JobError> {
    let (gateway, data, settings) = (&door.gateway, door.gateway.data(), &door.jobs);
    let node = format!("{:x}", end::rand_id());
    if !data
        .jobs()
        .lease_job(project, "jobpoll", key, &node, settings.poll_lease_ms() as u64)
        .await?
    {
        return Ok("skipped");
    }
    let upstream_of = |name: &str| {
        door.upstreams
            .by_name
            .get(name)
            .ok_or_else(|| JobError::Upstream(format!("upstream {name} is no longer configured")))
    };
    if pending_hold(key).is_some() {
        let upstream = upstream_of(key.split_once('/').map_or("", |(u, _)| u))?;
        return pending::look(door, upstream, (project, key), now).await;
    }
    let Some(record) = data.jobs().job(project, key).await? else {
        data.jobs().unschedule_job(project, key).await?;
        return Ok("skipped");
    };
    if record.ended.is_some() {
        data.jobs().unschedule_job(project, key).await?;
        return Ok("skipped");
    }
    if record.kind == JobKind::RealtimeSession {
        return session(door, project, record, now).await;
    }
    // Next time first: a node that dies polling leaves the job due again after the lease.
    data.jobs()
        .schedule_job(project, key, settings.next_poll(now, record.ends_ms))
        .await?;
    let upstream = upstream_of(&record.upstream)?;
    let at_end = now >= record.ends_ms;
    let path = read_path(record.kind, &record.id);
    let read = match tokio::time::timeout(settings.poll_timeout, end::read_object(upstream, &path)).await {
        Ok(read) => read,
        Err(_) => Err("no answer within the poll's time-out".to_string()),
    };
    let mut job = Job {
        gateway,
        upstream,
        project,
        record,
    };
    match read {
        Ok(object) => match job.saw(&object, By::Sweep).await? {
            true => Ok("ended"),
            false if at_end => {
                job.give_up("running").await?;
                Ok("expired")
            }
            false => {
                pending::outlive(door, project, &job.record, now).await;
                Ok("open")
            }
        },
        Err(why) if at_end => {
            tracing::warn!(
                why,
                job = job.record.id,
                "proxy: a job unread at its hold's end is charged its hold"
            );
            job.give_up("unread").await?;
            Ok("expired")
        }
        Err(why) => {
            pending::outlive(door, project, &job.record, now).await;
            Err(JobError::Upstream(why))
        }
    }
}

/// An open realtime session's record, checked: moved on while its hold is held (its node keeps
/// it), ended once the hold is gone (its node died, or never ended it).
async fn session(door: &Door, project: &str, mut record: JobRecord, now: i64) -> Result<&'static str, JobError> {
    let data = door.gateway.data();
    let held = match ReservationId::parse_reservation(&record.reservation) {
        Some(id) => data
            .reservation(project, &id)
            .await?
            .is_some_and(|r| r.state == ReservationState::Held),
        None => false,
    };
    if held {
        record.due_ms = now + 2 * door.hold_ttl_ms;
        record.ends_ms = record.due_ms;
        data.jobs().update_job(project, &record).await?;
        data.jobs()
            .schedule_job(project, &record.key(), now + door.hold_ttl_ms)
            .await?;
        return Ok("open");
    }
    record.ended = Some(JobEnd {
        outcome: "closed".into(),
        status: "closed".into(),
        at_ms: now,
    });
    data.jobs().update_job(project, &record).await?;
    Ok("ended")
}
