//! The futures of [`GenericQueue`]: [`Put`], [`Get`] and [`QueueJoin`], and how
//! each waits in its list (the one [`Waiter`] state machine does the rest).
//!
//! A `Put` or `Get` first tries the queue's fast path, once, on its first
//! poll: a put with room and nobody waiting, a get with an item stored and
//! no putter waiting, each in one borrow with no waker, waiter entry or
//! grant involved. Anything else (waiters on either side, a full or empty
//! queue, a shutdown) is left to its [`Waiter`], whose first poll decides
//! the same case again the general way, so both paths give the same result.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use super::error::QueueShutDown;
use super::storage::QueueStorage;
use super::{GenericQueue, Shutdown, State};
use crate::wait_list::{WaitList, WaitQueue, Waiter, WaiterState, Wakers};

/// Future of [`GenericQueue::put`].
///
/// # Examples
///
/// ```
/// use ringio::sync::queue::{FifoStorage, Put, Queue};
///
/// ringio::run(async {
///     let q = Queue::new(0);
///     let fut: Put<'_, u8, FifoStorage<u8>> = q.put(1);
///     fut.await.unwrap();
/// });
/// ```
#[must_use = "futures do nothing unless polled"]
pub struct Put<'a, T, S: QueueStorage<T>> {
    waiter: Waiter<'a, GenericQueue<T, S>, Putting>,
    /// `Some` until the item goes in; a refused item is dropped with the future.
    item: Option<T>,
    stage: Stage,
}

/// Where a [`Put`] or [`Get`] stands: only a fresh one may take the fast
/// path (a queued or granted waiter must come back through its [`Waiter`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stage {
    /// Not polled yet.
    Fresh,
    /// Handed to its [`Waiter`], which also knows when it is done.
    Waiting,
    /// Finished by the fast path.
    Done,
}

/// Kept out of line so the poll path stays small.
#[cold]
#[inline(never)]
fn polled_after_completion(future: &str) -> ! {
    panic!("`{future}` polled after completion")
}

impl<'a, T, S: QueueStorage<T>> Put<'a, T, S> {
    pub(super) fn new(queue: &'a GenericQueue<T, S>, item: T) -> Self {
        Put {
            waiter: Waiter::new(queue),
            item: Some(item),
            stage: Stage::Fresh,
        }
    }
}

// The item is only ever moved, never pinned, so `Put` need not be pinned.
impl<T, S: QueueStorage<T>> Unpin for Put<'_, T, S> {}

impl<T, S: QueueStorage<T>> Future for Put<'_, T, S> {
    type Output = Result<(), QueueShutDown>;

    #[inline]
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        match this.stage {
            Stage::Fresh => {
                let queue = this.waiter.owner();
                if queue.state.borrow_mut().put_fast(&mut this.item) {
                    this.stage = Stage::Done;
                    return Poll::Ready(Ok(()));
                }
                this.stage = Stage::Waiting;
            }
            Stage::Waiting => {}
            Stage::Done => polled_after_completion("Put"),
        }
        let result = std::task::ready!(this.waiter.poll(cx, &mut this.item));
        // A refused item is dropped here, outside the borrow.
        this.item = None;
        Poll::Ready(result)
    }
}

impl<T, S: QueueStorage<T>> fmt::Debug for Put<'_, T, S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.waiter.fmt(f)
    }
}

/// The putters' list: each putter keeps its item (its carry) until room is
/// reserved for it; the grant is that room, or the news of a shutdown.
pub(crate) struct Putting;

impl<T, S: QueueStorage<T>> WaitQueue<Putting> for GenericQueue<T, S> {
    const FUTURE: &'static str = "Put";
    type State = State<T, S>;
    type Data = ();
    type Grant = Result<(), QueueShutDown>;
    type Carry = Option<T>;
    type Done = Result<(), QueueShutDown>;

    fn with_state<R>(&self, f: impl FnOnce(&mut Self::State) -> R) -> R {
        f(&mut self.state.borrow_mut())
    }

    fn list(state: &mut Self::State) -> &mut WaitList<(), Self::Grant> {
        &mut state.putters
    }

    fn try_now(
        &self,
        state: &mut Self::State,
        item: &mut Option<T>,
        wakers: &mut Wakers,
    ) -> Result<Self::Done, ()> {
        if state.shutdown != Shutdown::Open {
            Ok(Err(QueueShutDown))
        } else if state.putters.is_empty() && state.has_room() {
            state.commit(take_item(item), wakers);
            Ok(Ok(()))
        } else {
            // Rule 1: wait behind earlier putters, keeping the item.
            Err(())
        }
    }

    fn granted(
        &self,
        state: &mut Self::State,
        grant: Self::Grant,
        item: &mut Option<T>,
        wakers: &mut Wakers,
    ) -> Self::Done {
        grant?;
        state.reserved -= 1;
        if state.shutdown != Shutdown::Open {
            return Err(QueueShutDown);
        }
        state.commit(take_item(item), wakers);
        Ok(())
    }

    fn cancelled(
        &self,
        state: &mut Self::State,
        last: WaiterState<(), Self::Grant>,
        wakers: &mut Wakers,
    ) -> Option<Self::Grant> {
        if let WaiterState::Granted(Ok(())) = last {
            // Rule 2: room was reserved for us; offer it to the next putter.
            state.reserved -= 1;
            state.grant_putters(wakers);
        }
        None
    }
}

/// The item a put brings, which it holds until it goes in.
fn take_item<T>(item: &mut Option<T>) -> T {
    item.take().expect("a put holds its item until it goes in")
}

/// Future of [`GenericQueue::get`].
///
/// # Examples
///
/// ```
/// use ringio::sync::queue::{FifoStorage, Get, Queue};
///
/// ringio::run(async {
///     let q = Queue::new(0);
///     q.try_put(1).unwrap();
///     let fut: Get<'_, u8, FifoStorage<u8>> = q.get();
///     assert_eq!(fut.await, Ok(1));
/// });
/// ```
#[must_use = "futures do nothing unless polled"]
pub struct Get<'a, T, S: QueueStorage<T>> {
    waiter: Waiter<'a, GenericQueue<T, S>, Getting>,
    stage: Stage,
}

impl<'a, T, S: QueueStorage<T>> Get<'a, T, S> {
    pub(super) fn new(queue: &'a GenericQueue<T, S>) -> Self {
        Get {
            waiter: Waiter::new(queue),
            stage: Stage::Fresh,
        }
    }
}

impl<T, S: QueueStorage<T>> Future for Get<'_, T, S> {
    type Output = Result<T, QueueShutDown>;

    #[inline]
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        match this.stage {
            Stage::Fresh => {
                let fast = this.waiter.owner().state.borrow_mut().get_fast();
                if let Some(item) = fast {
                    this.stage = Stage::Done;
                    return Poll::Ready(Ok(item));
                }
                this.stage = Stage::Waiting;
            }
            Stage::Waiting => {}
            Stage::Done => polled_after_completion("Get"),
        }
        this.waiter.poll(cx, &mut ())
    }
}

impl<T, S: QueueStorage<T>> fmt::Debug for Get<'_, T, S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.waiter.fmt(f)
    }
}

/// The getters' list: a getter queues only while the store is empty, and is
/// granted an item straight from a put, or the news of a shutdown.
pub(crate) struct Getting;

impl<T, S: QueueStorage<T>> WaitQueue<Getting> for GenericQueue<T, S> {
    const FUTURE: &'static str = "Get";
    type State = State<T, S>;
    type Data = ();
    type Grant = Result<T, QueueShutDown>;
    type Carry = ();
    type Done = Result<T, QueueShutDown>;

    fn with_state<R>(&self, f: impl FnOnce(&mut Self::State) -> R) -> R {
        f(&mut self.state.borrow_mut())
    }

    fn list(state: &mut Self::State) -> &mut WaitList<(), Self::Grant> {
        &mut state.getters
    }

    fn try_now(
        &self,
        state: &mut Self::State,
        _: &mut (),
        wakers: &mut Wakers,
    ) -> Result<Self::Done, ()> {
        // Getters only queue while the store is empty, so taking an item
        // here never overtakes one (rule 1).
        match state.take_item(wakers) {
            Some(item) => Ok(Ok(item)),
            None if state.shutdown != Shutdown::Open => Ok(Err(QueueShutDown)),
            None => Err(()),
        }
    }

    fn granted(
        &self,
        state: &mut Self::State,
        grant: Self::Grant,
        _: &mut (),
        wakers: &mut Wakers,
    ) -> Self::Done {
        if grant.is_ok() {
            // The item's slot is free now that it is really ours.
            state.handed -= 1;
            state.grant_putters(wakers);
        }
        grant
    }

    fn cancelled(
        &self,
        state: &mut Self::State,
        last: WaiterState<(), Self::Grant>,
        wakers: &mut Wakers,
    ) -> Option<Self::Grant> {
        let WaiterState::Granted(Ok(item)) = last else {
            return None;
        };
        // Rule 2: the item was ours; hand it on, never lose it.
        state.handed -= 1;
        match state.getters.grant_front(Ok(item)) {
            Ok(((), waker)) => {
                state.handed += 1;
                wakers.push(waker);
                None
            }
            Err(Ok(item)) if state.shutdown == Shutdown::Immediate => {
                // Discarded like the items the shutdown found queued, and
                // dropped once the borrow is released.
                state.mark_done(1, wakers);
                Some(Ok(item))
            }
            // Its slot was still counted as taken: no overflow.
            Err(Ok(item)) => {
                state.items.push_next(item);
                None
            }
            Err(Err(QueueShutDown)) => unreachable!("granted Ok above"),
        }
    }
}

/// Future of [`GenericQueue::join`].
///
/// # Examples
///
/// ```
/// use ringio::sync::queue::{FifoStorage, Queue, QueueJoin};
///
/// ringio::run(async {
///     let q = Queue::<u8>::new(0);
///     let fut: QueueJoin<'_, u8, FifoStorage<u8>> = q.join();
///     fut.await;
/// });
/// ```
#[must_use = "futures do nothing unless polled"]
pub struct QueueJoin<'a, T, S: QueueStorage<T>> {
    waiter: Waiter<'a, GenericQueue<T, S>, Joining>,
}

impl<'a, T, S: QueueStorage<T>> QueueJoin<'a, T, S> {
    pub(super) fn new(queue: &'a GenericQueue<T, S>) -> Self {
        QueueJoin {
            waiter: Waiter::new(queue),
        }
    }
}

impl<T, S: QueueStorage<T>> Future for QueueJoin<'_, T, S> {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        self.get_mut().waiter.poll(cx, &mut ())
    }
}

impl<T, S: QueueStorage<T>> fmt::Debug for QueueJoin<'_, T, S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.waiter.fmt(f)
    }
}

/// The joiners' list: released all at once when the last item is done, so
/// a dropped joiner has nothing to pass on.
pub(crate) struct Joining;

impl<T, S: QueueStorage<T>> WaitQueue<Joining> for GenericQueue<T, S> {
    const FUTURE: &'static str = "QueueJoin";
    type State = State<T, S>;
    type Data = ();
    type Grant = ();
    type Carry = ();
    type Done = ();

    fn with_state<R>(&self, f: impl FnOnce(&mut Self::State) -> R) -> R {
        f(&mut self.state.borrow_mut())
    }

    fn list(state: &mut Self::State) -> &mut WaitList<(), ()> {
        &mut state.joiners
    }

    fn try_now(&self, state: &mut Self::State, _: &mut (), _: &mut Wakers) -> Result<(), ()> {
        if state.unfinished == 0 {
            Ok(())
        } else {
            Err(())
        }
    }

    fn granted(&self, _: &mut Self::State, (): (), _: &mut (), _: &mut Wakers) {}
}
