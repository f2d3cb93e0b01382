//! `TaskGroup`: tasks that succeed together or are cancelled together.

use super::failure::{Failure, GroupError};
use crate::runtime::JoinHandle;
use pin_project_lite::pin_project;
use slab::Slab;
use std::cell::RefCell;
use std::collections::BTreeMap;
use std::fmt;
use std::future::Future;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll, Waker};

/// A set of tasks joined as one: every output in spawn order, or every failure.
///
/// The first failure (an `Err` or a panic) cancels every sibling; [`join`](Self::join)
/// then waits until each task's future is gone and reports every real failure, never the
/// cancellations it caused (module rule 5). Dropping the group cancels its tasks.
///
/// # Examples
///
/// ```
/// use ringio::task::TaskGroup;
///
/// ringio::run(async {
///     let group = TaskGroup::<u32, String>::new();
///     for n in 1..=3 {
///         group.spawn(async move { Ok(n * 10) });
///     }
///     assert_eq!(group.join().await.unwrap(), [10, 20, 30]);
///
///     let group = TaskGroup::<u32, String>::new();
///     group.spawn(async { Err("no disk".to_string()) });
///     group.spawn(async { Ok(1) });
///     let err = group.join().await.unwrap_err();
///     assert_eq!(err.failures().len(), 1);
///     assert_eq!(err.failures()[0].error(), Some(&"no disk".to_string()));
/// });
/// ```
#[doc(alias = "asyncio.TaskGroup")]
#[must_use = "dropping a TaskGroup cancels its tasks; call `join`"]
pub struct TaskGroup<T, E> {
    state: Rc<RefCell<State<T, E>>>,
}

/// What the group and its tasks share. Borrowed only briefly, never across user code.
struct State<T, E> {
    /// Handles of the tasks whose future is alive, to cancel them. Each task removes its
    /// own entry when its future is dropped, so finished tasks cost nothing here.
    running: Slab<JoinHandle<()>>,
    /// Outputs of tasks `0..outputs.len()`, all finished, in spawn order.
    outputs: Vec<T>,
    /// Outputs of tasks that finished while an earlier sibling still ran, by spawn index.
    early: BTreeMap<usize, T>,
    /// Tasks spawned so far: the next spawn index.
    spawned: usize,
    /// Every `Err` and panic, in the order they happened.
    failures: Vec<Failure<E>>,
    /// The waker of `join`, woken when the last task's future is dropped.
    joiner: Option<Waker>,
}

impl<T, E> State<T, E> {
    /// Keeps `output` of task `index`; gives it back to be dropped (after the borrow is
    /// released) if a failure already made the outputs useless.
    fn store(&mut self, index: usize, output: T) -> Option<T> {
        if !self.failures.is_empty() {
            return Some(output);
        }
        if index != self.outputs.len() {
            self.early.insert(index, output);
            return None;
        }
        self.outputs.push(output);
        while let Some(entry) = self.early.first_entry() {
            if *entry.key() != self.outputs.len() {
                break;
            }
            self.outputs.push(entry.remove());
        }
        None
    }

    fn cancel_all_but(&self, key: Option<usize>) {
        for (k, handle) in &self.running {
            if Some(k) != key {
                // Sets a flag and queues the task: no user code runs under our borrow.
                handle.cancel();
            }
        }
    }
}

impl<T, E> TaskGroup<T, E> {
    /// An empty group.
    ///
    /// # Examples
    ///
    /// ```
    /// ringio::run(async {
    ///     let group = ringio::task::TaskGroup::<(), ()>::new();
    ///     assert_eq!(group.join().await.unwrap(), []);
    /// });
    /// ```
    pub fn new() -> Self {
        TaskGroup {
            state: Rc::new(RefCell::new(State {
                running: Slab::new(),
                outputs: Vec::new(),
                early: BTreeMap::new(),
                spawned: 0,
                failures: Vec::new(),
                joiner: None,
            })),
        }
    }

    /// Spawns `fut` as a task of this group; like [`crate::spawn`], it first runs when
    /// the caller yields.
    ///
    /// Once a task of the group has failed, `spawn` cancels at once: `fut` is dropped
    /// without being polled and adds nothing to the result.
    ///
    /// # Panics
    ///
    /// Outside a runtime.
    ///
    /// # Examples
    ///
    /// ```
    /// ringio::run(async {
    ///     let group = ringio::task::TaskGroup::<&str, ()>::new();
    ///     group.spawn(async { Ok("a") });
    ///     group.spawn(async { Ok("b") });
    ///     assert_eq!(group.join().await.unwrap(), ["a", "b"]);
    /// });
    /// ```
    #[doc(alias = "create_task")]
    #[doc(alias = "TaskGroup.create_task")]
    pub fn spawn<F>(&self, fut: F)
    where
        F: Future<Output = Result<T, E>> + 'static,
        T: 'static,
        E: 'static,
    {
        let (index, key) = {
            let state = self.state.borrow();
            if !state.failures.is_empty() {
                drop(state);
                drop(fut);
                return;
            }
            (state.spawned, state.running.vacant_key())
        };
        // Nothing is borrowed here: if `spawn` panics, dropping `member` borrows `state`.
        let member = Member {
            fut: Some(fut),
            state: self.state.clone(),
            index,
            key,
            aborting: false,
        };
        let handle = crate::spawn(member);
        let mut state = self.state.borrow_mut();
        let inserted = state.running.insert(handle);
        debug_assert_eq!(inserted, key, "nothing ran between vacant_key and insert");
        state.spawned += 1;
    }

    /// How many tasks of the group still have a live future (running, or cancelled but
    /// not yet dropped).
    ///
    /// # Examples
    ///
    /// ```
    /// ringio::run(async {
    ///     let group = ringio::task::TaskGroup::<(), ()>::new();
    ///     group.spawn(async { Ok(()) });
    ///     assert_eq!(group.running(), 1);
    ///     ringio::yield_now().await;
    ///     assert_eq!(group.running(), 0);
    /// });
    /// ```
    pub fn running(&self) -> usize {
        self.state.borrow().running.len()
    }

    /// Waits for every task; gives their outputs in spawn order, or every failure.
    ///
    /// Returns only once every task's future has been dropped, including the siblings
    /// a failure cancelled (module rule 5).
    ///
    /// # Errors
    ///
    /// [`GroupError`] listing every task that returned `Err` or panicked.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// ringio::run(async {
    ///     let group = ringio::task::TaskGroup::<u64, ()>::new();
    ///     for ms in [20, 10] {
    ///         group.spawn(async move {
    ///             ringio::time::sleep(Duration::from_millis(ms)).await;
    ///             Ok(ms)
    ///         });
    ///     }
    ///     assert_eq!(group.join().await.unwrap(), [20, 10]);
    /// });
    /// ```
    #[doc(alias = "__aexit__")]
    pub fn join(self) -> Join<T, E> {
        Join { group: Some(self) }
    }
}

impl<T, E> Default for TaskGroup<T, E> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T, E> Drop for TaskGroup<T, E> {
    fn drop(&mut self) {
        self.state.borrow().cancel_all_but(None);
    }
}

impl<T, E> fmt::Debug for TaskGroup<T, E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = self.state.borrow();
        f.debug_struct("TaskGroup")
            .field("spawned", &state.spawned)
            .field("running", &state.running.len())
            .field("failures", &state.failures.len())
            .finish()
    }
}

/// The future of [`TaskGroup::join`]: every output in spawn order, or every failure.
///
/// # Examples
///
/// ```
/// use ringio::task::{Join, TaskGroup};
///
/// ringio::run(async {
///     let group = TaskGroup::<u8, ()>::new();
///     group.spawn(async { Ok(3) });
///     let join: Join<u8, ()> = group.join();
///     assert_eq!(join.await.unwrap(), [3]);
/// });
/// ```
///
/// # Cancel safety
///
/// Not cancel-safe: dropping it drops the group, which cancels every task still running,
/// and the outputs gathered so far are lost.
#[doc(alias = "asyncio.TaskGroup")]
#[must_use = "futures do nothing unless awaited"]
pub struct Join<T, E> {
    group: Option<TaskGroup<T, E>>,
}

impl<T, E> Future for Join<T, E> {
    type Output = Result<Vec<T>, GroupError<E>>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let group = self.group.as_ref().expect("Join polled after it completed");
        let mut state = group.state.borrow_mut();
        if !state.running.is_empty() {
            match &state.joiner {
                Some(w) if w.will_wake(cx.waker()) => {}
                _ => state.joiner = Some(cx.waker().clone()),
            }
            return Poll::Pending;
        }
        let failures = std::mem::take(&mut state.failures);
        let result = if failures.is_empty() {
            debug_assert!(state.early.is_empty(), "every task stored its output");
            Ok(std::mem::take(&mut state.outputs))
        } else {
            Err(GroupError::new(failures))
        };
        drop(state);
        self.group = None;
        Poll::Ready(result)
    }
}

impl<T, E> fmt::Debug for Join<T, E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Join").field("group", &self.group).finish()
    }
}

pin_project! {
    /// A task of the group: the user's future, plus storing its output or failure.
    struct Member<F, T, E> {
        #[pin]
        fut: Option<F>,
        state: Rc<RefCell<State<T, E>>>,
        index: usize,
        key: usize,
        // Set once this task failed: its next poll cancels the siblings.
        aborting: bool,
    }

    impl<F, T, E> PinnedDrop for Member<F, T, E> {
        fn drop(this: Pin<&mut Self>) {
            let this = this.project();
            let (handle, joiner) = {
                let mut state = this.state.borrow_mut();
                let handle = state.running.try_remove(*this.key);
                let joiner = if state.running.is_empty() {
                    state.joiner.take()
                } else {
                    None
                };
                (handle, joiner)
            };
            // Dropped outside the borrow; the user's future is dropped after this body.
            drop(handle);
            if let Some(joiner) = joiner {
                joiner.wake();
            }
        }
    }
}

impl<F, T, E> Future for Member<F, T, E>
where
    F: Future<Output = Result<T, E>>,
{
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let mut this = self.project();
        if *this.aborting {
            // Module rule 5: every task that was ready when we failed has run once, so
            // failures that happened "at the same time" are recorded; now cancel.
            this.state.borrow().cancel_all_but(Some(*this.key));
            return Poll::Ready(());
        }
        let Some(fut) = this.fut.as_mut().as_pin_mut() else {
            return Poll::Ready(());
        };
        let result = match catch_unwind(AssertUnwindSafe(|| fut.poll(cx))) {
            Ok(Poll::Pending) => return Poll::Pending,
            Ok(Poll::Ready(Ok(output))) => Ok(output),
            Ok(Poll::Ready(Err(e))) => Err(Failure::Error(e)),
            Err(payload) => Err(Failure::Panic(payload)),
        };
        // Finished: free the future now, with nothing borrowed (its drop is user code).
        this.fut.set(None);
        match result {
            Ok(output) => {
                let unused = this.state.borrow_mut().store(*this.index, output);
                drop(unused);
                Poll::Ready(())
            }
            Err(failure) => {
                let unused = {
                    let mut state = this.state.borrow_mut();
                    state.failures.push(failure);
                    (
                        std::mem::take(&mut state.outputs),
                        std::mem::take(&mut state.early),
                    )
                };
                drop(unused);
                // Like asyncio's done callbacks, the cancel waits one FIFO round.
                *this.aborting = true;
                cx.waker().wake_by_ref();
                Poll::Pending
            }
        }
    }
}
