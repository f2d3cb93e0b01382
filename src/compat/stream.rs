//! [`Compat`] itself: the stream, its read and write sides, and the poll core the trait
//! impls call.

use super::read::ReadCore;
use super::write::WriteCore;
use crate::net::{ReadHalf, StreamIo, TcpStream, UnixStream, WriteHalf};
use std::fmt;
use std::io::{self, IoSlice};
use std::task::{Context, Poll};

/// A ringio stream as the ecosystem's poll-based I/O traits see it: `tokio::io`'s
/// `AsyncRead`, `AsyncBufRead` and `AsyncWrite` (feature `tokio-io`) and `futures_io`'s
/// (feature `futures-io`).
///
/// `T` is a [`TcpStream`], a [`UnixStream`] or one of their halves: a read half gets the
/// read traits only, a write half the write trait only. The [module docs](crate::compat) give the
/// rules: one read and one write in flight at a time, reads that lose nothing when their
/// caller walks away, writes reported once the kernel took them. A `Compat` is `!Send`:
/// poll it on the core of the ringio runtime that made its stream.
///
/// The core's buffer pool backs the reads, so a `Compat` waiting for data holds no
/// receive buffer.
#[cfg_attr(
    feature = "tokio-io",
    doc = r#"
# Examples

An echo through tokio's traits:

```
use ringio::compat::Compat;
use ringio::net::{TcpListener, TcpStream};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

ringio::run(async {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    ringio::spawn(async move {
        let (stream, _) = listener.accept().await.unwrap();
        let (read, write) = stream.into_split();
        let (mut read, mut write) = (Compat::new(read), Compat::new(write));
        tokio::io::copy(&mut read, &mut write).await.unwrap();
        write.shutdown().await.unwrap();
    });
    let mut client = Compat::new(TcpStream::connect(addr).await.unwrap());
    client.write_all(b"hello").await.unwrap();
    client.shutdown().await.unwrap(); // FIN: the server's copy ends
    let mut echoed = Vec::new();
    client.read_to_end(&mut echoed).await.unwrap();
    assert_eq!(echoed, b"hello");
});
```
"#
)]
#[cfg_attr(
    all(feature = "futures-io", not(feature = "tokio-io")),
    doc = r#"
# Examples

A round trip through futures' traits:

```
use futures_util::io::{AsyncReadExt, AsyncWriteExt};
use ringio::compat::Compat;
use ringio::net::UnixStream;

ringio::run(async {
    let (a, b) = UnixStream::pair().unwrap();
    let (mut a, mut b) = (Compat::new(a), Compat::new(b));
    a.write_all(b"ping").await.unwrap();
    let mut got = [0u8; 4];
    b.read_exact(&mut got).await.unwrap();
    assert_eq!(&got, b"ping");
});
```
"#
)]
pub struct Compat<T> {
    inner: T,
    read: ReadCore,
    write: WriteCore,
}

mod sealed {
    /// How a `Compat` reaches its stream's descriptor and read stash.
    pub trait Sealed {
        // The type is the crate's own; the trait sits in a private module, so no one
        // outside the crate can name it, implement it or import this method.
        #[allow(private_interfaces)]
        fn compat_io(&self) -> &crate::net::StreamIo;
    }
}

/// The stream types a [`Compat`] wraps: [`TcpStream`], [`UnixStream`], [`ReadHalf`] and
/// [`WriteHalf`]. Sealed: only ringio implements it.
pub trait CompatStream: sealed::Sealed {}

macro_rules! compat_stream {
    ($([$($g:ident),*] $t:ty),*) => {$(
        impl<$($g),*> sealed::Sealed for $t {
            #[allow(private_interfaces)]
            fn compat_io(&self) -> &StreamIo {
                self.stream_io()
            }
        }
        impl<$($g),*> CompatStream for $t {}
        impl<$($g),*> From<$t> for Compat<$t> {
            fn from(stream: $t) -> Self {
                Compat::new(stream)
            }
        }
    )*};
}

compat_stream!([] TcpStream, [] UnixStream, [S] ReadHalf<S>, [S] WriteHalf<S>);

// The stream is never pinned through a `Compat` (nothing projects a pin to it), so a
// `Compat` moves freely whatever the stream's marker types are.
impl<T> Unpin for Compat<T> {}

impl<T: CompatStream> Compat<T> {
    /// Wraps `stream`; also `Compat::from(stream)` or `stream.into()`.
    ///
    /// Nothing is allocated until the first read or write.
    ///
    /// # Examples
    ///
    /// ```
    /// use ringio::compat::Compat;
    /// use ringio::net::UnixStream;
    ///
    /// ringio::run(async {
    ///     let (a, _b) = UnixStream::pair().unwrap();
    ///     let compat = Compat::new(a);
    ///     let _peer = compat.get_ref().peer_addr().unwrap();
    ///     // Back to ringio's own methods; nothing read is lost on the way.
    ///     let a: UnixStream = compat.into_inner();
    ///     let (read, write) = a.into_split();
    ///     let (_read, _write): (Compat<_>, Compat<_>) = (read.into(), write.into());
    /// });
    /// ```
    #[must_use]
    pub fn new(stream: T) -> Self {
        Compat {
            inner: stream,
            read: ReadCore::default(),
            write: WriteCore::default(),
        }
    }

    /// The stream. Reading from it directly while the `Compat` holds unread bytes, or
    /// while its receive is in flight, would take bytes out of order: use
    /// [`into_inner`](Self::into_inner) to go back to the stream's own methods.
    pub fn get_ref(&self) -> &T {
        &self.inner
    }

    /// The stream back, with nothing lost on the read side: bytes received and not yet
    /// read, and those of a receive in flight (cancelled here), are returned first by the
    /// stream's next read.
    ///
    /// A send in flight is cancelled: flush first (`AsyncWriteExt::flush`) to finish it.
    /// What the kernel took of it before the cancel is sent.
    pub fn into_inner(mut self) -> T {
        self.read.hand_back(self.inner.compat_io());
        self.inner
    }

    #[cfg(any(feature = "tokio-io", feature = "futures-io"))]
    /// Poll core: the bytes received and not read yet (a pool buffer's), receiving when
    /// there are none; empty at end of stream.
    pub(crate) fn poll_fill_buf_core(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<&[u8]>> {
        self.read.poll_fill_buf(self.inner.compat_io(), cx)
    }

    #[cfg(any(feature = "tokio-io", feature = "futures-io"))]
    /// Poll core: marks `n` bytes of [`poll_fill_buf_core`](Self::poll_fill_buf_core) read.
    pub(crate) fn consume_core(&mut self, n: usize) {
        self.read.consume(n);
    }

    /// Poll core: reads at most `room` bytes and hands them to `put` in one slice;
    /// `Ready(Ok(0))` at end of stream or when `room` is 0.
    pub(crate) fn poll_read_core(
        &mut self,
        cx: &mut Context<'_>,
        room: usize,
        put: impl FnOnce(&[u8]),
    ) -> Poll<io::Result<usize>> {
        self.read
            .poll_read_with(self.inner.compat_io(), cx, room, put)
    }

    /// Poll core: writes from `bufs` (module rule 4).
    pub(crate) fn poll_write_core(
        &mut self,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        self.write.poll_write(self.inner.compat_io(), cx, bufs)
    }

    /// Poll core: waits for the send in flight (module rule 5).
    pub(crate) fn poll_flush_core(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.write.poll_flush(self.inner.compat_io(), cx)
    }

    /// Poll core: finishes the send in flight, then sends FIN (module rule 5).
    pub(crate) fn poll_shutdown_core(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.write.poll_shutdown(self.inner.compat_io(), cx)
    }
}

impl<T: fmt::Debug> fmt::Debug for Compat<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Compat")
            .field("inner", &self.inner)
            .field("buffered", &self.read.buffered())
            .field("sending", &self.write.sending())
            .finish()
    }
}
