//! What the user reads when a ring cannot be had: each setup failure named with its cause
//! and its fix, the kernel's own error kept as `source`.

use super::RingSize;
use super::fault;
use std::fmt;
use std::io;

/// `kernel.io_uring_disabled` (0 allowed, 1 only for `kernel.io_uring_group`, 2 off), if
/// the kernel has that sysctl.
pub(super) fn read_io_uring_disabled() -> Option<u32> {
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
            let limit = match crate::sys::rlimit::memlock_limit() {
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
        Some(libc::EMFILE) | Some(libc::ENFILE) => no_descriptor_left("the io_uring"),
        _ => "io_uring_setup failed".to_string(),
    };
    start_error(why, err)
}

/// Why a start-up step that needs a descriptor failed with EMFILE/ENFILE: names `what`
/// needed it, the limit and the fix.
fn no_descriptor_left(what: &str) -> String {
    let limit = match crate::sys::rlimit::nofile_limit() {
        Some(u64::MAX) => "unlimited".to_string(),
        Some(n) => n.to_string(),
        None => "unknown".to_string(),
    };
    format!(
        "no file descriptor left for {what} (EMFILE/ENFILE; ulimit -n is {limit}): raise \
         ulimit -n, or close descriptors before starting the runtime"
    )
}

/// `e`, from making `what` (a descriptor the runtime needs to start), as a start error
/// that says so if no descriptor was left; other errors come back as they are.
pub(crate) fn descriptor_error(e: io::Error, what: &str) -> io::Error {
    match e.raw_os_error() {
        Some(libc::EMFILE) | Some(libc::ENFILE) => start_error(no_descriptor_left(what), e),
        _ => e,
    }
}

/// An error saying why the runtime cannot start, keeping the kernel's error as `source`
/// (so `raw_os_error` of the source still gives the errno).
pub(crate) fn start_error(why: String, source: io::Error) -> io::Error {
    io::Error::new(source.kind(), SetupError { why, source })
}

/// How every start error's text begins.
pub(crate) const START_PREFIX: &str = "ringio cannot start: ";

/// The reason a ring could not be built, with the kernel's own error as `source`.
#[derive(Debug)]
struct SetupError {
    why: String,
    source: io::Error,
}

impl fmt::Display for SetupError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{START_PREFIX}{} ({})", self.why, self.source)
    }
}

impl std::error::Error for SetupError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.source)
    }
}

/// The error for a ring whose first `io_uring_enter` failed (`Driver::check_enter`).
pub(super) fn enter_error(e: io::Error) -> io::Error {
    let why = if e.raw_os_error() == Some(libc::EPERM) {
        "io_uring_enter was denied (EPERM): a seccomp filter or container policy \
         forbids it; allow io_uring_setup, io_uring_enter and io_uring_register"
    } else {
        "io_uring_enter failed on a NOP"
    };
    start_error(why.to_string(), e)
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
    fn kind_and_source_are_kept() {
        let e = explain_setup_error(io::Error::from_raw_os_error(libc::EPERM), None, ONE);
        assert_eq!(e.kind(), io::ErrorKind::PermissionDenied);
        let inner = e.get_ref().expect("custom error");
        let src = std::error::Error::source(inner).expect("source");
        assert!(src.to_string().contains("Operation not permitted"));
    }
}
