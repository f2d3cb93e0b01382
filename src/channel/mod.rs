//! Channels between cores: `Send` handles, pure futures, no ring.
//!
//! Tasks never leave their core, so the primitives in [`sync`](crate::sync) are
//! `!Send`. To pass work or results from one core (one thread, one runtime) to
//! another, use a channel: [`mpsc`] is a bounded queue with many producers and one
//! consumer (asyncio's `Queue(maxsize)`), [`oneshot`] carries a single value (an
//! asyncio `Future` split into its `set_result` side and its awaitable side).
//!
//! The channels never touch the ring. They wait on a `std` [`Mutex`](std::sync::Mutex)
//! -guarded state and plain wakers: waking a task of another core pushes it on that
//! core's lock-free remote queue and, only if that core sleeps, signals its eventfd,
//! so a wake from any thread is correct and cheap and nothing ever spins.
//!
//! Their cross-thread paths (send, receive, close and drop racing on two threads) are
//! model-checked with loom (`runtime::loom_models`) on this code, with loom's `Mutex`
//! and `Arc` in place of std's (`loom_shim`).
//!
//! # Rules
//!
//! The code and the tests cite these by number.
//!
//! 1. **Everything is `Send`.** Senders, receivers (and `mpsc` senders are also
//!    `Sync` and `Clone`) move freely between threads when `T: Send`; a waker may be
//!    woken from any thread.
//! 2. **Order.** Messages from one sender arrive in the order they were sent. Senders
//!    waiting for room are served first come, first served, and a newcomer never
//!    overtakes them: while one is queued, `try_send` reports `Full`.
//! 3. **Bounded.** Buffered messages plus places granted to waiting senders never
//!    exceed the capacity. A place freed by the receiver is granted at once to the
//!    oldest waiting sender and held for it until it pushes its message.
//! 4. **A dropped waiter leaves nothing behind.** Dropping a waiting send removes its
//!    entry in O(1) (a slab-backed linked list); a place already granted to it passes
//!    to the next waiting sender, or becomes free.
//! 5. **Cancel safety.** A send future that did not return `Ready` did not enqueue its
//!    value: the value is dropped with the future, never delivered, never duplicated.
//!    A receive gives up a message only by returning it, so a dropped receive loses
//!    nothing.
//! 6. **Nothing runs under the lock.** Wakers are called, and messages dropped, only
//!    after the channel's lock is released: a message may itself own a handle of the
//!    same channel, and a waker may take any lock.
//! 7. **Closing.** Closing or dropping the receiver makes every send fail with its
//!    value handed back, including sends already waiting. After `close`, buffered
//!    messages can still be received; dropping the receiver drops them. Once every
//!    sender is gone and the buffer is drained, `recv` returns `None`.
//!
//! # Examples
//!
//! Four producer threads, each with its own runtime, and one consumer:
//!
//! ```
//! use ringio::channel::mpsc;
//!
//! let (tx, mut rx) = mpsc::channel(8);
//! let producers: Vec<_> = (0..4)
//!     .map(|id| {
//!         let tx = tx.clone();
//!         std::thread::spawn(move || {
//!             ringio::run(async move {
//!                 for seq in 0..10 {
//!                     tx.send((id, seq)).await.unwrap();
//!                 }
//!             })
//!         })
//!     })
//!     .collect();
//! drop(tx);
//! let got = ringio::run(async move {
//!     let mut next = [0; 4];
//!     while let Some((id, seq)) = rx.recv().await {
//!         assert_eq!(seq, next[id], "one producer's messages stay in order");
//!         next[id] += 1;
//!     }
//!     next
//! });
//! assert_eq!(got, [10; 4]);
//! for p in producers {
//!     p.join().unwrap();
//! }
//! ```
#![forbid(unsafe_code)]

mod error;
pub mod mpsc;
pub mod oneshot;

#[doc(alias = "CancelledError")]
pub use error::RecvError;
pub use error::{SendError, TryRecvError, TrySendError};
