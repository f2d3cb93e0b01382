//! Polling futures by hand: one poll with a waker that does nothing, an op dropped while in
//! flight, a waker that counts its wakes, and the count of ops in flight.

use std::future::Future;
use std::pin::{Pin, pin};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll, Wake, Waker};

/// Ops the current thread's core has in flight (`ringio::metrics().ops_in_flight`).
pub fn in_flight() -> usize {
    ringio::metrics().ops_in_flight
}

/// Polls `fut` once with a waker that does nothing.
pub fn poll_noop<F: Future + ?Sized>(fut: Pin<&mut F>) -> Poll<F::Output> {
    fut.poll(&mut Context::from_waker(Waker::noop()))
}

/// Polls `fut` once (so its SQE is queued, not yet submitted) and drops it; returns
/// whether it was pending, that is, dropped with its op in flight.
pub fn poll_and_drop<F: Future>(fut: F) -> bool {
    poll_noop(pin!(fut)).is_pending()
}

/// Polls `fut` once (so its SQE is queued, not yet submitted) and drops it; panics if it
/// completed at that first poll, since the caller means to drop an op in flight.
#[track_caller]
pub fn poll_once_and_drop<F: Future>(fut: F) {
    assert!(poll_and_drop(fut), "expected the op to be in flight");
}

/// A waker that counts the wakes it gets.
#[derive(Default)]
pub struct CountingWaker(AtomicUsize);

impl CountingWaker {
    /// Wakes so far.
    pub fn wakes(&self) -> usize {
        self.0.load(Ordering::SeqCst)
    }
}

impl Wake for CountingWaker {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }
    fn wake_by_ref(self: &Arc<Self>) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}
