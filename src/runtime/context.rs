//! Which core this thread is running, if any.
//!
//! Rules:
//! 1. `CURRENT` is set while a core runs on this thread (from its start to the end of
//!    its shutdown), and only then; nesting `block_on` is refused.
//! 2. Borrows of `CURRENT` are shared and short; only entering and leaving change it.
#![forbid(unsafe_code)]

pub(crate) use super::core::Core;

use std::cell::RefCell;
use std::rc::Rc;

thread_local! {
    static CURRENT: RefCell<Option<Rc<Core>>> = const { RefCell::new(None) };
}

const OUTSIDE: &str = "this ringio function must be called from inside a ringio runtime \
                       (within ringio::run or Runtime::block_on)";

/// Runs `f` with this thread's core.
///
/// # Panics
///
/// Outside a runtime, with a message saying so.
pub(crate) fn with_core<R>(f: impl FnOnce(&Core) -> R) -> R {
    CURRENT.with(|cur| f(cur.borrow().as_ref().expect(OUTSIDE)))
}

/// Runs `f` with this thread's core, or returns `None` outside a runtime or while the
/// thread's locals are being torn down (for use in `Drop`).
pub(crate) fn try_with_core<R>(f: impl FnOnce(&Core) -> R) -> Option<R> {
    CURRENT
        .try_with(|cur| cur.try_borrow().ok()?.as_ref().map(|c| f(c)))
        .ok()
        .flatten()
}

/// This thread's core.
///
/// # Panics
///
/// Outside a runtime.
pub(crate) fn current() -> Rc<Core> {
    with_core(|c| c.self_rc())
}

/// Makes `core` current until the guard drops.
pub(crate) struct Entered(());

/// Enters `core` for `block_on`.
///
/// # Panics
///
/// If a runtime is already running on this thread (rule 1).
pub(crate) fn enter(core: Rc<Core>) -> Entered {
    let previous = CURRENT.with(|cur| cur.borrow_mut().replace(core));
    if previous.is_some() {
        CURRENT.with(|cur| *cur.borrow_mut() = previous);
        panic!(
            "cannot start a ringio runtime from inside a running one: await the future \
             instead, or use ringio::spawn"
        );
    }
    Entered(())
}

impl Drop for Entered {
    fn drop(&mut self) {
        let _ = CURRENT.try_with(|cur| cur.borrow_mut().take());
    }
}
