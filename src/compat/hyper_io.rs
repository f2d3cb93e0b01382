//! hyper's I/O traits (`hyper::rt::Read + Write`): on [`Compat`] itself, and through
//! [`HyperIo`] on any `tokio::io` stream layered over a `Compat`, such as a TLS stream
//! from tokio-rustls.

use super::Compat;
use std::io::{self, IoSlice};
use std::pin::Pin;
#[cfg(feature = "tokio-io")]
use std::task::ready;
use std::task::{Context, Poll};

macro_rules! hyper_read {
    ([$($g:ident),*] $t:ty) => {
        /// hyper reads copy from the pool buffer a receive filled into hyper's buffer
        /// (module rules 1-3).
        impl<$($g),*> hyper::rt::Read for Compat<$t> {
            fn poll_read(
                self: Pin<&mut Self>,
                cx: &mut Context<'_>,
                mut buf: hyper::rt::ReadBufCursor<'_>,
            ) -> Poll<io::Result<()>> {
                let room = buf.remaining();
                self.get_mut()
                    .poll_read_core(cx, room, |bytes| buf.put_slice(bytes))
                    .map_ok(|_| ())
            }
        }
    };
}

macro_rules! hyper_write {
    ([$($g:ident),*] $t:ty) => {
        /// hyper writes are reported once the kernel took them (module rule 4).
        impl<$($g),*> hyper::rt::Write for Compat<$t> {
            fn poll_write(
                self: Pin<&mut Self>,
                cx: &mut Context<'_>,
                buf: &[u8],
            ) -> Poll<io::Result<usize>> {
                self.get_mut().poll_write_core(cx, &[IoSlice::new(buf)])
            }

            fn poll_write_vectored(
                self: Pin<&mut Self>,
                cx: &mut Context<'_>,
                bufs: &[IoSlice<'_>],
            ) -> Poll<io::Result<usize>> {
                self.get_mut().poll_write_core(cx, bufs)
            }

            fn is_write_vectored(&self) -> bool {
                true
            }

            fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
                self.get_mut().poll_flush_core(cx)
            }

            fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
                self.get_mut().poll_shutdown_core(cx)
            }
        }
    };
}

for_each_reader!(hyper_read);
for_each_writer!(hyper_write);

#[cfg(feature = "tokio-io")]
/// Largest read asked of the inner stream at once: a TLS record's plaintext (16 KiB).
const MAX_READ: usize = 16 * 1024;

#[cfg(feature = "tokio-io")]
/// A `tokio::io` stream as hyper's I/O, like hyper-util's `TokioIo`, without tokio's
/// runtime: for a stream over [`Compat`] that hyper cannot take directly,
/// such as `tokio_rustls::server::TlsStream<Compat<TcpStream>>`. A plain `Compat` is
/// hyper's I/O already.
///
/// Reads go through a buffer of the adapter's own (one copy more than reading into
/// hyper's buffer, which would take `unsafe` here), grown once to the largest read and
/// reused. Writes go straight through.
///
/// # Examples
///
/// ```no_run
/// use ringio::compat::{Compat, HyperIo};
/// use ringio::net::TcpStream;
///
/// ringio::run(async {
///     let tcp = TcpStream::connect("127.0.0.1:8443").await.unwrap();
///     // A TLS handshake over `Compat::new(tcp)` would go here; the TLS stream is then
///     // wrapped for hyper:
///     let _io = HyperIo::new(Compat::new(tcp));
/// });
/// ```
#[derive(Debug)]
pub struct HyperIo<T> {
    inner: T,
    scratch: Vec<u8>,
}

#[cfg(feature = "tokio-io")]
impl<T> HyperIo<T> {
    /// Wraps `inner`.
    pub fn new(inner: T) -> HyperIo<T> {
        HyperIo {
            inner,
            scratch: Vec::new(),
        }
    }

    /// The wrapped stream.
    pub fn get_ref(&self) -> &T {
        &self.inner
    }

    /// The wrapped stream, mutably.
    pub fn get_mut(&mut self) -> &mut T {
        &mut self.inner
    }

    /// Unwraps the stream.
    pub fn into_inner(self) -> T {
        self.inner
    }
}

#[cfg(feature = "tokio-io")]
impl<T: tokio::io::AsyncRead + Unpin> hyper::rt::Read for HyperIo<T> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        mut buf: hyper::rt::ReadBufCursor<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let want = buf.remaining().min(MAX_READ);
        if this.scratch.len() < want {
            this.scratch.resize(want, 0);
        }
        let mut read = tokio::io::ReadBuf::new(&mut this.scratch[..want]);
        ready!(Pin::new(&mut this.inner).poll_read(cx, &mut read))?;
        buf.put_slice(read.filled());
        Poll::Ready(Ok(()))
    }
}

#[cfg(feature = "tokio-io")]
impl<T: tokio::io::AsyncWrite + Unpin> hyper::rt::Write for HyperIo<T> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write_vectored(cx, bufs)
    }
}
