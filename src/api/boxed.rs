//! A handler's decision built in a box of its own.

use std::future::Future;
use std::pin::Pin;

/// The future `make` returns, built in place in a box. Awaited inline, a decision's future
/// (kilobytes: room for its deepest await) makes the handler's as large, and actix moves a
/// handler's future into a box per request, a copy of all of it; `Box::pin(future)` copies
/// it too, from the stack. Built in the box it is never copied (BENCHMARKS.md, "Smaller
/// futures and fewer allocations").
#[inline(always)]
pub(crate) fn boxed<F: Future>(make: impl FnOnce() -> F) -> Pin<Box<F>> {
    Box::into_pin(Box::write(Box::new_uninit(), make()))
}
