//! The node's view of Redis time: the local clock plus an offset measured against Redis `TIME`.
//! Periods are computed from it; scripts re-check them against their own `TIME`.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

#[derive(Debug, Clone, Default)]
pub struct Clock {
    offset_ms: Arc<AtomicI64>,
    /// Tests pretend the machine's clock is wrong by this much; the offset corrects it.
    skew_ms: i64,
}

impl Clock {
    /// A clock whose machine time is off by `skew_ms` (0 outside tests).
    pub fn with_skew(skew_ms: i64) -> Clock {
        Clock {
            offset_ms: Arc::default(),
            skew_ms,
        }
    }

    /// The machine's clock, in Unix milliseconds.
    pub fn local_ms() -> i64 {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
    }

    /// This node's machine time, skew included.
    pub fn machine_ms(&self) -> i64 {
        Self::local_ms() + self.skew_ms
    }

    /// Redis time as this node estimates it.
    pub fn now_ms(&self) -> i64 {
        self.machine_ms() + self.offset_ms.load(Ordering::Relaxed)
    }

    /// Records a Redis `TIME` reading taken between two machine-time readings.
    pub fn set_redis_ms(&self, redis_ms: i64, machine_before: i64, machine_after: i64) {
        let midpoint = machine_before + (machine_after - machine_before) / 2;
        self.offset_ms.store(redis_ms - midpoint, Ordering::Relaxed);
    }
}
