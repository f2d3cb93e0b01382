//! Per-core synchronisation primitives, shaped like asyncio's.
//!
//! [`Semaphore`], [`Mutex`] (asyncio `Lock`), [`Event`], [`Condition`],
//! [`Barrier`] and the queues ([`Queue`], [`PriorityQueue`], [`LifoQueue`];
//! their errors and futures live in [`queue`]) are plain futures and wakers: they never touch the ring and use no atomics.
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
//! serving the front and cancelling any waiter are all O(1). Every future
//! that waits in one (and the `mpsc` senders of [`channel`](crate::channel))
//! runs the same waiter state machine, so the three rules are written once;
//! each primitive says only what its waiters ask for and what a grant means.
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
pub mod queue;
mod semaphore;

pub use barrier::{Barrier, BarrierWait, BarrierWaitResult};
pub use condition::{Condition, ConditionWait};
pub use event::{Event, EventWait};
#[doc(alias = "Lock")]
#[doc(alias = "asyncio.Lock")]
pub use mutex::Mutex;
pub use mutex::{MutexGuard, MutexLockFuture};
pub use queue::{LifoQueue, PriorityQueue, Queue};
pub use semaphore::{Acquire, AcquireError, AcquireOrClosed, Permit, Semaphore};
