//! `Runtime`: starts one core per worker for a call, runs it, shuts every core down.
//!
//! Rules:
//! 1. Core 0 is the calling thread; cores 1..n are scoped threads started by the call and
//!    joined before it returns. Each core builds its own ring on its own thread, so it is
//!    that ring's only issuer (SINGLE_ISSUER, DEFER_TASKRUN).
//! 2. No main future runs until every core has its ring ([`StartGate`]). If one core cannot
//!    build its ring (or its thread cannot start), the others drop theirs unused and the
//!    call returns that core's error: nothing ran, nothing is left behind.
//! 3. When the call's main future(s) are done, every core is told to stop: it cancels its
//!    tasks, drains its ring and its thread ends. No thread is left behind.
//! 4. A `Runtime` holds only options and figures from past calls, so it is `Send` and
//!    `Sync` and may be dropped on any thread.
//! 5. A main future that panics takes the runtime down like a finished one: its core
//!    shuts down as in rule 3 (tasks dropped, ring drained), then tells the others to
//!    stop, which drop their unfinished main futures and shut down too. Only then does
//!    the call resume the first panic (core 0's, else the lowest core's).
#![forbid(unsafe_code)]

use super::blocking::BlockingPool;
use super::context;
use super::core::{Core, CoreSetup};
use super::metrics::Metrics;
use super::options::{CpuPlan, Options};
use super::shared::Shared;
use crate::driver::Probe;
use std::any::Any;
use std::fmt;
use std::future::Future;
use std::io;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex};

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
    options: Options,
    plan: CpuPlan,
    /// This runtime's blocking pool, shared by its cores and closed when it drops.
    pub(super) blocking: Arc<BlockingPool>,
    /// What `build` found when it made a ring for every core on its thread.
    probe: Probe,
    /// Each core's counters at the end of the last call.
    last: Mutex<Vec<Metrics>>,
}

impl Runtime {
    pub(crate) fn new_with(options: Options, probe: Probe) -> Runtime {
        Runtime {
            plan: options.cpu_plan(),
            blocking: BlockingPool::new(options.max_blocking_threads, options.blocking_keep_alive),
            probe,
            options,
            last: Mutex::new(Vec::new()),
        }
    }

    /// Runs `fut` on core 0 (this thread) until it completes, with the other cores
    /// serving `spawn_on` meanwhile. Then every core cancels its tasks, drains its ring
    /// and stops before this returns.
    ///
    /// # Panics
    ///
    /// If called from inside a running ringio runtime, if `fut` panics (then every core
    /// shuts down as if `fut` had returned, and the panic goes on once they have), or if
    /// a core cannot build its ring although [`Builder::build`](crate::Builder::build) could: the message is
    /// [`try_block_on`](Self::try_block_on)'s error.
    #[doc(alias = "run_until_complete")]
    pub fn block_on<F: Future>(&self, fut: F) -> F::Output {
        self.try_block_on(fut).unwrap_or_else(|e| panic!("{e}"))
    }

    /// As [`block_on`](Self::block_on), but a core that cannot build its ring is an error
    /// instead of a panic; `fut` is then dropped without being polled.
    ///
    /// Each call builds its cores' rings anew, each on its own thread, and `build` only
    /// checked that they fitted then: the limit may have been lowered, or other rings
    /// may hold the locked memory, by the time this runs.
    ///
    /// # Errors
    ///
    /// As [`Builder::build`](crate::Builder::build): the first core's error, naming the cause and the fix (for
    /// example RLIMIT_MEMLOCK and its value), or that a core's thread could not start.
    ///
    /// # Panics
    ///
    /// As [`block_on`](Self::block_on), except for start errors.
    ///
    /// # Examples
    ///
    /// ```
    /// let rt = ringio::Runtime::builder().workers(2).build().unwrap();
    /// match rt.try_block_on(async { 7 }) {
    ///     Ok(v) => assert_eq!(v, 7),
    ///     Err(e) => eprintln!("a core could not start: {e}"),
    /// }
    /// ```
    pub fn try_block_on<F: Future>(&self, fut: F) -> io::Result<F::Output> {
        Ok(self.run_cores(fut, 1, |_| async {})?.0)
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
        self.try_run_per_core(f).unwrap_or_else(|e| panic!("{e}"))
    }

    /// As [`run_per_core`](Self::run_per_core), but a core that cannot build its ring is
    /// an error instead of a panic, as in [`try_block_on`](Self::try_block_on); no
    /// core's future is polled then.
    ///
    /// # Errors
    ///
    /// As [`try_block_on`](Self::try_block_on).
    ///
    /// # Panics
    ///
    /// As [`run_per_core`](Self::run_per_core), except for start errors.
    ///
    /// # Examples
    ///
    /// ```
    /// let rt = ringio::Runtime::builder().workers(2).build().unwrap();
    /// let cores = rt.try_run_per_core(|core| async move { core }).unwrap();
    /// assert_eq!(cores, vec![0, 1]);
    /// ```
    pub fn try_run_per_core<F, Fut>(&self, f: F) -> io::Result<Vec<Fut::Output>>
    where
        F: Fn(usize) -> Fut + Sync,
        Fut: Future,
        Fut::Output: Send,
    {
        let n = self.options.workers;
        let (first, rest) = self.run_cores(f(0), n, &f)?;
        Ok(std::iter::once(first).chain(rest).collect())
    }

    /// Runs `main0` on core 0 and `worker_main(i)` on core `i`; stops every core once
    /// `counted` mains have finished (core 0's counts first, then cores 1, 2, ...).
    fn run_cores<F0, W, FW>(
        &self,
        main0: F0,
        counted: usize,
        worker_main: W,
    ) -> io::Result<(F0::Output, Vec<FW::Output>)>
    where
        F0: Future,
        W: Fn(usize) -> FW + Sync,
        FW: Future,
        FW::Output: Send,
    {
        let n = self.options.workers;
        let peers: Arc<[Arc<Shared>]> = (0..n)
            .map(|i| Shared::new(i).map(Arc::new))
            .collect::<io::Result<Vec<_>>>()
            .map_err(|e| match e.raw_os_error() {
                Some(libc::EMFILE | libc::ENFILE) => {
                    crate::driver::descriptor_error(e, "a core's wake-up eventfd")
                }
                _ => crate::io::context::with_context(e, "ringio: cannot create a core's eventfd"),
            })?
            .into();
        let remaining = AtomicUsize::new(counted);
        let stop = StopAll(&peers);
        let finish = || {
            if remaining.fetch_sub(1, Ordering::AcqRel) == 1 {
                stop.stop();
            }
        };
        let gate = StartGate::new(n);
        let setup = CoreSetup {
            entries: self.options.ring_entries,
            pool: self.options.pool,
            probe: self.probe,
            slow_poll: self.options.slow_poll().ok().flatten(),
        };
        let mut metrics = vec![Metrics::default(); n];
        let (out0, outs, panic) = std::thread::scope(|scope| {
            let workers: Vec<_> = (1..n)
                .map(|i| {
                    let (peers, plan, blocking, worker_main, finish, stop, gate) = (
                        peers.clone(),
                        &self.plan,
                        &self.blocking,
                        &worker_main,
                        &finish,
                        &stop,
                        &gate,
                    );
                    let spawned = std::thread::Builder::new()
                        .name(format!("ringio-core-{i}"))
                        .spawn_scoped(scope, move || {
                            let ticket = gate.ticket(i);
                            // A core that dies takes the others down instead of leaving
                            // them waiting for it (rule 5).
                            let _stop_on_panic = StopOnUnwind(stop);
                            if let Some(&cpu) = plan.cpus.get(i) {
                                let _ = crate::sys::affinity::pin_current_thread(cpu);
                            }
                            let ran = run_core(ticket, peers, i, (setup, blocking), async move {
                                let v = worker_main(i).await;
                                if i < counted {
                                    finish();
                                }
                                v
                            });
                            if matches!(ran, Some((Err(_), _))) {
                                stop.stop();
                            }
                            ran
                        });
                    spawned
                        .map_err(|e| {
                            let why = format_args!("ringio cannot start: no thread for core {i}");
                            gate.fail(crate::io::context::with_context(e, why));
                        })
                        .ok()
                })
                .collect();
            let _stop_on_panic = StopOnUnwind(&stop);
            let restore = self.plan.cpus.first().map(|&cpu| {
                let before = crate::sys::affinity::allowed_cpus().ok();
                let _ = crate::sys::affinity::pin_current_thread(cpu);
                before
            });
            let ran0 = run_core(
                gate.ticket(0),
                peers.clone(),
                0,
                (setup, &self.blocking),
                async {
                    let v = main0.await;
                    finish();
                    v
                },
            );
            if matches!(ran0, Some((Err(_), _))) {
                stop.stop();
            }
            if let Some(Some(before)) = restore {
                let _ = crate::sys::affinity::set_allowed_cpus(&before);
            }
            let mut panic = None;
            let mut out0 = None;
            if let Some((res0, m0)) = ran0 {
                metrics[0] = m0;
                out0 = res0.unwrap_or_else(|p| {
                    panic = Some(p);
                    None
                });
            }
            let mut outs = Vec::with_capacity(n.saturating_sub(1));
            for (i, w) in workers.into_iter().enumerate() {
                match w.map(|w| w.join()) {
                    Some(Ok(Some((res, m)))) => {
                        metrics[i + 1] = m;
                        outs.push(res.unwrap_or_else(|p| {
                            panic.get_or_insert(p);
                            None
                        }));
                    }
                    // Never started: the start error is the gate's.
                    None | Some(Ok(None)) => outs.push(None),
                    Some(Err(p)) => {
                        panic.get_or_insert(p);
                    }
                }
            }
            (out0, outs, panic)
        });
        // Every core has shut down by now, whatever panicked (rule 5).
        if let Some(panic) = panic {
            std::panic::resume_unwind(panic);
        }
        // No core ran (rule 2): the figures of the last call that did stay.
        gate.into_error().map_or(Ok(()), Err)?;
        *self.last.lock().unwrap_or_else(|e| e.into_inner()) = metrics;
        // Cores stop early only when one panicked (`Core::run`), handled above.
        const EARLY: &str = "ringio: a core stopped before its main future was done";
        Ok((
            out0.expect(EARLY),
            outs.into_iter().map(|v| v.expect(EARLY)).collect(),
        ))
    }

    /// The counters of every core, summed, as they stood at the end of the last
    /// `block_on`/`run_per_core` (all zero before the first). `ring_flags` and
    /// `ring_fd_registered` are what every core's ring had in that call, or before the
    /// first call what [`Builder::build`](crate::Builder::build) got for this runtime's rings. Inside a running
    /// runtime, [`ringio::metrics`](crate::metrics) gives the current core's live figures.
    ///
    /// # Examples
    ///
    /// ```
    /// let rt = ringio::Runtime::builder().workers(2).build().unwrap();
    /// rt.block_on(async { ringio::fs::metadata("/").await.unwrap() }); // one statx
    /// let m = rt.metrics();
    /// assert_eq!(m.ops_submitted, 1);
    /// println!("ring flags of both cores: {}", m.ring_flags);
    /// ```
    pub fn metrics(&self) -> Metrics {
        let last = self.last.lock().unwrap_or_else(|e| e.into_inner());
        Metrics::total(&last).unwrap_or_else(|| Metrics {
            backend: self.probe.backend,
            fallback_reason: self.probe.fallback,
            ring_flags: self.probe.flags,
            ring_fd_registered: self.probe.ring_fd_registered,
            ..Metrics::default()
        })
    }

    /// Each core's counters at the end of the last call, in core order (empty before the
    /// first call).
    pub fn metrics_per_core(&self) -> Vec<Metrics> {
        self.last.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

/// What a core's main future gave: its output, `None` if the runtime stopped first (a
/// peer panicked), or the panic it raised.
type MainResult<T> = Result<Option<T>, Box<dyn Any + Send>>;

/// Builds core `index` on this thread and, once every core has its ring (rule 2), runs
/// `main` on it, then shuts it down (rule 3), also when `main` panicked (rule 5). `None`
/// if the runtime did not start: `main` was dropped unpolled.
fn run_core<F: Future>(
    ticket: Ticket<'_>,
    peers: Arc<[Arc<Shared>]>,
    index: usize,
    (setup, blocking): (CoreSetup, &Arc<BlockingPool>),
    main: F,
) -> Option<(MainResult<F::Output>, Metrics)> {
    let core = match Core::new(peers, index, setup, blocking.clone()) {
        Ok(core) => core,
        Err(e) => {
            ticket.failed(e);
            return None;
        }
    };
    if !ticket.ready() {
        // Another core could not start: this ring goes unused, nothing is in flight.
        return None;
    }
    #[cfg(feature = "tracing")]
    let _span = tracing::debug_span!(target: "ringio::runtime", "core", index).entered();
    #[cfg(feature = "tracing")]
    tracing::debug!(
        target: "ringio::runtime",
        backend = %setup.probe.backend,
        fallback = setup.probe.fallback,
        "core started",
    );
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
    #[cfg(feature = "tracing")]
    tracing::debug!(target: "ringio::runtime", tasks = metrics.tasks_spawned, "core stopped");
    Some((out, metrics))
}

/// Holds every core back until all have their ring, or one has failed (rule 2).
struct StartGate {
    cores: usize,
    state: Mutex<GateState>,
    changed: Condvar,
}

#[derive(Default)]
struct GateState {
    /// Cores that built their ring or failed to.
    reported: usize,
    /// The first failure.
    error: Option<io::Error>,
}

impl StartGate {
    fn new(cores: usize) -> StartGate {
        StartGate {
            cores,
            state: Mutex::new(GateState::default()),
            changed: Condvar::new(),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, GateState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Core `index`'s pass: it must say whether its ring was built, and says it failed if
    /// its thread unwinds first, so no core waits for it forever.
    fn ticket(&self, index: usize) -> Ticket<'_> {
        Ticket {
            gate: self,
            index,
            reported: false,
        }
    }

    /// Reports one core: ready, or failed with `error`.
    fn report(&self, error: Option<io::Error>) {
        let mut state = self.lock();
        state.reported += 1;
        if let Some(e) = error {
            state.error.get_or_insert(e);
        }
        self.changed.notify_all();
    }

    /// A core that could not even get a thread.
    fn fail(&self, error: io::Error) {
        self.report(Some(error));
    }

    /// Waits until every core is ready (`true`) or one has failed (`false`).
    fn wait(&self) -> bool {
        let mut state = self.lock();
        while state.error.is_none() && state.reported < self.cores {
            state = self.changed.wait(state).unwrap_or_else(|e| e.into_inner());
        }
        state.error.is_none()
    }

    fn into_error(self) -> Option<io::Error> {
        self.state
            .into_inner()
            .unwrap_or_else(|e| e.into_inner())
            .error
    }
}

/// One core's pass through the [`StartGate`].
struct Ticket<'a> {
    gate: &'a StartGate,
    index: usize,
    reported: bool,
}

impl Ticket<'_> {
    /// This core has its ring: waits for the others; `true` if every core has one.
    fn ready(mut self) -> bool {
        self.reported = true;
        self.gate.report(None);
        self.gate.wait()
    }

    /// This core could not build its ring.
    fn failed(mut self, error: io::Error) {
        self.reported = true;
        self.gate.report(Some(error));
    }
}

impl Drop for Ticket<'_> {
    fn drop(&mut self) {
        if !self.reported {
            let why = format!(
                "ringio cannot start: core {} panicked while starting",
                self.index
            );
            self.gate.report(Some(io::Error::other(why)));
        }
    }
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

impl Drop for Runtime {
    /// Lets the blocking pool's threads exit once its queued jobs are done.
    fn drop(&mut self) {
        self.blocking.close();
    }
}

impl fmt::Debug for Runtime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let m = self.metrics();
        f.debug_struct("Runtime")
            .field("workers", &self.options.workers)
            .field("ring_entries", &self.options.ring_entries)
            .field("buffer_pool", &self.options.pool)
            .field("cpus", &self.plan)
            .field("backend", &m.backend)
            .field("fallback_reason", &m.fallback_reason)
            .field("flags", &m.ring_flags.to_string())
            .field("ring_fd_registered", &m.ring_fd_registered)
            .finish()
    }
}
