//! The life of one in-flight operation, kept in the driver's slab.
//!
//! Rules (the `SAFETY:` comments in `op/` cite them by number):
//! 1. A slot is created when the SQE is pushed and removed only after its CQE was reaped
//!    *and* the owner is done with it: by the op future taking the result, or, for a dropped
//!    op, when the late CQE arrives.
//! 2. While a slot exists, whatever the SQE points to is owned either by the op future
//!    (`Submitted`, `Waiting`, `Completed`) or by the slot itself (`Ignored`). So nothing
//!    the kernel may touch is freed early, on any path: completion, drop, failed submit or
//!    shutdown.
//! 3. `user_data` is the slab key. A key is reused only after rule 1 removed the slot,
//!    i.e. after the kernel posted the CQE for it, so a late CQE never lands on a new op.
//! 4. A multishot op ([`Multishot`]) posts CQEs with `IORING_CQE_F_MORE` until its last
//!    one, which has the flag clear (io_uring_enter(2), "multishot"). Its slot lives until
//!    that last CQE was reaped *and* taken, so rules 1–3 hold with "the CQE" read as "the
//!    last CQE"; every CQE before it is queued for the owner, or handed to the orphan.

use std::any::Any;
use std::collections::VecDeque;
use std::task::Waker;

/// What the kernel posted for one operation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Completion {
    /// The CQE's `res`: a byte count, a new fd, 0, or `-errno`.
    pub(crate) result: i32,
    /// The CQE's flags (`IORING_CQE_F_*`).
    pub(crate) flags: u32,
}

impl Completion {
    /// `res` as an `io::Result`: negative values are `-errno`.
    pub(crate) fn into_result(self) -> std::io::Result<u32> {
        if self.result < 0 {
            Err(std::io::Error::from_raw_os_error(-self.result))
        } else {
            Ok(self.result as u32)
        }
    }

    /// `IORING_CQE_F_MORE`: a multishot op will post more CQEs after this one.
    pub(crate) fn more(self) -> bool {
        io_uring::cqueue::more(self.flags)
    }

    /// `IORING_CQE_F_BUFFER`: the id of the provided buffer the kernel filled, which the
    /// application now owns and must give back to the ring.
    pub(crate) fn buffer(self) -> Option<u16> {
        io_uring::cqueue::buffer_select(self.flags)
    }
}

/// Resources of a dropped op that must outlive its CQE, and what to do when it comes.
pub(crate) trait Orphan: 'static {
    /// Called once the late CQE arrives; e.g. closes the fd an `accept` produced.
    /// Runs outside any driver borrow, so it may do anything.
    fn complete(self: Box<Self>, completion: Completion);

    /// Lets the runtime drop resources without calling `complete` (leak path at shutdown).
    fn into_any(self: Box<Self>) -> Box<dyn Any>;

    /// A CQE of a dropped multishot op that is not its last (`IORING_CQE_F_MORE` set):
    /// release what it produced (an accepted fd, a provided buffer). Runs while the driver
    /// is borrowed, so it must not use the runtime; closing an fd or returning a buffer to
    /// its ring is fine.
    fn more(&mut self, completion: Completion) {
        let _ = completion;
    }
}

/// The state of one slot: Submitted → Waiting(waker) → Completed(result), or Ignored.
pub(crate) enum Lifecycle {
    /// Pushed to the SQ; nobody polled yet.
    Submitted,
    /// A task waits for the CQE.
    Waiting(Waker),
    /// The CQE arrived; the op future has not taken it yet.
    Completed(Completion),
    /// The op future was dropped first; the slot keeps its resources until the CQE.
    Ignored(Box<dyn Orphan>),
    /// A multishot op (rule 4).
    Multi(Box<Multishot>),
}

impl Lifecycle {
    /// Records the CQE. Returns the waker to wake, or the orphan to finish, if any.
    pub(crate) fn complete(&mut self, completion: Completion) -> Reaped {
        match std::mem::replace(self, Lifecycle::Completed(completion)) {
            Lifecycle::Submitted => Reaped::Stored,
            Lifecycle::Waiting(waker) => Reaped::Wake(waker),
            Lifecycle::Ignored(orphan) => Reaped::Orphan(orphan),
            Lifecycle::Multi(_) => unreachable!("multishot CQEs go to Multishot::push"),
            Lifecycle::Completed(_) => {
                // A single-shot op gets exactly one CQE (io_uring_enter(2)); a second one
                // means a key was reused too early, which rule 3 forbids.
                unreachable!("second CQE for a completed single-shot op")
            }
        }
    }

    /// Whether the kernel still owes this slot a CQE.
    pub(crate) fn in_flight(&self) -> bool {
        match self {
            Lifecycle::Completed(_) => false,
            Lifecycle::Multi(m) => !m.ended,
            _ => true,
        }
    }
}

/// The slot of a multishot op: its queued CQEs, who waits for them, and whether the
/// kernel posted the last one.
pub(crate) struct Multishot {
    queue: CqeQueue,
    /// Every task waiting for the next CQE (several tasks may share one listener).
    wakers: Wakers,
    /// Set once the owner dropped the op: later CQEs go to it instead of the queue.
    orphan: Option<Box<dyn Orphan>>,
    /// The last CQE (no `IORING_CQE_F_MORE`) was reaped.
    ended: bool,
    /// Queued CQEs at which the driver cancels the op (0: never), so a consumer that falls
    /// behind bounds what piles up (accepted fds, provided buffers) instead of the kernel
    /// draining everything into one queue. The owner re-arms once it caught up.
    limit: usize,
    /// A cancel was pushed for this op already.
    cancelled: bool,
}

/// A multishot op's unread CQEs in order. Most of the time at most one waits, so the
/// first is kept inline and only a backlog allocates.
#[derive(Default)]
struct CqeQueue {
    first: Option<Completion>,
    rest: VecDeque<Completion>,
}

impl CqeQueue {
    fn push(&mut self, c: Completion) {
        // `first` is the oldest whenever it is set, so it only takes a CQE when
        // nothing else waits.
        if self.first.is_none() && self.rest.is_empty() {
            self.first = Some(c);
        } else {
            self.rest.push_back(c);
        }
    }

    fn pop(&mut self) -> Option<Completion> {
        self.first.take().or_else(|| self.rest.pop_front())
    }

    fn len(&self) -> usize {
        usize::from(self.first.is_some()) + self.rest.len()
    }
}

/// The tasks waiting on a multishot op: nearly always one (kept inline), several when
/// tasks share a listener.
#[derive(Default)]
struct Wakers {
    first: Option<Waker>,
    rest: Vec<Waker>,
}

impl Wakers {
    /// Adds `waker` unless it is there already.
    fn register(&mut self, waker: &Waker) {
        match &self.first {
            None => self.first = Some(waker.clone()),
            Some(w) if w.will_wake(waker) => {}
            Some(_) => {
                if !self.rest.iter().any(|w| w.will_wake(waker)) {
                    self.rest.push(waker.clone());
                }
            }
        }
    }

    fn drain_into(&mut self, ready: &mut Vec<Waker>) {
        ready.extend(self.first.take());
        ready.append(&mut self.rest);
    }
}

/// What reaping one multishot CQE asks the driver to do.
pub(crate) enum MultiReaped {
    /// Queued or handed to the orphan; nothing more.
    Kept,
    /// The queue reached its limit: cancel the op.
    Cancel,
    /// The last CQE of a dropped op: free the slot and finish the orphan.
    Done(Box<dyn Orphan>),
}

impl Multishot {
    pub(crate) fn new(limit: usize) -> Multishot {
        Multishot {
            queue: CqeQueue::default(),
            wakers: Wakers::default(),
            orphan: None,
            ended: false,
            limit,
            cancelled: false,
        }
    }

    /// Records one CQE; the tasks to wake go to `ready`.
    pub(crate) fn push(&mut self, c: Completion, ready: &mut Vec<Waker>) -> MultiReaped {
        let last = !c.more();
        self.ended |= last;
        if let Some(orphan) = &mut self.orphan {
            if !last {
                orphan.more(c);
                return MultiReaped::Kept;
            }
            return MultiReaped::Done(self.orphan.take().expect("checked"));
        }
        self.queue.push(c);
        self.wakers.drain_into(ready);
        if !self.ended && !self.cancelled && self.limit > 0 && self.queue.len() >= self.limit {
            self.cancelled = true;
            return MultiReaped::Cancel;
        }
        MultiReaped::Kept
    }

    /// The next queued CQE, if any. The one without `IORING_CQE_F_MORE` is the last: the
    /// caller frees the slot.
    pub(crate) fn pop(&mut self) -> Option<Completion> {
        self.queue.pop()
    }

    /// Keeps `waker` to be woken by the next CQE (or nudge): the owner found the queue
    /// empty.
    pub(crate) fn wait(&mut self, waker: &Waker) {
        self.wakers.register(waker);
    }

    /// Wakes the tasks waiting for this op without a CQE: the epoll backend's lazy
    /// receive (its rule 10) tells them the socket is readable, and the receive runs when
    /// they poll.
    pub(crate) fn nudge(&mut self, ready: &mut Vec<Waker>) {
        self.wakers.drain_into(ready);
    }

    /// The owner is gone: `orphan` (the op's resources) releases every queued CQE. If the
    /// last CQE was among them it comes back with the orphan, for the caller to free the
    /// slot and finish it outside the driver borrow; otherwise the orphan stays here until
    /// the last CQE arrives (rule 4).
    pub(crate) fn detach(
        &mut self,
        mut orphan: Box<dyn Orphan>,
    ) -> Option<(Box<dyn Orphan>, Completion)> {
        self.wakers = Wakers::default();
        let mut last = None;
        while let Some(c) = self.queue.pop() {
            if c.more() {
                orphan.more(c);
            } else {
                last = Some(c);
            }
        }
        match last {
            Some(c) => Some((orphan, c)),
            None => {
                // The owner frees the slot when it takes the last CQE, so a slot whose
                // owner is still there has not had its last CQE taken: it is still queued
                // (handled above) or still to come.
                debug_assert!(!self.ended, "ended multishot slot without its last CQE");
                self.orphan = Some(orphan);
                None
            }
        }
    }

    /// Whether a cancel is still worth sending (the op is armed and none was sent).
    pub(crate) fn wants_cancel(&mut self) -> bool {
        let wants = !self.ended && !self.cancelled;
        self.cancelled = true;
        wants
    }

    /// Shutdown gave up waiting: the orphan's resources, to leak.
    pub(crate) fn take_orphan(&mut self) -> Option<Box<dyn Orphan>> {
        self.orphan.take()
    }
}

/// What reaping a CQE asks the caller to do once it has released the driver.
pub(crate) enum Reaped {
    /// Nothing: the future will see the result when first polled.
    Stored,
    /// Wake the waiting task.
    Wake(Waker),
    /// The op was dropped: finish its orphan and free the slot.
    Orphan(Box<dyn Orphan>),
}

#[cfg(test)]
mod prop_tests;

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::Cell;
    use std::rc::Rc;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::task::Wake;

    struct Count(AtomicUsize);
    impl Wake for Count {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }

    struct Probe(Rc<Cell<i32>>);
    impl Orphan for Probe {
        fn complete(self: Box<Self>, c: Completion) {
            self.0.set(c.result);
        }
        fn into_any(self: Box<Self>) -> Box<dyn Any> {
            Box::new(())
        }
    }

    const DONE: Completion = Completion {
        result: 7,
        flags: 0,
    };

    #[test]
    fn submitted_then_completed_stores_result() {
        let mut s = Lifecycle::Submitted;
        assert!(s.in_flight());
        assert!(matches!(s.complete(DONE), Reaped::Stored));
        assert!(matches!(s, Lifecycle::Completed(c) if c == DONE));
        assert!(!s.in_flight());
    }

    #[test]
    fn waiting_slot_hands_back_its_waker() {
        let count = Arc::new(Count(AtomicUsize::new(0)));
        let mut s = Lifecycle::Waiting(Waker::from(count.clone()));
        match s.complete(DONE) {
            Reaped::Wake(w) => w.wake(),
            _ => panic!("expected a waker"),
        }
        assert_eq!(count.0.load(Ordering::SeqCst), 1);
    }

    #[test]
    fn ignored_slot_hands_back_its_orphan() {
        let seen = Rc::new(Cell::new(0));
        let mut s = Lifecycle::Ignored(Box::new(Probe(seen.clone())));
        match s.complete(DONE) {
            Reaped::Orphan(o) => o.complete(DONE),
            _ => panic!("expected an orphan"),
        }
        assert_eq!(seen.get(), 7);
    }

    #[test]
    fn negative_result_is_errno() {
        let c = Completion {
            result: -libc::ECONNRESET,
            flags: 0,
        };
        let err = c.into_result().unwrap_err();
        assert_eq!(err.raw_os_error(), Some(libc::ECONNRESET));
    }

    /// IORING_CQE_F_MORE (io_uring.h).
    const MORE: u32 = 1 << 1;

    fn cqe(result: i32, more: bool) -> Completion {
        Completion {
            result,
            flags: if more { MORE } else { 0 },
        }
    }

    /// Counts what an orphan was handed: `more` CQEs and the last one.
    struct Tally(Rc<Cell<(u32, u32)>>);
    impl Orphan for Tally {
        fn complete(self: Box<Self>, _: Completion) {
            let (m, l) = self.0.get();
            self.0.set((m, l + 1));
        }
        fn more(&mut self, _: Completion) {
            let (m, l) = self.0.get();
            self.0.set((m + 1, l));
        }
        fn into_any(self: Box<Self>) -> Box<dyn Any> {
            Box::new(())
        }
    }

    #[test]
    fn multishot_queues_in_order_and_wakes_every_waiter() {
        let (a, b) = (
            Arc::new(Count(AtomicUsize::new(0))),
            Arc::new(Count(AtomicUsize::new(0))),
        );
        let (wa, wb) = (Waker::from(a.clone()), Waker::from(b.clone()));
        let mut m = Multishot::new(0);
        assert!(m.pop().is_none());
        m.wait(&wa);
        m.wait(&wa); // the same waker is kept once
        m.wait(&wb);
        let mut ready = Vec::new();
        assert!(matches!(
            m.push(cqe(1, true), &mut ready),
            MultiReaped::Kept
        ));
        assert!(matches!(
            m.push(cqe(2, false), &mut ready),
            MultiReaped::Kept
        ));
        assert_eq!(ready.len(), 2, "both waiting tasks, once each");
        assert_eq!(m.pop().map(|c| c.result), Some(1));
        let last = m.pop().unwrap();
        assert_eq!((last.result, last.more()), (2, false));
    }

    #[test]
    fn multishot_asks_for_one_cancel_at_its_limit() {
        let mut m = Multishot::new(2);
        let mut ready = Vec::new();
        assert!(matches!(
            m.push(cqe(1, true), &mut ready),
            MultiReaped::Kept
        ));
        assert!(matches!(
            m.push(cqe(2, true), &mut ready),
            MultiReaped::Cancel
        ));
        assert!(matches!(
            m.push(cqe(3, true), &mut ready),
            MultiReaped::Kept
        ));
        assert!(!m.wants_cancel(), "a cancel was sent already");
    }

    #[test]
    fn detached_multishot_hands_every_cqe_to_its_orphan() {
        let seen = Rc::new(Cell::new((0, 0)));
        let mut ready = Vec::new();
        // Detached before the last CQE: queued ones are released now, later ones as
        // they come, and the last one ends the slot.
        let mut m = Multishot::new(0);
        m.push(cqe(1, true), &mut ready);
        assert!(m.detach(Box::new(Tally(seen.clone()))).is_none());
        assert_eq!(seen.get(), (1, 0));
        assert!(!m.ended, "the kernel still owes the last CQE");
        assert!(matches!(
            m.push(cqe(2, true), &mut ready),
            MultiReaped::Kept
        ));
        match m.push(cqe(-libc::ECANCELED, false), &mut ready) {
            MultiReaped::Done(o) => o.complete(cqe(-libc::ECANCELED, false)),
            _ => panic!("the last CQE must end a detached slot"),
        }
        assert_eq!(seen.get(), (2, 1));
        // Detached after the last CQE was queued: it comes back for the caller to finish.
        let seen = Rc::new(Cell::new((0, 0)));
        let mut m = Multishot::new(0);
        m.push(cqe(1, true), &mut ready);
        m.push(cqe(0, false), &mut ready);
        let (orphan, last) = m.detach(Box::new(Tally(seen.clone()))).unwrap();
        assert!(!last.more());
        orphan.complete(last);
        assert_eq!(seen.get(), (1, 1));
    }
}
