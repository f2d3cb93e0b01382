//! The producing side: [`Sender`] and the future of its `send`.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use super::{Chan, Closed, State, wake};
use crate::channel::error::{SendError, TrySendError};
use crate::loom_shim::Arc;
use crate::wait_list::{WaitList, WaitQueue, Waiter, WaiterState, Wakers};

/// The sending half of an [`mpsc`](super) channel; clone it for more producers.
///
/// `Send` and `Sync` when `T: Send`, so it can move to another thread's runtime.
///
/// # Examples
///
/// ```
/// use ringio::channel::mpsc;
///
/// ringio::run(async {
///     let (tx, mut rx) = mpsc::channel(4);
///     let tx2 = tx.clone();
///     tx.send(1).await.unwrap();
///     tx2.send(2).await.unwrap();
///     drop((tx, tx2));
///     assert_eq!(rx.recv().await, Some(1));
///     assert_eq!(rx.recv().await, Some(2));
///     assert_eq!(rx.recv().await, None);
/// });
/// ```
pub struct Sender<T> {
    pub(super) chan: Arc<Chan<T>>,
}

impl<T> Sender<T> {
    /// Sends `value`, waiting while the channel is full.
    ///
    /// Waiting senders are served first come, first served (rule 2).
    ///
    /// # Errors
    ///
    /// [`SendError`] with the value if the receiver is closed or dropped, also when
    /// that happens while waiting.
    ///
    /// # Cancel safety
    ///
    /// If the future is dropped before it completes, the value was **not** enqueued;
    /// it is dropped with the future. The place it was waiting for goes to the next
    /// waiting sender (rules 4 and 5).
    ///
    /// # Examples
    ///
    /// ```
    /// use ringio::channel::mpsc;
    ///
    /// ringio::run(async {
    ///     let (tx, mut rx) = mpsc::channel(1);
    ///     tx.send(1).await.unwrap();
    ///     let consumer = ringio::spawn(async move { (rx.recv().await, rx.recv().await) });
    ///     tx.send(2).await.unwrap(); // waits until the consumer takes 1
    ///     assert_eq!(consumer.await.unwrap(), (Some(1), Some(2)));
    /// });
    /// ```
    #[doc(alias = "put")]
    pub fn send(&self, value: T) -> SendFuture<'_, T> {
        SendFuture {
            waiter: Waiter::new(&*self.chan),
            value: Some(value),
        }
    }

    /// Sends `value` if there is room now and no sender is waiting before it.
    ///
    /// # Errors
    ///
    /// [`TrySendError::Full`] if the channel is full or other senders are waiting
    /// (rule 2), [`TrySendError::Closed`] if the receiver is closed or dropped; both
    /// carry the value back.
    ///
    /// # Examples
    ///
    /// ```
    /// use ringio::channel::mpsc;
    ///
    /// let (tx, _rx) = mpsc::channel(1);
    /// assert!(tx.try_send(1).is_ok());
    /// assert_eq!(tx.try_send(2).unwrap_err().into_inner(), 2);
    /// ```
    #[doc(alias = "put_nowait")]
    pub fn try_send(&self, value: T) -> Result<(), TrySendError<T>> {
        let mut state = self.chan.lock();
        if state.closed {
            return Err(TrySendError::Closed(value));
        }
        if !state.waiters.is_empty() || !state.has_room(self.chan.capacity) {
            return Err(TrySendError::Full(value));
        }
        state.buf.push_back(value);
        let waker = state.rx_waker.take();
        drop(state);
        wake(waker);
        Ok(())
    }

    /// True if the receiver is closed or dropped, so every send will fail.
    ///
    /// # Examples
    ///
    /// ```
    /// use ringio::channel::mpsc;
    ///
    /// let (tx, rx) = mpsc::channel::<()>(1);
    /// assert!(!tx.is_closed());
    /// drop(rx);
    /// assert!(tx.is_closed());
    /// ```
    pub fn is_closed(&self) -> bool {
        self.chan.lock().closed
    }

    /// The most messages the channel buffers.
    ///
    /// # Examples
    ///
    /// ```
    /// let (tx, _rx) = ringio::channel::mpsc::channel::<()>(8);
    /// assert_eq!(tx.capacity(), 8);
    /// ```
    #[doc(alias = "maxsize")]
    pub fn capacity(&self) -> usize {
        self.chan.capacity
    }
}

impl<T> Clone for Sender<T> {
    fn clone(&self) -> Self {
        self.chan.lock().senders += 1;
        Sender {
            chan: self.chan.clone(),
        }
    }
}

impl<T> Drop for Sender<T> {
    fn drop(&mut self) {
        let mut state = self.chan.lock();
        state.senders -= 1;
        let waker = if state.senders == 0 {
            state.rx_waker.take()
        } else {
            None
        };
        drop(state);
        wake(waker);
    }
}

impl<T> fmt::Debug for Sender<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sender")
            .field("capacity", &self.chan.capacity)
            .finish_non_exhaustive()
    }
}

/// The future of [`Sender::send`].
///
/// # Panics
///
/// If polled again after it returned `Ready`.
///
/// # Examples
///
/// ```
/// use ringio::channel::mpsc;
///
/// ringio::run(async {
///     let (tx, mut rx) = mpsc::channel(1);
///     let send: mpsc::SendFuture<'_, u8> = tx.send(1);
///     send.await.unwrap();
///     assert_eq!(rx.recv().await, Some(1));
/// });
/// ```
#[must_use = "futures do nothing unless awaited"]
pub struct SendFuture<'a, T> {
    /// Our place in the wait list while we wait for room.
    waiter: Waiter<'a, Chan<T>>,
    /// The value, until it is enqueued; a refused one is handed back. Declared
    /// after `waiter`, so a dropped future leaves the line before its value is
    /// dropped, outside the lock (rule 6).
    value: Option<T>,
}

// The value is never pinned: it is only moved out by value.
impl<T> Unpin for SendFuture<'_, T> {}

impl<T> Future for SendFuture<'_, T> {
    type Output = Result<(), SendError<T>>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        match std::task::ready!(this.waiter.poll(cx, &mut this.value)) {
            Ok(()) => Poll::Ready(Ok(())),
            Err(Closed) => {
                let value = this.value.take().expect("a refused send keeps its value");
                Poll::Ready(Err(SendError(value)))
            }
        }
    }
}

impl<T> fmt::Debug for SendFuture<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.waiter.fmt(f)
    }
}

/// How a send waits for room: it keeps its value (its carry) until a place is
/// granted and held for it (rule 3), or the receiver goes (rule 7).
impl<T> WaitQueue for Chan<T> {
    const FUTURE: &'static str = "SendFuture";
    type State = State<T>;
    type Data = ();
    type Grant = Result<(), Closed>;
    type Carry = Option<T>;
    type Done = Result<(), Closed>;

    fn with_state<R>(&self, f: impl FnOnce(&mut State<T>) -> R) -> R {
        f(&mut self.lock())
    }

    fn list(state: &mut State<T>) -> &mut WaitList<(), Self::Grant> {
        &mut state.waiters
    }

    fn try_now(
        &self,
        state: &mut State<T>,
        value: &mut Option<T>,
        wakers: &mut Wakers,
    ) -> Result<Self::Done, ()> {
        if state.closed {
            Ok(Err(Closed))
        } else if state.waiters.is_empty() && state.has_room(self.capacity) {
            push(state, value, wakers);
            Ok(Ok(()))
        } else {
            // Rule 2: wait behind the senders already waiting.
            Err(())
        }
    }

    fn granted(
        &self,
        state: &mut State<T>,
        grant: Self::Grant,
        value: &mut Option<T>,
        wakers: &mut Wakers,
    ) -> Self::Done {
        grant?;
        state.reserved -= 1; // the granted place is used now, or given up (rule 3)
        if state.closed {
            return Err(Closed);
        }
        push(state, value, wakers);
        Ok(())
    }

    fn cancelled(
        &self,
        state: &mut State<T>,
        last: WaiterState<(), Self::Grant>,
        wakers: &mut Wakers,
    ) -> Option<Self::Grant> {
        if let WaiterState::Granted(Ok(())) = last {
            // Granted but never used: pass the place on (rule 4).
            state.reserved -= 1;
            if let Some(waker) = state.grant_free_place(self.capacity) {
                wakers.push(waker);
            }
        }
        None
    }
}

/// Enqueues the send's value and takes the receiver's waker to call.
fn push<T>(state: &mut State<T>, value: &mut Option<T>, wakers: &mut Wakers) {
    let value = value
        .take()
        .expect("a send holds its value until it is enqueued");
    state.buf.push_back(value);
    if let Some(waker) = state.rx_waker.take() {
        wakers.push(waker);
    }
}
