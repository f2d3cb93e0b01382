//! `UnixStream`: connect, read, write through the ring (the TCP shape).

use super::super::split::{self, UnixReadHalf, UnixWriteHalf};
use super::super::stream_io::StreamIo;
use super::{abstract_addr, path_addr, std_addr, with_addr};
use crate::buf::{BufResult, IoBuf, IoBufMut};
use socket2::{Domain, SockAddr, Socket, Type};
use std::io;
use std::net::Shutdown;
use std::os::fd::OwnedFd;
use std::os::unix::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

/// First pause before retrying a connect refused for a full backlog (EAGAIN): short, as
/// a server usually drains its backlog within a millisecond or two.
const CONNECT_RETRY_MIN: Duration = Duration::from_millis(1);
/// The longest pause between retries: bounds how late a waiting connect notices room.
const CONNECT_RETRY_MAX: Duration = Duration::from_millis(50);

/// A Unix domain stream connection.
///
/// Methods take `&self`, so one task can read while another writes (share it with `Rc`).
///
/// # Examples
///
/// ```
/// use ringio::net::UnixStream;
///
/// ringio::run(async {
///     let (a, b) = UnixStream::pair().unwrap();
///     a.write_all(b"ping").await.0.unwrap();
///     let (res, buf) = b.read_exact(vec![0u8; 4]).await;
///     res.unwrap();
///     assert_eq!(buf, b"ping");
/// });
/// ```
#[doc(alias = "open_unix_connection")]
#[derive(Debug)]
pub struct UnixStream {
    io: StreamIo,
}

impl UnixStream {
    pub(super) fn from_fd(fd: OwnedFd) -> UnixStream {
        UnixStream {
            io: StreamIo::new(fd),
        }
    }

    /// The descriptor and read stash the compat adapters drive.
    #[cfg(any(feature = "tokio-io", feature = "futures-io", feature = "hyper"))]
    pub(crate) fn stream_io(&self) -> &StreamIo {
        &self.io
    }

    /// Connects to the socket file `path` (a leading NUL byte names an abstract socket).
    ///
    /// # Examples
    ///
    /// See [`UnixListener`](super::UnixListener).
    ///
    /// # Errors
    ///
    /// `NotFound` if there is no such file; `ConnectionRefused` if the file exists but
    /// nothing listens (a stale socket file left by a server that exited: the message says
    /// so); `PermissionDenied`; `InvalidInput` for a path longer than 107 bytes.
    ///
    /// A listener whose backlog is full is not an error: the connect waits, retrying
    /// after 1 ms, then doubling the pause up to 50 ms, until there is room (the kernel
    /// gives no event for that). Bound the wait with [`timeout`](crate::time::timeout).
    ///
    /// # Cancel safety
    ///
    /// Dropping the future abandons the connect and closes the socket; nothing leaks.
    #[doc(alias = "open_unix_connection")]
    pub async fn connect<P: AsRef<Path>>(path: P) -> io::Result<UnixStream> {
        Self::connect_addr(path_addr(path.as_ref())?).await
    }

    /// Connects to the abstract name `name` (Linux; no leading NUL: it is added).
    ///
    /// # Examples
    ///
    /// See [`UnixListener::bind_abstract`](super::UnixListener::bind_abstract).
    ///
    /// # Errors
    ///
    /// `ConnectionRefused` if nothing listens on the name; `InvalidInput` if it is longer
    /// than 107 bytes.
    ///
    /// # Cancel safety
    ///
    /// As [`connect`](Self::connect).
    pub async fn connect_abstract<N: AsRef<[u8]>>(name: N) -> io::Result<UnixStream> {
        Self::connect_addr(abstract_addr(name.as_ref())?).await
    }

    /// A plain non-blocking connect(2), not IORING_OP_CONNECT: for a Unix socket the
    /// kernel either connects at once or, when the listener's backlog is full, says EAGAIN
    /// with no event to wait for (connect(2)). io_uring then re-polls a socket that is
    /// always writable, and such ops stayed in flight after their async-cancel in our
    /// tests (kernel 6.18), so the full-backlog case retries here after a growing pause.
    async fn connect_addr(addr: SockAddr) -> io::Result<UnixStream> {
        let socket = Socket::new(Domain::UNIX, Type::STREAM.nonblocking().cloexec(), None)?;
        let mut pause = CONNECT_RETRY_MIN;
        loop {
            match socket.connect(&addr) {
                Ok(()) => break,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    crate::time::sleep(pause).await;
                    pause = CONNECT_RETRY_MAX.min(pause * 2);
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(with_addr(e, "connect to", &addr)),
            }
        }
        // Blocking again: ring ops wait by polling, and io_uring answers some ops on an
        // O_NONBLOCK file with EAGAIN instead of waiting.
        socket.set_nonblocking(false)?;
        Ok(UnixStream::from_fd(socket.into()))
    }

    /// A pair of connected streams (socketpair(2)), e.g. to talk to a child task.
    ///
    /// # Examples
    ///
    /// See [`UnixStream`].
    ///
    /// # Errors
    ///
    /// `EMFILE`/`ENFILE` when out of descriptors.
    #[doc(alias = "socketpair")]
    pub fn pair() -> io::Result<(UnixStream, UnixStream)> {
        let (a, b) = Socket::pair(Domain::UNIX, Type::STREAM.cloexec(), None)?;
        Ok((UnixStream::from_fd(a.into()), UnixStream::from_fd(b.into())))
    }

    /// Reads what has arrived, up to the buffer's capacity; `Ok(0)` means the peer closed
    /// its side (or the buffer has no room).
    ///
    /// # Examples
    ///
    /// ```
    /// use ringio::net::UnixStream;
    ///
    /// ringio::run(async {
    ///     let (a, b) = UnixStream::pair().unwrap();
    ///     a.write(b"abc").await.0.unwrap();
    ///     let (res, buf) = b.read(Vec::with_capacity(16)).await;
    ///     assert_eq!(res.unwrap(), 3);
    ///     assert_eq!(buf, b"abc");
    /// });
    /// ```
    ///
    /// # Errors
    ///
    /// What recv(2) reports, e.g. `ConnectionReset`.
    ///
    /// # Cancel safety
    ///
    /// Cancel-safe: if the future is dropped after the kernel delivered data into the
    /// buffer, those bytes are kept and the next read on this stream returns them.
    pub async fn read<B: IoBufMut>(&self, buf: B) -> BufResult<usize, B> {
        self.io.read(buf).await
    }

    /// Reads until the buffer is full (`bytes_total` bytes).
    ///
    /// # Examples
    ///
    /// See [`UnixStream`].
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
    #[doc(alias = "readexactly")]
    pub async fn read_exact<B: IoBufMut>(&self, buf: B) -> BufResult<(), B> {
        self.io.read_exact(buf).await
    }

    /// Sends some of the buffer's initialised bytes; returns how many were sent.
    ///
    /// Uses MSG_NOSIGNAL: writing to a closed peer gives `BrokenPipe`, never SIGPIPE.
    ///
    /// # Examples
    ///
    /// See [`read`](Self::read).
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
    /// # Examples
    ///
    /// See [`UnixStream`].
    ///
    /// # Errors
    ///
    /// What send(2) reports; `WriteZero` if the kernel accepts nothing.
    ///
    /// # Cancel safety
    ///
    /// Not cancel-safe: if dropped, an unknown prefix of the buffer was sent.
    #[doc(alias = "drain")]
    pub async fn write_all<B: IoBuf>(&self, buf: B) -> BufResult<(), B> {
        self.io.write_all(buf).await
    }

    /// Shuts down the read side, the write side (the peer reads EOF), or both.
    ///
    /// # Examples
    ///
    /// ```
    /// use ringio::net::UnixStream;
    /// use std::net::Shutdown;
    ///
    /// ringio::run(async {
    ///     let (a, b) = UnixStream::pair().unwrap();
    ///     a.shutdown(Shutdown::Write).unwrap();
    ///     assert_eq!(b.read(vec![0u8; 4]).await.0.unwrap(), 0);
    /// });
    /// ```
    ///
    /// # Errors
    ///
    /// What shutdown(2) reports, e.g. `NotConnected`.
    #[doc(alias = "write_eof")]
    pub fn shutdown(&self, how: Shutdown) -> io::Result<()> {
        self.io.shutdown(how)
    }

    /// The peer's address (a path, an abstract name, or unnamed).
    ///
    /// # Examples
    ///
    /// See [`UnixListener::bind_abstract`](super::UnixListener::bind_abstract).
    ///
    /// # Errors
    ///
    /// `NotConnected` if the connection is gone.
    #[doc(alias = "getpeername")]
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        std_addr(&self.io.sock().peer_addr()?)
    }

    /// This side's address (unnamed for a client that did not bind).
    ///
    /// # Examples
    ///
    /// ```
    /// let (a, _b) = ringio::net::UnixStream::pair().unwrap();
    /// assert!(a.local_addr().unwrap().is_unnamed());
    /// ```
    ///
    /// # Errors
    ///
    /// What getsockname(2) reports.
    #[doc(alias = "getsockname")]
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        std_addr(&self.io.sock().local_addr()?)
    }

    /// Splits the stream into a read half and a write half that can move to different
    /// tasks; the socket closes when both are dropped.
    ///
    /// # Examples
    ///
    /// ```
    /// use ringio::net::UnixStream;
    ///
    /// ringio::run(async {
    ///     let (a, b) = UnixStream::pair().unwrap();
    ///     let (read, write) = a.into_split();
    ///     let echo = ringio::spawn(async move {
    ///         let (res, buf) = read.read_exact(vec![0u8; 3]).await;
    ///         res.unwrap();
    ///         buf
    ///     });
    ///     b.write_all(b"abc").await.0.unwrap();
    ///     assert_eq!(echo.await.unwrap(), b"abc");
    ///     write.shutdown().unwrap();
    ///     assert_eq!(b.read(vec![0u8; 1]).await.0.unwrap(), 0);
    /// });
    /// ```
    pub fn into_split(self) -> (UnixReadHalf, UnixWriteHalf) {
        split::split(self.io)
    }
}
