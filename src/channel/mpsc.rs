//! A bounded multi-producer, single-consumer channel that crosses threads.
//!
//! The shape of asyncio's `Queue(maxsize)` with one consumer: [`Sender::send`] waits
//! while the channel is full, [`Receiver::recv`] waits while it is empty. The rules
//! in the [module docs](super) hold; the code cites them by number.
//!
//! # Examples
//!
//! ```
//! use ringio::channel::mpsc;
//!
//! let (tx, mut rx) = mpsc::channel(16);
//! let producer = std::thread::spawn(move || {
//!     ringio::run(async move {
//!         for i in 0..100 {
//!             tx.send(i).await.unwrap();
//!         }
//!     })
//! });
//! let sum = ringio::run(async move {
//!     let mut sum = 0;
//!     while let Some(i) = rx.recv().await {
//!         sum += i;
//!     }
//!     sum
//! });
//! producer.join().unwrap();
//! assert_eq!(sum, 4950);
//! ```

use std::collections::VecDeque;
use std::sync::PoisonError;
use std::task::Waker;

use crate::loom_shim::{Arc, Mutex, MutexGuard};
use crate::wait_list::{WaitList, Wakers};

mod receiver;
mod sender;
#[cfg(test)]
mod tests;

pub use receiver::{Receiver, RecvFuture};
pub use sender::{SendFuture, Sender};

/// Makes a bounded channel that buffers up to `capacity` messages.
///
/// # Panics
///
/// If `capacity` is 0: a rendezvous channel is not supported, use 1 for the
/// smallest buffer.
///
/// # Examples
///
/// ```
/// use ringio::channel::mpsc;
///
/// ringio::run(async {
///     let (tx, mut rx) = mpsc::channel(2);
///     tx.send("hi").await.unwrap();
///     assert_eq!(rx.recv().await, Some("hi"));
/// });
/// ```
#[doc(alias = "asyncio.Queue")]
#[doc(alias = "Queue")]
pub fn channel<T>(capacity: usize) -> (Sender<T>, Receiver<T>) {
    assert!(
        capacity >= 1,
        "ringio::channel::mpsc::channel: capacity must be at least 1, got 0"
    );
    let chan = Arc::new(Chan {
        capacity,
        state: Mutex::new(State {
            buf: VecDeque::with_capacity(capacity.min(INITIAL_BUFFER)),
            reserved: 0,
            senders: 1,
            closed: false,
            rx_waker: None,
            waiters: WaitList::default(),
        }),
    });
    (Sender { chan: chan.clone() }, Receiver { chan })
}

/// Slots allocated up front; a huge `capacity` only costs memory once it is used.
const INITIAL_BUFFER: usize = 64;

/// What every handle of one channel shares.
struct Chan<T> {
    capacity: usize,
    state: Mutex<State<T>>,
}

/// Everything that changes, under one lock (a critical section is a few word moves:
/// no waker is called and no value dropped while it is held, rule 6).
struct State<T> {
    buf: VecDeque<T>,
    /// Places granted to waiting senders that have not pushed yet (rule 3).
    reserved: usize,
    /// Live [`Sender`] handles.
    senders: usize,
    /// The receiver was closed or dropped (rule 7).
    closed: bool,
    rx_waker: Option<Waker>,
    /// Senders waiting for room; each is granted a place, or told of the close.
    waiters: WaitList<(), Result<(), Closed>>,
}

/// What a waiting sender is told when the receiver is closed or dropped (rule 7).
#[derive(Debug)]
pub(crate) struct Closed;

impl<T> Chan<T> {
    fn lock(&self) -> MutexGuard<'_, State<T>> {
        // No user code runs under the lock, so a poisoned lock still holds a
        // consistent state.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl<T> State<T> {
    fn has_room(&self, capacity: usize) -> bool {
        self.buf.len() + self.reserved < capacity
    }

    /// Takes the oldest message and grants the place it frees (rule 3); returns the
    /// waker to call once the lock is released.
    fn pop(&mut self, capacity: usize) -> Option<(T, Option<Waker>)> {
        let value = self.buf.pop_front()?;
        Some((value, self.grant_free_place(capacity)))
    }

    /// True when the buffer is empty and nothing more can come (rule 7).
    fn is_finished(&self) -> bool {
        self.buf.is_empty() && (self.closed || self.senders == 0)
    }

    /// Gives a free place to the oldest waiting sender (rule 3); returns the waker
    /// to call once the lock is released.
    fn grant_free_place(&mut self, capacity: usize) -> Option<Waker> {
        if self.closed || !self.has_room(capacity) {
            return None;
        }
        let (_, waker) = self.waiters.grant_front(Ok(())).ok()?;
        self.reserved += 1;
        Some(waker)
    }

    /// Marks the channel closed and tells every waiting sender (rule 7); their
    /// wakers go into `wakers`, to be called once the lock is released.
    fn close(&mut self, wakers: &mut Wakers) {
        self.closed = true;
        self.waiters.grant_all(|| Err(Closed), wakers);
    }
}

/// Calls `waker`, if any; callers do so only after releasing the lock (rule 6).
fn wake(waker: Option<Waker>) {
    if let Some(waker) = waker {
        waker.wake();
    }
}
