//! IORING_OP_READ_FIXED: read from a file at an offset into a registered buffer.

use super::{Completable, Op};
use crate::buf::{BufResult, FixedBuf, IoBuf, kernel_write_target};
use crate::driver::Completion;
use crate::sys::fd::SharedFd;
use io_uring::{opcode, types};

pub(crate) struct ReadFixed {
    _fd: SharedFd,
    /// Owned until the CQE (rule 2): its index stays out of the pool meanwhile (fixed rule 2).
    buf: FixedBuf,
}

impl Completable for ReadFixed {
    type Output = BufResult<usize, FixedBuf>;
    // As a plain read: on a regular file the cancel finds nothing to stop and the read
    // simply finishes; on a pipe it ends a read that would wait forever.
    const CANCEL_ON_DROP: bool = true;

    fn complete(self, c: Completion) -> Self::Output {
        let mut buf = self.buf;
        let res = c.into_result().map(|n| {
            // The kernel wrote `n <= capacity` bytes from the start of the buffer.
            buf.set_len(n as usize);
            n as usize
        });
        (res, buf)
    }
}

impl Op<ReadFixed> {
    /// Reads into `buf` (its whole capacity) from `offset` of the file.
    pub(crate) fn read_fixed_at(
        fd: &SharedFd,
        mut buf: FixedBuf,
        offset: u64,
    ) -> Result<Op<ReadFixed>, (std::io::Error, FixedBuf)> {
        let len = buf.bytes_total().min(u32::MAX as usize) as u32;
        let index = buf.index();
        let sqe = opcode::ReadFixed::new(
            types::Fd(fd.raw()),
            kernel_write_target(&mut buf),
            len,
            index,
        )
        .offset(offset)
        .build();
        let data = ReadFixed {
            _fd: fd.clone(),
            buf,
        };
        // SAFETY: the SQE points into buffer `index` of the pool's registered memory, which
        // outlives the FixedBuf the op owns (fixed rule 1); the range is that buffer's.
        unsafe { Op::submit(data, sqe) }.map_err(|(e, d)| (e, d.buf))
    }
}
