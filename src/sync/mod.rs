//! Per-core synchronisation primitives, shaped like asyncio's.
//!
//! [`Semaphore`], [`Mutex`] (asyncio `Lock`), [`Event`], [`Condition`],
//! [`Barrier`] and the queues ([`Queue`], [`PriorityQueue`], [`LifoQueue`]) are
//! plain futures and wakers: they never touch the ring and use no atomics.
//! They live on one core (`!Send`), are used through `&self`, and tasks share
//! them through [`Rc`](std::rc::Rc). Nothing depends on timing: the same
//! sequence of polls always gives the same result.
//!
//! # Rules
//!
//! Every primitive keeps the same three rules. The code and the tests cite
//! them by number.
//!
//! 1. **First come, first served.** Waiters are served in the order they began
//!    to wait, and a newcomer never overtakes a queued waiter: while a waiter
//!    is queued, a `try_*` call fails even if the resource looks free, and a
//!    [`Semaphore`] waiter asking for many permits holds back later waiters
//!    asking for fewer.
//! 2. **A grant is never lost.** A waiter that is dropped (cancelled) after it
//!    was granted the lock, permits, item or notification, but before its
//!    future returned it, passes the grant on to the next waiter. A cancelled
//!    getter's item goes to the next getter or back to the front of its queue.
//! 3. **A dropped waiter leaves nothing behind.** Dropping a waiting future
//!    removes its entry at once, in O(1), whatever its place in the line.
//!
//! Each waiter list is a slab-backed doubly linked list, so enqueueing,
//! serving the front and cancelling any waiter are all O(1).
//!
//! Wakers are called only after the primitive's internal borrow is released,
//! so a waker that re-enters the primitive cannot trip a `RefCell` borrow.
//!
//! # Examples
//!
//! ```
//! use std::rc::Rc;
//! use ringio::sync::Semaphore;
//!
//! ringio::run(async {
//!     let sem = Rc::new(Semaphore::new(2));
//!     let mut tasks = Vec::new();
//!     for i in 0..4 {
//!         let sem = sem.clone();
//!         tasks.push(ringio::spawn(async move {
//!             let _permit = sem.acquire().await;
//!             ringio::yield_now().await; // at most two tasks are here at once
//!             i
//!         }));
//!     }
//!     for (i, task) in tasks.into_iter().enumerate() {
//!         assert_eq!(task.await.unwrap(), i);
//!     }
//! });
//! ```
#![forbid(unsafe_code)]

mod barrier;
mod condition;
mod event;
mod mutex;
mod queue;
mod semaphore;

pub use barrier::{Barrier, BarrierWait, BarrierWaitResult};
pub use condition::{Condition, ConditionWait};
pub use event::{Event, EventWait};
pub use mutex::{Lock, Mutex, MutexGuard};
pub use queue::{
    FifoStorage, GenericQueue, Get, LifoQueue, LifoStorage, PriorityQueue, PriorityStorage, Put,
    Queue, QueueEmpty, QueueFull, QueueJoin, QueueShutDown, QueueStorage, TaskDoneError,
    TryGetError, TryPutError,
};
pub use semaphore::{Acquire, AcquireError, AcquireOrClosed, Permit, Semaphore};

/// Calls every waker in `wakers`; used once a primitive's borrow is released.
fn wake_all(wakers: Vec<std::task::Waker>) {
    for waker in wakers {
        waker.wake();
    }
}

/// Drives futures by hand so unit tests can check exact orderings.
#[cfg(test)]
pub(crate) mod harness {
    use std::future::Future;
    use std::pin::Pin;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::task::{Context, Poll, Wake, Waker};

    /// Counts how often it was woken (`Wake` needs `Send + Sync`, hence the atomic).
    #[derive(Default)]
    struct Counter(AtomicUsize);

    impl Wake for Counter {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
        fn wake_by_ref(self: &Arc<Self>) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }

    /// One waker per simulated task, so a test can tell who was woken.
    pub(crate) struct TestWaker {
        counter: Arc<Counter>,
        waker: Waker,
    }

    impl TestWaker {
        pub(crate) fn new() -> Self {
            let counter = Arc::new(Counter::default());
            let waker = Waker::from(counter.clone());
            TestWaker { counter, waker }
        }

        /// How many times this waker has been woken so far.
        pub(crate) fn wakes(&self) -> usize {
            self.counter.0.load(Ordering::SeqCst)
        }

        /// Polls `fut` once with this waker.
        pub(crate) fn poll<F: Future + ?Sized>(&self, fut: Pin<&mut F>) -> Poll<F::Output> {
            fut.poll(&mut Context::from_waker(&self.waker))
        }
    }

    /// Polls `fut` once with a waker that does nothing.
    pub(crate) fn poll_once<F: Future + ?Sized>(fut: Pin<&mut F>) -> Poll<F::Output> {
        fut.poll(&mut Context::from_waker(Waker::noop()))
    }

    /// A tiny xorshift PRNG: deterministic randomized tests without a dependency.
    pub(crate) struct XorShift(u64);

    impl XorShift {
        pub(crate) fn new(seed: u64) -> Self {
            // xorshift must not start at 0; mix the seed so nearby seeds differ.
            XorShift(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
        }

        pub(crate) fn next_u64(&mut self) -> u64 {
            let mut x = self.0;
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            self.0 = x;
            x
        }

        /// A number in `0..n`.
        pub(crate) fn below(&mut self, n: u64) -> u64 {
            self.next_u64() % n
        }
    }
}
