//! The blocking pool: threads for work that would stall a core (`spawn_blocking`).
//!
//! Rules:
//! 1. One pool per process, shared by every runtime: it grows by one thread when a job
//!    finds no idle thread (up to [`MAX_THREADS`]), and a thread idle for [`IDLE_TIMEOUT`]
//!    exits.
//! 2. A job is an ordinary task (one allocation, the same `JoinHandle`); its result wakes
//!    the awaiting task through that task's own waker, i.e. the cross-core wake path.

use super::join::JoinHandle;
use super::task::{Runnable, spawn_task};
use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Condvar, Mutex, OnceLock};
use std::task::{Context, Poll};
use std::time::Duration;

/// Most threads the pool runs at once; jobs beyond wait in its queue. Blocking work is
/// mostly waiting (files, DNS, sleeps), so this is far above the core count, as in tokio.
pub const MAX_THREADS: usize = 512;
/// How long an idle pool thread waits for a job before it exits.
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Default)]
struct State {
    jobs: VecDeque<Runnable>,
    threads: usize,
    idle: usize,
}

struct Pool {
    state: Mutex<State>,
    work: Condvar,
}

fn pool() -> &'static Pool {
    static POOL: OnceLock<Pool> = OnceLock::new();
    POOL.get_or_init(|| Pool {
        state: Mutex::new(State::default()),
        work: Condvar::new(),
    })
}

impl Pool {
    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn schedule(&'static self, job: Runnable) {
        let mut st = self.lock();
        st.jobs.push_back(job);
        if st.idle > 0 {
            self.work.notify_one();
        } else if st.threads < MAX_THREADS {
            st.threads += 1;
            drop(st);
            let spawned = std::thread::Builder::new()
                .name("ringio-blocking".into())
                .spawn(move || self.worker());
            if spawned.is_err() {
                // No thread now: the job waits for a running thread to pick it up.
                self.lock().threads -= 1;
            }
        }
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
            st.idle += 1;
            let (guard, timeout) = self
                .work
                .wait_timeout(st, IDLE_TIMEOUT)
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
struct Blocking<F>(Option<F>);

impl<F> Unpin for Blocking<F> {}

impl<F: FnOnce() -> T, T> Future for Blocking<F> {
    type Output = T;

    fn poll(mut self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<T> {
        let f = self.0.take().expect("a blocking job runs once");
        Poll::Ready(f())
    }
}

/// See [`crate::spawn_blocking`].
pub(crate) fn spawn<F, T>(f: F) -> JoinHandle<T>
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    let pool = pool();
    spawn_task(Blocking(Some(f)), move |job| pool.schedule(job))
}
