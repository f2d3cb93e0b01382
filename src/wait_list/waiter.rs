//! [`Waiter`]: the one state machine behind every future that waits in a
//! [`WaitList`] (the `sync` primitives and the `mpsc` senders).
//!
//! A waiter is polled first with no place in line: the primitive either
//! finishes it at once or names what it queues with (rule 1 of the `sync`
//! docs is decided there: a newcomer queues while anyone is queued). Once
//! queued, each poll asks the list whether it was granted; the grant is turned
//! into the result by the primitive. Dropped while it holds a place, the
//! waiter frees it, and the primitive passes on a grant it received but did
//! not use (rule 2) or lets those behind it move up (rule 3). Every waker a
//! step gathers is called after the primitive's state is released. (The
//! `channel` docs state the same rules for `mpsc` senders as rules 2 to 4.)

use std::fmt;
use std::marker::PhantomData;
use std::task::{Context, Poll};

use super::{WaitList, WaiterKey, WaiterState, Wakers};

/// One wait list of a primitive, as seen by the [`Waiter`]s that queue in it.
///
/// Implemented by the primitive a waiter borrows. One with several lists (a
/// queue's getters, putters and joiners) implements it once per list, each
/// named by a `Side` marker type.
pub(crate) trait WaitQueue<Side = ()> {
    /// Named in the panic of a future polled after it completed.
    const FUTURE: &'static str;
    /// The part of it each step reads and changes, behind a `RefCell` or a lock.
    type State;
    /// What a queued waiter brings, for whoever serves the list.
    type Data;
    /// What serving a waiter hands it.
    type Grant;
    /// What the owning future keeps outside the list and lends to each poll
    /// (the item a put brings), so it is dropped with the future, outside the state.
    type Carry;
    /// What the wait ends with.
    type Done;

    /// Runs `f` on the primitive's state, borrowed (or locked) for that long only.
    fn with_state<R>(&self, f: impl FnOnce(&mut Self::State) -> R) -> R;

    /// The list waiters of this kind queue in.
    fn list(state: &mut Self::State) -> &mut WaitList<Self::Data, Self::Grant>;

    /// First poll: `Ok` ends the wait at once; `Err` queues the waiter at the
    /// back with what it brings.
    fn try_now(
        &self,
        state: &mut Self::State,
        carry: &mut Self::Carry,
        wakers: &mut Wakers,
    ) -> Result<Self::Done, Self::Data>;

    /// The waiter was served with `grant` and has come back for it.
    fn granted(
        &self,
        state: &mut Self::State,
        grant: Self::Grant,
        carry: &mut Self::Carry,
        wakers: &mut Wakers,
    ) -> Self::Done;

    /// The future was dropped while it held a place: `last` says whether it
    /// was still queued (rule 3) or had been granted (rule 2: pass it on).
    /// What it returns is dropped once the state is released.
    ///
    /// By default nothing more happens: right for lists whose grant is shared
    /// by everyone served at once (an event's `set`, a barrier's release).
    fn cancelled(
        &self,
        state: &mut Self::State,
        last: WaiterState<Self::Data, Self::Grant>,
        wakers: &mut Wakers,
    ) -> Option<Self::Grant> {
        let _ = (state, last, wakers);
        None
    }
}

/// A place in the `Side` wait list of primitive `O`, held by a future from
/// its first poll until it returns or is dropped.
pub(crate) struct Waiter<'a, O: WaitQueue<Side> + ?Sized, Side = ()> {
    owner: &'a O,
    /// Our place in line, while queued or granted.
    key: Option<WaiterKey>,
    done: bool,
    _side: PhantomData<fn() -> Side>,
}

impl<'a, O: WaitQueue<Side> + ?Sized, Side> Waiter<'a, O, Side> {
    /// A waiter of `owner`'s list that has not been polled yet.
    pub(crate) fn new(owner: &'a O) -> Self {
        Waiter {
            owner,
            key: None,
            done: false,
            _side: PhantomData,
        }
    }

    /// The primitive this waiter waits on.
    pub(crate) fn owner(&self) -> &'a O {
        self.owner
    }

    /// Our place in line, while queued or granted.
    #[cfg(test)]
    pub(crate) fn key(&self) -> Option<WaiterKey> {
        self.key
    }

    /// Polls the wait once, lending `carry` to the primitive.
    ///
    /// # Panics
    ///
    /// If called again after it returned `Ready`.
    #[inline]
    pub(crate) fn poll(&mut self, cx: &Context<'_>, carry: &mut O::Carry) -> Poll<O::Done> {
        if self.done {
            polled_after_completion(O::FUTURE);
        }
        let owner = self.owner;
        let key = &mut self.key;
        let mut wakers = Wakers::new();
        let poll = owner.with_state(|state| match *key {
            None => match owner.try_now(state, carry, &mut wakers) {
                Ok(done) => Poll::Ready(done),
                Err(data) => {
                    *key = Some(O::list(state).push_back(cx.waker(), data));
                    Poll::Pending
                }
            },
            Some(k) => match O::list(state).poll_grant(k, cx) {
                None => Poll::Pending,
                Some(grant) => {
                    *key = None;
                    Poll::Ready(owner.granted(state, grant, carry, &mut wakers))
                }
            },
        });
        wakers.wake_all();
        self.done = poll.is_ready();
        poll
    }
}

/// Kept out of line so the poll path stays small.
#[cold]
#[inline(never)]
fn polled_after_completion(future: &str) -> ! {
    panic!("`{future}` polled after completion")
}

impl<O: WaitQueue<Side> + ?Sized, Side> Drop for Waiter<'_, O, Side> {
    #[inline]
    fn drop(&mut self) {
        // Most waiters never queued (their first poll was ready): keep that check inline
        // and the unlinking out of line, so the common drop stays a few instructions.
        if let Some(key) = self.key.take() {
            leave(self.owner, key);
        }
    }
}

/// Unlinks a dropped waiter `key` from `owner`'s list, then wakes whoever its leaving
/// lets through.
#[inline(never)]
fn leave<O: WaitQueue<Side> + ?Sized, Side>(owner: &O, key: WaiterKey) {
    let mut wakers = Wakers::new();
    let leftover = owner.with_state(|state| {
        let last = O::list(state).remove(key);
        owner.cancelled(state, last, &mut wakers)
    });
    drop(leftover);
    wakers.wake_all();
}

impl<O: WaitQueue<Side> + ?Sized, Side> fmt::Debug for Waiter<'_, O, Side> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct(O::FUTURE)
            .field("queued", &self.key.is_some())
            .finish_non_exhaustive()
    }
}
