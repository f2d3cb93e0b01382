//! IORING_OP_RECV: receive from a connected socket, losing nothing when cancelled.

use super::{Completable, Op};
use crate::buf::{BufResult, IoBufMut, kernel_write_target};
use crate::driver::Completion;
use crate::sys::fd::SharedFd;
use io_uring::{opcode, types};
use std::io;
use std::rc::Rc;

/// Where a stream socket keeps what its receives took but nobody awaited (net's
/// `Unread`): a cancel can lose the race, and the receive completes with data just as its
/// future is dropped (io_uring_prep_cancel(3)). Its bytes are kept for the next read, in
/// the order the stream's receives were queued (their tickets), not the order their CQEs
/// are handled.
///
/// A receive that completes while something is kept went behind it: it keeps its own
/// result too and returns the kept bytes first (`Recv` and `PooledRecv` do this in
/// `complete`).
pub(crate) trait Stash: 'static {
    /// A receive's place in the stream's order, taken as its SQE is queued.
    fn ticket(&self) -> u64;

    /// Whether bytes or an error are kept: a read returns them before its own result.
    fn has_any(&self) -> bool;

    /// Keeps the result of the receive holding `ticket`: its bytes after those of
    /// receives queued before it, before those of receives queued after it; or its error,
    /// behind every kept byte.
    fn keep(&self, ticket: u64, res: io::Result<&[u8]>);

    /// What a read returns from here: as many kept bytes as fit into the start of `buf`,
    /// or, with no byte kept, the kept error. Call only when [`has_any`](Self::has_any).
    fn take_into<B: IoBufMut>(&self, buf: &mut B) -> io::Result<usize>;

    /// As [`take_into`](Self::take_into), every kept byte into a new `Vec`.
    fn take_all(&self) -> io::Result<Vec<u8>>;

    /// A receive of the stream was dropped while in flight: it may still take bytes.
    fn abandoned(&self);

    /// The last CQE of a receive given to [`abandoned`](Self::abandoned) was kept.
    fn abandoned_done(&self);
}

pub(crate) struct Recv<B, S> {
    _fd: SharedFd,
    buf: B,
    unread: Option<Rc<S>>,
    /// This receive's place among the stream's (`Stash::ticket`).
    ticket: u64,
}

impl<B: IoBufMut, S> Recv<B, S> {
    /// The first `n` bytes the kernel wrote.
    fn received(&mut self, n: usize) -> &[u8] {
        // SAFETY: the kernel wrote `n` bytes from the start of the buffer.
        unsafe {
            self.buf.set_init(n);
            std::slice::from_raw_parts(self.buf.stable_ptr(), n)
        }
    }
}

impl<B: IoBufMut, S: Stash> Completable for Recv<B, S> {
    type Output = BufResult<usize, B>;
    // A recv waits until the peer sends, possibly forever.
    const CANCEL_ON_DROP: bool = true;

    fn complete(mut self, c: Completion) -> Self::Output {
        let res = c.into_result().map(|n| n as usize);
        let Some(unread) = self.unread.take().filter(|u| u.has_any()) else {
            if let Ok(n) = res {
                self.received(n);
            }
            return (res, self.buf);
        };
        // An older, dropped recv completed after this one was submitted: its bytes came
        // first on the wire, so they go first; this one's result waits behind them.
        let ticket = self.ticket;
        unread.keep(ticket, res.map(|n| self.received(n)));
        let res = unread.take_into(&mut self.buf);
        (res, self.buf)
    }

    fn abandoned(&self) {
        if let Some(unread) = &self.unread {
            unread.abandoned();
        }
    }

    fn complete_orphan(mut self, c: Completion) {
        let Some(unread) = self.unread.take() else {
            return;
        };
        let ticket = self.ticket;
        unread.keep(ticket, c.into_result().map(|n| self.received(n as usize)));
        unread.abandoned_done();
    }
}

impl<B: IoBufMut, S: Stash> Op<Recv<B, S>> {
    /// Receives into `buf`; bytes of a cancelled recv go to `unread` (see [`Stash`]).
    pub(crate) fn recv(
        fd: &SharedFd,
        mut buf: B,
        unread: Option<Rc<S>>,
    ) -> Result<Op<Recv<B, S>>, (io::Error, B)> {
        let len = buf.bytes_total().min(u32::MAX as usize) as u32;
        let dst = kernel_write_target(&mut buf);
        let sqe = opcode::Recv::new(types::Fd(fd.raw()), dst, len).build();
        let ticket = unread.as_ref().map_or(0, |u| u.ticket());
        let data = Recv {
            _fd: fd.clone(),
            buf,
            unread,
            ticket,
        };
        // SAFETY: the SQE points into `buf`'s stable storage (IoBuf rule 1), owned by the op.
        unsafe { Op::submit(data, sqe) }.map_err(|(e, d)| (e, d.buf))
    }
}
