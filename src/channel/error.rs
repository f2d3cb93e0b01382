//! The small error types of the channels.
//!
//! The ones that carry an undelivered value give it back (`into_inner`) and print
//! only their variant in `Debug`, so `T` need not be `Debug` for `unwrap()` to work.

use std::error::Error;
use std::fmt;

/// An [`mpsc`](super::mpsc) send failed because the receiver is closed or dropped;
/// carries the value back.
///
/// # Examples
///
/// ```
/// use ringio::channel::mpsc;
///
/// ringio::run(async {
///     let (tx, rx) = mpsc::channel(1);
///     drop(rx);
///     let err = tx.send("hello").await.unwrap_err();
///     assert_eq!(err.into_inner(), "hello"); // handed back, not lost
/// });
/// ```
#[doc(alias = "QueueShutDown")]
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct SendError<T>(pub T);

impl<T> SendError<T> {
    /// Gives back the value that could not be sent.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(ringio::channel::SendError(7).into_inner(), 7);
    /// ```
    pub fn into_inner(self) -> T {
        self.0
    }
}

impl<T> fmt::Debug for SendError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SendError(..)")
    }
}

impl<T> fmt::Display for SendError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("sending on a closed channel")
    }
}

impl<T> Error for SendError<T> {}

/// Why an [`mpsc`](super::mpsc) `try_send` failed; carries the value back.
///
/// # Examples
///
/// ```
/// use ringio::channel::{TrySendError, mpsc};
///
/// let (tx, rx) = mpsc::channel(1);
/// tx.try_send(1).unwrap();
/// assert!(matches!(tx.try_send(2), Err(TrySendError::Full(2))));
/// drop(rx);
/// let err = tx.try_send(3).unwrap_err();
/// assert!(err.is_closed());
/// assert_eq!(err.into_inner(), 3);
/// ```
#[doc(alias = "QueueFull")]
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum TrySendError<T> {
    /// The channel is at capacity, or earlier senders are still waiting for room.
    Full(T),
    /// The receiver is closed or dropped: no send can ever succeed.
    Closed(T),
}

impl<T> TrySendError<T> {
    /// Gives back the value that could not be sent.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(ringio::channel::TrySendError::Full('x').into_inner(), 'x');
    /// ```
    pub fn into_inner(self) -> T {
        match self {
            TrySendError::Full(v) | TrySendError::Closed(v) => v,
        }
    }

    /// True if the send failed for lack of room (waiting would help).
    ///
    /// # Examples
    ///
    /// ```
    /// assert!(ringio::channel::TrySendError::Full(()).is_full());
    /// ```
    pub fn is_full(&self) -> bool {
        matches!(self, TrySendError::Full(_))
    }

    /// True if the receiver is gone (waiting would not help).
    ///
    /// # Examples
    ///
    /// ```
    /// assert!(ringio::channel::TrySendError::Closed(()).is_closed());
    /// ```
    pub fn is_closed(&self) -> bool {
        matches!(self, TrySendError::Closed(_))
    }
}

impl<T> From<SendError<T>> for TrySendError<T> {
    fn from(err: SendError<T>) -> Self {
        TrySendError::Closed(err.0)
    }
}

impl<T> fmt::Debug for TrySendError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            TrySendError::Full(_) => "Full(..)",
            TrySendError::Closed(_) => "Closed(..)",
        })
    }
}

impl<T> fmt::Display for TrySendError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            TrySendError::Full(_) => "channel is full",
            TrySendError::Closed(_) => "sending on a closed channel",
        })
    }
}

impl<T> Error for TrySendError<T> {}

/// Why a `try_recv` (on either channel kind) returned nothing.
///
/// # Examples
///
/// ```
/// use ringio::channel::{TryRecvError, mpsc};
///
/// let (tx, mut rx) = mpsc::channel::<u8>(1);
/// assert_eq!(rx.try_recv(), Err(TryRecvError::Empty));
/// drop(tx);
/// assert_eq!(rx.try_recv(), Err(TryRecvError::Disconnected));
/// ```
#[doc(alias = "QueueEmpty")]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TryRecvError {
    /// Nothing is there yet, but a sender may still send.
    Empty,
    /// Nothing is there and nothing ever will be: the senders are gone or the
    /// receiver was closed.
    Disconnected,
}

impl fmt::Display for TryRecvError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            TryRecvError::Empty => "channel is empty",
            TryRecvError::Disconnected => "channel is empty and disconnected",
        })
    }
}

impl Error for TryRecvError {}

/// A [`oneshot`](super::oneshot) receiver will never get a value: the sender was
/// dropped without sending, or the receiver was closed first.
///
/// # Examples
///
/// ```
/// use ringio::channel::{RecvError, oneshot};
///
/// ringio::run(async {
///     let (tx, rx) = oneshot::channel::<u8>();
///     drop(tx);
///     assert_eq!(rx.await, Err(RecvError));
/// });
/// ```
#[doc(alias = "CancelledError")]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RecvError;

impl fmt::Display for RecvError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("no value will come: the sender was dropped without sending, or the receiver was closed")
    }
}

impl Error for RecvError {}

#[cfg(test)]
mod tests {
    use super::*;

    struct NotDebug;

    #[test]
    fn debug_prints_the_variant_only() {
        assert_eq!(format!("{:?}", SendError(NotDebug)), "SendError(..)");
        assert_eq!(format!("{:?}", TrySendError::Full(NotDebug)), "Full(..)");
        assert_eq!(
            format!("{:?}", TrySendError::Closed(NotDebug)),
            "Closed(..)"
        );
    }

    #[test]
    fn recv_error_names_both_causes() {
        let msg = RecvError.to_string();
        assert!(msg.contains("sender was dropped") && msg.contains("receiver was closed"));
    }

    #[test]
    fn send_error_becomes_closed() {
        let err: TrySendError<u8> = SendError(4).into();
        assert_eq!(err, TrySendError::Closed(4));
        assert_eq!(err.to_string(), SendError(4).to_string());
    }
}
