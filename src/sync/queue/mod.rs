//! Async queues shaped like asyncio's: [`Queue`], [`PriorityQueue`] and
//! [`LifoQueue`] (one queue, three orders), with their errors and futures.
//!
//! | asyncio | ringio |
//! |---|---|
//! | `Queue(maxsize)`, `PriorityQueue`, `LifoQueue` | [`Queue::new(maxsize)`](GenericQueue::new), [`PriorityQueue`], [`LifoQueue`] (also at [`sync`](crate::sync)) |
//! | `put`, `get`, `put_nowait`, `get_nowait` | [`put`](GenericQueue::put), [`get`](GenericQueue::get), [`try_put`](GenericQueue::try_put), [`try_get`](GenericQueue::try_get) |
//! | `task_done`, `join`, `shutdown` | [`task_done`](GenericQueue::task_done), [`join`](GenericQueue::join), [`shutdown`](GenericQueue::shutdown) |
//! | `QueueFull`, `QueueEmpty`, `QueueShutDown` | [`QueueFull`], [`QueueEmpty`], [`QueueShutDown`]; `try_*` return [`TryPutError`] / [`TryGetError`] |
//!
//! All three are [`GenericQueue`] over a different [`QueueStorage`] (sealed:
//! [`FifoStorage`], [`PriorityStorage`], [`LifoStorage`]), so the waiting,
//! fairness, cancellation, `join` and shutdown logic exists once; a user
//! never needs to name the storage. The rules of the [`sync`](crate::sync)
//! module docs hold for putters, getters and joiners alike.
//!
//! # Examples
//!
//! ```
//! use ringio::sync::queue::{Queue, TryGetError};
//!
//! ringio::run(async {
//!     let q = Queue::new(2);
//!     q.put("a").await.unwrap();
//!     assert_eq!(q.get().await, Ok("a"));
//!     assert_eq!(q.try_get(), Err(TryGetError::Empty));
//! });
//! ```

use std::cell::RefCell;
use std::fmt;

use crate::wait_list::{WaitList, Wakers};

mod error;
mod futures;
mod state;
mod storage;

#[doc(alias = "asyncio.QueueEmpty")]
pub use error::QueueEmpty;
#[doc(alias = "asyncio.QueueFull")]
pub use error::QueueFull;
#[doc(alias = "asyncio.QueueShutDown")]
pub use error::QueueShutDown;
pub use error::{TaskDoneError, TryGetError, TryPutError};
pub use futures::{Get, Put, QueueJoin};
use state::{Shutdown, State};
pub use storage::{FifoStorage, LifoStorage, PriorityStorage, QueueStorage};

/// A first-in, first-out queue (asyncio `Queue`).
///
/// See [`GenericQueue`] for its methods.
///
/// # Examples
///
/// ```
/// use ringio::sync::Queue;
///
/// ringio::run(async {
///     let q = Queue::new(2);
///     q.put("a").await.unwrap();
///     q.put("b").await.unwrap();
///     assert!(q.is_full());
///     assert_eq!(q.get().await, Ok("a"));
/// });
/// ```
#[doc(alias = "asyncio.Queue")]
pub type Queue<T> = GenericQueue<T, FifoStorage<T>>;

/// A queue that hands out its smallest item first (asyncio `PriorityQueue`).
///
/// See [`GenericQueue`] for its methods. As in Python, put `(priority, data)`
/// tuples to order by a key.
///
/// # Examples
///
/// ```
/// use ringio::sync::PriorityQueue;
///
/// ringio::run(async {
///     let q = PriorityQueue::new(0);
///     q.put((2, "later")).await.unwrap();
///     q.put((1, "first")).await.unwrap();
///     assert_eq!(q.get().await, Ok((1, "first")));
/// });
/// ```
#[doc(alias = "asyncio.PriorityQueue")]
pub type PriorityQueue<T> = GenericQueue<T, PriorityStorage<T>>;

/// A last-in, first-out queue: a stack (asyncio `LifoQueue`).
///
/// See [`GenericQueue`] for its methods.
///
/// # Examples
///
/// ```
/// use ringio::sync::LifoQueue;
///
/// ringio::run(async {
///     let q = LifoQueue::new(0);
///     q.put(1).await.unwrap();
///     q.put(2).await.unwrap();
///     assert_eq!(q.get().await, Ok(2));
/// });
/// ```
#[doc(alias = "asyncio.LifoQueue")]
pub type LifoQueue<T> = GenericQueue<T, LifoStorage<T>>;

/// An async queue with an optional bound, FIFO-fair to its waiters; use it as
/// [`Queue`], [`PriorityQueue`] or [`LifoQueue`].
///
/// Getters wait while the queue is empty, putters while it is full (for
/// `maxsize > 0`). Each side is served in arrival order and a newcomer never
/// overtakes a waiting task (rule 1 in the [module docs](crate::sync)); an
/// item put while getters wait goes straight to the oldest of them.
/// [`task_done`](GenericQueue::task_done) and [`join`](GenericQueue::join)
/// track when every item put has been processed, and
/// [`shutdown`](GenericQueue::shutdown) ends the queue.
///
/// # Capacity
///
/// In a bounded queue a slot counts as taken while it holds an item, while it
/// is reserved for a putter that was granted room but has not run yet, and
/// while its item is handed to a getter that has not run yet. So the queue
/// never holds more than `maxsize` items, even when a cancelled getter gives
/// its item back (rule 2).
///
/// # Examples
///
/// ```
/// use std::rc::Rc;
/// use ringio::sync::Queue;
///
/// ringio::run(async {
///     let q = Rc::new(Queue::new(1));
///     let consumer = ringio::spawn({
///         let q = q.clone();
///         async move {
///             let mut sum = 0;
///             while let Ok(n) = q.get().await {
///                 sum += n;
///                 q.task_done().unwrap();
///             }
///             sum
///         }
///     });
///     for n in 1..=4 {
///         q.put(n).await.unwrap(); // waits while the consumer catches up
///     }
///     q.join().await; // every item was processed
///     q.shutdown(false);
///     assert_eq!(consumer.await.unwrap(), 10);
/// });
/// ```
pub struct GenericQueue<T, S> {
    state: RefCell<State<T, S>>,
}

impl<T, S: QueueStorage<T>> GenericQueue<T, S> {
    /// Creates an empty queue holding at most `maxsize` items (0 = no bound).
    ///
    /// # Examples
    ///
    /// ```
    /// use ringio::sync::{LifoQueue, PriorityQueue, Queue};
    ///
    /// let fifo = Queue::<String>::new(16);
    /// let heap = PriorityQueue::<u32>::new(0);
    /// let stack = LifoQueue::<u32>::new(0);
    /// assert_eq!((fifo.maxsize(), heap.maxsize(), stack.maxsize()), (16, 0, 0));
    /// ```
    pub fn new(maxsize: usize) -> Self {
        GenericQueue {
            state: RefCell::new(State {
                items: S::new(),
                maxsize,
                reserved: 0,
                handed: 0,
                unfinished: 0,
                shutdown: Shutdown::Open,
                getters: WaitList::new(),
                putters: WaitList::new(),
                joiners: WaitList::new(),
            }),
        }
    }

    /// The bound given to [`new`](GenericQueue::new); 0 means none.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(ringio::sync::Queue::<u8>::new(3).maxsize(), 3);
    /// ```
    pub fn maxsize(&self) -> usize {
        self.state.borrow().maxsize
    }

    /// Number of items in the queue (asyncio `qsize()`).
    ///
    /// Items already handed to a getter that has not run yet are not counted.
    ///
    /// # Examples
    ///
    /// ```
    /// let q = ringio::sync::Queue::new(0);
    /// q.try_put(1).unwrap();
    /// assert_eq!(q.len(), 1);
    /// ```
    #[doc(alias = "asyncio.Queue.qsize")]
    #[doc(alias = "qsize")]
    pub fn len(&self) -> usize {
        self.state.borrow().items.len()
    }

    /// True if the queue holds no item.
    ///
    /// # Examples
    ///
    /// ```
    /// assert!(ringio::sync::Queue::<u8>::new(0).is_empty());
    /// ```
    #[doc(alias = "asyncio.Queue.empty")]
    #[doc(alias = "empty")]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// True if a put would have to wait for room.
    ///
    /// Slots reserved for putters and items handed to getters that have not
    /// run yet count as taken (see [Capacity](GenericQueue#capacity)).
    /// Always false for an unbounded queue.
    ///
    /// # Examples
    ///
    /// ```
    /// let q = ringio::sync::Queue::new(1);
    /// q.try_put(1).unwrap();
    /// assert!(q.is_full());
    /// ```
    #[doc(alias = "asyncio.Queue.full")]
    #[doc(alias = "full")]
    pub fn is_full(&self) -> bool {
        let state = self.state.borrow();
        state.maxsize > 0 && !state.has_room()
    }

    /// True once [`shutdown`](GenericQueue::shutdown) was called.
    ///
    /// # Examples
    ///
    /// ```
    /// let q = ringio::sync::Queue::<u8>::new(0);
    /// q.shutdown(false);
    /// assert!(q.is_shut_down());
    /// ```
    pub fn is_shut_down(&self) -> bool {
        self.state.borrow().shutdown != Shutdown::Open
    }

    /// Puts `item` in the queue, waiting for room if it is full.
    ///
    /// # Errors
    ///
    /// [`QueueShutDown`] if the queue is shut down before the item goes in;
    /// the item is dropped.
    ///
    /// # Cancel safety
    ///
    /// Cancel-safe: a `Put` that is dropped has not put its item, which is
    /// dropped with it. Dropped while queued, it leaves the line (rule 3);
    /// dropped after room was reserved for it, it passes that room to the
    /// next putter (rule 2). The item goes in when the future returns, so an
    /// item offered by `try_put` meanwhile may land first.
    ///
    /// # Examples
    ///
    /// ```
    /// use ringio::sync::Queue;
    ///
    /// ringio::run(async {
    ///     let q = Queue::new(1);
    ///     q.put(1).await.unwrap();
    ///     assert_eq!(q.len(), 1);
    /// });
    /// ```
    #[doc(alias = "asyncio.Queue.put")]
    pub fn put(&self, item: T) -> Put<'_, T, S> {
        Put::new(self, item)
    }

    /// Puts `item` in the queue if there is room now (asyncio `put_nowait`).
    ///
    /// # Errors
    ///
    /// Gives the item back in [`TryPutError::Full`] if the queue is full or
    /// earlier putters are waiting (rule 1), in [`TryPutError::ShutDown`] if
    /// it is shut down.
    ///
    /// # Examples
    ///
    /// ```
    /// use ringio::sync::queue::{Queue, TryPutError};
    ///
    /// let q = Queue::new(1);
    /// assert_eq!(q.try_put(1), Ok(()));
    /// assert_eq!(q.try_put(2), Err(TryPutError::Full(2)));
    /// ```
    #[doc(alias = "asyncio.Queue.put_nowait")]
    #[doc(alias = "put_nowait")]
    pub fn try_put(&self, item: T) -> Result<(), TryPutError<T>> {
        let mut wakers = Wakers::new();
        {
            let mut state = self.state.borrow_mut();
            if state.shutdown != Shutdown::Open {
                return Err(TryPutError::ShutDown(item));
            }
            if !state.putters.is_empty() || !state.has_room() {
                return Err(TryPutError::Full(item));
            }
            state.commit(item, &mut wakers);
        }
        wakers.wake_all();
        Ok(())
    }

    /// Takes the next item, waiting while the queue is empty.
    ///
    /// After a [`shutdown`](GenericQueue::shutdown), still returns the items
    /// left (unless it was immediate), then fails.
    ///
    /// # Errors
    ///
    /// [`QueueShutDown`] if the queue is shut down and empty.
    ///
    /// # Cancel safety
    ///
    /// Cancel-safe: no item is lost. Dropped while queued, the future leaves
    /// the line (rule 3); dropped after an item was handed to it, it passes
    /// the item to the next getter or puts it back at the front of the queue
    /// (rule 2) — or discards it, counted as done, if the queue was shut
    /// down immediately meanwhile. Each item given back goes to the very
    /// front, so of several given back, the last comes out first.
    ///
    /// # Examples
    ///
    /// ```
    /// use ringio::sync::Queue;
    ///
    /// ringio::run(async {
    ///     let q = Queue::new(0);
    ///     q.put('x').await.unwrap();
    ///     assert_eq!(q.get().await, Ok('x'));
    /// });
    /// ```
    #[doc(alias = "asyncio.Queue.get")]
    pub fn get(&self) -> Get<'_, T, S> {
        Get::new(self)
    }

    /// Takes the next item if there is one now (asyncio `get_nowait`).
    ///
    /// # Errors
    ///
    /// [`TryGetError::Empty`] if the queue holds no item,
    /// [`TryGetError::ShutDown`] if it holds none and is shut down.
    ///
    /// # Examples
    ///
    /// ```
    /// use ringio::sync::queue::{Queue, TryGetError};
    ///
    /// let q = Queue::new(0);
    /// q.try_put(5).unwrap();
    /// assert_eq!(q.try_get(), Ok(5));
    /// assert_eq!(q.try_get(), Err(TryGetError::Empty));
    /// ```
    #[doc(alias = "asyncio.Queue.get_nowait")]
    #[doc(alias = "get_nowait")]
    pub fn try_get(&self) -> Result<T, TryGetError> {
        let mut wakers = Wakers::new();
        let result = {
            let mut state = self.state.borrow_mut();
            match state.take_item(&mut wakers) {
                Some(item) => Ok(item),
                None if state.shutdown != Shutdown::Open => Err(TryGetError::ShutDown),
                None => Err(TryGetError::Empty),
            }
        };
        wakers.wake_all();
        result
    }

    /// Marks one item that was got as processed.
    ///
    /// When every item put so far is done, [`join`](GenericQueue::join) returns.
    ///
    /// # Errors
    ///
    /// [`TaskDoneError`] if called more times than items were put (asyncio
    /// raises `ValueError`); the count stays at zero.
    ///
    /// # Examples
    ///
    /// ```
    /// let q = ringio::sync::Queue::new(0);
    /// q.try_put(1).unwrap();
    /// q.try_get().unwrap();
    /// assert!(q.task_done().is_ok());
    /// assert!(q.task_done().is_err());
    /// ```
    #[doc(alias = "asyncio.Queue.task_done")]
    pub fn task_done(&self) -> Result<(), TaskDoneError> {
        let mut wakers = Wakers::new();
        {
            let mut state = self.state.borrow_mut();
            if state.unfinished == 0 {
                return Err(TaskDoneError);
            }
            state.mark_done(1, &mut wakers);
        }
        wakers.wake_all();
        Ok(())
    }

    /// Waits until every item put has been marked done with
    /// [`task_done`](GenericQueue::task_done); returns at once if none is pending.
    ///
    /// # Cancel safety
    ///
    /// Cancel-safe. Dropping the future removes it from the wait list
    /// (rule 3); the release is shared by every joiner, so nothing needs
    /// passing on.
    ///
    /// # Examples
    ///
    /// ```
    /// use ringio::sync::Queue;
    ///
    /// ringio::run(async {
    ///     let q = Queue::<u32>::new(0);
    ///     q.join().await; // nothing was put
    /// });
    /// ```
    #[doc(alias = "asyncio.Queue.join")]
    pub fn join(&self) -> QueueJoin<'_, T, S> {
        QueueJoin::new(self)
    }

    /// Shuts the queue down: every later put fails, and so does every get
    /// once the queue is empty.
    ///
    /// Waiting putters and getters are woken with [`QueueShutDown`]. With
    /// `immediate`, the items left are discarded and counted as done for
    /// [`join`](GenericQueue::join); otherwise getters can still drain them.
    /// Calling it again can turn a draining shutdown into an immediate one.
    ///
    /// # Examples
    ///
    /// ```
    /// use ringio::sync::queue::{Queue, TryGetError};
    ///
    /// let q = Queue::new(0);
    /// q.try_put(1).unwrap();
    /// q.shutdown(false);
    /// assert_eq!(q.try_get(), Ok(1)); // drained first
    /// assert_eq!(q.try_get(), Err(TryGetError::ShutDown));
    /// ```
    #[doc(alias = "asyncio.Queue.shutdown")]
    pub fn shutdown(&self, immediate: bool) {
        let mut wakers = Wakers::new();
        let mut discarded = Vec::new();
        {
            let mut state = self.state.borrow_mut();
            let level = if immediate {
                Shutdown::Immediate
            } else {
                Shutdown::Draining
            };
            state.shutdown = state.shutdown.max(level);
            if immediate {
                while let Some(item) = state.items.pop() {
                    discarded.push(item);
                }
                state.mark_done(discarded.len(), &mut wakers);
            }
            state.getters.grant_all(|| Err(QueueShutDown), &mut wakers);
            state.putters.grant_all(|| Err(QueueShutDown), &mut wakers);
        }
        // Items are dropped outside the borrow: their `Drop` may use the queue.
        drop(discarded);
        wakers.wake_all();
    }

    #[cfg(test)]
    fn waiter_entries(&self) -> usize {
        let state = self.state.borrow();
        state.getters.entries() + state.putters.entries() + state.joiners.entries()
    }
}

impl<T, S: QueueStorage<T>> Default for GenericQueue<T, S> {
    /// An unbounded queue.
    fn default() -> Self {
        GenericQueue::new(0)
    }
}

impl<T, S: QueueStorage<T>> fmt::Debug for GenericQueue<T, S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = self.state.borrow();
        f.debug_struct("GenericQueue")
            .field("len", &state.items.len())
            .field("maxsize", &state.maxsize)
            .field("getters", &state.getters.len())
            .field("putters", &state.putters.len())
            .field("unfinished", &state.unfinished)
            .field("shutdown", &state.shutdown)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod prop_tests;
#[cfg(test)]
mod tests;
