//! The consuming side: [`Receiver`] and the future of its `recv`.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use super::{Chan, wake};
use crate::channel::error::TryRecvError;
use crate::loom_shim::Arc;
use crate::wait_list::Wakers;

/// The receiving half of an [`mpsc`](super) channel.
///
/// `Send` when `T: Send`. Dropping it closes the channel and drops what is buffered.
/// With the feature `futures-core` it is also a `futures_core::Stream` of messages.
///
/// # Examples
///
/// ```
/// use ringio::channel::mpsc;
///
/// let (tx, mut rx) = mpsc::channel(2);
/// tx.try_send('a').unwrap();
/// assert_eq!(rx.len(), 1);
/// assert_eq!(rx.try_recv(), Ok('a'));
/// assert!(rx.is_empty());
/// ```
pub struct Receiver<T> {
    pub(super) chan: Arc<Chan<T>>,
}

impl<T> Receiver<T> {
    /// Receives the next message, waiting while the channel is empty; `None` once every
    /// sender is dropped (or the receiver closed) and the buffer is drained.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: a message is taken out of the channel only when the future
    /// returns it, so dropping the future loses nothing (rule 5).
    ///
    /// # Examples
    ///
    /// ```
    /// use ringio::channel::mpsc;
    ///
    /// ringio::run(async {
    ///     let (tx, mut rx) = mpsc::channel(1);
    ///     ringio::spawn(async move { tx.send(5).await.unwrap() });
    ///     assert_eq!(rx.recv().await, Some(5));
    ///     assert_eq!(rx.recv().await, None); // the sender is gone
    /// });
    /// ```
    #[doc(alias = "get")]
    pub fn recv(&mut self) -> RecvFuture<'_, T> {
        RecvFuture { receiver: self }
    }

    /// Polls for the next message: the building block of [`recv`](Self::recv), for
    /// hand-written futures and streams.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::task::{Context, Poll, Waker};
    /// use ringio::channel::mpsc;
    ///
    /// let (tx, mut rx) = mpsc::channel(1);
    /// let mut cx = Context::from_waker(Waker::noop());
    /// assert_eq!(rx.poll_recv(&mut cx), Poll::Pending);
    /// tx.try_send(1).unwrap();
    /// assert_eq!(rx.poll_recv(&mut cx), Poll::Ready(Some(1)));
    /// ```
    pub fn poll_recv(&mut self, cx: &mut Context<'_>) -> Poll<Option<T>> {
        let mut state = self.chan.lock();
        if let Some((value, waker)) = state.pop(self.chan.capacity) {
            drop(state);
            wake(waker);
            return Poll::Ready(Some(value));
        }
        if state.is_finished() {
            return Poll::Ready(None);
        }
        match &mut state.rx_waker {
            Some(waker) if waker.will_wake(cx.waker()) => {}
            slot => *slot = Some(cx.waker().clone()),
        }
        Poll::Pending
    }

    /// Takes the next message if one is buffered.
    ///
    /// # Errors
    ///
    /// [`TryRecvError::Empty`] if nothing is buffered but a sender may still send,
    /// [`TryRecvError::Disconnected`] if nothing is buffered and nothing will come.
    ///
    /// # Examples
    ///
    /// ```
    /// use ringio::channel::{TryRecvError, mpsc};
    ///
    /// let (tx, mut rx) = mpsc::channel(1);
    /// assert_eq!(rx.try_recv(), Err(TryRecvError::Empty));
    /// tx.try_send(3).unwrap();
    /// assert_eq!(rx.try_recv(), Ok(3));
    /// ```
    #[doc(alias = "get_nowait")]
    pub fn try_recv(&mut self) -> Result<T, TryRecvError> {
        let mut state = self.chan.lock();
        if let Some((value, waker)) = state.pop(self.chan.capacity) {
            drop(state);
            wake(waker);
            return Ok(value);
        }
        if state.is_finished() {
            Err(TryRecvError::Disconnected)
        } else {
            Err(TryRecvError::Empty)
        }
    }

    /// Closes the channel: every send fails from now on, waiting senders get their
    /// value back, and what is already buffered can still be received (rule 7).
    ///
    /// # Examples
    ///
    /// ```
    /// use ringio::channel::mpsc;
    ///
    /// ringio::run(async {
    ///     let (tx, mut rx) = mpsc::channel(2);
    ///     tx.send(1).await.unwrap();
    ///     rx.close();
    ///     assert!(tx.send(2).await.is_err());
    ///     assert_eq!(rx.recv().await, Some(1));
    ///     assert_eq!(rx.recv().await, None);
    /// });
    /// ```
    #[doc(alias = "shutdown")]
    pub fn close(&mut self) {
        let mut wakers = Wakers::new();
        self.chan.lock().close(&mut wakers);
        wakers.wake_all();
    }

    /// Number of messages buffered now.
    ///
    /// # Examples
    ///
    /// ```
    /// let (tx, rx) = ringio::channel::mpsc::channel(4);
    /// tx.try_send(()).unwrap();
    /// assert_eq!(rx.len(), 1);
    /// ```
    #[doc(alias = "qsize")]
    pub fn len(&self) -> usize {
        self.chan.lock().buf.len()
    }

    /// True if no message is buffered now.
    ///
    /// # Examples
    ///
    /// ```
    /// let (_tx, rx) = ringio::channel::mpsc::channel::<()>(4);
    /// assert!(rx.is_empty());
    /// ```
    #[doc(alias = "empty")]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The most messages the channel buffers.
    ///
    /// # Examples
    ///
    /// ```
    /// let (_tx, rx) = ringio::channel::mpsc::channel::<()>(4);
    /// assert_eq!(rx.capacity(), 4);
    /// ```
    #[doc(alias = "maxsize")]
    pub fn capacity(&self) -> usize {
        self.chan.capacity
    }
}

impl<T> Drop for Receiver<T> {
    fn drop(&mut self) {
        let mut wakers = Wakers::new();
        let (buffered, rx_waker) = {
            let mut state = self.chan.lock();
            state.close(&mut wakers);
            (std::mem::take(&mut state.buf), state.rx_waker.take())
        };
        wakers.wake_all();
        // Dropped outside the lock: a message may hold a `Sender` of this channel.
        drop((buffered, rx_waker));
    }
}

impl<T> fmt::Debug for Receiver<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Receiver")
            .field("capacity", &self.chan.capacity)
            .finish_non_exhaustive()
    }
}

/// `async for` over the messages: the same receive as [`Receiver::recv`].
///
/// Yields each message in the order it was sent (per sender); ends (`None`) once every
/// sender is dropped (or the receiver closed) and the buffer is drained. It is a
/// [`FusedStream`](futures_core::FusedStream): after the end every poll gives `None`.
///
/// # Features
///
/// Needs the cargo feature `futures-core`.
///
/// # Cancel safety
///
/// As [`Receiver::recv`]: dropping a `next()` of `StreamExt` loses no message.
///
/// # Examples
///
/// ```
/// use futures_util::StreamExt;
/// use ringio::channel::mpsc;
///
/// ringio::run(async {
///     let (tx, rx) = mpsc::channel(4);
///     ringio::spawn(async move {
///         for i in 0..10 {
///             tx.send(i).await.unwrap();
///         }
///     });
///     let mut evens = rx.filter(|i| std::future::ready(i % 2 == 0));
///     let mut got = Vec::new();
///     while let Some(i) = evens.next().await {
///         got.push(i);
///     }
///     assert_eq!(got, [0, 2, 4, 6, 8]); // ends when the sender is dropped
/// });
/// ```
#[cfg(feature = "futures-core")]
impl<T> futures_core::Stream for Receiver<T> {
    type Item = T;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<T>> {
        self.get_mut().poll_recv(cx)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.len(), None)
    }
}

/// A [`Receiver`] is terminated once every sender is dropped (or it was closed) and
/// nothing is buffered.
///
/// # Features
///
/// Needs the cargo feature `futures-core`.
#[cfg(feature = "futures-core")]
impl<T> futures_core::FusedStream for Receiver<T> {
    fn is_terminated(&self) -> bool {
        self.chan.lock().is_finished()
    }
}

/// The future of [`Receiver::recv`].
///
/// # Examples
///
/// ```
/// use ringio::channel::mpsc;
///
/// ringio::run(async {
///     let (tx, mut rx) = mpsc::channel(1);
///     tx.send(1).await.unwrap();
///     let recv: mpsc::RecvFuture<'_, u8> = rx.recv();
///     assert_eq!(recv.await, Some(1));
/// });
/// ```
#[must_use = "futures do nothing unless awaited"]
pub struct RecvFuture<'a, T> {
    receiver: &'a mut Receiver<T>,
}

impl<T> fmt::Debug for RecvFuture<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RecvFuture").finish_non_exhaustive()
    }
}

impl<T> Future for RecvFuture<'_, T> {
    type Output = Option<T>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<T>> {
        self.get_mut().receiver.poll_recv(cx)
    }
}
