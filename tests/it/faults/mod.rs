//! Failure behaviour (the README's readiness and failures), each with a test that fails without its handling.
//! These stop, kill and time Redis and take minutes, so plain `cargo test` leaves them out
//! (`#[ignore]`); `scripts/test` runs them once, alone and serially, on the standalone topology:
//! `cargo test --test it faults:: -- --ignored --test-threads=1`.

mod bootstrap;
mod burst;
mod crashes;
mod leases;
mod levels;
mod proxy_commits;
mod redis_down;
mod sentinel;
mod shard_wait;
mod shutdown;
mod skew;
mod slowlog;
mod stalls;
