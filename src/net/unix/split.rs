//! The two halves of a `UnixStream`.

use super::UnixStream;
use crate::buf::{BufResult, IoBuf, IoBufMut};
use std::io;
use std::net::Shutdown;

/// The reading half of a [`UnixStream`], from [`UnixStream::into_split`].
///
/// # Examples
///
/// See [`UnixStream::into_split`].
#[derive(Debug)]
pub struct UnixReadHalf {
    stream: UnixStream,
}

/// The writing half of a [`UnixStream`], from [`UnixStream::into_split`]. Dropping it
/// does not close the connection while the read half lives; call
/// [`shutdown`](Self::shutdown).
///
/// # Examples
///
/// See [`UnixStream::into_split`].
#[derive(Debug)]
pub struct UnixWriteHalf {
    stream: UnixStream,
}

impl UnixReadHalf {
    pub(super) fn new(stream: UnixStream) -> Self {
        UnixReadHalf { stream }
    }

    /// As [`UnixStream::read`].
    ///
    /// # Errors
    ///
    /// As [`UnixStream::read`].
    ///
    /// # Cancel safety
    ///
    /// As [`UnixStream::read`]: cancel-safe.
    pub async fn read<B: IoBufMut>(&self, buf: B) -> BufResult<usize, B> {
        self.stream.read(buf).await
    }

    /// As [`UnixStream::read_exact`].
    ///
    /// # Errors
    ///
    /// As [`UnixStream::read_exact`].
    ///
    /// # Cancel safety
    ///
    /// As [`UnixStream::read_exact`]: not cancel-safe.
    pub async fn read_exact<B: IoBufMut>(&self, buf: B) -> BufResult<(), B> {
        self.stream.read_exact(buf).await
    }
}

impl UnixWriteHalf {
    pub(super) fn new(stream: UnixStream) -> Self {
        UnixWriteHalf { stream }
    }

    /// As [`UnixStream::write`].
    ///
    /// # Errors
    ///
    /// As [`UnixStream::write`].
    ///
    /// # Cancel safety
    ///
    /// As [`UnixStream::write`].
    pub async fn write<B: IoBuf>(&self, buf: B) -> BufResult<usize, B> {
        self.stream.write(buf).await
    }

    /// As [`UnixStream::write_all`].
    ///
    /// # Errors
    ///
    /// As [`UnixStream::write_all`].
    ///
    /// # Cancel safety
    ///
    /// As [`UnixStream::write_all`]: not cancel-safe.
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
