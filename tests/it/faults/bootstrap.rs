//! A gateway started before Redis is not ready, then ready once Redis appears, without a restart.
