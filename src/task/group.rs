//! `TaskGroup`: tasks that succeed together or are cancelled together.

use super::failure::{Failure, GroupError};
use crate::runtime::JoinHandle;
use pin_project_lite::pin_project;
use slab::Slab;
use std::cell::RefCell;
use std::collections::VecDeque;
use std::fmt;
use std::future::Future;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll, Waker};

/// A set of tasks joined as one: every output in spawn order, or every failure; or each
/// result as its task finishes ([`join_next`](Self::join_next)).
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
    /// Outputs not handed out yet, in the order their tasks finished.
    outputs: VecDeque<T>,
    /// The spawn index of each of `outputs`, as runs of consecutive indices: tasks that
    /// finish in spawn order cost one run in all.
    indices: VecDeque<Run>,
    /// Failures not handed out yet, in the order they happened, each with the number of
    /// outputs stored before it (its place among them).
    failures: VecDeque<(usize, Failure<E>)>,
    /// Outputs stored so far, and how many of them `join_next` handed out.
    outputs_stored: usize,
    outputs_taken: usize,
    /// A task failed (its failure may have been handed out since).
    failed: bool,
    /// Tasks spawned so far: the next spawn index.
    spawned: usize,
    /// The waker of `join`, woken when the last task's future is dropped.
    joiner: Option<Waker>,
    /// The waker of `join_next`, woken by each result and by the last task's end.
    next: Option<Waker>,
}

/// Spawn indices `first..first + len` (`State::indices`).
struct Run {
    first: usize,
    len: usize,
}

impl<T, E> State<T, E> {
    /// Keeps `output` of task `index`; gives the waker of `join_next` to wake.
    fn store(&mut self, index: usize, output: T) -> Option<Waker> {
        self.outputs.push_back(output);
        match self.indices.back_mut() {
            Some(run) if run.first + run.len == index => run.len += 1,
            _ => self.indices.push_back(Run {
                first: index,
                len: 1,
            }),
        }
        self.outputs_stored += 1;
        self.next.take()
    }

    /// Keeps `failure`; gives the waker of `join_next` to wake.
    fn fail(&mut self, failure: Failure<E>) -> Option<Waker> {
        self.failed = true;
        self.failures.push_back((self.outputs_stored, failure));
        self.next.take()
    }

    /// The result that finished first among those not handed out yet.
    fn pop_next(&mut self) -> Option<Result<T, Failure<E>>> {
        if let Some((before, _)) = self.failures.front()
            && *before <= self.outputs_taken
        {
            return self.failures.pop_front().map(|(_, f)| Err(f));
        }
        let output = self.outputs.pop_front()?;
        let run = self
            .indices
            .front_mut()
            .expect("every output has its index");
        run.first += 1;
        run.len -= 1;
        if run.len == 0 {
            self.indices.pop_front();
        }
        self.outputs_taken += 1;
        Some(Ok(output))
    }

    /// What `join` gives once every task is gone: the failures not handed out, if any;
    /// else the outputs not handed out, in spawn order.
    fn take_result(&mut self) -> Result<Vec<T>, GroupError<E>> {
        if !self.failures.is_empty() {
            let failures = std::mem::take(&mut self.failures);
            return Err(GroupError::new(
                failures.into_iter().map(|(_, f)| f).collect(),
            ));
        }
        let outputs = std::mem::take(&mut self.outputs);
        let indices = std::mem::take(&mut self.indices);
        if indices.len() <= 1 {
            return Ok(Vec::from(outputs));
        }
        let mut numbered: Vec<(usize, T)> = indices
            .iter()
            .flat_map(|run| run.first..run.first + run.len)
            .zip(outputs)
            .collect();
        numbered.sort_unstable_by_key(|(index, _)| *index);
        Ok(numbered.into_iter().map(|(_, output)| output).collect())
    }

    /// The wakers to wake once the last task's future is gone.
    fn last_gone(&mut self) -> [Option<Waker>; 2] {
        if self.running.is_empty() {
            [self.joiner.take(), self.next.take()]
        } else {
            [None, None]
        }
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
                outputs: VecDeque::new(),
                indices: VecDeque::new(),
                failures: VecDeque::new(),
                outputs_stored: 0,
                outputs_taken: 0,
                failed: false,
                spawned: 0,
                joiner: None,
                next: None,
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
            if state.failed {
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

    /// Waits for the next task to finish and gives its result: results come in the
    /// order tasks finish, like tokio's `JoinSet::join_next`; `None` once no task is left.
    ///
    /// Each task that ends by itself gives one result: `Ok` with its output, or the
    /// [`Failure`] of a task that returned `Err` or panicked. The group's failure rule
    /// holds (module rule 5): the first failure cancels the siblings one FIFO round
    /// later, and a task cancelled so gives no result. Results that `join_next` handed
    /// out are not [`join`](Self::join)'s any more: `join` then gives the others (in
    /// spawn order), or the failures among them; after a failure handed out here, that
    /// is what finished before the siblings were cancelled.
    ///
    /// # Cancel safety
    ///
    /// Cancel-safe: a result is taken from the group only when `join_next` returns it,
    /// so dropping the future (in a `timeout` or a `race`) loses none; the next call
    /// gives it.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use ringio::task::TaskGroup;
    ///
    /// ringio::run(async {
    ///     let mut group = TaskGroup::<u64, String>::new();
    ///     for ms in [30, 10, 20] {
    ///         group.spawn(async move {
    ///             ringio::time::sleep(Duration::from_millis(ms)).await;
    ///             Ok(ms)
    ///         });
    ///     }
    ///     let mut finished = Vec::new();
    ///     while let Some(result) = group.join_next().await {
    ///         finished.push(result.unwrap());
    ///     }
    ///     assert_eq!(finished, [10, 20, 30]);
    /// });
    /// ```
    #[doc(alias = "as_completed")]
    #[doc(alias = "JoinSet::join_next")]
    pub fn join_next(&mut self) -> JoinNext<'_, T, E> {
        JoinNext { group: self }
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
            .field("failed", &state.failed)
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
        let result = state.take_result();
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

/// The future of [`TaskGroup::join_next`]: the next result, in finishing order.
///
/// # Examples
///
/// ```
/// use ringio::task::{JoinNext, TaskGroup};
///
/// ringio::run(async {
///     let mut group = TaskGroup::<u8, ()>::new();
///     group.spawn(async { Ok(3) });
///     let next: JoinNext<'_, u8, ()> = group.join_next();
///     assert_eq!(next.await.map(|r| r.ok()), Some(Some(3)));
///     assert!(group.join_next().await.is_none());
/// });
/// ```
///
/// # Cancel safety
///
/// Cancel-safe: dropping it takes nothing from the group.
#[must_use = "futures do nothing unless awaited"]
pub struct JoinNext<'a, T, E> {
    group: &'a mut TaskGroup<T, E>,
}

impl<T, E> Future for JoinNext<'_, T, E> {
    type Output = Option<Result<T, Failure<E>>>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut state = self.group.state.borrow_mut();
        if let Some(result) = state.pop_next() {
            return Poll::Ready(Some(result));
        }
        if state.running.is_empty() {
            return Poll::Ready(None);
        }
        match &state.next {
            Some(w) if w.will_wake(cx.waker()) => {}
            _ => state.next = Some(cx.waker().clone()),
        }
        Poll::Pending
    }
}

impl<T, E> fmt::Debug for JoinNext<'_, T, E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JoinNext")
            .field("group", &self.group)
            .finish()
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
            let (handle, wakers) = {
                let mut state = this.state.borrow_mut();
                let handle = state.running.try_remove(*this.key);
                (handle, state.last_gone())
            };
            // Dropped outside the borrow; the user's future is dropped after this body.
            drop(handle);
            for waker in wakers.into_iter().flatten() {
                waker.wake();
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
                let next = this.state.borrow_mut().store(*this.index, output);
                if let Some(next) = next {
                    next.wake();
                }
                Poll::Ready(())
            }
            Err(failure) => {
                let next = this.state.borrow_mut().fail(failure);
                if let Some(next) = next {
                    next.wake();
                }
                // Like asyncio's done callbacks, the cancel waits one FIFO round.
                *this.aborting = true;
                cx.waker().wake_by_ref();
                Poll::Pending
            }
        }
    }
}
