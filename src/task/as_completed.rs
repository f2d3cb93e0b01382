//! `as_completed`: outputs one at a time, in the order the futures finish.

use super::ready::Children;
use std::fmt;
use std::future::{Future, IntoFuture, poll_fn};
use std::ops::ControlFlow;
use std::task::{Context, Poll};

/// Runs every future concurrently and hands out their outputs in completion order.
///
/// Call [`AsCompleted::next`] until it gives `None`. The futures make progress only
/// while `next` (or [`poll_next`](AsCompleted::poll_next)) is being awaited; they are
/// polled in place, each only when woken (module rule 2). With the feature
/// `futures-core`, [`AsCompleted`] is also a `futures_core::Stream`.
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
///     let mut done = task::as_completed(futs);
///     let mut order = Vec::new();
///     while let Some(ms) = done.next().await {
///         order.push(ms);
///     }
///     assert_eq!(order, [10, 20, 30]);
/// });
/// ```
#[doc(alias = "asyncio.as_completed")]
pub fn as_completed<I>(futures: I) -> AsCompleted<<I::Item as IntoFuture>::IntoFuture>
where
    I: IntoIterator,
    I::Item: IntoFuture,
{
    AsCompleted {
        children: Children::new(futures.into_iter().map(IntoFuture::into_future)),
    }
}

/// Futures whose outputs come out in completion order; made by [`as_completed`].
///
/// Dropping it drops every future that has not finished.
///
/// # Examples
///
/// ```
/// use ringio::task::{as_completed, AsCompleted};
///
/// ringio::run(async {
///     let mut done: AsCompleted<_> = as_completed([std::future::ready(5)]);
///     assert_eq!(done.next().await, Some(5));
/// });
/// ```
#[doc(alias = "asyncio.as_completed")]
#[must_use = "the futures run only while `next` is awaited"]
pub struct AsCompleted<F> {
    children: Children<F>,
}

impl<F: Future> AsCompleted<F> {
    /// The output of the next future to finish, or `None` once every output was given.
    ///
    /// # Cancel safety
    ///
    /// Cancel-safe: an output is handed out in the same poll in which its future
    /// finishes, so dropping `next` loses no output; the futures keep their progress
    /// and the next call goes on from there.
    ///
    /// # Examples
    ///
    /// ```
    /// ringio::run(async {
    ///     let mut done = ringio::task::as_completed([async { 1 }]);
    ///     assert_eq!(done.next().await, Some(1));
    ///     assert_eq!(done.next().await, None);
    /// });
    /// ```
    pub async fn next(&mut self) -> Option<F::Output> {
        poll_fn(|cx| self.poll_next(cx)).await
    }

    /// Polls for the next output: what [`next`](Self::next) awaits, for hand-written
    /// futures and streams.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::future::poll_fn;
    ///
    /// ringio::run(async {
    ///     let mut done = ringio::task::as_completed([async { 'a' }]);
    ///     assert_eq!(poll_fn(|cx| done.poll_next(cx)).await, Some('a'));
    /// });
    /// ```
    pub fn poll_next(&mut self, cx: &mut Context<'_>) -> Poll<Option<F::Output>> {
        if self.children.running() == 0 {
            return Poll::Ready(None);
        }
        match self
            .children
            .poll_woken(cx, |_, out| ControlFlow::Break(out))
        {
            ControlFlow::Break(out) => Poll::Ready(Some(out)),
            ControlFlow::Continue(()) => Poll::Pending,
        }
    }

    /// How many futures have not finished yet.
    ///
    /// # Examples
    ///
    /// ```
    /// ringio::run(async {
    ///     let mut done = ringio::task::as_completed([1, 2].map(|n| async move { n }));
    ///     assert_eq!(done.len(), 2);
    ///     done.next().await;
    ///     assert_eq!(done.len(), 1);
    /// });
    /// ```
    pub fn len(&self) -> usize {
        self.children.running()
    }

    /// Whether every output has been handed out.
    ///
    /// # Examples
    ///
    /// ```
    /// ringio::run(async {
    ///     let mut done = ringio::task::as_completed([async { 1 }]);
    ///     assert!(!done.is_empty());
    ///     done.next().await;
    ///     assert!(done.is_empty());
    /// });
    /// ```
    pub fn is_empty(&self) -> bool {
        self.children.running() == 0
    }
}

/// `async for` over the outputs in completion order: the same polls as
/// [`AsCompleted::next`].
///
/// Yields each future's output as it finishes; ends (`None`) once every output was
/// yielded. It is a [`FusedStream`](futures_core::FusedStream), and its `size_hint` is
/// exact ([`len`](AsCompleted::len)).
///
/// # Features
///
/// Needs the cargo feature `futures-core`.
///
/// # Cancel safety
///
/// As [`AsCompleted::next`]: dropping a `next()` of `StreamExt` loses no output.
///
/// # Examples
///
/// ```
/// use futures_util::StreamExt;
/// use std::time::Duration;
///
/// ringio::run(async {
///     let futs = [30, 10, 20].map(|ms| async move {
///         ringio::time::sleep(Duration::from_millis(ms)).await;
///         ms
///     });
///     let mut done = ringio::task::as_completed(futs).filter(|ms| std::future::ready(*ms > 10));
///     let mut order = Vec::new();
///     while let Some(ms) = done.next().await {
///         order.push(ms);
///     }
///     assert_eq!(order, [20, 30]);
/// });
/// ```
#[cfg(feature = "futures-core")]
impl<F: Future> futures_core::Stream for AsCompleted<F> {
    type Item = F::Output;

    fn poll_next(self: std::pin::Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<F::Output>> {
        // `AsCompleted` is `Unpin`: its futures are pinned in their own allocation.
        AsCompleted::poll_next(self.get_mut(), cx)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.len(), Some(self.len()))
    }
}

/// [`AsCompleted`] is terminated once every output was yielded.
///
/// # Features
///
/// Needs the cargo feature `futures-core`.
#[cfg(feature = "futures-core")]
impl<F: Future> futures_core::FusedStream for AsCompleted<F> {
    fn is_terminated(&self) -> bool {
        self.is_empty()
    }
}

impl<F> fmt::Debug for AsCompleted<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AsCompleted")
            .field("children", &self.children)
            .finish()
    }
}
