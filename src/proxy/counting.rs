//! Reading a large body's worst case (parsing it, tokenizing its text) off the request threads:
//! on the node's counting threads, which run at the lowest scheduling priority, taking the
//! projects with work waiting in turn, each project with at most a few bodies waiting. So a
//! caller sending bodies of many megabytes slows its own calls, not another project's.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Condvar, Mutex};

use tokio::sync::oneshot;

/// Bodies up to this size are read on the request's own thread: their count takes well under
/// a millisecond, less than handing them over would.
pub(crate) const INLINE_BYTES: usize = 256 * 1024;
/// Bodies one project may have waiting for a counting thread; more are refused (503,
/// `counting_busy`, retry shortly).
const WAITING_PER_PROJECT: usize = 4;

type Job = Box<dyn FnOnce() + Send>;

/// The node's counting threads and their queues.
#[derive(Clone)]
pub(crate) struct Counting {
    shared: Arc<Shared>,
}

struct Shared {
    queues: Mutex<Queues>,
    ready: Condvar,
}

#[derive(Default)]
struct Queues {
    by_project: HashMap<String, VecDeque<Job>>,
    /// The projects with work waiting, in the order they are served.
    turn: VecDeque<String>,
}

/// The project has as many bodies waiting as it may.
#[derive(Debug)]
pub(crate) struct Busy;

impl Counting {
    /// Starts `threads` counting threads.
    pub(crate) fn start(threads: usize) -> Counting {
        let shared = Arc::new(Shared {
            queues: Mutex::new(Queues::default()),
            ready: Condvar::new(),
        });
        for i in 0..threads.max(1) {
            let shared = shared.clone();
            let spawned = std::thread::Builder::new()
                .name(format!("qg-count-{i}"))
                .spawn(move || serve(&shared));
            if let Err(err) = spawned {
                tracing::error!(%err, "proxy: could not start a counting thread");
            }
        }
        Counting { shared }
    }

    /// Runs `work` for `project` on a counting thread and answers what it answered.
    pub(crate) async fn run<T: Send + 'static>(
        &self,
        project: &str,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, Busy> {
        let (tx, rx) = oneshot::channel();
        {
            let mut queues = self.shared.queues.lock().map_err(|_| Busy)?;
            let Queues { by_project, turn } = &mut *queues;
            let queue = by_project.entry(project.to_string()).or_default();
            if queue.len() >= WAITING_PER_PROJECT {
                return Err(Busy);
            }
            if queue.is_empty() {
                turn.push_back(project.to_string());
            }
            queue.push_back(Box::new(move || {
                // The caller may have gone: its answer is dropped then.
                let _ = tx.send(work());
            }));
        }
        self.shared.ready.notify_one();
        rx.await.map_err(|_| Busy)
    }
}

/// One counting thread: the lowest priority the system gives (every request thread goes
/// first), then the next project's next body, in turn.
fn serve(shared: &Shared) {
    if let Err(err) = thread_priority::set_current_thread_priority(thread_priority::ThreadPriority::Min) {
        tracing::warn!(?err, "proxy: a counting thread runs at normal priority");
    }
    loop {
        let job = {
            let Ok(mut queues) = shared.queues.lock() else {
                return;
            };
            loop {
                if let Some(project) = queues.turn.pop_front() {
                    let Queues { by_project, turn } = &mut *queues;
                    let queue = by_project.entry(project.clone()).or_default();
                    let job = queue.pop_front();
                    if queue.is_empty() {
                        by_project.remove(&project);
                    } else {
                        turn.push_back(project);
                    }
                    if let Some(job) = job {
                        break job;
                    }
                    continue;
                }
                queues = match shared.ready.wait(queues) {
                    Ok(queues) => queues,
                    Err(_) => return,
                };
            }
        };
        job();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn projects_take_turns_and_each_waits_a_few_at_most() {
        let counting = Counting::start(1);
        // Hold the one thread until every job below is queued.
        let (release, held) = std::sync::mpsc::channel::<()>();
        let first = {
            let counting = counting.clone();
            tokio::spawn(async move { counting.run("a", move || held.recv().ok()).await })
        };
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        let order = Arc::new(Mutex::new(Vec::new()));
        let mut waiting = Vec::new();
        for (project, n) in [("a", 1), ("a", 2), ("a", 3), ("a", 4), ("b", 1)] {
            let order = order.clone();
            let counting = counting.clone();
            waiting.push(tokio::spawn(async move {
                counting
                    .run(project, move || order.lock().unwrap().push(format!("{project}{n}")))
                    .await
            }));
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        // A fifth body of project a waiting is refused; b's is not.
        assert!(counting.run("a", || ()).await.is_err());
        release.send(()).unwrap();
        first.await.unwrap().unwrap();
        for w in waiting {
            w.await.unwrap().unwrap();
        }
        // b's one body went after a's first waiting one, not after all four.
        assert_eq!(*order.lock().unwrap(), ["a1", "b1", "a2", "a3", "a4"]);
    }
}
