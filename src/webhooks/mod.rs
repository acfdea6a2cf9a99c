//! Webhook delivery by Standard Webhooks: the settings, the retry schedule, signing (`sign.rs`),
//! the SSRF guard (`guard.rs`) and one HTTP attempt (`send.rs`). What to deliver and when is
//! the gateway's (`gateway/workers/deliver.rs`); this module only knows HTTP and the spec.

pub(crate) mod event;
pub(crate) mod guard;
pub(crate) mod send;
pub(crate) mod sign;

use std::time::Duration;

/// The retries after a first failed attempt (Standard Webhooks' suggestion), before scaling.
const SCHEDULE_SECS: [u64; 7] = [5, 5 * 60, 30 * 60, 2 * 3600, 5 * 3600, 10 * 3600, 10 * 3600];
/// An endpoint failing this long is disabled.
const FAILING_LIMIT_SECS: u64 = 5 * 86_400;
/// How long an event may sit in an outbox before the sweeper takes it for stranded.
const SWEEP_GRACE_SECS: u64 = 10;
/// How often the sweeper looks (one node at a time: each sweep reads all 16,384 outboxes).
const SWEEP_EVERY_SECS: u64 = 60;
/// The sweeper never looks more often than this, whatever the scale.
const SWEEP_FLOOR: Duration = Duration::from_secs(5);

/// How this node delivers: `QG_WEBHOOK_*`.
#[derive(Debug, Clone)]
pub struct WebhookSettings {
    /// Plain `http` URLs are allowed (tests, trusted networks).
    pub allow_http: bool,
    /// Private, loopback and link-local addresses are allowed.
    pub allow_private: bool,
    /// Multiplies the retry schedule, the failing limit and the sweeper's pace, so tests can
    /// compress hours into milliseconds.
    pub retry_scale: f64,
    /// The longest wait for a receiver's answer.
    pub timeout: Duration,
    /// For tests only (`test-hooks`): never move fired alerts, after a script or by sweeping,
    /// as though the node died right after each script.
    #[cfg(feature = "test-hooks")]
    pub test_skip_moves: bool,
}

impl WebhookSettings {
    /// Whether fired alerts are never moved (a test hook; never without `test-hooks`).
    pub fn skip_moves(&self) -> bool {
        #[cfg(feature = "test-hooks")]
        let skip = self.test_skip_moves;
        #[cfg(not(feature = "test-hooks"))]
        let skip = false;
        skip
    }
}

impl Default for WebhookSettings {
    fn default() -> Self {
        WebhookSettings {
            allow_http: false,
            allow_private: false,
            retry_scale: 1.0,
            timeout: Duration::from_secs(10),
            #[cfg(feature = "test-hooks")]
            test_skip_moves: false,
        }
    }
}

impl WebhookSettings {
    fn scaled(&self, secs: u64) -> Duration {
        Duration::from_secs_f64(secs as f64 * self.retry_scale.max(0.0))
    }

    /// The wait before attempt `attempts + 1`, after `attempts` failed ones; None when the
    /// schedule is spent and the delivery has failed.
    pub fn retry_after(&self, attempts: u32) -> Option<Duration> {
        let i = usize::try_from(attempts).ok()?.checked_sub(1)?;
        SCHEDULE_SECS.get(i).map(|s| self.scaled(*s))
    }

    pub fn failing_limit(&self) -> Duration {
        self.scaled(FAILING_LIMIT_SECS)
    }

    pub fn sweep_grace(&self) -> Duration {
        self.scaled(SWEEP_GRACE_SECS)
    }

    /// Never below `SWEEP_FLOOR`: a sweep reads every slot's outbox.
    pub fn sweep_every(&self) -> Duration {
        self.scaled(SWEEP_EVERY_SECS).max(SWEEP_FLOOR)
    }

    /// How long a claimed delivery is this node's before another may take it over: the
    /// timeout and a margin, so a live node always finishes first. An attempt, DNS included,
    /// ends by a deadline of `timeout` set right after its claim (`send::send`), and the margin
    /// (half the timeout and a second) covers recording its outcome.
    pub fn lease(&self) -> Duration {
        self.timeout * 3 / 2 + Duration::from_secs(1)
    }

    /// How often the worker looks for due deliveries.
    pub fn poll_every(&self) -> Duration {
        self.scaled(1)
            .clamp(Duration::from_millis(20), Duration::from_millis(500))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_schedule_is_seven_retries_scaled() {
        let s = WebhookSettings {
            retry_scale: 0.001,
            ..WebhookSettings::default()
        };
        assert_eq!(s.retry_after(0), None);
        assert_eq!(s.retry_after(1), Some(Duration::from_millis(5)));
        assert_eq!(s.retry_after(7), Some(Duration::from_secs(36)));
        assert_eq!(s.retry_after(8), None);
        assert_eq!(
            WebhookSettings::default().retry_after(2),
            Some(Duration::from_secs(300))
        );
    }

    #[test]
    fn an_attempt_ends_well_before_its_lease() {
        for ms in [1, 50, 2_000, 10_000, 60_000] {
            let s = WebhookSettings {
                timeout: Duration::from_millis(ms),
                ..WebhookSettings::default()
            };
            assert!(
                s.lease() >= s.timeout + s.timeout / 2 + Duration::from_secs(1),
                "{ms} ms"
            );
        }
    }
}
