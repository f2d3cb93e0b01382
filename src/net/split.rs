//! The two halves of a stream socket, one generic type each for TCP and Unix streams.

use super::stream_io::StreamIo;
use super::{RecvStream, TcpStream, UnixStream};
use crate::buf::{BufResult, IoBuf, IoBufMut, PooledBuf};
use std::fmt;
use std::io;
use std::marker::PhantomData;
use std::net::Shutdown;

/// The reading half of a [`TcpStream`] or a [`UnixStream`] (`S`), from
/// [`TcpStream::into_split`] or [`UnixStream::into_split`]; its other names are
/// [`TcpReadHalf`] and [`UnixReadHalf`].
///
/// It shares the stream's store of bytes a cancelled read left behind, so a read dropped
/// on the whole stream before the split, or on this half after it, loses nothing: the
/// next read on this half returns those bytes first.
///
/// # Examples
///
/// The halves of either stream type implement the `io` traits, so code written against
/// those serves both (more in [`TcpStream::into_split`] and [`UnixStream::into_split`]):
///
/// ```
/// use ringio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
/// use ringio::net::UnixStream;
///
/// async fn answer(read: &impl AsyncRead, write: &impl AsyncWrite) {
///     let (res, question) = read.read_exact(vec![0u8; 4]).await;
///     res.unwrap();
///     assert_eq!(question, b"ping");
///     write.write_all(b"pong").await.0.unwrap();
/// }
///
/// ringio::run(async {
///     let (a, b) = UnixStream::pair().unwrap();
///     let (read, write) = a.into_split();
///     b.write_all(b"ping").await.0.unwrap();
///     answer(&read, &write).await;
///     let (res, reply) = b.read_exact(vec![0u8; 4]).await;
///     res.unwrap();
///     assert_eq!(reply, b"pong");
/// });
/// ```
pub struct ReadHalf<S> {
    io: StreamIo,
    /// Which stream this half came from (it owns none: the halves share a [`StreamIo`]).
    stream: PhantomData<S>,
}

/// The writing half of a [`TcpStream`] or a [`UnixStream`] (`S`), from
/// [`TcpStream::into_split`] or [`UnixStream::into_split`]; its other names are
/// [`TcpWriteHalf`] and [`UnixWriteHalf`]. Dropping it does not close the connection
/// while the read half lives; call [`shutdown`](Self::shutdown).
///
/// # Examples
///
/// See [`TcpStream::into_split`] and [`UnixStream::into_split`].
pub struct WriteHalf<S> {
    io: StreamIo,
    stream: PhantomData<S>,
}

/// The reading half of a [`TcpStream`], from [`TcpStream::into_split`].
pub type TcpReadHalf = ReadHalf<TcpStream>;
/// The writing half of a [`TcpStream`], from [`TcpStream::into_split`].
pub type TcpWriteHalf = WriteHalf<TcpStream>;
/// The reading half of a [`UnixStream`], from [`UnixStream::into_split`].
pub type UnixReadHalf = ReadHalf<UnixStream>;
/// The writing half of a [`UnixStream`], from [`UnixStream::into_split`].
pub type UnixWriteHalf = WriteHalf<UnixStream>;

/// Splits a stream's [`StreamIo`]: both halves share its descriptor (closed when both
/// are dropped) and its unread bytes (which only the read half reads).
pub(super) fn split<S>(io: StreamIo) -> (ReadHalf<S>, WriteHalf<S>) {
    let read = ReadHalf {
        io: io.clone(),
        stream: PhantomData,
    };
    let write = WriteHalf {
        io,
        stream: PhantomData,
    };
    (read, write)
}

impl<S> ReadHalf<S> {
    /// The descriptor and read stash the compat adapters drive.
    #[cfg(any(feature = "tokio-io", feature = "futures-io", feature = "hyper"))]
    pub(crate) fn stream_io(&self) -> &StreamIo {
        &self.io
    }

    /// As the stream's `read` ([`TcpStream::read`], [`UnixStream::read`]).
    ///
    /// # Errors
    ///
    /// As the stream's `read`.
    ///
    /// # Cancel safety
    ///
    /// As the stream's `read`: cancel-safe.
    pub async fn read<B: IoBufMut>(&self, buf: B) -> BufResult<usize, B> {
        self.io.read(buf).await
    }

    /// As the stream's `read_exact` ([`TcpStream::read_exact`],
    /// [`UnixStream::read_exact`]).
    ///
    /// # Errors
    ///
    /// As the stream's `read_exact`.
    ///
    /// # Cancel safety
    ///
    /// As the stream's `read_exact`: not cancel-safe.
    pub async fn read_exact<B: IoBufMut>(&self, buf: B) -> BufResult<(), B> {
        self.io.read_exact(buf).await
    }
}

impl ReadHalf<TcpStream> {
    /// As [`TcpStream::recv_pooled`].
    ///
    /// # Errors
    ///
    /// As [`TcpStream::recv_pooled`].
    ///
    /// # Cancel safety
    ///
    /// As [`TcpStream::recv_pooled`]: cancel-safe.
    pub async fn recv_pooled(&self) -> io::Result<PooledBuf> {
        self.io.recv_pooled().await
    }

    /// As [`TcpStream::recv_stream`]: the data of the connection as it arrives, from one
    /// multishot receive into the core's buffer pool.
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
    ///     let (read, _write) = conn.into_split();
    ///     client.write_all(b"hi").await.0.unwrap();
    ///     drop(client);
    ///     let mut got = Vec::new();
    ///     let mut data = read.recv_stream();
    ///     while let Some(buf) = data.next().await {
    ///         got.extend_from_slice(&buf.unwrap());
    ///     }
    ///     assert_eq!(got, b"hi");
    /// });
    /// ```
    ///
    /// # Cancel safety
    ///
    /// As [`RecvStream`]: dropping the stream (or a `next` in flight) cancels the
    /// receive, and bytes it had received but not handed out are kept for the next read
    /// on this half.
    pub fn recv_stream(&self) -> RecvStream<'_> {
        self.io.recv_stream()
    }
}

impl<S> WriteHalf<S> {
    /// The descriptor and read stash the compat adapters drive.
    #[cfg(any(feature = "tokio-io", feature = "futures-io", feature = "hyper"))]
    pub(crate) fn stream_io(&self) -> &StreamIo {
        &self.io
    }

    /// As the stream's `write` ([`TcpStream::write`], [`UnixStream::write`]).
    ///
    /// # Errors
    ///
    /// As the stream's `write`.
    ///
    /// # Cancel safety
    ///
    /// As the stream's `write`.
    pub async fn write<B: IoBuf>(&self, buf: B) -> BufResult<usize, B> {
        self.io.write(buf).await
    }

    /// As the stream's `write_all` ([`TcpStream::write_all`],
    /// [`UnixStream::write_all`]).
    ///
    /// # Errors
    ///
    /// As the stream's `write_all`.
    ///
    /// # Cancel safety
    ///
    /// As the stream's `write_all`: not cancel-safe.
    pub async fn write_all<B: IoBuf>(&self, buf: B) -> BufResult<(), B> {
        self.io.write_all(buf).await
    }

    /// Shuts down the write side: the peer reads EOF.
    ///
    /// # Errors
    ///
    /// What shutdown(2) reports.
    pub fn shutdown(&self) -> io::Result<()> {
        self.io.shutdown(Shutdown::Write)
    }
}

impl<S> fmt::Debug for ReadHalf<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ReadHalf").field("io", &self.io).finish()
    }
}

impl<S> fmt::Debug for WriteHalf<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WriteHalf").field("io", &self.io).finish()
    }
}
