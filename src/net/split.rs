//! The two halves of a `TcpStream`.

use crate::buf::{BufResult, IoBuf, IoBufMut};
use crate::fd::SharedFd;
use crate::op::Unread;
use std::io;
use std::net::Shutdown;
use std::rc::Rc;

use super::TcpStream;

/// The reading half of a [`TcpStream`], from [`TcpStream::into_split`].
#[derive(Debug)]
pub struct TcpReadHalf {
    stream: TcpStream,
}

/// The writing half of a [`TcpStream`], from [`TcpStream::into_split`]. Dropping it does
/// not close the connection while the read half lives; call [`shutdown`](Self::shutdown).
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

    /// As [`TcpStream::recv_stream`].
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
