//! `gather` and `try_gather`: run futures concurrently, outputs in input order.

use super::ready::Children;
use std::fmt;
use std::future::{Future, IntoFuture};
use std::ops::ControlFlow;
use std::pin::Pin;
use std::task::{Context, Poll};

/// Runs every future concurrently and gives their outputs in input order.
///
/// The futures are polled in place by the returned future, not spawned, and each is
/// polled only when woken (module rule 2). To keep every result of
/// fallible futures, asyncio's `return_exceptions=True`, gather futures that return
/// `Result`: all of them are kept. To stop at the first error use [`try_gather`].
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use ringio::task;
///
/// ringio::run(async {
///     let futs = [30, 10, 20].map(|ms| async move {
///         ringio::time::sleep(Duration::from_millis(ms)).await;
///         ms
///     });
///     assert_eq!(task::gather(futs).await, [30, 10, 20]);
/// });
/// ```
#[doc(alias = "asyncio.gather")]
pub fn gather<I>(futures: I) -> Gather<<I::Item as IntoFuture>::IntoFuture>
where
    I: IntoIterator,
    I::Item: IntoFuture,
{
    let children = Children::new(futures.into_iter().map(IntoFuture::into_future));
    let outputs = std::iter::repeat_with(|| None)
        .take(children.len())
        .collect();
    Gather { children, outputs }
}

/// The future of [`gather`]: every output, in input order.
///
/// # Examples
///
/// ```
/// use ringio::task::{gather, Gather};
///
/// ringio::run(async {
///     let all: Gather<_> = gather([1, 2].map(|n| async move { n * 2 }));
///     assert_eq!(all.await, [2, 4]);
/// });
/// ```
///
/// # Cancel safety
///
/// Not cancel-safe: dropping it drops every future still running, and the outputs of
/// those that already finished are lost.
#[doc(alias = "asyncio.gather")]
#[must_use = "futures do nothing unless awaited"]
pub struct Gather<F: Future> {
    children: Children<F>,
    outputs: Vec<Option<F::Output>>,
}

impl<F: Future> Future for Gather<F> {
    type Output = Vec<F::Output>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        let outputs = &mut this.outputs;
        let _ = this.children.poll_woken::<()>(cx, |i, out| {
            outputs[i] = Some(out);
            ControlFlow::Continue(())
        });
        if this.children.running() > 0 {
            return Poll::Pending;
        }
        let outputs = std::mem::take(&mut this.outputs);
        Poll::Ready(
            outputs
                .into_iter()
                .map(|o| o.expect("every child has finished, so every output is set"))
                .collect(),
        )
    }
}

// `Children` keeps the children in one heap allocation (`PinSlice`), so moving this
// future moves no child.
impl<F: Future> Unpin for Gather<F> {}

impl<F: Future> fmt::Debug for Gather<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Gather")
            .field("children", &self.children)
            .finish_non_exhaustive()
    }
}

/// Runs every future concurrently; gives all `Ok` outputs in input order, or the first
/// `Err`, after dropping (cancelling) every future still running.
///
/// Like [`gather`], the futures are polled in place, each only when woken.
///
/// # Errors
///
/// The first `Err` a future returns, in completion order.
///
/// # Examples
///
/// ```
/// use ringio::task;
///
/// ringio::run(async {
///     let ok = task::try_gather([1, 2].map(|n| async move { Ok::<_, String>(n) })).await;
///     assert_eq!(ok, Ok(vec![1, 2]));
///
///     let futs = [Ok(1), Err("bad"), Ok(3)].map(|r| async move { r });
///     assert_eq!(task::try_gather(futs).await, Err("bad"));
/// });
/// ```
#[doc(alias = "asyncio.gather")]
pub fn try_gather<I, T, E>(futures: I) -> TryGather<<I::Item as IntoFuture>::IntoFuture>
where
    I: IntoIterator,
    I::Item: IntoFuture<Output = Result<T, E>>,
{
    TryGather {
        inner: gather(futures),
    }
}

/// The future of [`try_gather`]: every `Ok` output in input order, or the first `Err`.
///
/// # Examples
///
/// ```
/// use ringio::task::{try_gather, TryGather};
///
/// ringio::run(async {
///     let all: TryGather<_> = try_gather([Ok(1), Err('x')].map(|r| async move { r }));
///     assert_eq!(all.await, Err('x'));
/// });
/// ```
///
/// # Cancel safety
///
/// Not cancel-safe: dropping it drops every future still running, and the outputs of
/// those that already finished are lost.
#[doc(alias = "asyncio.gather")]
#[must_use = "futures do nothing unless awaited"]
pub struct TryGather<F: Future> {
    inner: Gather<F>,
}

impl<F, T, E> Future for TryGather<F>
where
    F: Future<Output = Result<T, E>>,
{
    type Output = Result<Vec<T>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let Gather { children, outputs } = &mut self.get_mut().inner;
        let flow = children.poll_woken(cx, |i, out| match out {
            Ok(v) => {
                outputs[i] = Some(Ok(v));
                ControlFlow::Continue(())
            }
            Err(e) => ControlFlow::Break(e),
        });
        if let ControlFlow::Break(e) = flow {
            // Module rule 4: the rest are dropped before the error is returned.
            children.clear();
            outputs.clear();
            return Poll::Ready(Err(e));
        }
        if children.running() > 0 {
            return Poll::Pending;
        }
        Poll::Ready(
            std::mem::take(outputs)
                .into_iter()
                .map(|o| o.expect("every child has finished with Ok, so every output is set"))
                .collect(),
        )
    }
}

impl<F: Future> fmt::Debug for TryGather<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TryGather")
            .field("children", &self.inner.children)
            .finish()
    }
}
