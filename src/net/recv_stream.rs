//! [`RecvStream`]: one multishot receive into the core's buffer pool, kept armed (the
//! pool's rules and fallbacks are in `recv_pool`).
//!
//! The stream is a state machine polled by [`RecvStream::poll_next`]; `next` and the
//! `futures_core::Stream` impl (feature `futures-core`) both drive it. Every receive it
//! queues, the multishot one or a single one (kernels without multishot receive, a
//! refused pool, a pool found empty), lives in the stream, not in a caller's future: a
//! poll that returned `Pending` and is never repeated leaves it in flight, and the next
//! poll, or the stream's drop, takes its result (rules in `recv_pool` and `unread`).

use super::recv_pool::take_kept;
use super::unread::Unread;
use crate::buf::{BufResult, PooledBuf};
use crate::op::{Completable, MultiOp, Op, PooledRecv, pool, pool_fallback};
use crate::sys::fd::SharedFd;
use std::fmt;
use std::future::{Future, poll_fn};
use std::io;
use std::pin::{Pin, pin};
use std::task::{Context, Poll, ready};

/// Buffers a [`RecvStream`] may hold unread before the driver stops its receive, so a
/// reader that falls behind (busy sending to a slow peer) takes only a share of the pool
/// shared by every connection of its core.
///
/// The share is rough: the count is checked as CQEs are reaped, and by then the kernel
/// may have filled several passes of up to 32 buffers each within one `io_uring_enter`
/// (up to 98 buffers in all were seen on Linux 6.18 behind a peer writing flat out, in
/// `tests/fault_slow_peers.rs`). What keeps such readers from stalling the others is that
/// a receive finding the pool empty takes its bytes into an owned buffer (as [`TcpStream::recv_pooled`](super::TcpStream::recv_pooled) does).
pub const RECV_STREAM_QUEUE: usize = 16;

/// The data of one connection as it arrives, from a multishot receive that stays armed
/// (`TcpStream::recv_stream`).
///
/// Each [`next`](Self::next) gives the bytes of one CQE in a [`PooledBuf`]. One SQE
/// serves many receives, so a busy connection costs the ring one CQE per chunk of data
/// and no re-arming. The receive is re-armed by itself when the kernel ends it (pool
/// empty, or more than [`RECV_STREAM_QUEUE`] buffers waiting unread).
///
/// On kernels without multishot receive (before 6.0), or when the kernel refused the
/// buffer pool, it receives one buffer at a time, as
/// [`recv_pooled`](super::TcpStream::recv_pooled) does.
///
/// On the epoll backend (where io_uring is denied) the receive runs when the stream is
/// polled, not when bytes arrive: their arrival wakes the task, and the poll receives.
/// A stream that is not read holds no pool buffer there; its bytes wait in the socket.
///
/// Dropping the stream cancels the receive. Bytes it had received and not handed out
/// are kept: the stream's next read (of any kind) returns them first.
///
/// With the feature `futures-core` it is also a `futures_core::Stream` (see the impl).
pub struct RecvStream<'a> {
    fd: &'a SharedFd,
    op: Option<MultiOp<PooledRecv>>,
    /// The single receive in flight (single-shot mode, or the owned fallback after the
    /// pool ran dry), kept across polls like `op`.
    single: Option<Single>,
    ended: bool,
    /// The kernel refused the multishot form (EINVAL before any data; it needs Linux
    /// 6.0): receive one at a time instead.
    single_shot: bool,
    /// Data came through the multishot form, so an EINVAL later is a real error.
    multishot_worked: bool,
    /// The pool was found empty with bytes waiting: the next receive takes them into an
    /// owned buffer (`recv_pool` docs).
    owned_next: bool,
}

/// A single receive the stream keeps in flight across polls.
enum Single {
    /// Into a buffer the kernel picks from the pool.
    Pooled(Op<PooledRecv>),
    /// Into an owned buffer of the pool's buffer size. The op's type is private to `op`,
    /// so it is held behind a box: one allocation beside the buffer's own, on a path that
    /// allocates a buffer per receive anyway.
    Owned(Box<dyn Receive<Output = BufResult<usize, Vec<u8>>>>),
}

/// A receive op as the stream polls it: a future that can be asked to end early.
trait Receive: Future + Unpin {
    /// Asks the kernel to end the receive; its result still comes (`Op::cancel`).
    fn cancel(&mut self);
}

impl<T: Completable> Receive for Op<T> {
    fn cancel(&mut self) {
        Op::cancel(self);
    }
}

impl<'a> RecvStream<'a> {
    pub(super) fn new(fd: &'a SharedFd) -> Self {
        RecvStream {
            fd,
            op: None,
            single: None,
            ended: false,
            single_shot: false,
            multishot_worked: false,
            owned_next: false,
        }
    }

    /// The next bytes received; `None` once the peer closed its side.
    ///
    /// # Errors
    ///
    /// What recv(2) reports, e.g. `ConnectionReset`. The pool being empty is not an error
    /// (see [`TcpStream::recv_pooled`](super::TcpStream::recv_pooled)). After an error the next call receives again.
    ///
    /// # Cancel safety
    ///
    /// Cancel-safe: the receive stays armed in the stream, and bytes that arrive meanwhile
    /// are returned by the next call.
    pub async fn next(&mut self) -> Option<io::Result<PooledBuf>> {
        poll_fn(|cx| self.poll_next(cx)).await
    }

    /// Polls for the next bytes received: what [`next`](Self::next) awaits, for
    /// hand-written futures and streams. `Ready(None)` once the peer closed its side.
    ///
    /// # Errors
    ///
    /// As [`next`](Self::next).
    ///
    /// # Cancel safety
    ///
    /// A poll that returned `Pending` loses nothing if it is never repeated: the receive
    /// stays in the stream, and whatever it takes is returned by the next poll (or kept
    /// for the stream's next read once the stream is dropped).
    ///
    /// # Examples
    ///
    /// ```
    /// use ringio::net::{TcpListener, TcpStream};
    /// use std::future::poll_fn;
    ///
    /// ringio::run(async {
    ///     let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    ///     let addr = listener.local_addr().unwrap();
    ///     ringio::spawn(async move {
    ///         let s = TcpStream::connect(addr).await.unwrap();
    ///         s.write_all(b"hi").await.0.unwrap();
    ///     });
    ///     let (conn, _) = listener.accept().await.unwrap();
    ///     let mut data = conn.recv_stream();
    ///     let buf = poll_fn(|cx| data.poll_next(cx)).await.unwrap().unwrap();
    ///     assert_eq!(&buf[..], b"hi");
    /// });
    /// ```
    pub fn poll_next(&mut self, cx: &mut Context<'_>) -> Poll<Option<io::Result<PooledBuf>>> {
        loop {
            let step = if self.single.is_some() {
                ready!(self.poll_single(cx))
            } else {
                // Kept bytes came first on the wire: before this stream's, and before its EOF.
                if let Some(kept) = take_kept(self.fd.unread()) {
                    return Poll::Ready(Some(kept));
                }
                if self.ended {
                    return Poll::Ready(None);
                }
                if self.single_shot || self.owned_next {
                    ready!(self.poll_start_single(cx))
                } else {
                    ready!(self.poll_multishot(cx))
                }
            };
            if step.is_some() {
                return Poll::Ready(step);
            }
        }
    }

    /// One step through the multishot receive, arming it first if needed: what `next`
    /// returns, or `None` to go round again (kept bytes came first, the stream ended, the
    /// receive must be re-armed, or the kernel refused the multishot form).
    fn poll_multishot(&mut self, cx: &mut Context<'_>) -> Poll<Option<io::Result<PooledBuf>>> {
        let unread = self.fd.unread();
        if self.op.is_none() {
            // A receive this stream dropped may still take bytes: arm behind it, and
            // return what it kept first (`Unread` docs).
            ready!(pin!(unread.settled()).poll(cx));
            if unread.has_any() {
                return Poll::Ready(None);
            }
        }
        let op = match self.armed() {
            Ok(Some(op)) => op,
            Ok(None) => return Poll::Ready(None),
            Err(e) => return Poll::Ready(Some(Err(e))),
        };
        let ticket = op
            .state()
            .map(PooledRecv::ticket)
            .expect("an armed receive's last CQE is not taken yet");
        // The receive stays armed; if a cancelled read keeps bytes meanwhile, they are
        // returned first (the top of `poll_next`) and the receive goes on.
        let Poll::Ready((item, more)) = op.poll_next(cx) else {
            if unread.has_any() {
                return Poll::Ready(None);
            }
            unread.watch(cx.waker());
            return Poll::Pending;
        };
        if !more {
            self.op = None;
        }
        Poll::Ready(match item {
            Ok(buf) => self.on_bytes(buf, ticket),
            Err(e) => self.on_error(e, more),
        })
    }

    /// The armed multishot receive, armed now if it was not; `Ok(None)` if the kernel
    /// refused the pool, and the stream receives one buffer at a time from now on.
    fn armed(&mut self) -> io::Result<Option<&mut MultiOp<PooledRecv>>> {
        if self.op.is_none() {
            let Some(ring) = pool() else {
                self.single_shot = true;
                return Ok(None);
            };
            let op = MultiOp::recv_multi(self.fd, ring, RECV_STREAM_QUEUE)?;
            self.op = Some(op);
        }
        Ok(self.op.as_mut())
    }

    /// A CQE's bytes: returned, unless a cancelled read kept bytes meanwhile (those came
    /// first: these go behind them, in this receive's place). Empty means end of stream,
    /// once what was kept is out.
    fn on_bytes(&mut self, buf: PooledBuf, ticket: u64) -> Option<io::Result<PooledBuf>> {
        if buf.is_empty() {
            self.ended = true;
            return None;
        }
        self.multishot_worked = true;
        if !self.fd.unread().has_any() {
            return Some(Ok(buf));
        }
        self.fd.unread().push(ticket, &buf);
        None
    }

    /// A CQE's error (`more`: the receive stays armed): what `next` returns, or `None`
    /// to go round again.
    fn on_error(&mut self, e: io::Error, more: bool) -> Option<io::Result<PooledBuf>> {
        match e.raw_os_error() {
            Some(libc::EINVAL) if !self.multishot_worked => {
                self.single_shot = true;
                None
            }
            // The pool ran dry and the kernel ended the receive, with bytes waiting:
            // take them into an owned buffer unless buffers came back meanwhile; the
            // next receive after that arms the multishot form again.
            Some(libc::ENOBUFS) => {
                self.owned_next = pool().is_none_or(|ring| ring.found_empty());
                None
            }
            // The driver stopped the receive because RECV_STREAM_QUEUE buffers waited
            // unread; they were all handed out before this CQE, so arm again.
            Some(libc::ECANCELED) if !more => None,
            _ if self.fd.unread().has_any() => {
                self.fd.unread().push_error(e);
                None
            }
            _ => Some(Err(e)),
        }
    }

    /// Queues a single receive once no dropped one is in flight (`Unread::settled`):
    /// into the pool, or into an owned buffer if the pool was refused or found empty.
    /// `Some` only for an error queueing it; `None` to go round again.
    fn poll_start_single(&mut self, cx: &mut Context<'_>) -> Poll<Option<io::Result<PooledBuf>>> {
        let unread = self.fd.unread();
        ready!(pin!(unread.settled()).poll(cx));
        if unread.has_any() {
            return Poll::Ready(None); // what it kept goes first
        }
        let ring = if self.owned_next { None } else { pool() };
        let single = match ring {
            Some(ring) => Op::recv_pooled(self.fd, ring).map(Single::Pooled),
            None => {
                self.owned_next = false;
                let buf = Vec::with_capacity(pool_fallback());
                Op::recv(self.fd, buf)
                    .map(|op| Single::Owned(Box::new(op)))
                    .map_err(|(e, _)| e)
            }
        };
        Poll::Ready(match single {
            Ok(single) => {
                self.single = Some(single);
                None
            }
            Err(e) => Some(Err(e)),
        })
    }

    /// Polls the single receive in flight: what `next` returns, or `None` to go round
    /// again (the stream ended, or the pool was empty and the receive goes again).
    fn poll_single(&mut self, cx: &mut Context<'_>) -> Poll<Option<io::Result<PooledBuf>>> {
        let unread = self.fd.unread();
        let res = match self.single.as_mut().expect("a single receive in flight") {
            Single::Pooled(op) => ready!(poll_receive(op, unread, cx)),
            Single::Owned(op) => {
                let (res, mut buf) = ready!(poll_receive(op.as_mut(), unread, cx));
                res.map(|n| {
                    buf.truncate(n);
                    PooledBuf::owned(buf)
                })
            }
        };
        self.single = None;
        Poll::Ready(match res {
            // The pool was empty: take the bytes into an owned buffer, unless buffers
            // came back meanwhile (then receive from the pool again).
            Err(e) if e.raw_os_error() == Some(libc::ENOBUFS) => {
                self.owned_next = pool().is_none_or(|ring| ring.found_empty());
                None
            }
            res => self.end_or_return(res),
        })
    }

    /// A single receive's result as `next` returns it: an empty buffer ends the stream
    /// (`None`: kept bytes, if any, go out first).
    fn end_or_return(&mut self, res: io::Result<PooledBuf>) -> Option<io::Result<PooledBuf>> {
        match res {
            Ok(buf) if buf.is_empty() => {
                self.ended = true;
                None
            }
            res => Some(res),
        }
    }
}

/// Polls the single receive `op` of a stream whose stash is `unread`. If a cancelled
/// receive keeps bytes (or an error) there while `op` waits in the kernel, `op` is
/// cancelled: its completion then returns the kept bytes first (`complete` merges them),
/// instead of waiting for data that may never come (as `unread::receive` does).
fn poll_receive<R: Receive + ?Sized>(
    op: &mut R,
    unread: &Unread,
    cx: &mut Context<'_>,
) -> Poll<R::Output> {
    if let Poll::Ready(out) = Pin::new(&mut *op).poll(cx) {
        return Poll::Ready(out);
    }
    if unread.has_any() {
        op.cancel();
    } else {
        unread.watch(cx.waker());
    }
    Poll::Pending
}

/// `async for` over a connection's data: the same receive as [`RecvStream::next`].
///
/// Yields the bytes of each receive as they arrive, or the error recv(2) reported (the
/// next poll receives again); ends (`None`) once the peer closed its side and every byte
/// before its end was yielded. It is a [`FusedStream`](futures_core::FusedStream): after
/// the end every poll gives `None`.
///
/// # Features
///
/// Needs the cargo feature `futures-core`.
///
/// # Cancel safety
///
/// As [`RecvStream::poll_next`]: dropping a `next()` of `StreamExt` loses no byte.
///
/// # Examples
///
/// ```
/// use futures_util::StreamExt;
/// use ringio::net::{TcpListener, TcpStream};
///
/// ringio::run(async {
///     let listener = TcpListener::bind("127.0.0.1:0").unwrap();
///     let addr = listener.local_addr().unwrap();
///     ringio::spawn(async move {
///         let s = TcpStream::connect(addr).await.unwrap();
///         s.write_all(b"hello, stream").await.0.unwrap();
///     });
///     let (conn, _) = listener.accept().await.unwrap();
///     let mut data = conn.recv_stream().map(|buf| buf.unwrap().to_vec());
///     let mut got = Vec::new();
///     while let Some(bytes) = data.next().await {
///         got.extend(bytes);
///     }
///     assert_eq!(got, b"hello, stream");
/// });
/// ```
#[cfg(feature = "futures-core")]
impl futures_core::Stream for RecvStream<'_> {
    type Item = io::Result<PooledBuf>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        RecvStream::poll_next(self.get_mut(), cx)
    }
}

/// A [`RecvStream`] is terminated once the peer closed its side and every byte before
/// the end was yielded.
///
/// # Features
///
/// Needs the cargo feature `futures-core`.
#[cfg(feature = "futures-core")]
impl futures_core::FusedStream for RecvStream<'_> {
    fn is_terminated(&self) -> bool {
        // Nothing is in flight and nothing kept to return first: every poll gives `None`.
        self.ended && self.single.is_none() && !self.fd.unread().has_any()
    }
}

impl fmt::Debug for RecvStream<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RecvStream")
            .field("fd", &self.fd.raw())
            .field("armed", &self.op.is_some())
            .field("receiving", &self.single.is_some())
            .field("ended", &self.ended)
            .finish()
    }
}
