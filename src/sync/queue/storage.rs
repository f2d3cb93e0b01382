//! The three queue orders: [`QueueStorage`] and its implementations.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, VecDeque};

mod sealed {
    /// Keeps [`QueueStorage`](super::QueueStorage) closed to other crates.
    pub trait Sealed {}
}

/// The order in which a [`GenericQueue`](crate::sync::queue::GenericQueue) hands out its items.
///
/// Sealed: the implementations are [`FifoStorage`] ([`Queue`](crate::sync::Queue)),
/// [`PriorityStorage`] ([`PriorityQueue`](crate::sync::PriorityQueue)) and [`LifoStorage`] ([`LifoQueue`](crate::sync::LifoQueue)).
///
/// # Examples
///
/// ```
/// use ringio::sync::queue::{FifoStorage, GenericQueue, Queue};
///
/// let q: GenericQueue<u8, FifoStorage<u8>> = Queue::new(0);
/// assert!(q.is_empty());
/// ```
pub trait QueueStorage<T>: sealed::Sealed {
    /// An empty store.
    fn new() -> Self;
    /// Adds an item that was put.
    fn push(&mut self, item: T);
    /// Removes the item to hand out next.
    fn pop(&mut self) -> Option<T>;
    /// Puts back an item taken by [`pop`](QueueStorage::pop) so that it is
    /// handed out next again (a cancelled getter's item, rule 2).
    fn push_next(&mut self, item: T);
    /// Number of items held.
    fn len(&self) -> usize;
    /// True if no item is held.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// First in, first out: the storage of [`Queue`](crate::sync::Queue).
///
/// # Examples
///
/// ```
/// use ringio::sync::queue::{FifoStorage, GenericQueue};
///
/// let q = GenericQueue::<u8, FifoStorage<u8>>::new(0);
/// q.try_put(1).unwrap();
/// q.try_put(2).unwrap();
/// assert_eq!(q.try_get(), Ok(1));
/// ```
#[derive(Debug)]
pub struct FifoStorage<T>(VecDeque<T>);

impl<T> sealed::Sealed for FifoStorage<T> {}

impl<T> QueueStorage<T> for FifoStorage<T> {
    fn new() -> Self {
        FifoStorage(VecDeque::new())
    }
    fn push(&mut self, item: T) {
        self.0.push_back(item);
    }
    fn pop(&mut self) -> Option<T> {
        self.0.pop_front()
    }
    fn push_next(&mut self, item: T) {
        self.0.push_front(item);
    }
    fn len(&self) -> usize {
        self.0.len()
    }
}

/// Last in, first out: the storage of [`LifoQueue`](crate::sync::LifoQueue).
///
/// # Examples
///
/// ```
/// use ringio::sync::queue::{GenericQueue, LifoStorage};
///
/// let q = GenericQueue::<u8, LifoStorage<u8>>::new(0);
/// q.try_put(1).unwrap();
/// q.try_put(2).unwrap();
/// assert_eq!(q.try_get(), Ok(2));
/// ```
#[derive(Debug)]
pub struct LifoStorage<T>(Vec<T>);

impl<T> sealed::Sealed for LifoStorage<T> {}

impl<T> QueueStorage<T> for LifoStorage<T> {
    fn new() -> Self {
        LifoStorage(Vec::new())
    }
    fn push(&mut self, item: T) {
        self.0.push(item);
    }
    fn pop(&mut self) -> Option<T> {
        self.0.pop()
    }
    fn push_next(&mut self, item: T) {
        // The top of the stack is what comes out next.
        self.0.push(item);
    }
    fn len(&self) -> usize {
        self.0.len()
    }
}

/// Smallest first (a min-heap, like Python's `heapq`): the storage of
/// [`PriorityQueue`](crate::sync::PriorityQueue). Equal items come out in no particular order.
///
/// # Examples
///
/// ```
/// use ringio::sync::queue::{GenericQueue, PriorityStorage};
///
/// let q = GenericQueue::<u8, PriorityStorage<u8>>::new(0);
/// q.try_put(2).unwrap();
/// q.try_put(1).unwrap();
/// assert_eq!(q.try_get(), Ok(1));
/// ```
#[derive(Debug)]
pub struct PriorityStorage<T>(BinaryHeap<Reverse<T>>);

impl<T> sealed::Sealed for PriorityStorage<T> {}

impl<T: Ord> QueueStorage<T> for PriorityStorage<T> {
    fn new() -> Self {
        PriorityStorage(BinaryHeap::new())
    }
    fn push(&mut self, item: T) {
        self.0.push(Reverse(item));
    }
    fn pop(&mut self) -> Option<T> {
        self.0.pop().map(|Reverse(item)| item)
    }
    fn push_next(&mut self, item: T) {
        // It was the smallest when popped, so it is the next to come out
        // unless a smaller item arrived since: heap order is the contract.
        self.0.push(Reverse(item));
    }
    fn len(&self) -> usize {
        self.0.len()
    }
}
