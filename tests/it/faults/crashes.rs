//! Crashes: a gateway killed with its holds open, Redis killed mid-load.
