//! The progress line on standard error while a simulation runs. It only draws: what to poll
//! and when to stop is the caller's.

use std::io::IsTerminal;
use std::time::{Duration, Instant};

use super::wire::Progress;

/// How often progress is printed when standard error is not a terminal (a log, a CI job).
const LOG_EVERY: Duration = Duration::from_secs(5);

/// Progress on standard error: one line redrawn in place on a terminal, else a line every few
/// seconds (a log keeps every line, so redrawing would fill it) and the last one at the end.
pub(super) struct Meter {
    enabled: bool,
    terminal: bool,
    /// When the last line was printed, and what it said.
    shown: Option<(Instant, String)>,
}

impl Meter {
    pub(super) fn new(enabled: bool) -> Meter {
        Meter {
            enabled,
            terminal: std::io::stderr().is_terminal(),
            shown: None,
        }
    }

    pub(super) fn show(&mut self, id: &str, progress: &Progress) {
        let due = self.terminal || self.shown.as_ref().is_none_or(|(at, _)| at.elapsed() >= LOG_EVERY);
        self.draw(id, progress, due);
    }

    /// Shows the last progress, and ends the redrawn line so what follows starts on its own.
    pub(super) fn end(&mut self, id: &str, progress: &Progress) {
        self.draw(id, progress, true);
        if self.enabled && self.terminal && self.shown.is_some() {
            eprintln!();
        }
    }

    fn draw(&mut self, id: &str, progress: &Progress, due: bool) {
        let line = format!("{id} {}", progress_bar(progress));
        if !self.enabled || !due || self.shown.as_ref().is_some_and(|(_, last)| *last == line) {
            return;
        }
        if self.terminal {
            eprint!("\r{line}");
        } else {
            eprintln!("{line}");
        }
        self.shown = Some((Instant::now(), line));
    }
}

/// `[#######-------------] 250/1000 users, 31000 entries read`.
fn progress_bar(progress: &Progress) -> String {
    const WIDTH: u64 = 24;
    let filled = match progress.users {
        0 => WIDTH,
        users => progress.users_done.min(users) * WIDTH / users,
    } as usize;
    format!(
        "[{}{}] {}/{} users, {} entries read",
        "#".repeat(filled),
        "-".repeat(WIDTH as usize - filled),
        progress.users_done,
        progress.users,
        progress.entries
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bar_fills_with_the_users_done() {
        let at = |done, users| {
            progress_bar(&Progress {
                users,
                users_done: done,
                entries: 7,
            })
        };
        assert_eq!(
            at(250, 1000),
            format!("[{}{}] 250/1000 users, 7 entries read", "#".repeat(6), "-".repeat(18))
        );
        assert!(at(0, 0).starts_with(&format!("[{}]", "#".repeat(24))));
    }
}
