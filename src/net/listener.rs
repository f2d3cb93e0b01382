//! `TcpListener`: bind with SO_REUSEPORT, accept through the ring.

use super::accept::Acceptor;
use super::{TcpStream, each_addr, ip_addr, ip_socket};
use crate::sys::fd::SharedFd;
use socket2::{Protocol, SockRef, Type};
use std::io;
use std::net::{SocketAddr, ToSocketAddrs};

/// Listen backlog: the kernel caps it at `net.core.somaxconn` (4096 by default), so ask
/// for that much; bursts of thousands of connects then wait in the kernel, not in SYN retries.
const BACKLOG: i32 = 4096;

/// A TCP socket listening for connections.
///
/// # Examples
///
/// ```
/// use ringio::net::{TcpListener, TcpStream};
///
/// ringio::run(async {
///     let listener = TcpListener::bind("127.0.0.1:0").unwrap();
///     let addr = listener.local_addr().unwrap();
///     let client = ringio::spawn(async move { TcpStream::connect(addr).await.unwrap() });
///     let (_stream, peer) = listener.accept().await.unwrap();
///     assert_eq!(peer, client.await.unwrap().local_addr().unwrap());
/// });
/// ```
#[doc(alias = "start_server")]
#[derive(Debug)]
pub struct TcpListener {
    fd: SharedFd,
    acceptor: Acceptor,
}

impl TcpListener {
    /// Binds to `addr` with SO_REUSEADDR and SO_REUSEPORT, so each core of a server can
    /// bind the same port and the kernel spreads connections between them.
    ///
    /// # Errors
    ///
    /// If no address `addr` resolves to can be bound (in use without SO_REUSEPORT,
    /// permission, ...).
    pub fn bind<A: ToSocketAddrs>(addr: A) -> io::Result<TcpListener> {
        each_addr(addr, |addr| {
            let socket = ip_socket(addr, Type::STREAM, Protocol::TCP)?;
            socket.set_reuse_address(true)?;
            socket.set_reuse_port(true)?;
            socket.bind(&addr.into())?;
            socket.listen(BACKLOG)?;
            Ok(TcpListener {
                fd: SharedFd::new(socket.into()),
                acceptor: Acceptor::default(),
            })
        })
    }

    /// Waits for a connection and returns it with the peer's address.
    ///
    /// # Errors
    ///
    /// What accept(2) reports. On EMFILE/ENFILE (no descriptor left) the error is
    /// returned and the *next* `accept` first pauses (10 ms, doubling to 100 ms while the
    /// shortage lasts), so a loop that retries at once does not spin; connections already
    /// open are served meanwhile.
    ///
    /// # Cancel safety
    ///
    /// Cancel-safe: the accept belongs to the listener, not to the future, and stays armed
    /// across calls (one multishot accept; on kernels without it, one single-shot accept).
    /// A connection the kernel accepted as the future was dropped waits in the listener for
    /// the next `accept`; later ones wait in the kernel's backlog. Dropping the listener
    /// closes connections it accepted and nobody claimed (their clients see a reset); none
    /// is leaked.
    pub async fn accept(&self) -> io::Result<(TcpStream, SocketAddr)> {
        loop {
            let stream = TcpStream::from_fd(self.acceptor.accept(&self.fd).await?);
            // The accept passes no address buffer; ask the socket.
            match stream.peer_addr() {
                Ok(peer) => return Ok((stream, peer)),
                // Reset by the client between accept and here: gone, take the next one.
                Err(e) if e.raw_os_error() == Some(libc::ENOTCONN) => {}
                Err(e) => return Err(e),
            }
        }
    }

    /// The connections as they come, for `while let Some(conn) = incoming.next().await`.
    ///
    /// Each `next` is one [`accept`](Self::accept), with the same back-off after running
    /// out of descriptors. Both take connections from one multishot accept that stays
    /// armed in the ring (Linux 5.19), so a stream of connections costs no SQE each; older
    /// kernels take one connection per SQE.
    ///
    /// # Examples
    ///
    /// ```
    /// use ringio::net::{TcpListener, TcpStream};
    ///
    /// ringio::run(async {
    ///     let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    ///     let addr = listener.local_addr().unwrap();
    ///     ringio::spawn(async move {
    ///         for _ in 0..3 {
    ///             TcpStream::connect(addr).await.unwrap();
    ///         }
    ///     });
    ///     let mut incoming = listener.incoming();
    ///     for _ in 0..3 {
    ///         let (_stream, _peer) = incoming.next().await.unwrap().unwrap();
    ///     }
    /// });
    /// ```
    pub fn incoming(&self) -> Incoming<'_> {
        Incoming { listener: self }
    }

    /// The address this listener is bound to (with the port the kernel chose for port 0).
    ///
    /// # Errors
    ///
    /// If getsockname(2) fails.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        ip_addr(&SockRef::from(self.fd.as_fd()).local_addr()?, "listener")
    }
}

/// The connections of a [`TcpListener`], from [`TcpListener::incoming`].
#[derive(Debug)]
#[must_use = "call next().await to accept connections"]
pub struct Incoming<'a> {
    listener: &'a TcpListener,
}

impl Incoming<'_> {
    /// The next connection, or the error accepting it (never `None`: a listener has no
    /// end; the `Option` lets `while let` loops read naturally).
    ///
    /// # Errors
    ///
    /// As [`TcpListener::accept`]; after an error the next call accepts again.
    ///
    /// # Cancel safety
    ///
    /// Cancel-safe, as [`TcpListener::accept`].
    pub async fn next(&mut self) -> Option<io::Result<(TcpStream, SocketAddr)>> {
        Some(self.listener.accept().await)
    }
}
