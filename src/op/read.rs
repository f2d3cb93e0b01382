//! IORING_OP_READ: read from a file or pipe at an offset.

use super::{Completable, Op};
use crate::buf::{BufResult, IoBufMut, kernel_write_target};
use crate::driver::Completion;
use crate::sys::fd::SharedFd;
use io_uring::{opcode, types};

pub(crate) struct Read<B> {
    _fd: SharedFd,
    buf: B,
}

impl<B: IoBufMut> Completable for Read<B> {
    type Output = BufResult<usize, B>;
    // A read on a pipe or a socket may wait forever; on a regular file the cancel finds
    // nothing (-ENOENT or -EALREADY) and the read simply finishes.
    const CANCEL_ON_DROP: bool = true;

    fn complete(self, c: Completion) -> Self::Output {
        let mut buf = self.buf;
        let res = c.into_result().map(|n| {
            // SAFETY: the kernel wrote `n` bytes from the start of the buffer.
            unsafe { buf.set_init(n as usize) };
            n as usize
        });
        (res, buf)
    }
}

impl<B: IoBufMut> Op<Read<B>> {
    /// Reads into `buf` from `offset` (`u64::MAX`: the file's current position).
    pub(crate) fn read_at(
        fd: &SharedFd,
        mut buf: B,
        offset: u64,
    ) -> Result<Op<Read<B>>, (std::io::Error, B)> {
        let len = buf.bytes_total().min(u32::MAX as usize) as u32;
        let sqe = opcode::Read::new(types::Fd(fd.raw()), kernel_write_target(&mut buf), len)
            .offset(offset)
            .build();
        // SAFETY: the SQE points into `buf`'s stable storage (IoBuf rule 1), owned by the op.
        unsafe {
            Op::submit(
                Read {
                    _fd: fd.clone(),
                    buf,
                },
                sqe,
            )
        }
        .map_err(|(e, d)| (e, d.buf))
    }
}
