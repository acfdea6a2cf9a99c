//! A handler's work run as a task of its own on the worker, its connection awaiting only the end.
//!
//! actix-http polls a handler's future from inside the connection's dispatcher: every time the
//! handler is woken (a Redis reply, the provider's answer head, each chunk of its body) the
//! whole dispatcher runs again, reading the socket, decoding its read buffer (which clears a
//! 3 KiB table of header places each time, even when the buffer is empty), polling the
//! response and flushing. A proxied call is woken a dozen times; run apart, its wakes poll only
//! its own task and the dispatcher runs when the answer is ready.
//!
//! The task is the handler's in every other way: it runs on the same worker thread (the
//! request and its body stay where they were made), and it ends when the connection drops the
//! call (a caller that leaves), as the handler's future was dropped then.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use actix_web::HttpResponse;
use opentelemetry::context::{FutureExt as _, WithContext};
use tokio::task::JoinHandle;
use tracing::instrument::{Instrument as _, Instrumented};

/// Runs the future `work` makes as its own task on this worker and answers its response. A
/// panic in it answers 500, as an error the handler did not foresee.
pub(crate) fn apart<W, F>(work: W) -> Apart
where
    W: FnOnce() -> F,
    F: Future<Output = HttpResponse> + 'static,
{
    // Made in its box: the spawn moves its future through several calls, and a handler's future
    // is kilobytes (a proxied call's, 11 KiB), each move a copy of it; made where it is kept, it
    // is written once.
    // It runs in the request's span and trace, as it would have inline: its log lines name the
    // request, and its spans are the request span's children.
    let span = tracing::Span::current();
    let trace = opentelemetry::Context::current();
    let slot = Box::<WithContext<Instrumented<F>>>::new_uninit();
    let work = Box::into_pin(Box::write(slot, work().instrument(span).with_context(trace)));
    Apart(actix_web::rt::spawn(work))
}

/// The task's answer, awaited; dropped before it, the task is aborted.
pub(crate) struct Apart(JoinHandle<HttpResponse>);

impl Future for Apart {
    type Output = HttpResponse;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<HttpResponse> {
        match Pin::new(&mut self.0).poll(cx) {
            Poll::Pending => Poll::Pending,
            Poll::Ready(Ok(response)) => Poll::Ready(response),
            Poll::Ready(Err(failed)) => {
                tracing::error!(error = %failed, "a request's task ended without its answer");
                Poll::Ready(HttpResponse::InternalServerError().finish())
            }
        }
    }
}

impl Drop for Apart {
    fn drop(&mut self) {
        // (Aborting a task that has ended does nothing.)
        self.0.abort();
    }
}

#[cfg(test)]
mod tests {
    use std::rc::Rc;
    use std::time::Duration;

    use super::*;

    #[actix_web::test]
    async fn the_answer_is_the_tasks() {
        let answer = apart(|| async { HttpResponse::Accepted().finish() }).await;
        assert_eq!(answer.status(), 202);
    }

    #[actix_web::test]
    async fn a_panic_answers_500() {
        let answer = apart(|| async { panic!("a handler's bug") }).await;
        assert_eq!(answer.status(), 500);
    }

    #[actix_web::test]
    async fn dropped_before_its_answer_the_task_ends() {
        // The task holds `alive` until it is dropped: the connection's drop must reach it.
        let alive = Rc::new(());
        let held = alive.clone();
        let call = apart(|| async move {
            let _held = held;
            tokio::time::sleep(Duration::from_secs(3600)).await;
            HttpResponse::Ok().finish()
        });
        tokio::task::yield_now().await;
        assert_eq!(Rc::strong_count(&alive), 2, "the task started");
        drop(call);
        for _ in 0..10 {
            tokio::task::yield_now().await;
        }
        assert_eq!(Rc::strong_count(&alive), 1, "the task was dropped with its call");
    }
}
