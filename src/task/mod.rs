//! Combinators in asyncio's shape: run many futures at once and decide what to keep.
//!
//! | asyncio | ringio |
//! |---|---|
//! | `await gather(a, b)` | [`gather!(a, b)`](crate::gather!) → `(A, B)` |
//! | `await gather(*aws)` | [`gather(iter)`](gather())`.await` → `Vec<T>` in input order |
//! | `gather(.., return_exceptions=True)` | [`gather()`] over futures that return `Result` |
//! | `gather` raising the first exception | [`try_gather!`](crate::try_gather!), [`try_gather(iter)`](try_gather) |
//! | `for f in as_completed(aws)` | [`as_completed(iter)`](as_completed())`.next().await` |
//! | `wait(tasks, return_when=.., timeout=..)` | [`wait(handles, ReturnWhen::.., timeout)`](wait())`.await` → `(done, pending)`, nothing cancelled; [`try_wait`] counts an `Err` as an exception |
//! | `wait(aws, return_when=FIRST_COMPLETED)`, then cancel the rest | [`race(iter)`](race())`.await` → `(index, output)` |
//! | `shield(aw)` | [`shield(fut)`](shield()) → [`JoinHandle`](crate::JoinHandle) |
//! | `async with TaskGroup() as tg: tg.create_task(..)` | [`TaskGroup::spawn`], [`TaskGroup::join`] |
//! | `as_completed(tasks)` over a group's tasks | [`TaskGroup::join_next`] |
//! | `contextvars.ContextVar`, copied into each `create_task` | [`task_local!`](crate::task_local!), [`LocalKey`] |
//! | `create_task(coro, name=..)`, `Task.get_name()` | [`Builder::new().name(..).spawn(coro)`](Builder), [`JoinHandle::name`](crate::JoinHandle::name) |
//! | `Task.done()`, `Task.result()` | [`JoinHandle::is_finished`](crate::JoinHandle::is_finished), [`JoinHandle::try_result`](crate::JoinHandle::try_result) |
//!
//! These are plain futures: they never touch the ring.
//!
//! # Rules
//!
//! The code and the tests cite these by number.
//!
//! 1. **Children are polled in place.** `gather`, `try_gather`, `as_completed`, `race`
//!    and the macros poll their futures inside their own poll, on the caller's task:
//!    nothing is spawned. Only [`shield()`] and [`TaskGroup`] spawn tasks.
//! 2. **Only woken children are polled.** A child's first poll gets a waker all first
//!    polls share, so a child that finishes at once costs no allocation. When that
//!    shared waker fires, every child that has only it is polled once more, now with its
//!    own waker, made once (so a child pending at its first poll is polled at most once
//!    without being woken). An own waker's wake queues the child once (however often it
//!    is woken before its next poll) and wakes the parent; a parent poll polls only the
//!    queued children, each at most once. So a wake costs O(1) whatever the number of
//!    children, and a child woken during the parent's poll waits for the next one (a
//!    child that keeps waking itself cannot starve the other tasks of the core).
//! 3. **Order.** `gather` and `try_gather` give outputs in input order, `as_completed`
//!    in completion order, `race` the first to finish (the first woken if several finish
//!    in the same poll), `TaskGroup::join` in spawn order, `TaskGroup::join_next` in
//!    the order the tasks finished.
//! 4. **Dropping cancels, at once.** A child's future is dropped as soon as it finishes.
//!    `try_gather` drops every other child before it returns the first `Err`, `race`
//!    drops the losers before it returns the winner, and dropping any of these futures
//!    drops every child still running.
//! 5. **A group fails as one.** The first failure of a [`TaskGroup`] task (an `Err` or a
//!    panic) cancels every sibling with [`JoinHandle::cancel`](crate::JoinHandle::cancel).
//!    The cancel is issued after one FIFO round of the run queue, like asyncio's done
//!    callbacks: tasks that were ready when the failure happened run once more, so
//!    failures that happen together are all reported. [`GroupError::failures`] lists
//!    every real failure, never a cancellation. `join` returns once every task's future
//!    has been dropped; dropping the group cancels its tasks; `spawn` after a failure
//!    drops the new future unpolled. A finished task leaves only its output behind (and
//!    its spawn index, if it finished out of spawn order). `join_next` hands out each
//!    task's output or failure as it finishes, the cancelled siblings giving none;
//!    `join` gives what it has not handed out.
//! 6. **Shield detaches.** [`shield()`] runs its future as its own task; dropping the
//!    returned handle or the future awaiting it does not cancel that task.
//!
//! # Examples
//!
//! ```
//! use std::time::Duration;
//! use ringio::task::{self, TaskGroup};
//! use ringio::time::sleep;
//!
//! ringio::run(async {
//!     let (a, b) = ringio::gather!(async { 1 }, async { "two" });
//!     assert_eq!((a, b), (1, "two"));
//!
//!     let delays = [20, 10];
//!     let (first, ms) = task::race(delays.map(|ms| async move {
//!         sleep(Duration::from_millis(ms)).await;
//!         ms
//!     }))
//!     .await;
//!     assert_eq!((first, ms), (1, 10));
//!
//!     let group = TaskGroup::<u32, String>::new();
//!     group.spawn(async { Ok(1) });
//!     group.spawn(async { Ok(2) });
//!     assert_eq!(group.join().await.unwrap(), [1, 2]);
//! });
//! ```
#![forbid(unsafe_code)]

mod as_completed;
mod builder;
mod failure;
mod gather;
mod group;
mod local;
mod macros;
mod race;
mod ready;
mod shield;
mod wait;

pub use as_completed::AsCompleted;
#[doc(alias = "asyncio.as_completed")]
pub use as_completed::as_completed;
#[doc(alias = "Task.set_name")]
pub use builder::Builder;
#[doc(alias = "ExceptionGroup")]
pub use failure::Failure;
#[doc(alias = "BaseExceptionGroup")]
pub use failure::GroupError;
pub use gather::{Gather, TryGather, gather, try_gather};
pub use group::Join;
pub use group::JoinNext;
#[doc(alias = "asyncio.TaskGroup")]
pub use group::TaskGroup;
#[doc(alias = "ContextVar")]
pub use local::LocalKey;
pub use local::{AccessError, Scope};
pub use race::{Race, race};
#[doc(alias = "asyncio.shield")]
pub use shield::shield;
pub use wait::{ReturnWhen, Wait, try_wait, wait};

/// What the macros expand to; not part of the public API.
#[doc(hidden)]
pub mod __private {
    pub use super::macros::MaybeDone;
    pub use super::ready::ReadySet;
}
