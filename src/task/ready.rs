//! The woken-children machinery shared by every combinator that polls children in place.
//!
//! [`ReadySet`] gives each child that stays pending its own waker. Waking a child pushes
//! its index on a lock-free queue (at most once until it is polled again: a per-child
//! "queued" flag) and wakes the parent. A parent poll then polls only the children on
//! the queue (module rule 2), so a wake costs O(1) whatever the number of children.
//! [`Children`] adds the storage of the child futures themselves on top of it.
//!
//! A child's first poll gets the set's one shared first-round waker instead of its own:
//! a child that finishes at its first poll (the common case for `gather` of ready work)
//! then costs no allocation. When the first-round waker fires, the next parent poll
//! polls again, each with its own waker now, every child that got only the first-round
//! one: a child that was pending at its first poll is polled at most once more than it
//! was woken, and from then on only when its own waker fires.

use crate::pin_slice::PinSlice;
use crossbeam_queue::SegQueue;
use std::cell::{Cell, OnceCell};
use std::future::Future;
use std::ops::ControlFlow;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll, Wake, Waker};

/// What the child wakers share with the parent. `Send + Sync`, as wakers must be.
struct Shared {
    /// Indices of woken children, each at most once (see `queued`).
    queue: SegQueue<usize>,
    /// `queued[i]` is true while child `i` is on `queue`, so repeated wakes push it once.
    queued: Box<[AtomicBool]>,
    /// Set by the first-round waker (module docs); cleared by the parent poll that then
    /// polls the first-round children again.
    first_round_woken: AtomicBool,
    /// The parent's waker, taken by the first child wake after it was registered.
    parent: Mutex<Option<Waker>>,
}

impl Shared {
    fn wake_child(&self, index: usize) {
        // AcqRel pairs with the swap in `ReadySet::poll_woken`: whoever clears the flag
        // after this swap sees what the waker's caller wrote before waking.
        if self.queued[index].swap(true, Ordering::AcqRel) {
            return;
        }
        self.queue.push(index);
        self.wake_parent();
    }

    fn wake_first_round(&self) {
        // AcqRel pairs with the swap in `ReadySet::poll_woken`, as in `wake_child`.
        if !self.first_round_woken.swap(true, Ordering::AcqRel) {
            self.wake_parent();
        }
    }

    fn wake_parent(&self) {
        let parent = self
            .parent
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        // Woken outside the lock: a waker may run arbitrary code.
        if let Some(parent) = parent {
            parent.wake();
        }
    }
}

/// The waker every child gets at its first poll (module docs).
struct FirstRoundWaker(Arc<Shared>);

impl Wake for FirstRoundWaker {
    fn wake(self: Arc<Self>) {
        self.0.wake_first_round();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.0.wake_first_round();
    }
}

/// One child's waker: its index and the shared set.
struct ChildWaker {
    index: usize,
    shared: Arc<Shared>,
}

impl Wake for ChildWaker {
    fn wake(self: Arc<Self>) {
        self.shared.wake_child(self.index);
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.shared.wake_child(self.index);
    }
}

/// Which of `n` children were woken since they were last polled.
///
/// Not part of the public API: it is public only so that `gather!` and `try_gather!`
/// can use it from the caller's crate.
#[doc(hidden)]
pub struct ReadySet {
    shared: Arc<Shared>,
    /// Each child's own waker, made when the child is first polled after its first poll.
    wakers: Box<[OnceCell<Waker>]>,
    /// The waker of every child's first poll (module docs).
    first_round: Waker,
    /// Children `first..` have never been polled; the first polls go through them in
    /// order instead of through the queue (no queue traffic for futures that are ready
    /// at once).
    first: Cell<usize>,
    /// Children `again..first` have been polled only with the first-round waker.
    again: Cell<usize>,
    /// The first-round waker fired: poll children `again..first` (each with its own
    /// waker), even across parent polls if a child breaks the loop.
    redo: Cell<bool>,
}

impl ReadySet {
    /// A set of `n` children; the first poll polls them all.
    pub fn new(n: usize) -> Self {
        // `queued` starts true: a child not polled yet needs no queue entry to be polled.
        let shared = Arc::new(Shared {
            queue: SegQueue::new(),
            queued: (0..n).map(|_| AtomicBool::new(true)).collect(),
            first_round_woken: AtomicBool::new(false),
            parent: Mutex::new(None),
        });
        ReadySet {
            first_round: Waker::from(Arc::new(FirstRoundWaker(shared.clone()))),
            shared,
            wakers: (0..n).map(|_| OnceCell::new()).collect(),
            first: Cell::new(0),
            again: Cell::new(0),
            redo: Cell::new(false),
        }
    }

    /// Registers the parent's waker, then calls `poll_child(i, cx_i)` for each child `i`
    /// that was woken before this call (and each child not polled yet), with a context
    /// holding that child's waker.
    ///
    /// Children woken during this call are left for the next one (their wake wakes the
    /// parent), so a child that always wakes itself cannot keep the parent spinning.
    /// Stops early, leaving the rest queued, when `poll_child` breaks.
    pub fn poll_woken<B>(
        &self,
        cx: &Context<'_>,
        mut poll_child: impl FnMut(usize, &mut Context<'_>) -> ControlFlow<B>,
    ) -> ControlFlow<B> {
        self.register(cx.waker());
        // Registered before the snapshots: any wake after them wakes the parent.
        let woken = self.shared.queue.len();
        if self.shared.first_round_woken.swap(false, Ordering::AcqRel) {
            self.redo.set(true);
        }
        let redo_to = self.first.get();
        while self.first.get() < self.wakers.len() {
            let index = self.first.get();
            self.first.set(index + 1);
            self.shared.queued[index].swap(false, Ordering::AcqRel);
            let mut child_cx = Context::from_waker(&self.first_round);
            if let ControlFlow::Break(b) = poll_child(index, &mut child_cx) {
                return ControlFlow::Break(b);
            }
        }
        if self.redo.get() {
            // Only children first polled before this call: the others got the
            // first-round waker after it fired.
            while self.again.get() < redo_to {
                let index = self.again.get();
                self.again.set(index + 1);
                if let ControlFlow::Break(b) = self.poll_one(index, &mut poll_child) {
                    return ControlFlow::Break(b);
                }
            }
            self.redo.set(false);
        }
        for _ in 0..woken {
            let Some(index) = self.shared.queue.pop() else {
                break;
            };
            if let ControlFlow::Break(b) = self.poll_one(index, &mut poll_child) {
                return ControlFlow::Break(b);
            }
        }
        ControlFlow::Continue(())
    }

    /// Polls child `index` with its own waker, made now if this is its first.
    fn poll_one<B>(
        &self,
        index: usize,
        poll_child: &mut impl FnMut(usize, &mut Context<'_>) -> ControlFlow<B>,
    ) -> ControlFlow<B> {
        // Cleared before the poll, so a wake during the poll queues the child again.
        self.shared.queued[index].swap(false, Ordering::AcqRel);
        let waker = self.wakers[index].get_or_init(|| {
            Waker::from(Arc::new(ChildWaker {
                index,
                shared: self.shared.clone(),
            }))
        });
        let mut child_cx = Context::from_waker(waker);
        poll_child(index, &mut child_cx)
    }

    fn register(&self, waker: &Waker) {
        let mut slot = self
            .shared
            .parent
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        match &*slot {
            Some(old) if old.will_wake(waker) => {}
            _ => *slot = Some(waker.clone()),
        }
    }
}

impl std::fmt::Debug for ReadySet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReadySet")
            .field("children", &self.wakers.len())
            .field("woken", &self.shared.queue.len())
            .finish()
    }
}

/// A list of child futures polled in place, each only when woken.
///
/// The children share one allocation (`PinSlice`, which pins them where they lie); a
/// child is dropped in place as soon as it finishes (module rule 4).
pub(crate) struct Children<F> {
    futures: PinSlice<F>,
    ready: ReadySet,
    /// Children not finished yet.
    running: usize,
}

impl<F: Future> Children<F> {
    pub(crate) fn new(futures: impl IntoIterator<Item = F>) -> Self {
        let futures = PinSlice::new(futures);
        let running = futures.len();
        Children {
            ready: ReadySet::new(running),
            futures,
            running,
        }
    }

    /// How many children were given.
    pub(crate) fn len(&self) -> usize {
        self.futures.len()
    }

    /// How many children have not finished yet.
    pub(crate) fn running(&self) -> usize {
        self.running
    }

    /// Drops every child still running.
    pub(crate) fn clear(&mut self) {
        self.futures.clear_all();
        self.running = 0;
    }

    /// Polls the woken children; `on_done(i, output)` sees each one that finishes,
    /// right after its future was dropped. Returns what `on_done` broke with, if it did.
    pub(crate) fn poll_woken<B>(
        &mut self,
        cx: &Context<'_>,
        mut on_done: impl FnMut(usize, F::Output) -> ControlFlow<B>,
    ) -> ControlFlow<B> {
        let Children {
            futures,
            ready,
            running,
        } = self;
        ready.poll_woken(cx, |i, cx| {
            // A finished child's waker may still fire (someone kept a clone): skip it.
            let Some(fut) = futures.get(i) else {
                return ControlFlow::Continue(());
            };
            match fut.poll(cx) {
                Poll::Pending => ControlFlow::Continue(()),
                Poll::Ready(out) => {
                    futures.clear(i);
                    *running -= 1;
                    on_done(i, out)
                }
            }
        })
    }
}

impl<F> std::fmt::Debug for Children<F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Children")
            .field("len", &self.futures.len())
            .field("running", &self.running)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::Cell;
    use std::rc::Rc;

    /// Polls `set` with a no-op parent waker and returns the indices it polled.
    fn polled(set: &ReadySet) -> Vec<usize> {
        polled_with_wakers(set, &mut Vec::new())
    }

    /// As [`polled`], and keeps in `wakers[i]` the last waker child `i` was given.
    fn polled_with_wakers(set: &ReadySet, wakers: &mut Vec<Option<Waker>>) -> Vec<usize> {
        let mut seen = Vec::new();
        let cx = Context::from_waker(Waker::noop());
        let _ = set.poll_woken::<()>(&cx, |i, child_cx| {
            seen.push(i);
            if wakers.len() <= i {
                wakers.resize(i + 1, None);
            }
            wakers[i] = Some(child_cx.waker().clone());
            ControlFlow::Continue(())
        });
        seen
    }

    #[test]
    fn first_poll_polls_every_child_then_none() {
        let set = ReadySet::new(4);
        assert_eq!(polled(&set), [0, 1, 2, 3]);
        assert_eq!(polled(&set), Vec::<usize>::new());
    }

    #[test]
    fn children_ready_at_their_first_poll_share_one_waker() {
        let set = ReadySet::new(100);
        let mut wakers = Vec::new();
        polled_with_wakers(&set, &mut wakers);
        let first = wakers[0].clone().unwrap();
        assert!(wakers.iter().all(|w| w.as_ref().unwrap().will_wake(&first)));
        assert!(
            set.wakers.iter().all(|w| w.get().is_none()),
            "no own waker made"
        );
    }

    #[test]
    fn the_first_round_waker_polls_the_first_round_again_with_own_wakers() {
        let set = ReadySet::new(3);
        let mut wakers = Vec::new();
        polled_with_wakers(&set, &mut wakers);
        wakers[1].as_ref().unwrap().wake_by_ref();
        wakers[1].as_ref().unwrap().wake_by_ref();
        assert_eq!(polled_with_wakers(&set, &mut wakers), [0, 1, 2]);
        assert!(
            !wakers[0]
                .as_ref()
                .unwrap()
                .will_wake(wakers[1].as_ref().unwrap())
        );
        // From now on each child is polled only when its own waker fires.
        assert_eq!(polled(&set), Vec::<usize>::new());
        wakers[2].as_ref().unwrap().wake_by_ref();
        assert_eq!(polled(&set), [2]);
    }

    #[test]
    fn only_woken_children_are_polled_once_each() {
        let set = ReadySet::new(5);
        let mut wakers = Vec::new();
        polled_with_wakers(&set, &mut wakers);
        wakers[0].as_ref().unwrap().wake_by_ref();
        polled_with_wakers(&set, &mut wakers);
        wakers[3].as_ref().unwrap().wake_by_ref();
        wakers[1].as_ref().unwrap().wake_by_ref();
        wakers[3].as_ref().unwrap().wake_by_ref();
        assert_eq!(polled(&set), [3, 1]);
    }

    #[test]
    fn a_wake_during_the_poll_waits_for_the_next_poll() {
        let set = ReadySet::new(2);
        let cx = Context::from_waker(Waker::noop());
        let mut count = 0;
        let _ = set.poll_woken::<()>(&cx, |_, child_cx| {
            count += 1;
            child_cx.waker().wake_by_ref();
            ControlFlow::Continue(())
        });
        assert_eq!(count, 2);
        // Their own wakers now, fired during the poll: again for the next poll only.
        let _ = set.poll_woken::<()>(&cx, |_, child_cx| {
            count += 1;
            child_cx.waker().wake_by_ref();
            ControlFlow::Continue(())
        });
        assert_eq!(count, 4);
        assert_eq!(polled(&set), [0, 1]);
        assert_eq!(polled(&set), Vec::<usize>::new());
    }

    #[test]
    fn a_child_wake_wakes_the_parent_once_per_registration() {
        struct Count(std::sync::atomic::AtomicUsize);
        impl Wake for Count {
            fn wake(self: Arc<Self>) {
                self.0.fetch_add(1, Ordering::SeqCst);
            }
        }
        let count = Arc::new(Count(0.into()));
        let parent = Waker::from(count.clone());
        let set = ReadySet::new(3);
        let mut wakers = Vec::new();
        let _ = set.poll_woken::<()>(&Context::from_waker(&parent), |i, child_cx| {
            wakers.push(child_cx.waker().clone());
            assert_eq!(i + 1, wakers.len());
            ControlFlow::Continue(())
        });
        wakers[0].wake_by_ref();
        wakers[2].wake_by_ref();
        assert_eq!(count.0.load(Ordering::SeqCst), 1);
    }

    #[test]
    fn break_leaves_the_rest_queued() {
        let set = ReadySet::new(3);
        let cx = Context::from_waker(Waker::noop());
        let out = set.poll_woken(&cx, |i, _| {
            if i == 1 {
                ControlFlow::Break(i)
            } else {
                ControlFlow::Continue(())
            }
        });
        assert_eq!(out, ControlFlow::Break(1));
        assert_eq!(polled(&set), [2]);
    }

    #[test]
    fn children_drop_each_future_when_it_finishes() {
        struct Flag(Rc<Cell<usize>>);
        impl Drop for Flag {
            fn drop(&mut self) {
                self.0.set(self.0.get() + 1);
            }
        }
        let drops = Rc::new(Cell::new(0));
        let futs = (0..3).map(|i| {
            let flag = Flag(drops.clone());
            async move {
                let _flag = flag;
                i * 10
            }
        });
        let mut children = Children::new(futs);
        let mut done = Vec::new();
        let cx = Context::from_waker(Waker::noop());
        let _ = children.poll_woken::<()>(&cx, |i, out| {
            assert_eq!(drops.get(), i + 1, "dropped before its output is handed on");
            done.push(out);
            ControlFlow::Continue(())
        });
        assert_eq!(done, [0, 10, 20]);
        assert_eq!(children.running(), 0);
    }
}
