//! Networking: TCP on io_uring.
//!
//! Every operation passes its buffer by value and gives it back with the result
//! (`(io::Result<usize>, buf)`): the kernel may use the buffer until the CQE arrives, even
//! if the future was dropped (`buf` module rules).
#![forbid(unsafe_code)]

mod accept;
mod listener;
mod recv_pool;
mod split;
mod stream;
mod stream_io;
mod udp;
mod unix;

pub use listener::{Incoming, TcpListener};
pub use recv_pool::{RECV_STREAM_QUEUE, RecvStream};
pub use split::{TcpReadHalf, TcpWriteHalf};
pub use stream::TcpStream;
pub use udp::{RecvMeta, UdpSocket};
pub use unix::{UnixListener, UnixReadHalf, UnixStream, UnixWriteHalf};

use std::io;
use std::net::{SocketAddr, ToSocketAddrs};

/// Tries `f` on each address `addrs` resolves to; returns the first success or the last
/// error.
fn each_addr<A: ToSocketAddrs, T>(
    addrs: A,
    mut f: impl FnMut(SocketAddr) -> io::Result<T>,
) -> io::Result<T> {
    let mut last = None;
    for addr in addrs.to_socket_addrs()? {
        match f(addr) {
            Ok(v) => return Ok(v),
            Err(e) => last = Some(e),
        }
    }
    Err(last.unwrap_or_else(|| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            "the address resolved to nothing",
        )
    }))
}

/// Whether `err` says the process or system ran out of file descriptors (EMFILE/ENFILE).
///
/// Accept loops should back off on these instead of retrying at once:
/// [`TcpListener::accept`] already delays the next accept after one.
pub fn is_fd_exhaustion(err: &io::Error) -> bool {
    matches!(err.raw_os_error(), Some(libc::EMFILE) | Some(libc::ENFILE))
}
