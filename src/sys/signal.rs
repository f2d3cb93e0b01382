//! SIGINT delivery for `ringio::signal::ctrl_c`, built from async-signal-safe parts.
//!
//! A `signalfd` would need SIGINT blocked in every thread of the process, which a library
//! cannot promise (threads started before the runtime keep their mask). So a handler
//! counts the signal and writes to a fixed set of eventfds; each waiter reads one of them
//! through its ring. Rules:
//! 1. The handler only makes async-signal-safe calls (an atomic add, loads, `write(2)`).
//! 2. An eventfd in the table is never closed, so the handler never writes to a
//!    descriptor number that was reused for something else.
//!
//! Which waiter uses which entry is `crate::signal`'s business (its `Slot`); this file
//! holds only what the handler touches.

use crate::sys::fd::eventfd;
use std::io;
use std::os::fd::{FromRawFd, IntoRawFd, OwnedFd};
use std::sync::Mutex;
use std::sync::atomic::{AtomicI32, AtomicU64, Ordering};

/// Entries in the eventfd table: waiters that can wait at once. Each costs one eventfd.
pub(crate) const SLOTS: usize = 256;

static GENERATION: AtomicU64 = AtomicU64::new(0);
static FDS: [AtomicI32; SLOTS] = [const { AtomicI32::new(-1) }; SLOTS];
static INSTALLED: Mutex<bool> = Mutex::new(false);

extern "C" fn on_sigint(_: libc::c_int) {
    GENERATION.fetch_add(1, Ordering::SeqCst);
    let one: u64 = 1;
    for fd in &FDS {
        let fd = fd.load(Ordering::SeqCst);
        if fd >= 0 {
            // SAFETY: write(2) is async-signal-safe (rule 1); `fd` is an eventfd never
            // closed (rule 2).
            let _ = unsafe { libc::write(fd, (&one as *const u64).cast(), 8) };
        }
    }
}

/// Installs the handler once per process. From then on SIGINT no longer ends the
/// process: it completes every `ctrl_c` waiting.
pub(crate) fn install() -> io::Result<()> {
    let mut installed = INSTALLED.lock().unwrap_or_else(|e| e.into_inner());
    if *installed {
        return Ok(());
    }
    // SAFETY: all-zero is a valid sigaction to fill in.
    let mut sa: libc::sigaction = unsafe { std::mem::zeroed() };
    sa.sa_sigaction = on_sigint as *const () as usize;
    sa.sa_flags = libc::SA_RESTART;
    // SAFETY: sigemptyset initialises the mask inside the live struct.
    unsafe { libc::sigemptyset(&mut sa.sa_mask) };
    // SAFETY: installs a handler that only makes async-signal-safe calls (rule 1).
    if unsafe { libc::sigaction(libc::SIGINT, &sa, std::ptr::null_mut()) } != 0 {
        return Err(io::Error::last_os_error());
    }
    *installed = true;
    Ok(())
}

/// How many SIGINTs arrived since the handler was installed.
pub(crate) fn generation() -> u64 {
    GENERATION.load(Ordering::SeqCst)
}

/// A duplicate of entry `index`'s eventfd, for reading; the entry's eventfd is made on
/// first use and kept for the life of the process (rule 2).
///
/// # Panics
///
/// If `index >= SLOTS`.
pub(crate) fn reader(index: usize) -> io::Result<OwnedFd> {
    let entry = &FDS[index];
    let mut fd = entry.load(Ordering::SeqCst);
    if fd < 0 {
        let made = eventfd()?.into_raw_fd();
        fd = match entry.compare_exchange(-1, made, Ordering::SeqCst, Ordering::SeqCst) {
            Ok(_) => made,
            Err(first) => {
                // Another thread filled the entry first: ours was never published.
                // SAFETY: `made` was just created and nothing else owns it.
                drop(unsafe { OwnedFd::from_raw_fd(made) });
                first
            }
        };
    }
    // SAFETY: dup of an fd the table owns (never closed, rule 2); the copy is ours to close.
    let copy = unsafe { libc::fcntl(fd, libc::F_DUPFD_CLOEXEC, 0) };
    if copy < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: `copy` was just created and nothing else owns it.
    Ok(unsafe { OwnedFd::from_raw_fd(copy) })
}
