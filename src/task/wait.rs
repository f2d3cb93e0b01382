//! `wait` and `try_wait`: asyncio's `asyncio.wait(tasks, return_when=.., timeout=..)`,
//! which splits tasks into done and pending and cancels nothing.

use crate::time::Sleep;
use crate::{JoinError, JoinHandle};
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

/// When [`wait`] returns: asyncio's `FIRST_COMPLETED`, `FIRST_EXCEPTION` and
/// `ALL_COMPLETED`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReturnWhen {
    /// As soon as one task is done.
    #[doc(alias = "FIRST_COMPLETED")]
    FirstCompleted,
    /// As soon as one task fails (panics or is cancelled; with [`try_wait`], also returns
    /// `Err`), else when all are done.
    #[doc(alias = "FIRST_EXCEPTION")]
    FirstException,
    /// When every task is done.
    #[doc(alias = "ALL_COMPLETED")]
    AllCompleted,
}

/// Waits for the tasks of `handles` until `when` says, or `timeout` passes; returns
/// `(done, pending)`, each in the order `handles` gave them.
///
/// Nothing is cancelled: pending tasks run on, and a done handle, awaited, gives its
/// result at once. With no handles it returns at once. A task fails here if it panicked
/// or was cancelled; for tasks that return `Result`, [`try_wait`] also counts an `Err`.
///
/// # Cancel safety
///
/// Dropping the wait drops the handles it holds, which detaches their tasks (they run
/// on); outputs already taken are dropped with them.
///
/// # Examples
///
/// ```
/// use ringio::task::{self, ReturnWhen};
/// use ringio::time::sleep;
/// use std::time::Duration;
///
/// ringio::run(async {
///     let handles = [30, 1].map(|ms| {
///         ringio::spawn(async move {
///             sleep(Duration::from_millis(ms)).await;
///             ms
///         })
///     });
///     let (done, pending) = task::wait(handles, ReturnWhen::FirstCompleted, None).await;
///     assert_eq!((done.len(), pending.len()), (1, 1));
///     for h in done {
///         assert_eq!(h.await.unwrap(), 1);
///     }
///     for h in pending {
///         assert_eq!(h.await.unwrap(), 30); // still running: nothing was cancelled
///     }
/// });
/// ```
#[doc(alias = "asyncio.wait")]
pub fn wait<T>(
    handles: impl IntoIterator<Item = JoinHandle<T>>,
    when: ReturnWhen,
    timeout: Option<Duration>,
) -> Wait<T> {
    Wait::new(handles, when, timeout, |out| out.is_err())
}

/// [`wait`] for tasks that return `Result`: with [`ReturnWhen::FirstException`] an `Err`
/// output counts as a failure too, as a raised exception does in asyncio.
///
/// # Cancel safety
///
/// As [`wait`].
///
/// # Examples
///
/// ```
/// use ringio::task::{self, ReturnWhen};
/// use ringio::time::sleep;
/// use std::time::Duration;
///
/// ringio::run(async {
///     let slow = ringio::spawn(async {
///         sleep(Duration::from_secs(3600)).await;
///         Ok(())
///     });
///     let failing = ringio::spawn(async { Err::<(), _>("refused") });
///     let (done, pending) = task::try_wait([slow, failing], ReturnWhen::FirstException, None).await;
///     assert_eq!((done.len(), pending.len()), (1, 1));
///     for h in pending {
///         h.cancel();
///     }
/// });
/// ```
pub fn try_wait<U, E>(
    handles: impl IntoIterator<Item = JoinHandle<Result<U, E>>>,
    when: ReturnWhen,
    timeout: Option<Duration>,
) -> Wait<Result<U, E>> {
    Wait::new(handles, when, timeout, |out| !matches!(out, Ok(Ok(_))))
}

/// The future of [`wait`] and [`try_wait`].
#[must_use = "futures do nothing unless awaited"]
pub struct Wait<T> {
    /// In input order; a done task's output stays in its handle.
    handles: Vec<(JoinHandle<T>, bool)>,
    when: ReturnWhen,
    deadline: Option<Pin<Box<Sleep>>>,
    failed: fn(&Result<T, JoinError>) -> bool,
}

impl<T> Wait<T> {
    fn new(
        handles: impl IntoIterator<Item = JoinHandle<T>>,
        when: ReturnWhen,
        timeout: Option<Duration>,
        failed: fn(&Result<T, JoinError>) -> bool,
    ) -> Wait<T> {
        Wait {
            handles: handles.into_iter().map(|h| (h, false)).collect(),
            when,
            deadline: timeout.map(|t| Box::pin(crate::time::sleep(t))),
            failed,
        }
    }

    fn split(&mut self) -> (Vec<JoinHandle<T>>, Vec<JoinHandle<T>>) {
        let (done, pending): (Vec<_>, Vec<_>) = std::mem::take(&mut self.handles)
            .into_iter()
            .partition(|(_, done)| *done);
        (
            done.into_iter().map(|(h, _)| h).collect(),
            pending.into_iter().map(|(h, _)| h).collect(),
        )
    }
}

impl<T> Future for Wait<T> {
    type Output = (Vec<JoinHandle<T>>, Vec<JoinHandle<T>>);

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        let (mut any_done, mut any_failed, mut all_done) = (false, false, true);
        for (handle, done) in &mut this.handles {
            if !*done {
                match handle.poll_finished(cx) {
                    Poll::Ready(out) => {
                        *done = true;
                        any_failed |= (this.failed)(out);
                    }
                    Poll::Pending => all_done = false,
                }
            } else {
                any_failed |= handle.poll_finished(cx).map(this.failed) == Poll::Ready(true);
            }
            any_done |= *done;
        }
        let ready = all_done
            || match this.when {
                ReturnWhen::FirstCompleted => any_done,
                ReturnWhen::FirstException => any_failed,
                ReturnWhen::AllCompleted => false,
            }
            || this
                .deadline
                .as_mut()
                .is_some_and(|d| d.as_mut().poll(cx).is_ready());
        if ready {
            Poll::Ready(this.split())
        } else {
            Poll::Pending
        }
    }
}

impl<T> std::fmt::Debug for Wait<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let done = self.handles.iter().filter(|(_, d)| *d).count();
        f.debug_struct("Wait")
            .field("when", &self.when)
            .field("done", &done)
            .field("pending", &(self.handles.len() - done))
            .finish()
    }
}
