//! One core: its ring, run queues, timers and tasks, and the loop turn that drives them.
//!
//! The loop turn:
//! 1. run up to [`RUN_BATCH`] ready tasks from the local queue;
//! 2. move tasks woken from other threads into the local queue;
//! 3. fire expired timers;
//! 4. one `io_uring_enter`: submit everything queued and, if nothing is ready, sleep until
//!    a CQE, a remote wake (eventfd) or the next timer deadline;
//! 5. reap the CQEs and wake their tasks.
//!
//! With a paused clock (feature `test-util`, `time::pause`) step 4 never blocks while a
//! timer is pending: time would not pass while it waited. It polls the ring without
//! waiting instead, and if that turn found nothing to run (no task or main future
//! ready, nothing queued from other threads, no CQE reaped that woke one), it jumps the
//! clock to the next deadline, which step 3 of the next turn fires. I/O in flight still
//! completes for real: every jump comes after a poll of the ring.
#![forbid(unsafe_code)]

use super::Backend;
use super::blocking::BlockingPool;
use super::join::Runnable;
use super::locals::{self, WithLocals};
use super::metrics::Metrics;
use super::shared::Shared;
use super::wheel::TimerWheel;
use crate::buf::pool::{Pool, PoolConfig};
use crate::driver::{Completion, DRAIN_LIMIT, Driver, Orphan, Probe, RingSize};
use slab::Slab;
use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::future::Future;
use std::io;
use std::panic::{AssertUnwindSafe, catch_unwind, resume_unwind};
use std::pin::Pin;
use std::rc::{Rc, Weak};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Wake, Waker};
use std::time::{Duration, Instant};

/// Tasks run per turn before the ring is entered again: enough to batch many SQEs into
/// one enter, few enough that completions are not starved by a busy queue.
pub(crate) const RUN_BATCH: usize = 128;
/// Passes shutdown makes over the live tasks; a task whose `Drop` spawns again gets
/// dropped in the next pass. Bounded so a pathological `Drop` cannot hang shutdown.
const SHUTDOWN_PASSES: usize = 64;

/// What one reap produced: tasks to wake and dropped ops' late completions to finish.
type Reaped = (Vec<Waker>, Vec<(Box<dyn Orphan>, Completion)>);

/// Wakes `block_on`'s main future.
pub(crate) struct MainWaker {
    woken: AtomicBool,
    shared: Arc<Shared>,
}

impl Wake for MainWaker {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }
    fn wake_by_ref(self: &Arc<Self>) {
        self.woken.store(true, Ordering::SeqCst);
        self.shared.unpark();
    }
}

/// What every core of a runtime is built with.
#[derive(Clone, Copy)]
pub(crate) struct CoreSetup {
    pub(crate) entries: u32,
    pub(crate) pool: PoolConfig,
    /// The backend `build` picked, the same for every core.
    pub(crate) probe: Probe,
    /// Debug mode's threshold, if debug mode is on (`Builder::debug`).
    pub(crate) slow_poll: Option<Duration>,
}

/// Everything one core owns. Fields drop in order: the ring goes last, after every task
/// and timer that could point into it.
pub(crate) struct Core {
    pub(crate) id: usize,
    me: Weak<Core>,
    /// Every core of this runtime, indexed by core number (`peers[i].index == i`).
    pub(crate) peers: Arc<[Arc<Shared>]>,
    pub(crate) run_queue: RefCell<VecDeque<Runnable>>,
    /// The waker of every task whose future is alive (task rule 3).
    pub(crate) active: RefCell<Slab<Waker>>,
    pub(crate) shared: Arc<Shared>,
    pub(crate) timers: RefCell<TimerWheel>,
    /// The clock tests may pause (`time::pause`).
    #[cfg(feature = "test-util")]
    pub(crate) clock: super::clock::Clock,
    tasks_spawned: Cell<u64>,
    /// Reused buffers for what reaping produced.
    reaped: RefCell<Reaped>,
    /// The runtime's blocking pool, for `spawn_blocking` from this core.
    pub(crate) blocking: Arc<BlockingPool>,
    /// The buffer pool; dropped before the driver, which holds its ring until unregistered.
    pub(crate) pool: Pool,
    /// Why `Auto` runs epoll here, if it does.
    fallback: Option<&'static str>,
    /// Debug mode's slow-poll threshold, if debug mode is on.
    pub(crate) slow_poll: Option<Duration>,
    pub(crate) driver: RefCell<Driver>,
}

impl Core {
    /// Builds core `index` of `peers` on the calling thread, which becomes its only
    /// issuer (SINGLE_ISSUER).
    pub(crate) fn new(
        peers: Arc<[Arc<Shared>]>,
        index: usize,
        setup: CoreSetup,
        blocking: Arc<BlockingPool>,
    ) -> io::Result<Rc<Core>> {
        let shared = peers[index].clone();
        let size = RingSize {
            entries: setup.entries,
            rings: peers.len(),
        };
        let driver = match setup.probe.backend {
            Backend::Epoll => Driver::new_epoll(size, shared.wake_fd(), &blocking)?,
            _ => Driver::new(size, shared.wake_fd())?,
        };
        Ok(Rc::new_cyclic(|me| Core {
            id: shared.id,
            me: me.clone(),
            peers,
            run_queue: RefCell::new(VecDeque::with_capacity(RUN_BATCH)),
            active: RefCell::new(Slab::new()),
            shared,
            timers: RefCell::new(TimerWheel::new()),
            #[cfg(feature = "test-util")]
            clock: super::clock::Clock::default(),
            tasks_spawned: Cell::new(0),
            reaped: RefCell::new((Vec::new(), Vec::new())),
            blocking,
            pool: Pool::new(setup.pool),
            fallback: setup.probe.fallback,
            slow_poll: setup.slow_poll,
            driver: RefCell::new(driver),
        }))
    }

    pub(crate) fn self_rc(&self) -> Rc<Core> {
        self.me
            .upgrade()
            .expect("a core is alive while it is current")
    }

    pub(crate) fn main_waker(&self) -> Arc<MainWaker> {
        Arc::new(MainWaker {
            woken: AtomicBool::new(true),
            shared: self.shared.clone(),
        })
    }

    /// This core's number in its runtime.
    pub(crate) fn index(&self) -> usize {
        self.shared.index
    }

    /// The time this core's timers go by: the real clock, or the paused one in tests.
    #[inline]
    pub(crate) fn now(&self) -> Instant {
        #[cfg(feature = "test-util")]
        return self.clock.now();
        #[cfg(not(feature = "test-util"))]
        Instant::now()
    }

    pub(crate) fn count_spawn(&self) {
        self.tasks_spawned.set(self.tasks_spawned.get() + 1);
    }

    /// Polls `fut` to completion, turning the loop in between; then keeps serving this
    /// core's tasks until the runtime asks it to stop (`Shared::stop`).
    ///
    /// Returns `None` if the runtime stops before `fut` is done: another core's main
    /// future panicked, and this one is dropped unfinished. If `fut` or the loop panics,
    /// `fut` is dropped before the panic goes on, so its destructor never runs while
    /// unwinding (a second panic there would abort); a panic of that destructor is
    /// dropped, the panic hook has reported it. `fut` sees a copy of the task-locals set
    /// around the call; the loop, none (`locals` rule 1).
    pub(crate) fn run<F: Future>(&self, fut: F) -> Option<F::Output> {
        let (main_locals, _outer) = locals::set_aside();
        let mut fut = std::pin::pin!(Some(WithLocals::new(main_locals, fut)));
        match catch_unwind(AssertUnwindSafe(|| self.run_main(fut.as_mut()))) {
            Ok(out) => out,
            Err(panic) => {
                let _ = catch_unwind(AssertUnwindSafe(|| fut.set(None)));
                resume_unwind(panic)
            }
        }
    }

    fn run_main<F: Future>(&self, mut fut: Pin<&mut Option<F>>) -> Option<F::Output> {
        let main = self.main_waker();
        let waker = Waker::from(main.clone());
        let mut cx = std::task::Context::from_waker(&waker);
        let mut out = None;
        loop {
            if out.is_none()
                && main.woken.swap(false, Ordering::AcqRel)
                && let Some(f) = fut.as_mut().as_pin_mut()
                && let std::task::Poll::Ready(v) = f.poll(&mut cx)
            {
                out = Some(v);
            }
            // The runtime stops once every counted main future is done, so a stop that
            // finds this one unfinished comes from a core that panicked.
            if self.shared.is_stopping() {
                return out;
            }
            self.turn(&main.woken, out.is_some());
        }
    }

    /// One loop turn (module docs).
    fn turn(&self, main_woken: &AtomicBool, main_done: bool) {
        // FIFO fairness for the main future too: once woken it waits behind every task
        // that was ready before it, as a task would; otherwise a batch bounds the turn.
        let budget = if !main_done && main_woken.load(Ordering::SeqCst) {
            self.run_queue.borrow().len()
        } else {
            RUN_BATCH
        };
        for _ in 0..budget {
            let Some(runnable) = self.run_queue.borrow_mut().pop_front() else {
                break;
            };
            match self.slow_poll {
                None => {
                    runnable.run();
                }
                Some(limit) => self.run_timed(runnable, limit),
            }
        }
        self.drain_remote();
        self.timers.borrow_mut().fire_expired(self.now());

        let main_ready = !main_done && main_woken.load(Ordering::SeqCst);
        let mut driver = self.driver.borrow_mut();
        // Tasks polled this turn may have reaped CQEs whose wakers and orphans wait for
        // step 5: the loop does not sleep on them.
        let ready = !self.run_queue.borrow().is_empty() || main_ready || driver.has_reaped();
        // Where a paused clock jumps if this turn finds nothing to do (module docs).
        #[cfg(feature = "test-util")]
        let mut jump = None;
        let res = if ready {
            if driver.has_work() {
                driver.enter(None)
            } else {
                Ok(())
            }
        } else {
            let res = if self.shared.prepare_sleep()
                && (main_done || !main_woken.load(Ordering::SeqCst))
            {
                let deadline = self.timers.borrow_mut().next_deadline();
                #[cfg_attr(not(feature = "test-util"), allow(unused_mut))]
                let mut wait = Some(deadline.map(|d| d.saturating_duration_since(self.now())));
                // A paused clock does not pass while the loop waits: poll instead.
                #[cfg(feature = "test-util")]
                if self.clock.is_paused() && deadline.is_some() {
                    jump = deadline;
                    wait = None;
                }
                driver.arm_wake();
                driver.enter(wait)
            } else {
                Ok(())
            };
            self.shared.awake();
            res
        };
        if let Err(e) = res {
            panic!("ringio: io_uring_enter failed and the runtime cannot go on: {e}");
        }
        driver.reap();
        drop(driver);
        self.finish_reaped();
        #[cfg(feature = "test-util")]
        if let Some(deadline) = jump
            && self.run_queue.borrow().is_empty()
            && (main_done || !main_woken.load(Ordering::SeqCst))
            && self.shared.is_idle()
        {
            self.clock.advance_to(deadline);
        }
    }

    /// Runs one task poll and reports it if it held the core `limit` or longer (debug
    /// mode, `Builder::debug`).
    fn run_timed(&self, runnable: Runnable, limit: Duration) {
        // The task may end in this poll and free its metadata: keep what the report needs.
        let meta = runnable.metadata();
        let (name, location) = (meta.name(), meta.location());
        let start = Instant::now();
        runnable.run();
        let held = start.elapsed();
        if held >= limit {
            super::debug::slow_poll(self.index(), name.as_deref(), location, held);
        }
    }

    /// Wakes the tasks and finishes the orphans the last reap found, outside the driver
    /// borrow (their code may use the runtime).
    fn finish_reaped(&self) {
        let (mut wakers, mut orphans) = std::mem::take(&mut *self.reaped.borrow_mut());
        self.driver
            .borrow_mut()
            .take_ready(&mut wakers, &mut orphans);
        for w in wakers.drain(..) {
            w.wake();
        }
        for (orphan, c) in orphans.drain(..) {
            orphan.complete(c);
        }
        *self.reaped.borrow_mut() = (wakers, orphans);
    }

    /// Cancels every op still in flight and waits for their CQEs, so the core ends with
    /// nothing in flight (shutdown; tasks are gone by now).
    pub(crate) fn drain_ops(&self) {
        self.driver.borrow_mut().cancel_all();
        // The epoll backend ends parked ops inside the cancel: release what they held.
        self.finish_reaped();
        let start = Instant::now();
        while self.driver.borrow().owed() {
            let mut driver = self.driver.borrow_mut();
            if start.elapsed() > DRAIN_LIMIT || driver.wait_and_reap().is_err() {
                driver.leak_in_flight();
            }
            drop(driver);
            self.finish_reaped();
        }
    }

    fn drain_remote(&self) {
        while let Some(r) = self.shared.pop_remote() {
            self.run_queue.borrow_mut().push_back(r);
        }
    }

    /// Cancels every task still alive and drops its future on this thread (task rules 2, 3).
    /// A future whose destructor panics cannot stop this: the task catches it (task
    /// rule 5), so shutdown also runs whole while a panic of the main future waits.
    pub(crate) fn shutdown_tasks(&self) {
        for _ in 0..SHUTDOWN_PASSES {
            let wakers: Vec<Waker> = self
                .active
                .borrow()
                .iter()
                .map(|(_, w)| w.clone())
                .collect();
            self.drain_remote();
            if wakers.is_empty() && self.run_queue.borrow().is_empty() {
                return;
            }
            for w in wakers {
                w.wake();
            }
            self.drain_remote();
            loop {
                let next = self.run_queue.borrow_mut().pop_front();
                match next {
                    // Dropping a Runnable drops its task's future.
                    Some(r) => drop(r),
                    None => break,
                }
            }
        }
    }

    pub(crate) fn metrics(&self) -> Metrics {
        let mut driver = self.driver.borrow_mut();
        let stats = driver.stats();
        let (pool_in_use, pool_buffers, pool_exhausted) = self.pool.stats();
        Metrics {
            pool_buffers,
            pool_in_use,
            pool_exhausted,
            pool_fallbacks: self.pool.fallbacks(),
            tasks_spawned: self.tasks_spawned.get(),
            tasks_alive: self.active.borrow().len(),
            ops_submitted: stats.submitted,
            ops_completed: stats.completed,
            ops_in_flight: driver.in_flight(),
            enters: stats.enters,
            cq_overflows: u64::from(driver.cq_overflows()),
            cq_backlogs: stats.cq_backlogs,
            timers_pending: self.timers.borrow().len(),
            backend: driver.backend(),
            fallback_reason: self.fallback,
            ring_flags: driver.flags(),
            ring_fd_registered: driver.ring_fd_registered(),
        }
    }
}
