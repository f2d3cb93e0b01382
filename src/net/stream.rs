//! `TcpStream`: connect, read, write through the ring.

use super::split::{self, TcpReadHalf, TcpWriteHalf};
use super::stream_io::StreamIo;
use super::{ToSocketAddrs, ip_addr};
use crate::buf::{BufResult, IoBuf, IoBufMut, PooledBuf};
use crate::op::Op;
use socket2::{Protocol, Type};
use std::io;
use std::net::{Shutdown, SocketAddr};
use std::os::fd::OwnedFd;

/// A TCP connection.
///
/// Methods take `&self`, so one task can read while another writes (share it with `Rc`),
/// or split it with [`into_split`](TcpStream::into_split).
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
///         let (s, _) = listener.accept().await.unwrap();
///         s.write_all(b"pong").await.0.unwrap();
///     });
///     let s = TcpStream::connect(addr).await.unwrap();
///     let (res, buf) = s.read_exact(vec![0; 4]).await;
///     res.unwrap();
///     assert_eq!(buf, b"pong");
/// });
/// ```
#[doc(alias = "open_connection")]
#[derive(Debug)]
pub struct TcpStream {
    io: StreamIo,
}

impl TcpStream {
    pub(crate) fn from_fd(fd: OwnedFd) -> TcpStream {
        TcpStream {
            io: StreamIo::new(fd),
        }
    }

    /// The descriptor and read stash the compat adapters and `send_file` drive.
    pub(crate) fn stream_io(&self) -> &StreamIo {
        &self.io
    }

    /// Opens a connection to `addr`, trying each address it resolves to in turn.
    ///
    /// A numeric address (a [`SocketAddr`], `"127.0.0.1:80"`, `("::1", 80)`) is used as
    /// it is. A host name (`"example.com:80"`) is resolved by
    /// [`lookup_host`](super::lookup_host) on the runtime's blocking pool, so a slow or
    /// silent resolver delays this connect only, never the other tasks of the core.
    ///
    /// # Examples
    ///
    /// ```
    /// use ringio::net::{TcpListener, TcpStream};
    ///
    /// ringio::run(async {
    ///     let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    ///     let port = listener.local_addr().unwrap().port();
    ///     let _by_addr = TcpStream::connect(listener.local_addr().unwrap()).await.unwrap();
    ///     let by_name = TcpStream::connect(("localhost", port)).await.unwrap();
    ///     assert!(by_name.peer_addr().unwrap().ip().is_loopback());
    /// });
    /// ```
    ///
    /// # Errors
    ///
    /// `InvalidInput` for a malformed address string; the resolver's error, naming the
    /// host, if the name does not resolve (see [`lookup_host`](super::lookup_host));
    /// `InvalidInput` if it resolves to no address; else the last address's error:
    /// refused, unreachable, timed out, ...
    ///
    /// # Cancel safety
    ///
    /// Dropping the future cancels the connect and closes the socket; nothing leaks. If it
    /// is dropped during the name lookup, the lookup finishes on its pool thread and its
    /// result is dropped (getaddrinfo cannot be interrupted).
    pub async fn connect<A: ToSocketAddrs>(addr: A) -> io::Result<TcpStream> {
        let mut last = None;
        for addr in super::lookup::resolve(&addr).await? {
            match Self::connect_one(addr).await {
                Ok(s) => return Ok(s),
                Err(e) => last = Some(e),
            }
        }
        Err(last.unwrap_or_else(super::resolved_to_nothing))
    }

    async fn connect_one(addr: SocketAddr) -> io::Result<TcpStream> {
        let socket = super::ip_socket(addr, Type::STREAM, Protocol::TCP)?;
        let stream = TcpStream::from_fd(socket.into());
        Op::connect(stream.io.fd(), addr.into())?.await?;
        Ok(stream)
    }

    /// Reads what has arrived, up to the buffer's capacity; `Ok(0)` means the peer closed
    /// its side (or the buffer has no room).
    ///
    /// # Errors
    ///
    /// What recv(2) reports, e.g. `ConnectionReset` when the peer reset.
    ///
    /// # Cancel safety
    ///
    /// Cancel-safe: if the future is dropped after the kernel delivered data into the
    /// buffer, those bytes are kept and the next read on this stream returns them.
    pub async fn read<B: IoBufMut>(&self, buf: B) -> BufResult<usize, B> {
        self.io.read(buf).await
    }

    /// Receives into a buffer of the core's pool, which the kernel picks only when data
    /// arrives: a connection waiting here holds no buffer, so 10,000 idle connections
    /// cost no receive memory. Drop the [`PooledBuf`] (or let
    /// `write_all` consume it) to give the buffer back; an empty one means the peer
    /// closed its side.
    ///
    /// The pool (one per core, sized by
    /// [`Builder::buffer_pool`](crate::runtime::Builder::buffer_pool)) is registered on
    /// first use. If it is empty when data arrives, the bytes go into an owned buffer of the
    /// pool's buffer size instead, so the caller never sees ENOBUFS and never waits for
    /// other connections to give buffers back. If the kernel refuses the pool (older than
    /// 5.19, RLIMIT_MEMLOCK too low), every receive uses an owned buffer
    /// ([`pool_error`](crate::runtime::pool_error) says why).
    ///
    /// # Errors
    ///
    /// What recv(2) reports, e.g. `ConnectionReset`.
    ///
    /// # Cancel safety
    ///
    /// Cancel-safe: bytes the kernel delivered as the future was dropped are kept and
    /// returned by the next read on this stream.
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
    ///         let s = TcpStream::connect(addr).await.unwrap();
    ///         s.write_all(b"ping").await.0.unwrap();
    ///     });
    ///     let (conn, _) = listener.accept().await.unwrap();
    ///     let buf = conn.recv_pooled().await.unwrap();
    ///     assert_eq!(&buf[..], b"ping");
    /// });
    /// ```
    pub async fn recv_pooled(&self) -> io::Result<PooledBuf> {
        self.io.recv_pooled().await
    }

    /// The data of this connection as it arrives, from one multishot receive into the
    /// core's buffer pool that stays armed (see [`RecvStream`](super::RecvStream)).
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
    ///         let s = TcpStream::connect(addr).await.unwrap();
    ///         s.write_all(b"hello").await.0.unwrap();
    ///     });
    ///     let (conn, _) = listener.accept().await.unwrap();
    ///     let mut got = Vec::new();
    ///     let mut data = conn.recv_stream();
    ///     while let Some(buf) = data.next().await {
    ///         got.extend_from_slice(&buf.unwrap());
    ///     }
    ///     assert_eq!(got, b"hello");
    /// });
    /// ```
    pub fn recv_stream(&self) -> super::RecvStream<'_> {
        self.io.recv_stream()
    }

    /// Reads until the buffer is full (`bytes_total` bytes).
    ///
    /// # Errors
    ///
    /// `UnexpectedEof` if the peer closes first (the bytes read so far are in the buffer,
    /// marked initialised); otherwise what recv(2) reports.
    ///
    /// # Cancel safety
    ///
    /// Not cancel-safe: bytes already read into the buffer are lost with it if the future
    /// is dropped (the bytes of the read in flight are kept for the next read).
    pub async fn read_exact<B: IoBufMut>(&self, buf: B) -> BufResult<(), B> {
        self.io.read_exact(buf).await
    }

    /// Sends some of the buffer's initialised bytes; returns how many were sent.
    ///
    /// Uses MSG_NOSIGNAL: writing to a reset peer gives an error (`BrokenPipe` or
    /// `ConnectionReset`), never SIGPIPE.
    ///
    /// # Errors
    ///
    /// What send(2) reports.
    ///
    /// # Cancel safety
    ///
    /// If the future is dropped, the bytes may or may not have been sent.
    pub async fn write<B: IoBuf>(&self, buf: B) -> BufResult<usize, B> {
        self.io.write(buf).await
    }

    /// Sends every initialised byte of the buffer, however many sends it takes.
    ///
    /// # Errors
    ///
    /// What send(2) reports; `WriteZero` if the kernel accepts nothing.
    ///
    /// # Cancel safety
    ///
    /// Not cancel-safe: if dropped, an unknown prefix of the buffer was sent.
    pub async fn write_all<B: IoBuf>(&self, buf: B) -> BufResult<(), B> {
        self.io.write_all(buf).await
    }

    /// Shuts down the read side, the write side (the peer reads EOF), or both.
    ///
    /// # Errors
    ///
    /// What shutdown(2) reports, e.g. `NotConnected`.
    pub fn shutdown(&self, how: Shutdown) -> io::Result<()> {
        self.io.shutdown(how)
    }

    /// Sets TCP_NODELAY: small writes go out at once instead of waiting to be merged.
    ///
    /// # Errors
    ///
    /// What setsockopt(2) reports.
    pub fn set_nodelay(&self, nodelay: bool) -> io::Result<()> {
        self.io.sock().set_tcp_nodelay(nodelay)
    }

    /// Whether TCP_NODELAY is set.
    ///
    /// # Errors
    ///
    /// What getsockopt(2) reports.
    pub fn nodelay(&self) -> io::Result<bool> {
        self.io.sock().tcp_nodelay()
    }

    /// Sets SO_LINGER; `Some(0)` makes close send a reset instead of a FIN.
    ///
    /// # Errors
    ///
    /// What setsockopt(2) reports.
    pub fn set_linger(&self, linger: Option<std::time::Duration>) -> io::Result<()> {
        self.io.sock().set_linger(linger)
    }

    /// The peer's address.
    ///
    /// # Errors
    ///
    /// `NotConnected` if the connection is gone.
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        ip_addr(&self.io.sock().peer_addr()?, "socket")
    }

    /// This side's address.
    ///
    /// # Errors
    ///
    /// What getsockname(2) reports.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        ip_addr(&self.io.sock().local_addr()?, "socket")
    }

    /// Splits the stream into a read half and a write half that can move to different
    /// tasks; the socket closes when both are dropped.
    ///
    /// Bytes a cancelled read left behind stay with the read half: splitting loses none.
    ///
    /// # Examples
    ///
    /// ```
    /// use ringio::net::{TcpListener, TcpStream};
    ///
    /// ringio::run(async {
    ///     let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    ///     let client = TcpStream::connect(listener.local_addr().unwrap()).await.unwrap();
    ///     let (conn, _) = listener.accept().await.unwrap();
    ///     let (read, write) = conn.into_split();
    ///     // One task reads while another writes.
    ///     let reader = ringio::spawn(async move {
    ///         let (res, buf) = read.read_exact(vec![0u8; 4]).await;
    ///         res.unwrap();
    ///         buf
    ///     });
    ///     client.write_all(b"ping").await.0.unwrap();
    ///     assert_eq!(reader.await.unwrap(), b"ping");
    ///     write.write_all(b"pong").await.0.unwrap();
    ///     write.shutdown().unwrap(); // the client reads EOF after "pong"
    ///     let (res, buf) = client.read_exact(vec![0u8; 4]).await;
    ///     res.unwrap();
    ///     assert_eq!(buf, b"pong");
    ///     assert_eq!(client.read(vec![0u8; 1]).await.0.unwrap(), 0);
    /// });
    /// ```
    pub fn into_split(self) -> (TcpReadHalf, TcpWriteHalf) {
        split::split(self.io)
    }
}
