//! IORING_OP_FTRUNCATE: set a file's length (Linux 6.9 and later).

use super::{Completable, Op};
use crate::driver::Completion;
use crate::fd::SharedFd;
use io_uring::{opcode, types};
use std::io;

pub(crate) struct Ftruncate {
    _fd: SharedFd,
}

impl Completable for Ftruncate {
    type Output = io::Result<()>;
    // A truncate on a local file always finishes.
    const CANCEL_ON_DROP: bool = false;

    fn complete(self, c: Completion) -> io::Result<()> {
        c.into_result().map(drop)
    }
}

impl Op<Ftruncate> {
    /// Sets the length of the file open (for writing) as `fd` to `len` bytes. Kernels
    /// without the opcode answer `EINVAL`.
    pub(crate) fn ftruncate(fd: &SharedFd, len: u64) -> io::Result<Op<Ftruncate>> {
        let sqe = opcode::Ftruncate::new(types::Fd(fd.raw()), len).build();
        // SAFETY: an ftruncate points to no memory; the op holds the descriptor.
        unsafe { Op::submit(Ftruncate { _fd: fd.clone() }, sqe) }.map_err(|(e, _)| e)
    }
}
