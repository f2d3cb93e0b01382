//! A channel for exactly one value, from any thread to any thread.
//!
//! asyncio's `Future` split in two: the [`Sender`] is the `set_result` side, the
//! [`Receiver`] is the awaitable. One allocation per channel; the rules in the
//! [module docs](super) hold.
//!
//! # Examples
//!
//! ```
//! use ringio::channel::oneshot;
//!
//! let (tx, rx) = oneshot::channel();
//! let worker = std::thread::spawn(move || {
//!     ringio::run(async move { tx.send(6 * 7).unwrap() })
//! });
//! assert_eq!(ringio::run(rx), Ok(42));
//! worker.join().unwrap();
//! ```

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::PoisonError;
use std::task::{Context, Poll, Waker};

use super::error::{RecvError, TryRecvError};
use crate::loom_shim::{Arc, Mutex, MutexGuard};

/// Makes a one-value channel.
///
/// # Examples
///
/// ```
/// use ringio::channel::oneshot;
///
/// ringio::run(async {
///     let (tx, rx) = oneshot::channel();
///     ringio::spawn(async move { tx.send("done").unwrap() });
///     assert_eq!(rx.await, Ok("done"));
/// });
/// ```
#[doc(alias = "asyncio.Future")]
#[doc(alias = "Future")]
#[doc(alias = "create_future")]
pub fn channel<T>() -> (Sender<T>, Receiver<T>) {
    let inner = Arc::new(Inner {
        state: Mutex::new(State {
            value: None,
            sender_gone: false,
            receiver_closed: false,
            rx_waker: None,
        }),
    });
    (
        Sender {
            inner: Some(inner.clone()),
        },
        Receiver { inner },
    )
}

/// The one allocation both halves share.
struct Inner<T> {
    state: Mutex<State<T>>,
}

struct State<T> {
    /// Sent and not yet received.
    value: Option<T>,
    /// The sender sent or was dropped: no value can come any more.
    sender_gone: bool,
    /// The receiver was closed or dropped: sends fail (rule 7).
    receiver_closed: bool,
    rx_waker: Option<Waker>,
}

impl<T> Inner<T> {
    fn lock(&self) -> MutexGuard<'_, State<T>> {
        // No user code runs under the lock, so a poisoned lock is still consistent.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// The sending half of a [`oneshot`](self) channel: sends one value, or by being
/// dropped tells the receiver that none will come.
///
/// `Send` and `Sync` when `T: Send`.
///
/// # Examples
///
/// ```
/// use ringio::channel::oneshot;
///
/// let (tx, mut rx) = oneshot::channel();
/// tx.send(1).unwrap();
/// assert_eq!(rx.try_recv(), Ok(1));
/// ```
pub struct Sender<T> {
    /// `None` only after `send` took it, so `Drop` has nothing left to do.
    inner: Option<Arc<Inner<T>>>,
}

impl<T> Sender<T> {
    /// Sends `value`, waking the receiver wherever it waits.
    ///
    /// # Errors
    ///
    /// The value back if the receiver was dropped or closed.
    ///
    /// # Examples
    ///
    /// ```
    /// use ringio::channel::oneshot;
    ///
    /// let (tx, rx) = oneshot::channel();
    /// drop(rx);
    /// assert_eq!(tx.send(5), Err(5));
    /// ```
    #[doc(alias = "set_result")]
    pub fn send(mut self, value: T) -> Result<(), T> {
        let inner = self.inner.take().expect("only `send` takes it, once");
        let mut state = inner.lock();
        state.sender_gone = true;
        if state.receiver_closed {
            return Err(value);
        }
        state.value = Some(value);
        let waker = state.rx_waker.take();
        drop(state);
        if let Some(waker) = waker {
            waker.wake();
        }
        Ok(())
    }

    /// True if the receiver was dropped or closed, so [`send`](Self::send) would fail.
    ///
    /// # Examples
    ///
    /// ```
    /// use ringio::channel::oneshot;
    ///
    /// let (tx, mut rx) = oneshot::channel::<u8>();
    /// assert!(!tx.is_closed());
    /// rx.close();
    /// assert!(tx.is_closed());
    /// ```
    #[doc(alias = "cancelled")]
    pub fn is_closed(&self) -> bool {
        self.inner
            .as_ref()
            .expect("only `send` takes it, once")
            .lock()
            .receiver_closed
    }
}

impl<T> Drop for Sender<T> {
    fn drop(&mut self) {
        let Some(inner) = self.inner.take() else {
            return; // sent
        };
        let mut state = inner.lock();
        state.sender_gone = true;
        let waker = state.rx_waker.take();
        drop(state);
        if let Some(waker) = waker {
            waker.wake();
        }
    }
}

impl<T> fmt::Debug for Sender<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sender").finish_non_exhaustive()
    }
}

/// The receiving half of a [`oneshot`](self) channel; await it for the value.
///
/// Awaiting gives `Ok(value)`, or [`RecvError`] if the sender was dropped without
/// sending or the receiver was closed before a value came. Once it has given its
/// value, it reports [`RecvError`] (a value is received once).
///
/// `Send` when `T: Send`. Dropping it makes a later send fail.
///
/// # Cancel safety
///
/// Awaiting `&mut receiver` is cancel safe: the value leaves the channel only when a
/// poll returns it, so a dropped await loses nothing and the receiver can be awaited
/// again.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use ringio::channel::oneshot;
///
/// ringio::run(async {
///     let (tx, mut rx) = oneshot::channel();
///     // A timed-out wait loses nothing: the receiver can be awaited again.
///     assert!(ringio::time::timeout(Duration::from_millis(1), &mut rx).await.is_err());
///     tx.send(3).unwrap();
///     assert_eq!(rx.await, Ok(3));
/// });
/// ```
#[doc(alias = "asyncio.Future")]
#[doc(alias = "result")]
pub struct Receiver<T> {
    inner: Arc<Inner<T>>,
}

impl<T> Receiver<T> {
    /// Takes the value if it was sent.
    ///
    /// # Errors
    ///
    /// [`TryRecvError::Empty`] if the sender may still send,
    /// [`TryRecvError::Disconnected`] if no value will come (sender dropped, receiver
    /// closed, or the value already received).
    ///
    /// # Examples
    ///
    /// ```
    /// use ringio::channel::{TryRecvError, oneshot};
    ///
    /// let (tx, mut rx) = oneshot::channel();
    /// assert_eq!(rx.try_recv(), Err(TryRecvError::Empty));
    /// tx.send('x').unwrap();
    /// assert_eq!(rx.try_recv(), Ok('x'));
    /// assert_eq!(rx.try_recv(), Err(TryRecvError::Disconnected));
    /// ```
    #[doc(alias = "result")]
    pub fn try_recv(&mut self) -> Result<T, TryRecvError> {
        let mut state = self.inner.lock();
        match state.value.take() {
            Some(value) => Ok(value),
            None if state.sender_gone || state.receiver_closed => Err(TryRecvError::Disconnected),
            None => Err(TryRecvError::Empty),
        }
    }

    /// Closes the channel: a later send fails and gives its value back; a value sent
    /// before can still be received.
    ///
    /// # Examples
    ///
    /// ```
    /// use ringio::channel::{RecvError, oneshot};
    ///
    /// ringio::run(async {
    ///     let (tx, mut rx) = oneshot::channel();
    ///     rx.close();
    ///     assert_eq!(tx.send(1), Err(1));
    ///     assert_eq!(rx.await, Err(RecvError));
    /// });
    /// ```
    #[doc(alias = "cancel")]
    pub fn close(&mut self) {
        self.inner.lock().receiver_closed = true;
    }
}

impl<T> Future for Receiver<T> {
    type Output = Result<T, RecvError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut state = self.inner.lock();
        if let Some(value) = state.value.take() {
            return Poll::Ready(Ok(value));
        }
        if state.sender_gone || state.receiver_closed {
            return Poll::Ready(Err(RecvError));
        }
        match &mut state.rx_waker {
            Some(waker) if waker.will_wake(cx.waker()) => {}
            slot => *slot = Some(cx.waker().clone()),
        }
        Poll::Pending
    }
}

impl<T> Drop for Receiver<T> {
    fn drop(&mut self) {
        let (value, waker) = {
            let mut state = self.inner.lock();
            state.receiver_closed = true;
            (state.value.take(), state.rx_waker.take())
        };
        // Dropped outside the lock: the value may own the other half of a channel.
        drop((value, waker));
    }
}

impl<T> fmt::Debug for Receiver<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Receiver").finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use std::pin::Pin;
    use std::task::Poll;

    use super::*;
    use crate::test_util::{TestWaker, cx};

    fn poll<T>(rx: &mut Receiver<T>, waker: &Waker) -> Poll<Result<T, RecvError>> {
        Pin::new(rx).poll(&mut cx(waker))
    }

    #[test]
    fn send_wakes_the_waiting_receiver_once() {
        let (tx, mut rx) = channel();
        let waker = TestWaker::new();
        assert!(poll(&mut rx, &waker).is_pending());
        assert!(poll(&mut rx, &waker).is_pending());
        tx.send(7).unwrap();
        assert_eq!(waker.wakes(), 1, "send wakes; the sender's drop does not");
        assert_eq!(poll(&mut rx, &waker), Poll::Ready(Ok(7)));
        assert_eq!(poll(&mut rx, &waker), Poll::Ready(Err(RecvError)));
    }

    #[test]
    fn dropped_sender_wakes_with_an_error() {
        let (tx, mut rx) = channel::<u8>();
        let waker = TestWaker::new();
        assert!(poll(&mut rx, &waker).is_pending());
        drop(tx);
        assert_eq!(waker.wakes(), 1);
        assert_eq!(poll(&mut rx, &waker), Poll::Ready(Err(RecvError)));
        assert_eq!(rx.try_recv(), Err(TryRecvError::Disconnected));
    }

    #[test]
    fn close_after_send_keeps_the_value() {
        let (tx, mut rx) = channel();
        tx.send(1).unwrap();
        rx.close();
        assert_eq!(rx.try_recv(), Ok(1));
        assert_eq!(rx.try_recv(), Err(TryRecvError::Disconnected));
    }

    #[test]
    fn close_while_waiting_makes_the_await_fail() {
        let (tx, mut rx) = channel();
        assert!(poll(&mut rx, Waker::noop()).is_pending());
        rx.close();
        assert!(tx.is_closed());
        assert_eq!(poll(&mut rx, Waker::noop()), Poll::Ready(Err(RecvError)));
        assert_eq!(tx.send(2), Err(2));
    }

    #[test]
    fn receiver_drop_drops_an_unreceived_value() {
        let (tx, rx) = channel();
        let value = Arc::new(());
        tx.send(value.clone()).unwrap();
        assert_eq!(Arc::strong_count(&value), 2);
        drop(rx);
        assert_eq!(Arc::strong_count(&value), 1);
    }

    #[test]
    fn halves_are_send_and_sync() {
        fn check<T: Send + Sync>() {}
        check::<Sender<String>>();
        check::<Receiver<String>>();
    }
}
