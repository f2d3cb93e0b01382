//! [`RecvStream`]: one multishot receive into the core's buffer pool, kept armed (the
//! pool's rules and fallbacks are in `recv_pool`).

use super::recv_pool::{recv_owned, recv_pooled, take_kept};
use super::unread::Unread;
use crate::buf::PooledBuf;
use crate::op::{MultiOp, PooledRecv, pool};
use crate::sys::fd::SharedFd;
use std::fmt;
use std::future::poll_fn;
use std::io;
use std::rc::Rc;
use std::task::Poll;

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
/// Dropping the stream cancels the receive. Bytes it had received and not handed out
/// are kept: the stream's next read (of any kind) returns them first.
pub struct RecvStream<'a> {
    fd: &'a SharedFd,
    unread: &'a Rc<Unread>,
    op: Option<MultiOp<PooledRecv<Unread>>>,
    ended: bool,
    /// The kernel refused the multishot form (EINVAL before any data; it needs Linux
    /// 6.0): receive one at a time instead.
    single_shot: bool,
    /// Data came through the multishot form, so an EINVAL later is a real error.
    multishot_worked: bool,
}

impl<'a> RecvStream<'a> {
    pub(super) fn new(fd: &'a SharedFd, unread: &'a Rc<Unread>) -> Self {
        RecvStream {
            fd,
            unread,
            op: None,
            ended: false,
            single_shot: false,
            multishot_worked: false,
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
        loop {
            // Kept bytes came first on the wire: before this stream's, and before its EOF.
            if let Some(kept) = take_kept(self.unread) {
                return Some(kept);
            }
            if self.ended {
                return None;
            }
            let step = if self.single_shot {
                let res = recv_pooled(self.fd, self.unread).await;
                self.end_or_return(res)
            } else {
                self.next_multishot().await
            };
            if step.is_some() {
                return step;
            }
        }
    }

    /// One step through the multishot receive, arming it first if needed: what `next`
    /// returns, or `None` to go round again (kept bytes came first, the stream ended, the
    /// receive must be re-armed, or the kernel refused the multishot form).
    async fn next_multishot(&mut self) -> Option<io::Result<PooledBuf>> {
        let unread = self.unread;
        if self.op.is_none() {
            // A receive this stream dropped may still take bytes: arm behind it, and
            // return what it kept first (`Unread` docs).
            unread.settled().await;
            if unread.has_any() {
                return None;
            }
        }
        let op = match self.armed() {
            Ok(Some(op)) => op,
            Ok(None) => return None,
            Err(e) => return Some(Err(e)),
        };
        let ticket = op
            .state()
            .map(PooledRecv::ticket)
            .expect("an armed receive's last CQE is not taken yet");
        // The receive stays armed; if a cancelled read keeps bytes meanwhile, they are
        // returned first (the loop's top in `next`) and the receive goes on.
        let (item, more) = next_cqe(op, unread).await?;
        if !more {
            self.op = None;
        }
        match item {
            Ok(buf) => self.on_bytes(buf, ticket),
            Err(e) => self.on_error(e, more).await,
        }
    }

    /// The armed multishot receive, armed now if it was not; `Ok(None)` if the kernel
    /// refused the pool, and the stream receives one buffer at a time from now on.
    fn armed(&mut self) -> io::Result<Option<&mut MultiOp<PooledRecv<Unread>>>> {
        if self.op.is_none() {
            let Some(ring) = pool() else {
                self.single_shot = true;
                return Ok(None);
            };
            let op = MultiOp::recv_multi(self.fd, ring, self.unread, RECV_STREAM_QUEUE)?;
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
        if !self.unread.has_any() {
            return Some(Ok(buf));
        }
        self.unread.push(ticket, &buf);
        None
    }

    /// A CQE's error (`more`: the receive stays armed): what `next` returns, or `None`
    /// to go round again.
    async fn on_error(&mut self, e: io::Error, more: bool) -> Option<io::Result<PooledBuf>> {
        match e.raw_os_error() {
            Some(libc::EINVAL) if !self.multishot_worked => {
                self.single_shot = true;
                None
            }
            // The pool ran dry and the kernel ended the receive, with bytes waiting:
            // take them into an owned buffer unless buffers came back meanwhile; the
            // next call arms a new receive.
            Some(libc::ENOBUFS) => {
                if pool().is_some_and(|ring| !ring.found_empty()) {
                    return None;
                }
                let res = recv_owned(self.fd, self.unread).await;
                self.end_or_return(res)
            }
            // The driver stopped the receive because RECV_STREAM_QUEUE buffers waited
            // unread; they were all handed out before this CQE, so arm again.
            Some(libc::ECANCELED) if !more => None,
            _ if self.unread.has_any() => {
                self.unread.push_error(e);
                None
            }
            _ => Some(Err(e)),
        }
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

/// The multishot receive's next CQE and whether more will follow; `None` as soon as a
/// cancelled read keeps bytes (or an error) in `unread`, which go out first.
async fn next_cqe(
    op: &mut MultiOp<PooledRecv<Unread>>,
    unread: &Unread,
) -> Option<(io::Result<PooledBuf>, bool)> {
    poll_fn(|cx| {
        if let Poll::Ready(next) = op.poll_next(cx) {
            return Poll::Ready(Some(next));
        }
        if unread.has_any() {
            return Poll::Ready(None);
        }
        unread.watch(cx.waker());
        Poll::Pending
    })
    .await
}

impl fmt::Debug for RecvStream<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RecvStream")
            .field("fd", &self.fd.raw())
            .field("armed", &self.op.is_some())
            .field("ended", &self.ended)
            .finish()
    }
}
