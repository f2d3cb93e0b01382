//! `timeout` (asyncio's `wait_for`), `timeout_at` and the `Elapsed` error.

use std::error::Error;
use std::fmt;
use std::future::{Future, IntoFuture};
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use pin_project_lite::pin_project;

use crate::time::{Instant, Sleep, sleep, sleep_until};

/// Runs `future` until it completes or `duration` passes, whichever comes first:
/// asyncio's `wait_for(future, timeout)`, with the duration first.
///
/// The deadline is fixed when `timeout` is called. The future is polled before the
/// deadline is checked, so a result ready at the deadline is returned, not lost. On
/// expiry the future is dropped (cancelled) before `Err(Elapsed)` is returned.
///
/// # Panics
///
/// Polling the returned future outside a ringio runtime panics, and so does polling it
/// again after it has completed.
///
/// # Cancel safety
///
/// As cancel safe as `future`: dropping the `Timeout` drops `future` and its timer.
///
/// # Examples
///
/// ```
/// use ringio::time::{sleep, timeout};
/// use std::time::Duration;
///
/// ringio::run(async {
///     let quick = timeout(Duration::from_secs(1), async { 7 }).await;
///     assert_eq!(quick, Ok(7));
///     let slow = timeout(Duration::from_millis(5), sleep(Duration::from_secs(3600))).await;
///     assert!(slow.is_err());
/// });
/// ```
#[doc(alias = "asyncio.timeout")]
#[doc(alias = "wait_for")]
#[doc(alias = "asyncio.wait_for")]
pub fn timeout<F: IntoFuture>(duration: Duration, future: F) -> Timeout<F::IntoFuture> {
    Timeout {
        inner: Some(future.into_future()),
        sleep: sleep(duration),
    }
}

/// Runs `future` until it completes or `deadline` is reached, whichever comes first.
///
/// Same rules as [`timeout`], with an absolute deadline.
///
/// # Panics
///
/// Polling the returned future outside a ringio runtime panics, and so does polling it
/// again after it has completed.
///
/// # Cancel safety
///
/// As cancel safe as `future`: dropping the `Timeout` drops `future` and its timer.
///
/// # Examples
///
/// ```
/// use ringio::time::{sleep, timeout_at, Instant};
/// use std::time::Duration;
///
/// ringio::run(async {
///     let deadline = Instant::now() + Duration::from_millis(5);
///     let result = timeout_at(deadline, sleep(Duration::from_secs(3600))).await;
///     assert!(result.is_err());
///     assert!(Instant::now() >= deadline);
/// });
/// ```
#[doc(alias = "asyncio.timeout_at")]
pub fn timeout_at<F: IntoFuture>(deadline: Instant, future: F) -> Timeout<F::IntoFuture> {
    Timeout {
        inner: Some(future.into_future()),
        sleep: sleep_until(deadline),
    }
}

pin_project! {
    /// Future returned by [`timeout`] and [`timeout_at`].
    ///
    /// Resolves to `Ok(output)` if the inner future completes first, `Err(Elapsed)` once
    /// the deadline passes; the inner future is dropped as soon as either happens.
    ///
    /// # Examples
    ///
    /// ```
    /// use ringio::time::{timeout, Timeout};
    /// use std::future::Ready;
    /// use std::time::Duration;
    ///
    /// ringio::run(async {
    ///     let guarded: Timeout<Ready<u8>> = timeout(Duration::from_secs(1), std::future::ready(1));
    ///     assert_eq!(guarded.await, Ok(1));
    /// });
    /// ```
    #[doc(alias = "asyncio.timeout")]
    #[doc(alias = "asyncio.Timeout")]
    #[must_use = "futures do nothing unless you `.await` or poll them"]
    #[derive(Debug)]
    pub struct Timeout<F> {
        // `None` once the output was produced or the deadline passed (rule 6).
        #[pin]
        inner: Option<F>,
        sleep: Sleep,
    }
}

impl<F> Timeout<F> {
    /// The instant at which this timeout expires.
    ///
    /// # Examples
    ///
    /// ```
    /// use ringio::time::{timeout_at, Instant};
    /// use std::time::Duration;
    ///
    /// let deadline = Instant::now() + Duration::from_secs(1);
    /// assert_eq!(timeout_at(deadline, async {}).deadline(), deadline);
    /// ```
    #[must_use]
    pub fn deadline(&self) -> Instant {
        self.sleep.deadline()
    }
}

impl<F: Future> Future for Timeout<F> {
    type Output = Result<F::Output, Elapsed>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut this = self.project();
        let inner = this
            .inner
            .as_mut()
            .as_pin_mut()
            .expect("`Timeout` polled after it completed");
        // Inner first: a result that is ready at the deadline wins (rule 6).
        if let Poll::Ready(output) = inner.poll(cx) {
            this.inner.set(None);
            return Poll::Ready(Ok(output));
        }
        match Pin::new(this.sleep).poll(cx) {
            Poll::Ready(()) => {
                // Cancel the inner future here, before the caller sees the error.
                this.inner.set(None);
                Poll::Ready(Err(Elapsed(())))
            }
            Poll::Pending => Poll::Pending,
        }
    }
}

/// Error returned by [`timeout`] when its deadline passes first.
///
/// Converts into an [`io::Error`] of kind [`io::ErrorKind::TimedOut`], so `?` works in
/// functions returning `io::Result`.
///
/// # Examples
///
/// ```
/// use ringio::time::timeout;
/// use std::future::pending;
/// use std::io;
/// use std::time::Duration;
///
/// ringio::run(async {
///     let elapsed = timeout(Duration::from_millis(1), pending::<()>()).await.unwrap_err();
///     assert_eq!(elapsed.to_string(), "deadline has elapsed");
///     assert_eq!(io::Error::from(elapsed).kind(), io::ErrorKind::TimedOut);
/// });
/// ```
#[doc(alias = "TimeoutError")]
#[doc(alias = "asyncio.TimeoutError")]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Elapsed(());

impl fmt::Display for Elapsed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("deadline has elapsed")
    }
}

impl Error for Elapsed {}

impl From<Elapsed> for io::Error {
    fn from(elapsed: Elapsed) -> io::Error {
        io::Error::new(io::ErrorKind::TimedOut, elapsed)
    }
}
