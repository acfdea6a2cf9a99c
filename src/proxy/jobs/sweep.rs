//! The sweeper: every node, every little while, polls the open jobs whose next poll is due
//! (first a lead before their hold would expire, then every third of that lead), under a
//! short lease so two nodes do not poll one job at once. A job it finds ended is settled as a
//! caller's read would settle it; one still running when its hold is about to expire has its
//! hold committed as `estimated` (the provider may bill it whenever it ends).

use std::sync::Arc;

use actix_web::web;

use super::super::upstreams::Upstreams;
use super::super::Proxy;
use super::end::{self, By, Job, JobError};
use super::paths::read_path;
use super::JobSettings;
use crate::gateway::Gateway;

/// Jobs one sweep polls at most.
const PER_SWEEP: usize = 32;

/// Starts the node's sweeper on a thread of its own, with its own event loop: settling a job
/// commits as a request does, on a loop that need not pass work between threads. It stops
/// once its node's proxy is gone.
pub(crate) fn start(gateway: Gateway, proxy: web::Data<Proxy>) {
    let proxy = Arc::downgrade(&proxy.into_inner());
    let spawned = std::thread::Builder::new().name("qg-jobs".into()).spawn(move || {
        actix_web::rt::System::new().block_on(async move {
            loop {
                let Some(every) = proxy.upgrade().map(|p| p.jobs.sweep_every) else {
                    return;
                };
                tokio::time::sleep(every).await;
                let Some(proxy) = proxy.upgrade() else {
                    return;
                };
                sweep(&gateway, &proxy.upstreams, &proxy.jobs).await;
            }
        })
    });
    if let Err(err) = spawned {
        tracing::error!(%err, "proxy: could not start the job sweeper");
    }
}

/// One sweep: the jobs due now.
async fn sweep(gateway: &Gateway, upstreams: &Upstreams, settings: &JobSettings) {
    let data = gateway.data();
    let now = data.now_ms();
    let due = match data.due_jobs(now, PER_SWEEP).await {
        Ok(due) => due,
        Err(err) => {
            tracing::warn!(%err, "proxy: the job sweeper could not read its list");
            return;
        }
    };
    for (project, key) in due {
        let outcome = match poll(gateway, upstreams, settings, &project, &key, now).await {
            Ok(outcome) => outcome,
            Err(err) => {
                tracing::warn!(%err, project, job = key, "proxy: the job sweeper could not poll a job");
                "failed"
            }
        };
        gateway
            .node()
            .metrics()
            .count("qg_proxy_job_polls_total", &[("outcome", outcome)]);
    }
}

/// Polls one job: answers how it went (`open`, `ended`, `expired`, `skipped`).
async fn poll(
    gateway: &Gateway,
    upstreams: &Upstreams,
    settings: &JobSettings,
    project: &str,
    key: &str,
    now: i64,
) -> Result<&'static str, JobError> {
    let data = gateway.data();
    let node = format!("{:x}", end::rand_id());
    let repoll = settings.repoll_ms();
    if !data.lease_job(project, "jobpoll", key, &node, repoll as u64).await? {
        return Ok("skipped");
    }
    let Some(record) = data.job(project, key).await? else {
        data.unschedule_job(project, key).await?;
        return Ok("skipped");
    };
    if record.ended.is_some() {
        data.unschedule_job(project, key).await?;
        return Ok("skipped");
    }
    // Next time first: a node that dies polling leaves the job due again after the lease.
    data.schedule_job(project, key, now + repoll).await?;
    let Some(upstream) = upstreams.by_name.get(&record.upstream) else {
        return Err(JobError::Upstream(format!(
            "upstream {} is no longer configured",
            record.upstream
        )));
    };
    let last_chance = now + repoll >= record.ends_ms;
    let path = read_path(record.kind, &record.id);
    let mut job = Job {
        gateway,
        upstream,
        project,
        record,
    };
    match end::read_object(upstream, &path).await {
        Ok(object) => match job.saw(&object, By::Sweep).await? {
            true => Ok("ended"),
            false if last_chance => {
                job.give_up("running").await?;
                Ok("expired")
            }
            false => Ok("open"),
        },
        Err(why) if last_chance => {
            tracing::warn!(
                why,
                job = job.record.id,
                "proxy: a job unread at its hold's end is charged its hold"
            );
            job.give_up("unread").await?;
            Ok("expired")
        }
        Err(why) => Err(JobError::Upstream(why)),
    }
}
