//! IORING_OP_RECV with a provided buffer (IOSQE_BUFFER_SELECT): the kernel picks a buffer
//! from the core's pool only when data arrives, so a waiting connection holds none. Single
//! shot ([`Op::recv_pooled`]) and multishot ([`MultiOp::recv_multi`]).

use super::{Completable, MultiCompletable, MultiOp, Op};
use crate::buf::PooledBuf;
use crate::buf::pool::{self, BufRing, POOL_GROUP};
use crate::driver::Completion;
use crate::runtime::handle::with_pool;
use crate::sys::fd::SharedFd;
use io_uring::{opcode, squeue, types};
use std::io;
use std::rc::Rc;

/// The core's buffer pool, made and registered on first use; `None` if the kernel refused
/// it (`runtime::pool_error` says why). Receives then use owned buffers.
pub(crate) fn pool() -> Option<Rc<BufRing>> {
    with_pool(|pool, driver| {
        pool.ring(|ring| driver.borrow_mut().register_buf_ring(ring))
            .ok()
    })
}

/// Counts a receive that takes an owned buffer instead of a pooled one (the pool was
/// refused, or found empty) and returns the size to give it: the pool's buffer size.
pub(crate) fn pool_fallback() -> usize {
    with_pool(|pool, _| pool.note_fallback())
}

/// What both forms own: the socket (with the stream's stash for bytes nobody took,
/// `SharedFd::unread`) and the pool the buffers come from.
pub(crate) struct PooledRecv {
    fd: SharedFd,
    ring: Rc<BufRing>,
    /// This receive's place among the stream's (`Unread::ticket`).
    ticket: u64,
    /// A multishot receive whose first CQE has not come yet: an EINVAL now means the
    /// kernel lacks the multishot form (IORING_RECV_MULTISHOT, Linux 6.0;
    /// io_uring_prep_recv_multishot(3)), not that the stream failed.
    may_be_refused: bool,
}

impl PooledRecv {
    /// The CQE's buffer, if it names one. Every CQE with `IORING_CQE_F_BUFFER` hands a
    /// buffer to us, also with an error, so it is taken here and given back on drop.
    fn buffer(&self, c: Completion) -> Option<PooledBuf> {
        let bid = c.buffer()?;
        let len = usize::try_from(c.result).unwrap_or(0);
        // SAFETY: the id comes from this CQE's IORING_CQE_F_BUFFER, for this core's pool
        // (the only buffer group its ring has), and each CQE is turned into items once.
        Some(unsafe { pool::take(&self.ring, bid, len) })
    }

    /// One CQE as the reader sees it: the bytes (an empty buffer at end of stream) or
    /// the error. -ENOBUFS (pool empty) comes back as an error for the caller to wait on.
    fn received(&self, c: Completion) -> io::Result<PooledBuf> {
        let buf = self.buffer(c);
        c.into_result()?;
        Ok(buf.unwrap_or_else(|| PooledBuf::owned(Vec::new())))
    }

    /// A CQE nobody will take: its bytes go to the stream's stash for the next read, and
    /// its buffer back to the pool.
    fn keep_for_next_read(&self, c: Completion) {
        self.keep(self.received(c));
    }

    /// Keeps this receive's result in the stream's stash, in its ticket's place; the
    /// buffer goes back to the pool.
    fn keep(&self, res: io::Result<PooledBuf>) {
        match res {
            Ok(buf) => self.fd.unread().keep(self.ticket, Ok(&buf)),
            Err(e) => self.fd.unread().keep(self.ticket, Err(e)),
        }
    }

    /// This receive's place among the stream's, for bytes of its CQEs kept behind others.
    pub(crate) fn ticket(&self) -> u64 {
        self.ticket
    }
}

impl Completable for PooledRecv {
    type Output = io::Result<PooledBuf>;
    // A recv waits until the peer sends, possibly forever.
    const CANCEL_ON_DROP: bool = true;

    fn complete(self, c: Completion) -> Self::Output {
        let buf = self.received(c);
        if !self.fd.unread().has_any() {
            return buf;
        }
        // An older, dropped recv completed after this one was submitted: its bytes came
        // first on the wire, so they go first; this one's result waits behind them.
        self.keep(buf);
        self.fd.unread().take_result().map(PooledBuf::owned)
    }

    fn abandoned(&self) {
        self.fd.unread().abandoned();
    }

    fn complete_orphan(self, c: Completion) {
        self.keep_for_next_read(c);
        self.fd.unread().abandoned_done();
    }
}

impl MultiCompletable for PooledRecv {
    type Item = io::Result<PooledBuf>;

    fn item(&mut self, c: Completion) -> Self::Item {
        self.may_be_refused = false;
        self.received(c)
    }

    fn abandoned(&self) {
        self.fd.unread().abandoned();
    }

    fn discard(&mut self, c: Completion) {
        // A refused multishot form is the stream's to retry single-shot, and after a
        // drop nobody will: the next read must receive, not fail with EINVAL.
        let refused = self.may_be_refused && c.result == -libc::EINVAL;
        self.may_be_refused = false;
        if !refused {
            self.keep_for_next_read(c);
        }
        if !c.more() {
            self.fd.unread().abandoned_done();
        }
    }
}

impl PooledRecv {
    fn new(fd: &SharedFd, ring: Rc<BufRing>, multishot: bool) -> PooledRecv {
        // Taken as the SQE is queued: the caller queues it next.
        PooledRecv {
            fd: fd.clone(),
            ring,
            ticket: fd.unread().ticket(),
            may_be_refused: multishot,
        }
    }
}

impl Op<PooledRecv> {
    /// One recv into a buffer the kernel picks from `ring` when data arrives.
    pub(crate) fn recv_pooled(fd: &SharedFd, ring: Rc<BufRing>) -> io::Result<Op<PooledRecv>> {
        let len = ring.buffer_size() as u32;
        let sqe = opcode::Recv::new(types::Fd(fd.raw()), std::ptr::null_mut(), len)
            .buf_group(POOL_GROUP)
            .build()
            .flags(squeue::Flags::BUFFER_SELECT);
        // SAFETY: the SQE points to no memory of ours: the kernel takes a buffer from the
        // registered pool, which outlives the op (pool rule 1).
        unsafe { Op::submit(PooledRecv::new(fd, ring, false), sqe) }.map_err(|(e, _)| e)
    }
}

impl MultiOp<PooledRecv> {
    /// A multishot recv (Linux 6.0): a CQE with a pooled buffer each time data arrives.
    /// The driver cancels it once `limit` buffers wait unread, so a reader that falls
    /// behind holds at most that many buffers of the shared pool.
    pub(crate) fn recv_multi(
        fd: &SharedFd,
        ring: Rc<BufRing>,
        limit: usize,
    ) -> io::Result<MultiOp<PooledRecv>> {
        let sqe = opcode::RecvMulti::new(types::Fd(fd.raw()), POOL_GROUP).build();
        // SAFETY: as for `recv_pooled`: the SQE points only into the registered pool.
        unsafe { MultiOp::submit(PooledRecv::new(fd, ring, true), sqe, limit) }.map_err(|(e, _)| e)
    }
}
