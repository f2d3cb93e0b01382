//! The blocking pool: threads for work that would stall a core (`spawn_blocking`).
//!
//! Rules:
//! 1. One pool per `Runtime`, shared by its cores (`spawn_blocking` outside any runtime
//!    uses one process-wide pool with the default settings). It grows by one thread when
//!    a job finds no idle thread, up to `Builder::max_blocking_threads`; a thread idle for
//!    `Builder::blocking_keep_alive` exits, and so does every idle thread once the pool is
//!    closed (its `Runtime` dropped). Queued jobs still run after the close.
//! 2. A job is an ordinary task (one allocation, the same `JoinHandle`); its result wakes
//!    the awaiting task through that task's own waker, i.e. the cross-core wake path.
//!
//! The hand-off (a job queued, a thread started or woken, the result waking its awaiter
//! on a sleeping core) is model-checked with loom (`loom_models`) on this code with
//! loom's `Mutex`, `Condvar` and threads in place (`loom_shim`); loom's `wait_timeout`
//! never times out, so the keep-alive exit is not part of the model.
#![forbid(unsafe_code)]

use super::join::Runnable;
use super::options::{DEFAULT_BLOCKING_KEEP_ALIVE, DEFAULT_MAX_BLOCKING_THREADS};
use crate::loom_shim::{Condvar, Mutex, MutexGuard, thread};
use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
// std's `Arc` even under loom: `self: &Arc<Self>` takes no other pointer type.
use std::sync::{Arc, OnceLock};
use std::task::{Context, Poll};
use std::time::Duration;

/// One queued job: a task (`spawn_blocking`), or a call the epoll backend makes for an
/// operation that would block its core (a regular file's read, an `open`).
enum Job {
    Task(Runnable),
    Call(Box<dyn FnOnce() + Send>),
}

impl Job {
    fn run(self) {
        match self {
            Job::Task(t) => {
                t.run();
            }
            Job::Call(f) => f(),
        }
    }
}

#[derive(Default)]
struct State {
    jobs: VecDeque<Job>,
    threads: usize,
    idle: usize,
    /// The runtime is gone: idle threads exit instead of waiting (rule 1).
    closed: bool,
}

/// A pool of threads that run blocking jobs.
pub(crate) struct BlockingPool {
    state: Mutex<State>,
    work: Condvar,
    max_threads: usize,
    keep_alive: Duration,
}

impl BlockingPool {
    /// A pool that has no thread yet.
    pub(crate) fn new(max_threads: usize, keep_alive: Duration) -> Arc<BlockingPool> {
        Arc::new(BlockingPool {
            state: Mutex::new(State::default()),
            work: Condvar::new(),
            max_threads,
            keep_alive,
        })
    }

    /// The pool of `spawn_blocking` calls made outside any runtime (rule 1).
    pub(crate) fn process_default() -> Arc<BlockingPool> {
        static POOL: OnceLock<Arc<BlockingPool>> = OnceLock::new();
        POOL.get_or_init(|| {
            BlockingPool::new(DEFAULT_MAX_BLOCKING_THREADS, DEFAULT_BLOCKING_KEEP_ALIVE)
        })
        .clone()
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Queues task `job` (rule 2).
    pub(crate) fn schedule(self: &Arc<Self>, job: Runnable) {
        self.push(Job::Task(job));
    }

    /// Queues a plain call; whatever it produces it reports itself.
    pub(crate) fn call(self: &Arc<Self>, f: Box<dyn FnOnce() + Send>) {
        self.push(Job::Call(f));
    }

    /// Queues `job`, starting a thread for it if none is idle and the limit allows.
    fn push(self: &Arc<Self>, job: Job) {
        let mut st = self.lock();
        st.jobs.push_back(job);
        if st.idle > 0 {
            self.work.notify_one();
        } else if st.threads < self.max_threads {
            st.threads += 1;
            drop(st);
            let pool = self.clone();
            let spawned = thread::Builder::new()
                .name("ringio-blocking".into())
                .spawn(move || pool.worker());
            if spawned.is_err() {
                // No thread now: the job waits for a running thread to pick it up.
                self.lock().threads -= 1;
            }
        }
    }

    /// Lets idle threads exit now and busy ones once the queue is empty (rule 1).
    pub(crate) fn close(&self) {
        self.lock().closed = true;
        self.work.notify_all();
    }

    fn worker(&self) {
        let mut st = self.lock();
        loop {
            if let Some(job) = st.jobs.pop_front() {
                drop(st);
                job.run();
                st = self.lock();
                continue;
            }
            if st.closed {
                st.threads -= 1;
                return;
            }
            st.idle += 1;
            let (guard, timeout) = self
                .work
                .wait_timeout(st, self.keep_alive)
                .unwrap_or_else(|e| e.into_inner());
            st = guard;
            st.idle -= 1;
            if timeout.timed_out() && st.jobs.is_empty() {
                st.threads -= 1;
                return;
            }
        }
    }
}

/// Runs the closure once, when the pool polls it.
pub(crate) struct Blocking<F>(pub(crate) Option<F>);

impl<F> Unpin for Blocking<F> {}

impl<F: FnOnce() -> T, T> Future for Blocking<F> {
    type Output = T;

    fn poll(mut self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<T> {
        let f = self.0.take().expect("a blocking job runs once");
        Poll::Ready(f())
    }
}

#[cfg(test)]
mod tests {
    use crate::runtime::Runtime;
    use std::sync::{Arc, Barrier};
    use std::time::Duration;

    #[test]
    fn jobs_beyond_max_threads_wait_their_turn_and_all_run() {
        let rt = Runtime::builder()
            .workers(1)
            .max_blocking_threads(2)
            .build()
            .unwrap();
        let sum = rt.block_on(async {
            // Two jobs hold both threads until both have started: a third thread would
            // be over the limit, so the other jobs queue behind them.
            let both = Arc::new(Barrier::new(2));
            let handles: Vec<_> = (0..6u64)
                .map(|i| {
                    let both = both.clone();
                    crate::spawn_blocking(move || {
                        if i < 2 {
                            both.wait();
                        }
                        std::thread::sleep(Duration::from_millis(1));
                        i
                    })
                })
                .collect();
            let mut sum = 0;
            for h in handles {
                sum += h.await.unwrap();
            }
            sum
        });
        assert_eq!(sum, 15);
        assert!(rt.blocking.lock().threads <= 2);
    }
}
