//! `BufWriter`: asyncio's `StreamWriter` (`write` then `drain`).

use super::{AsyncWrite, AsyncWriteExt, DEFAULT_BUF_SIZE};
use std::io;

/// A writer that gathers small writes into one buffer and sends them with one
/// [`flush`](Self::flush) (asyncio's `write` + `drain`).
///
/// A write that does not fit flushes what is buffered first; one at least as large as
/// the buffer is sent on its own instead of being copied through it.
///
/// Dropping a `BufWriter` does not send what is buffered (that needs an `.await`): call
/// [`flush`](Self::flush) or [`shutdown`](Self::shutdown) first.
///
/// # Examples
///
/// ```
/// use ringio::io::{AsyncReadExt, BufWriter};
/// use ringio::net::{TcpListener, TcpStream};
///
/// ringio::run(async {
///     let l = TcpListener::bind("127.0.0.1:0").unwrap();
///     let c = TcpStream::connect(l.local_addr().unwrap()).await.unwrap();
///     let (s, _) = l.accept().await.unwrap();
///     let mut w = BufWriter::new(c);
///     for i in 0..3 {
///         w.write(format!("line {i}\n").as_bytes()).await.unwrap(); // buffered
///     }
///     w.shutdown().await.unwrap(); // one send, then FIN
///     let (_, text) = s.read_to_end(Vec::new()).await;
///     assert_eq!(text, b"line 0\nline 1\nline 2\n");
/// });
/// ```
#[doc(alias = "StreamWriter")]
#[derive(Debug)]
pub struct BufWriter<W> {
    inner: W,
    buf: Vec<u8>,
    capacity: usize,
}

impl<W> BufWriter<W> {
    /// Wraps `inner` with a buffer of [`DEFAULT_BUF_SIZE`] bytes.
    ///
    /// # Examples
    ///
    /// See [`BufWriter`].
    pub fn new(inner: W) -> Self {
        Self::with_capacity(DEFAULT_BUF_SIZE, inner)
    }

    /// Wraps `inner` with a buffer of `capacity` bytes (at least 1).
    ///
    /// # Examples
    ///
    /// ```
    /// # ringio::run(async {
    /// # let l = ringio::net::TcpListener::bind("127.0.0.1:0").unwrap();
    /// # let c = ringio::net::TcpStream::connect(l.local_addr().unwrap()).await.unwrap();
    /// let w = ringio::io::BufWriter::with_capacity(64 * 1024, c);
    /// assert_eq!(w.capacity(), 64 * 1024);
    /// # });
    /// ```
    pub fn with_capacity(capacity: usize, inner: W) -> Self {
        let capacity = capacity.max(1);
        BufWriter {
            inner,
            buf: Vec::with_capacity(capacity),
            capacity,
        }
    }

    /// How many bytes the buffer holds before a write flushes it.
    ///
    /// # Examples
    ///
    /// See [`with_capacity`](Self::with_capacity).
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// The bytes written but not yet sent.
    ///
    /// # Examples
    ///
    /// ```
    /// # ringio::run(async {
    /// # let l = ringio::net::TcpListener::bind("127.0.0.1:0").unwrap();
    /// # let c = ringio::net::TcpStream::connect(l.local_addr().unwrap()).await.unwrap();
    /// let mut w = ringio::io::BufWriter::new(c);
    /// w.write(b"hi").await.unwrap();
    /// assert_eq!(w.buffer(), b"hi");
    /// # });
    /// ```
    pub fn buffer(&self) -> &[u8] {
        &self.buf
    }

    /// The wrapped writer; writing to it directly jumps ahead of the buffered bytes.
    ///
    /// # Examples
    ///
    /// ```
    /// # ringio::run(async {
    /// # let l = ringio::net::TcpListener::bind("127.0.0.1:0").unwrap();
    /// # let c = ringio::net::TcpStream::connect(l.local_addr().unwrap()).await.unwrap();
    /// let w = ringio::io::BufWriter::new(c);
    /// assert!(w.get_ref().peer_addr().is_ok());
    /// # });
    /// ```
    pub fn get_ref(&self) -> &W {
        &self.inner
    }

    /// Gives back the writer and the bytes not yet sent.
    ///
    /// # Examples
    ///
    /// ```
    /// # ringio::run(async {
    /// # let l = ringio::net::TcpListener::bind("127.0.0.1:0").unwrap();
    /// # let c = ringio::net::TcpStream::connect(l.local_addr().unwrap()).await.unwrap();
    /// let mut w = ringio::io::BufWriter::new(c);
    /// w.write(b"unsent").await.unwrap();
    /// let (_stream, unsent) = w.into_parts();
    /// assert_eq!(unsent, b"unsent");
    /// # });
    /// ```
    pub fn into_parts(self) -> (W, Vec<u8>) {
        (self.inner, self.buf)
    }
}

impl<W: AsyncWrite> BufWriter<W> {
    /// Takes every byte of `data`: buffers it, flushing first if it does not fit, or
    /// sends it at once if it is at least as large as the buffer.
    ///
    /// Unlike std's `Write::write` it never takes only part of `data` (asyncio's
    /// `StreamWriter.write`), so there is no count to check.
    ///
    /// # Examples
    ///
    /// See [`BufWriter`].
    ///
    /// # Errors
    ///
    /// The error of the flush or send it had to make; then an unknown prefix of the
    /// buffered bytes was sent, the rest are dropped, and `data` was not taken.
    ///
    /// # Cancel safety
    ///
    /// Cancel-safe while it only buffers (it returns without waiting); otherwise as
    /// [`flush`](Self::flush).
    pub async fn write(&mut self, data: &[u8]) -> io::Result<()> {
        if self.buf.len() + data.len() > self.capacity {
            self.flush().await?;
        }
        if data.len() >= self.capacity {
            // One copy into an owned buffer is needed anyway (the kernel cannot borrow
            // `data`); going through `buf` would add a second.
            let (res, _) = self.inner.write_all(data.to_vec()).await;
            return res;
        }
        self.buf.extend_from_slice(data);
        Ok(())
    }

    /// Sends every buffered byte (asyncio `drain`).
    ///
    /// # Examples
    ///
    /// See [`BufWriter`].
    ///
    /// # Errors
    ///
    /// The send's error; an unknown prefix of the buffered bytes was sent and the rest
    /// are dropped (the writer stays usable, its buffer empty).
    ///
    /// # Cancel safety
    ///
    /// Not cancel-safe: the buffer is in the kernel's hands while it is sent, so a dropped
    /// flush has sent an unknown prefix and the rest is lost.
    #[doc(alias = "drain")]
    pub async fn flush(&mut self) -> io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let pending = std::mem::take(&mut self.buf);
        let (res, mut pending) = self.inner.write_all(pending).await;
        pending.clear();
        self.buf = pending;
        res
    }

    /// Flushes, then shuts down the write side of the wrapped writer (asyncio's
    /// `write_eof`).
    ///
    /// # Examples
    ///
    /// See [`BufWriter`].
    ///
    /// # Errors
    ///
    /// The flush's or the shutdown's error.
    ///
    /// # Cancel safety
    ///
    /// As [`flush`](Self::flush).
    #[doc(alias = "write_eof")]
    pub async fn shutdown(&mut self) -> io::Result<()> {
        self.flush().await?;
        self.inner.shutdown().await
    }
}
