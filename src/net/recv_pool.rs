//! Receiving into the core's buffer pool: [`TcpStream::recv_pooled`](super::TcpStream::recv_pooled)
//! (one receive) and [`RecvStream`] (a multishot receive that stays armed).
//!
//! A connection that waits for data holds no buffer: the kernel takes one from the pool
//! when bytes arrive. If the pool is empty at that moment the receive ends with ENOBUFS
//! and the bytes stay in the socket; both forms then take them at once into an owned
//! buffer of the pool's buffer size (or receive from the pool again, if buffers came
//! back meanwhile). So the caller never sees ENOBUFS, and no connection waits for others
//! to give buffers back: readers that hold many buffers (stuck writing to peers that do
//! not read) cannot stall the rest of their core. `Metrics::pool_exhausted` counts the
//! times the pool was found empty.
//!
//! If the kernel refuses the pool (Linux before 5.19, or RLIMIT_MEMLOCK too low), both
//! forms receive into owned buffers, one receive at a time: slower, and a waiting
//! connection then holds its buffer, but nothing fails. `Metrics::pool_fallbacks` counts
//! owned receives (for both reasons) and `runtime::pool_error` says why the pool was
//! refused.

use crate::buf::PooledBuf;
use crate::op::{MultiOp, Op, PooledRecv, Unread, pool, pool_fallback, receive};
use crate::sys::fd::SharedFd;
use std::fmt;
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
/// a receive finding the pool empty takes its bytes into an owned buffer (module docs).
pub const RECV_STREAM_QUEUE: usize = 16;

fn is_enobufs(e: &io::Error) -> bool {
    e.raw_os_error() == Some(libc::ENOBUFS)
}

/// One receive into an owned buffer of the pool's buffer size: the pool was refused, or
/// found empty with bytes waiting.
async fn recv_owned(fd: &SharedFd, unread: &Rc<Unread>) -> io::Result<PooledBuf> {
    if let Some(kept) = take_kept(unread) {
        return kept;
    }
    let size = pool_fallback();
    let (res, mut buf) = match Op::recv(fd, Vec::with_capacity(size), Some(unread.clone())) {
        Ok(op) => receive(op, unread).await,
        Err((e, _)) => return Err(e),
    };
    let n = res?;
    buf.truncate(n);
    Ok(PooledBuf::owned(buf))
}

/// Bytes (or an error) a cancelled read left behind, if any: they came first.
fn take_kept(unread: &Unread) -> Option<io::Result<PooledBuf>> {
    unread.take_kept().map(|kept| kept.map(PooledBuf::owned))
}

/// One receive into a pooled buffer (see `TcpStream::recv_pooled`).
pub(super) async fn recv_pooled(fd: &SharedFd, unread: &Rc<Unread>) -> io::Result<PooledBuf> {
    loop {
        if let Some(kept) = take_kept(unread) {
            return kept;
        }
        let Some(ring) = pool() else {
            return recv_owned(fd, unread).await;
        };
        match receive(Op::recv_pooled(fd, ring.clone(), unread)?, unread).await {
            Err(e) if is_enobufs(&e) && ring.found_empty() => {
                return recv_owned(fd, unread).await;
            }
            // Buffers came back meanwhile: receive from the pool again.
            Err(e) if is_enobufs(&e) => {}
            res => return res,
        }
    }
}

/// The data of one connection as it arrives, from a multishot receive that stays armed
/// (`TcpStream::recv_stream`).
///
/// Each [`next`](Self::next) gives the bytes of one CQE in a [`PooledBuf`]. One SQE
/// serves many receives, so a busy connection costs the ring one CQE per chunk of data
/// and no re-arming. The receive is re-armed by itself when the kernel ends it (pool
/// empty, or more than [`RECV_STREAM_QUEUE`] buffers waiting unread).
///
/// On kernels without multishot receive (before 6.0), or when the kernel refused the
/// buffer pool (module docs), it receives one buffer at a time, as
/// [`recv_pooled`](super::TcpStream::recv_pooled) does.
///
/// Dropping the stream cancels the receive. Bytes it had received and not handed out
/// are kept: the stream's next read (of any kind) returns them first.
pub struct RecvStream<'a> {
    fd: &'a SharedFd,
    unread: &'a Rc<Unread>,
    op: Option<MultiOp<PooledRecv>>,
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
    /// (module docs). After an error the next call receives again.
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
            if self.single_shot {
                match recv_pooled(self.fd, self.unread).await {
                    Ok(buf) if buf.is_empty() => self.ended = true,
                    res => return Some(res),
                }
                continue;
            }
            let op = match &mut self.op {
                Some(op) => op,
                None => {
                    let Some(ring) = pool() else {
                        self.single_shot = true;
                        continue;
                    };
                    match MultiOp::recv_multi(self.fd, ring, self.unread, RECV_STREAM_QUEUE) {
                        Ok(op) => self.op.insert(op),
                        Err(e) => return Some(Err(e)),
                    }
                }
            };
            let ticket = op
                .state()
                .map(PooledRecv::ticket)
                .expect("an armed receive's last CQE is not taken yet");
            let unread = self.unread;
            // The receive stays armed; if a cancelled read keeps bytes meanwhile, they are
            // returned first (the loop's top) and the receive goes on.
            let polled = std::future::poll_fn(|cx| {
                if let Poll::Ready(next) = op.poll_next(cx) {
                    return Poll::Ready(Some(next));
                }
                if unread.has_any() {
                    return Poll::Ready(None);
                }
                unread.watch(cx.waker());
                Poll::Pending
            })
            .await;
            let Some((item, more)) = polled else {
                continue;
            };
            if !more {
                self.op = None;
            }
            match item {
                // End of stream, once what was kept is out.
                Ok(buf) if buf.is_empty() => self.ended = true,
                Ok(buf) => {
                    self.multishot_worked = true;
                    if !self.unread.has_any() {
                        return Some(Ok(buf));
                    }
                    self.unread.push(ticket, &buf);
                }
                Err(e) if e.raw_os_error() == Some(libc::EINVAL) && !self.multishot_worked => {
                    self.single_shot = true;
                }
                // The pool ran dry and the kernel ended the receive, with bytes waiting:
                // take them into an owned buffer unless buffers came back meanwhile; the
                // next call arms a new receive.
                Err(e) if is_enobufs(&e) => {
                    if pool().is_none_or(|ring| ring.found_empty()) {
                        match recv_owned(self.fd, self.unread).await {
                            Ok(buf) if buf.is_empty() => self.ended = true,
                            res => return Some(res),
                        }
                    }
                }
                // The driver stopped the receive because RECV_STREAM_QUEUE buffers waited
                // unread; they were all handed out before this CQE, so arm again.
                Err(e) if !more && e.raw_os_error() == Some(libc::ECANCELED) => {}
                Err(e) if self.unread.has_any() => self.unread.push_error(e),
                Err(e) => return Some(Err(e)),
            }
        }
    }
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
