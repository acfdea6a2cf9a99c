//! Graceful shutdown on SIGTERM.
