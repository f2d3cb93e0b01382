//! Unix domain sockets: `UnixListener` and `UnixStream` (streams), `UnixDatagram`
//! (messages); path or abstract names.
//!
//! Addresses are `std::os::unix::net::SocketAddr`: a path, an abstract name (Linux: a
//! name with a leading NUL byte, no file) or unnamed (a client that never bound).
//!
//! A stale socket file (left by a server that exited without removing it) is never
//! removed for you: `bind` on it fails with `AddrInUse` and `connect` to it with
//! `ConnectionRefused`, each with a message naming the path and the likely cause.

mod datagram;
mod listener;
mod stream;

pub use datagram::UnixDatagram;
pub use listener::UnixListener;
pub use stream::UnixStream;

use socket2::SockAddr;
use std::ffi::OsStr;
use std::io;
use std::os::linux::net::SocketAddrExt;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::net::SocketAddr;
use std::path::Path;

/// The address of `path`; a leading NUL byte makes it an abstract name.
fn path_addr(path: &Path) -> io::Result<SockAddr> {
    SockAddr::unix(path)
}

/// The address of the abstract name `name` (no leading NUL: it is added).
fn abstract_addr(name: &[u8]) -> io::Result<SockAddr> {
    let mut bytes = Vec::with_capacity(name.len() + 1);
    bytes.push(0);
    bytes.extend_from_slice(name);
    SockAddr::unix(OsStr::from_bytes(&bytes))
}

/// The std form of a Unix socket address.
fn std_addr(a: &SockAddr) -> io::Result<SocketAddr> {
    if let Some(path) = a.as_pathname() {
        SocketAddr::from_pathname(path)
    } else if let Some(name) = a.as_abstract_namespace() {
        SocketAddr::from_abstract_name(name)
    } else if a.is_unnamed() {
        // An empty path is how std spells "unnamed" (its length stops before sun_path).
        SocketAddr::from_pathname("")
    } else {
        Err(io::Error::other("not a Unix socket address"))
    }
}

/// `e` with the address it concerns and, for the stale-file cases, what to do.
fn with_addr(e: io::Error, what: &str, addr: &SockAddr) -> io::Error {
    let shown = if let Some(path) = addr.as_pathname() {
        path.display().to_string()
    } else if let Some(name) = addr.as_abstract_namespace() {
        format!("@{}", name.escape_ascii())
    } else {
        "(unnamed)".to_owned()
    };
    let hint = match e.raw_os_error() {
        Some(libc::EADDRINUSE) if addr.as_pathname().is_some() => {
            "; if no server runs there, the file is stale (left by one that exited): \
             remove it and bind again"
        }
        Some(libc::ECONNREFUSED) => "; nothing listens there (a stale socket file?)",
        _ => "",
    };
    crate::io::context::with_hint(e, format_args!("{what} {shown}"), hint)
}
