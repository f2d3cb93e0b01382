//! A waker for unit tests that counts its wakes, so tests can poll by hand.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Wake, Waker};

/// Counts how often any clone of its waker was woken.
#[derive(Default)]
pub(super) struct CountingWaker {
    wakes: AtomicUsize,
}

impl CountingWaker {
    /// A new counter and a waker that bumps it.
    pub(super) fn new() -> (Arc<CountingWaker>, Waker) {
        let counter = Arc::new(CountingWaker::default());
        let waker = Waker::from(counter.clone());
        (counter, waker)
    }

    /// Wakes so far.
    pub(super) fn wakes(&self) -> usize {
        self.wakes.load(Ordering::SeqCst)
    }
}

impl Wake for CountingWaker {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.wakes.fetch_add(1, Ordering::SeqCst);
    }
}

/// A context around `waker`.
pub(super) fn cx(waker: &Waker) -> Context<'_> {
    Context::from_waker(waker)
}
