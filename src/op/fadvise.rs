//! IORING_OP_FADVISE: tell the kernel how a range of a file will be read (Linux 5.6 and
//! later, so on every kernel the ring runs on: the runtime needs 5.11).

use super::Op;
use super::unit::Unit;
use crate::sys::fd::SharedFd;
use io_uring::{opcode, types};
use std::io;

/// Keeps the descriptor. An fadvise only queues advice: a dropped one is not cancelled.
pub(crate) type Fadvise = Unit<SharedFd, false>;

impl Op<Fadvise> {
    /// Gives posix_fadvise(2)'s `advice` for `len` bytes from `offset` of the file open as
    /// `fd` (`len` 0: to the end of the file). The SQE carries the length in its 32-bit
    /// `len` field (io_uring_prep_fadvise(3)), so `len` is a `u32`: longer ranges are
    /// given in several ops.
    pub(crate) fn fadvise(
        fd: &SharedFd,
        offset: u64,
        len: u32,
        advice: i32,
    ) -> io::Result<Op<Fadvise>> {
        let sqe = opcode::Fadvise::new(types::Fd(fd.raw()), libc::off_t::from(len), advice)
            .offset(offset)
            .build();
        // SAFETY: an fadvise points to no memory; the op holds the descriptor.
        unsafe { Op::submit_unit(fd.clone(), sqe) }
    }
}
