//! The narrow doors into the current core for the modules the runtime does not own:
//! `op` reaches the ring through a [`DriverHandle`] (and the buffer pool through
//! [`with_pool`]), `time` the timer wheel through [`with_timers`] and
//! [`try_with_timers`] (and, with feature `test-util`, its clock through `with_clock`
//! and `clock_now`). Neither sees the rest of the core, and the runtime uses neither
//! module, so no import loop runs between them.
#![forbid(unsafe_code)]

use super::context::{self, Core};
pub(crate) use super::wheel::TimerWheel;
use crate::buf::pool::Pool;
use crate::driver::Driver;
use std::cell::{RefCell, RefMut};
use std::rc::Rc;

pub(crate) use super::wheel::TimerKey;

/// The current core's driver, as an operation holds it from submission to completion.
///
/// It keeps the whole core alive, not just the driver: a future that outlives its
/// `Runtime` (moved out of `block_on`) still finds the ring that holds its slot when it
/// is dropped, and the core's fields drop in the order that keeps the ring last.
#[derive(Clone)]
pub(crate) struct DriverHandle(Rc<Core>);

impl DriverHandle {
    /// The driver of the core running on this thread.
    ///
    /// # Panics
    ///
    /// Outside a runtime.
    pub(crate) fn current() -> DriverHandle {
        DriverHandle(context::current())
    }

    /// Borrows the driver. Never held across a call that could reach user code.
    pub(crate) fn driver(&self) -> RefMut<'_, Driver> {
        self.0.driver.borrow_mut()
    }
}

/// Runs `f` with the current core's driver, borrowed for the call: for work done on
/// the spot, where an op would hold a [`DriverHandle`] from submission to completion.
///
/// # Panics
///
/// Outside a runtime, or if the driver is borrowed already.
pub(crate) fn with_driver<R>(f: impl FnOnce(&mut Driver) -> R) -> R {
    context::with_core(|core| f(&mut core.driver.borrow_mut()))
}

/// Runs `f` with the current core's timer wheel.
///
/// # Panics
///
/// Outside a runtime.
pub(crate) fn with_timers<R>(f: impl FnOnce(&RefCell<TimerWheel>) -> R) -> R {
    context::with_core(|core| f(&core.timers))
}

/// As [`with_timers`], or `None` outside a runtime or while the thread's locals are being
/// torn down (for use in `Drop`).
pub(crate) fn try_with_timers<R>(f: impl FnOnce(&RefCell<TimerWheel>) -> R) -> Option<R> {
    context::try_with_core(|core| f(&core.timers))
}

/// Runs `f` with the current core's buffer pool and its driver (which registers the
/// pool's ring with the kernel).
///
/// # Panics
///
/// Outside a runtime.
pub(crate) fn with_pool<R>(f: impl FnOnce(&Pool, &RefCell<Driver>) -> R) -> R {
    context::with_core(|core| f(&core.pool, &core.driver))
}

#[cfg(feature = "test-util")]
pub(crate) use super::clock::Clock;

/// Runs `f` with the current core's clock and timer wheel, or returns `None` outside a
/// runtime.
#[cfg(feature = "test-util")]
pub(crate) fn with_clock<R>(f: impl FnOnce(&Clock, &RefCell<TimerWheel>) -> R) -> Option<R> {
    context::try_with_core(|core| f(&core.clock, &core.timers))
}

/// The current core's time (paused or not), or the real time outside a runtime.
#[cfg(feature = "test-util")]
pub(crate) fn clock_now() -> std::time::Instant {
    context::try_with_core(|core| core.clock.now()).unwrap_or_else(std::time::Instant::now)
}
