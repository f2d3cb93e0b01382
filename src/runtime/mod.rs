//! The executor: run futures, spawn tasks, yield.
//!
//! A runtime has one core per worker thread, each with its own ring, run queue and
//! timers; core 0 is the thread that calls [`Runtime::block_on`]. Tasks never leave their
//! core, so they need not be `Send`; [`spawn_on`] starts work on another core. The run
//! queue is FIFO and [`spawn`] is lazy, like asyncio's `create_task`: a new task first
//! runs when the spawner yields.

pub(crate) mod backend;
pub(crate) mod blocking;
mod builder;
#[cfg(feature = "test-util")]
pub(crate) mod clock;
mod context;
mod core;
mod debug;
pub(crate) mod handle;
mod join;
mod launch;
pub(crate) mod locals;
#[cfg(all(test, loom))]
mod loom_models;
mod metrics;
mod options;
mod shared;
mod task;
mod wheel;

pub use backend::{BACKEND_ENV, Backend};
#[doc(alias = "new_event_loop")]
pub use builder::Builder;
pub use builder::{DEFAULT_POOL_BUFFER_SIZE, DEFAULT_POOL_BUFFERS};
pub use builder::{MAX_POOL_BUFFER_SIZE, MAX_POOL_BYTES};
pub use join::{JoinError, JoinHandle};
pub use launch::Runtime;
pub use metrics::{Metrics, RingFlags};
pub use options::{DEBUG_ENV, DEFAULT_RING_ENTRIES, available_cpus};

use blocking::{Blocking, BlockingPool};
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
/// denied by seccomp with `RINGIO_BACKEND=io_uring`; by default such a host runs on
/// epoll instead, [`Backend`]), or if called inside a running runtime.
///
/// # Examples
///
/// ```
/// let out = ringio::run(async { "done" });
/// assert_eq!(out, "done");
/// ```
#[doc(alias = "asyncio.run")]
pub fn run<F: Future>(fut: F) -> F::Output {
    let rt = Runtime::builder()
        .workers(1)
        .build()
        .unwrap_or_else(|e| panic!("{e}"));
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
#[track_caller]
pub fn spawn<F>(fut: F) -> JoinHandle<F::Output>
where
    F: Future + 'static,
    F::Output: 'static,
{
    task::spawn_local(fut, None)
}

/// Spawns the future that `make` builds on core `core` of the current runtime.
///
/// `make` is `Send` and runs on the target core, so the future it builds need not be.
/// The handle may be awaited from any core.
///
/// # Panics
///
/// Outside a runtime, or if the runtime has no core `core`.
///
/// # Examples
///
/// ```
/// let rt = ringio::Runtime::builder().workers(2).build().unwrap();
/// rt.block_on(async {
///     let h = ringio::spawn_on(1, || async { ringio::runtime::current_core() });
///     assert_eq!(h.await.unwrap(), 1);
/// });
/// ```
#[track_caller]
pub fn spawn_on<M, F>(core: usize, make: M) -> JoinHandle<F::Output>
where
    M: FnOnce() -> F + Send + 'static,
    F: Future + 'static,
    F::Output: Send + 'static,
{
    spawn_on_named(core, make, None)
}

/// [`spawn_on`] with the task's name (`task::Builder`).
#[track_caller]
pub(crate) fn spawn_on_named<M, F>(
    core: usize,
    make: M,
    name: Option<std::sync::Arc<str>>,
) -> JoinHandle<F::Output>
where
    M: FnOnce() -> F + Send + 'static,
    F: Future + 'static,
    F::Output: Send + 'static,
{
    let (home, cores) = context::with_core(|c| (c.peers.get(core).cloned(), c.peers.len()));
    let home = home
        .unwrap_or_else(|| panic!("spawn_on({core}): this runtime has {cores} cores (0..{cores})"));
    task::spawn_remote(home, make, name)
}

/// [`spawn`] with the task's name (`task::Builder`).
#[track_caller]
pub(crate) fn spawn_named<F>(fut: F, name: Option<std::sync::Arc<str>>) -> JoinHandle<F::Output>
where
    F: Future + 'static,
    F::Output: 'static,
{
    task::spawn_local(fut, name)
}

/// Runs `f` on the blocking pool, a set of threads for work that would stall a core
/// (blocking syscalls, CPU-heavy work); awaiting the handle gives its result.
///
/// Each runtime has its own pool. It grows on demand up to
/// [`Builder::max_blocking_threads`] threads (512 by default); a thread idle for
/// [`Builder::blocking_keep_alive`] (10 s by default) exits, and idle threads exit when the
/// `Runtime` is dropped. Called outside any runtime, `f` runs on a process-wide pool with
/// the default settings. A panic in `f` becomes a [`JoinError`]. `JoinHandle::cancel`
/// only helps before `f` starts.
///
/// # Examples
///
/// ```
/// ringio::run(async {
///     let h = ringio::spawn_blocking(|| std::fs::read_to_string("/proc/self/comm").unwrap());
///     assert!(!h.await.unwrap().is_empty());
/// });
/// ```
#[doc(alias = "to_thread")]
#[doc(alias = "run_in_executor")]
#[track_caller]
pub fn spawn_blocking<F, T>(f: F) -> JoinHandle<T>
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    let pool = context::try_with_core(|core| core.blocking.clone())
        .unwrap_or_else(BlockingPool::process_default);
    task::spawn_task(
        Blocking(Some(f)),
        move |job| pool.schedule(job),
        None,
        false,
    )
}

/// The number of the core this code runs on (0 is the thread that called `block_on`).
///
/// # Panics
///
/// Outside a runtime.
pub fn current_core() -> usize {
    context::with_core(|c| c.index())
}

/// How many cores the current runtime has.
///
/// # Panics
///
/// Outside a runtime.
pub fn num_cores() -> usize {
    context::with_core(|c| c.peers.len())
}

/// This core's counters.
///
/// # Panics
///
/// Outside a runtime.
pub fn metrics() -> Metrics {
    context::with_core(|core| core.metrics())
}

/// Why the kernel refused this core's receive buffer pool, if it did (Linux before 5.19,
/// or RLIMIT_MEMLOCK too low: the message says which and how to fix it). `None` if the
/// pool works or was never needed.
///
/// Pooled receives (`recv_pooled`, `recv_stream`) do not fail when the pool is refused:
/// they use an owned buffer per receive, counted in
/// [`Metrics::pool_fallbacks`](crate::Metrics::pool_fallbacks).
///
/// # Panics
///
/// Outside a runtime.
///
/// # Examples
///
/// ```
/// ringio::run(async {
///     if let Some(e) = ringio::runtime::pool_error() {
///         eprintln!("receives use owned buffers: {e}");
///     }
/// });
/// ```
pub fn pool_error() -> Option<std::io::Error> {
    context::with_core(|core| core.pool.error())
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
