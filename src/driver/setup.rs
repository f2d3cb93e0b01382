//! Building a ring: probe the kernel for the best flags (the failures are explained in
//! `error`).

use super::error::{explain_setup_error, read_io_uring_disabled};
use super::{Driver, fault};
use crate::runtime::Backend;
use crate::runtime::backend::intern;
use io_uring::IoUring;
use std::fmt;
use std::io;
use std::os::fd::AsRawFd;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// Which optional ring flags the kernel accepted (visible in `Debug` and metrics).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RingFlags {
    /// `IORING_SETUP_SINGLE_ISSUER`: only the owning thread submits.
    pub single_issuer: bool,
    /// `IORING_SETUP_DEFER_TASKRUN`: completions run only when this thread waits.
    pub defer_taskrun: bool,
    /// `IORING_SETUP_COOP_TASKRUN`: no IPI to interrupt the thread for task work.
    pub coop_taskrun: bool,
    /// `IORING_SETUP_SUBMIT_ALL`: one bad SQE does not stop the rest of a batch.
    pub submit_all: bool,
}

impl fmt::Display for RingFlags {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names = [
            (self.single_issuer, "SINGLE_ISSUER"),
            (self.defer_taskrun, "DEFER_TASKRUN"),
            (self.coop_taskrun, "COOP_TASKRUN"),
            (self.submit_all, "SUBMIT_ALL"),
        ];
        let on: Vec<&str> = names.iter().filter(|(b, _)| *b).map(|(_, n)| *n).collect();
        if on.is_empty() {
            f.write_str("none")
        } else {
            f.write_str(&on.join("|"))
        }
    }
}

/// Flag sets to try, best first; the kernel answers EINVAL for flags it does not know.
const ATTEMPTS: [RingFlags; 4] = [
    // 6.1+: the fastest mode for one thread per ring.
    RingFlags {
        single_issuer: true,
        defer_taskrun: true,
        coop_taskrun: true,
        submit_all: true,
    },
    // 6.0: single issuer without deferred task work.
    RingFlags {
        single_issuer: true,
        defer_taskrun: false,
        coop_taskrun: true,
        submit_all: true,
    },
    // 5.19.
    RingFlags {
        single_issuer: false,
        defer_taskrun: false,
        coop_taskrun: true,
        submit_all: true,
    },
    // 5.11+: plain ring.
    RingFlags {
        single_issuer: false,
        defer_taskrun: false,
        coop_taskrun: false,
        submit_all: false,
    },
];

/// How long set-up keeps retrying a ring refused for lack of locked memory (ENOMEM). The
/// kernel charges a ring's pinned pages to its user's RLIMIT_MEMLOCK (unless the process has
/// CAP_IPC_LOCK) and uncharges a dropped ring later, from a worker; so right after a
/// previous run of the program, a limit that fits one ring can refuse the next for a moment.
const MEMLOCK_RETRY: Duration = Duration::from_millis(250);
/// The same, when this process dropped a ring that recently (the start-up check's rings,
/// a previous call's, a core that gave up): then a refusal is likely that ring's memory
/// not uncharged yet. The kernel's worker took up to 230 ms on a 2-vCPU machine with both
/// CPUs busy; 2 s leaves a margin, and is what a limit that is really too low costs then.
const MEMLOCK_RETRY_AFTER_DROP: Duration = Duration::from_secs(2);
/// The pause between those retries.
const MEMLOCK_RETRY_PAUSE: Duration = Duration::from_millis(5);

/// When this process last dropped a ring: milliseconds since [`process_ms`]'s start,
/// plus one (0: never).
static LAST_RING_DROP: AtomicU64 = AtomicU64::new(0);

/// Milliseconds since this process first asked, plus one.
fn process_ms() -> u64 {
    static START: OnceLock<Instant> = OnceLock::new();
    let ms = START.get_or_init(Instant::now).elapsed().as_millis();
    u64::try_from(ms).unwrap_or(u64::MAX - 1) + 1
}

/// Notes that a ring was just dropped: its memory may stay charged for a while.
pub(crate) fn note_ring_dropped() {
    LAST_RING_DROP.store(process_ms(), Ordering::Relaxed);
}

/// How long to retry ENOMEM now ([`MEMLOCK_RETRY`], [`MEMLOCK_RETRY_AFTER_DROP`]).
fn memlock_retry() -> Duration {
    let last = LAST_RING_DROP.load(Ordering::Relaxed);
    let recent = MEMLOCK_RETRY_AFTER_DROP.as_millis() as u64;
    if last != 0 && process_ms().saturating_sub(last) < recent {
        MEMLOCK_RETRY_AFTER_DROP
    } else {
        MEMLOCK_RETRY
    }
}

/// `builder.build(entries)`, retried while the kernel says ENOMEM ([`memlock_retry`]).
fn build_with_retry(builder: &io_uring::Builder, entries: u32) -> io::Result<IoUring> {
    let start = Instant::now();
    let limit = memlock_retry();
    loop {
        match builder.build(entries) {
            Err(e) if e.raw_os_error() == Some(libc::ENOMEM) && start.elapsed() < limit => {
                std::thread::sleep(MEMLOCK_RETRY_PAUSE)
            }
            res => return res,
        }
    }
}

impl RingFlags {
    /// The flags both sets have: what every ring of a runtime got.
    pub(crate) fn common(self, other: RingFlags) -> RingFlags {
        RingFlags {
            single_issuer: self.single_issuer && other.single_issuer,
            defer_taskrun: self.defer_taskrun && other.defer_taskrun,
            coop_taskrun: self.coop_taskrun && other.coop_taskrun,
            submit_all: self.submit_all && other.submit_all,
        }
    }
}

/// How many rings of how many entries a runtime holds at once: one per core. Only the
/// error messages need the count (a limit may fit one ring and not all of them).
#[derive(Clone, Copy, Debug)]
pub(crate) struct RingSize {
    /// SQ slots of each ring.
    pub(crate) entries: u32,
    /// Rings the runtime holds at once (its cores).
    pub(crate) rings: usize,
}

/// Builds a ring with `size.entries` SQ slots and a CQ twice that size, with the best
/// flags this kernel accepts.
pub(crate) fn build_ring(size: RingSize) -> io::Result<(IoUring, RingFlags)> {
    let entries = size.entries;
    if fault::io_uring_disabled() == Some(Some(2)) {
        // Injected `kernel.io_uring_disabled = 2`: the kernel refuses every ring with EPERM.
        let e = io::Error::from_raw_os_error(libc::EPERM);
        return Err(explain_setup_error(e, read_io_uring_disabled(), size));
    }
    let mut last = None;
    for flags in ATTEMPTS {
        let mut b = IoUring::builder();
        // Twice the SQ, as liburing does by default: a full SQ of ops can complete while
        // the previous batch's CQEs are still unreaped.
        b.setup_cqsize(entries.saturating_mul(2)).dontfork();
        if flags.single_issuer {
            b.setup_single_issuer();
        }
        if flags.defer_taskrun {
            b.setup_defer_taskrun();
        }
        if flags.coop_taskrun {
            b.setup_coop_taskrun();
        }
        if flags.submit_all {
            b.setup_submit_all();
        }
        let optional = flags != RingFlags::default();
        if optional && fault::is_missing(fault::Missing::RingFlags) {
            last = Some(io::Error::from_raw_os_error(libc::EINVAL));
            continue;
        }
        match build_with_retry(&b, entries) {
            Ok(ring) => {
                if !ring.params().is_feature_ext_arg() || !ring.params().is_feature_nodrop() {
                    return Err(io::Error::new(
                        io::ErrorKind::Unsupported,
                        "io_uring is too old: ringio needs IORING_FEAT_EXT_ARG and \
                         IORING_FEAT_NODROP (Linux 5.11 or newer); upgrade the kernel",
                    ));
                }
                return Ok((ring, flags));
            }
            Err(e) if e.raw_os_error() == Some(libc::EINVAL) => last = Some(e),
            Err(e) => return Err(explain_setup_error(e, read_io_uring_disabled(), size)),
        }
    }
    let e = last.expect("ATTEMPTS is not empty");
    Err(explain_setup_error(e, read_io_uring_disabled(), size))
}

/// What a runtime's start-up check found: the backend its cores run and, for io_uring,
/// the rings this kernel gives this thread.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Probe {
    /// `IoUring` or `Epoll`, never `Auto`.
    pub(crate) backend: Backend,
    /// Why `Auto` fell back to epoll: the io_uring error's text.
    pub(crate) fallback: Option<&'static str>,
    /// The ring flags the kernel accepted.
    pub(crate) flags: RingFlags,
    /// Whether the ring fd could be registered (IORING_REGISTER_RING_FDS).
    pub(crate) ring_fd_registered: bool,
}

/// Picks the backend for `choice` (see [`Backend`]): io_uring if asked for, or if `Auto`
/// and [`probe_rings`] passes; epoll if asked for, or if `Auto` and io_uring is not
/// available here ([`unavailable`]).
///
/// # Errors
///
/// With `IoUring`, or with `Auto` for a failure that does not mean "unavailable", the
/// io_uring error (a message that names the cause and the fix).
pub(crate) fn probe(size: RingSize, choice: Backend) -> io::Result<Probe> {
    let epoll = |fallback| Probe {
        backend: Backend::Epoll,
        fallback,
        ..Probe::default()
    };
    match choice {
        Backend::Epoll => Ok(epoll(None)),
        Backend::IoUring => probe_rings(size),
        Backend::Auto => match probe_rings(size) {
            Err(e) if unavailable(&e) => {
                let reason = intern(fallback_reason(&e));
                #[cfg(feature = "tracing")]
                tracing::warn!(target: "ringio::runtime", reason, "io_uring unavailable: running on epoll");
                Ok(epoll(Some(reason)))
            }
            res => res,
        },
    }
}

/// The text of io_uring's start-up error, as the reason `Auto` runs epoll: the error
/// without its "ringio cannot start: " lead-in, since the runtime did start.
fn fallback_reason(e: &io::Error) -> String {
    let text = e.to_string();
    match text.strip_prefix(super::error::START_PREFIX) {
        Some(why) => why.to_string(),
        None => text,
    }
}

/// Whether an io_uring start-up error means "io_uring is not available here", which
/// `Auto` answers with epoll: ENOSYS (no io_uring in this kernel), EPERM (seccomp, as in
/// Docker's default profile since 25.0, or `kernel.io_uring_disabled`), a kernel older
/// than 5.11 (`Unsupported`), or ENOMEM (the memlock limit refuses a ring). EINVAL or
/// EMFILE are reported: epoll would not cure them.
pub(crate) fn unavailable(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::Unsupported | io::ErrorKind::PermissionDenied | io::ErrorKind::OutOfMemory
    )
}

/// Builds `size.rings` rings of `size.entries` entries, all alive at once, the first with
/// a NOP round trip, then drops them: proves io_uring works here (setup and enter
/// allowed) and that RLIMIT_MEMLOCK fits a ring for every core, before any core thread
/// starts. The cores build their own rings again on their own threads (a SINGLE_ISSUER
/// ring belongs to the thread that made it, io_uring_setup(2)).
///
/// # Errors
///
/// As [`Driver::new`]: a message that names the cause and the fix.
fn probe_rings(size: RingSize) -> io::Result<Probe> {
    let wake = crate::sys::fd::eventfd()
        .map_err(|e| super::descriptor_error(e, "the core's wake-up eventfd"))?;
    let first = Driver::new(size, wake.as_raw_fd())?;
    let probe = Probe {
        backend: Backend::IoUring,
        fallback: None,
        flags: first.flags(),
        ring_fd_registered: first.ring_fd_registered(),
    };
    let others = (1..size.rings)
        .map(|_| build_ring(size))
        .collect::<io::Result<Vec<_>>>();
    drop(first);
    let built = others.map(drop);
    // The cores' rings may meet these rings' memory not uncharged yet.
    note_ring_dropped();
    built.map(|()| probe)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn common_flags_are_those_both_have() {
        assert_eq!(ATTEMPTS[0].common(ATTEMPTS[2]), ATTEMPTS[2]);
        assert_eq!(ATTEMPTS[1].common(ATTEMPTS[0]), ATTEMPTS[1]);
        assert_eq!(ATTEMPTS[0].common(ATTEMPTS[3]).to_string(), "none");
    }

    #[test]
    fn flags_display() {
        assert_eq!(
            ATTEMPTS[0].to_string(),
            "SINGLE_ISSUER|DEFER_TASKRUN|COOP_TASKRUN|SUBMIT_ALL"
        );
        assert_eq!(ATTEMPTS[3].to_string(), "none");
    }
}
