//! The part of a core other threads touch: its remote run queue and its wake-up.
//!
//! Rules:
//! 1. A waker fired on the task's own core pushes to the local queue: no atomics beyond
//!    the task's own state, no syscall.
//! 2. Fired anywhere else, it pushes to the lock-free remote queue and writes the core's
//!    eventfd only if the core is asleep in `io_uring_enter` (`sleeping`). The core sets
//!    `sleeping`, fences, then re-checks the queue before it waits; the waker pushes,
//!    fences, then reads `sleeping`. One of the two always sees the other, so no wake-up
//!    is lost and an awake core costs no syscall.
//!
//! Rule 2 is model-checked with loom (`loom_models`), against this code with loom's
//! atomics, fences and a loom-visible queue and eventfd in place (`loom_shim`).
#![forbid(unsafe_code)]

use super::join::Runnable;
use crate::loom_shim::{AtomicBool, RemoteQueue, WakeFd, eventfd, eventfd_signal, fence};
use std::io;
use std::os::fd::{AsRawFd, RawFd};
// A plain std atomic even in a loom build: ids are handed out in a `static`, outside any model.
use std::sync::atomic::{AtomicUsize, Ordering};

/// Ids for cores, unique in the process, so a waker can tell whether it runs at home.
static NEXT_CORE_ID: AtomicUsize = AtomicUsize::new(1);

pub(crate) struct Shared {
    pub(crate) id: usize,
    /// This core's number in its runtime (0 = the thread that called `block_on`).
    pub(crate) index: usize,
    remote: RemoteQueue<Runnable>,
    /// True while the core is (about to be) blocked in `io_uring_enter`.
    sleeping: AtomicBool,
    /// Set when the runtime shuts down: the core stops once its main future is done.
    stopping: AtomicBool,
    wake_fd: WakeFd,
}

impl Shared {
    pub(crate) fn new(index: usize) -> io::Result<Shared> {
        Ok(Shared {
            id: NEXT_CORE_ID.fetch_add(1, Ordering::Relaxed),
            index,
            remote: RemoteQueue::new(),
            sleeping: AtomicBool::new(false),
            stopping: AtomicBool::new(false),
            wake_fd: eventfd()?,
        })
    }

    pub(crate) fn wake_fd(&self) -> RawFd {
        self.wake_fd.as_raw_fd()
    }

    /// Queues a task woken away from its core and wakes the core if it sleeps (rule 2;
    /// rule 1's local push is the task's own, `task::schedule`).
    pub(crate) fn push_remote(&self, runnable: Runnable) {
        self.remote.push(runnable);
        self.unpark();
    }

    pub(crate) fn pop_remote(&self) -> Option<Runnable> {
        self.remote.pop()
    }

    /// Wakes the core's ring if it sleeps; no syscall when it is awake (rule 2).
    ///
    /// An eventfd write, not IORING_OP_MSG_RING from the waker's own ring: measured with
    /// `examples/cross_core_wake.rs`, MSG_RING halved the latency of a wake to an idle
    /// core but, because it only goes out with the waker's next enter, made wakes under
    /// load about 1.7x dearer; it also needs the waker to be a core, which the blocking
    /// pool and foreign threads are not.
    pub(crate) fn unpark(&self) {
        fence(Ordering::SeqCst);
        if self.sleeping.load(Ordering::SeqCst) {
            eventfd_signal(&self.wake_fd);
        }
    }

    /// Marks the core as about to sleep; returns whether it still may (nothing queued
    /// remotely, no stop requested). Pair with [`Shared::awake`].
    pub(crate) fn prepare_sleep(&self) -> bool {
        self.sleeping.store(true, Ordering::SeqCst);
        fence(Ordering::SeqCst);
        self.remote.is_empty() && !self.stopping.load(Ordering::SeqCst)
    }

    /// Nothing is queued from other threads (a paused clock may jump, `core.rs`).
    #[cfg(feature = "test-util")]
    pub(crate) fn is_idle(&self) -> bool {
        self.remote.is_empty()
    }

    pub(crate) fn awake(&self) {
        self.sleeping.store(false, Ordering::SeqCst);
    }

    pub(crate) fn stop(&self) {
        self.stopping.store(true, Ordering::SeqCst);
        self.unpark();
    }

    pub(crate) fn is_stopping(&self) -> bool {
        self.stopping.load(Ordering::SeqCst)
    }

    /// Blocks until the core's wake-up was written: in a model, what the ring's read
    /// armed on the eventfd does while the core sleeps (`loom_shim` rule 3).
    #[cfg(all(test, loom))]
    pub(crate) fn wait_woken(&self) {
        self.wake_fd.wait();
    }
}
