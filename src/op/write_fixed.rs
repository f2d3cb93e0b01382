//! IORING_OP_WRITE_FIXED: write a registered buffer to a file at an offset.

use super::Op;
use super::outgoing::Outgoing;
use crate::buf::{FixedBuf, IoBuf};
use crate::sys::fd::SharedFd;
use io_uring::{opcode, types};

/// Keeps the descriptor besides the buffer, as a plain write.
pub(crate) type WriteFixed = Outgoing<FixedBuf, SharedFd>;

impl Op<WriteFixed> {
    /// Writes `buf[..len]` at `offset` of the file.
    pub(crate) fn write_fixed_at(
        fd: &SharedFd,
        buf: FixedBuf,
        offset: u64,
    ) -> Result<Op<WriteFixed>, (std::io::Error, FixedBuf)> {
        let len = buf.bytes_init().min(u32::MAX as usize) as u32;
        let sqe = opcode::WriteFixed::new(types::Fd(fd.raw()), buf.stable_ptr(), len, buf.index())
            .offset(offset)
            .build();
        // SAFETY: the SQE points into the buffer's registered memory, which outlives the
        // FixedBuf the op owns (fixed rule 1).
        unsafe { Op::submit_outgoing(buf, fd.clone(), sqe) }
    }
}
