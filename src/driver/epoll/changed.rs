//! Descriptor numbers that changed hands (rule 5): a number ringio takes in, closes or
//! hands back is recorded here, wherever that happens, and forgotten by the thread's
//! backend before its next push or wait, so a reused number is registered again.

use super::{Epoll, FdState};
use std::cell::{Cell, RefCell};
use std::os::fd::RawFd;

thread_local! {
    /// Epoll backends alive on this thread: only then are descriptor changes recorded.
    static BACKENDS: Cell<usize> = const { Cell::new(0) };
    /// Descriptor numbers to forget before the next push.
    static CHANGED: RefCell<Vec<RawFd>> = const { RefCell::new(Vec::new()) };
    /// Whether `CHANGED` may hold any: a plain flag, so the check before every push is
    /// one load.
    static ANY_CHANGED: Cell<bool> = const { Cell::new(false) };
}

/// Descriptor number `fd` was closed, handed out, or newly taken in by ringio (rule 5).
/// Costs one thread-local read when no epoll backend runs on this thread.
pub(crate) fn fd_changed(fd: RawFd) {
    let _ = BACKENDS.try_with(|n| {
        if n.get() > 0 {
            let _ = CHANGED.try_with(|c| c.borrow_mut().push(fd));
            ANY_CHANGED.set(true);
        }
    });
}

/// A backend starts on this thread: changes are recorded from now on.
pub(super) fn backend_started() {
    BACKENDS.with(|n| n.set(n.get() + 1));
}

impl Epoll {
    /// Drops what the table knows of `fd` (rule 5); ops parked on it keep it.
    pub(super) fn forget(&mut self, fd: RawFd) {
        if let Some(state) = self.fds.get_mut(fd as usize)
            && state.idle()
        {
            *state = FdState::default();
        }
    }

    /// Before every push and wait: one load of a flag, the rest out of line.
    #[inline]
    pub(super) fn forget_changed(&mut self) {
        if ANY_CHANGED.get() {
            self.forget_changed_now();
        }
    }

    #[cold]
    fn forget_changed_now(&mut self) {
        ANY_CHANGED.set(false);
        let changed = CHANGED.with(|c| std::mem::take(&mut *c.borrow_mut()));
        for fd in changed {
            self.forget(fd);
        }
    }
}

impl Drop for Epoll {
    fn drop(&mut self) {
        let _ = BACKENDS.try_with(|n| n.set(n.get() - 1));
    }
}
