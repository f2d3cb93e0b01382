//! Receiving into the core's buffer pool: [`TcpStream::recv_pooled`](super::TcpStream::recv_pooled)
//! (one receive) and [`RecvStream`](super::RecvStream) (a multishot receive that stays armed,
//! in `recv_stream`).
//!
//! A connection that waits for data holds no buffer: the kernel takes one from the pool
//! when bytes arrive. If the pool is empty at that moment the receive ends with ENOBUFS
//! and the bytes stay in the socket; both forms then take them at once into an owned
//! buffer of the pool's buffer size, 64 KiB at most (what a bigger one would hold stays in
//! the socket for the next receive), or receive from the pool again if buffers came
//! back meanwhile. So the caller never sees ENOBUFS, and no connection waits for others
//! to give buffers back: readers that hold many buffers (stuck writing to peers that do
//! not read) cannot stall the rest of their core. `Metrics::pool_exhausted` counts the
//! times the pool was found empty.
//!
//! If the kernel refuses the pool (Linux before 5.19, or RLIMIT_MEMLOCK too low), both
//! forms receive into owned buffers, one receive at a time: slower, and a waiting
//! connection then holds its buffer, but nothing fails. `Metrics::pool_fallbacks` counts
//! owned receives (for both reasons) and `runtime::pool_error` says why the pool was
//! refused.

use super::unread::{Unread, receive};
use crate::buf::PooledBuf;
use crate::op::{Op, pool, pool_fallback};
use crate::sys::fd::SharedFd;
use std::io;
#[cfg(any(feature = "tokio-io", feature = "futures-io", feature = "hyper"))]
use {
    crate::buf::pool::BufRing,
    crate::op::PooledRecv,
    std::pin::Pin,
    std::rc::Rc,
    std::task::{Context, Poll, ready},
};

fn is_enobufs(e: &io::Error) -> bool {
    e.raw_os_error() == Some(libc::ENOBUFS)
}

/// One receive into an owned buffer of the pool's buffer size (64 KiB at most): the pool
/// was refused, or found empty with bytes waiting.
pub(super) async fn recv_owned(fd: &SharedFd) -> io::Result<PooledBuf> {
    let unread = fd.unread();
    unread.settled().await;
    if let Some(kept) = take_kept(unread) {
        return kept;
    }
    let size = pool_fallback();
    let (res, mut buf) = match Op::recv(fd, Vec::with_capacity(size)) {
        Ok(op) => receive(op, unread).await,
        Err((e, _)) => return Err(e),
    };
    let n = res?;
    buf.truncate(n);
    Ok(PooledBuf::owned(buf))
}

/// Bytes (or an error) a cancelled read left behind, if any: they came first.
pub(super) fn take_kept(unread: &Unread) -> Option<io::Result<PooledBuf>> {
    unread.take_kept().map(|kept| kept.map(PooledBuf::owned))
}

/// One receive into a pooled buffer (see `TcpStream::recv_pooled`).
pub(super) async fn recv_pooled(fd: &SharedFd) -> io::Result<PooledBuf> {
    let unread = fd.unread();
    loop {
        unread.settled().await;
        if let Some(kept) = take_kept(unread) {
            return kept;
        }
        let Some(ring) = pool() else {
            return recv_owned(fd).await;
        };
        match receive(Op::recv_pooled(fd, ring.clone())?, unread).await {
            Err(e) if is_enobufs(&e) && ring.found_empty() => {
                return recv_owned(fd).await;
            }
            // Buffers came back meanwhile: receive from the pool again.
            Err(e) if is_enobufs(&e) => {}
            res => return res,
        }
    }
}

/// [`recv_pooled`] driven by polls, for adapters whose callers poll and may walk away
/// between polls (`compat::Compat`): the receive in flight lives here, not in a future of
/// the caller's, so a caller that stops polling loses nothing; the next poll picks the
/// same receive up. Dropping this value drops the receive, and its bytes go to the
/// stream's stash as a dropped `recv_pooled`'s do.
///
/// A pooled receive lives inline (no allocation per receive); the owned fallback (pool
/// refused, or empty with bytes waiting) is boxed, as it allocates its buffer anyway.
#[cfg(any(feature = "tokio-io", feature = "futures-io", feature = "hyper"))]
pub(super) enum PolledRecv {
    /// No receive in flight.
    Idle,
    Pooled {
        op: Op<PooledRecv>,
        ring: Rc<BufRing>,
    },
    Owned(Pin<Box<dyn Future<Output = io::Result<PooledBuf>>>>),
}

#[cfg(any(feature = "tokio-io", feature = "futures-io", feature = "hyper"))]
impl PolledRecv {
    /// One step of [`recv_pooled`] on the stream of `fd`: `Ready` with what
    /// the receive in flight (or the stash) gave, else `Pending` with `cx` woken when
    /// there is more to do.
    pub(super) fn poll(
        &mut self,
        fd: &SharedFd,
        cx: &mut Context<'_>,
    ) -> Poll<io::Result<PooledBuf>> {
        let unread = fd.unread();
        loop {
            match self {
                PolledRecv::Idle => {
                    ready!(unread.poll_settled(cx.waker()));
                    if let Some(kept) = take_kept(unread) {
                        return Poll::Ready(kept);
                    }
                    match pool() {
                        None => *self = PolledRecv::owned(fd),
                        Some(ring) => {
                            let op = Op::recv_pooled(fd, ring.clone())?;
                            *self = PolledRecv::Pooled { op, ring };
                        }
                    }
                }
                PolledRecv::Pooled { op, ring } => {
                    let Poll::Ready(res) = Pin::new(&mut *op).poll(cx) else {
                        // As `receive`: bytes a dropped receive kept meanwhile come
                        // first, so this one is cancelled rather than left waiting.
                        if unread.has_any() {
                            op.cancel();
                        } else {
                            unread.watch(cx.waker());
                        }
                        return Poll::Pending;
                    };
                    let ring = ring.clone();
                    *self = PolledRecv::Idle;
                    match res {
                        Err(e) if is_enobufs(&e) && ring.found_empty() => {
                            *self = PolledRecv::owned(fd);
                        }
                        // Buffers came back meanwhile: receive from the pool again.
                        Err(e) if is_enobufs(&e) => {}
                        res => return Poll::Ready(res),
                    }
                }
                PolledRecv::Owned(recv) => {
                    let res = ready!(recv.as_mut().poll(cx));
                    *self = PolledRecv::Idle;
                    return Poll::Ready(res);
                }
            }
        }
    }

    fn owned(fd: &SharedFd) -> PolledRecv {
        let fd = fd.clone();
        PolledRecv::Owned(Box::pin(async move { recv_owned(&fd).await }))
    }
}
