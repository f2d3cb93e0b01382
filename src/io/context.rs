//! Errors that say what was being done: the one wrapper every call uses to put its
//! context (a path, an address, a host, a program) in front of an OS error.
//!
//! Rules:
//! 1. The wrapped error keeps the [`ErrorKind`](io::ErrorKind) of the original, and the
//!    original is its [`source`](std::error::Error::source): `raw_os_error` stays one
//!    `downcast_ref` away, and error reporters that walk the chain show both.
//! 2. Its text is `"<context>: <original><hint>"`: the context says what failed and on
//!    what, the hint (often empty) what to do about it.
//! 3. Built only on error paths: the context is formatted when the call has failed.
#![forbid(unsafe_code)]

use std::fmt;
use std::io;

/// An OS error with what was being done in front of it and a hint after it.
#[derive(Debug)]
struct Context {
    context: String,
    hint: &'static str,
    source: io::Error,
}

impl fmt::Display for Context {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}{}", self.context, self.source, self.hint)
    }
}

impl std::error::Error for Context {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.source)
    }
}

/// `source` as an error of the same kind saying `"<context>: <source>"` (module rules).
pub(crate) fn with_context(source: io::Error, context: impl fmt::Display) -> io::Error {
    with_hint(source, context, "")
}

/// As [`with_context`], with `hint` after the original error's text.
pub(crate) fn with_hint(
    source: io::Error,
    context: impl fmt::Display,
    hint: &'static str,
) -> io::Error {
    io::Error::new(
        source.kind(),
        Context {
            context: context.to_string(),
            hint,
            source,
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_the_kind_and_the_source_and_reads_context_error_hint() {
        let e = with_hint(
            io::Error::from_raw_os_error(libc::EADDRINUSE),
            "cannot listen on 127.0.0.1:80",
            "; is another server running?",
        );
        assert_eq!(e.kind(), io::ErrorKind::AddrInUse);
        let msg = e.to_string();
        assert!(msg.starts_with("cannot listen on 127.0.0.1:80: "), "{msg}");
        assert!(msg.ends_with("; is another server running?"), "{msg}");
        let errno = std::error::Error::source(&e)
            .and_then(|s| s.downcast_ref::<io::Error>())
            .and_then(io::Error::raw_os_error);
        assert_eq!(errno, Some(libc::EADDRINUSE));
        let plain = with_context(io::Error::other("boom"), format_args!("step {}", 2));
        assert_eq!(plain.to_string(), "step 2: boom");
    }
}
