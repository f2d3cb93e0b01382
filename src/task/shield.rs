//! `shield`: run a future as its own task so that dropping its waiter cannot cancel it.

use crate::runtime::JoinHandle;
use std::future::Future;

/// Runs `fut` as its own task and returns a handle to await its output; dropping the
/// handle (or the future awaiting it) does not cancel the task.
///
/// Use it for work that must finish even if the code waiting for it is cancelled, for
/// instance by a [`timeout`](crate::time::timeout) or a failing
/// [`TaskGroup`](super::TaskGroup). Like [`spawn`](crate::spawn) the task first runs
/// when the caller yields. [`JoinHandle::cancel`] still cancels it on purpose.
///
/// # Cancel safety
///
/// Cancel-safe: dropping the returned [`JoinHandle`], or the future awaiting it, leaves
/// the task running; only its output is lost.
///
/// # Panics
///
/// Outside a runtime.
///
/// # Examples
///
/// ```
/// use std::cell::Cell;
/// use std::rc::Rc;
/// use std::time::Duration;
/// use ringio::{task, time};
///
/// ringio::run(async {
///     let saved = Rc::new(Cell::new(false));
///     let s = saved.clone();
///     let save = task::shield(async move {
///         time::sleep(Duration::from_millis(10)).await;
///         s.set(true);
///     });
///     // The waiter gives up, the shielded work goes on.
///     assert!(time::timeout(Duration::from_millis(1), save).await.is_err());
///     time::sleep(Duration::from_millis(20)).await;
///     assert!(saved.get());
/// });
/// ```
#[doc(alias = "asyncio.shield")]
pub fn shield<F>(fut: F) -> JoinHandle<F::Output>
where
    F: Future + 'static,
    F::Output: 'static,
{
    crate::spawn(fut)
}
