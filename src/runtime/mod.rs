//! The executor: run futures, spawn tasks, yield.
//!
//! Each runtime drives one core on the thread that calls [`Runtime::block_on`]. Tasks
//! never leave their core, so they need not be `Send`. The run queue is FIFO and
//! [`spawn`] is lazy, like asyncio's `create_task`: a new task first runs when the
//! spawner yields.

mod builder;
pub(crate) mod context;
mod core;
mod join;
mod metrics;
mod task;

pub use builder::{Builder, DEFAULT_RING_ENTRIES, Runtime};
pub use join::{JoinError, JoinHandle};
pub use metrics::{Metrics, RingFlags};

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

/// Runs `fut` on a new one-core runtime and returns its output.
///
/// Tasks still alive when `fut` returns are cancelled and dropped before `run` returns,
/// and every operation in flight is drained before the ring is closed.
///
/// # Panics
///
/// If the runtime cannot start (the message names the cause and the fix, e.g. io_uring
/// disabled by sysctl or denied by seccomp), or if called inside a running runtime.
///
/// # Examples
///
/// ```
/// let out = ringio::run(async { "done" });
/// assert_eq!(out, "done");
/// ```
#[doc(alias = "asyncio.run")]
pub fn run<F: Future>(fut: F) -> F::Output {
    let rt = Runtime::new().unwrap_or_else(|e| panic!("{e}"));
    rt.block_on(fut)
}

/// Spawns `fut` as a task on the current core and returns a handle to await it.
///
/// The task first runs when the caller yields; `fut` need not be `Send`.
///
/// # Panics
///
/// Outside a runtime.
///
/// # Examples
///
/// ```
/// use std::rc::Rc;
///
/// ringio::run(async {
///     let shared = Rc::new(5); // !Send is fine: tasks stay on their core
///     let s = shared.clone();
///     let h = ringio::spawn(async move { *s + 1 });
///     assert_eq!(h.await.unwrap(), 6);
/// });
/// ```
#[doc(alias = "create_task")]
pub fn spawn<F>(fut: F) -> JoinHandle<F::Output>
where
    F: Future + 'static,
    F::Output: 'static,
{
    context::with_core(|core| core.spawn(fut))
}

/// This core's counters.
///
/// # Panics
///
/// Outside a runtime.
pub fn metrics() -> Metrics {
    context::with_core(|core| core.metrics())
}

/// Lets every other ready task run once before this one goes on.
///
/// # Examples
///
/// ```
/// ringio::run(async {
///     let h = ringio::spawn(async { 1 });
///     ringio::yield_now().await; // the spawned task runs here
///     assert!(h.is_finished());
/// });
/// ```
#[doc(alias = "sleep(0)")]
pub fn yield_now() -> YieldNow {
    YieldNow { yielded: false }
}

/// The future of [`yield_now`].
#[must_use = "futures do nothing unless awaited"]
#[derive(Debug)]
pub struct YieldNow {
    yielded: bool,
}

impl Future for YieldNow {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.yielded {
            return Poll::Ready(());
        }
        self.yielded = true;
        cx.waker().wake_by_ref();
        Poll::Pending
    }
}

/// One round trip through the ring that does nothing (IORING_OP_NOP): the cost of the
/// op path itself, for benchmarks and health checks.
///
/// # Errors
///
/// If the submission queue cannot take the SQE.
///
/// # Panics
///
/// Outside a runtime.
///
/// # Examples
///
/// ```
/// ringio::run(async { ringio::runtime::nop().await.unwrap() });
/// ```
pub async fn nop() -> std::io::Result<()> {
    crate::op::Op::nop()?.await
}
