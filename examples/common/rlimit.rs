//! The descriptor limit, shared by the examples that open many sockets and by the tests
//! (`tests/support/mod.rs`).
//!
//! Each example pulls it in with `#[path = "common/rlimit.rs"] mod rlimit;` (the echo
//! examples through `common/echo.rs`).

use std::io;

/// Raises the soft RLIMIT_NOFILE to the hard limit and returns the limit now in force.
///
/// # Errors
///
/// If getrlimit/setrlimit fail (they do not on Linux for this resource).
pub fn raise_nofile_limit() -> io::Result<u64> {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes into the live local struct.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) } != 0 {
        return Err(io::Error::last_os_error());
    }
    if lim.rlim_cur < lim.rlim_max {
        lim.rlim_cur = lim.rlim_max;
        // SAFETY: setrlimit reads the live local struct.
        if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &lim) } != 0 {
            return Err(io::Error::last_os_error());
        }
    }
    Ok(lim.rlim_cur)
}
