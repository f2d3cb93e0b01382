//! `BufReader`: asyncio's `StreamReader` (`readline`, `readuntil`, `readexactly`).

use super::{AsyncRead, AsyncWrite, DEFAULT_BUF_SIZE, DEFAULT_LINE_LIMIT, IncompleteRead};
use crate::buf::{BufResult, IoBuf};
use fill::Scan;
use std::io;

/// A reader with a buffer, for reading lines, delimited chunks and exact sizes.
///
/// Bytes stay in the reader's own buffer until a call returns them, and that buffer is
/// never handed to the kernel: reads land in a separate buffer and are copied in (one
/// `memcpy` per read, the price of rule 2 of the [module docs](super)). So a
/// `read_line` dropped by a timeout loses nothing: the next call sees every byte.
///
/// Rules on memory, for a peer that sends whatever it likes:
/// 1. A line (or [`read_until`](Self::read_until) chunk) is at most the limit long,
///    [`DEFAULT_LINE_LIMIT`] (64 KiB, asyncio's `limit=`) unless set with
///    [`with_limit`](Self::with_limit) or removed with
///    [`without_limit`](Self::without_limit). A longer one gives [`LimitOverrun`](super::LimitOverrun) once
///    the limit is buffered: the reader never holds more than the limit plus one read
///    of it, however long the peer's line.
/// 2. After an overrun the reader never passes a piece of the over-long item off as an
///    item: its buffered bytes are dropped with the error, and if its delimiter has not
///    arrived yet the next read of any kind first reads on and drops bytes, one read at
///    a time, through that delimiter. The next call so starts at the next line, as after
///    asyncio's `readline`, but the error comes at once: a server that closes the
///    connection on it does not read the rest of the item first.
/// 3. Memory an item needed beyond the usual is given back once the item is taken: a
///    reader that once held a 20 MB item (no limit, or a big
///    [`read_exact`](Self::read_exact)) does not keep 20 MB.
///
/// # Examples
///
/// ```
/// use ringio::io::BufReader;
/// use ringio::net::{TcpListener, TcpStream};
///
/// ringio::run(async {
///     let l = TcpListener::bind("127.0.0.1:0").unwrap();
///     let c = TcpStream::connect(l.local_addr().unwrap()).await.unwrap();
///     let (s, _) = l.accept().await.unwrap();
///     c.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n").await.0.unwrap();
///     let mut r = BufReader::new(s);
///     let mut lines = Vec::new();
///     loop {
///         let mut line = String::new();
///         r.read_line(&mut line).await.unwrap();
///         if line == "\r\n" {
///             break;
///         }
///         lines.push(line);
///     }
///     assert_eq!(lines, ["GET / HTTP/1.1\r\n", "Host: x\r\n"]);
/// });
/// ```
#[doc(alias = "StreamReader")]
#[derive(Debug)]
pub struct BufReader<R> {
    inner: R,
    /// The buffered bytes are `buf[pos..]`.
    buf: Vec<u8>,
    pos: usize,
    /// Where reads land before being copied into `buf`; a dropped read takes only this
    /// allocation with it (the stream keeps the bytes).
    landing: Vec<u8>,
    capacity: usize,
    limit: Option<usize>,
    /// The delimiter of an over-long item whose end has not been read yet: reads drop
    /// bytes through it first (rule 2).
    skipping: Option<u8>,
}

impl<R> BufReader<R> {
    /// Wraps `inner` with a buffer of [`DEFAULT_BUF_SIZE`] bytes and the line limit
    /// [`DEFAULT_LINE_LIMIT`].
    ///
    /// # Examples
    ///
    /// See [`BufReader`].
    pub fn new(inner: R) -> Self {
        Self::with_capacity(DEFAULT_BUF_SIZE, inner)
    }

    /// Wraps `inner`, reading up to `capacity` bytes per read (at least 1), with the line
    /// limit [`DEFAULT_LINE_LIMIT`].
    ///
    /// # Examples
    ///
    /// ```
    /// use ringio::io::BufReader;
    /// use ringio::net::{TcpListener, TcpStream};
    ///
    /// ringio::run(async {
    ///     let l = TcpListener::bind("127.0.0.1:0").unwrap();
    ///     let c = TcpStream::connect(l.local_addr().unwrap()).await.unwrap();
    ///     let r = BufReader::with_capacity(64 * 1024, c);
    ///     assert_eq!(r.capacity(), 64 * 1024);
    /// });
    /// ```
    pub fn with_capacity(capacity: usize, inner: R) -> Self {
        let capacity = capacity.max(1);
        BufReader {
            inner,
            buf: Vec::with_capacity(capacity),
            pos: 0,
            landing: Vec::new(),
            capacity,
            limit: Some(DEFAULT_LINE_LIMIT),
            skipping: None,
        }
    }

    /// Sets the longest line (delimiter included) that [`read_line`](Self::read_line) and
    /// [`read_until`](Self::read_until) accept; longer ones give [`LimitOverrun`](super::LimitOverrun). The
    /// reader holds at most about `limit` bytes for a line (rule 1).
    ///
    /// # Examples
    ///
    /// See [`LimitOverrun`](super::LimitOverrun).
    pub fn with_limit(mut self, limit: usize) -> Self {
        self.limit = Some(limit);
        self
    }

    /// Removes the line limit: a line is buffered whole however long it is, so a peer
    /// that never sends the delimiter makes the buffer grow without bound. Only for
    /// trusted input.
    ///
    /// # Examples
    ///
    /// ```
    /// # ringio::run(async {
    /// # let l = ringio::net::TcpListener::bind("127.0.0.1:0").unwrap();
    /// # let c = ringio::net::TcpStream::connect(l.local_addr().unwrap()).await.unwrap();
    /// let r = ringio::io::BufReader::new(c).without_limit();
    /// assert_eq!(r.limit(), None);
    /// # });
    /// ```
    pub fn without_limit(mut self) -> Self {
        self.limit = None;
        self
    }

    /// The line limit: [`DEFAULT_LINE_LIMIT`] unless set; `None` after
    /// [`without_limit`](Self::without_limit).
    ///
    /// # Examples
    ///
    /// ```
    /// # ringio::run(async {
    /// # let l = ringio::net::TcpListener::bind("127.0.0.1:0").unwrap();
    /// # let c = ringio::net::TcpStream::connect(l.local_addr().unwrap()).await.unwrap();
    /// let r = ringio::io::BufReader::new(c).with_limit(1024);
    /// assert_eq!(r.limit(), Some(1024));
    /// # });
    /// ```
    pub fn limit(&self) -> Option<usize> {
        self.limit
    }

    /// How many bytes one read asks for.
    ///
    /// # Examples
    ///
    /// See [`with_capacity`](Self::with_capacity).
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// The buffered bytes not yet returned.
    ///
    /// # Examples
    ///
    /// See [`fill_buf`](Self::fill_buf).
    pub fn buffer(&self) -> &[u8] {
        &self.buf[self.pos..]
    }

    /// Drops the first `n` buffered bytes (all of them if fewer are buffered).
    ///
    /// # Examples
    ///
    /// See [`fill_buf`](Self::fill_buf).
    pub fn consume(&mut self, n: usize) {
        self.pos = self.pos.saturating_add(n).min(self.buf.len());
        self.shrink_if_oversized();
    }

    /// The wrapped reader.
    ///
    /// # Examples
    ///
    /// ```
    /// # ringio::run(async {
    /// # let l = ringio::net::TcpListener::bind("127.0.0.1:0").unwrap();
    /// # let c = ringio::net::TcpStream::connect(l.local_addr().unwrap()).await.unwrap();
    /// let r = ringio::io::BufReader::new(c);
    /// assert!(r.get_ref().peer_addr().is_ok());
    /// # });
    /// ```
    pub fn get_ref(&self) -> &R {
        &self.inner
    }

    /// The wrapped reader, mutably; reading from it directly skips the buffered bytes.
    ///
    /// # Examples
    ///
    /// ```
    /// # ringio::run(async {
    /// # let l = ringio::net::TcpListener::bind("127.0.0.1:0").unwrap();
    /// # let c = ringio::net::TcpStream::connect(l.local_addr().unwrap()).await.unwrap();
    /// let mut r = ringio::io::BufReader::new(c);
    /// r.get_mut().set_nodelay(true).unwrap();
    /// # });
    /// ```
    pub fn get_mut(&mut self) -> &mut R {
        &mut self.inner
    }

    /// Gives back the reader and the buffered bytes not yet returned. After a
    /// [`LimitOverrun`](super::LimitOverrun) whose item had not ended, the reader is still inside that item.
    ///
    /// # Examples
    ///
    /// ```
    /// # ringio::run(async {
    /// # let l = ringio::net::TcpListener::bind("127.0.0.1:0").unwrap();
    /// # let c = ringio::net::TcpStream::connect(l.local_addr().unwrap()).await.unwrap();
    /// let (stream, rest) = ringio::io::BufReader::new(c).into_parts();
    /// assert!(rest.is_empty());
    /// # drop(stream);
    /// # });
    /// ```
    pub fn into_parts(mut self) -> (R, Vec<u8>) {
        self.buf.drain(..self.pos);
        (self.inner, self.buf)
    }

    /// Gives back the reader; the buffered bytes are dropped (see
    /// [`into_parts`](Self::into_parts) to keep them).
    ///
    /// # Examples
    ///
    /// ```
    /// # ringio::run(async {
    /// # let l = ringio::net::TcpListener::bind("127.0.0.1:0").unwrap();
    /// # let c = ringio::net::TcpStream::connect(l.local_addr().unwrap()).await.unwrap();
    /// let stream = ringio::io::BufReader::new(c).into_inner();
    /// # drop(stream);
    /// # });
    /// ```
    pub fn into_inner(self) -> R {
        self.inner
    }
}

impl<R: AsyncRead> BufReader<R> {
    /// Returns the buffered bytes, reading once first if there are none; an empty slice
    /// means end of stream. Pair with [`consume`](Self::consume).
    ///
    /// # Examples
    ///
    /// ```
    /// use ringio::io::BufReader;
    /// use ringio::net::{TcpListener, TcpStream};
    ///
    /// ringio::run(async {
    ///     let l = TcpListener::bind("127.0.0.1:0").unwrap();
    ///     let c = TcpStream::connect(l.local_addr().unwrap()).await.unwrap();
    ///     let (s, _) = l.accept().await.unwrap();
    ///     c.write_all(b"abc").await.0.unwrap();
    ///     let mut r = BufReader::new(s);
    ///     let first = r.fill_buf().await.unwrap()[0];
    ///     r.consume(1);
    ///     assert_eq!(first, b'a');
    ///     assert_eq!(r.buffer(), b"bc");
    /// });
    /// ```
    ///
    /// # Errors
    ///
    /// The read's error.
    ///
    /// # Cancel safety
    ///
    /// Cancel-safe.
    pub async fn fill_buf(&mut self) -> io::Result<&[u8]> {
        self.skip_overrun().await?;
        if self.pos == self.buf.len() {
            self.fill_more(0).await?;
        }
        Ok(self.buffer())
    }

    /// Reads a line, `\n` included, and appends it to `line`; returns its length in
    /// bytes. At end of stream the last line comes back without `\n` (asyncio
    /// `readline`, std `read_line`), and after it `Ok(0)`.
    ///
    /// # Examples
    ///
    /// See [`BufReader`].
    ///
    /// # Errors
    ///
    /// - [`LimitOverrun`](super::LimitOverrun) (kind `InvalidData`) if the line is longer than the limit;
    ///   `line` is unchanged and the over-long line is dropped, the part not read yet by
    ///   the next call (rule 2 of [`BufReader`]).
    /// - `InvalidData` if the line is not UTF-8; its bytes are consumed and `line` is
    ///   unchanged (use [`read_until`](Self::read_until) for raw bytes).
    /// - The read's error; the bytes read so far stay buffered.
    ///
    /// # Cancel safety
    ///
    /// Cancel-safe: `line` is only touched when the whole line is in, and until then the
    /// bytes stay in the reader, so the next call returns the full line.
    #[doc(alias = "readline")]
    pub async fn read_line(&mut self, line: &mut String) -> io::Result<usize> {
        self.skip_overrun().await?;
        let n = match self.scan_until(b'\n').await? {
            Scan::Found(n) | Scan::Eof(n) => n,
        };
        let text = std::str::from_utf8(&self.buf[self.pos..self.pos + n]);
        let res = match text {
            Ok(text) => {
                line.push_str(text);
                Ok(n)
            }
            Err(e) => Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("line of {n} bytes is not UTF-8 ({e}); read_until gives raw bytes"),
            )),
        };
        self.pos += n;
        self.shrink_if_oversized();
        res
    }

    /// Reads up to and including `delimiter` and appends the bytes to `out`; returns how
    /// many. `Ok(0)` means the stream ended with nothing buffered.
    ///
    /// # Examples
    ///
    /// ```
    /// use ringio::io::BufReader;
    /// use ringio::net::{TcpListener, TcpStream};
    ///
    /// ringio::run(async {
    ///     let l = TcpListener::bind("127.0.0.1:0").unwrap();
    ///     let c = TcpStream::connect(l.local_addr().unwrap()).await.unwrap();
    ///     let (s, _) = l.accept().await.unwrap();
    ///     c.write_all(b"key\0value\0").await.0.unwrap();
    ///     let mut r = BufReader::new(s);
    ///     let mut out = Vec::new();
    ///     assert_eq!(r.read_until(0, &mut out).await.unwrap(), 4);
    ///     assert_eq!(out, b"key\0");
    /// });
    /// ```
    ///
    /// # Errors
    ///
    /// - [`LimitOverrun`](super::LimitOverrun) (kind `InvalidData`) if the chunk is longer than the limit; `out`
    ///   is unchanged and the chunk is dropped, as by [`read_line`](Self::read_line).
    /// - [`IncompleteRead`] (kind `UnexpectedEof`) if the stream ends after some bytes but
    ///   before `delimiter` (asyncio `readuntil`); the error holds those bytes and `out`
    ///   is unchanged.
    /// - The read's error; the bytes read so far stay buffered.
    ///
    /// # Cancel safety
    ///
    /// Cancel-safe, as [`read_line`](Self::read_line).
    #[doc(alias = "readuntil")]
    pub async fn read_until(&mut self, delimiter: u8, out: &mut Vec<u8>) -> io::Result<usize> {
        self.skip_overrun().await?;
        match self.scan_until(delimiter).await? {
            Scan::Found(n) => {
                out.extend_from_slice(&self.buf[self.pos..self.pos + n]);
                self.pos += n;
                self.shrink_if_oversized();
                Ok(n)
            }
            Scan::Eof(0) => Ok(0),
            Scan::Eof(n) => Err(IncompleteRead::new(self.take(n), None).into()),
        }
    }

    /// Reads exactly `n` bytes (asyncio `readexactly`).
    ///
    /// # Examples
    ///
    /// ```
    /// use ringio::io::BufReader;
    /// use ringio::net::{TcpListener, TcpStream};
    ///
    /// ringio::run(async {
    ///     let l = TcpListener::bind("127.0.0.1:0").unwrap();
    ///     let c = TcpStream::connect(l.local_addr().unwrap()).await.unwrap();
    ///     let (s, _) = l.accept().await.unwrap();
    ///     c.write_all(b"\x00\x03abc").await.0.unwrap();
    ///     let mut r = BufReader::new(s);
    ///     let len = r.read_exact(2).await.unwrap();
    ///     let body = r.read_exact(u16::from_be_bytes([len[0], len[1]]) as usize).await.unwrap();
    ///     assert_eq!(body, b"abc");
    /// });
    /// ```
    ///
    /// # Errors
    ///
    /// - [`IncompleteRead`] (kind `UnexpectedEof`) if the stream ends first; it holds the
    ///   bytes that did arrive.
    /// - The read's error; the bytes read so far stay buffered.
    ///
    /// # Cancel safety
    ///
    /// Cancel-safe: the bytes stay buffered until all `n` are in.
    #[doc(alias = "readexactly")]
    pub async fn read_exact(&mut self, n: usize) -> io::Result<Vec<u8>> {
        self.skip_overrun().await?;
        loop {
            let have = self.buf.len() - self.pos;
            if have >= n {
                return Ok(self.take(n));
            }
            if self.fill_more(n - have).await? == 0 {
                return Err(IncompleteRead::new(self.take(have), Some(n)).into());
            }
        }
    }

    /// Reads until end of stream, appending to `out`; returns how many bytes were added.
    ///
    /// # Examples
    ///
    /// ```
    /// use ringio::io::BufReader;
    /// use ringio::net::{TcpListener, TcpStream};
    ///
    /// ringio::run(async {
    ///     let l = TcpListener::bind("127.0.0.1:0").unwrap();
    ///     let c = TcpStream::connect(l.local_addr().unwrap()).await.unwrap();
    ///     let (s, _) = l.accept().await.unwrap();
    ///     c.write_all(b"head\nbody").await.0.unwrap();
    ///     drop(c);
    ///     let mut r = BufReader::new(s);
    ///     let mut head = String::new();
    ///     r.read_line(&mut head).await.unwrap();
    ///     let mut rest = Vec::new();
    ///     assert_eq!(r.read_to_end(&mut rest).await.unwrap(), 4);
    ///     assert_eq!(rest, b"body");
    /// });
    /// ```
    ///
    /// # Errors
    ///
    /// The read's error; the bytes before it are in `out`.
    ///
    /// # Cancel safety
    ///
    /// Cancel-safe: bytes move to `out` as they arrive, so after a drop `out` holds every
    /// byte read and the reader the rest.
    #[doc(alias = "read")]
    pub async fn read_to_end(&mut self, out: &mut Vec<u8>) -> io::Result<usize> {
        self.skip_overrun().await?;
        let start = out.len();
        loop {
            out.extend_from_slice(self.buffer());
            self.pos = self.buf.len();
            if self.fill_more(0).await? == 0 {
                return Ok(out.len() - start);
            }
        }
    }
}

/// Writes go straight to the wrapped stream, so a `BufReader<TcpStream>` can answer what
/// it reads.
impl<R: AsyncWrite> AsyncWrite for BufReader<R> {
    async fn write<B: IoBuf>(&self, buf: B) -> BufResult<usize, B> {
        self.inner.write(buf).await
    }
    async fn shutdown(&self) -> io::Result<()> {
        self.inner.shutdown().await
    }
}

mod fill;
#[cfg(test)]
mod prop_tests;
