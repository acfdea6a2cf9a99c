//! Failure behaviour (the README's readiness and failures), each with a test that fails without its handling.
//! These run once, on the standalone topology: `scripts/test` skips `faults::` on the cluster.

mod bootstrap;
mod crashes;
mod redis_down;
mod sentinel;
mod shutdown;
mod skew;
mod slowlog;
