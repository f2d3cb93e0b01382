//! IORING_OP_WRITE: write to a file or pipe at an offset.

use super::Op;
use super::outgoing::Outgoing;
use crate::buf::IoBuf;
use crate::sys::fd::SharedFd;
use io_uring::{opcode, types};

/// Keeps the descriptor besides the buffer. A write to a full pipe may wait forever: a
/// dropped one is cancelled.
pub(crate) type Write<B> = Outgoing<B, SharedFd>;

impl<B: IoBuf> Op<Write<B>> {
    /// Writes `buf[start..bytes_init]` at `offset` (`u64::MAX`: the current position).
    pub(crate) fn write_at(
        fd: &SharedFd,
        buf: B,
        start: usize,
        offset: u64,
    ) -> Result<Op<Write<B>>, (std::io::Error, B)> {
        let len = buf
            .bytes_init()
            .saturating_sub(start)
            .min(u32::MAX as usize) as u32;
        // SAFETY: start <= bytes_init (callers advance by what was written), so the
        // pointer stays inside the buffer.
        let ptr = unsafe { buf.stable_ptr().add(start.min(buf.bytes_init())) };
        let sqe = opcode::Write::new(types::Fd(fd.raw()), ptr, len)
            .offset(offset)
            .build();
        // SAFETY: the SQE points into `buf`'s stable storage (IoBuf rule 1), owned by the op.
        unsafe { Op::submit_outgoing(buf, fd.clone(), sqe) }
    }
}
