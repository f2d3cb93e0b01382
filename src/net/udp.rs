//! `UdpSocket`: datagrams through IORING_OP_SENDMSG / IORING_OP_RECVMSG.
//!
//! Truncation policy: a datagram longer than the receive buffer is cut to the buffer's
//! capacity and the rest is discarded by the kernel (udp(7)). [`UdpSocket::recv_from`]
//! and [`UdpSocket::recv`] then return the number of bytes stored, as `std`, tokio and
//! asyncio's `sock_recvfrom` do; [`UdpSocket::recv_msg`] says whether it happened and how
//! long the datagram really was ([`RecvMeta::is_truncated`], [`RecvMeta::datagram_len`]).

use super::lookup::resolve;
use super::{ToSocketAddrs, each_addr, ip_addr, ip_socket, resolved_to_nothing};
use crate::buf::{BufResult, IoBuf, IoBufMut};
use crate::op::result::finish;
use crate::op::{Op, RecvMeta as Received, send_buf};
use crate::sys::fd::SharedFd;
use socket2::{Protocol, SockAddr, SockRef, Type};
use std::io;
use std::net::SocketAddr;

/// A UDP socket: send and receive datagrams, to and from any peer or a connected one.
///
/// Methods take `&self`, so one task can receive while others send (share it with `Rc`).
///
/// # Examples
///
/// ```
/// use ringio::net::UdpSocket;
///
/// ringio::run(async {
///     let a = UdpSocket::bind("127.0.0.1:0").unwrap();
///     let b = UdpSocket::bind("127.0.0.1:0").unwrap();
///     let (res, _) = a.send_to(b"ping", b.local_addr().unwrap()).await;
///     assert_eq!(res.unwrap(), 4);
///     let (res, buf) = b.recv_from(vec![0u8; 64]).await;
///     let (n, from) = res.unwrap();
///     assert_eq!(&buf[..n], b"ping");
///     assert_eq!(from, a.local_addr().unwrap());
/// });
/// ```
#[doc(alias = "create_datagram_endpoint")]
#[doc(alias = "DatagramTransport")]
#[derive(Debug)]
pub struct UdpSocket {
    fd: SharedFd,
}

/// What [`UdpSocket::recv_msg`] learnt about one datagram besides its bytes.
///
/// # Examples
///
/// ```
/// use ringio::net::UdpSocket;
///
/// ringio::run(async {
///     let a = UdpSocket::bind("127.0.0.1:0").unwrap();
///     let b = UdpSocket::bind("127.0.0.1:0").unwrap();
///     a.send_to(b"0123456789", b.local_addr().unwrap()).await.0.unwrap();
///     let (res, buf) = b.recv_msg(vec![0u8; 4]).await;
///     let meta = res.unwrap();
///     assert!(meta.is_truncated());
///     assert_eq!((meta.len(), meta.datagram_len()), (4, 10));
///     assert_eq!(&buf, b"0123");
///     assert_eq!(meta.addr(), a.local_addr().unwrap());
/// });
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecvMeta {
    len: usize,
    datagram_len: usize,
    addr: SocketAddr,
}

impl RecvMeta {
    /// Bytes stored in the buffer (at most its capacity).
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the datagram was empty (a zero-length datagram is valid in UDP).
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The datagram's full length as sent; larger than [`len`](Self::len) if truncated.
    pub fn datagram_len(&self) -> usize {
        self.datagram_len
    }

    /// Whether the datagram did not fit in the buffer and its tail was discarded.
    pub fn is_truncated(&self) -> bool {
        self.datagram_len > self.len
    }

    /// The sender's address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }
}

impl UdpSocket {
    /// Binds a UDP socket to `addr` (port 0: the kernel picks one), trying each address it
    /// resolves to in turn.
    ///
    /// Unlike [`TcpListener::bind`](super::TcpListener::bind) it does not set
    /// SO_REUSEPORT: two sockets on one port would split the datagrams between them.
    ///
    /// `bind` is synchronous, so a host name in `addr` (`"localhost:0"`) is resolved by a
    /// blocking getaddrinfo(3) on the calling thread, which stalls the core for as long as
    /// the resolver takes. Bind to a numeric address (`"0.0.0.0:0"`, `"[::]:0"`), or
    /// resolve the name first with [`lookup_host`](super::lookup_host).
    ///
    /// # Examples
    ///
    /// ```
    /// let sock = ringio::run(async { ringio::net::UdpSocket::bind("127.0.0.1:0") }).unwrap();
    /// assert_ne!(sock.local_addr().unwrap().port(), 0);
    /// ```
    ///
    /// # Errors
    ///
    /// If no address can be bound: `AddrInUse`, `PermissionDenied`, `AddrNotAvailable`...
    #[doc(alias = "create_datagram_endpoint")]
    pub fn bind<A: std::net::ToSocketAddrs>(addr: A) -> io::Result<UdpSocket> {
        each_addr(addr, |addr| {
            let socket = ip_socket(addr, Type::DGRAM, Protocol::UDP)?;
            socket.bind(&addr.into())?;
            Ok(UdpSocket {
                fd: SharedFd::new(socket.into()),
            })
        })
    }

    /// Sets the default peer: [`send`](Self::send) goes there and only its datagrams are
    /// received. A plain connect(2) to the first address `addr` resolves to that the
    /// socket accepts: no packet is sent.
    ///
    /// A numeric address is used as it is; a host name is resolved by
    /// [`lookup_host`](super::lookup_host) on the runtime's blocking pool, so a slow
    /// resolver delays this call only, never the other tasks of the core.
    ///
    /// # Examples
    ///
    /// ```
    /// use ringio::net::UdpSocket;
    ///
    /// ringio::run(async {
    ///     let a = UdpSocket::bind("127.0.0.1:0").unwrap();
    ///     let b = UdpSocket::bind("127.0.0.1:0").unwrap();
    ///     a.connect(b.local_addr().unwrap()).await.unwrap();
    ///     assert_eq!(a.peer_addr().unwrap(), b.local_addr().unwrap());
    ///
    ///     // A name is looked up on the blocking pool.
    ///     let port = b.local_addr().unwrap().port();
    ///     a.connect(("localhost", port)).await.unwrap();
    /// });
    /// ```
    ///
    /// # Errors
    ///
    /// `InvalidInput` for a malformed address string; the resolver's error, naming the
    /// host, if the name does not resolve; otherwise, if no address is usable (e.g. an
    /// IPv6 peer for an IPv4 socket), the last address's error.
    ///
    /// # Cancel safety
    ///
    /// Cancel-safe: the connect(2) itself does not wait. Dropped during a name lookup, the
    /// lookup finishes on its pool thread and its result is dropped.
    #[doc(alias = "remote_addr")]
    pub async fn connect<A: ToSocketAddrs>(&self, addr: A) -> io::Result<()> {
        let mut last = None;
        for addr in resolve(&addr).await? {
            match self.sock().connect(&addr.into()) {
                Ok(()) => return Ok(()),
                Err(e) => last = Some(e),
            }
        }
        Err(last.unwrap_or_else(resolved_to_nothing))
    }

    /// Sends the buffer's initialised bytes as one datagram to `addr` (the first address
    /// it resolves to); returns the number of bytes sent.
    ///
    /// A numeric address is used as it is; a host name is resolved by
    /// [`lookup_host`](super::lookup_host) on the runtime's blocking pool, once per call
    /// (resolve it once yourself to send many datagrams to one name).
    ///
    /// Uses MSG_NOSIGNAL.
    ///
    /// # Examples
    ///
    /// ```
    /// use ringio::net::UdpSocket;
    ///
    /// ringio::run(async {
    ///     let a = UdpSocket::bind("127.0.0.1:0").unwrap();
    ///     let (res, buf) = a.send_to(b"hello".to_vec(), a.local_addr().unwrap()).await;
    ///     assert_eq!(res.unwrap(), 5);
    ///     assert_eq!(buf, b"hello"); // the buffer comes back
    /// });
    /// ```
    ///
    /// # Errors
    ///
    /// `InvalidInput` if `addr` is malformed or resolves to nothing; the resolver's error,
    /// naming the host, if a name does not resolve; EMSGSIZE (see `raw_os_error`) for a
    /// datagram larger than the protocol allows; what sendmsg(2) reports otherwise (e.g.
    /// `ConnectionRefused` from an earlier ICMP error).
    ///
    /// # Cancel safety
    ///
    /// If the future is dropped the datagram may or may not have been sent. Dropped
    /// during the name lookup, it sends nothing; the lookup finishes on its pool thread
    /// and its result is dropped.
    #[doc(alias = "sock_sendto")]
    #[doc(alias = "sendto")]
    pub async fn send_to<B: IoBuf, A: ToSocketAddrs>(
        &self,
        buf: B,
        addr: A,
    ) -> BufResult<usize, B> {
        let addr = match resolve(&addr).await.and_then(first_addr) {
            Ok(a) => a,
            Err(e) => return (Err(e), buf),
        };
        finish(Op::sendmsg(&self.fd, buf, SockAddr::from(addr))).await
    }

    /// Receives one datagram into the buffer (from its start, up to its capacity) and
    /// returns the bytes stored and the sender.
    ///
    /// A datagram longer than the buffer is truncated: the count is what fits and the
    /// rest is lost (see [`recv_msg`](Self::recv_msg) to detect it).
    ///
    /// # Examples
    ///
    /// ```
    /// use ringio::net::UdpSocket;
    ///
    /// ringio::run(async {
    ///     let a = UdpSocket::bind("127.0.0.1:0").unwrap();
    ///     a.send_to(b"self", a.local_addr().unwrap()).await.0.unwrap();
    ///     let (res, buf) = a.recv_from(Vec::with_capacity(16)).await;
    ///     let (n, from) = res.unwrap();
    ///     assert_eq!((n, &buf[..]), (4, &b"self"[..]));
    ///     assert_eq!(from, a.local_addr().unwrap());
    /// });
    /// ```
    ///
    /// # Errors
    ///
    /// What recvmsg(2) reports (e.g. `ConnectionRefused` on a connected socket whose peer
    /// port is closed).
    ///
    /// # Cancel safety
    ///
    /// Not cancel-safe: a datagram that arrives just as the future is dropped is received
    /// into the dropped buffer and lost. UDP may lose datagrams anyway; a protocol on top
    /// of it already retries.
    #[doc(alias = "sock_recvfrom")]
    #[doc(alias = "recvfrom")]
    pub async fn recv_from<B: IoBufMut>(&self, buf: B) -> BufResult<(usize, SocketAddr), B> {
        let (res, buf) = self.recv_msg(buf).await;
        (res.map(|m| (m.len, m.addr)), buf)
    }

    /// Receives one datagram like [`recv_from`](Self::recv_from) and says whether it was
    /// truncated and how long it really was.
    ///
    /// # Examples
    ///
    /// See [`RecvMeta`].
    ///
    /// # Errors
    ///
    /// As [`recv_from`](Self::recv_from); also `Other` if the sender has no IP address
    /// (cannot happen for a socket made by [`bind`](Self::bind)).
    ///
    /// # Cancel safety
    ///
    /// As [`recv_from`](Self::recv_from): not cancel-safe.
    #[doc(alias = "recvmsg")]
    pub async fn recv_msg<B: IoBufMut>(&self, buf: B) -> BufResult<RecvMeta, B> {
        let (res, buf) = finish(Op::recvmsg(&self.fd, buf)).await;
        let meta = res.and_then(|r: Received| {
            let addr = ip_addr(&r.addr, "datagram sender")?;
            Ok(RecvMeta {
                len: r.len,
                datagram_len: r.datagram_len,
                addr,
            })
        });
        (meta, buf)
    }

    /// Sends the buffer's initialised bytes as one datagram to the connected peer.
    ///
    /// # Examples
    ///
    /// ```
    /// use ringio::net::UdpSocket;
    ///
    /// ringio::run(async {
    ///     let a = UdpSocket::bind("127.0.0.1:0").unwrap();
    ///     let b = UdpSocket::bind("127.0.0.1:0").unwrap();
    ///     a.connect(b.local_addr().unwrap()).await.unwrap();
    ///     b.connect(a.local_addr().unwrap()).await.unwrap();
    ///     a.send(b"hi").await.0.unwrap();
    ///     let (res, buf) = b.recv(vec![0u8; 8]).await;
    ///     assert_eq!(&buf[..res.unwrap()], b"hi");
    /// });
    /// ```
    ///
    /// # Errors
    ///
    /// EDESTADDRREQ ("Destination address required", see `raw_os_error`) without
    /// [`connect`](Self::connect); what send(2) reports otherwise, e.g.
    /// `ConnectionRefused` after the peer's port was found closed.
    ///
    /// # Cancel safety
    ///
    /// If the future is dropped the datagram may or may not have been sent.
    #[doc(alias = "sock_send")]
    pub async fn send<B: IoBuf>(&self, buf: B) -> BufResult<usize, B> {
        send_buf(&self.fd, buf, 0).await
    }

    /// Receives one datagram from the connected peer; returns the bytes stored (a longer
    /// datagram is truncated, as in [`recv_from`](Self::recv_from)).
    ///
    /// # Examples
    ///
    /// See [`send`](Self::send).
    ///
    /// # Errors
    ///
    /// As [`recv_from`](Self::recv_from).
    ///
    /// # Cancel safety
    ///
    /// Not cancel-safe, as [`recv_from`](Self::recv_from).
    #[doc(alias = "sock_recv")]
    pub async fn recv<B: IoBufMut>(&self, buf: B) -> BufResult<usize, B> {
        let (res, buf) = finish(Op::recvmsg(&self.fd, buf)).await;
        (res.map(|r| r.len), buf)
    }

    /// The address this socket is bound to.
    ///
    /// # Examples
    ///
    /// ```
    /// let sock = ringio::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    /// assert!(sock.local_addr().unwrap().ip().is_loopback());
    /// ```
    ///
    /// # Errors
    ///
    /// What getsockname(2) reports.
    #[doc(alias = "get_extra_info")]
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        ip_addr(&self.sock().local_addr()?, "socket")
    }

    /// The connected peer's address.
    ///
    /// # Examples
    ///
    /// See [`connect`](Self::connect).
    ///
    /// # Errors
    ///
    /// `NotConnected` before [`connect`](Self::connect).
    #[doc(alias = "getpeername")]
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        ip_addr(&self.sock().peer_addr()?, "socket")
    }

    /// Sets SO_BROADCAST: whether datagrams may go to a broadcast address.
    ///
    /// # Examples
    ///
    /// ```
    /// let sock = ringio::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    /// sock.set_broadcast(true).unwrap();
    /// assert!(sock.broadcast().unwrap());
    /// ```
    ///
    /// # Errors
    ///
    /// What setsockopt(2) reports.
    #[doc(alias = "allow_broadcast")]
    pub fn set_broadcast(&self, on: bool) -> io::Result<()> {
        self.sock().set_broadcast(on)
    }

    /// Whether SO_BROADCAST is set.
    ///
    /// # Examples
    ///
    /// See [`set_broadcast`](Self::set_broadcast).
    ///
    /// # Errors
    ///
    /// What getsockopt(2) reports.
    pub fn broadcast(&self) -> io::Result<bool> {
        self.sock().broadcast()
    }

    fn sock(&self) -> SockRef<'_> {
        SockRef::from(self.fd.as_fd())
    }
}

/// The first of `addrs`, where a datagram goes.
fn first_addr(mut addrs: impl Iterator<Item = SocketAddr>) -> io::Result<SocketAddr> {
    addrs.next().ok_or_else(resolved_to_nothing)
}
