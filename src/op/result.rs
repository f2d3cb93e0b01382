//! Folding a failed submit into the owned-buffer result.

use crate::buf::BufResult;
use pin_project_lite::pin_project;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

/// Awaits the op a submit returned; if the submit failed (the submission queue could not
/// take the SQE, see `Op::submit`), gives its error with the buffer it handed back, so
/// every caller returns a [`BufResult`] either way.
///
/// A plain future rather than an `async fn`: an `async fn` would keep its argument and
/// the op it holds side by side, doubling the op's size in every read and write future
/// (a stream's `read` future went from 336 to 648 bytes that way).
pub(crate) fn finish<F, T, B>(submitted: Result<F, (io::Error, B)>) -> Finish<F, T, B> {
    match submitted {
        Ok(op) => Finish::Submitted { op },
        Err((e, buf)) => Finish::ready((Err(e), buf)),
    }
}

pin_project! {
    /// The future [`finish`] returns.
    #[project = FinishProj]
    pub(crate) enum Finish<F, T, B> {
        Submitted { #[pin] op: F },
        /// Known without an op: a failed submit, or work done on the spot.
        Ready { out: Option<BufResult<T, B>> },
    }
}

impl<F, T, B> Finish<F, T, B> {
    /// A result known already, in the shape of an op's.
    pub(crate) fn ready(out: BufResult<T, B>) -> Self {
        Finish::Ready { out: Some(out) }
    }
}

impl<F, T, B> Future for Finish<F, T, B>
where
    F: Future<Output = BufResult<T, B>>,
{
    type Output = BufResult<T, B>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.project() {
            FinishProj::Submitted { op } => op.poll(cx),
            FinishProj::Ready { out } => {
                Poll::Ready(out.take().expect("polled after it completed"))
            }
        }
    }
}
