//! `UnixDatagram`: Unix domain datagrams through IORING_OP_SENDMSG / IORING_OP_RECVMSG.
//!
//! Truncation policy, as for UDP: a datagram longer than the receive buffer is cut to the
//! buffer's capacity and the rest is discarded (unix(7), `SOCK_DGRAM`); `recv` and
//! `recv_from` return the number of bytes stored, as std's `UnixDatagram` does.

use super::{abstract_addr, path_addr, std_addr, with_addr};
use crate::buf::{BufResult, IoBuf, IoBufMut};
use crate::op::result::finish;
use crate::op::{Op, send_buf};
use crate::sys::fd::SharedFd;
use socket2::{Domain, SockAddr, SockRef, Socket, Type};
use std::io;
use std::net::Shutdown;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::os::linux::net::SocketAddrExt;
use std::os::unix::net::SocketAddr;
use std::path::Path;

/// A Unix domain datagram socket: send and receive whole messages, to and from socket
/// files, abstract names or a connected peer. Messages keep their boundaries and, unlike
/// UDP, are neither lost nor reordered: a sender waits while the receiver's queue is full.
///
/// Methods take `&self`, so one task can receive while others send (share it with `Rc`).
///
/// # Examples
///
/// ```
/// use ringio::net::UnixDatagram;
///
/// ringio::run(async {
///     let (a, b) = UnixDatagram::pair().unwrap();
///     a.send(b"ping").await.0.unwrap();
///     let (res, buf) = b.recv(vec![0u8; 64]).await;
///     assert_eq!(&buf[..res.unwrap()], b"ping");
/// });
/// ```
#[derive(Debug)]
pub struct UnixDatagram {
    fd: SharedFd,
}

impl UnixDatagram {
    fn from_socket(socket: Socket) -> UnixDatagram {
        UnixDatagram {
            fd: SharedFd::new(socket.into()),
        }
    }

    fn new_socket() -> io::Result<Socket> {
        Socket::new(Domain::UNIX, Type::DGRAM.cloexec(), None)
    }

    /// Binds a socket to the file `path` (a leading NUL byte names an abstract socket).
    ///
    /// The file is left behind when the socket is dropped (as with std); remove it when
    /// done.
    ///
    /// # Examples
    ///
    /// ```
    /// use ringio::net::UnixDatagram;
    ///
    /// ringio::run(async {
    ///     let dir = std::env::temp_dir().join(format!("ringio-doc-dg-{}", std::process::id()));
    ///     std::fs::create_dir_all(&dir).unwrap();
    ///     let path = dir.join("sock");
    ///     let _ = std::fs::remove_file(&path);
    ///     let server = UnixDatagram::bind(&path).unwrap();
    ///     let client = UnixDatagram::unbound().unwrap();
    ///     client.send_to(b"hello", &path).await.0.unwrap();
    ///     let (res, buf) = server.recv_from(vec![0u8; 16]).await;
    ///     let (n, from) = res.unwrap();
    ///     assert_eq!(&buf[..n], b"hello");
    ///     assert!(from.is_unnamed()); // the client never bound
    ///     std::fs::remove_dir_all(&dir).unwrap();
    /// });
    /// ```
    ///
    /// # Errors
    ///
    /// `AddrInUse` if the file exists (a stale one is not removed for you; the message
    /// names the path); `NotFound` or `PermissionDenied` for the directory;
    /// `InvalidInput` for a path longer than `sun_path` (107 bytes).
    pub fn bind<P: AsRef<Path>>(path: P) -> io::Result<UnixDatagram> {
        Self::bind_addr(path_addr(path.as_ref())?)
    }

    /// Binds a socket to the abstract name `name` (Linux; no leading NUL: it is added):
    /// no file is made and the name goes away with the socket.
    ///
    /// # Examples
    ///
    /// ```
    /// use ringio::net::UnixDatagram;
    /// use std::os::linux::net::SocketAddrExt;
    ///
    /// ringio::run(async {
    ///     let name = format!("ringio-doc-dg-{}", std::process::id());
    ///     let server = UnixDatagram::bind_abstract(&name).unwrap();
    ///     let addr = server.local_addr().unwrap();
    ///     assert_eq!(addr.as_abstract_name(), Some(name.as_bytes()));
    ///     let client = UnixDatagram::unbound().unwrap();
    ///     client.send_to_addr(b"hi", &addr).await.0.unwrap();
    ///     assert_eq!(server.recv(vec![0u8; 8]).await.0.unwrap(), 2);
    /// });
    /// ```
    ///
    /// # Errors
    ///
    /// `AddrInUse` if another socket holds the name; `InvalidInput` if it is longer than
    /// 107 bytes.
    pub fn bind_abstract<N: AsRef<[u8]>>(name: N) -> io::Result<UnixDatagram> {
        Self::bind_addr(abstract_addr(name.as_ref())?)
    }

    fn bind_addr(addr: SockAddr) -> io::Result<UnixDatagram> {
        let socket = Self::new_socket()?;
        socket
            .bind(&addr)
            .map_err(|e| with_addr(e, "bind", &addr))?;
        Ok(Self::from_socket(socket))
    }

    /// A socket bound to no address: it can send (its messages arrive from an unnamed
    /// sender, which cannot be answered) and, once [`connect`](Self::connect)ed, receive
    /// from its peer.
    ///
    /// # Examples
    ///
    /// See [`bind`](Self::bind).
    ///
    /// # Errors
    ///
    /// `EMFILE`/`ENFILE` when out of descriptors.
    pub fn unbound() -> io::Result<UnixDatagram> {
        Ok(Self::from_socket(Self::new_socket()?))
    }

    /// Two sockets connected to each other (socketpair(2)).
    ///
    /// # Examples
    ///
    /// See [`UnixDatagram`].
    ///
    /// # Errors
    ///
    /// `EMFILE`/`ENFILE` when out of descriptors.
    #[doc(alias = "socketpair")]
    pub fn pair() -> io::Result<(UnixDatagram, UnixDatagram)> {
        let (a, b) = Socket::pair(Domain::UNIX, Type::DGRAM.cloexec(), None)?;
        Ok((Self::from_socket(a), Self::from_socket(b)))
    }

    /// Sets the default peer to the socket bound at `path`: [`send`](Self::send) goes
    /// there and only its messages are received. A plain connect(2): it does not wait.
    ///
    /// # Examples
    ///
    /// ```
    /// use ringio::net::UnixDatagram;
    /// use std::os::linux::net::SocketAddrExt;
    ///
    /// ringio::run(async {
    ///     let name = format!("ringio-doc-dg-connect-{}", std::process::id());
    ///     let server = UnixDatagram::bind_abstract(&name).unwrap();
    ///     let client = UnixDatagram::unbound().unwrap();
    ///     client.connect(format!("\0{name}")).unwrap();
    ///     let peer = client.peer_addr().unwrap();
    ///     assert_eq!(peer.as_abstract_name(), Some(name.as_bytes()));
    ///     client.send(b"x").await.0.unwrap();
    ///     assert_eq!(server.recv(vec![0u8; 4]).await.0.unwrap(), 1);
    /// });
    /// ```
    ///
    /// # Errors
    ///
    /// `NotFound` if there is no such file and `ConnectionRefused` if no socket is bound
    /// to it (a stale file), each naming the path; `PermissionDenied`; `InvalidInput`
    /// for a path longer than 107 bytes.
    pub fn connect<P: AsRef<Path>>(&self, path: P) -> io::Result<()> {
        let addr = path_addr(path.as_ref())?;
        self.sock()
            .connect(&addr)
            .map_err(|e| with_addr(e, "connect to", &addr))
    }

    /// Sends the buffer's initialised bytes as one message to the connected peer;
    /// returns the number of bytes sent (all of them).
    ///
    /// # Examples
    ///
    /// See [`UnixDatagram`].
    ///
    /// # Errors
    ///
    /// `NotConnected` without [`connect`](Self::connect) (or a pair); `ConnectionRefused`
    /// once the peer is closed; EMSGSIZE (see `raw_os_error`) for a message larger than
    /// the socket's send buffer; `BrokenPipe` after [`shutdown`](Self::shutdown) of the
    /// write side. MSG_NOSIGNAL: never SIGPIPE.
    ///
    /// # Cancel safety
    ///
    /// If the future is dropped the message may or may not have been sent (whole: never
    /// a part of it).
    #[doc(alias = "sock_send")]
    pub async fn send<B: IoBuf>(&self, buf: B) -> BufResult<usize, B> {
        send_buf(&self.fd, buf, 0).await
    }

    /// Receives one message from the connected peer into the buffer (from its start, up
    /// to its capacity); returns the bytes stored. A longer message is truncated: the
    /// rest is lost, as with std.
    ///
    /// # Examples
    ///
    /// See [`UnixDatagram`].
    ///
    /// # Errors
    ///
    /// What recvmsg(2) reports.
    ///
    /// # Cancel safety
    ///
    /// Not cancel-safe: a message that arrives just as the future is dropped is received
    /// into the dropped buffer and lost.
    #[doc(alias = "sock_recv")]
    pub async fn recv<B: IoBufMut>(&self, buf: B) -> BufResult<usize, B> {
        let (res, buf) = finish(Op::recvmsg(&self.fd, buf)).await;
        (res.map(|r| r.len), buf)
    }

    /// Sends the buffer's initialised bytes as one message to the socket bound at `path`
    /// (a leading NUL byte names an abstract socket).
    ///
    /// # Examples
    ///
    /// See [`bind`](Self::bind).
    ///
    /// # Errors
    ///
    /// Each naming the path: `NotFound` if there is no such file, `ConnectionRefused` if
    /// no socket is bound to it (a stale file), `PermissionDenied`; `InvalidInput` for a
    /// path longer than 107 bytes; otherwise as [`send`](Self::send).
    ///
    /// # Cancel safety
    ///
    /// As [`send`](Self::send).
    #[doc(alias = "sock_sendto")]
    #[doc(alias = "sendto")]
    pub async fn send_to<B: IoBuf, P: AsRef<Path>>(&self, buf: B, path: P) -> BufResult<usize, B> {
        match path_addr(path.as_ref()) {
            Ok(addr) => self.send_to_sockaddr(buf, addr).await,
            Err(e) => (Err(e), buf),
        }
    }

    /// Sends one message to `addr`: a path or an abstract name, such as the sender
    /// [`recv_from`](Self::recv_from) returned.
    ///
    /// # Examples
    ///
    /// See [`bind_abstract`](Self::bind_abstract).
    ///
    /// # Errors
    ///
    /// `InvalidInput` for an unnamed address (it cannot be sent to); otherwise as
    /// [`send_to`](Self::send_to).
    ///
    /// # Cancel safety
    ///
    /// As [`send`](Self::send).
    pub async fn send_to_addr<B: IoBuf>(&self, buf: B, addr: &SocketAddr) -> BufResult<usize, B> {
        let addr = if let Some(path) = addr.as_pathname() {
            path_addr(path)
        } else if let Some(name) = addr.as_abstract_name() {
            abstract_addr(name)
        } else {
            Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "cannot send to an unnamed Unix socket address (the sender never bound)",
            ))
        };
        match addr {
            Ok(addr) => self.send_to_sockaddr(buf, addr).await,
            Err(e) => (Err(e), buf),
        }
    }

    async fn send_to_sockaddr<B: IoBuf>(&self, buf: B, addr: SockAddr) -> BufResult<usize, B> {
        let (res, buf) = finish(Op::sendmsg(&self.fd, buf, addr.clone())).await;
        (res.map_err(|e| with_addr(e, "send to", &addr)), buf)
    }

    /// Receives one message into the buffer (from its start, up to its capacity) and
    /// returns the bytes stored and the sender's address (unnamed if the sender never
    /// bound). A longer message is truncated: the rest is lost, as with std.
    ///
    /// # Examples
    ///
    /// See [`bind`](Self::bind).
    ///
    /// # Errors
    ///
    /// What recvmsg(2) reports.
    ///
    /// # Cancel safety
    ///
    /// Not cancel-safe, as [`recv`](Self::recv).
    #[doc(alias = "sock_recvfrom")]
    #[doc(alias = "recvfrom")]
    pub async fn recv_from<B: IoBufMut>(&self, buf: B) -> BufResult<(usize, SocketAddr), B> {
        let (res, buf) = finish(Op::recvmsg(&self.fd, buf)).await;
        let res = res.and_then(|r| {
            // An unbound sender leaves the address empty (length 0, not even a family).
            let from = if r.addr.len() == 0 {
                SocketAddr::from_pathname("")?
            } else {
                std_addr(&r.addr)?
            };
            Ok((r.len, from))
        });
        (res, buf)
    }

    /// The address this socket is bound to (unnamed if it is not).
    ///
    /// # Examples
    ///
    /// See [`bind_abstract`](Self::bind_abstract).
    ///
    /// # Errors
    ///
    /// What getsockname(2) reports.
    #[doc(alias = "getsockname")]
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        std_addr(&self.sock().local_addr()?)
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
        std_addr(&self.sock().peer_addr()?)
    }

    /// Shuts down the read side, the write side, or both: later sends fail with
    /// `BrokenPipe`, and a receive on a read side shut down returns 0 at once.
    ///
    /// # Examples
    ///
    /// ```
    /// use ringio::net::UnixDatagram;
    /// use std::net::Shutdown;
    ///
    /// ringio::run(async {
    ///     let (a, _b) = UnixDatagram::pair().unwrap();
    ///     a.shutdown(Shutdown::Write).unwrap();
    ///     let err = a.send(b"late").await.0.unwrap_err();
    ///     assert_eq!(err.kind(), std::io::ErrorKind::BrokenPipe);
    /// });
    /// ```
    ///
    /// # Errors
    ///
    /// What shutdown(2) reports.
    pub fn shutdown(&self, how: Shutdown) -> io::Result<()> {
        self.sock().shutdown(how)
    }

    /// The socket as std's blocking `UnixDatagram`.
    ///
    /// If an op of a dropped future still holds the socket, std gets a duplicate of it
    /// (the same socket; the op's own descriptor closes when its CQE comes). The socket
    /// is made blocking again: the epoll backend switched it to `O_NONBLOCK`.
    ///
    /// # Examples
    ///
    /// ```
    /// use ringio::net::UnixDatagram;
    ///
    /// let (a, b) = ringio::run(async { UnixDatagram::pair() }).unwrap();
    /// let (a, b) = (a.into_std().unwrap(), b.into_std().unwrap());
    /// a.send(b"plain std").unwrap();
    /// let mut buf = [0u8; 16];
    /// assert_eq!(b.recv(&mut buf).unwrap(), 9);
    /// ```
    ///
    /// # Errors
    ///
    /// `EMFILE` if the duplicate cannot be made; what fcntl(2) reports.
    pub fn into_std(self) -> io::Result<std::os::unix::net::UnixDatagram> {
        let fd: OwnedFd = match self.fd.try_unwrap() {
            Ok(fd) => fd,
            Err(shared) => shared.as_fd().try_clone()?,
        };
        let socket = std::os::unix::net::UnixDatagram::from(fd);
        socket.set_nonblocking(false)?;
        Ok(socket)
    }

    fn sock(&self) -> SockRef<'_> {
        SockRef::from(self.fd.as_fd())
    }
}

impl From<std::os::unix::net::UnixDatagram> for UnixDatagram {
    /// Takes over a std socket, made blocking: io_uring waits on a blocking socket by
    /// polling it, and some kernels answer an op on an `O_NONBLOCK` one with `EAGAIN`.
    fn from(socket: std::os::unix::net::UnixDatagram) -> UnixDatagram {
        // fcntl(2) F_SETFL cannot fail on an open descriptor; were it to, the epoll
        // backend would still work and io_uring would report the EAGAIN it meets.
        let _ = socket.set_nonblocking(false);
        UnixDatagram {
            fd: SharedFd::new(socket.into()),
        }
    }
}

impl AsRawFd for UnixDatagram {
    fn as_raw_fd(&self) -> RawFd {
        self.fd.raw()
    }
}
