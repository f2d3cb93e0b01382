//! Signal delivery for `ringio::signal`, built from async-signal-safe parts.
//!
//! A `signalfd` would need the signal blocked in every thread of the process, which a
//! library cannot promise (threads started before the runtime keep their mask). So one
//! handler, installed for each signal number that is asked for, counts the signal and
//! writes to a fixed table of eventfds; each listener owns one entry and reads its
//! eventfd through its ring. Rules:
//! 1. The handler only makes async-signal-safe calls (atomic loads and adds,
//!    `write(2)`; `man 7 signal-safety`) and gives `errno` back as it found it.
//! 2. An eventfd in the table is never closed, so the handler never writes to a
//!    descriptor number that was reused for something else.
//! 3. Entry `i` listens to the signals whose bits are set in `MASKS[i]` (bit `n - 1` for
//!    signal `n`); the handler writes to an entry only if it listens to the signal it
//!    handles. A mask is set before its listener reads the generation it starts from,
//!    and cleared when the listener goes away.
//! 4. The handler adds to the signal's generation *before* it writes to the eventfds: a
//!    listener that saw the old generation is then sure to find its eventfd written.
//!    Both sides use `SeqCst`: of a listener's (mask store, generation load) and the
//!    handler's (generation add, mask load), at least one sees the other's write.
//! 5. A handler is installed once per signal number and never removed or replaced, and
//!    it calls no handler it did not install (`man 2 sigaction`: `SA_RESTART`, so a
//!    system call it interrupts is restarted where `man 7 signal` says it can be).
//!
//! Which listener uses which entry is `crate::signal`'s business (its `Slot`); this file
//! holds only what the handler touches.

use crate::sys::fd::eventfd;
use std::io;
use std::os::fd::{FromRawFd, IntoRawFd, OwnedFd};
use std::sync::Mutex;
use std::sync::atomic::{AtomicI32, AtomicU64, Ordering};

/// Entries in the eventfd table: listeners that can exist at once. Each costs one
/// eventfd, made on first use.
pub(crate) const SLOTS: usize = 256;

/// The highest signal number a listener may ask for: Linux's `SIGRTMAX` (`man 7
/// signal`), and the width of a slot's mask (rule 3).
pub(crate) const MAX_SIGNAL: i32 = 64;

static GENERATIONS: [AtomicU64; MAX_SIGNAL as usize + 1] =
    [const { AtomicU64::new(0) }; MAX_SIGNAL as usize + 1];
static FDS: [AtomicI32; SLOTS] = [const { AtomicI32::new(-1) }; SLOTS];
static MASKS: [AtomicU64; SLOTS] = [const { AtomicU64::new(0) }; SLOTS];
/// Signals whose handler is installed (bit `n - 1` for signal `n`; rule 5).
static INSTALLED: Mutex<u64> = Mutex::new(0);

/// Bit of signal `signo` in a mask (rule 3); `signo` in `1..=MAX_SIGNAL`.
fn bit(signo: i32) -> u64 {
    1 << (signo - 1)
}

extern "C" fn on_signal(signo: libc::c_int) {
    if !(1..=MAX_SIGNAL).contains(&signo) {
        return;
    }
    // SAFETY: __errno_location returns this thread's errno, valid for the thread's life.
    let errno = unsafe { *libc::__errno_location() };
    GENERATIONS[signo as usize].fetch_add(1, Ordering::SeqCst); // rule 4: before writing
    let bit = bit(signo);
    let one: u64 = 1;
    for (fd, mask) in FDS.iter().zip(&MASKS) {
        if mask.load(Ordering::SeqCst) & bit == 0 {
            continue;
        }
        let fd = fd.load(Ordering::SeqCst);
        if fd >= 0 {
            // SAFETY: write(2) is async-signal-safe (rule 1); `fd` is an eventfd never
            // closed (rule 2). EAGAIN (a counter near 2^64) cannot come in practice.
            let _ = unsafe { libc::write(fd, (&one as *const u64).cast(), 8) };
        }
    }
    // SAFETY: as above; the interrupted code sees the errno it had (rule 1).
    unsafe { *libc::__errno_location() = errno };
}

/// Installs the handler for `signo` once per process (rule 5). From then on the signal's
/// default action no longer happens: it completes the listeners instead.
///
/// # Errors
///
/// If `sigaction(2)` refuses the signal (e.g. one the C library keeps for itself).
pub(crate) fn install(signo: i32) -> io::Result<()> {
    debug_assert!((1..=MAX_SIGNAL).contains(&signo));
    let mut installed = INSTALLED.lock().unwrap_or_else(|e| e.into_inner());
    if *installed & bit(signo) != 0 {
        return Ok(());
    }
    // SAFETY: all-zero is a valid sigaction to fill in.
    let mut sa: libc::sigaction = unsafe { std::mem::zeroed() };
    sa.sa_sigaction = on_signal as *const () as usize;
    sa.sa_flags = libc::SA_RESTART;
    // SAFETY: sigemptyset initialises the mask inside the live struct.
    unsafe { libc::sigemptyset(&mut sa.sa_mask) };
    // SAFETY: installs a handler that only makes async-signal-safe calls (rule 1); the
    // previous disposition is not asked for, so nothing can chain to it (rule 5).
    if unsafe { libc::sigaction(signo, &sa, std::ptr::null_mut()) } != 0 {
        return Err(io::Error::last_os_error());
    }
    *installed |= bit(signo);
    Ok(())
}

/// How many times `signo` arrived since its handler was installed.
pub(crate) fn generation(signo: i32) -> u64 {
    GENERATIONS[signo as usize].load(Ordering::SeqCst)
}

/// Makes entry `index` listen to `signo` only (rule 3); `None` listens to nothing.
///
/// # Panics
///
/// If `index >= SLOTS`.
pub(crate) fn listen(index: usize, signo: Option<i32>) {
    MASKS[index].store(signo.map_or(0, bit), Ordering::SeqCst);
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
