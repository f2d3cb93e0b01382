//! `JoinHandle` and `JoinError`: awaiting, cancelling and detaching a task; and what a
//! handle shares with its task ([`TaskMeta`]), under the task rules of `task.rs`.

use std::any::Any;
use std::fmt;
use std::future::Future;
use std::panic::Location;
use std::pin::Pin;
use std::ptr::NonNull;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};

/// What a `JoinHandle` shares with its task, kept inside the task's one allocation.
#[derive(Default)]
pub(crate) struct TaskMeta {
    /// What only some tasks have (a name, debug mode's record), boxed so that a plain
    /// task carries one null pointer for them: its allocation is a cost per connection.
    extra: Option<Box<Extra>>,
    cancelled: AtomicBool,
    /// The task's own waker, so `cancel` can wake it. Cleared when the future is dropped,
    /// which breaks the reference cycle task → meta → waker → task.
    waker: Mutex<Option<Waker>>,
}

/// The rarer part of a task's metadata (`TaskMeta::extra`), never changed after spawn
/// but for debug mode's flags.
struct Extra {
    /// Given at spawn (`task::Builder::name`).
    name: Option<Arc<str>>,
    /// Debug mode's record, where it was on at spawn (`Builder::debug`).
    debug: Option<DebugInfo>,
    /// The task's `tracing` span (target `ringio::task`, level TRACE), entered around each
    /// poll; made only when a subscriber wants it.
    #[cfg(feature = "tracing")]
    span: Option<tracing::Span>,
}

impl TaskMeta {
    pub(crate) fn new(
        name: Option<Arc<str>>,
        location: &'static Location<'static>,
        debug: bool,
    ) -> TaskMeta {
        let debug = debug.then_some(DebugInfo {
            location,
            detached: AtomicBool::new(false),
            reported: AtomicBool::new(false),
        });
        #[cfg(feature = "tracing")]
        let span = {
            let span = tracing::trace_span!(
                target: "ringio::task",
                "task",
                name = name.as_deref(),
                spawned_at = %location,
            );
            (!span.is_disabled()).then_some(span)
        };
        #[cfg(feature = "tracing")]
        let rare = name.is_some() || debug.is_some() || span.is_some();
        #[cfg(not(feature = "tracing"))]
        let rare = name.is_some() || debug.is_some();
        TaskMeta {
            extra: rare.then(|| {
                Box::new(Extra {
                    name,
                    debug,
                    #[cfg(feature = "tracing")]
                    span,
                })
            }),
            ..TaskMeta::default()
        }
    }

    /// The task's `tracing` span, if one was made at spawn.
    #[cfg(feature = "tracing")]
    pub(crate) fn span(&self) -> Option<&tracing::Span> {
        self.extra.as_ref()?.span.as_ref()
    }

    pub(crate) fn name(&self) -> Option<Arc<str>> {
        self.extra.as_ref()?.name.clone()
    }

    fn name_str(&self) -> Option<&str> {
        self.extra.as_ref()?.name.as_deref()
    }

    /// Debug mode's record, if debug mode was on at spawn.
    fn debug(&self) -> Option<&DebugInfo> {
        self.extra.as_ref()?.debug.as_ref()
    }

    /// Where the task was spawned, if debug mode was on then.
    pub(crate) fn location(&self) -> Option<&'static Location<'static>> {
        self.debug().map(|d| d.location)
    }

    /// The task failed with `err`: in debug mode, if its handle is gone, report it once
    /// (asyncio's "Task exception was never retrieved"). A cancel is asked for, not a
    /// failure: never reported.
    pub(crate) fn failed(&self, err: &JoinError) {
        if let Some(d) = self.debug()
            && err.is_panic()
            && d.detached.load(Ordering::SeqCst)
            && !d.reported.swap(true, Ordering::SeqCst)
        {
            super::debug::never_retrieved(self.name_str(), Some(d.location), err);
        }
    }

    pub(crate) fn set_waker(&self, waker: Waker) {
        *self.waker.lock().unwrap_or_else(|e| e.into_inner()) = Some(waker);
    }

    /// Forgets the task's waker once its future is dropped (breaks the cycle above).
    pub(crate) fn clear_waker(&self) {
        *self.waker.lock().unwrap_or_else(|e| e.into_inner()) = None;
    }

    /// Whether [`cancel`](Self::cancel) was called.
    pub(crate) fn is_cancelled(&self) -> bool {
        self.cancelled.load(Ordering::Acquire)
    }

    /// Asks the task to stop at its next poll and wakes it so that poll comes.
    pub(crate) fn cancel(&self) {
        self.cancelled.store(true, Ordering::Release);
        if let Some(w) = self
            .waker
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .as_ref()
        {
            w.wake_by_ref();
        }
    }
}

/// What debug mode keeps of a task (`Extra::debug`).
struct DebugInfo {
    /// Where the task was spawned (`#[track_caller]` through the spawn functions).
    location: &'static Location<'static>,
    /// Its handle was dropped.
    detached: AtomicBool,
    /// Its failure was reported: at most once.
    reported: AtomicBool,
}

/// A task ready to be polled once, as queues hold it.
pub(crate) type Runnable = async_task::Runnable<TaskMeta>;

/// A handle to a spawned task; awaiting it gives the task's output.
///
/// Dropping the handle detaches the task: it runs on.
///
/// # Examples
///
/// ```
/// ringio::run(async {
///     let h = ringio::spawn(async { 6 * 7 });
///     assert_eq!(h.await.unwrap(), 42);
/// });
/// ```
#[doc(alias = "Task")]
pub struct JoinHandle<T> {
    task: Option<async_task::FallibleTask<Result<T, JoinError>, TaskMeta>>,
    /// Points into the task allocation, kept alive by `task` (task rule 4).
    meta: NonNull<TaskMeta>,
    /// The output, once taken from the task but not yet handed out (`poll_finished`).
    output: Option<Result<T, JoinError>>,
}

// The output is only ever moved, never pinned.
impl<T> Unpin for JoinHandle<T> {}

// SAFETY: `meta` points to a `TaskMeta`, which is `Sync` (atomics and a mutex), inside an
// allocation kept alive by `task`; the task handle is `Send` when `T` is.
unsafe impl<T: Send> Send for JoinHandle<T> {}

impl<T> JoinHandle<T> {
    pub(crate) fn new(task: async_task::Task<Result<T, JoinError>, TaskMeta>) -> Self {
        let meta = NonNull::from(task.metadata());
        JoinHandle {
            task: Some(task.fallible()),
            meta,
            output: None,
        }
    }

    fn meta(&self) -> &TaskMeta {
        // SAFETY: task rule 4: the allocation lives while `self.task` does, and `self.task`
        // is only taken in `Drop`.
        unsafe { self.meta.as_ref() }
    }

    /// Asks the task to stop; returns `false` if it had already finished.
    ///
    /// The cancel takes effect at the task's next poll (it is woken for it): its future
    /// is dropped there, and awaiting this handle gives a [`JoinError`] whose
    /// [`is_cancelled`](JoinError::is_cancelled) is true.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// ringio::run(async {
    ///     let h = ringio::spawn(ringio::time::sleep(Duration::from_secs(3600)));
    ///     ringio::yield_now().await;
    ///     assert!(h.cancel());
    ///     assert!(h.await.unwrap_err().is_cancelled());
    /// });
    /// ```
    #[doc(alias = "Task.cancel")]
    pub fn cancel(&self) -> bool {
        if self.is_finished() {
            return false;
        }
        self.meta().cancel();
        true
    }

    /// Whether the task has finished (returned, panicked or been cancelled).
    ///
    /// # Examples
    ///
    /// ```
    /// ringio::run(async {
    ///     let h = ringio::spawn(async {});
    ///     assert!(!h.is_finished());
    ///     ringio::yield_now().await;
    ///     assert!(h.is_finished());
    /// });
    /// ```
    #[doc(alias = "Task.done")]
    pub fn is_finished(&self) -> bool {
        self.output.is_some() || self.task.as_ref().is_none_or(|t| t.is_finished())
    }

    /// Waits for the task's end without taking its output: it stays in the handle for
    /// the next poll or `try_result`.
    pub(crate) fn poll_finished(&mut self, cx: &mut Context<'_>) -> Poll<&Result<T, JoinError>> {
        if self.output.is_none() {
            let out = std::task::ready!(self.poll_task(cx));
            self.output = Some(out);
        }
        Poll::Ready(self.output.as_ref().expect("set above"))
    }

    fn poll_task(&mut self, cx: &mut Context<'_>) -> Poll<Result<T, JoinError>> {
        if let Some(out) = self.output.take() {
            return Poll::Ready(out);
        }
        let task = self.task.as_mut().expect("JoinHandle polled after drop");
        match std::task::ready!(Pin::new(task).poll(cx)) {
            Some(out) => Poll::Ready(out),
            // The runtime dropped the task without a result (it shut down).
            None => Poll::Ready(Err(JoinError::cancelled())),
        }
    }

    /// The task's name, if it was spawned with one ([`task::Builder::name`](crate::task::Builder::name)).
    ///
    /// # Examples
    ///
    /// ```
    /// ringio::run(async {
    ///     let h = ringio::task::Builder::new().name("worker-1").spawn(async {});
    ///     assert_eq!(h.name(), Some("worker-1"));
    ///     assert_eq!(ringio::spawn(async {}).name(), None);
    /// });
    /// ```
    #[doc(alias = "Task.get_name")]
    pub fn name(&self) -> Option<&str> {
        self.meta().name_str()
    }

    /// The task's result without waiting: `Ok` with what awaiting the handle would give
    /// if the task has finished, else the handle back in `Err`.
    ///
    /// asyncio's `Task.result()` (and `Task.exception()`: a panic or a cancellation is
    /// the `JoinError`), which raises `InvalidStateError` on a task not done yet; here the
    /// handle comes back instead, to try again or await.
    ///
    /// # Examples
    ///
    /// ```
    /// ringio::run(async {
    ///     let h = ringio::spawn(async { 6 * 7 });
    ///     let h = h.try_result().expect_err("not run yet");
    ///     ringio::yield_now().await;
    ///     assert_eq!(h.try_result().expect("done").unwrap(), 42);
    /// });
    /// ```
    #[doc(alias = "Task.result")]
    #[doc(alias = "Task.exception")]
    pub fn try_result(mut self) -> Result<Result<T, JoinError>, JoinHandle<T>> {
        if !self.is_finished() {
            return Err(self);
        }
        // A finished task's output is there: one poll takes it, and never keeps the
        // no-op waker.
        let mut cx = Context::from_waker(Waker::noop());
        match self.poll_task(&mut cx) {
            Poll::Ready(out) => Ok(out),
            Poll::Pending => Err(self),
        }
    }
}

impl<T> Future for JoinHandle<T> {
    type Output = Result<T, JoinError>;

    /// # Cancel safety
    ///
    /// Cancel-safe: dropping the wait leaves the task running; the handle detaches.
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        self.poll_task(cx)
    }
}

impl<T> Drop for JoinHandle<T> {
    fn drop(&mut self) {
        if let Some(d) = self.meta().debug()
            && self.task.is_some()
        {
            // Either this sees the task finished, or the task sees the flag when it
            // fails (both sides SeqCst); `failed` reports once.
            d.detached.store(true, Ordering::SeqCst);
            if self.is_finished()
                && let Poll::Ready(Err(err)) =
                    self.poll_task(&mut Context::from_waker(Waker::noop()))
            {
                self.meta().failed(&err);
            }
        }
        if let Some(t) = self.task.take() {
            t.detach();
        }
    }
}

impl<T> fmt::Debug for JoinHandle<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JoinHandle")
            .field("name", &self.name())
            .field("finished", &self.is_finished())
            .finish()
    }
}

/// Why a task gave no output: it was cancelled, or it panicked.
///
/// # Examples
///
/// ```
/// ringio::run(async {
///     let err = ringio::spawn(async { panic!("boom") }).await.unwrap_err();
///     assert!(err.is_panic());
/// });
/// ```
#[doc(alias = "CancelledError")]
pub struct JoinError {
    repr: Repr,
}

enum Repr {
    Cancelled,
    Panic(Box<dyn Any + Send + 'static>),
}

impl JoinError {
    pub(crate) fn cancelled() -> Self {
        JoinError {
            repr: Repr::Cancelled,
        }
    }

    pub(crate) fn panic(payload: Box<dyn Any + Send + 'static>) -> Self {
        JoinError {
            repr: Repr::Panic(payload),
        }
    }

    /// Whether the task was cancelled (by `JoinHandle::cancel` or runtime shutdown).
    pub fn is_cancelled(&self) -> bool {
        matches!(self.repr, Repr::Cancelled)
    }

    /// Whether the task panicked.
    pub fn is_panic(&self) -> bool {
        matches!(self.repr, Repr::Panic(_))
    }

    /// The panic's payload, to resume it with `std::panic::resume_unwind`.
    ///
    /// # Errors
    ///
    /// Gives the error back if the task was cancelled, not panicked.
    pub fn try_into_panic(self) -> Result<Box<dyn Any + Send + 'static>, JoinError> {
        match self.repr {
            Repr::Panic(p) => Ok(p),
            Repr::Cancelled => Err(self),
        }
    }

    fn panic_message(&self) -> Option<&str> {
        match &self.repr {
            Repr::Panic(p) => p
                .downcast_ref::<&str>()
                .copied()
                .or_else(|| p.downcast_ref::<String>().map(String::as_str)),
            Repr::Cancelled => None,
        }
    }
}

impl fmt::Display for JoinError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (&self.repr, self.panic_message()) {
            (Repr::Cancelled, _) => f.write_str("task was cancelled"),
            (Repr::Panic(_), Some(msg)) => write!(f, "task panicked: {msg}"),
            (Repr::Panic(_), None) => f.write_str("task panicked"),
        }
    }
}

impl fmt::Debug for JoinError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "JoinError({self})")
    }
}

impl std::error::Error for JoinError {}
