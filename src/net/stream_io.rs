//! What the stream sockets share: [`TcpStream`], [`UnixStream`] and their halves are
//! each a [`StreamIo`] (the descriptor and the `Unread` stash) with one copy of the reads,
//! writes and error rules, and the `io` traits come from here for all of them.

use super::unread::receive;
use super::{ReadHalf, RecvStream, TcpStream, UnixStream, WriteHalf};
use crate::buf::{BufResult, IoBuf, IoBufMut, PooledBuf};
use crate::io::{AsyncRead, AsyncWrite, loops};
use crate::op::result::finish;
use crate::op::{Op, send_buf, send_now};
use crate::sys::fd::SharedFd;
use socket2::SockRef;
use std::io;
use std::net::Shutdown;
use std::os::fd::OwnedFd;
#[cfg(any(feature = "tokio-io", feature = "futures-io", feature = "hyper"))]
use {
    super::recv_pool::PolledRecv,
    std::pin::Pin,
    std::task::{Context, Poll},
};

/// A connected stream socket: its descriptor, with the bytes a cancelled read received,
/// which the next read returns first (`SharedFd::unread`).
///
/// Clones share both: the halves of a split stream are clones, so bytes a read dropped
/// before the split are read by the read half after it.
#[derive(Debug, Clone)]
pub(crate) struct StreamIo {
    fd: SharedFd,
}

impl StreamIo {
    pub(super) fn new(fd: OwnedFd) -> Self {
        StreamIo {
            fd: SharedFd::new(fd),
        }
    }

    pub(super) fn fd(&self) -> &SharedFd {
        &self.fd
    }

    pub(super) fn sock(&self) -> SockRef<'_> {
        SockRef::from(self.fd.as_fd())
    }

    /// One recv; bytes (or an error) a cancelled recv left in the stash come first.
    pub(super) async fn read<B: IoBufMut>(&self, mut buf: B) -> BufResult<usize, B> {
        let unread = self.fd.unread();
        unread.settled().await;
        if !unread.is_empty() {
            let n = unread.fill(&mut buf);
            return (Ok(n), buf);
        }
        if let Some(e) = unread.take_error() {
            return (Err(e), buf);
        }
        let submitted = Op::recv(&self.fd, buf);
        finish(submitted.map(|op| receive(op, unread))).await
    }

    /// Recvs until `bytes_total` bytes are in; `UnexpectedEof` if the peer closes first.
    pub(super) async fn read_exact<B: IoBufMut>(&self, buf: B) -> BufResult<(), B> {
        loops::read_exact(buf, "peer closed", |rest, _| self.read(rest)).await
    }

    /// One send of the initialised bytes (MSG_NOSIGNAL).
    pub(super) async fn write<B: IoBuf>(&self, buf: B) -> BufResult<usize, B> {
        send_buf(&self.fd, buf, 0).await
    }

    /// Sends until every initialised byte is out; `WriteZero` if the kernel takes nothing.
    pub(super) async fn write_all<B: IoBuf>(&self, buf: B) -> BufResult<(), B> {
        // A write the socket takes whole at once (epoll rule 11, the common case) builds
        // no loop and no op. (A block, so that its counts are not kept across the await.)
        let rest = {
            let total = buf.bytes_init();
            let now = if total == 0 {
                None
            } else {
                send_now(&self.fd, &buf, 0)
            };
            let sent = match now {
                Some(Ok(n)) => n,
                Some(Err(e)) => return (Err(e), buf),
                None => 0,
            };
            if sent == total {
                return (Ok(()), buf);
            }
            loops::write_all(buf, sent, "send", |buf, sent| send_buf(&self.fd, buf, sent))
        };
        rest.await
    }

    pub(crate) fn shutdown(&self, how: Shutdown) -> io::Result<()> {
        self.sock().shutdown(how)
    }

    /// One receive into a buffer of the core's pool (`TcpStream::recv_pooled`).
    pub(super) async fn recv_pooled(&self) -> io::Result<PooledBuf> {
        super::recv_pool::recv_pooled(&self.fd).await
    }

    /// The data as it arrives, from one multishot receive (`TcpStream::recv_stream`).
    pub(super) fn recv_stream(&self) -> RecvStream<'_> {
        RecvStream::new(&self.fd)
    }

    /// A pooled receive driven by polls ([`PolledRecv`]): each call is one step of
    /// [`recv_pooled`](Self::recv_pooled), and the receive in flight lives in the
    /// closure between calls, so a caller that stops polling loses nothing. Dropping the
    /// closure drops that receive: its bytes go to the stash for the next read.
    ///
    /// A closure because the op's type has no name outside `net` and `op`: the caller
    /// boxes it once and calls it for every read.
    #[cfg(any(feature = "tokio-io", feature = "futures-io", feature = "hyper"))]
    pub(crate) fn polled_recv(
        &self,
    ) -> impl FnMut(&mut Context<'_>) -> Poll<io::Result<PooledBuf>> + 'static {
        let fd = self.fd.clone();
        let mut recv = PolledRecv::Idle;
        move |cx| recv.poll(&fd, cx)
    }

    /// Sends driven by polls, one at a time: a call with a buffer in `slot` takes it and
    /// starts a send of its bytes (MSG_NOSIGNAL); calls then poll that send, and the one
    /// that sees it end puts the buffer back in `slot` and gives the kernel's count.
    /// Dropping the closure with a send in flight drops the op, which cancels it (a send
    /// to a peer that never reads waits forever); bytes the kernel took before that are
    /// sent. A closure for the reason given at [`polled_recv`](Self::polled_recv).
    ///
    /// # Panics
    ///
    /// If called with no send in flight and no buffer in `slot`.
    #[cfg(any(feature = "tokio-io", feature = "futures-io", feature = "hyper"))]
    pub(crate) fn polled_send(
        &self,
    ) -> impl FnMut(&mut Context<'_>, &mut Option<Vec<u8>>) -> Poll<io::Result<usize>> + 'static
    {
        let fd = self.fd.clone();
        let mut in_flight = None;
        move |cx, slot| {
            let op = in_flight.get_or_insert_with(|| {
                let buf = slot.take().expect("a buffer to start a send with");
                finish(Op::send(&fd, buf, 0))
            });
            let (res, buf) = std::task::ready!(Pin::new(op).poll(cx));
            in_flight = None;
            *slot = Some(buf);
            Poll::Ready(res)
        }
    }

    /// Hands back bytes a reader received but did not use: the next read returns them
    /// before anything else.
    #[cfg(any(feature = "tokio-io", feature = "futures-io", feature = "hyper"))]
    pub(crate) fn unread(&self, bytes: &[u8]) {
        self.fd.unread().keep_front(bytes);
    }
}

/// The `io` traits for a stream type, by its own methods of the same names.
macro_rules! stream_traits {
    ($($stream:ty),*) => {$(
        impl AsyncRead for $stream {
            async fn read<B: IoBufMut>(&self, buf: B) -> BufResult<usize, B> {
                <$stream>::read(self, buf).await
            }
        }

        impl AsyncWrite for $stream {
            async fn write<B: IoBuf>(&self, buf: B) -> BufResult<usize, B> {
                <$stream>::write(self, buf).await
            }
            async fn shutdown(&self) -> io::Result<()> {
                <$stream>::shutdown(self, Shutdown::Write)
            }
        }
    )*};
}

stream_traits!(TcpStream, UnixStream);

impl<S> AsyncRead for ReadHalf<S> {
    async fn read<B: IoBufMut>(&self, buf: B) -> BufResult<usize, B> {
        ReadHalf::read(self, buf).await
    }
}

impl<S> AsyncWrite for WriteHalf<S> {
    async fn write<B: IoBuf>(&self, buf: B) -> BufResult<usize, B> {
        WriteHalf::write(self, buf).await
    }
    async fn shutdown(&self) -> io::Result<()> {
        WriteHalf::shutdown(self)
    }
}
