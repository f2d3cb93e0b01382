//! Networking on io_uring: TCP, UDP, and Unix stream and datagram sockets.
//!
//! Every operation passes its buffer by value and gives it back with the result
//! (`(io::Result<usize>, buf)`): the kernel may use the buffer until the CQE arrives, even
//! if the future was dropped (`buf` module rules).
//!
//! [`TcpStream`] and [`UnixStream`] share one implementation of their reads and writes,
//! and `into_split` turns either into a [`ReadHalf`] and a [`WriteHalf`] of that stream
//! type ([`TcpReadHalf`] is `ReadHalf<TcpStream>`, and so on).
//!
//! Host names never block a core: [`lookup_host`], [`TcpStream::connect`] and
//! [`UdpSocket::send_to`] resolve them with getaddrinfo(3) on the runtime's blocking pool,
//! and parse numeric addresses on the core. The synchronous `bind` calls resolve a name
//! with a blocking lookup: bind numeric addresses.
#![forbid(unsafe_code)]

mod accept;
mod listener;
mod lookup;
mod recv_pool;
mod recv_stream;
mod send_file;
mod split;
mod stream;
mod stream_io;
mod udp;
mod unix;
mod unread;

pub use listener::Incoming;
#[doc(alias = "start_server")]
pub use listener::TcpListener;
pub use lookup::ToSocketAddrs;
#[doc(alias = "loop.getaddrinfo")]
pub use lookup::lookup_host;
pub use recv_stream::{RECV_STREAM_QUEUE, RecvStream};
pub use split::{ReadHalf, TcpReadHalf, TcpWriteHalf, UnixReadHalf, UnixWriteHalf, WriteHalf};
#[doc(alias = "open_connection")]
pub use stream::TcpStream;
pub use udp::RecvMeta;
#[doc(alias = "DatagramTransport")]
pub use udp::UdpSocket;
pub use unix::{UnixDatagram, UnixListener, UnixStream};

#[cfg(any(feature = "tokio-io", feature = "futures-io", feature = "hyper"))]
pub(crate) use stream_io::StreamIo;
pub(crate) use unread::Unread;

use socket2::{Domain, Protocol, SockAddr, Socket, Type};
use std::io;
use std::net::SocketAddr;

/// Tries `f` on each address `addrs` resolves to; returns the first success or the last
/// error.
///
/// A host name is resolved here by a blocking getaddrinfo(3) on the calling thread: only
/// the synchronous `bind` calls use this. What connects resolves with `lookup::resolve`
/// (off the core) or `lookup::numeric` (numbers only).
fn each_addr<A: std::net::ToSocketAddrs, T>(
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
    Err(last.unwrap_or_else(resolved_to_nothing))
}

/// The error of an address that resolved to no socket address at all.
fn resolved_to_nothing() -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidInput,
        "the address resolved to nothing",
    )
}

/// A close-on-exec IP socket of type `ty` and protocol `protocol` for `addr`'s family.
fn ip_socket(addr: SocketAddr, ty: Type, protocol: Protocol) -> io::Result<Socket> {
    Socket::new(Domain::for_address(addr), ty.cloexec(), Some(protocol))
}

/// The IP address of a socket; `what` names the socket in the error.
fn ip_addr(a: &SockAddr, what: &str) -> io::Result<SocketAddr> {
    a.as_socket()
        .ok_or_else(|| io::Error::other(format!("{what} has no IP address")))
}

/// Whether `err` says the process or system ran out of file descriptors (EMFILE/ENFILE).
///
/// Accept loops should back off on these instead of retrying at once:
/// [`TcpListener::accept`] already delays the next accept after one.
pub fn is_fd_exhaustion(err: &io::Error) -> bool {
    matches!(err.raw_os_error(), Some(libc::EMFILE) | Some(libc::ENFILE))
}
