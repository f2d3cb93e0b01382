//! Signals: listen for SIGTERM, SIGHUP, Ctrl-C and the other catchable signals.
//!
//! [`signal`] (asyncio's `loop.add_signal_handler`, tokio's `signal::unix::signal`) makes
//! a [`Signal`] whose [`recv`](Signal::recv) completes when the signal comes; [`ctrl_c`]
//! waits once for SIGINT. Underneath, `sys::signal` holds one handler per signal number
//! and a table of eventfds it writes to; each listener owns one entry of the table (its
//! `Slot`) and reads that eventfd through its ring, or through the epoll backend. Rules:
//!
//! 1. Each signal has a generation: how many times it arrived. A `Signal` keeps the
//!    generation it last reported, and `recv` returns as soon as the signal's generation
//!    differs. So every delivery after `signal()` returned completes a `recv`: several
//!    between two `recv`s complete one, and one while no `recv` waits completes the
//!    next `recv` at once.
//! 2. A listener only sleeps when it cannot miss a wake-up. Its slot listens to the
//!    signal before it reads the generation it starts from, and the handler adds to the
//!    generation before it writes to the eventfds. So a `recv` that found the generation
//!    unchanged and starts a read is woken by any later delivery. A read can also return
//!    for a count written before (a burst already reported, or the slot's previous
//!    owner): the generation is checked again, and since the read emptied the eventfd
//!    the next read sleeps. Nothing spins.
//! 3. Every listener of a signal wakes, on every core: each has its own slot, and the
//!    handler writes to every slot listening to the signal.
//! 4. The process has 256 slots, for all signals together; a `Signal` (or a waiting
//!    `ctrl_c()`) holds one until it is dropped, and the 257th listener gets an error.
//!    A dropped slot stops listening before another listener can claim it.
//! 5. A signal's handler is installed by the first `signal()` for it and never
//!    removed: from then on its default action no longer happens, whether or not a
//!    `Signal` listens. SIGKILL, SIGSTOP, the synchronous faults (SIGSEGV, SIGBUS,
//!    SIGFPE, SIGILL) and numbers outside `1..=64` are refused with `InvalidInput`.
#![forbid(unsafe_code)]

mod kind;
mod listener;
mod slot;

pub use kind::SignalKind;
#[doc(alias = "SIGTERM")]
#[doc(alias = "SIGHUP")]
#[doc(alias = "SIGUSR1")]
pub use listener::Signal;
#[doc(alias = "add_signal_handler")]
#[doc(alias = "SIGTERM")]
#[doc(alias = "SIGHUP")]
pub use listener::signal;

use std::io;

/// Completes when the process receives SIGINT (Ctrl-C).
///
/// Every `ctrl_c` future waiting when the signal arrives completes, on every core. The
/// first call installs a SIGINT handler for the process, so from then on Ctrl-C no
/// longer ends the process by itself: the program decides (like asyncio's
/// `loop.add_signal_handler`). A signal that arrived before this future was first polled
/// does not complete it. It is [`signal`]`(SignalKind::interrupt())` and one `recv`; a
/// loop that handles Ctrl-C more than once keeps one [`Signal`] instead.
///
/// # Errors
///
/// If the handler cannot be installed, more than 256 listeners (module docs, rule 4)
/// wait at once, or the wait fails (the runtime is shutting down).
///
/// # Cancel safety
///
/// Cancel-safe: a dropped wait consumes no signal meant for the others.
///
/// # Examples
///
/// ```no_run
/// ringio::run(async {
///     ringio::signal::ctrl_c().await.unwrap();
///     println!("interrupted; shutting down");
/// });
/// ```
#[doc(alias = "add_signal_handler")]
#[doc(alias = "KeyboardInterrupt")]
pub async fn ctrl_c() -> io::Result<()> {
    // Made on first poll (this is an async fn): a signal before then is not seen.
    signal(SignalKind::interrupt())?.next().await
}
