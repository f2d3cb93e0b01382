//! Building a ring: probe the kernel for the best flags, and explain failures.

use super::fault;
use io_uring::IoUring;
use std::fmt;
use std::io;
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

/// `kernel.io_uring_disabled` (0 allowed, 1 only for `kernel.io_uring_group`, 2 off), if
/// the kernel has that sysctl.
fn read_io_uring_disabled() -> Option<u32> {
    if let Some(injected) = fault::io_uring_disabled() {
        return injected;
    }
    std::fs::read_to_string("/proc/sys/kernel/io_uring_disabled")
        .ok()?
        .trim()
        .parse()
        .ok()
}

/// Turns an `io_uring_setup` failure into an error that names the cause and the fix.
/// `disabled` is the value of `kernel.io_uring_disabled`, passed in so tests can inject it.
pub(crate) fn explain_setup_error(
    err: io::Error,
    disabled: Option<u32>,
    size: RingSize,
) -> io::Error {
    let RingSize { entries, rings } = size;
    let why = match err.raw_os_error() {
        Some(libc::ENOSYS) => "io_uring is not available: the kernel is too old or was built \
             without CONFIG_IO_URING (ringio needs Linux 5.11+, 6.1+ for the fastest mode)"
            .to_string(),
        Some(libc::EPERM) => match disabled {
            Some(v) if v > 0 => format!(
                "io_uring is disabled by the sysctl kernel.io_uring_disabled = {v}; set it to 0 \
                 (sysctl -w kernel.io_uring_disabled=0){}",
                if v == 1 {
                    " or add this user to the group named in kernel.io_uring_group"
                } else {
                    ""
                }
            ),
            _ => "io_uring_setup was denied (EPERM): a seccomp filter or container policy \
                  forbids io_uring; allow the io_uring_setup, io_uring_enter and \
                  io_uring_register syscalls"
                .to_string(),
        },
        Some(libc::ENOMEM) => {
            let limit = match crate::fd::memlock_limit() {
                Some(u64::MAX) => "unlimited".to_string(),
                Some(n) => format!("{} KiB", n / 1024),
                None => "unknown".to_string(),
            };
            if rings > 1 {
                format!(
                    "could not allocate the io_urings of {rings} cores ({entries} entries \
                     each) (ENOMEM): RLIMIT_MEMLOCK (ulimit -l, now {limit}) is too low for \
                     {rings} rings on this kernel; raise it, or ask for fewer workers or fewer \
                     ring_entries"
                )
            } else {
                format!(
                    "could not allocate an io_uring of {entries} entries (ENOMEM): \
                     RLIMIT_MEMLOCK (ulimit -l, now {limit}) is too low for the ring on this \
                     kernel; raise it or ask for fewer ring_entries"
                )
            }
        }
        Some(libc::EINVAL) => format!(
            "io_uring_setup rejected the ring parameters (EINVAL) for {entries} entries: use a \
             power of two between 1 and 32768"
        ),
        Some(libc::EMFILE) | Some(libc::ENFILE) => {
            "no file descriptor left for the io_uring (EMFILE/ENFILE): raise ulimit -n".to_string()
        }
        _ => "io_uring_setup failed".to_string(),
    };
    start_error(why, err)
}

/// An error saying why the runtime cannot start, keeping the kernel's error as `source`
/// (so `raw_os_error` of the source still gives the errno).
pub(crate) fn start_error(why: String, source: io::Error) -> io::Error {
    io::Error::new(source.kind(), SetupError { why, source })
}

/// The reason a ring could not be built, with the kernel's own error as `source`.
#[derive(Debug)]
struct SetupError {
    why: String,
    source: io::Error,
}

impl fmt::Display for SetupError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ringio cannot start: {} ({})", self.why, self.source)
    }
}

impl std::error::Error for SetupError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.source)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ONE: RingSize = RingSize {
        entries: 256,
        rings: 1,
    };

    fn msg(errno: i32, disabled: Option<u32>) -> String {
        explain_setup_error(io::Error::from_raw_os_error(errno), disabled, ONE).to_string()
    }

    #[test]
    fn eperm_names_the_sysctl_value() {
        let m = msg(libc::EPERM, Some(2));
        assert!(m.contains("kernel.io_uring_disabled = 2"), "{m}");
        let m = msg(libc::EPERM, Some(1));
        assert!(m.contains("io_uring_group"), "{m}");
    }

    #[test]
    fn eperm_without_sysctl_blames_seccomp() {
        let m = msg(libc::EPERM, Some(0));
        assert!(m.contains("seccomp"), "{m}");
    }

    #[test]
    fn enosys_and_enomem_name_the_fix() {
        assert!(msg(libc::ENOSYS, None).contains("kernel"));
        assert!(msg(libc::ENOMEM, None).contains("RLIMIT_MEMLOCK"));
    }

    #[test]
    fn enomem_for_several_cores_names_the_count_and_fewer_workers() {
        let size = RingSize {
            entries: 64,
            rings: 4,
        };
        let e = explain_setup_error(io::Error::from_raw_os_error(libc::ENOMEM), None, size);
        let m = e.to_string();
        assert!(m.contains("RLIMIT_MEMLOCK (ulimit -l, now "), "{m}");
        assert!(m.contains("too low for 4 rings"), "{m}");
        assert!(m.contains("fewer workers"), "{m}");
        assert_eq!(e.kind(), io::ErrorKind::OutOfMemory);
    }

    #[test]
    fn common_flags_are_those_both_have() {
        assert_eq!(ATTEMPTS[0].common(ATTEMPTS[2]), ATTEMPTS[2]);
        assert_eq!(ATTEMPTS[1].common(ATTEMPTS[0]), ATTEMPTS[1]);
        assert_eq!(ATTEMPTS[0].common(ATTEMPTS[3]).to_string(), "none");
    }

    #[test]
    fn kind_and_source_are_kept() {
        let e = explain_setup_error(io::Error::from_raw_os_error(libc::EPERM), None, ONE);
        assert_eq!(e.kind(), io::ErrorKind::PermissionDenied);
        let inner = e.get_ref().expect("custom error");
        let src = std::error::Error::source(inner).expect("source");
        assert!(src.to_string().contains("Operation not permitted"));
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
