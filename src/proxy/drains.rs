//! The streams a node keeps reading after their callers left, so a stream's commit is what
//! the provider billed: bounded per node, per project and per user, and each in time.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// How a node drains streams its callers left: at most `permits` at once, of which one project
/// takes at most a quarter and one user a sixteenth (at least one each), so no caller leaving
/// tiny streams can take every drain from the others.
#[derive(Clone)]
pub(crate) struct Drains {
    permits: Arc<Semaphore>,
    per_project: usize,
    per_user: usize,
    /// Drains running, by project and by (project, user).
    running: Arc<Mutex<Running>>,
    longest: Duration,
}

#[derive(Default)]
struct Running {
    projects: HashMap<String, usize>,
    users: HashMap<(String, String), usize>,
}

impl Drains {
    pub(crate) fn new(permits: usize, longest: Duration) -> Drains {
        Drains {
            permits: Arc::new(Semaphore::new(permits)),
            per_project: (permits / 4).max(1),
            per_user: (permits / 16).max(1),
            running: Arc::default(),
            longest,
        }
    }

    /// A drain for `project`'s `user`, if the node, the project and the user each have one free.
    pub(crate) fn take(&self, project: &str, user: &str) -> Option<Drain> {
        let mut running = self.running.lock().ok()?;
        let key = (project.to_string(), user.to_string());
        let project_full = running.projects.get(project).is_some_and(|n| *n >= self.per_project);
        let user_full = running.users.get(&key).is_some_and(|n| *n >= self.per_user);
        if project_full || user_full {
            return None;
        }
        let permit = self.permits.clone().try_acquire_owned().ok()?;
        *running.projects.entry(key.0.clone()).or_default() += 1;
        *running.users.entry(key.clone()).or_default() += 1;
        Some(Drain {
            _permit: permit,
            running: self.running.clone(),
            key,
            until: Instant::now() + self.longest,
        })
    }
}

/// One drain running: its share given back when dropped.
pub(crate) struct Drain {
    _permit: OwnedSemaphorePermit,
    running: Arc<Mutex<Running>>,
    key: (String, String),
    pub until: Instant,
}

impl Drop for Drain {
    fn drop(&mut self) {
        if let Ok(mut running) = self.running.lock() {
            let (project, _) = &self.key;
            if let Some(n) = running.projects.get_mut(project) {
                *n -= 1;
                if *n == 0 {
                    running.projects.remove(project);
                }
            }
            if let Some(n) = running.users.get_mut(&self.key) {
                *n -= 1;
                if *n == 0 {
                    running.users.remove(&self.key);
                }
            }
        }
    }
}
