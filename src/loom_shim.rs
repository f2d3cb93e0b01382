//! The synchronisation primitives of the cross-thread paths, swapped for loom's in model
//! checks (`RUSTFLAGS="--cfg loom" cargo test --release --lib loom`).
//!
//! Rules:
//! 1. Outside the crate's own unit tests built with `--cfg loom` (so in every library
//!    build, loom or not) each name here is std's or crossbeam's own item, re-exported:
//!    the runtime compiles to the same code as if it named them directly.
//! 2. In those tests the core's wake-up (`runtime::shared`), the blocking pool
//!    (`runtime::blocking`) and the channels (`channel::oneshot`, `channel::mpsc`) use
//!    loom's `AtomicBool`, `fence`, `Mutex`, `Condvar`, `Arc` and threads, so loom sees
//!    and permutes every access they make to shared state.
//! 3. What cannot run under loom is replaced by a loom-visible equivalent, and that is
//!    all a model abstracts:
//!    - crossbeam's `SegQueue` (the remote run queue) by a `VecDeque` under a loom
//!      `Mutex` with a lock-free length for `is_empty` (`RemoteQueue`): the model checks
//!      the protocol around the queue, not the queue's own lock-free algorithm;
//!    - the eventfd by a counter under a loom `Mutex` with a `Condvar` (`WakeFd`): a
//!      write adds one and wakes a waiter, and `WakeFd::wait` stands for the ring's
//!      blocking read armed on it (`io_uring_enter` or `epoll_wait`), which the model's
//!      own loop calls in place of the driver;
//!    - the tasks' internal state (async-task's atomics, `TaskMeta`) stays std's: loom
//!      does not interleave inside it, only around it;
//!    - the blocking pool keeps std's `Arc` (its methods take `self: &Arc<Self>`), and
//!      loom's `Condvar::wait_timeout` never times out, so idle threads never exit on
//!      their own in a model.
//! 4. A loom test build exists only to run the models: its runtime cannot start (loom's
//!    types panic outside `loom::model`), and `WakeFd`'s descriptor number is -1.

#[cfg(not(all(test, loom)))]
pub(crate) use crossbeam_queue::SegQueue as RemoteQueue;
#[cfg(not(all(test, loom)))]
pub(crate) use std::os::fd::OwnedFd as WakeFd;
#[cfg(not(all(test, loom)))]
pub(crate) use std::sync::atomic::{AtomicBool, fence};
#[cfg(not(all(test, loom)))]
pub(crate) use std::sync::{Arc, Condvar, Mutex, MutexGuard};
#[cfg(not(all(test, loom)))]
pub(crate) use std::thread;

#[cfg(not(all(test, loom)))]
pub(crate) use crate::sys::fd::{eventfd, eventfd_signal};

#[cfg(all(test, loom))]
pub(crate) use loom::sync::atomic::{AtomicBool, fence};
#[cfg(all(test, loom))]
pub(crate) use loom::sync::{Arc, Condvar, Mutex, MutexGuard};
#[cfg(all(test, loom))]
pub(crate) use loom::thread;

#[cfg(all(test, loom))]
pub(crate) use self::model::{RemoteQueue, WakeFd, eventfd, eventfd_signal};

#[cfg(all(test, loom))]
mod model {
    use loom::sync::atomic::AtomicUsize;
    use loom::sync::{Condvar, Mutex, MutexGuard};
    use std::collections::VecDeque;
    use std::io;
    use std::os::fd::{AsRawFd, RawFd};
    use std::sync::atomic::Ordering;

    /// The remote run queue as loom sees it (rule 3): the items under a loom `Mutex`, and
    /// their number in an atomic that `is_empty` reads without the lock, as `SegQueue`'s
    /// `is_empty` reads its head and tail indices. Loom treats those `SeqCst` accesses as
    /// acquire/release only, so the core's and the waker's `SeqCst` fences are what
    /// orders them against `sleeping` (`shared` rule 2), in the model as in the code.
    pub(crate) struct RemoteQueue<T> {
        items: Mutex<VecDeque<T>>,
        len: AtomicUsize,
    }

    impl<T> RemoteQueue<T> {
        pub(crate) fn new() -> RemoteQueue<T> {
            RemoteQueue {
                items: Mutex::new(VecDeque::new()),
                len: AtomicUsize::new(0),
            }
        }

        pub(crate) fn push(&self, value: T) {
            let mut items = self.lock();
            items.push_back(value);
            self.len.fetch_add(1, Ordering::SeqCst);
        }

        pub(crate) fn pop(&self) -> Option<T> {
            let mut items = self.lock();
            let value = items.pop_front()?;
            self.len.fetch_sub(1, Ordering::SeqCst);
            Some(value)
        }

        pub(crate) fn is_empty(&self) -> bool {
            self.len.load(Ordering::SeqCst) == 0
        }

        fn lock(&self) -> MutexGuard<'_, VecDeque<T>> {
            self.items.lock().unwrap_or_else(|e| e.into_inner())
        }
    }

    /// The core's eventfd as loom sees it (rule 3): a counter that writes add to and a
    /// read takes whole, blocking while it is zero.
    pub(crate) struct WakeFd {
        count: Mutex<u64>,
        readable: Condvar,
    }

    impl WakeFd {
        /// Blocks until the counter is non-zero, then resets it: what the ring's read
        /// armed on the eventfd does while the core sleeps.
        pub(crate) fn wait(&self) {
            let mut count = self.count.lock().unwrap_or_else(|e| e.into_inner());
            while *count == 0 {
                count = self.readable.wait(count).unwrap_or_else(|e| e.into_inner());
            }
            *count = 0;
        }
    }

    impl AsRawFd for WakeFd {
        /// No descriptor exists in a model (rule 4).
        fn as_raw_fd(&self) -> RawFd {
            -1
        }
    }

    pub(crate) fn eventfd() -> io::Result<WakeFd> {
        Ok(WakeFd {
            count: Mutex::new(0),
            readable: Condvar::new(),
        })
    }

    pub(crate) fn eventfd_signal(fd: &WakeFd) {
        *fd.count.lock().unwrap_or_else(|e| e.into_inner()) += 1;
        fd.readable.notify_one();
    }
}
