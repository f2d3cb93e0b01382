//! `Runtime`: starts one core per worker for a call, runs it, shuts every core down.
//!
//! Rules:
//! 1. Core 0 is the calling thread; cores 1..n are scoped threads started by the call and
//!    joined before it returns. Each core builds its own ring on its own thread, so it is
//!    that ring's only issuer (SINGLE_ISSUER, DEFER_TASKRUN).
//! 2. When the call's main future(s) are done, every core is told to stop: it cancels its
//!    tasks, drains its ring and its thread ends. No thread is left behind.
//! 3. A `Runtime` holds only options and figures from past calls, so it is `Send` and
//!    `Sync` and may be dropped on any thread.
//! 4. A main future that panics takes the runtime down like a finished one: its core
//!    shuts down as in rule 2 (tasks dropped, ring drained), then tells the others to
//!    stop, which drop their unfinished main futures and shut down too. Only then does
//!    the call resume the first panic (core 0's, else the lowest core's).

use super::builder::{Builder, CpuPlan};
use super::context;
use super::core::Core;
use super::metrics::Metrics;
use super::shared::Shared;
use std::any::Any;
use std::fmt;
use std::future::Future;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

/// A ringio runtime: `workers` cores, each a thread with its own io_uring, run queue and
/// timers. Tasks stay on the core that spawned them, so they need not be `Send`.
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
    options: Builder,
    plan: CpuPlan,
    /// Each core's counters at the end of the last call.
    last: Mutex<Vec<Metrics>>,
}

impl Runtime {
    pub(crate) fn new_with(options: Builder) -> Runtime {
        Runtime {
            plan: options.cpu_plan(),
            options,
            last: Mutex::new(Vec::new()),
        }
    }

    /// A runtime with default options (one core per CPU this process may use).
    ///
    /// # Errors
    ///
    /// As [`Builder::build`].
    pub fn new() -> std::io::Result<Runtime> {
        Builder::default().build()
    }

    /// Options for a runtime.
    pub fn builder() -> Builder {
        Builder::default()
    }

    /// Runs `fut` on core 0 (this thread) until it completes, with the other cores
    /// serving `spawn_on` meanwhile. Then every core cancels its tasks, drains its ring
    /// and stops before this returns.
    ///
    /// # Panics
    ///
    /// If called from inside a running ringio runtime, if a core cannot start (the
    /// message names the cause), or if `fut` panics: then every core shuts down as if
    /// `fut` had returned, and the panic goes on once they have.
    #[doc(alias = "run_until_complete")]
    pub fn block_on<F: Future>(&self, fut: F) -> F::Output {
        self.run_cores(fut, 1, |_| async {}).0
    }

    /// Runs `f(core)` on every core at once (core 0 on this thread) and returns their
    /// outputs in core order once all have finished: the shape of an SO_REUSEPORT server.
    ///
    /// A core whose future finished keeps serving its tasks and `spawn_on` until all are
    /// done; then every core shuts down as in [`block_on`](Self::block_on).
    ///
    /// # Panics
    ///
    /// As [`block_on`](Self::block_on), or if any core's future panics: then the other
    /// cores drop their unfinished futures, every core shuts down, and the first panic
    /// goes on.
    ///
    /// # Examples
    ///
    /// ```
    /// let rt = ringio::Runtime::builder().workers(2).build().unwrap();
    /// let ids = rt.run_per_core(|core| async move { (core, ringio::runtime::current_core()) });
    /// assert_eq!(ids, vec![(0, 0), (1, 1)]);
    /// ```
    pub fn run_per_core<F, Fut>(&self, f: F) -> Vec<Fut::Output>
    where
        F: Fn(usize) -> Fut + Sync,
        Fut: Future,
        Fut::Output: Send,
    {
        let n = self.options.workers;
        let (first, rest) = self.run_cores(f(0), n, &f);
        std::iter::once(first).chain(rest).collect()
    }

    /// Runs `main0` on core 0 and `worker_main(i)` on core `i`; stops every core once
    /// `counted` mains have finished (core 0's counts first, then cores 1, 2, ...).
    fn run_cores<F0, W, FW>(
        &self,
        main0: F0,
        counted: usize,
        worker_main: W,
    ) -> (F0::Output, Vec<FW::Output>)
    where
        F0: Future,
        W: Fn(usize) -> FW + Sync,
        FW: Future,
        FW::Output: Send,
    {
        let n = self.options.workers;
        let peers: Arc<[Arc<Shared>]> = (0..n)
            .map(|i| Shared::new(i).map(Arc::new))
            .collect::<std::io::Result<Vec<_>>>()
            .unwrap_or_else(|e| panic!("ringio: cannot create a core's eventfd: {e}"))
            .into();
        let remaining = AtomicUsize::new(counted);
        let stop = StopAll(&peers);
        let finish = || {
            if remaining.fetch_sub(1, Ordering::AcqRel) == 1 {
                stop.stop();
            }
        };
        let entries = self.options.ring_entries;
        let pool = self.options.pool;
        let mut metrics = vec![Metrics::default(); n];
        let (out0, outs, panic) = std::thread::scope(|scope| {
            let workers: Vec<_> = (1..n)
                .map(|i| {
                    let (peers, plan, worker_main, finish, stop) =
                        (peers.clone(), &self.plan, &worker_main, &finish, &stop);
                    std::thread::Builder::new()
                        .name(format!("ringio-core-{i}"))
                        .spawn_scoped(scope, move || {
                            // A core that dies takes the others down instead of leaving
                            // them waiting for it (rule 4).
                            let _stop_on_panic = StopOnUnwind(stop);
                            if let Some(&cpu) = plan.cpus.get(i) {
                                let _ = crate::fd::pin_current_thread(cpu);
                            }
                            let (res, m) = run_core(peers, i, (entries, pool), async move {
                                let v = worker_main(i).await;
                                if i < counted {
                                    finish();
                                }
                                v
                            });
                            if res.is_err() {
                                stop.stop();
                            }
                            (res, m)
                        })
                        .unwrap_or_else(|e| panic!("ringio: cannot start core {i}: {e}"))
                })
                .collect();
            let _stop_on_panic = StopOnUnwind(&stop);
            let restore = self.plan.cpus.first().map(|&cpu| {
                let before = crate::fd::allowed_cpus().ok();
                let _ = crate::fd::pin_current_thread(cpu);
                before
            });
            let (res0, m0) = run_core(peers.clone(), 0, (entries, pool), async {
                let v = main0.await;
                finish();
                v
            });
            if res0.is_err() {
                stop.stop();
            }
            if let Some(Some(before)) = restore {
                let _ = crate::fd::set_allowed_cpus(&before);
            }
            metrics[0] = m0;
            let mut panic = None;
            let out0 = res0.unwrap_or_else(|p| {
                panic = Some(p);
                None
            });
            let mut outs = Vec::with_capacity(n.saturating_sub(1));
            for (i, w) in workers.into_iter().enumerate() {
                match w.join() {
                    Ok((res, m)) => {
                        metrics[i + 1] = m;
                        outs.push(res.unwrap_or_else(|p| {
                            panic.get_or_insert(p);
                            None
                        }));
                    }
                    Err(p) => {
                        panic.get_or_insert(p);
                    }
                }
            }
            (out0, outs, panic)
        });
        *self.last.lock().unwrap_or_else(|e| e.into_inner()) = metrics;
        // Every core has shut down by now, whatever panicked (rule 4).
        if let Some(panic) = panic {
            std::panic::resume_unwind(panic);
        }
        // Cores stop early only when one panicked (`Core::run`), handled above.
        const EARLY: &str = "ringio: a core stopped before its main future was done";
        (
            out0.expect(EARLY),
            outs.into_iter().map(|v| v.expect(EARLY)).collect(),
        )
    }

    /// The counters of every core, summed, as they stood at the end of the last
    /// `block_on`/`run_per_core` (all zero before the first; the ring flags are those
    /// the kernel accepted when the runtime was built). Inside a running runtime,
    /// [`ringio::metrics`](crate::metrics) gives the current core's live figures.
    pub fn metrics(&self) -> Metrics {
        let last = self.last.lock().unwrap_or_else(|e| e.into_inner());
        let probed = Metrics {
            ring_flags: crate::driver::probed_flags().unwrap_or_default(),
            ..Metrics::default()
        };
        last.iter().fold(probed, |acc, m| acc.merged(m))
    }

    /// Each core's counters at the end of the last call, in core order.
    pub fn metrics_per_core(&self) -> Vec<Metrics> {
        self.last.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

/// What a core's main future gave: its output, `None` if the runtime stopped first (a
/// peer panicked), or the panic it raised.
type MainResult<T> = Result<Option<T>, Box<dyn Any + Send>>;

/// Builds core `index` on this thread, runs `main` on it, then shuts it down (rule 2),
/// also when `main` panicked (rule 4).
fn run_core<F: Future>(
    peers: Arc<[Arc<Shared>]>,
    index: usize,
    (entries, pool): (u32, crate::driver::PoolConfig),
    main: F,
) -> (MainResult<F::Output>, Metrics) {
    let core = Core::new(peers, index, entries, pool)
        .unwrap_or_else(|e| panic!("ringio: core {index} cannot start: {e}"));
    let entered = context::enter(core.clone());
    // Without this catch a panic would skip the shutdown below, and the core would never
    // be freed: its tasks' ops hold it (`Rc<Core>`) while its queues hold the tasks. Its
    // ring, descriptors, slab and every buffer in flight would leak.
    let out = catch_unwind(AssertUnwindSafe(|| core.run(main)));
    core.shutdown_tasks();
    core.drain_ops();
    let metrics = core.metrics();
    drop(entered);
    // The ring closes here, unless a future that escaped the call still holds an op on
    // it; then that op's drop cancels it and the ring closes after its CQE.
    drop(core);
    (out, metrics)
}

/// Tells every core to stop.
struct StopAll<'a>(&'a Arc<[Arc<Shared>]>);

impl StopAll<'_> {
    fn stop(&self) {
        for core in self.0.iter() {
            core.stop();
        }
    }
}

/// Stops every core if the thread holding it panics.
struct StopOnUnwind<'a, 'b>(&'a StopAll<'b>);

impl Drop for StopOnUnwind<'_, '_> {
    fn drop(&mut self) {
        if std::thread::panicking() {
            self.0.stop();
        }
    }
}

impl fmt::Debug for Runtime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Runtime")
            .field("workers", &self.options.workers)
            .field("ring_entries", &self.options.ring_entries)
            .field("buffer_pool", &self.options.pool)
            .field("cpus", &self.plan)
            .field(
                "flags",
                &crate::driver::probed_flags().map(|f| f.to_string()),
            )
            .finish()
    }
}
