//! Errors that name the path they are about, and path calls run on the blocking pool.
//!
//! Rules (module rules 5 and 6 of `fs`):
//! 1. A wrapped error keeps the [`ErrorKind`](io::ErrorKind) of the syscall's error, and
//!    that error is its [`source`](std::error::Error::source), so `raw_os_error` stays
//!    one `downcast_ref` away.
//! 2. A call on the pool cannot be stopped once it started: dropping its future detaches
//!    it, and it runs to its end on its pool thread.
#![forbid(unsafe_code)]

use crate::io::context::with_context;
use std::fmt;
use std::io;
use std::os::fd::AsRawFd;
use std::path::Path;

/// "failed to `what` `target`: `source`", where `target` is the path, or "a to b" for
/// calls on two paths.
fn wrap(source: io::Error, what: &'static str, target: impl fmt::Display) -> io::Error {
    with_context(source, format_args!("failed to {what} {target}"))
}

/// `source` as an error of the same kind saying "failed to `what` `path`: `source`".
pub(super) fn with_path(source: io::Error, what: &'static str, path: &Path) -> io::Error {
    wrap(source, what, path.display())
}

/// As [`with_path`], for a call on two paths ("failed to rename a to b: ...").
pub(super) fn with_paths(
    source: io::Error,
    what: &'static str,
    from: &Path,
    to: &Path,
) -> io::Error {
    wrap(
        source,
        what,
        format_args!("{} to {}", from.display(), to.display()),
    )
}

/// A write's error: for EBADF, which a write to a descriptor ringio holds open means the
/// file was not opened for writing, an error that says so and names the file (found
/// through /proc/self/fd; only on this error path); other errors as they are.
pub(super) fn not_writable(source: io::Error, fd: &impl AsRawFd) -> io::Error {
    if source.raw_os_error() != Some(libc::EBADF) {
        return source;
    }
    let path = std::fs::read_link(format!("/proc/self/fd/{}", fd.as_raw_fd()))
        .map_or_else(|_| "the file".to_string(), |p| p.display().to_string());
    wrap(
        source,
        "write to",
        format!(
            "{path}: it was not opened for writing (use File::create or \
             OpenOptions::write(true))"
        ),
    )
}

/// Runs `f` on the blocking pool (rule 2); its error, or the pool's if the job panicked,
/// comes back through `name`, which names the path (rule 1).
pub(super) async fn on_pool<T, F>(f: F, name: impl FnOnce(io::Error) -> io::Error) -> io::Result<T>
where
    F: FnOnce() -> io::Result<T> + Send + 'static,
    T: Send + 'static,
{
    match crate::spawn_blocking(f).await {
        Ok(res) => res.map_err(name),
        Err(join) => Err(name(io::Error::other(join.to_string()))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wrapped_error_names_the_path_and_keeps_kind_and_errno() {
        let e = with_path(
            io::Error::from_raw_os_error(libc::ENOENT),
            "open",
            Path::new("/x/y"),
        );
        assert_eq!(e.kind(), io::ErrorKind::NotFound);
        let msg = e.to_string();
        assert!(msg.starts_with("failed to open /x/y: "), "{msg}");
        let source = std::error::Error::source(&e)
            .and_then(|s| s.downcast_ref::<io::Error>())
            .and_then(io::Error::raw_os_error);
        assert_eq!(source, Some(libc::ENOENT));
        let two = with_paths(
            io::Error::other("boom"),
            "copy",
            Path::new("a"),
            Path::new("b"),
        );
        assert_eq!(two.to_string(), "failed to copy a to b: boom");
    }
}
