//! Tasks: one allocation each (async-task), a cancel flag, panics caught into `JoinError`.
//!
//! Rules:
//! 1. A task has a home core. Its waker hands the `Runnable` to that core's local queue,
//!    or to the core's remote queue when woken elsewhere, and only the home core runs it.
//!    So a `!Send` future is polled and dropped on one thread only.
//! 2. A task's state becomes `!Send` only at its first poll, on its home core: `spawn`
//!    builds the future there, and `spawn_on` sends a `Send` closure that builds it there
//!    ([`Lazy`]). A task dropped before its first poll (a core that shut down) therefore
//!    holds only `Send` state and may be dropped on any thread.
//! 3. From its first poll until its future is dropped, a task has an entry (its waker) in
//!    its home core's `active` slab; shutdown wakes them all and drops the `Runnable`s,
//!    which drops the futures on the home thread.
//! 4. The task's metadata ([`TaskMeta`]) lives in the task allocation, which stays alive
//!    while a `JoinHandle` holds the task.
//! 5. A panic of the future's destructor is caught where the task drops it (and reported
//!    by the panic hook only): the task still ends, its `JoinHandle` still learns of it,
//!    and shutdown, which may run while a panic of a main future waits, goes on.

use super::context;
use super::join::{JoinError, JoinHandle, Runnable, TaskMeta};
use super::locals::{self, WithLocals};
use super::shared::Shared;
use pin_project_lite::pin_project;
use std::future::Future;
use std::panic::Location;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

/// Spawns `fut` with `home` as its core (rule 1); the task first runs when `home` next
/// gets to its queue. `fut` must be `Send` unless the caller runs on `home` (rule 2);
/// `Lazy` and the blocking pool make sure of that.
///
/// `schedule` decides where a woken task goes: `home`'s queues, or the blocking pool.
/// `name` is what [`JoinHandle::name`] gives; the caller's location is where debug mode
/// (`debug`: on for the spawning core) says the task was spawned.
#[track_caller]
pub(crate) fn spawn_task<F, S>(
    fut: F,
    schedule: S,
    name: Option<Arc<str>>,
    debug: bool,
) -> JoinHandle<F::Output>
where
    F: Future + 'static,
    F::Output: 'static,
    S: Fn(Runnable) + Send + Sync + 'static,
{
    let meta = TaskMeta::new(name, Location::caller(), debug);
    // SAFETY: spawn_unchecked's conditions hold: a !Send future is run and dropped only on
    // its home thread (rules 1, 3) or holds only Send state until then (rule 2); it borrows
    // only its own task's metadata; `schedule` is Send + Sync + 'static.
    let (runnable, task) = unsafe {
        async_task::Builder::new()
            .metadata(meta)
            .spawn_unchecked(move |meta| TaskFuture::new(fut, meta), schedule)
    };
    runnable.schedule();
    JoinHandle::new(task)
}

/// Spawns `fut` on the current core.
#[track_caller]
pub(crate) fn spawn_local<F>(fut: F, name: Option<Arc<str>>) -> JoinHandle<F::Output>
where
    F: Future + 'static,
    F::Output: 'static,
{
    let (home, debug) = context::with_core(|core| (core.shared.clone(), core.slow_poll.is_some()));
    let schedule = move |r| schedule(&home, r);
    // A task spawned where no task-local is set is the future alone (`locals` rules 1, 2).
    match locals::inherit() {
        None => spawn_task(fut, schedule, name, debug),
        Some(locals) => spawn_task(WithLocals::new(locals, fut), schedule, name, debug),
    }
}

/// Spawns the future `make` builds on core `home`, from any thread.
#[track_caller]
pub(crate) fn spawn_remote<M, F>(
    home: Arc<Shared>,
    make: M,
    name: Option<Arc<str>>,
) -> JoinHandle<F::Output>
where
    M: FnOnce() -> F + Send + 'static,
    F: Future + 'static,
    F::Output: 'static,
{
    let debug = context::try_with_core(|core| core.slow_poll.is_some()).unwrap_or(false);
    spawn_task(
        Lazy::Make { make: Some(make) },
        move |r| schedule(&home, r),
        name,
        debug,
    )
}

/// Queues a woken task on its home core: the local queue when woken there (`shared`
/// rule 1), else the remote queue (`shared` rule 2).
fn schedule(home: &Shared, runnable: Runnable) {
    let mut runnable = Some(runnable);
    context::try_with_core(|core| {
        if core.id == home.id {
            let r = runnable.take().expect("taken once");
            core.run_queue.borrow_mut().push_back(r);
        }
    });
    if let Some(r) = runnable {
        home.push_remote(r);
    }
}

pin_project! {
    /// A future built on its home core at first poll from a `Send` closure (rule 2).
    #[project = LazyProj]
    pub(crate) enum Lazy<M, F> {
        Make { make: Option<M> },
        Run { #[pin] fut: F },
    }
}

impl<M: FnOnce() -> F, F: Future> Future for Lazy<M, F> {
    type Output = F::Output;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        if let LazyProj::Make { make } = self.as_mut().project() {
            let make = make.take().expect("Lazy is built once");
            self.set(Lazy::Run { fut: make() });
        }
        match self.project() {
            LazyProj::Run { fut } => fut.poll(cx),
            LazyProj::Make { .. } => unreachable!("set to Run above"),
        }
    }
}

pin_project! {
    /// The future a task really runs: the user's, plus cancellation and panic capture.
    pub(crate) struct TaskFuture<'a, F> {
        // `None` once dropped: the drop is done by hand, to catch its panic (rule 5).
        #[pin]
        inner: Option<F>,
        meta: &'a TaskMeta,
        started: bool,
        // (core id, key in its `active` slab), from the first poll on a core (rule 3).
        registered: Option<(usize, usize)>,
    }

    impl<'a, F> PinnedDrop for TaskFuture<'a, F> {
        fn drop(this: Pin<&mut Self>) {
            let this = this.project();
            this.meta.clear_waker();
            if let Some((core_id, key)) = *this.registered {
                context::try_with_core(|core| {
                    if core.id == core_id {
                        core.active.borrow_mut().try_remove(key);
                    }
                });
            }
            // Dropped in place (pinning allows it). If the destructor panics, the
            // assignment still leaves `None`, so nothing is dropped twice.
            let mut inner = this.inner;
            let _ = catch_unwind(AssertUnwindSafe(|| inner.set(None)));
        }
    }
}

impl<'a, F> TaskFuture<'a, F> {
    fn new(inner: F, meta: &'a TaskMeta) -> Self {
        TaskFuture {
            inner: Some(inner),
            meta,
            started: false,
            registered: None,
        }
    }
}

impl<F: Future> Future for TaskFuture<'_, F> {
    type Output = Result<F::Output, JoinError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        if !*this.started {
            *this.started = true;
            // First poll: on a core, join its live tasks (rule 3); anywhere (the blocking
            // pool too), let `cancel` wake us from now on.
            *this.registered = context::try_with_core(|core| {
                core.count_spawn();
                (core.id, core.active.borrow_mut().insert(cx.waker().clone()))
            });
            this.meta.set_waker(cx.waker().clone());
        }
        if this.meta.is_cancelled() {
            return Poll::Ready(Err(JoinError::cancelled()));
        }
        #[cfg(feature = "tracing")]
        let _entered = this.meta.span().map(tracing::Span::enter);
        let mut inner = this
            .inner
            .as_pin_mut()
            .expect("a task's future is dropped only with the task");
        match catch_unwind(AssertUnwindSafe(|| inner.as_mut().poll(cx))) {
            Ok(Poll::Ready(v)) => Poll::Ready(Ok(v)),
            Ok(Poll::Pending) => Poll::Pending,
            Err(payload) => {
                let err = JoinError::panic(payload);
                this.meta.failed(&err);
                Poll::Ready(Err(err))
            }
        }
    }
}
