//! Signals: wait for Ctrl-C.
//!
//! The safe API over `sys::signal`, which holds the process's SIGINT handler and the
//! eventfds it writes to; each waiter claims one of them (`Slot`) and reads it through
//! its ring.
#![forbid(unsafe_code)]

mod slot;

use crate::op::Op;
use crate::sys::fd::SharedFd;
use crate::sys::signal as sigint;
use slot::Slot;
use std::io;

/// Completes when the process receives SIGINT (Ctrl-C).
///
/// Every `ctrl_c` future waiting when the signal arrives completes, on every core. The
/// first call installs a SIGINT handler for the process, so from then on Ctrl-C no
/// longer ends the process by itself: the program decides (like asyncio's
/// `loop.add_signal_handler`). A signal that arrived before this future was first polled
/// does not complete it.
///
/// # Errors
///
/// If the handler cannot be installed, or more than 256 `ctrl_c` futures wait at once.
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
    sigint::install()?;
    let seen = sigint::generation();
    let (_slot, fd) = Slot::claim()?;
    let fd = SharedFd::new(fd);
    let mut buf = vec![0u8; 8];
    // A read can return a count left by an earlier signal (before this wait began):
    // only a newer generation ends the wait.
    while sigint::generation() == seen {
        let (res, b) = Op::read_at(&fd, buf, u64::MAX).map_err(|(e, _)| e)?.await;
        res?;
        buf = b;
    }
    Ok(())
}
