//! `Failure` and `GroupError`: how a `TaskGroup` reports what went wrong.

use std::any::Any;
use std::fmt;

/// One real failure of a [`TaskGroup`](super::TaskGroup) task: it returned `Err` or it
/// panicked. Cancellations caused by a sibling's failure are never failures.
///
/// # Examples
///
/// ```
/// use ringio::task::{Failure, TaskGroup};
///
/// ringio::run(async {
///     let group = TaskGroup::<(), &str>::new();
///     group.spawn(async { panic!("oops") });
///     let err = group.join().await.unwrap_err();
///     assert!(matches!(err.failures(), [Failure::Panic(_)]));
/// });
/// ```
#[doc(alias = "ExceptionGroup")]
pub enum Failure<E> {
    /// The task returned `Err(E)`.
    Error(E),
    /// The task panicked; the payload can be passed to `std::panic::resume_unwind`.
    Panic(Box<dyn Any + Send + 'static>),
}

impl<E> Failure<E> {
    /// Whether the task returned an error.
    ///
    /// # Examples
    ///
    /// ```
    /// assert!(ringio::task::Failure::Error(1).is_error());
    /// ```
    pub fn is_error(&self) -> bool {
        matches!(self, Failure::Error(_))
    }

    /// Whether the task panicked.
    ///
    /// # Examples
    ///
    /// ```
    /// let f = ringio::task::Failure::<()>::Panic(Box::new("boom"));
    /// assert!(f.is_panic());
    /// ```
    pub fn is_panic(&self) -> bool {
        matches!(self, Failure::Panic(_))
    }

    /// The error the task returned, if it did not panic.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(ringio::task::Failure::Error(7).error(), Some(&7));
    /// ```
    pub fn error(&self) -> Option<&E> {
        match self {
            Failure::Error(e) => Some(e),
            Failure::Panic(_) => None,
        }
    }

    /// The panic's message, when the payload is a string (as `panic!` makes it).
    ///
    /// # Examples
    ///
    /// ```
    /// let f = ringio::task::Failure::<()>::Panic(Box::new("boom"));
    /// assert_eq!(f.panic_message(), Some("boom"));
    /// ```
    pub fn panic_message(&self) -> Option<&str> {
        match self {
            Failure::Panic(p) => p
                .downcast_ref::<&str>()
                .copied()
                .or_else(|| p.downcast_ref::<String>().map(String::as_str)),
            Failure::Error(_) => None,
        }
    }
}

impl<E: fmt::Debug> fmt::Debug for Failure<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Failure::Error(e) => f.debug_tuple("Error").field(e).finish(),
            Failure::Panic(_) => f
                .debug_tuple("Panic")
                .field(&self.panic_message().unwrap_or("<non-string payload>"))
                .finish(),
        }
    }
}

impl<E: fmt::Display> fmt::Display for Failure<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self, self.panic_message()) {
            (Failure::Error(e), _) => write!(f, "task failed: {e}"),
            (Failure::Panic(_), Some(msg)) => write!(f, "task panicked: {msg}"),
            (Failure::Panic(_), None) => f.write_str("task panicked"),
        }
    }
}

/// Why [`TaskGroup::join`](super::TaskGroup::join) failed: every real failure of its
/// tasks, in the order they happened (never empty).
///
/// # Examples
///
/// ```
/// use ringio::task::TaskGroup;
///
/// ringio::run(async {
///     let group = TaskGroup::<(), String>::new();
///     group.spawn(async { Err("disk full".to_string()) });
///     let err = group.join().await.unwrap_err();
///     assert_eq!(err.to_string(), "1 task of the group failed; first: task failed: disk full");
/// });
/// ```
#[doc(alias = "ExceptionGroup")]
#[doc(alias = "BaseExceptionGroup")]
pub struct GroupError<E> {
    failures: Vec<Failure<E>>,
}

impl<E> GroupError<E> {
    pub(crate) fn new(failures: Vec<Failure<E>>) -> Self {
        debug_assert!(!failures.is_empty(), "a group error has a failure");
        GroupError { failures }
    }

    /// Every failure, in the order it happened.
    ///
    /// # Examples
    ///
    /// ```
    /// ringio::run(async {
    ///     let group = ringio::task::TaskGroup::<(), u8>::new();
    ///     group.spawn(async { Err(1) });
    ///     let err = group.join().await.unwrap_err();
    ///     assert_eq!(err.failures()[0].error(), Some(&1));
    /// });
    /// ```
    #[doc(alias = "exceptions")]
    pub fn failures(&self) -> &[Failure<E>] {
        &self.failures
    }

    /// Every failure, owned (to resume a panic, for instance).
    ///
    /// # Examples
    ///
    /// ```
    /// ringio::run(async {
    ///     let group = ringio::task::TaskGroup::<(), u8>::new();
    ///     group.spawn(async { Err(1) });
    ///     let failures = group.join().await.unwrap_err().into_failures();
    ///     assert_eq!(failures.len(), 1);
    /// });
    /// ```
    pub fn into_failures(self) -> Vec<Failure<E>> {
        self.failures
    }
}

impl<E: fmt::Debug> fmt::Debug for GroupError<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GroupError")
            .field("failures", &self.failures)
            .finish()
    }
}

impl<E: fmt::Display> fmt::Display for GroupError<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.failures.len();
        let tasks = if n == 1 { "task" } else { "tasks" };
        write!(f, "{n} {tasks} of the group failed")?;
        if let Some(first) = self.failures.first() {
            write!(f, "; first: {first}")?;
        }
        Ok(())
    }
}

impl<E: fmt::Debug + fmt::Display> std::error::Error for GroupError<E> {}
