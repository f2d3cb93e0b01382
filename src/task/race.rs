//! `race`: the first future to finish wins; the others are dropped.

use super::ready::Children;
use std::fmt;
use std::future::{Future, IntoFuture};
use std::ops::ControlFlow;
use std::pin::Pin;
use std::task::{Context, Poll};

/// Runs every future concurrently and gives the index and output of the first to finish,
/// after dropping (cancelling) all the others.
///
/// This is asyncio's `wait(.., return_when=FIRST_COMPLETED)` followed by cancelling the
/// pending set. The futures are polled in place, each only when woken (module rule 2);
/// if several finish in the same poll, the one woken first wins.
///
/// # Panics
///
/// If `futures` is empty: there would be no winner and the race would never end.
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
///     assert_eq!(task::race(futs).await, (1, 10));
/// });
/// ```
#[doc(alias = "asyncio.wait")]
#[doc(alias = "FIRST_COMPLETED")]
pub fn race<I>(futures: I) -> Race<<I::Item as IntoFuture>::IntoFuture>
where
    I: IntoIterator,
    I::Item: IntoFuture,
{
    let children = Children::new(futures.into_iter().map(IntoFuture::into_future));
    assert!(
        children.len() > 0,
        "task::race needs at least one future: an empty race has no winner and never ends"
    );
    Race { children }
}

/// The future of [`race`]: `(index, output)` of the first future to finish.
///
/// # Examples
///
/// ```
/// use ringio::task::{race, Race};
///
/// ringio::run(async {
///     let first: Race<_> = race(['a', 'b'].map(|c| async move {
///         if c == 'a' {
///             std::future::pending::<()>().await; // never finishes
///         }
///         c
///     }));
///     assert_eq!(first.await, (1, 'b'));
/// });
/// ```
///
/// # Cancel safety
///
/// Cancel-safe in that no output is lost: the winner's output is returned in the same
/// poll in which it finishes. Dropping the race drops every future still running.
#[doc(alias = "asyncio.wait")]
#[doc(alias = "FIRST_COMPLETED")]
#[must_use = "futures do nothing unless awaited"]
pub struct Race<F> {
    children: Children<F>,
}

impl<F: Future> Future for Race<F> {
    type Output = (usize, F::Output);

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let children = &mut self.get_mut().children;
        match children.poll_woken(cx, |i, out| ControlFlow::Break((i, out))) {
            ControlFlow::Break(winner) => {
                // Module rule 4: the losers are dropped before the winner is returned.
                children.clear();
                Poll::Ready(winner)
            }
            ControlFlow::Continue(()) => Poll::Pending,
        }
    }
}

impl<F> fmt::Debug for Race<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Race")
            .field("children", &self.children)
            .finish()
    }
}
