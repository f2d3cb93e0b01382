//! IORING_OP_RECV: receive from a connected socket, losing nothing when cancelled.

use super::{Completable, Op};
use crate::buf::{BufResult, IoBufMut, kernel_write_target};
use crate::driver::Completion;
use crate::sys::fd::SharedFd;
use io_uring::{opcode, types};
use std::io;

/// A receive on a stream socket. A cancel can lose the race, and the receive completes
/// with data just as its future is dropped (io_uring_prep_cancel(3)): its bytes then go to
/// the stream's stash (`SharedFd::unread`, net's `Unread`) for the next read, in the order
/// the stream's receives were queued (their tickets), not the order their CQEs are
/// handled. A receive that completes while something is kept went behind it: it keeps its
/// own result too and returns the kept bytes first.
pub(crate) struct Recv<B> {
    fd: SharedFd,
    buf: B,
    /// This receive's place among the stream's (`Unread::ticket`).
    ticket: u64,
}

/// The first `n` bytes the kernel wrote into `buf`.
fn received<B: IoBufMut>(buf: &mut B, n: usize) -> &[u8] {
    // SAFETY: the kernel wrote `n` bytes from the start of the buffer.
    unsafe {
        buf.set_init(n);
        std::slice::from_raw_parts(buf.stable_ptr(), n)
    }
}

impl<B: IoBufMut> Completable for Recv<B> {
    type Output = BufResult<usize, B>;
    // A recv waits until the peer sends, possibly forever.
    const CANCEL_ON_DROP: bool = true;

    fn complete(mut self, c: Completion) -> Self::Output {
        let res = c.into_result().map(|n| n as usize);
        let unread = self.fd.unread();
        if !unread.has_any() {
            if let Ok(n) = res {
                received(&mut self.buf, n);
            }
            return (res, self.buf);
        }
        // An older, dropped recv completed after this one was submitted: its bytes came
        // first on the wire, so they go first; this one's result waits behind them.
        unread.keep(self.ticket, res.map(|n| received(&mut self.buf, n)));
        let res = unread.take_into(&mut self.buf);
        (res, self.buf)
    }

    fn abandoned(&self) {
        self.fd.unread().abandoned();
    }

    fn complete_orphan(mut self, c: Completion) {
        let unread = self.fd.unread();
        let res = c.into_result().map(|n| received(&mut self.buf, n as usize));
        unread.keep(self.ticket, res);
        unread.abandoned_done();
    }
}

impl<B: IoBufMut> Op<Recv<B>> {
    /// Receives into `buf`; bytes of a cancelled recv go to the stream's stash
    /// (`SharedFd::unread`).
    pub(crate) fn recv(fd: &SharedFd, mut buf: B) -> Result<Op<Recv<B>>, (io::Error, B)> {
        let len = buf.bytes_total().min(u32::MAX as usize) as u32;
        let dst = kernel_write_target(&mut buf);
        let sqe = opcode::Recv::new(types::Fd(fd.raw()), dst, len).build();
        let data = Recv {
            fd: fd.clone(),
            buf,
            ticket: fd.unread().ticket(),
        };
        // SAFETY: the SQE points into `buf`'s stable storage (IoBuf rule 1), owned by the op.
        unsafe { Op::submit(data, sqe) }.map_err(|(e, d)| (e, d.buf))
    }
}
