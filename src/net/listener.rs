//! `TcpListener`: bind (SO_REUSEPORT only when asked for), accept through the ring.

use super::accept::Acceptor;
use super::{TcpStream, each_addr, ip_addr, ip_socket};
use crate::io::context::with_hint;
use crate::sys::fd::SharedFd;
use socket2::{Protocol, SockRef, Type};
use std::cell::Cell;
use std::fmt;
use std::future::{Future, poll_fn};
use std::io;
use std::net::{SocketAddr, ToSocketAddrs};
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};

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
    /// Binds to `addr` with SO_REUSEADDR (a restarted server gets its port back while
    /// old connections linger in TIME_WAIT), as std's and tokio's `bind` do. A port that
    /// another socket listens on is refused with `AddrInUse`: a second server started by
    /// mistake fails instead of silently taking half the connections. For one listener
    /// per core on one port, see [`bind_reuse_port`](Self::bind_reuse_port).
    ///
    /// # Examples
    ///
    /// ```
    /// use ringio::net::TcpListener;
    ///
    /// ringio::run(async {
    ///     let first = TcpListener::bind("127.0.0.1:0").unwrap();
    ///     let err = TcpListener::bind(first.local_addr().unwrap()).unwrap_err();
    ///     assert_eq!(err.kind(), std::io::ErrorKind::AddrInUse);
    /// });
    /// ```
    ///
    /// # Errors
    ///
    /// If no address `addr` resolves to can be bound: `AddrInUse` (the port is taken),
    /// `PermissionDenied` (a port below 1024), ...; the message names the address.
    pub fn bind<A: ToSocketAddrs>(addr: A) -> io::Result<TcpListener> {
        each_addr(addr, |addr| TcpListener::bind_one(addr, false))
    }

    /// Binds to `addr` with SO_REUSEADDR and SO_REUSEPORT, so each core of a server can
    /// bind the same port and the kernel spreads connections between them.
    ///
    /// Every socket on the port must set SO_REUSEPORT, and the kernel lets only sockets
    /// of the same user share it (socket(7)); a plain [`bind`](Self::bind) of the port is
    /// then refused, as is this one on a port a plain listener holds.
    ///
    /// # Examples
    ///
    /// ```
    /// use ringio::net::TcpListener;
    ///
    /// ringio::run(async {
    ///     let first = TcpListener::bind_reuse_port("127.0.0.1:0").unwrap();
    ///     let addr = first.local_addr().unwrap();
    ///     let second = TcpListener::bind_reuse_port(addr).unwrap();
    ///     assert_eq!(second.local_addr().unwrap(), addr);
    /// });
    /// ```
    ///
    /// # Errors
    ///
    /// As [`bind`](Self::bind); `AddrInUse` if a socket without SO_REUSEPORT (or of
    /// another user) holds the port.
    #[doc(alias = "reuse_port")]
    #[doc(alias = "SO_REUSEPORT")]
    pub fn bind_reuse_port<A: ToSocketAddrs>(addr: A) -> io::Result<TcpListener> {
        each_addr(addr, |addr| TcpListener::bind_one(addr, true))
    }

    /// Binds and listens on one address; errors name it.
    fn bind_one(addr: SocketAddr, reuse_port: bool) -> io::Result<TcpListener> {
        let named = |e: io::Error| bind_error(e, addr, reuse_port);
        let socket = ip_socket(addr, Type::STREAM, Protocol::TCP).map_err(named)?;
        socket.set_reuse_address(true).map_err(named)?;
        if reuse_port {
            socket.set_reuse_port(true).map_err(named)?;
        }
        socket.bind(&addr.into()).map_err(named)?;
        socket.listen(BACKLOG).map_err(named)?;
        Ok(TcpListener {
            fd: SharedFd::new(socket.into()),
            acceptor: Acceptor::default(),
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
        Incoming {
            listener: self,
            accepting: None,
            handoff: Rc::default(),
        }
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

/// Stops listening at once, so the port is free for a new `bind` as soon as the listener
/// is dropped: the descriptor itself closes only once the accept in flight has ended
/// (its CQE comes a loop turn later), and until then a plain `bind` of the port would be
/// `AddrInUse`. shutdown(2) of a listening socket takes it out of the LISTEN state now;
/// the accept in flight ends with an error nobody waits for. (shutdown acts on the socket,
/// not the descriptor: a copy inherited by a forked child stops listening too. A
/// `TcpListener` gives out no descriptor, so nothing else of this process holds one.)
impl Drop for TcpListener {
    fn drop(&mut self) {
        let _ = SockRef::from(self.fd.as_fd()).shutdown(std::net::Shutdown::Read);
    }
}

/// `e` as an error of the same kind that names the address, with the way out of a port
/// in use; the syscall's error stays its `source`.
fn bind_error(e: io::Error, addr: SocketAddr, reuse_port: bool) -> io::Error {
    let hint = match (e.kind(), reuse_port) {
        (io::ErrorKind::AddrInUse, false) => {
            "; another socket listens on this port (one listener per core of one server: \
             TcpListener::bind_reuse_port on each)"
        }
        (io::ErrorKind::AddrInUse, true) => {
            "; a socket without SO_REUSEPORT, or of another user, holds this port"
        }
        _ => "",
    };
    with_hint(e, format_args!("cannot listen on {addr}"), hint)
}

/// One accepted connection, or the error accepting it: what [`Incoming`] yields.
type Accepted = io::Result<(TcpStream, SocketAddr)>;

/// The connections of a [`TcpListener`], from [`TcpListener::incoming`].
///
/// With the feature `futures-core` it is also a `futures_core::Stream` (see the impl).
#[must_use = "call next().await to accept connections"]
pub struct Incoming<'a> {
    listener: &'a TcpListener,
    /// The accept loop, made on the first poll and kept until `Incoming` is dropped: it
    /// holds the accept in flight (and its back-off pause) across polls, so a poll that
    /// returned `Pending` and is never repeated loses no connection. One allocation per
    /// `Incoming`, none per connection.
    accepting: Option<Pin<Box<dyn Future<Output = ()> + 'a>>>,
    /// Where the accept loop puts each connection; emptied in the same poll.
    handoff: Rc<Cell<Option<Accepted>>>,
}

impl<'a> Incoming<'a> {
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
        poll_fn(|cx| self.poll_next(cx)).await
    }

    /// Polls for the next connection: what [`next`](Self::next) awaits, for hand-written
    /// futures and streams. Never `Ready(None)`.
    ///
    /// # Errors
    ///
    /// As [`TcpListener::accept`]; after an error the next poll accepts again.
    ///
    /// # Cancel safety
    ///
    /// A poll that returned `Pending` loses nothing if it is never repeated: the accept
    /// stays in `Incoming`, and a connection it takes goes to the next poll (or, once
    /// `Incoming` is dropped, waits in the listener for its next accept).
    ///
    /// # Examples
    ///
    /// ```
    /// use ringio::net::{TcpListener, TcpStream};
    /// use std::future::poll_fn;
    ///
    /// ringio::run(async {
    ///     let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    ///     let addr = listener.local_addr().unwrap();
    ///     let client = ringio::spawn(async move { TcpStream::connect(addr).await.unwrap() });
    ///     let mut incoming = listener.incoming();
    ///     let (_stream, peer) = poll_fn(|cx| incoming.poll_next(cx)).await.unwrap().unwrap();
    ///     assert_eq!(peer, client.await.unwrap().local_addr().unwrap());
    /// });
    /// ```
    pub fn poll_next(
        &mut self,
        cx: &mut Context<'_>,
    ) -> Poll<Option<io::Result<(TcpStream, SocketAddr)>>> {
        let (listener, handoff) = (self.listener, &self.handoff);
        let accepting = self
            .accepting
            .get_or_insert_with(|| Box::pin(accept_loop(listener, handoff.clone())));
        // The loop never ends; it is Pending after each connection it hands off.
        let _ = accepting.as_mut().poll(cx);
        match self.handoff.take() {
            Some(accepted) => Poll::Ready(Some(accepted)),
            None => Poll::Pending,
        }
    }
}

/// Accepts on `listener` for ever, putting each result into `handoff` and then waiting
/// one poll (`Incoming::poll_next` takes the result out in the poll that put it there).
async fn accept_loop(listener: &TcpListener, handoff: Rc<Cell<Option<Accepted>>>) {
    loop {
        let accepted = listener.accept().await;
        handoff.set(Some(accepted));
        let mut handed_off = false;
        // No wake-up is needed: the poll that sees this `Pending` returns the connection,
        // and its caller polls again when it wants the next one.
        poll_fn(|_| {
            if std::mem::replace(&mut handed_off, true) {
                Poll::Ready(())
            } else {
                Poll::Pending
            }
        })
        .await;
    }
}

/// `async for` over a listener's connections: the same accepts as [`Incoming::next`].
///
/// Yields each accepted connection with its peer's address, or the error accepting one
/// (after EMFILE/ENFILE the next poll first pauses, as [`TcpListener::accept`] does). It
/// never ends: a listener has no end, so `StreamExt::take` or a `break` decides when to
/// stop.
///
/// # Features
///
/// Needs the cargo feature `futures-core`.
///
/// # Cancel safety
///
/// As [`Incoming::poll_next`]: dropping a `next()` of `StreamExt` loses no connection.
///
/// # Examples
///
/// ```
/// use futures_util::StreamExt;
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
///     let mut conns = listener.incoming().take(3);
///     let mut n = 0;
///     while let Some(conn) = conns.next().await {
///         let (_stream, peer) = conn.unwrap();
///         assert!(peer.ip().is_loopback());
///         n += 1;
///     }
///     assert_eq!(n, 3);
/// });
/// ```
#[cfg(feature = "futures-core")]
impl futures_core::Stream for Incoming<'_> {
    type Item = io::Result<(TcpStream, SocketAddr)>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Accepted>> {
        Incoming::poll_next(self.get_mut(), cx)
    }
}

impl fmt::Debug for Incoming<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Incoming")
            .field("listener", &self.listener)
            .field("accepting", &self.accepting.is_some())
            .finish()
    }
}
