//! Folding a failed submit into the owned-buffer result.

use crate::buf::BufResult;
use std::future::Future;
use std::io;

/// Awaits the op a submit returned; if the submit failed (the submission queue could not
/// take the SQE, see `Op::submit`), gives its error with the buffer it handed back, so
/// every caller returns a [`BufResult`] either way.
pub(crate) async fn finish<F, T, B>(submitted: Result<F, (io::Error, B)>) -> BufResult<T, B>
where
    F: Future<Output = BufResult<T, B>>,
{
    match submitted {
        Ok(op) => op.await,
        Err((e, buf)) => (Err(e), buf),
    }
}
