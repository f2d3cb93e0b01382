//! IORING_OP_FTRUNCATE: set a file's length (Linux 6.9 and later).

use super::Op;
use super::unit::Unit;
use crate::sys::fd::SharedFd;
use io_uring::{opcode, types};
use std::io;

/// Keeps the descriptor. A truncate on a local file always finishes: a dropped one is
/// not cancelled.
pub(crate) type Ftruncate = Unit<SharedFd, false>;

impl Op<Ftruncate> {
    /// Sets the length of the file open (for writing) as `fd` to `len` bytes. Kernels
    /// without the opcode answer `EINVAL`.
    pub(crate) fn ftruncate(fd: &SharedFd, len: u64) -> io::Result<Op<Ftruncate>> {
        let sqe = opcode::Ftruncate::new(types::Fd(fd.raw()), len).build();
        // SAFETY: an ftruncate points to no memory; the op holds the descriptor.
        unsafe { Op::submit_unit(fd.clone(), sqe) }
    }
}
