//! Timers: `sleep`, `timeout` (asyncio's `wait_for`), `interval`, and the runtime's clock.
//!
//! Each core owns one timer wheel (part of the runtime's loop, `runtime/wheel.rs`). A
//! `Sleep` registers with it when first polled, through the runtime's one narrow timer
//! handle; the event loop fires expired timers once per turn and bounds its single
//! `io_uring_enter` wait by the earliest deadline, so sleeping tasks cost no syscall each
//! and no timeout SQE. This module never touches the ring.
//!
//! | asyncio | ringio |
//! |---|---|
//! | `await asyncio.sleep(s)` | [`sleep(d)`](sleep())`.await`, [`sleep_until(t)`](sleep_until) |
//! | `await asyncio.wait_for(aw, s)`, `async with asyncio.timeout(s)` | [`timeout(d, fut)`](timeout())`.await` (doc alias `wait_for`) |
//! | `async with asyncio.timeout_at(when)` | [`timeout_at(t, fut)`](timeout_at) |
//! | `TimeoutError` | [`Elapsed`] |
//! | `loop.time()` | [`Instant::now()`](Instant::now) |
//! | a `while True: ...; await asyncio.sleep(p)` loop | [`interval(p)`](interval())`.tick().await` |
//!
//! # Rules
//!
//! 1. **Never early.** Deadlines are rounded up to the wheel's 1 ms tick and a timer
//!    fires only once the clock has reached that tick: a sleep may end up to about a
//!    tick plus one loop turn late, never before its deadline.
//! 2. **Deadline order.** Timers fire in order of their ticks; timers in the same tick
//!    fire in unspecified order. A `Sleep` whose deadline has already passed when it is
//!    first polled completes at once without registering a timer, so
//!    `timeout(Duration::ZERO, op)` costs no loop turn; a registered timer whose
//!    deadline passes fires at the next loop turn.
//! 3. **No syscall per timer.** The wheel is pure bookkeeping; the loop's one wait is
//!    bounded by the earliest deadline (or by a removed timer's earlier one, which costs
//!    one wake-up with nothing to fire, or by a slot of many timers to move down a level
//!    ahead of its start, a few entries a turn; `TimerWheel::next_deadline`).
//! 4. **Per core.** A timer lives in the wheel of the core that first polled it.
//!    `Sleep`, `Timeout` and `Interval` are `!Send` so they cannot leave it.
//! 5. **Dropping cancels, in O(1).** Dropping a `Sleep`, `Timeout` or `Interval`
//!    removes its timer at once; nothing stays behind in the wheel.
//! 6. **Timeout polls first, then drops.** `timeout` polls its future before it looks
//!    at the deadline, so an output ready at the deadline is returned, not lost. On
//!    expiry the future is dropped inside that same poll, before `Err(Elapsed)` is
//!    returned, so its cancellation has happened when the caller sees the error.
//! 7. **No user code under the borrow.** The wheel runs no user code except
//!    `Waker::wake`, and timer futures never hold the wheel's `RefCell` borrow across a
//!    call that could reach user code.
//!
//! # Examples
//!
//! ```
//! use ringio::time::{interval, sleep, timeout, Instant};
//! use std::time::Duration;
//!
//! ringio::run(async {
//!     let start = Instant::now();
//!     sleep(Duration::from_millis(5)).await;
//!     assert!(start.elapsed() >= Duration::from_millis(5));
//!
//!     let late = timeout(Duration::from_millis(5), sleep(Duration::from_secs(60))).await;
//!     assert!(late.is_err());
//!
//!     let mut ticks = interval(Duration::from_millis(5));
//!     ticks.tick().await;
//!     ticks.tick().await;
//! });
//! ```
//!
//! # Testing with a paused clock
//!
//! With the feature `test-util`, `pause()` freezes the clock of the current core: from
//! then on `Instant::now()` and every timer of that core read virtual time, which moves
//! only when
//!
//! - `advance(d).await` moves it: the clock steps from deadline to deadline up to
//!   `now + d`, each due timer fires in deadline order with the clock at its deadline,
//!   and the tasks it woke run before the clock moves on; or
//! - every task of the core is idle while a timer is pending: instead of sleeping, the
//!   loop polls the ring without waiting and, if that made nothing ready (no task, no
//!   main future, nothing from other threads), jumps the clock to the next deadline.
//!   I/O in flight still completes for real, since every jump comes after a poll of the
//!   ring; only the waiting is skipped.
//!
//! `resume()` returns to the real clock, keeping the time advanced so far, so the clock
//! never goes backwards. `#[ringio::test(start_paused = true)]` starts a test paused.
//! The clock is per core, like the timer wheel, so a test of timeouts runs in
//! microseconds and gives the same result on every run. Work finishing elsewhere later
//! (the blocking pool, io_uring's workers, a peer thread) does not hold the clock back
//! (see `pause`). Without the feature none of this is compiled and timers read the real
//! clock directly.
//!
//! ```
//! # #[cfg(feature = "test-util")]
//! # {
//! use ringio::time::{advance, pause, sleep, timeout, Instant};
//! use std::time::Duration;
//!
//! ringio::run(async {
//!     pause();
//!     let start = Instant::now();
//!     // A day-long timeout expires at once: nothing else is left to do.
//!     let slow = timeout(Duration::from_secs(86_400), sleep(Duration::from_secs(90_000)));
//!     assert!(slow.await.is_err());
//!     assert_eq!(start.elapsed(), Duration::from_secs(86_400));
//!
//!     // `advance` fires exactly what is due.
//!     let nap = ringio::spawn(sleep(Duration::from_millis(10)));
//!     ringio::yield_now().await;
//!     advance(Duration::from_millis(9)).await;
//!     assert!(!nap.is_finished());
//!     advance(Duration::from_millis(1)).await;
//!     assert!(nap.is_finished());
//! });
//! # }
//! ```

// No unsafe here (house rule 2); `pin_project!` keeps its unsafe inside the macro.
#![forbid(unsafe_code)]

use std::time::Duration;

mod instant;
mod interval;
#[cfg(feature = "test-util")]
mod pause;
mod sleep;
mod timeout;

pub use instant::Instant;
pub use interval::{Interval, interval, interval_at};
#[cfg(feature = "test-util")]
pub use pause::{advance, pause, resume};
#[cfg(feature = "hyper")]
pub(crate) use sleep::TimerEntry;
#[doc(alias = "asyncio.sleep")]
pub use sleep::sleep;
pub use sleep::{Sleep, sleep_until};
#[doc(alias = "TimeoutError")]
#[doc(alias = "asyncio.TimeoutError")]
pub use timeout::Elapsed;
pub use timeout::Timeout;
#[doc(alias = "asyncio.timeout_at")]
pub use timeout::timeout_at;
// The aliases sit on the path the docs show, so rustdoc's search finds `timeout` by them.
#[doc(alias = "wait_for")]
#[doc(alias = "asyncio.wait_for")]
#[doc(alias = "asyncio.timeout")]
pub use timeout::timeout;

/// Stand-in for a deadline that overflows `Instant`: 30 years outlives any process yet
/// stays far from the representable limit, so arithmetic on it cannot overflow.
const FAR_FUTURE: Duration = Duration::from_secs(30 * 365 * 24 * 60 * 60);

/// `start + duration`, or 30 years from `start` if that cannot be represented.
pub(crate) fn after(start: Instant, duration: Duration) -> Instant {
    start
        .checked_add(duration)
        .unwrap_or_else(|| start + FAR_FUTURE)
}
