//! The two halves of a `TcpStream`.

use crate::buf::{BufResult, IoBuf, IoBufMut};
use crate::fd::SharedFd;
use crate::op::Unread;
use std::io;
use std::net::Shutdown;
use std::rc::Rc;

use super::TcpStream;

/// The reading half of a [`TcpStream`], from [`TcpStream::into_split`].
///
/// It shares the stream's store of bytes a cancelled read left behind, so a read dropped
/// on the whole stream before the split, or on this half after it, loses nothing: the
/// next read on this half returns those bytes first.
///
/// # Examples
///
/// See [`TcpStream::into_split`].
#[derive(Debug)]
pub struct TcpReadHalf {
    stream: TcpStream,
}

/// The writing half of a [`TcpStream`], from [`TcpStream::into_split`]. Dropping it does
/// not close the connection while the read half lives; call [`shutdown`](Self::shutdown).
///
/// # Examples
///
/// See [`TcpStream::into_split`].
#[derive(Debug)]
pub struct TcpWriteHalf {
    stream: TcpStream,
}

impl TcpReadHalf {
    pub(super) fn new(fd: SharedFd, unread: Rc<Unread>) -> Self {
        TcpReadHalf {
            stream: TcpStream { fd, unread },
        }
    }

    /// As [`TcpStream::read`].
    ///
    /// # Errors
    ///
    /// As [`TcpStream::read`].
    ///
    /// # Cancel safety
    ///
    /// As [`TcpStream::read`]: cancel-safe.
    pub async fn read<B: IoBufMut>(&self, buf: B) -> BufResult<usize, B> {
        self.stream.read(buf).await
    }

    /// As [`TcpStream::read_exact`].
    ///
    /// # Errors
    ///
    /// As [`TcpStream::read_exact`].
    ///
    /// # Cancel safety
    ///
    /// As [`TcpStream::read_exact`]: not cancel-safe.
    pub async fn read_exact<B: IoBufMut>(&self, buf: B) -> BufResult<(), B> {
        self.stream.read_exact(buf).await
    }

    /// As [`TcpStream::recv_pooled`].
    ///
    /// # Errors
    ///
    /// As [`TcpStream::recv_pooled`].
    ///
    /// # Cancel safety
    ///
    /// As [`TcpStream::recv_pooled`]: cancel-safe.
    pub async fn recv_pooled(&self) -> io::Result<crate::buf::PooledBuf> {
        self.stream.recv_pooled().await
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
    /// As [`RecvStream`](super::RecvStream): dropping the stream (or a `next` in flight)
    /// cancels the receive, and bytes it had received but not handed out are kept for
    /// the next read on this half.
    pub fn recv_stream(&self) -> super::RecvStream<'_> {
        self.stream.recv_stream()
    }
}

impl TcpWriteHalf {
    pub(super) fn new(fd: SharedFd) -> Self {
        TcpWriteHalf {
            stream: TcpStream {
                fd,
                unread: Rc::new(Unread::default()),
            },
        }
    }

    /// As [`TcpStream::write`].
    ///
    /// # Errors
    ///
    /// As [`TcpStream::write`].
    ///
    /// # Cancel safety
    ///
    /// As [`TcpStream::write`].
    pub async fn write<B: IoBuf>(&self, buf: B) -> BufResult<usize, B> {
        self.stream.write(buf).await
    }

    /// As [`TcpStream::write_all`].
    ///
    /// # Errors
    ///
    /// As [`TcpStream::write_all`].
    ///
    /// # Cancel safety
    ///
    /// As [`TcpStream::write_all`]: not cancel-safe.
    pub async fn write_all<B: IoBuf>(&self, buf: B) -> BufResult<(), B> {
        self.stream.write_all(buf).await
    }

    /// Shuts down the write side: the peer reads EOF.
    ///
    /// # Errors
    ///
    /// What shutdown(2) reports.
    pub fn shutdown(&self) -> io::Result<()> {
        self.stream.shutdown(Shutdown::Write)
    }
}
