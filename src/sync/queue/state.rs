//! The state behind a [`GenericQueue`](super::GenericQueue)'s `RefCell`: the
//! store, the counts that keep its capacity and `join`, the three wait lists,
//! and the steps the queue and its futures share.

use super::error::QueueShutDown;
use super::storage::QueueStorage;
use crate::wait_list::{WaitList, Wakers};

/// How far [`GenericQueue::shutdown`](super::GenericQueue::shutdown) has gone; only ever moves forward.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(super) enum Shutdown {
    Open,
    /// `shutdown(false)`: no more puts; gets drain what is left.
    Draining,
    /// `shutdown(true)`: no more puts; what was left is discarded.
    Immediate,
}

/// Everything a queue keeps, borrowed for one step at a time.
pub(crate) struct State<T, S> {
    pub(super) items: S,
    pub(super) maxsize: usize,
    /// Slots granted to putters that have not run yet.
    pub(super) reserved: usize,
    /// Items granted to getters that have not run yet.
    pub(super) handed: usize,
    /// Items put and not yet marked done.
    pub(super) unfinished: usize,
    pub(super) shutdown: Shutdown,
    /// Getters are only queued while `items` is empty.
    pub(super) getters: WaitList<(), Result<T, QueueShutDown>>,
    /// Putters are only queued while there is no room; each keeps its item.
    pub(super) putters: WaitList<(), Result<(), QueueShutDown>>,
    pub(super) joiners: WaitList<(), ()>,
}

impl<T, S: QueueStorage<T>> State<T, S> {
    /// True if one more item fits: no bound, or a slot not taken by an
    /// item, a reservation or a hand-over.
    pub(super) fn has_room(&self) -> bool {
        self.maxsize == 0 || self.items.len() + self.reserved + self.handed < self.maxsize
    }

    /// Adds a put item: straight to the oldest getter if one waits (rule 1),
    /// otherwise into the store.
    pub(super) fn commit(&mut self, item: T, wakers: &mut Wakers) {
        self.unfinished += 1;
        match self.getters.grant_front(Ok(item)) {
            Ok(((), waker)) => {
                self.handed += 1;
                wakers.push(waker);
            }
            Err(Ok(item)) => self.items.push(item),
            Err(Err(QueueShutDown)) => unreachable!("granted Ok above"),
        }
    }

    /// The whole of a put when nobody waits on either side and there is
    /// room: the item goes into the store, with no waiter list, waker or
    /// grant touched. Takes the item only if it went in; `false` leaves the
    /// case to [`try_now`](crate::wait_list::WaitQueue::try_now), which
    /// decides it the same way.
    #[inline]
    pub(super) fn put_fast(&mut self, item: &mut Option<T>) -> bool {
        // A waiting getter is owed the item (rule 1); a waiting putter goes first.
        if self.shutdown != Shutdown::Open
            || !self.getters.is_empty()
            || !self.putters.is_empty()
            || !self.has_room()
        {
            return false;
        }
        let Some(item) = item.take() else {
            return false;
        };
        self.unfinished += 1;
        self.items.push(item);
        true
    }

    /// The whole of a get when an item is stored and no putter waits for
    /// its slot. Getters only queue while the store is empty, so this never
    /// overtakes one (rule 1); `None` leaves the case to the slow path.
    #[inline]
    pub(super) fn get_fast(&mut self) -> Option<T> {
        if self.putters.is_empty() {
            self.items.pop()
        } else {
            None
        }
    }

    /// Takes the next item out of the store and offers its slot to putters.
    pub(super) fn take_item(&mut self, wakers: &mut Wakers) -> Option<T> {
        let item = self.items.pop()?;
        self.grant_putters(wakers);
        Some(item)
    }

    /// Reserves free slots for waiting putters, oldest first.
    pub(super) fn grant_putters(&mut self, wakers: &mut Wakers) {
        while self.shutdown == Shutdown::Open && !self.putters.is_empty() && self.has_room() {
            self.reserved += 1;
            match self.putters.grant_front(Ok(())) {
                Ok(((), waker)) => wakers.push(waker),
                Err(_) => unreachable!("a putter is queued"),
            }
        }
    }

    /// Marks `n` items done (never below zero) and releases joiners at zero.
    pub(super) fn mark_done(&mut self, n: usize, wakers: &mut Wakers) {
        self.unfinished = self.unfinished.saturating_sub(n);
        if self.unfinished == 0 {
            self.joiners.grant_all(|| (), wakers);
        }
    }
}
