//! The byte-stream traits and their extension loops.

// Tasks run on one core, so the futures these traits return need not be `Send`; the lint
// only warns that callers cannot demand it.
#![allow(async_fn_in_trait)]

use super::loops;
use crate::buf::{BufResult, IoBuf, IoBufMut};
use std::io;
use std::rc::Rc;

/// The smallest room [`AsyncReadExt::read_to_end`] makes before each read: one page.
const READ_TO_END_MIN_ROOM: usize = 4096;

/// A source of bytes read into owned buffers.
///
/// # Examples
///
/// ```
/// use ringio::io::{AsyncRead, AsyncWriteExt};
/// use ringio::net::{TcpListener, TcpStream};
///
/// async fn first_bytes(r: &impl AsyncRead) -> Vec<u8> {
///     let (n, buf) = r.read(Vec::with_capacity(64)).await;
///     n.unwrap();
///     buf
/// }
///
/// ringio::run(async {
///     let l = TcpListener::bind("127.0.0.1:0").unwrap();
///     let c = TcpStream::connect(l.local_addr().unwrap()).await.unwrap();
///     let (s, _) = l.accept().await.unwrap();
///     AsyncWriteExt::write_all(&s, b"hi").await.0.unwrap();
///     assert_eq!(first_bytes(&c).await, b"hi");
/// });
/// ```
pub trait AsyncRead {
    /// Reads what is available into the buffer, from its start, up to `bytes_total()`
    /// bytes; returns how many. `Ok(0)` means end of stream (or a buffer with no room).
    ///
    /// # Examples
    ///
    /// See [`AsyncRead`].
    ///
    /// # Errors
    ///
    /// What the underlying read reports.
    ///
    /// # Cancel safety
    ///
    /// Implementors in this crate are cancel-safe: bytes delivered to a dropped read are
    /// returned by the next one.
    async fn read<B: IoBufMut>(&self, buf: B) -> BufResult<usize, B>;
}

/// A sink of bytes written from owned buffers.
///
/// # Examples
///
/// ```
/// use ringio::io::{AsyncReadExt, AsyncWrite};
/// use ringio::net::{TcpListener, TcpStream};
///
/// ringio::run(async {
///     let l = TcpListener::bind("127.0.0.1:0").unwrap();
///     let c = TcpStream::connect(l.local_addr().unwrap()).await.unwrap();
///     let (s, _) = l.accept().await.unwrap();
///     let (n, _) = AsyncWrite::write(&c, b"ok").await;
///     assert_eq!(n.unwrap(), 2); // a tiny write goes out whole on loopback
///     AsyncWrite::shutdown(&c).await.unwrap();
///     let (n, buf) = s.read_to_end(Vec::new()).await;
///     assert_eq!((n.unwrap(), &buf[..]), (2, &b"ok"[..]));
/// });
/// ```
pub trait AsyncWrite {
    /// Writes some of the buffer's initialised bytes; returns how many.
    ///
    /// # Examples
    ///
    /// See [`AsyncWrite`].
    ///
    /// # Errors
    ///
    /// What the underlying write reports (`BrokenPipe`, `ConnectionReset`, ...).
    ///
    /// # Cancel safety
    ///
    /// If the future is dropped the bytes may or may not have been written.
    async fn write<B: IoBuf>(&self, buf: B) -> BufResult<usize, B>;

    /// Shuts down the write side: the peer reads end of stream once it has the rest.
    ///
    /// # Examples
    ///
    /// See [`AsyncWrite`].
    ///
    /// # Errors
    ///
    /// What shutdown(2) reports, e.g. `NotConnected`.
    async fn shutdown(&self) -> io::Result<()>;
}

/// Loops over [`AsyncRead::read`]; implemented for every reader.
///
/// # Examples
///
/// ```
/// use ringio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
/// use ringio::net::{TcpListener, TcpStream};
///
/// ringio::run(async {
///     let l = TcpListener::bind("127.0.0.1:0").unwrap();
///     let c = TcpStream::connect(l.local_addr().unwrap()).await.unwrap();
///     let (s, _) = l.accept().await.unwrap();
///     let (r, w) = s.into_split();
///     AsyncWriteExt::write_all(&c, b"12345").await.0.unwrap();
///     let (res, buf) = AsyncReadExt::read_exact(&r, vec![0u8; 5]).await;
///     res.unwrap();
///     assert_eq!(buf, b"12345");
///     # drop(w);
/// });
/// ```
pub trait AsyncReadExt: AsyncRead {
    /// Reads until the buffer holds `bytes_total()` bytes.
    ///
    /// # Examples
    ///
    /// See [`AsyncReadExt`].
    ///
    /// # Errors
    ///
    /// `UnexpectedEof` if the stream ends first (the bytes read so far are in the buffer,
    /// marked initialised, and the message says how many); otherwise the read's error.
    ///
    /// # Cancel safety
    ///
    /// Not cancel-safe: the bytes already in the buffer go with it if the future is dropped
    /// (those of the read in flight are kept by the stream for its next read).
    async fn read_exact<B: IoBufMut>(&self, buf: B) -> BufResult<(), B> {
        loops::read_exact(buf, "stream ended", |rest, _| self.read(rest)).await
    }

    /// Reads until end of stream, appending to `buf`; returns how many bytes were added.
    ///
    /// # Examples
    ///
    /// See [`AsyncWrite`].
    ///
    /// # Errors
    ///
    /// The read's error; the bytes read before it are in the buffer.
    ///
    /// # Cancel safety
    ///
    /// Not cancel-safe: the bytes appended so far go with the buffer if the future is
    /// dropped.
    async fn read_to_end(&self, buf: Vec<u8>) -> BufResult<usize, Vec<u8>> {
        let start = buf.len();
        let mut buf = buf;
        loop {
            if buf.capacity() - buf.len() < READ_TO_END_MIN_ROOM {
                buf.reserve(READ_TO_END_MIN_ROOM.max(buf.len()));
            }
            let len = buf.len();
            let (res, slice) = self.read(buf.slice(len..)).await;
            buf = slice.into_inner();
            match res {
                Ok(0) => return (Ok(buf.len() - start), buf),
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return (Err(e), buf),
            }
        }
    }
}

impl<R: AsyncRead + ?Sized> AsyncReadExt for R {}

/// Loops over [`AsyncWrite::write`]; implemented for every writer.
///
/// # Examples
///
/// ```
/// use ringio::io::{AsyncReadExt, AsyncWriteExt};
/// use ringio::net::{TcpListener, TcpStream};
///
/// ringio::run(async {
///     let l = TcpListener::bind("127.0.0.1:0").unwrap();
///     let c = TcpStream::connect(l.local_addr().unwrap()).await.unwrap();
///     let (s, _) = l.accept().await.unwrap();
///     let (_r, w) = c.into_split();
///     AsyncWriteExt::write_all(&w, vec![7u8; 100_000]).await.0.unwrap();
///     w.shutdown().unwrap();
///     let (n, _) = s.read_to_end(Vec::new()).await;
///     assert_eq!(n.unwrap(), 100_000);
/// });
/// ```
pub trait AsyncWriteExt: AsyncWrite {
    /// Writes every initialised byte of the buffer, however many writes it takes.
    ///
    /// # Examples
    ///
    /// See [`AsyncWriteExt`].
    ///
    /// # Errors
    ///
    /// The write's error; `WriteZero` if the sink accepts nothing.
    ///
    /// # Cancel safety
    ///
    /// Not cancel-safe: if dropped, an unknown prefix of the buffer was written.
    async fn write_all<B: IoBuf>(&self, buf: B) -> BufResult<(), B> {
        let total = buf.bytes_init();
        loops::write_all(buf, 0, "the sink", |buf, sent| async move {
            let (res, rest) = self.write(buf.slice(sent..total)).await;
            (res, rest.into_inner())
        })
        .await
    }
}

impl<W: AsyncWrite + ?Sized> AsyncWriteExt for W {}

impl<R: AsyncRead + ?Sized> AsyncRead for &R {
    async fn read<B: IoBufMut>(&self, buf: B) -> BufResult<usize, B> {
        (**self).read(buf).await
    }
}

impl<R: AsyncRead + ?Sized> AsyncRead for Rc<R> {
    async fn read<B: IoBufMut>(&self, buf: B) -> BufResult<usize, B> {
        (**self).read(buf).await
    }
}

impl<W: AsyncWrite + ?Sized> AsyncWrite for &W {
    async fn write<B: IoBuf>(&self, buf: B) -> BufResult<usize, B> {
        (**self).write(buf).await
    }
    async fn shutdown(&self) -> io::Result<()> {
        (**self).shutdown().await
    }
}

impl<W: AsyncWrite + ?Sized> AsyncWrite for Rc<W> {
    async fn write<B: IoBuf>(&self, buf: B) -> BufResult<usize, B> {
        (**self).write(buf).await
    }
    async fn shutdown(&self) -> io::Result<()> {
        (**self).shutdown().await
    }
}
