//! The node's view of Redis time: the local clock plus an offset measured against Redis `TIME`.
//! Periods are computed from it; scripts re-check them against their own `TIME`.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

#[derive(Debug, Clone, Default)]
pub struct Clock {
    offset_ms: Arc<AtomicI64>,
}

impl Clock {
    pub fn local_ms() -> i64 {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
    }

    /// Redis time as this node estimates it.
    pub fn now_ms(&self) -> i64 {
        Self::local_ms() + self.offset_ms.load(Ordering::Relaxed)
    }

    /// Records a Redis `TIME` reading taken between two local readings.
    pub fn set_redis_ms(&self, redis_ms: i64, local_before: i64, local_after: i64) {
        let midpoint = local_before + (local_after - local_before) / 2;
        self.offset_ms.store(redis_ms - midpoint, Ordering::Relaxed);
    }
}
