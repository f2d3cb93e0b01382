//! The futures of [`GenericQueue`]: [`Put`], [`Get`] and [`QueueJoin`].

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use super::error::QueueShutDown;
use super::storage::QueueStorage;
use super::{GenericQueue, Shutdown};
use crate::wait_list::{WaiterKey, WaiterState};

/// Future of [`GenericQueue::put`].
///
/// # Examples
///
/// ```
/// use ringio::sync::{FifoStorage, Put, Queue};
///
/// ringio::run(async {
///     let q = Queue::new(0);
///     let fut: Put<'_, u8, FifoStorage<u8>> = q.put(1);
///     fut.await.unwrap();
/// });
/// ```
#[must_use = "futures do nothing unless polled"]
pub struct Put<'a, T, S: QueueStorage<T>> {
    queue: &'a GenericQueue<T, S>,
    /// `Some` until the item goes in or the put fails.
    item: Option<T>,
    key: Option<WaiterKey>,
}

impl<'a, T, S: QueueStorage<T>> Put<'a, T, S> {
    pub(super) fn new(queue: &'a GenericQueue<T, S>, item: T) -> Self {
        Put {
            queue,
            item: Some(item),
            key: None,
        }
    }
}

// The item is only ever moved, never pinned, so `Put` need not be pinned.
impl<T, S: QueueStorage<T>> Unpin for Put<'_, T, S> {}

impl<T, S: QueueStorage<T>> Future for Put<'_, T, S> {
    type Output = Result<(), QueueShutDown>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        let item = this.item.take().expect("`Put` polled after completion");
        let mut wakers = Vec::new();
        let mut state = this.queue.state.borrow_mut();
        let result = match this.key {
            None if state.shutdown != Shutdown::Open => Err((QueueShutDown, item)),
            None if state.putters.is_empty() && state.has_room() => {
                state.commit(item, &mut wakers);
                Ok(())
            }
            None => {
                // Rule 1: wait behind earlier putters, keeping the item.
                this.key = Some(state.putters.push_back(cx.waker(), ()));
                this.item = Some(item);
                return Poll::Pending;
            }
            Some(key) => match state.putters.poll_grant(key, cx) {
                None => {
                    this.item = Some(item);
                    return Poll::Pending;
                }
                Some(grant) => {
                    this.key = None;
                    match grant {
                        Ok(()) => {
                            state.reserved -= 1;
                            if state.shutdown == Shutdown::Open {
                                state.commit(item, &mut wakers);
                                Ok(())
                            } else {
                                Err((QueueShutDown, item))
                            }
                        }
                        Err(e) => Err((e, item)),
                    }
                }
            },
        };
        drop(state);
        crate::sync::wake_all(wakers);
        // A refused item is dropped here, outside the borrow.
        Poll::Ready(result.map_err(|(e, _item)| e))
    }
}

impl<T, S: QueueStorage<T>> Drop for Put<'_, T, S> {
    fn drop(&mut self) {
        let Some(key) = self.key.take() else { return };
        let mut wakers = Vec::new();
        {
            let mut state = self.queue.state.borrow_mut();
            if let WaiterState::Granted(Ok(())) = state.putters.remove(key) {
                // Rule 2: room was reserved for us; offer it to the next putter.
                state.reserved -= 1;
                state.grant_putters(&mut wakers);
            }
        }
        crate::sync::wake_all(wakers);
    }
}

impl<T, S: QueueStorage<T>> fmt::Debug for Put<'_, T, S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Put")
            .field("queued", &self.key.is_some())
            .finish_non_exhaustive()
    }
}

/// Future of [`GenericQueue::get`].
///
/// # Examples
///
/// ```
/// use ringio::sync::{FifoStorage, Get, Queue};
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
    queue: &'a GenericQueue<T, S>,
    key: Option<WaiterKey>,
    done: bool,
}

impl<'a, T, S: QueueStorage<T>> Get<'a, T, S> {
    pub(super) fn new(queue: &'a GenericQueue<T, S>) -> Self {
        Get {
            queue,
            key: None,
            done: false,
        }
    }
}

impl<T, S: QueueStorage<T>> Future for Get<'_, T, S> {
    type Output = Result<T, QueueShutDown>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        assert!(!this.done, "`Get` polled after completion");
        let mut wakers = Vec::new();
        let mut state = this.queue.state.borrow_mut();
        let result = match this.key {
            // Getters only queue while the store is empty, so taking an item
            // here never overtakes one (rule 1).
            None => match state.take_item(&mut wakers) {
                Some(item) => Ok(item),
                None if state.shutdown != Shutdown::Open => Err(QueueShutDown),
                None => {
                    this.key = Some(state.getters.push_back(cx.waker(), ()));
                    return Poll::Pending;
                }
            },
            Some(key) => match state.getters.poll_grant(key, cx) {
                None => return Poll::Pending,
                Some(grant) => {
                    this.key = None;
                    if grant.is_ok() {
                        // The item's slot is free now that it is really ours.
                        state.handed -= 1;
                        state.grant_putters(&mut wakers);
                    }
                    grant
                }
            },
        };
        drop(state);
        crate::sync::wake_all(wakers);
        this.done = true;
        Poll::Ready(result)
    }
}

impl<T, S: QueueStorage<T>> Drop for Get<'_, T, S> {
    fn drop(&mut self) {
        let Some(key) = self.key.take() else { return };
        let mut wakers = Vec::new();
        let mut discarded = None;
        {
            let mut state = self.queue.state.borrow_mut();
            if let WaiterState::Granted(Ok(item)) = state.getters.remove(key) {
                // Rule 2: the item was ours; hand it on, never lose it.
                state.handed -= 1;
                match state.getters.grant_front(Ok(item)) {
                    Ok(((), waker)) => {
                        state.handed += 1;
                        wakers.push(waker);
                    }
                    Err(Ok(item)) if state.shutdown == Shutdown::Immediate => {
                        // Discarded like the items the shutdown found queued.
                        discarded = Some(item);
                        state.mark_done(1, &mut wakers);
                    }
                    // Its slot was still counted as taken: no overflow.
                    Err(Ok(item)) => state.items.push_next(item),
                    Err(Err(QueueShutDown)) => unreachable!("granted Ok above"),
                }
            }
        }
        drop(discarded);
        crate::sync::wake_all(wakers);
    }
}

impl<T, S: QueueStorage<T>> fmt::Debug for Get<'_, T, S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Get")
            .field("queued", &self.key.is_some())
            .finish_non_exhaustive()
    }
}

/// Future of [`GenericQueue::join`].
///
/// # Examples
///
/// ```
/// use ringio::sync::{FifoStorage, Queue, QueueJoin};
///
/// ringio::run(async {
///     let q = Queue::<u8>::new(0);
///     let fut: QueueJoin<'_, u8, FifoStorage<u8>> = q.join();
///     fut.await;
/// });
/// ```
#[must_use = "futures do nothing unless polled"]
pub struct QueueJoin<'a, T, S: QueueStorage<T>> {
    queue: &'a GenericQueue<T, S>,
    key: Option<WaiterKey>,
    done: bool,
}

impl<'a, T, S: QueueStorage<T>> QueueJoin<'a, T, S> {
    pub(super) fn new(queue: &'a GenericQueue<T, S>) -> Self {
        QueueJoin {
            queue,
            key: None,
            done: false,
        }
    }
}

impl<T, S: QueueStorage<T>> Future for QueueJoin<'_, T, S> {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = self.get_mut();
        assert!(!this.done, "`QueueJoin` polled after completion");
        let mut state = this.queue.state.borrow_mut();
        match this.key {
            None if state.unfinished == 0 => {}
            None => {
                this.key = Some(state.joiners.push_back(cx.waker(), ()));
                return Poll::Pending;
            }
            Some(key) => match state.joiners.poll_grant(key, cx) {
                Some(()) => this.key = None,
                None => return Poll::Pending,
            },
        }
        this.done = true;
        Poll::Ready(())
    }
}

impl<T, S: QueueStorage<T>> Drop for QueueJoin<'_, T, S> {
    fn drop(&mut self) {
        if let Some(key) = self.key.take() {
            self.queue.state.borrow_mut().joiners.remove(key);
        }
    }
}

impl<T, S: QueueStorage<T>> fmt::Debug for QueueJoin<'_, T, S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("QueueJoin")
            .field("queued", &self.key.is_some())
            .finish_non_exhaustive()
    }
}
