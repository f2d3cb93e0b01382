//! Tasks: one allocation each (async-task), a cancel flag, panics caught into `JoinError`.
//!
//! Rules:
//! 1. A task's future is polled and dropped only on the thread of the core that spawned
//!    it: its waker hands the `Runnable` to that core's local queue, or to the core's
//!    remote queue when woken from elsewhere, and only that core runs or drops it.
//! 2. Every task whose future is alive has an entry (its waker) in its core's `active`
//!    slab; shutdown wakes them all and drops the `Runnable`s, which drops the futures.
//! 3. The task's metadata ([`TaskMeta`]) lives in the task allocation, which stays alive
//!    while a `JoinHandle` holds the task.

use super::context;
use super::join::JoinError;
use pin_project_lite::pin_project;
use std::future::Future;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::pin::Pin;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll, Waker};

/// What a `JoinHandle` shares with its task, kept inside the task's one allocation.
#[derive(Default)]
pub(crate) struct TaskMeta {
    cancelled: AtomicBool,
    /// The task's own waker, so `cancel` can wake it. Cleared when the future is dropped,
    /// which breaks the reference cycle task → meta → waker → task.
    waker: Mutex<Option<Waker>>,
}

impl TaskMeta {
    pub(crate) fn set_waker(&self, waker: Waker) {
        *self.waker.lock().unwrap_or_else(|e| e.into_inner()) = Some(waker);
    }

    /// Asks the task to stop at its next poll and wakes it so that poll comes.
    pub(crate) fn cancel(&self) {
        self.cancelled.store(true, Ordering::Release);
        if let Some(w) = self
            .waker
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .as_ref()
        {
            w.wake_by_ref();
        }
    }
}

pub(crate) type Runnable = async_task::Runnable<TaskMeta>;

pin_project! {
    /// The future a task really runs: the user's, plus cancellation and panic capture.
    pub(crate) struct TaskFuture<'a, F> {
        #[pin]
        inner: F,
        meta: &'a TaskMeta,
        core_id: usize,
        key: usize,
    }

    impl<'a, F> PinnedDrop for TaskFuture<'a, F> {
        fn drop(this: Pin<&mut Self>) {
            let this = this.project();
            *this.meta.waker.lock().unwrap_or_else(|e| e.into_inner()) = None;
            let (core_id, key) = (*this.core_id, *this.key);
            context::try_with_core(|core| {
                if core.id == core_id {
                    core.active.borrow_mut().try_remove(key);
                }
            });
        }
    }
}

impl<'a, F> TaskFuture<'a, F> {
    pub(crate) fn new(inner: F, meta: &'a TaskMeta, core_id: usize, key: usize) -> Self {
        TaskFuture {
            inner,
            meta,
            core_id,
            key,
        }
    }
}

impl<F: Future> Future for TaskFuture<'_, F> {
    type Output = Result<F::Output, JoinError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        if this.meta.cancelled.load(Ordering::Acquire) {
            return Poll::Ready(Err(JoinError::cancelled()));
        }
        let mut inner = this.inner;
        match catch_unwind(AssertUnwindSafe(|| inner.as_mut().poll(cx))) {
            Ok(Poll::Ready(v)) => Poll::Ready(Ok(v)),
            Ok(Poll::Pending) => Poll::Pending,
            Err(payload) => Poll::Ready(Err(JoinError::panic(payload))),
        }
    }
}
