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

use std::any::Any;
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
}

/// Resources of a dropped op that must outlive its CQE, and what to do when it comes.
pub(crate) trait Orphan: 'static {
    /// Called once the late CQE arrives; e.g. closes the fd an `accept` produced.
    /// Runs outside any driver borrow, so it may do anything.
    fn complete(self: Box<Self>, completion: Completion);

    /// Lets the runtime drop resources without calling `complete` (leak path at shutdown).
    fn into_any(self: Box<Self>) -> Box<dyn Any>;
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
}

impl Lifecycle {
    /// Records the CQE. Returns the waker to wake, or the orphan to finish, if any.
    pub(crate) fn complete(&mut self, completion: Completion) -> Reaped {
        match std::mem::replace(self, Lifecycle::Completed(completion)) {
            Lifecycle::Submitted => Reaped::Stored,
            Lifecycle::Waiting(waker) => Reaped::Wake(waker),
            Lifecycle::Ignored(orphan) => Reaped::Orphan(orphan),
            Lifecycle::Completed(_) => {
                // A single-shot op gets exactly one CQE (io_uring_enter(2)); a second one
                // means a key was reused too early, which rule 3 forbids.
                unreachable!("second CQE for a completed single-shot op")
            }
        }
    }

    /// Whether the kernel still owes this slot a CQE.
    pub(crate) fn in_flight(&self) -> bool {
        !matches!(self, Lifecycle::Completed(_))
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
}
