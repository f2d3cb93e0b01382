//! `Signal`: one listener for one signal, and `signal()` that makes it.

use super::kind::SignalKind;
use super::slot::Slot;
use crate::io::context::with_context;
use crate::op::Op;
use crate::sys::fd::SharedFd;
use crate::sys::signal as handler;
use std::io;

/// Bytes an eventfd read returns: its 8-byte counter (`man 2 eventfd`).
const EVENTFD_COUNTER: usize = 8;

/// Listens for one signal; made by [`signal`].
///
/// Each [`recv`](Signal::recv) completes once for every burst of deliveries since the
/// previous one returned (module docs, rule 1). Dropping it stops the listening and
/// frees its place among the 256 listeners the process may have at once.
///
/// # Examples
///
/// ```no_run
/// use ringio::signal::{SignalKind, signal};
///
/// ringio::run(async {
///     let mut hangups = signal(SignalKind::hangup()).unwrap();
///     while hangups.recv().await.is_some() {
///         println!("SIGHUP: reloading the configuration");
///     }
/// });
/// ```
#[derive(Debug)]
pub struct Signal {
    kind: SignalKind,
    /// The signal's generation this listener last reported (module docs, rule 1).
    seen: u64,
    /// This listener's copy of its slot's eventfd.
    fd: SharedFd,
    /// The read buffer, `None` while a read owns it or after a read was dropped.
    buf: Option<Vec<u8>>,
    /// Keeps the handler writing to `fd`'s eventfd for `kind`; released on drop.
    _slot: Slot,
}

/// Starts listening for `kind`, installing the process's handler for it on first use.
///
/// Every delivery of `kind` after this returns completes a [`Signal::recv`] (module docs,
/// rule 1). The handler is installed once per signal number and never removed, as
/// tokio does: after the first `signal(kind)`, the signal's default action (for SIGTERM,
/// SIGHUP, SIGINT: ending the process) no longer happens, even once every `Signal` is
/// dropped; the program decides what a delivery means, as with asyncio's
/// `loop.add_signal_handler`. A handler installed by someone else before is replaced,
/// and never called.
///
/// It may be called outside a runtime; [`Signal::recv`] is awaited on a ringio core.
///
/// # Errors
///
/// - `InvalidInput`, naming the signal, for SIGKILL and SIGSTOP (they cannot be caught),
///   the synchronous faults SIGSEGV, SIGBUS, SIGFPE and SIGILL, and numbers outside
///   `1..=64`; also for the real-time signals the C library keeps for itself, which
///   `sigaction(2)` refuses.
/// - If 256 listeners (`Signal`s and pending `ctrl_c()` futures, all signals together)
///   already exist, or their eventfd cannot be made.
///
/// # Examples
///
/// ```
/// use ringio::signal::{SignalKind, signal};
///
/// ringio::run(async {
///     let mut usr2 = signal(SignalKind::user_defined2()).unwrap();
///     // SAFETY: sends SIGUSR2 to this process, whose handler is now installed.
///     unsafe { libc::kill(libc::getpid(), libc::SIGUSR2) };
///     assert_eq!(usr2.recv().await, Some(()));
///
///     let refused = signal(SignalKind::from_raw(libc::SIGKILL)).unwrap_err();
///     assert_eq!(refused.kind(), std::io::ErrorKind::InvalidInput);
/// });
/// ```
pub fn signal(kind: SignalKind) -> io::Result<Signal> {
    let signo = kind.checked()?;
    handler::install(signo)
        .map_err(|e| with_context(e, format_args!("cannot install a handler for {kind}")))?;
    let (slot, fd) = Slot::claim(signo)
        .map_err(|e| with_context(e, format_args!("cannot listen for {kind}")))?;
    // Read after the slot listens (module docs, rule 2): a delivery that this misses
    // writes to the eventfd.
    let seen = handler::generation(signo);
    Ok(Signal {
        kind,
        seen,
        fd: SharedFd::new(fd),
        buf: None,
        _slot: slot,
    })
}

impl Signal {
    /// Waits for the next delivery of the signal.
    ///
    /// Returns `Some(())` once for every burst of deliveries since the previous `recv`
    /// returned (several deliveries meanwhile complete one `recv`, and at least one): a
    /// delivery while no `recv` is waiting completes the next one at once. `None` if the
    /// signal can no longer be waited for (the read of the eventfd failed, e.g. because
    /// the runtime is shutting down).
    ///
    /// # Panics
    ///
    /// If awaited outside a ringio runtime.
    ///
    /// # Cancel safety
    ///
    /// Cancel-safe: a `recv` dropped before it returned loses no delivery; the next
    /// `recv` reports it.
    ///
    /// # Examples
    ///
    /// ```
    /// use ringio::signal::{SignalKind, signal};
    /// use std::time::Duration;
    ///
    /// ringio::run(async {
    ///     let mut alarms = signal(SignalKind::alarm()).unwrap();
    ///     let quiet = ringio::time::timeout(Duration::from_millis(10), alarms.recv()).await;
    ///     assert!(quiet.is_err(), "no SIGALRM yet");
    ///     // SAFETY: sends SIGALRM to this process, whose handler is now installed.
    ///     unsafe { libc::kill(libc::getpid(), libc::SIGALRM) };
    ///     assert_eq!(alarms.recv().await, Some(()));
    /// });
    /// ```
    pub async fn recv(&mut self) -> Option<()> {
        self.next().await.ok()
    }

    /// [`recv`](Signal::recv), with the error that ended the wait.
    pub(crate) async fn next(&mut self) -> io::Result<()> {
        let signo = self.kind.as_raw_value();
        loop {
            // Rule 2: a generation not seen yet, or a write to the eventfd coming.
            let now = handler::generation(signo);
            if now != self.seen {
                self.seen = now;
                return Ok(());
            }
            // A read can return a count left by a delivery already reported, or by the
            // slot's previous owner: only the generation decides, so it is checked again.
            let buf = self
                .buf
                .take()
                .unwrap_or_else(|| vec![0u8; EVENTFD_COUNTER]);
            let (res, buf) = match Op::read_at(&self.fd, buf, u64::MAX) {
                Ok(op) => op.await,
                Err((e, buf)) => (Err(e), buf),
            };
            self.buf = Some(buf);
            res.map_err(|e| with_context(e, format_args!("waiting for {}", self.kind)))?;
        }
    }

    /// The signal this listens for.
    ///
    /// # Examples
    ///
    /// ```
    /// use ringio::signal::{SignalKind, signal};
    ///
    /// let quit = signal(SignalKind::quit()).unwrap();
    /// assert_eq!(quit.kind(), SignalKind::quit());
    /// ```
    pub fn kind(&self) -> SignalKind {
        self.kind
    }
}
