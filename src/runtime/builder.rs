//! `Runtime` and its `Builder`.

use super::context;
use super::core::Core;
use super::metrics::Metrics;
use std::fmt;
use std::future::Future;
use std::io;
use std::rc::Rc;

/// Default submission-queue size: SQEs queued in one loop turn beyond this are flushed
/// early (one extra enter). 1,024 covers a loop turn of 128 tasks with several ops each, and costs 96 KiB of ring memory with its 2,048-entry CQ.
pub const DEFAULT_RING_ENTRIES: u32 = 1024;

/// Options for a [`Runtime`].
///
/// # Examples
///
/// ```
/// let rt = ringio::Runtime::builder().ring_entries(64).build().unwrap();
/// assert_eq!(rt.block_on(async { 1 + 1 }), 2);
/// ```
#[derive(Clone, Debug)]
#[doc(alias = "new_event_loop")]
pub struct Builder {
    workers: usize,
    pin_cores: bool,
    ring_entries: u32,
}

impl Default for Builder {
    fn default() -> Self {
        Builder {
            workers: 1,
            pin_cores: false,
            ring_entries: DEFAULT_RING_ENTRIES,
        }
    }
}

impl Builder {
    /// Number of worker cores. This runtime drives one core, on the thread that calls
    /// `block_on`; `build` refuses any other number.
    pub fn workers(mut self, n: usize) -> Self {
        self.workers = n;
        self
    }

    /// Whether to pin the worker thread to a CPU (default: no).
    pub fn pin_cores(mut self, pin: bool) -> Self {
        self.pin_cores = pin;
        self
    }

    /// Submission-queue size of each ring (a power of two, 1..=32768; default
    /// [`DEFAULT_RING_ENTRIES`]). A tiny ring still works: a full queue is flushed and retried.
    pub fn ring_entries(mut self, n: u32) -> Self {
        self.ring_entries = n;
        self
    }

    /// Builds the runtime: sets up the ring on this thread.
    ///
    /// # Errors
    ///
    /// If io_uring cannot be used, an error that names the cause and the fix: kernel too
    /// old (ENOSYS), disabled by `kernel.io_uring_disabled` or denied by seccomp (EPERM),
    /// RLIMIT_MEMLOCK too low (ENOMEM). Also if `workers` is not 1.
    pub fn build(self) -> io::Result<Runtime> {
        if self.workers != 1 {
            return Err(io::Error::new(
                io::ErrorKind::Unsupported,
                format!(
                    "workers({}): this runtime drives exactly one core",
                    self.workers
                ),
            ));
        }
        if self.pin_cores {
            pin_to_cpu(0)?;
        }
        Ok(Runtime {
            core: Core::new(self.ring_entries)?,
        })
    }
}

fn pin_to_cpu(cpu: usize) -> io::Result<()> {
    crate::fd::pin_current_thread(cpu)
}

/// A ringio runtime: one core with its io_uring, run queue and timers.
///
/// Dropping it cancels every task still alive and drains every operation in flight
/// before the ring goes away.
///
/// # Examples
///
/// ```
/// let rt = ringio::Runtime::new().unwrap();
/// let n = rt.block_on(async {
///     let h = ringio::spawn(async { 21 });
///     h.await.unwrap() * 2
/// });
/// assert_eq!(n, 42);
/// ```
pub struct Runtime {
    core: Rc<Core>,
}

impl Runtime {
    /// A runtime with default options.
    ///
    /// # Errors
    ///
    /// As [`Builder::build`].
    pub fn new() -> io::Result<Runtime> {
        Builder::default().build()
    }

    /// Options for a runtime.
    pub fn builder() -> Builder {
        Builder::default()
    }

    /// Runs `fut` to completion on this thread, driving every spawned task meanwhile.
    /// Tasks still alive when `fut` finishes are cancelled and dropped before this returns.
    ///
    /// # Panics
    ///
    /// If called from inside a running ringio runtime, or if the ring fails beyond
    /// recovery (io_uring_enter returns a fatal error).
    #[doc(alias = "run_until_complete")]
    pub fn block_on<F: Future>(&self, fut: F) -> F::Output {
        let _entered = context::enter(self.core.clone());
        let out = self.core.block_on(fut);
        self.core.shutdown_tasks();
        out
    }

    /// This runtime's counters.
    pub fn metrics(&self) -> Metrics {
        self.core.metrics()
    }
}

impl Drop for Runtime {
    fn drop(&mut self) {
        let _entered = context::enter_for_drop(self.core.clone());
        self.core.shutdown_tasks();
    }
}

impl fmt::Debug for Runtime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Runtime")
            .field("core", &self.core.id)
            .field("driver", &*self.core.driver.borrow())
            .finish()
    }
}
