//! The small error types of the queues.

use std::error::Error;
use std::fmt;

/// The queue is at its `maxsize`: nothing can be put without waiting.
///
/// # Examples
///
/// ```
/// use ringio::sync::queue::{QueueFull, TryPutError};
///
/// let err: TryPutError<u8> = TryPutError::Full(1);
/// assert_eq!(err.to_string(), QueueFull.to_string());
/// ```
#[doc(alias = "asyncio.QueueFull")]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct QueueFull;

impl fmt::Display for QueueFull {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("queue is full")
    }
}

impl Error for QueueFull {}

/// The queue holds no item: nothing can be got without waiting.
///
/// # Examples
///
/// ```
/// use ringio::sync::queue::{Queue, QueueEmpty, TryGetError};
///
/// let q = Queue::<u8>::new(0);
/// assert_eq!(q.try_get(), Err(TryGetError::Empty));
/// assert_eq!(TryGetError::from(QueueEmpty), TryGetError::Empty);
/// ```
#[doc(alias = "asyncio.QueueEmpty")]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct QueueEmpty;

impl fmt::Display for QueueEmpty {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("queue is empty")
    }
}

impl Error for QueueEmpty {}

/// The queue was shut down: `put` fails, and `get` fails once it is drained.
///
/// # Examples
///
/// ```
/// use ringio::sync::queue::{Queue, QueueShutDown};
///
/// ringio::run(async {
///     let q = Queue::new(0);
///     q.shutdown(false);
///     assert_eq!(q.put(1).await, Err(QueueShutDown));
/// });
/// ```
#[doc(alias = "asyncio.QueueShutDown")]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct QueueShutDown;

impl fmt::Display for QueueShutDown {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("queue is shut down")
    }
}

impl Error for QueueShutDown {}

/// Why [`try_put`](super::GenericQueue::try_put) failed; carries the item back.
///
/// # Examples
///
/// ```
/// use ringio::sync::queue::{Queue, TryPutError};
///
/// let q = Queue::new(1);
/// q.try_put("a").unwrap();
/// let err = q.try_put("b").unwrap_err();
/// assert!(err.is_full());
/// assert_eq!(err.into_inner(), "b");
/// ```
#[derive(Clone, PartialEq, Eq)]
pub enum TryPutError<T> {
    /// The queue is full, or earlier putters are still waiting for room.
    Full(T),
    /// The queue was shut down.
    ShutDown(T),
}

impl<T> TryPutError<T> {
    /// Gives back the item that could not be put.
    ///
    /// # Examples
    ///
    /// ```
    /// use ringio::sync::queue::TryPutError;
    ///
    /// assert_eq!(TryPutError::ShutDown(3).into_inner(), 3);
    /// ```
    pub fn into_inner(self) -> T {
        match self {
            TryPutError::Full(item) | TryPutError::ShutDown(item) => item,
        }
    }

    /// True if the put failed for lack of room.
    ///
    /// # Examples
    ///
    /// ```
    /// assert!(ringio::sync::queue::TryPutError::Full(()).is_full());
    /// ```
    pub fn is_full(&self) -> bool {
        matches!(self, TryPutError::Full(_))
    }

    /// True if the put failed because the queue was shut down.
    ///
    /// # Examples
    ///
    /// ```
    /// assert!(ringio::sync::queue::TryPutError::ShutDown(()).is_shut_down());
    /// ```
    pub fn is_shut_down(&self) -> bool {
        matches!(self, TryPutError::ShutDown(_))
    }
}

// Written by hand so that the item need not be `Debug` (as std's `TrySendError`).
impl<T> fmt::Debug for TryPutError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TryPutError::Full(_) => f.write_str("Full(..)"),
            TryPutError::ShutDown(_) => f.write_str("ShutDown(..)"),
        }
    }
}

impl<T> fmt::Display for TryPutError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TryPutError::Full(_) => fmt::Display::fmt(&QueueFull, f),
            TryPutError::ShutDown(_) => fmt::Display::fmt(&QueueShutDown, f),
        }
    }
}

impl<T> Error for TryPutError<T> {}

/// Why [`try_get`](super::GenericQueue::try_get) failed.
///
/// # Examples
///
/// ```
/// use ringio::sync::queue::{Queue, TryGetError};
///
/// let q = Queue::<u8>::new(0);
/// assert_eq!(q.try_get(), Err(TryGetError::Empty));
/// q.shutdown(false);
/// assert_eq!(q.try_get(), Err(TryGetError::ShutDown));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TryGetError {
    /// The queue holds no item.
    Empty,
    /// The queue was shut down and holds no item.
    ShutDown,
}

impl fmt::Display for TryGetError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TryGetError::Empty => fmt::Display::fmt(&QueueEmpty, f),
            TryGetError::ShutDown => fmt::Display::fmt(&QueueShutDown, f),
        }
    }
}

impl Error for TryGetError {}

impl From<QueueEmpty> for TryGetError {
    fn from(QueueEmpty: QueueEmpty) -> Self {
        TryGetError::Empty
    }
}

impl From<QueueShutDown> for TryGetError {
    fn from(QueueShutDown: QueueShutDown) -> Self {
        TryGetError::ShutDown
    }
}

/// [`task_done`](super::GenericQueue::task_done) was called more times than
/// items were put.
///
/// # Examples
///
/// ```
/// use ringio::sync::queue::{Queue, TaskDoneError};
///
/// let q = Queue::<u8>::new(0);
/// assert_eq!(q.task_done(), Err(TaskDoneError));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TaskDoneError;

impl fmt::Display for TaskDoneError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("task_done() called more times than items were put")
    }
}

impl Error for TaskDoneError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_display_and_keep_the_item() {
        assert_eq!(TryPutError::Full(1).to_string(), "queue is full");
        assert_eq!(format!("{:?}", TryPutError::ShutDown(1)), "ShutDown(..)");
        assert_eq!(TryPutError::ShutDown(vec![1]).into_inner(), vec![1]);
        assert_eq!(TryGetError::ShutDown.to_string(), "queue is shut down");
        assert_eq!(TryGetError::from(QueueShutDown), TryGetError::ShutDown);
        let boxed: Box<dyn Error> = Box::new(TaskDoneError);
        assert!(boxed.to_string().contains("task_done"));
    }
}
