//! Which kernel interface a runtime's cores drive their I/O with: io_uring, or epoll
//! where io_uring is denied.
#![forbid(unsafe_code)]

use std::fmt;
use std::io;
use std::str::FromStr;
use std::sync::Mutex;

/// The environment variable that picks the backend when the program did not
/// ([`Builder::backend`](crate::Builder::backend)): `auto`, `io_uring` or `epoll`.
pub const BACKEND_ENV: &str = "RINGIO_BACKEND";

/// The I/O backend of a runtime.
///
/// Both run the same operations behind the same API, with the same ownership and
/// cancel-safety promises: a dropped future loses no byte and leaks no descriptor.
///
/// - [`IoUring`](Backend::IoUring): every operation is an io_uring SQE (Linux 5.11+).
/// - [`Epoll`](Backend::Epoll): sockets, pipes and eventfds are tried at once and, when
///   the kernel says `EAGAIN`, retried when epoll reports them ready (edge-triggered).
///   Regular files cannot be polled, so their reads and writes, `open`, `statx`,
///   `fsync` and the other path operations run on the runtime's blocking pool, as in
///   tokio; a buffered read that the page cache can serve without blocking is done on the
///   core (`preadv2(RWF_NOWAIT)`). Multishot receives and accepts are not available, so
///   each receive and accept is one attempt (the API is unchanged). Timers keep
///   nanosecond waits (`epoll_pwait2`, or a timerfd before Linux 5.11). Descriptors a
///   runtime uses are switched to `O_NONBLOCK` (the file description's flag, shared by
///   its `dup`s), as tokio does. A child made by `fork(2)` shares its parent's epoll
///   sets (epoll(7)): it must build its own runtime, as with io_uring, and leave the
///   parent's alone.
/// - [`Auto`](Backend::Auto), the default: io_uring when the start-up check passes, and
///   epoll when it fails for a reason that means "io_uring is not available here":
///   `ENOSYS` (kernel without io_uring), `EPERM` (a seccomp filter, as Docker's and
///   containerd's default profiles have, or `kernel.io_uring_disabled`), a kernel older
///   than 5.11, or a ring the memlock limit refuses. Other errors are reported, not
///   hidden by a fallback. [`Metrics::fallback_reason`](crate::Metrics::fallback_reason)
///   says why it fell back.
///
/// # Examples
///
/// ```
/// use ringio::runtime::Backend;
///
/// let rt = ringio::Runtime::builder().backend(Backend::Epoll).build().unwrap();
/// assert_eq!(rt.metrics().backend, Backend::Epoll);
/// assert_eq!("io_uring".parse::<Backend>().unwrap(), Backend::IoUring);
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Backend {
    /// io_uring if it works here, else epoll.
    #[default]
    Auto,
    /// io_uring only: starting fails with an error naming the cause and the fix.
    IoUring,
    /// epoll, even where io_uring works.
    Epoll,
}

impl Backend {
    /// The values [`FromStr`] and [`BACKEND_ENV`] accept.
    pub const NAMES: [&'static str; 3] = ["auto", "io_uring", "epoll"];

    fn name(self) -> &'static str {
        match self {
            Backend::Auto => "auto",
            Backend::IoUring => "io_uring",
            Backend::Epoll => "epoll",
        }
    }

    /// The backend [`BACKEND_ENV`] asks for, `None` if it is unset.
    ///
    /// # Errors
    ///
    /// `InvalidInput` naming the variable, its value and the accepted values.
    pub(crate) fn from_env() -> io::Result<Option<Backend>> {
        match std::env::var(BACKEND_ENV) {
            Err(std::env::VarError::NotPresent) => Ok(None),
            Err(std::env::VarError::NotUnicode(v)) => {
                Err(bad_name(BACKEND_ENV, &v.to_string_lossy()))
            }
            Ok(v) => v.parse().map(Some).map_err(|_| bad_name(BACKEND_ENV, &v)),
        }
    }
}

fn bad_name(what: &str, value: &str) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidInput,
        format!(
            "{what}={value:?} is not a ringio backend; use one of: {}",
            Backend::NAMES.join(", ")
        ),
    )
}

impl fmt::Display for Backend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Backend {
    type Err = io::Error;

    /// `auto`, `io_uring` (or `io-uring`, `uring`) and `epoll`, in any case.
    fn from_str(s: &str) -> io::Result<Backend> {
        match s.trim().to_ascii_lowercase().as_str() {
            "auto" => Ok(Backend::Auto),
            "io_uring" | "io-uring" | "uring" => Ok(Backend::IoUring),
            "epoll" => Ok(Backend::Epoll),
            _ => Err(bad_name("backend", s)),
        }
    }
}

/// Keeps one copy of each fallback reason for the life of the process, so
/// [`Metrics`](crate::Metrics) stays `Copy`: a process meets a handful of distinct
/// reasons, however many runtimes it builds.
pub(crate) fn intern(reason: String) -> &'static str {
    static SEEN: Mutex<Vec<&'static str>> = Mutex::new(Vec::new());
    let mut seen = SEEN.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(s) = seen.iter().find(|s| **s == reason) {
        return s;
    }
    let s: &'static str = Box::leak(reason.into_boxed_str());
    seen.push(s);
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_parse_and_print_back() {
        for b in [Backend::Auto, Backend::IoUring, Backend::Epoll] {
            assert_eq!(b.to_string().parse::<Backend>().unwrap(), b);
        }
        assert_eq!(" EPOLL ".parse::<Backend>().unwrap(), Backend::Epoll);
        let e = "kqueue".parse::<Backend>().unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::InvalidInput);
        assert!(e.to_string().contains("auto, io_uring, epoll"), "{e}");
    }

    #[test]
    fn interned_reasons_are_kept_once() {
        let a = intern("x".repeat(3));
        let b = intern("xxx".to_string());
        assert!(std::ptr::eq(a, b));
    }
}
